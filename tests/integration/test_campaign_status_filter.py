"""The campaigns page filters by status (seed 003), through the console over HTTP."""

from __future__ import annotations

from pathlib import Path

from parley.store.tables import campaigns
from tests.support.app import ALICE, console_client, in_process


async def test_the_campaigns_page_shows_only_the_status_asked_for(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(ALICE) as api:
        for name in ("Spring sale", "Autumn sale"):
            created = await api.post(
                "/api/v2/campaigns", json={"name": name, "sender": "+15551230001", "message": "Hi"}
            )
            assert created.status_code == 201, created.text
        async with app.parley.db.write() as conn:
            await conn.execute(campaigns.update().where(campaigns.c.name == "Autumn sale").values(status="completed"))
        async with console_client(app, ALICE) as (console, _):
            everything = (await console.get("/campaigns")).text
            completed = (await console.get("/campaigns?status=completed")).text
            running = (await console.get("/campaigns/table?status=running")).text
            unknown = (await console.get("/campaigns?status=nonsense")).text
    assert "Spring sale" in everything and "Autumn sale" in everything
    assert "Autumn sale" in completed and "Spring sale" not in completed
    assert '<option value="completed" selected>' in completed
    assert "No running campaigns." in running and "sale" not in running
    assert "Spring sale" in unknown and "Autumn sale" in unknown  # not a status: no filter

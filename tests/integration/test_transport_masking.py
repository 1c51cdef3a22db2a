"""A curl transport's credentials never come back to a page or an API answer; a masked command saved as it
was shown keeps them (issue 10)."""

from __future__ import annotations

import html
from pathlib import Path

import sqlalchemy as sa

from parley.services.transport_secrets import MASK
from parley.store.tables import transports
from tests.support.app import ALICE, InProcess, console_client, in_process
from tests.support.provisioning import document

COMMAND = (
    "curl -u parley:s3cret-pw -H 'X-Api-Key: k3y-value' "
    "'https://sms.example/send?to={TO_NUMBER}&text={MESSAGE}&token=t0ken-value'"
)
SECRETS = ("s3cret-pw", "k3y-value", "t0ken-value")


def with_curl() -> dict[str, object]:
    return document(transports=[{"name": "http", "role": "curl", "kind": "curl", "command": COMMAND}])


async def stored_command(app: InProcess) -> str:
    async with app.parley.db.read() as conn:
        return str((await conn.execute(sa.select(transports.c.config))).scalar_one()["command"])


async def test_the_api_answers_the_curl_command_with_its_credentials_masked(tmp_path: Path) -> None:
    async with in_process(tmp_path, with_curl()) as app, app.client(ALICE) as alice:
        [listed] = (await alice.get("/api/v2/transports")).json()
    command = listed["config"]["command"]
    assert not [secret for secret in SECRETS if secret in command]
    assert command.count(MASK) == 3
    assert "sms.example/send" in command


async def test_the_console_shows_the_command_masked_and_saving_it_unchanged_keeps_the_secrets(tmp_path: Path) -> None:
    async with in_process(tmp_path, with_curl()) as app, console_client(app, ALICE) as (alice, csrf):
        page = await alice.get("/admin/transports/http")
        assert page.status_code == 200
        assert not [secret for secret in SECRETS if secret in page.text]
        shown = html.unescape(page.text.split('name="command"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])
        edited = shown.replace("sms.example", "sms2.example")
        saved = await alice.post("/admin/transports/http", data={"csrf": csrf, "role": "curl", "command": edited})
        assert saved.status_code == 303, saved.text
        stored = await stored_command(app)
        assert all(secret in stored for secret in SECRETS)
        assert "sms2.example" in stored
        extra = await alice.post(
            "/admin/transports/http", data={"csrf": csrf, "role": "curl", "command": f"{edited} -d 'pass={MASK}'"}
        )
        assert extra.status_code == 422
        assert "type them again" in extra.text

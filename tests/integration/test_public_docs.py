"""The API documentation is for administrators unless PARLEY_PUBLIC_DOCS=1 opens it to anyone (seed 004)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.app import ALICE, BOB, in_process

DOCS = ("/api/v1/openapi.json", "/api/v1/doc")


@pytest.mark.parametrize("path", DOCS)
async def test_the_documentation_is_for_administrators_by_default(tmp_path: Path, path: str) -> None:
    async with in_process(tmp_path) as app, app.client() as anonymous:
        assert (await anonymous.get(path)).status_code == 401
        async with app.client(BOB) as member, app.client(ALICE) as admin:
            assert (await member.get(path)).status_code == 403
            assert (await admin.get(path)).status_code == 200


@pytest.mark.parametrize("path", DOCS)
async def test_public_docs_open_the_documentation_to_anyone(tmp_path: Path, path: str) -> None:
    async with in_process(tmp_path, public_docs=True) as app, app.client() as anonymous:
        answer = await anonymous.get(path)
        assert answer.status_code == 200
        if path.endswith(".json"):
            assert answer.json()["info"]["title"] == "Parley"

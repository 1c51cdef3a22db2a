"""The secret box: what it seals opens only under the same installation secret and for the same row."""

from __future__ import annotations

from typing import Any, cast

import pytest

from parley.services.secret_box import SecretBox
from parley.store.db import Database

NO_DATABASE = cast(Database, None)  # with PARLEY_SECRET set, the box never reads the settings table
SECRET = "psk_" + "k" * 43


async def test_a_sealed_secret_opens_back() -> None:
    box = SecretBox(NO_DATABASE, "installation-secret")
    sealed = await box.seal(SECRET, "SK1")
    assert SECRET not in sealed and sealed.startswith("v1:")
    assert await box.open(sealed, "SK1") == SECRET
    assert await box.seal(SECRET, "SK1") != sealed  # a fresh nonce each time


@pytest.mark.parametrize(
    ("installation", "row", "change"),
    [
        pytest.param("another-secret", "SK1", None, id="another-installation-secret"),
        pytest.param("installation-secret", "SK2", None, id="moved-to-another-row"),
        pytest.param(
            "installation-secret", "SK1", lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1], id="tampered"
        ),
        pytest.param("installation-secret", "SK1", lambda s: s[:10], id="truncated"),
        pytest.param("installation-secret", "SK1", lambda s: "v2:" + s[3:], id="unknown-version"),
        pytest.param("installation-secret", "SK1", lambda s: "v1:%%%", id="not-base64"),
        pytest.param("installation-secret", "SK1", lambda s: "", id="empty"),
    ],
)
async def test_what_was_not_sealed_here_for_this_row_does_not_open(installation: str, row: str, change: Any) -> None:
    sealed = await SecretBox(NO_DATABASE, "installation-secret").seal(SECRET, "SK1")
    if change is not None:
        sealed = change(sealed)
    assert await SecretBox(NO_DATABASE, installation).open(sealed, row) is None


async def test_nothing_sealed_opens_to_nothing() -> None:
    assert await SecretBox(NO_DATABASE, "s").open(None, "SK1") is None

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.provisioning import document
from tests.support.server import ParleyServer


@pytest.fixture
async def api_server(tmp_path: Path) -> AsyncIterator[ParleyServer]:
    """A provisioned `parley serve --no-workers`: accepted messages stay queued for inspection."""
    server = ParleyServer(tmp_path)
    doc = document()
    doc["transports"] = [
        {
            "name": "gsm-lobby",
            "role": "gsm",
            "id": "9c7514330001",
            "kind": "smpp",
            "host": "127.0.0.1",
            "port": 1,
            "system_id": "parley",
            "password": "secret",
        },
    ]
    server.apply(doc)
    await server.start("--no-workers")
    try:
        yield server
    finally:
        await server.close()

"""The real FastAPI app in-process (no server, no workers), driven through httpx's ASGI transport: fast."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from parley.app import create_app
from parley.bootstrap import Parley, build, utcnow
from parley.core.provisioning import parse
from parley.services.provisioning import apply
from parley.settings import Settings
from tests.support.provisioning import document
from tests.support.schema import migrated

ALICE = ("101", "sms101api")  # admin, business
BOB = ("102", "bob-secret")  # essential
CARL = ("103", "carl-secret")  # basic


@asynccontextmanager
async def client(parley: Parley, address: str = "10.0.0.1", **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client of ``parley``'s app in-process, as if from ``address``; ``kwargs`` as httpx takes them."""
    transport = httpx.ASGITransport(app=create_app(parley, workers=False), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", **kwargs) as http:
        yield http


@dataclass
class InProcess:
    app: FastAPI
    parley: Parley

    def client(self, auth: tuple[str, str] | None = None, *, address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://parley.test", auth=auth)


@asynccontextmanager
async def in_process(
    tmp_path: Path, doc: dict[str, Any] | None = None, *, clock: Callable[[], datetime] = utcnow, **settings: Any
) -> AsyncIterator[InProcess]:
    """A provisioned app on its own SQLite file; ``settings`` override `Settings` fields."""
    parley = build(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/parley.db", smtp="", **settings), clock=clock)
    try:
        await migrated(parley.db)
        await apply(parley.db, parse(doc if doc is not None else document()), now=utcnow())
        yield InProcess(create_app(parley, workers=False), parley)
    finally:
        await parley.close()


@asynccontextmanager
async def console_client(app: InProcess, who: tuple[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client signed in to the console, and its session's CSRF token."""
    async with app.client() as client:
        await client.get("/login")
        token = client.cookies.get("parley_csrf", "")
        signed = await client.post("/login", data={"extension": who[0], "password": who[1], "csrf": token})
        assert signed.status_code == 303, signed.text
        page = await client.get("/send")
        found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert found is not None, page.text
        yield client, found.group(1)

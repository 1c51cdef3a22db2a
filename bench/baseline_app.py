"""The floor: a bare Starlette app that parses the form and does one INSERT + commit, nothing else.

It uses Parley's own engine (`parley.store.db.Database`: SQLite in WAL with synchronous=FULL and
BEGIN IMMEDIATE, PostgreSQL through asyncpg) and is served by uvicorn exactly as `parley serve` is
(one process, log_level warning, no access log)::

    BENCH_DATABASE_URL=sqlite+aiosqlite:///tmp/x.db python -m bench.baseline_app --port 8081
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from parley.store.db import Database
from parley.store.ids import new_id

metadata = sa.MetaData()
rows = sa.Table(
    "baseline_messages",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("recipient", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)


def create_app(url: str) -> Starlette:
    db = Database(url)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with db.write() as conn:
            await conn.run_sync(metadata.create_all)
        try:
            yield
        finally:
            await db.close()

    async def originate(request: Request) -> JSONResponse:
        form = await request.form()
        row = {
            "id": new_id(),
            "recipient": str(form.get("number", "")),
            "body": str(form.get("message", "")),
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
        async with db.write() as conn:
            await conn.execute(rows.insert(), row)
        return JSONResponse({"type": "result", "result": "Success"})

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    routes = [Route("/api/v1/originate/sms", originate, methods=["POST"]), Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description="The baseline app for `python -m bench`.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(os.environ["BENCH_DATABASE_URL"])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

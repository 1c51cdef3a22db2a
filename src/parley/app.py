"""The FastAPI application: the APIs, health and metrics, around a built `Parley`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from parley import __version__
from parley.bootstrap import Parley
from parley.ingress import api, conversations_api, events_api, numbers_api, webhooks, wildix_api


def create_app(parley: Parley, *, workers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if workers:
            await parley.start_workers()
        try:
            yield
        finally:
            await parley.close()

    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="Self-hosted business messaging: SMS over SMPP and HTTP",
        docs_url="/api/v1/doc",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.auth = parley.auth
    app.include_router(wildix_api.router(parley.auth, parley.outbox, parley.cache))
    app.include_router(api.router(parley.outbox, parley.cache, parley.queries, parley.transports))
    app.include_router(conversations_api.router(parley.conversations))
    app.include_router(events_api.router(parley.bus))
    app.include_router(webhooks.router(parley.inbox, parley.cache))
    app.include_router(numbers_api.router(parley.numbers))

    @app.get("/healthz", tags=["Operations"])
    async def healthz() -> dict[str, object]:
        """Liveness, for load balancers and process supervisors (no details: it needs no credentials)."""
        return {"ok": True}

    @app.get("/metrics", tags=["Operations"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    return app

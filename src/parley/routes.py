"""One router's routes put on another as they are, without FastAPI analysing them again.

FastAPI analyses an endpoint (its signature, every parameter's pydantic field) when a route is declared on a
router, and `include_router` has every route analysed again for the including router. Parley declares about 200
routes on routers of their own (a prefix, tags, the console's dependencies), and analysing them twice (the admin
pages three times) was most of the 0.3 s of CPU it took to build the app: paid at every start and by every
in-process test. The routes a router holds are complete (their prefix, tags and dependencies are applied when
they are declared), so the application takes them as they are.
"""

from __future__ import annotations

from fastapi import APIRouter


def adopt(target: APIRouter, *sources: APIRouter) -> None:
    """What ``target.include_router(source)`` does for each source, with nothing added at inclusion."""
    for source in sources:
        if source.on_startup or source.on_shutdown:
            raise ValueError("a router with start-up or shut-down handlers must be included, not adopted")
        target.routes.extend(source.routes)

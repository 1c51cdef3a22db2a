"""What an endpoint takes from the app its request came to: the built `Parley` that `create_app` was given.

Parley's routers are declared once, when their modules are imported, not per app: FastAPI analyses every route
as it is declared (its signature, a pydantic field per parameter), about 0.3 s of CPU for Parley's 200 routes,
which building them per app paid at every start and in every in-process test. An endpoint names the services it
uses with one dependency, ``parley: ParleyDep``, and reads them from the app the request arrived at
(``app.state.parley``), so one declared route serves every app in the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def parley_of(request: Request) -> Parley:
    parley: Parley = request.app.state.parley
    return parley


ParleyDep = Annotated["Parley", Depends(parley_of)]

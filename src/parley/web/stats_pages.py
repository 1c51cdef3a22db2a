"""(being written)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

if TYPE_CHECKING:
    from parley.bootstrap import Parley


def router(parley: Parley) -> APIRouter:
    return APIRouter(include_in_schema=False)

"""Company numbers and their conversation settings (seed 002), for admins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.actions import AddMembers, BotMessage
from parley.core.number_config import ConfigError, NumberConfig, config_to_doc, parse_config
from parley.services import conversation_support as support
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store.db import Database
from parley.store.tables import Record, bots, numbers, services, users


class NumberError(ServiceError):
    """Settings that cannot be saved: every problem, each named by its path (``settings.hours.timezone: …``)."""

    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__(status, "; ".join(problems))
        self.all = problems

    def problems(self) -> list[tuple[str | None, str]]:
        return [(p.split(":", 1)[0], p) for p in self.all]


class Numbers:
    def __init__(self, db: Database, cache: DirectoryCache) -> None:
        self._db = db
        self._cache = cache

    async def list_(self, user: User) -> list[dict[str, Any]]:
        _require_admin(user)
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(numbers).order_by(numbers.c.number))).all()
            return [await self._view(conn, r) for r in rows]

    async def get(self, user: User, number: str) -> dict[str, Any]:
        _require_admin(user)
        async with self._db.read() as conn:
            return await self._view(conn, await self._find(conn, number))

    async def configure(self, user: User, number: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Save a number's settings whole: linked service, routing, out-of-hours routing, hours, actions."""
        _require_admin(user)
        try:
            config = parse_config(doc, "settings")
        except ConfigError as exc:
            raise NumberError(422, exc.problems) from None
        async with self._db.write() as conn:
            row = await self._find(conn, number)
            problems = await _reference_problems(conn, config)
            linked_id = row.linked_service_id
            if "linked_service" in doc:
                name = doc["linked_service"]
                linked_id = None
                if name:
                    service = await support.service_by_name(conn, str(name))
                    if service is None:
                        problems.append(f'settings.linked_service: "{name}" is not a service')
                    else:
                        linked_id = service.id
            if problems:
                raise NumberError(422, problems)
            await conn.execute(
                numbers.update()
                .where(numbers.c.id == row.id)
                .values(config=config_to_doc(config), linked_service_id=linked_id)
            )
            saved = await self._find(conn, number)
            view = await self._view(conn, saved)
        self._cache.invalidate()
        return view

    async def _find(self, conn: AsyncConnection, number: str) -> Record:
        row = await support.find_number(conn, number)
        if row is None:
            raise NumberError(404, [f"{number} is not a company number"])
        return row

    async def _view(self, conn: AsyncConnection, row: Record) -> dict[str, Any]:
        service = await support.owning_service(conn, row, row.number)
        effective, partial = await support.settings_for(conn, row, service)
        linked = await conn.scalar(sa.select(services.c.name).where(services.c.id == row.linked_service_id))
        return {
            "number": row.number,
            "sms": row.sms,
            "mms": row.mms,
            "whatsapp": row.whatsapp,
            "toll_free": row.toll_free,  # null, or the verification state (core/toll_free.py)
            "linked_service": linked,
            "service": service.name if service is not None else None,
            "settings": row.config or {},
            "effective_settings": config_to_doc(effective),
            "partially_configured": partial,
        }


async def _reference_problems(conn: AsyncConnection, config: NumberConfig) -> list[str]:
    problems = []
    for key, route in (("routing", config.routing), ("out_of_hours", config.out_of_hours)):
        if route is None:
            continue
        if route.kind == "agent":
            found = await conn.scalar(sa.select(users.c.id).where(users.c.extension == route.target))
        elif route.kind == "group":
            found = await conn.scalar(sa.select(services.c.id).where(services.c.name == route.target))
        else:
            found = await conn.scalar(sa.select(bots.c.id).where(bots.c.name == route.target))
        if found is None:
            problems.append(f'settings.{key}.target: no {route.kind} "{route.target}"')
    for i, action in enumerate(config.actions):
        if isinstance(action.task, BotMessage):
            if await conn.scalar(sa.select(bots.c.id).where(bots.c.name == action.task.bot)) is None:
                problems.append(f'settings.actions[{i}].task.bot: no bot "{action.task.bot}"')
        elif isinstance(action.task, AddMembers):
            known = set((await conn.execute(sa.select(users.c.extension))).scalars())
            for ext in action.task.extensions:
                if ext not in known:
                    problems.append(f'settings.actions[{i}].task.add_members: no user "{ext}"')
    return problems


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise NumberError(403, ["Administrators only"])

"""The LDAP directory sync's rows: the users it owns, its runs, and the lease that lets one sync run at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parley.core.directory_entries import DirectoryUser, ExistingUser
from parley.store.tables import Record, directory_syncs, leases, users

# A synced user cannot sign in with a Parley password until an admin sets one (or ldap_auth is on): this is no
# argon2 hash, so no password matches it.
NO_PASSWORD = "!directory"


async def list_existing(conn: AsyncConnection) -> list[ExistingUser]:
    rows = (await conn.execute(sa.select(users))).all()
    return [
        ExistingUser(
            id=r.id,
            extension=r.extension,
            directory_dn=r.directory_dn,
            disabled=r.disabled_at is not None,
            name=r.name,
            license=r.license,
            email=r.email,
            office_number=r.office_number,
            mobile=r.mobile,
        )
        for r in rows
    ]


def _fields(user: DirectoryUser) -> dict[str, Any]:
    return {
        "extension": user.extension,
        "name": user.name,
        "license": user.license.label,
        "email": user.email,
        "office_number": user.office_number,
        "mobile": user.mobile,
        "directory_dn": user.dn,
        "disabled_at": None,
    }


async def create(conn: AsyncConnection, user: DirectoryUser, now: datetime) -> None:
    await conn.execute(users.insert().values(**_fields(user), password_hash=NO_PASSWORD, updated_at=now))


async def update(conn: AsyncConnection, user_id: int, user: DirectoryUser, now: datetime) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(**_fields(user), updated_at=now))


async def disable(conn: AsyncConnection, user_ids: list[int], now: datetime) -> None:
    if user_ids:
        query = users.update().where(users.c.id.in_(user_ids), users.c.directory_dn.is_not(None))
        await conn.execute(query.values(disabled_at=now, updated_at=now))


async def start_run(conn: AsyncConnection, trigger: str, now: datetime) -> int:
    result = await conn.execute(directory_syncs.insert().values(started_at=now, trigger=trigger, outcome="running"))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


async def finish_run(
    conn: AsyncConnection,
    run_id: int,
    *,
    outcome: str,
    reason: str | None,
    counts: dict[str, int],
    entries: list[dict[str, Any]],
    now: datetime,
) -> None:
    values = {"finished_at": now, "outcome": outcome, "reason": reason, "counts": counts, "entries": entries}
    await conn.execute(directory_syncs.update().where(directory_syncs.c.id == run_id).values(**values))


async def forget_old_runs(conn: AsyncConnection, keep: int) -> None:
    """Keep the last ``keep`` runs: an hourly sync would otherwise grow the table without end."""
    newest = sa.select(directory_syncs.c.id).order_by(directory_syncs.c.id.desc()).limit(keep).subquery()
    await conn.execute(directory_syncs.delete().where(directory_syncs.c.id.not_in(sa.select(newest.c.id))))


async def list_runs(conn: AsyncConnection, limit: int = 10) -> list[Record]:
    query = sa.select(directory_syncs).order_by(directory_syncs.c.id.desc()).limit(limit)
    return list((await conn.execute(query)).all())


async def last_finished(conn: AsyncConnection) -> datetime | None:
    query = sa.select(sa.func.max(directory_syncs.c.started_at)).where(directory_syncs.c.outcome != "running")
    value = (await conn.execute(query)).scalar()
    return value if isinstance(value, datetime) else None


async def take_lease(conn: AsyncConnection, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Hold ``name`` until ``until`` unless someone else holds it now. Commit right after: the row is the lock."""
    taken = await conn.execute(
        leases.update()
        .where(leases.c.name == name, sa.or_(leases.c.expires_at <= now, leases.c.holder == holder))
        .values(holder=holder, expires_at=until)
    )
    if taken.rowcount:
        return True
    exists = (await conn.execute(sa.select(leases.c.name).where(leases.c.name == name))).first()
    if exists is not None:
        return False
    try:
        async with conn.begin_nested():
            await conn.execute(leases.insert().values(name=name, holder=holder, expires_at=until))
    except sa.exc.IntegrityError:  # another process inserted it first
        return False
    return True


async def release_lease(conn: AsyncConnection, name: str, holder: str) -> None:
    await conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

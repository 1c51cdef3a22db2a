"""What the database server's settings mean for Parley, said once when a process starts (`parley serve`,
`parley worker`).

PostgreSQL plans Parley's statements from its tables' statistics, which only an ANALYZE (autovacuum's, normally)
refreshes. With autovacuum off (or ``track_counts``, which it needs), it plans from the tables' sizes alone, and the
dead rows every status change leaves are never cleared: statements slow down as the tables grow. (Parley's own
connections remake their cached plans every 10 s, `store.db.PLAN_SECONDS`, so at least a plan made on a nearly empty
table does not stay: docs/benchmarks.md, "Session 13".) Parley does not change the server's settings; it says so,
so that whoever runs the database can turn autovacuum back on or run VACUUM ANALYZE themselves.
"""

from __future__ import annotations

import sqlalchemy as sa

from parley.store.db import Database

AUTOVACUUM_OFF = (
    "PostgreSQL's autovacuum is off (autovacuum or track_counts): nothing refreshes the statistics Parley's query "
    "plans depend on nor clears dead rows, so its statements slow down as the tables grow. Turn autovacuum on "
    "(PostgreSQL's default), or run VACUUM ANALYZE on Parley's database regularly."
)


async def warnings(db: Database) -> list[str]:
    """What is wrong with the server's settings for Parley (nothing on SQLite)."""
    if not db.is_postgres:
        return []
    async with db.read() as conn:
        query = sa.text("SELECT current_setting('autovacuum'), current_setting('track_counts')")
        autovacuum, track_counts = (await conn.execute(query)).one()
    return [AUTOVACUUM_OFF] if "off" in (autovacuum, track_counts) else []

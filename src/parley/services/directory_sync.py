"""Sync users from the LDAP directory (issue 14 §2): on a schedule in the workers, and on demand.

One sync at a time across every process and host: a lease row (`leases`, name ``directory-sync``) is taken
before the search and released after; a holder that dies loses it after `LEASE`. A sync changes nothing unless
it goes through whole: the search is read completely first, the plan is made (pure, `core.directory_entries`),
and only then are the users written, in one transaction with the run's report.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from parley.core.directory_config import DirectoryConfig, config_from_setting
from parley.core.directory_entries import Outcome, plan_sync, read_entry
from parley.services.directory import DirectoryCache
from parley.services.ldap_server import DirectoryServer, DirectoryUnavailable
from parley.store import directory_syncs as runs
from parley.store.db import Database

LEASE_NAME = "directory-sync"
LEASE = timedelta(minutes=15)
KEEP_RUNS = 50  # the last syncs kept with their report
log = structlog.get_logger("parley.directory")

# progress(stage, done, total): stage "search" (total None) then "apply".
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class SyncResult:
    outcome: str  # done | failed | refused | busy | not_configured
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    outcomes: tuple[Outcome, ...] = ()
    run_id: int | None = None

    def summary(self) -> str:
        counted = ", ".join(f"{k}: {n}" for k, n in sorted(self.counts.items()) if n) or "no entries"
        return counted if self.outcome == "done" else f"{self.outcome}: {self.reason}"


class DirectorySync:
    def __init__(
        self,
        db: Database,
        server: DirectoryServer,
        cache: DirectoryCache,
        clock: Callable[[], datetime],
        *,
        keep_runs: int = KEEP_RUNS,
    ) -> None:
        self._db = db
        self._server = server
        self._cache = cache
        self._clock = clock
        self._holder = secrets.token_hex(8)
        self._keep_runs = keep_runs

    async def config(self) -> DirectoryConfig | None:
        return config_from_setting((await self._cache.config()).settings.get("directory"))

    async def check_password(self, dn: str, password: str) -> bool | None:
        """For sign-in with ``ldap_auth``: True/False from the directory; None when ldap_auth is off."""
        config = await self.config()
        if config is None or not config.ldap_auth:
            return None
        return await self._server.check_password(config, dn, password)

    async def run_if_due(self) -> SyncResult | None:
        """The schedule: sync when ``interval`` has passed since the last sync of any process."""
        config = await self.config()
        if config is None or config.interval <= 0 or not await self._due(config):
            return None
        return await self.run("schedule", only_if_due=True)

    async def _due(self, config: DirectoryConfig) -> bool:
        async with self._db.read() as conn:
            last = await runs.last_finished(conn)
        return last is None or self._clock() - last >= timedelta(seconds=config.interval)

    async def run(
        self,
        trigger: str,
        *,
        progress: Progress | None = None,
        allow_mass_disable: bool = False,
        only_if_due: bool = False,
    ) -> SyncResult:
        config = await self.config()
        if config is None:
            return SyncResult("not_configured", "there is no [directory] section in the provisioning")
        now = self._clock()
        async with self._db.write() as conn:
            if not await runs.take_lease(conn, LEASE_NAME, self._holder, now, now + LEASE):
                return SyncResult("busy", "another directory sync is running")
        try:
            if only_if_due and not await self._due(config):  # another worker ran it while we waited
                return SyncResult("busy", "another worker has just synced")
            return await self._run(config, trigger, progress, allow_mass_disable)
        finally:
            async with self._db.write() as conn:
                await runs.release_lease(conn, LEASE_NAME, self._holder)

    async def _run(
        self, config: DirectoryConfig, trigger: str, progress: Progress | None, allow_mass_disable: bool
    ) -> SyncResult:
        async with self._db.write() as conn:
            run_id = await runs.start_run(conn, trigger, self._clock())
            await runs.forget_old_runs(conn, self._keep_runs)
        region = (await self._cache.config()).country
        try:
            entries = await self._server.search(config, (lambda n: progress("search", n, None)) if progress else None)
        except DirectoryUnavailable as exc:
            return await self._finish(run_id, "failed", exc.reason, {}, ())
        attributes = config.attribute_map
        read = [read_entry(e, attributes, region) for e in entries]
        async with self._db.read() as conn:
            existing = await runs.list_existing(conn)
        plan = plan_sync(read, existing, allow_mass_disable=allow_mass_disable)
        if plan.refused is not None:
            return await self._finish(run_id, "refused", plan.refused, plan.counts, plan.outcomes)
        now = self._clock()
        total = len(plan.creates) + len(plan.updates)
        async with self._db.write() as conn:
            for done, user in enumerate(plan.creates, 1):
                await runs.create(conn, user, now)
                if progress is not None:
                    progress("apply", done, total)
            for done, (user_id, user) in enumerate(plan.updates, len(plan.creates) + 1):
                await runs.update(conn, user_id, user, now)
                if progress is not None:
                    progress("apply", done, total)
            await runs.disable(conn, list(plan.disables), now)
            await runs.finish_run(
                conn, run_id, outcome="done", reason=None, counts=plan.counts, entries=_lines(plan.outcomes), now=now
            )
        self._cache.invalidate()
        log.info("directory.synced", trigger=trigger, **plan.counts)
        return SyncResult("done", None, plan.counts, plan.outcomes, run_id)

    async def _finish(
        self, run_id: int, outcome: str, reason: str, counts: dict[str, int], outcomes: tuple[Outcome, ...]
    ) -> SyncResult:
        async with self._db.write() as conn:
            await runs.finish_run(
                conn,
                run_id,
                outcome=outcome,
                reason=reason,
                counts=counts,
                entries=_lines(outcomes),
                now=self._clock(),
            )
        log.warning("directory.sync_" + outcome, reason=reason)
        return SyncResult(outcome, reason, counts, outcomes, run_id)

    async def last_runs(self, limit: int = 5) -> list[SyncResult]:
        async with self._db.read() as conn:
            rows = await runs.list_runs(conn, limit)
        return [
            SyncResult(
                r.outcome,
                r.reason,
                dict(r.counts or {}),
                tuple(Outcome(e["dn"], e.get("extension"), e["outcome"], e.get("reason", "")) for e in r.entries or []),
                r.id,
            )
            for r in rows
        ]


def _lines(outcomes: tuple[Outcome, ...]) -> list[dict[str, str | None]]:
    """What a run keeps of its report: the entries that changed or were skipped (the counts say the rest)."""
    return [
        {"dn": o.dn, "extension": o.extension, "outcome": o.outcome, "reason": o.reason}
        for o in outcomes
        if o.outcome != "unchanged"
    ]

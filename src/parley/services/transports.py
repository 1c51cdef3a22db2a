"""The live transports of one process: channels built from the `transports` table, kept in step with it."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from parley.channels.base import Channel
from parley.core.routing import TransportInfo, choose_transport
from parley.store import directory, transport_states
from parley.store.db import Database, worker_name

log = structlog.get_logger()

ChannelFactory = Callable[[Any], Channel]


def _is_up(channel: Channel) -> bool:
    return getattr(channel, "state", "bound") == "bound"


REPORT_FRESH = timedelta(seconds=20)  # a worker's report older than this is from a worker that stopped or died


class Transports:
    def __init__(self, db: Database, factory: ChannelFactory, *, worker: str | None = None) -> None:
        self._db = db
        self._factory = factory
        self._worker = worker or worker_name()
        self._channels: dict[str, tuple[Any, Channel]] = {}  # name -> (row, channel)
        self._infos: dict[str, TransportInfo] = {}
        self._running = False

    async def start(self) -> None:
        """Run this process's channels (workers only: `serve --no-workers` binds nothing)."""
        self._running = True
        await self.refresh()
        await self.report(datetime.now(UTC))

    async def refresh(self) -> None:
        """Start channels for new or changed transport rows, stop those that went away (once started)."""
        if not self._running:
            return
        async with self._db.read() as conn:
            rows = {r.name: r for r in await directory.list_transports(conn)}
        for name in list(self._channels):
            if name not in rows or rows[name].updated_at != self._channels[name][0].updated_at:
                await self._stop(name)
        for name, row in rows.items():
            if name in self._channels:
                continue
            try:
                channel = self._factory(row)
                await channel.start()
            except Exception as exc:  # a bad transport must not stop the others
                log.error("transport.start_failed", transport=name, error=str(exc))
                continue
            self._channels[name] = (row, channel)
            mms = bool(getattr(channel, "carries_mms", False))
            self._infos[name] = TransportInfo(name, row.role, row.gateway_id, carries_mms=mms)
            log.info("transport.started", transport=name, role=row.role, kind=row.kind)

    async def _stop(self, name: str) -> None:
        _, channel = self._channels.pop(name)
        self._infos.pop(name, None)
        with contextlib.suppress(Exception):
            await channel.stop()

    def choose(
        self, message_id: str, gsm: str | None, *, carrier: str | None = None, mms: bool = False
    ) -> tuple[str, Channel]:
        """Raises `parley.core.delivery.NoTransport` when nothing can carry the message."""
        infos = [replace(i, up=_is_up(self._channels[i.name][1])) for i in self._infos.values()]
        spread = zlib.crc32(message_id.encode())
        chosen = choose_transport(infos, gsm=gsm, spread=spread, carrier=carrier, mms=mms)
        return chosen.name, self._channels[chosen.name][1]

    def options(self, name: str) -> dict[str, Any]:
        """A running transport's stored config (``links``, ``assume_delivered``, …); {} for an unknown one."""
        entry = self._channels.get(name)
        config = entry[0].config if entry else None
        return config if isinstance(config, dict) else {}

    def channel(self, name: str) -> Channel | None:
        entry = self._channels.get(name)
        return entry[1] if entry else None

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "role": row.role,
                "kind": row.kind,
                "state": getattr(channel, "state", "ready"),
                "last_error": getattr(channel, "last_error", None),
                "throughput": row.config.get("throughput") if isinstance(row.config, dict) else None,
            }
            for name, (row, channel) in self._channels.items()
        ]

    async def report(self, now: datetime) -> None:
        """Write this process's channel states for every other process to read (`cluster_status`)."""
        async with self._db.write() as conn:
            await transport_states.replace(conn, self._worker, self.status() if self._running else [], now)

    async def cluster_status(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Each transport's state across the workers that reported lately (any process can ask, API-only ones
        included): ``state`` (bound if any worker is bound), ``workers`` {worker: state}, ``last_error``."""
        async with self._db.read() as conn:
            rows = await transport_states.fresh(conn, now - REPORT_FRESH)
        merged: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = merged.setdefault(row.transport, {"state": row.state, "workers": {}, "last_error": None})
            entry["workers"][row.worker] = row.state
            if row.state == "bound" or entry["state"] not in ("bound", "ready"):
                entry["state"] = row.state
            if row.last_error and not entry["last_error"]:
                entry["last_error"] = row.last_error
        return merged

    async def stop(self) -> None:
        self._running = False
        for name in list(self._channels):
            await self._stop(name)

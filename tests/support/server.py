"""`parley serve` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from parley.core.provisioning import parse
from parley.services.provisioning import apply
from parley.store.db import Database
from tests.support import launcher
from tests.support.launcher import ParleyProcess
from tests.support.schema import migrated

# Ports for processes the tests start (which bind them later) come from a block of their own, below the kernel's
# ephemeral range (32768-60999 on Linux), so that a port handed out here is never also given to a `bind(0)` or an
# outgoing connection. Each pytest-xdist worker has its own block, and a process never hands out a port twice:
# two `free_port()` calls can no longer return the same port. A random start inside the block keeps separate
# pytest runs on one machine apart too.
_PORT_BLOCK = 2_000
_PORT_BASE = 10_000
_next_port: list[int] = []


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = worker.removeprefix("gw")
    return int(digits) % 10 if digits.isdigit() else 0


def free_port() -> int:
    """A loopback TCP port nobody listens on, never returned before by this process."""
    block_start = _PORT_BASE + _worker_index() * _PORT_BLOCK
    if not _next_port:
        _next_port.append(block_start + random.randrange(_PORT_BLOCK))
    for _ in range(_PORT_BLOCK):
        port = _next_port[0]
        _next_port[0] = block_start + (port - block_start + 1) % _PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {block_start}-{block_start + _PORT_BLOCK - 1}")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(doc: dict[str, Any]) -> str:
    """Enough TOML for provisioning documents (tables and arrays of tables of scalars)."""
    lines: list[str] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list):
            for entry in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in entry.items()]
        lines.append("")
    text = "\n".join(lines)
    tomllib.loads(text)  # what we write must read back
    return text


class ParleyServer:
    def __init__(self, workdir: Path, database_url: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.smtp_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PARLEY_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir}/parley.db",
            "PARLEY_HTTP": f"127.0.0.1:{self.port}",
            "PARLEY_SMTP": f"127.0.0.1:{self.smtp_port}",
            "PARLEY_LOG_LEVEL": "warning",
            "COLUMNS": "200",  # rich wraps tables and lines at 80 columns when not on a terminal
            **(extra_env or {}),
        }
        self.process: ParleyProcess | None = None
        self.workers: list[ParleyProcess] = []
        self.log = workdir / "server.log"

    def parley(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`parley ARGS` run to its end (as `subprocess.run(capture_output=True, text=True)` answers)."""
        return launcher.run(list(args), self.env, self.workdir, timeout=120, check=check)

    def apply(self, doc: dict[str, Any]) -> None:
        """Migrate and provision this server's database, in this process: what `parley apply FILE` does (the CLI
        has tests of its own, tests/e2e/test_cli.py), without starting a Python process (about a second of CPU)
        for each of the hundreds of servers the suite starts."""
        (self.workdir / "parley.toml").write_text(to_toml(doc))  # kept beside the log, for reading a failure
        url = self.env["PARLEY_DATABASE_URL"]

        async def provision() -> None:
            db = Database(url)
            try:
                await migrated(db)
                await apply(db, parse(doc), now=datetime.now(UTC))
            finally:
                await db.close()

        # Called from async tests: the provisioning gets a loop of its own in a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, provision()).result()

    async def start(self, *args: str) -> None:
        self.process = launcher.launch(["serve", *args], self.env, self.workdir, self.log)
        await self.wait_ready()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"parley serve exited:\n{self.log.read_text()}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"parley serve did not answer:\n{self.log.read_text()}")
                await asyncio.sleep(0.05)

    def spawn_worker(self) -> ParleyProcess:
        """A `parley worker` sharing this server's database (its output goes to the same log)."""
        worker = launcher.launch(["worker"], self.env, self.workdir, self.log)
        self.workers.append(worker)
        return worker

    def kill(self) -> None:
        """kill -9: no clean shutdown."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    async def close(self) -> None:
        """`stop`, waiting in a thread: the test's event loop goes on serving what Parley talks to as it stops
        (the SMSC simulator answers its unbind, a browser closes its streams) instead of being blocked by the wait."""
        await asyncio.to_thread(self.stop)

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(10)
        self.workers.clear()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


async def wait_until(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll an async or plain predicate until it returns something truthy (a condition, not a sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)

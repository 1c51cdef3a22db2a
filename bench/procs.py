"""Subprocesses (every one killed at the end, even on errors), free ports, readiness and /proc figures."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the peak resident set) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a live process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Procs:
    """Starts subprocesses with their output in ``logdir``; ``close`` stops whatever is still running."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.running: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.logdir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args, cwd=ROOT, env=self.env(env), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.running.append(proc)
        self.logs[proc.pid] = log
        return proc

    def python(self, name: str, module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.spawn(name, [sys.executable, "-m", module, *args], env)

    @staticmethod
    def env(extra: dict[str, str] | None) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return {**os.environ, "PYTHONPATH": path, **(extra or {})}

    def log_tail(self, proc: subprocess.Popen[bytes], lines: int = 30) -> str:
        log = self.logs.get(proc.pid)
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log and log.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc in self.running:
            self.running.remove(proc)

    def close(self) -> None:
        for proc in list(self.running):
            self.stop(proc)

    async def wait_http(self, proc: subprocess.Popen[bytes], url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args!r} exited:\n{self.log_tail(proc)}")
                try:
                    if (await client.get(url, timeout=2.0)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{url} did not answer in {timeout:.0f} s:\n{self.log_tail(proc)}")

    async def wait_port(self, proc: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited:\n{self.log_tail(proc)}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise TimeoutError(f"nothing listens on {port} after {timeout:.0f} s:\n{self.log_tail(proc)}")

    async def load(self, name: str, port: int, *args: str, timeout: float = 300.0) -> dict[str, Any]:
        """Run the load generator in its own process and return its JSON report."""
        return await self.run_json(name, "bench.loadgen", "--port", str(port), *args, timeout=timeout)

    async def run_json(self, name: str, module: str, *args: str, timeout: float = 300.0) -> dict[str, Any]:
        """Run ``python -m module args`` to its end and return the JSON object it printed last."""
        proc = self.python(name, module, *args)
        try:
            await asyncio.to_thread(proc.wait, timeout)
        finally:
            self.stop(proc)
        out = self.logs[proc.pid].read_text().strip().splitlines()
        if proc.returncode != 0 or not out:
            raise RuntimeError(f"{module} failed:\n{self.log_tail(proc)}")
        result: dict[str, Any] = json.loads(out[-1])
        return result

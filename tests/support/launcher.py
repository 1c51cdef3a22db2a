"""Parley's processes for the tests (`parley serve`, `parley worker`, the CLI), forked from a process that has
already imported Parley.

The suite starts a few hundred of them. Starting Python and importing Parley and its libraries costs about 1.5 s
of CPU each on a two-core CI machine, more than most of the tests that use them spend on anything else.
multiprocessing's forkserver imports Parley once per test process; every launch forks from it. Each launch is still
a process of its own that runs Parley's command line (`parley.cli.app`, what `python -m parley` and the `parley`
script run) with its own arguments, environment, working directory and output files, and that stops on SIGTERM,
dies on SIGKILL and leaves its exit code as before. Nothing of the test process reaches it: the forkserver was
started from a clean interpreter, not forked from the test process.

The real entry points (`python -m parley`, the installed `parley` script) are run as plain processes by
tests/e2e/test_deploy_files.py.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from multiprocessing.process import BaseProcess
from pathlib import Path

_context = multiprocessing.get_context("forkserver")
_lock = threading.Lock()
_started = False

# Read by libraries when Parley is imported (rich's consoles in parley.cli read COLUMNS once, at import): the
# forkserver imports Parley with the values every test process gives its Parley processes.
_IMPORT_ENVIRONMENT = {"COLUMNS": "200"}


def _run(args: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> None:
    """In the forked process: become `parley ARGS` in ``cwd`` with exactly ``env``, writing to the given files."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, stdout), (2, stderr)):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(out, fd)
        os.close(out)
    sys.argv = ["parley", *args]
    from parley.cli import app  # imported already, by the forkserver

    try:
        app(args=args, prog_name="parley")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _ensure_forkserver() -> None:
    global _started
    with _lock:
        if _started:
            return
        _context.set_forkserver_preload(["parley.cli", "parley.app", "uvicorn", __name__])  # serve: routes declared
        saved = {name: os.environ.get(name) for name in _IMPORT_ENVIRONMENT}
        os.environ.update(_IMPORT_ENVIRONMENT)
        try:
            from multiprocessing import forkserver

            forkserver.ensure_running()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        _started = True


class ParleyProcess:
    """A launched Parley process, with the part of `subprocess.Popen`'s interface the tests use."""

    def __init__(self, process: BaseProcess, args: list[str]) -> None:
        self._process = process
        self.args = args

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(["parley", *self.args], timeout or 0.0)
        return self._process.exitcode

    def terminate(self) -> None:
        if self._process.exitcode is None:
            self._process.terminate()

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()


def launch(
    args: list[str], env: Mapping[str, str], cwd: Path, stdout: Path, stderr: Path | None = None
) -> ParleyProcess:
    """Start `parley ARGS`; its output is appended to ``stdout`` (and its errors to ``stderr``, or there too)."""
    _ensure_forkserver()
    # Daemonic: should a test leave one running, it is ended when the test process exits, not waited for.
    process = _context.Process(
        target=_run, args=(list(args), dict(env), str(cwd), str(stdout), str(stderr or stdout)), daemon=True
    )
    process.start()
    return ParleyProcess(process, list(args))


def _new_file(folder: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=".parley-", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(name)


def run(
    args: list[str], env: Mapping[str, str], cwd: Path, timeout: float, check: bool
) -> subprocess.CompletedProcess[str]:
    """`parley ARGS` to its end, as `subprocess.run(..., capture_output=True, text=True)` answers."""
    out, err = _new_file(cwd, ".out"), _new_file(cwd, ".err")
    process = launch(args, env, cwd, out, err)
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise
    result = subprocess.CompletedProcess(["parley", *args], code, out.read_text(), err.read_text())
    for path in (out, err):
        path.unlink()
    if check:
        result.check_returncode()
    return result

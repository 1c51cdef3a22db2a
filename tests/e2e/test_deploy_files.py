"""The deployment files (deploy/, docs/deploy.md): systemd units that `systemd-analyze verify` accepts, an nginx site
that `nginx -t` accepts and that serves a real `parley serve`, settings and commands that exist.

Debian's nginx and systemd-analyze are installed when missing by `scripts/test-prerequisites deploy`, as Chromium is
for the console tests. The files' own paths (/opt/parley/venv, /etc/parley, /var/lib/parley, the certificates) are
swapped for temporary ones that exist here.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from parley.cli import app
from parley.settings import Settings
from tests.support.provisioning import document
from tests.support.server import ParleyServer, free_port
from tests.support.tls import self_signed

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
SITE = DEPLOY / "nginx" / "parley.conf"
ENV_FILE = DEPLOY / "parley.env"
GUIDE = ROOT / "docs" / "deploy.md"
NGINX = os.environ.get("PARLEY_TEST_NGINX", "/usr/sbin/nginx")
PARLEY = "/opt/parley/venv/bin/parley"

# Installing a package is not done by two test processes at once.
pytestmark = pytest.mark.xdist_group("deploy-files")


@pytest.fixture(scope="module")
def tools() -> None:
    if Path(NGINX).exists() and shutil.which("systemd-analyze"):
        return
    done = subprocess.run(
        [ROOT / "scripts" / "test-prerequisites", "deploy"], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/test-prerequisites deploy failed:\n{done.stdout}{done.stderr}")


def substituted(text: str, tmp_path: Path) -> str:
    """A deployment file with its paths moved to ones that exist in this test."""
    parley = Path(sys.executable).with_name("parley")
    assert parley.exists(), f"{parley}: the virtualenv's `parley` entry point is missing"
    for path, replacement in {
        PARLEY: str(parley),
        "/etc/parley/parley.env": str(tmp_path / "etc" / "parley.env"),
        "/var/lib/parley": str(tmp_path / "state"),
        "/var/backups/parley": str(tmp_path / "backups"),
    }.items():
        text = text.replace(path, replacement)
    return text


def exec_start(unit: Path) -> list[str]:
    (line,) = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return line.removeprefix("ExecStart=").split()


def environment_file() -> dict[str, str]:
    """The example's settings, the ones left commented out included."""
    pairs = re.findall(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", ENV_FILE.read_text(), re.MULTILINE)
    return dict(pairs)


# -- systemd ---------------------------------------------------------------------------------------------------------


def test_units_pass_systemd_analyze_verify(tools: None, tmp_path: Path) -> None:
    units = tmp_path / "units"
    for directory in (units, tmp_path / "etc", tmp_path / "state", tmp_path / "backups"):
        directory.mkdir()
    shutil.copy(ENV_FILE, tmp_path / "etc" / "parley.env")
    for unit in UNITS.iterdir():
        (units / unit.name).write_text(substituted(unit.read_text(), tmp_path))
    names = sorted(unit.name for unit in UNITS.iterdir())
    assert names == [
        "parley-backup.service", "parley-backup.timer", "parley-serve.service", "parley-worker@.service",
        "parley.target",
    ]  # fmt: skip
    # The template is checked through an instance, as systemd would start it.
    checked = [units / name.replace("@.", "@1.") for name in names]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, checked)], capture_output=True, text=True, timeout=60
    )
    # Unknown keys and bad values are only warnings to systemd ("…, ignoring"): in our files they are mistakes.
    # Lines about the system's own units (postgresql.service, …) are not ours to judge.
    ours = [line for line in done.stderr.splitlines() if "parley" in line]
    assert done.returncode == 0 and ours == [], done.stderr


def cli_accepts(argv: list[str]) -> bool:
    """Whether `parley` knows this command and its options (--help stops before running it; an unknown command or
    option is refused while parsing, before --help is acted on)."""
    return CliRunner().invoke(app, [*argv, "--help"]).exit_code == 0


def test_units_run_commands_and_options_the_cli_has() -> None:
    assert exec_start(UNITS / "parley-serve.service") == [PARLEY, "serve", "--no-workers"]
    assert exec_start(UNITS / "parley-worker@.service") == [PARLEY, "worker"]
    for unit in ("parley-serve.service", "parley-worker@.service"):
        assert cli_accepts(exec_start(UNITS / unit)[1:]), unit
    assert not cli_accepts(["serve", "--no-such-option"])  # the check can fail


def test_guide_names_only_commands_and_settings_that_exist() -> None:
    guide = GUIDE.read_text()
    prose = {"system", "user", "hosts", "host", "process", "processes", "database"}  # "the parley system user", …
    for command, option in set(re.findall(r"\bparley(?:-admin)? ([a-z][a-z-]*)(?: (--[a-z-]+))?", guide)):
        if command not in prose:
            assert cli_accepts([command, *filter(None, [option])]), f"docs/deploy.md: `parley {command} {option}`"
    for text in (guide, ENV_FILE.read_text(), *(unit.read_text() for unit in UNITS.iterdir())):
        for setting in set(re.findall(r"\bPARLEY_([A-Z0-9_]+)", text)):
            assert setting.lower() in Settings.model_fields, f"PARLEY_{setting} is no setting"


def test_environment_file_is_a_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    values = environment_file()
    for name in values:
        assert name.startswith(("PARLEY_", "PG")) or name == "FORWARDED_ALLOW_IPS", name
    for name, value in values.items():
        if name.startswith("PARLEY_"):
            monkeypatch.setenv(name, value)
    settings = Settings()  # every value is of its setting's type
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.public_url.startswith("https://")
    assert settings.secret and settings.media_dir.startswith("/var/lib/parley/")
    assert settings.http_host_port == ("127.0.0.1", 8080)  # loopback: only nginx reaches it
    site = SITE.read_text()
    assert f"server {settings.http};" in site
    # Units and the admin wrapper read this very file, and ReadWritePaths covers the media directory.
    for unit in ("parley-serve.service", "parley-worker@.service"):
        text = (UNITS / unit).read_text()
        assert "EnvironmentFile=/etc/parley/parley.env" in text
        assert "ReadWritePaths=/var/lib/parley\n" in text
        for hardening in ("User=parley", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=strict"):
            assert hardening in text, (unit, hardening)
        assert not re.search(r"^Environment=", text, re.MULTILINE)  # settings, secrets above all, stay in the file
    admin = (DEPLOY / "parley-admin").read_text()
    assert ". /etc/parley/parley.env" in admin and PARLEY in admin
    subprocess.run(["sh", "-n", str(DEPLOY / "parley-admin")], check=True)


# -- nginx -----------------------------------------------------------------------------------------------------------


def nginx_config(tmp_path: Path, site: str) -> Path:
    """A whole nginx.conf around the site, everything nginx writes kept under tmp_path."""
    cert, key = self_signed(tmp_path, ["sms.example.com", "127.0.0.1"])
    site = site.replace("/etc/letsencrypt/live/sms.example.com/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/sms.example.com/privkey.pem", str(key))
    (tmp_path / "parley.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {tmp_path / 'parley.conf'};\n}}\n"
    )
    return config


def nginx(config: Path, *args: str) -> list[str]:
    return [NGINX, "-p", str(config.parent), "-e", str(config.parent / "error.log"), "-c", str(config), *args]


def test_nginx_accepts_the_site(tools: None, tmp_path: Path) -> None:
    done = subprocess.run(nginx(nginx_config(tmp_path, SITE.read_text()), "-t", "-q"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_site_streams_live_updates_and_takes_large_uploads() -> None:
    site = SITE.read_text()
    events = re.search(r"location = /api/v2/events \{(.*?)\}", site, re.DOTALL)
    assert events is not None
    assert "proxy_buffering off;" in events.group(1)
    assert re.search(r"proxy_read_timeout (\d+)h;", events.group(1))
    size = re.search(r"client_max_body_size (\d+)m;", site)
    assert size is not None and int(size.group(1)) * 1024 * 1024 > Settings.model_fields["max_media_bytes"].default
    # Headers set at the server level only: a location with a proxy_set_header of its own would drop them all.
    assert site.count("proxy_set_header") == len(re.findall(r"^    proxy_set_header", site, re.MULTILINE))
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site  # replaced, not appended to
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site


@pytest.fixture
async def behind_nginx(tools: None, tmp_path: Path) -> AsyncIterator[tuple[ParleyServer, str, ssl.SSLContext]]:
    """`parley serve --no-workers` with the site in front of it, on loopback ports of this test."""
    server = ParleyServer(tmp_path)
    server.apply(document())
    await server.start("--no-workers")
    port = free_port()
    site = SITE.read_text().replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{server.port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
    site = site.replace("listen [::]:443 ssl http2;\n", "")
    (tmp_path / "nginx").mkdir()
    config = nginx_config(tmp_path / "nginx", site)
    with (config.parent / "nginx.log").open("wb") as log:
        process = subprocess.Popen(
            nginx(config, "-g", "daemon off; master_process off;"), stdout=log, stderr=subprocess.STDOUT
        )
    context = ssl.create_default_context(cafile=str(config.parent / "fullchain.pem"))
    try:
        await until_listening(port, process, config.parent / "nginx.log")
        yield server, f"https://127.0.0.1:{port}", context
    finally:
        process.terminate()
        process.wait(10)
        await server.close()


async def until_listening(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


async def test_site_in_front_of_parley_serve(behind_nginx: tuple[ParleyServer, str, ssl.SSLContext]) -> None:
    server, url, context = behind_nginx
    auth = ("101", "sms101api")
    async with httpx.AsyncClient(base_url=url, verify=context, timeout=20) as client:
        # X-Forwarded-Proto reached Parley: it answers as over TLS.
        health = await client.get("/healthz")
        assert health.status_code == 200 and "strict-transport-security" in health.headers
        # X-Forwarded-For reached Parley: a request through the proxy is not taken for a local one.
        assert (await client.get("/metrics")).status_code == 403
        async with httpx.AsyncClient(base_url=server.url) as direct:
            assert (await direct.get("/metrics")).status_code == 200
        # An upload over nginx's default limit of 1 MB goes through.
        big = ("x" * 99 + "\n").encode() * 20_000
        uploaded = await client.post("/api/v2/media", auth=auth, files={"file": ("notes.txt", big, "text/plain")})
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["size"] == len(big)
        # The live updates stream arrives through the proxy.
        async with client.stream("GET", "/api/v2/events", auth=auth) as events:
            assert events.status_code == 200
            assert events.headers["content-type"].startswith("text/event-stream")
            first = await asyncio.wait_for(anext(aiter(events.aiter_text())), timeout=10)
            assert first.startswith(": connected")

"""A real OpenLDAP slapd of the test's own: own slapd.conf, mdb database and port; no shared system state.

Debian's slapd and ldap-utils are installed by `scripts/test-prerequisites ldap` when missing (as Chromium and
nginx are). The server holds ``dc=example,dc=com`` with an admin (`ADMIN_DN` / `ADMIN_PASSWORD`), a read-only
service account (`BIND_DN` / `BIND_PASSWORD`), and a small auxiliary schema like the ones PBX directories
add (`parleyUser`: ``parleyExtension``, ``parleyLicense``, the latter an octet string so that a test can store
bytes that are not UTF-8).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SLAPD = os.environ.get("PARLEY_TEST_SLAPD", "/usr/sbin/slapd")
SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
BIND_DN = f"cn=parley,{SUFFIX}"
BIND_PASSWORD = "parley-secret"
PEOPLE = f"ou=people,{SUFFIX}"

SCHEMA = """
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'parleyExtension'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'parleyLicense'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'parleyUser' SUP top AUXILIARY
    MAY ( parleyExtension $ parleyLicense ) )
"""

BASE_LDIF = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {BIND_DN}
objectClass: person
objectClass: simpleSecurityObject
cn: parley
sn: parley
userPassword: {BIND_PASSWORD}

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people
"""


def person(uid: str, **attributes: str | list[str]) -> str:
    """One LDIF entry under ou=people; a key ending in ":" takes a base64 value (``{"parleyLicense:": "/w=="}``)."""
    lines = [f"dn: uid={uid},{PEOPLE}", "objectClass: inetOrgPerson", "objectClass: parleyUser", f"uid: {uid}"]
    attributes.setdefault("sn", uid)
    for key, value in attributes.items():
        for v in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {v}")
    return "\n".join(lines) + "\n"


class Slapd:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._loaded = False

    def start(self) -> None:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        (self.workdir / "parley.schema").write_text(SCHEMA)
        conf = self.workdir / "slapd.conf"
        conf.write_text(
            "\n".join(
                [
                    "include /etc/ldap/schema/core.schema",
                    "include /etc/ldap/schema/cosine.schema",
                    "include /etc/ldap/schema/inetorgperson.schema",
                    f"include {self.workdir / 'parley.schema'}",
                    f"pidfile {self.workdir / 'slapd.pid'}",
                    "modulepath /usr/lib/ldap",
                    "moduleload back_mdb",
                    "database mdb",
                    "maxsize 10485760",
                    f"suffix {SUFFIX}",
                    f"rootdn {ADMIN_DN}",
                    f"rootpw {ADMIN_PASSWORD}",
                    f"directory {data}",
                    "access to attrs=userPassword by anonymous auth by * none",
                    "access to * by * read",
                ]
            )
            + "\n"
        )
        # -d 0: stay in the foreground (a child of this test, stopped by it).
        with (self.workdir / "slapd.log").open("wb") as log:
            self._process = subprocess.Popen(
                [SLAPD, "-d", "0", "-f", str(conf), "-h", f"{self.url}/"], stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.workdir / 'slapd.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)  # waiting for slapd to listen, a condition with a deadline
        else:
            raise RuntimeError("slapd did not listen within 30 s")
        if not self._loaded:
            self.add(BASE_LDIF)
            self._loaded = True

    def start_again(self) -> None:
        """Start after `stop`, on the same port with the same data (a server that was down comes back)."""
        self.start()

    def _tool(self, tool: str, ldif: str, *args: str) -> None:
        done = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, *args],
            input=ldif.encode(),
            capture_output=True,
            timeout=30,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.decode(errors='replace')}")

    def add(self, ldif: str) -> None:
        self._tool("ldapadd", ldif)

    def modify(self, ldif: str) -> None:
        self._tool("ldapmodify", ldif)

    def delete(self, *dns: str) -> None:
        self._tool("ldapdelete", "\n".join(dns) + "\n")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def ensure_slapd() -> None:
    if Path(SLAPD).exists() and shutil.which("ldapadd"):
        return
    done = subprocess.run(
        [ROOT / "scripts" / "test-prerequisites", "ldap"], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/test-prerequisites ldap failed:\n{done.stdout}{done.stderr}")


@contextlib.contextmanager
def running_slapd(workdir: Path) -> Iterator[Slapd]:
    """A started slapd in ``workdir``, stopped on leaving (test files wrap it in their ``slapd`` fixture)."""
    ensure_slapd()
    server = Slapd(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()

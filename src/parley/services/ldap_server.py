"""The one module that talks to an LDAP or Active Directory server (issue 14 §2), through ldap3.

ldap3's synchronous strategy is used, each blocking call in a thread (`asyncio.to_thread`) so that the event
loop never waits on the network. Searches are paged (RFC 2696, 500 entries a page): Active Directory answers at
most 1,000 entries to an unpaged search. Every failure (server down, bind refused, search error, timeout) is a
`DirectoryUnavailable` whose reason names what failed and never carries the password.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException

from parley.core.directory_config import DirectoryConfig
from parley.core.directory_entries import Entry

PAGE_SIZE = 500
CONNECT_TIMEOUT = 5
RECEIVE_TIMEOUT = 30
INVALID_CREDENTIALS = 49  # RFC 4511 §4.1.9 resultCode invalidCredentials


class DirectoryUnavailable(Exception):
    """The directory could not be read; ``reason`` says what failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DirectoryServer(Protocol):
    async def search(self, config: DirectoryConfig, progress: Callable[[int], None] | None = None) -> list[Entry]:
        """Every entry under ``base_dn`` matching ``filter``, with the configured attributes as raw bytes."""
        ...

    async def check_password(self, config: DirectoryConfig, dn: str, password: str) -> bool:
        """True when ``dn`` binds with ``password``; raises `DirectoryUnavailable` when the server cannot say."""
        ...


def _server(config: DirectoryConfig) -> ldap3.Server:
    parts = urlsplit(config.url)
    return ldap3.Server(
        parts.hostname or "",
        port=parts.port or (636 if parts.scheme == "ldaps" else 389),
        use_ssl=parts.scheme == "ldaps",
        get_info=ldap3.NONE,
        connect_timeout=CONNECT_TIMEOUT,
    )


def _connection(config: DirectoryConfig, user: str | None, password: str | None) -> ldap3.Connection:
    return ldap3.Connection(
        _server(config),
        user=user or None,
        password=password or None,
        auto_bind=ldap3.AUTO_BIND_NONE,
        read_only=True,
        receive_timeout=RECEIVE_TIMEOUT,
        raise_exceptions=False,
    )


def _describe(conn: ldap3.Connection) -> str:
    result = conn.result or {}
    return f"{result.get('description', 'error')} ({result.get('result', '?')}): {result.get('message', '')}".strip()


def _close(conn: ldap3.Connection) -> None:
    """Unbind, and close the socket ldap3 leaves open when the connection failed (ldap3 2.9.1)."""
    with contextlib.suppress(LDAPException):
        conn.unbind()
    sock = getattr(conn, "socket", None)
    if sock is not None:
        sock.close()


class Ldap3Server:
    """`DirectoryServer` over ldap3."""

    async def search(self, config: DirectoryConfig, progress: Callable[[int], None] | None = None) -> list[Entry]:
        conn = await asyncio.to_thread(self._bind, config)
        try:
            entries: list[Entry] = []
            cookie: Any = None
            while True:
                page, cookie = await asyncio.to_thread(self._page, conn, config, cookie)
                entries += page
                if progress is not None:
                    progress(len(entries))
                if not cookie:
                    return entries
        finally:
            await asyncio.to_thread(conn.unbind)

    @staticmethod
    def _bind(config: DirectoryConfig) -> ldap3.Connection:
        conn = _connection(config, config.bind_dn, config.password)
        try:
            if not conn.bind():
                reason = _describe(conn)
                conn.unbind()
                raise DirectoryUnavailable(f"bind as {config.bind_dn or 'anonymous'} refused: {reason}")
        except LDAPException as exc:
            _close(conn)
            raise DirectoryUnavailable(f"cannot reach {config.url}: {exc}") from None
        return conn

    @staticmethod
    def _page(conn: ldap3.Connection, config: DirectoryConfig, cookie: Any) -> tuple[list[Entry], Any]:
        attributes = sorted(set(config.attribute_map.values()))
        try:
            conn.search(
                config.base_dn,
                config.filter,
                search_scope=ldap3.SUBTREE,
                attributes=attributes,
                paged_size=PAGE_SIZE,
                paged_cookie=cookie,
            )
        except LDAPException as exc:
            raise DirectoryUnavailable(f"search under {config.base_dn} failed: {exc}") from None
        if conn.result.get("result") not in (0, None):
            raise DirectoryUnavailable(f"search under {config.base_dn} failed: {_describe(conn)}")
        page = [
            Entry(str(e["dn"]), {k: [bytes(v) for v in vs] for k, vs in e.get("raw_attributes", {}).items()})
            for e in conn.response or []
            if e.get("type") == "searchResEntry"
        ]
        controls = conn.result.get("controls") or {}
        cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
        return page, cookie

    async def check_password(self, config: DirectoryConfig, dn: str, password: str) -> bool:
        if not password:  # an empty password is an unauthenticated bind, which succeeds (RFC 4513 §5.1.2)
            return False
        return await asyncio.to_thread(self._bind_as, config, dn, password)

    @staticmethod
    def _bind_as(config: DirectoryConfig, dn: str, password: str) -> bool:
        conn = _connection(config, dn, password)
        try:
            if conn.bind():
                return True
            if conn.result.get("result") == INVALID_CREDENTIALS:
                return False
            raise DirectoryUnavailable(f"bind as {dn} failed: {_describe(conn)}")
        except LDAPException as exc:
            raise DirectoryUnavailable(f"cannot reach {config.url}: {exc}") from None
        finally:
            _close(conn)

"""Where webhooks may go (issue 13 §1, server-side request forgery): pure rules, checked when a URL is given and
again for every address it resolves to at delivery (DNS may change between the two).

Only http and https URLs with a host; no credentials in the URL (they would show in answers and logs). An address
must be globally routable — loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10, the cloud
metadata service), shared (100.64/10), multicast, reserved and unspecified addresses are refused — unless it lies
in one of the provisioned ``[webhooks] allow_private`` networks. An IPv6 address that embeds an IPv4 one
(::ffff:a.b.c.d, 64:ff9b::/96 NAT64, 6to4) is judged by the IPv4 address it reaches.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(ValueError):
    """Why a webhook URL or address may not be used; the message names the problem."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case; an IPv6 literal without its brackets
    port: int
    literal: Address | None  # the address when the host is an IP literal


def parse_url(url: str) -> Target:
    """The scheme, host and port of a webhook URL; raises `UrlRefused` naming what is wrong."""
    if not isinstance(url, str) or not url:
        raise UrlRefused("must be an http or https URL")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UrlRefused("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("must not carry credentials (user:password@)")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("has no host")
    literal: Address | None = None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        if not all(c.isalnum() or c in "-._" for c in host) or host.startswith(".") or ".." in host:
            raise UrlRefused(f"host {host!r} is not a valid host name") from None
    if port == 0:
        raise UrlRefused("port 0 is not a port")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), literal)


def reached(address: Address) -> Address:
    """The address a packet to ``address`` really reaches: the IPv4 one inside a mapped, NAT64 or 6to4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def check_address(address: Address, allowed: Sequence[Network] = ()) -> None:
    """Raise `UrlRefused` unless ``address`` is globally routable or inside one of the ``allowed`` networks."""
    target = reached(address)
    if any(a.version == net.version and a in net for a in (address, target) for net in allowed):
        return
    if not target.is_global or target.is_multicast or target.is_reserved or target.is_unspecified:
        raise UrlRefused(
            f"address {address} is not public (loopback, private, link-local or reserved); "
            "an admin may allow it with [webhooks] allow_private"
        )


def check_url(url: str, allowed: Sequence[Network] = ()) -> Target:
    """`parse_url`, and the address check when the host is an IP literal (names are checked when resolved)."""
    target = parse_url(url)
    if target.literal is not None:
        check_address(target.literal, allowed)
    elif target.host == "localhost" or target.host.endswith(".localhost"):  # RFC 6761: always loopback
        check_address(ipaddress.ip_address("127.0.0.1"), allowed)
    return target


def parse_networks(values: Iterable[object]) -> list[Network]:
    """The ``allow_private`` CIDR list; raises `UrlRefused` naming the first entry that is not a network."""
    networks: list[Network] = []
    for value in values:
        if not isinstance(value, str):
            raise UrlRefused(f'{value!r} is not a CIDR network (a string such as "10.0.0.0/8")')
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise UrlRefused(f"{value!r} is not a CIDR network") from None
    return networks

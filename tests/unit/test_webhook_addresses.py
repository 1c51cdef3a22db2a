"""Where outbound webhooks may go (server-side request forgery): table tests and fuzzing."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.webhook_addresses import UrlRefused, check_address, check_url, parse_networks, parse_url, reached

LOCAL = parse_networks(["127.0.0.0/8"])


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        pytest.param("https://example.com/hook", "example.com", 443, id="https"),
        pytest.param("http://example.com:8080/a?b=c", "example.com", 8080, id="http-port-query"),
        pytest.param("https://EXAMPLE.com", "example.com", 443, id="case"),
        pytest.param("https://93.184.216.34/x", "93.184.216.34", 443, id="public-ipv4"),
        pytest.param("https://[2606:4700::1111]/x", "2606:4700::1111", 443, id="public-ipv6"),
    ],
)
def test_accepted_urls(url: str, host: str, port: int) -> None:
    target = check_url(url)
    assert (target.host, target.port) == (host, port)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("ftp://example.com/", "http or https", id="scheme"),
        pytest.param("file:///etc/passwd", "http or https", id="file"),
        pytest.param("javascript:alert(1)", "http or https", id="javascript"),
        pytest.param("https://", "no host", id="no-host"),
        pytest.param("https://user:pw@example.com/", "credentials", id="credentials"),
        pytest.param("https://exa mple.com/", "spaces", id="space"),
        pytest.param("https://example.com:99999/", "valid URL", id="port-range"),
        pytest.param("https://example.com:0/", "port 0", id="port-zero"),
        pytest.param("http://127.0.0.1/", "not public", id="loopback"),
        pytest.param("http://localhost:8080/", "not public", id="localhost"),
        pytest.param("http://api.localhost/", "not public", id="localhost-subdomain"),
        pytest.param("http://10.1.2.3/", "not public", id="rfc1918-10"),
        pytest.param("http://172.16.0.1/", "not public", id="rfc1918-172"),
        pytest.param("http://192.168.1.1/", "not public", id="rfc1918-192"),
        pytest.param("http://169.254.169.254/latest/meta-data", "not public", id="cloud-metadata"),
        pytest.param("http://100.64.0.1/", "not public", id="shared-cgnat"),
        pytest.param("http://0.0.0.0/", "not public", id="unspecified"),
        pytest.param("http://224.0.0.1/", "not public", id="multicast"),
        pytest.param("http://[::1]/", "not public", id="ipv6-loopback"),
        pytest.param("http://[fe80::1]/", "not public", id="ipv6-link-local"),
        pytest.param("http://[fd00::1]/", "not public", id="ipv6-unique-local"),
        pytest.param("http://[::ffff:127.0.0.1]/", "not public", id="ipv4-mapped-loopback"),
        pytest.param("http://[64:ff9b::a00:1]/", "not public", id="nat64-private"),
        pytest.param("http://[2002:7f00:1::]/", "not public", id="6to4-loopback"),
        pytest.param("https://" + "a" * 2000 + ".com/", "at most", id="too-long"),
    ],
)
def test_refused_urls(url: str, problem: str) -> None:
    with pytest.raises(UrlRefused, match=problem):
        check_url(url)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        pytest.param("127.0.0.1", True, id="allowed-loopback"),
        pytest.param("127.9.9.9", True, id="allowed-network"),
        pytest.param("10.0.0.1", False, id="other-private-still-refused"),
        pytest.param("::1", False, id="ipv6-loopback-not-in-ipv4-list"),
        pytest.param("::ffff:127.0.0.1", True, id="mapped-into-allowed"),
    ],
)
def test_allow_private_opens_only_its_networks(address: str, allowed: bool) -> None:
    ip = ipaddress.ip_address(address)
    if allowed:
        check_address(ip, LOCAL)
    else:
        with pytest.raises(UrlRefused):
            check_address(ip, LOCAL)


@pytest.mark.parametrize(
    "value", [pytest.param("10.0.0.0/33", id="prefix"), pytest.param("nope", id="text"), pytest.param(8, id="int")]
)
def test_bad_allow_list_entries_are_named(value: object) -> None:
    with pytest.raises(UrlRefused, match="CIDR"):
        parse_networks([value])


@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused_with_a_reason(text: str) -> None:
    try:
        target = parse_url(text)
    except UrlRefused as exc:
        assert str(exc)
    else:
        assert target.scheme in ("http", "https") and target.host and 0 < target.port < 65536


@given(st.from_regex(r"https?://[a-z0-9.\-\[\]:@%]{1,40}(:[0-9]{1,6})?(/[ -~]{0,20})?", fullmatch=True))
def test_url_shaped_text_is_parsed_or_refused_with_a_reason(text: str) -> None:
    try:
        check_url(text)
    except UrlRefused as exc:
        assert str(exc)


@given(st.ip_addresses())
def test_an_address_passes_only_when_global_and_what_it_reaches_is_global(ip: ipaddress.IPv4Address) -> None:
    try:
        check_address(ip)
    except UrlRefused:
        return
    reaches = reached(ip)
    assert reaches.is_global and not reaches.is_multicast and not reaches.is_loopback and not reaches.is_private


@pytest.mark.parametrize(
    "address", [pytest.param("::ffff:8.8.8.8", id="mapped-public"), pytest.param("64:ff9b::808:808", id="nat64")]
)
def test_embedded_public_addresses_are_judged_by_what_they_reach(address: str) -> None:
    check_address(ipaddress.ip_address(address))

"""The port helper of the end-to-end tests never hands out one port twice (two servers would collide)."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import free_port


def test_free_port_never_returns_the_same_port_twice_in_one_process() -> None:
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_free_port_stays_below_the_kernels_ephemeral_range_so_bind_0_never_takes_it() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(free_port() < low for _ in range(50))

"""Which transport carries an outbound message (contract: curl, then a GSM gateway, then the carrier)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from parley.core.delivery import NoTransport

Role = Literal["curl", "gsm", "carrier"]
ROLES: tuple[Role, ...] = ("curl", "gsm", "carrier")


@dataclass(frozen=True)
class TransportInfo:
    name: str
    role: Role
    gateway_id: str | None = None
    up: bool = True
    carries_mms: bool = False


def choose_transport(
    transports: Sequence[TransportInfo],
    *,
    gsm: str | None = None,
    spread: int = 0,
    carrier: str | None = None,
    mms: bool = False,
) -> TransportInfo:
    """Pick the transport for one message.

    ``gsm`` names one GSM gateway and overrides the curl server. ``carrier`` is the transport the company
    number is bought from (`[[numbers]] carrier =`): only it can send from that number, up or not. Without
    either the curl server wins if there is one, else a GSM gateway (``spread``, e.g. a hash of the message
    id, spreads messages over the gateways that are up), else the carrier. An MMS (``mms``) goes only
    through a transport that carries MMS.
    """
    if gsm is not None:
        for transport in transports:
            if transport.role == "gsm" and transport.gateway_id == gsm:
                return _mms_capable(transport, mms)
        raise NoTransport(f'no GSM gateway with id "{gsm}"')
    if carrier is not None:
        for transport in transports:
            if transport.name == carrier:
                return _mms_capable(transport, mms)
        raise NoTransport(f'the number\'s carrier "{carrier}" is not running (see Admin → Transports)')
    usable = [t for t in transports if t.carries_mms] if mms else list(transports)
    for role in ROLES:
        candidates = [t for t in usable if t.role == role]
        if not candidates:
            continue
        live = [t for t in candidates if t.up] or candidates
        return live[spread % len(live)]
    if mms and transports:
        raise NoTransport("no transport that carries MMS is configured (Twilio or Telnyx)")
    raise NoTransport("no transport is configured: add a curl server, a GSM gateway or a carrier")


def _mms_capable(transport: TransportInfo, mms: bool) -> TransportInfo:
    if mms and not transport.carries_mms:
        raise NoTransport(f'the transport "{transport.name}" does not carry MMS')
    return transport


def normalise_gateway_id(value: str) -> str:
    """GSM gateway ids are MAC addresses; accept ``9C:75:14:33:00:01`` for ``9c7514330001``."""
    return value.strip().lower().replace(":", "").replace("-", "")

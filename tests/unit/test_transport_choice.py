"""Which transport carries a message: the number's carrier first, MMS only through a transport that carries it."""

from __future__ import annotations

import pytest

from parley.core.delivery import NoTransport
from parley.core.routing import TransportInfo, choose_transport

CURL = TransportInfo("curl", "curl")
GSM = TransportInfo("gw1", "gsm", "9c7514330001")
SMPP = TransportInfo("smpp", "carrier")
TWILIO = TransportInfo("twilio", "carrier", carries_mms=True)
TELNYX = TransportInfo("telnyx", "carrier", carries_mms=True, up=False)
ALL = [CURL, GSM, SMPP, TWILIO, TELNYX]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, "curl", id="sms-follows-curl-gsm-carrier"),
        pytest.param({"carrier": "twilio"}, "twilio", id="the-numbers-carrier-wins-over-curl"),
        pytest.param({"carrier": "telnyx"}, "telnyx", id="the-numbers-carrier-even-when-down"),
        pytest.param({"carrier": "twilio", "gsm": "9c7514330001"}, "gw1", id="gsm-named-by-the-sender-wins"),
        pytest.param({"mms": True}, "twilio", id="mms-skips-transports-without-mms"),
        pytest.param({"mms": True, "carrier": "telnyx"}, "telnyx", id="mms-through-the-numbers-carrier"),
    ],
)
def test_the_transport_chosen(kwargs: dict[str, object], expected: str) -> None:
    assert choose_transport(ALL, **kwargs).name == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("transports", "kwargs", "reason"),
    [
        pytest.param(ALL, {"carrier": "gone"}, 'carrier "gone" is not running', id="unknown-carrier"),
        pytest.param(ALL, {"carrier": "smpp", "mms": True}, '"smpp" does not carry MMS', id="carrier-without-mms"),
        pytest.param([CURL, SMPP], {"mms": True}, "no transport that carries MMS", id="no-mms-transport"),
        pytest.param([], {}, "no transport is configured", id="nothing"),
    ],
)
def test_no_transport_names_the_reason(transports: list[TransportInfo], kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(NoTransport, match=reason):
        choose_transport(transports, **kwargs)  # type: ignore[arg-type]

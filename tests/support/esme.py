"""An application (ESME) on the real `smpplib` client, for tests of Parley's SMPP server.

smpplib is synchronous: the client reads in a thread of its own and records what arrives; tests wait on
those records with `wait_for` (a condition, not a sleep).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.exceptions


@dataclass
class Received:
    """What the ESME got: submit_sm_resp (message_id or error status, by sequence) and deliver_sm."""

    resps: dict[int, tuple[int, str]] = field(default_factory=dict)  # seq -> (command_status, message_id)
    delivers: list[Any] = field(default_factory=list)


class Esme:
    def __init__(self, port: int, *, answer: int = 0) -> None:
        self.client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
        self.got = Received()
        self._answer = answer  # the deliver_sm_resp status this ESME gives
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.client.set_message_sent_handler(self._sent)
        self.client.set_message_received_handler(self._received)
        self.client.set_error_pdu_handler(self._sent)

    def _sent(self, pdu: Any) -> None:
        message_id = pdu.message_id.decode() if isinstance(getattr(pdu, "message_id", None), bytes) else ""
        with self._lock:
            self.got.resps[pdu.sequence] = (int(pdu.status), message_id)

    def _received(self, pdu: Any) -> int:
        with self._lock:
            self.got.delivers.append(pdu)
        return self._answer

    def bind(self, kind: str = "transceiver", system_id: str = "crm", password: str = "s3cret") -> None:
        """Connect and bind; raises smpplib's PDUError (status in ``args[1]``) when refused."""
        self.client.connect()
        getattr(self.client, f"bind_{kind}")(system_id=system_id, password=password)
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        with contextlib.suppress(smpplib.exceptions.ConnectionError, OSError, AttributeError):
            self.client.listen()

    def submit(self, **kwargs: Any) -> int:
        """Send one submit_sm; returns its sequence number."""
        defaults = {"source_addr_ton": 1, "source_addr_npi": 1, "dest_addr_ton": 1, "dest_addr_npi": 1}
        return int(self.client.send_message(**{**defaults, **kwargs}).sequence)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.unbind()
        with contextlib.suppress(Exception):
            self.client.disconnect()


async def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
    return result


STATUS = smpplib.consts

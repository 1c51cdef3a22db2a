"""``[[smpp_accounts]]`` of the provisioning file: applications (ESMEs) that bind to Parley's SMPP server. Pure.

Each account binds with ``system_id`` and ``password`` and sends as ``user`` (his license, quota, sender rules
and charges); ``throughput`` is how many submit_sm per second it may send before ESME_RTHROTTLED.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.core.entry_reader import EntryReader

MAX_SYSTEM_ID = 15  # SMPP 3.4 §5.2.1: system_id is a C-Octet String of at most 16 octets, NUL included
MAX_PASSWORD = 8  # §5.2.2: password, at most 9 octets with the NUL
DEFAULT_THROUGHPUT = 50


@dataclass(frozen=True)
class SmppAccountSpec:
    system_id: str
    password: str
    user: str  # the extension it sends as
    throughput: int


def _printable(value: str) -> bool:
    return value.isascii() and value.isprintable()


def read_smpp_account(r: EntryReader, extensions: set[str]) -> SmppAccountSpec:
    """One ``[[smpp_accounts]]`` entry; ``extensions`` are the users of the same file."""
    system_id = r.str_("system_id", required=True) or ""
    if len(system_id) > MAX_SYSTEM_ID:
        r.problem("system_id", f"must be at most {MAX_SYSTEM_ID} characters (SMPP 3.4)")
    elif system_id and not _printable(system_id):
        r.problem("system_id", "must be printable ASCII")
    password = r.str_("password", required=True) or ""
    if len(password) > MAX_PASSWORD:
        r.problem("password", f"must be at most {MAX_PASSWORD} characters (SMPP 3.4)")
    elif password and not _printable(password):
        r.problem("password", "must be printable ASCII")
    user = r.str_("user", required=True) or ""
    if user and user not in extensions:
        r.problem("user", f'"{user}" is not a user in this file')
    throughput = r.int_("throughput", DEFAULT_THROUGHPUT, minimum=1)
    return SmppAccountSpec(system_id=system_id, password=password, user=user, throughput=throughput)

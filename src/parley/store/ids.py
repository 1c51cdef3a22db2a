"""Message ids: 20 hex characters, sortable by creation time, unique across processes and hosts."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    # 48-bit millisecond timestamp (sortable until the year 10889) + 32 random bits.
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(4)}"

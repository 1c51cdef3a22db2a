"""Secrets Parley must be able to read back (an API key's secret, to sign the webhooks and Twilio-style
callbacks of its sends), sealed with the installation's key: AES-256-GCM, the row's id as associated data so
that a sealed value cannot be moved to another row.

The installation's key is derived (HKDF-SHA256) from ``PARLEY_SECRET`` when it is set. Without it, a random
key is stored once in the `settings` table: that only keeps the secrets out of a leak of their own table
(a dump of ``api_keys`` alone, a log of its rows), not out of a copy of the whole database — set
``PARLEY_SECRET`` (and keep it out of the database's backups) for that. A value sealed under another key (the
secret changed) cannot be opened: `open` answers None and the caller does without (docs/architecture.md).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parley.store import media as settings_store
from parley.store.db import Database

STORED_KEY = "secret_box.key"  # the `settings` row holding the key when PARLEY_SECRET is empty
VERSION = "v1"
NONCE_BYTES = 12


def derive_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"parley secret box v1").derive(
        secret.encode("utf-8")
    )


class SecretBox:
    def __init__(self, db: Database, secret: str = "") -> None:
        self._db = db
        self._key: bytes | None = derive_key(secret) if secret else None

    async def _aead(self) -> AESGCM:
        if self._key is None:
            async with self._db.write() as conn:
                stored = await settings_store.signing_key(conn, STORED_KEY, secrets.token_hex(32))
            self._key = derive_key(stored)
        return AESGCM(self._key)

    async def seal(self, plaintext: str, row_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = (await self._aead()).encrypt(nonce, plaintext.encode("utf-8"), row_id.encode("utf-8"))
        return f"{VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    async def open(self, sealed: str | None, row_id: str) -> str | None:
        """The plaintext, or None when there is none or it was sealed under another key or for another row."""
        if not sealed or not sealed.startswith(VERSION + ":"):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed[len(VERSION) + 1 :])
            plain = (await self._aead()).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], row_id.encode("utf-8"))
        except (InvalidTag, binascii.Error, ValueError):
            return None
        return plain.decode("utf-8")

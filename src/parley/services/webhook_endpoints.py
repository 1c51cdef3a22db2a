"""Managing outbound webhook endpoints and their deliveries (issue 13 §1); the signing secrets the sender needs.

An admin's endpoint may receive every event; a user's only the events he may see (his own messages, the
conversations he is in, his campaigns: `core.webhook_events.may_see`). The secret is shown once, in the answer to
the creation; it is kept sealed (`services.secret_box`) to sign each attempt.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from parley.core import webhook_addresses as addresses
from parley.core import webhook_events as ev
from parley.services.api_keys import ApiKeys
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.services.secret_box import SecretBox
from parley.services.webhook_outbox import EndpointCache
from parley.store import webhooks as store
from parley.store.db import Database

SECRET_PREFIX = "whsec_"
MAX_ENDPOINTS_PER_USER = 20
MAX_DESCRIPTION = 200


def _new_id() -> str:
    return "whe_" + secrets.token_hex(10)


class WebhookEndpoints:
    def __init__(
        self,
        db: Database,
        cache: DirectoryCache,
        box: SecretBox,
        keys: ApiKeys,
        clock: Callable[[], datetime],
        endpoints: EndpointCache,
    ) -> None:
        self._db = db
        self._cache = cache
        self._box = box
        self._keys = keys
        self._clock = clock
        self._endpoints = endpoints
        self._secrets: dict[str, tuple[str, str]] = {}  # endpoint id -> (sealed, opened)
        self._networks: tuple[object, list[addresses.Network]] | None = None  # the setting's value, parsed

    # --- the rules of a URL -------------------------------------------------------------------------------------

    async def allowed_networks(self) -> list[addresses.Network]:
        """The ``[webhooks] allow_private`` networks: the same list (object) for as long as the setting is the same
        (every attempt asks: `services.webhook_post` keeps what it checked against it)."""
        value = (await self._cache.config()).settings.get("webhooks") or {}
        raw = list(value.get("allow_private") or [])
        if self._networks is None or self._networks[0] != raw:
            try:
                self._networks = (raw, addresses.parse_networks(raw))
            except addresses.UrlRefused:  # checked by `parley apply`; a bad stored value allows nothing more
                self._networks = (raw, [])
        return self._networks[1]

    async def check_url(self, url: object, field: str) -> str:
        """``url`` when webhooks may go there; else a 422 naming ``field`` and the problem."""
        if not isinstance(url, str):
            raise ServiceError(422, "must be an http or https URL", field)
        try:
            addresses.check_url(url, await self.allowed_networks())
        except addresses.UrlRefused as exc:
            raise ServiceError(422, str(exc), field) from None
        return url

    # --- endpoints ----------------------------------------------------------------------------------------------

    async def create(self, user: User, url: object, events: object, description: object = "") -> dict[str, Any]:
        url = await self.check_url(url, "url")
        kinds = _events(events)
        text = _description(description)
        now = self._clock()
        endpoint_id = _new_id()
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        sealed = await self._box.seal(secret, endpoint_id)
        async with self._db.write() as conn:
            if len(await store.list_endpoints(conn, user.id)) >= MAX_ENDPOINTS_PER_USER:
                raise ServiceError(422, f"at most {MAX_ENDPOINTS_PER_USER} endpoints per user", "url")
            await store.add_endpoint(conn, {"id": endpoint_id, "owner_id": user.id, "url": url, "events": kinds,
                                            "description": text, "secret_sealed": sealed, "enabled": True,
                                            "created_at": now, "updated_at": now})  # fmt: skip
            row = await store.find_endpoint(conn, endpoint_id)
        self._endpoints.invalidate()
        return {**_view(row), "secret": secret}

    async def list_(self, user: User) -> list[dict[str, Any]]:
        async with self._db.read() as conn:
            rows = await store.list_endpoints(conn, None if user.is_admin else user.id)
        return [_view(r) for r in rows]

    async def get(self, user: User, endpoint_id: str) -> dict[str, Any]:
        async with self._db.read() as conn:
            return _view(await self._visible(conn, user, endpoint_id))

    async def update(self, user: User, endpoint_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change ``url``, ``events``, ``description`` or ``enabled`` (enabling a disabled endpoint clears why)."""
        values: dict[str, Any] = {}
        if "url" in changes:
            values["url"] = await self.check_url(changes["url"], "url")
        if "events" in changes:
            values["events"] = _events(changes["events"])
        if "description" in changes:
            values["description"] = _description(changes["description"])
        if "enabled" in changes:
            if not isinstance(changes["enabled"], bool):
                raise ServiceError(422, "must be true or false", "enabled")
            values["enabled"] = changes["enabled"]
            if changes["enabled"]:
                values |= {"disabled_reason": None, "failing_since": None}
        async with self._db.write() as conn:
            await self._visible(conn, user, endpoint_id)
            if values:
                await store.update_endpoint(conn, endpoint_id, values | {"updated_at": self._clock()})
            row = await store.find_endpoint(conn, endpoint_id)
        self._endpoints.invalidate()
        return _view(row)

    async def delete(self, user: User, endpoint_id: str) -> None:
        async with self._db.write() as conn:
            await self._visible(conn, user, endpoint_id)
            await store.delete_endpoint(conn, endpoint_id)
        self._endpoints.invalidate()
        self._secrets.pop(endpoint_id, None)

    async def disabled(self, user: User) -> list[dict[str, Any]]:
        """Endpoints Parley disabled for failing, that ``user`` may see (the console tells admins)."""
        return [e for e in await self.list_(user) if not e["enabled"] and e["disabled_reason"]]

    # --- deliveries ---------------------------------------------------------------------------------------------

    async def deliveries(
        self, user: User, endpoint_id: str, *, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The endpoint's deliveries, newest first, each with its attempts and the receiver's answers."""
        async with self._db.read() as conn:
            await self._visible(conn, user, endpoint_id)
            rows = await store.list_deliveries(conn, endpoint_id, limit=limit, before=before)
            attempts = await store.attempts_of(conn, rows)
        return [_delivery(r, attempts.get(r.id, [])) for r in rows]

    async def resend(self, user: User, endpoint_id: str, delivery_id: int) -> dict[str, Any]:
        """Send a delivery again now: the same event id and body, signed anew."""
        async with self._db.write() as conn:
            await self._visible(conn, user, endpoint_id)
            found = await store.find_delivery(conn, delivery_id)
            if found is None or found.endpoint_id != endpoint_id:
                raise ServiceError(404, "No such delivery")
            await store.resend(conn, delivery_id, self._clock())
            row = await store.find_delivery(conn, delivery_id)
            attempts = await store.attempts_of(conn, [row])
        return _delivery(row, attempts.get(delivery_id, []))

    async def _visible(self, conn: Any, user: User, endpoint_id: str) -> Any:
        row = await store.find_endpoint(conn, endpoint_id)
        if row is None or (not user.is_admin and row.owner_id != user.id):
            raise ServiceError(404, "No such webhook endpoint")
        return row

    # --- secrets for the sender (`services.webhook_sender.Secrets`) ----------------------------------------------

    async def endpoint_secret(self, endpoint_id: str, sealed: str) -> str | None:
        kept = self._secrets.get(endpoint_id)
        if kept is not None and kept[0] == sealed:
            return kept[1]
        opened = await self._box.open(sealed, endpoint_id)
        if opened is not None:
            self._secrets[endpoint_id] = (sealed, opened)
        return opened

    async def key_secret(self, key_id: str) -> str | None:
        return await self._keys.signing_secret(key_id)

    async def account_sid(self) -> str:
        return await self._keys.account_sid()


def _events(events: object) -> list[str]:
    try:
        return ev.check_events(events)
    except ValueError as exc:
        raise ServiceError(422, str(exc), "events") from None


def _description(description: object) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise ServiceError(422, f"must be text of at most {MAX_DESCRIPTION} characters", "description")
    return description


def _view(row: Any) -> dict[str, Any]:
    """An endpoint as the API and the console show it (never its secret)."""
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "owner": row.owner,
        "enabled": bool(row.enabled),
        "disabled_reason": row.disabled_reason,
        "failing_since": row.failing_since,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _delivery(row: Any, attempts: Sequence[store.Attempt]) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.event_type,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": row.created_at,
        "next_attempt_at": row.due_at if row.state == store.PENDING else None,
        "delivered_at": row.delivered_at,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "body": row.body,
        "answers": [
            {"at": a.at, "status": a.status, "error": a.error, "answer": a.answer, "duration_ms": a.duration_ms}
            for a in attempts
        ],
    }

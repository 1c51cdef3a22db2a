"""WhatsApp message templates (issue 12 §5): kept in step with Meta, listed, created, and checked before a send.

Templates belong to a WhatsApp Business Account (WABA); a company number on WhatsApp sends those of its
transport's account (`Config.whatsapp`). A sync asks Meta through a channel built from a whatsapp transport of that
account — built here for the call, so that API-only processes (which run no channels) can sync too — and replaces
the account's rows. A failed sync keeps the last good list. Workers sync at start and every `SYNC_EVERY`;
several processes doing so is harmless (the rows are upserted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from parley.core.delivery import DeliveryError, Rejected
from parley.core.whatsapp_rules import TemplateSpec, TemplateSpecError
from parley.core.whatsapp_templates import TemplateRow, check, from_listing, new_template, render, with_counts
from parley.services.directory import DirectoryCache, User
from parley.services.errors import ServiceError
from parley.store import directory
from parley.store import whatsapp_templates as store
from parley.store.db import Database

log = structlog.get_logger()

SYNC_EVERY = timedelta(minutes=15)


class TemplateApi(Protocol):
    """What this needs of a WhatsApp channel (`parley.channels.whatsapp.WhatsAppChannel`)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def list_templates(self) -> list[dict[str, Any]]: ...
    async def create_template(
        self, name: str, language: str, category: str, components: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]: ...


ChannelFactory = Callable[[Any], Any]  # a transports row -> its channel (bootstrap's `make_channel`)


class TemplateRefused(ServiceError):
    """A template that cannot be sent as asked (422, field ``template``); ``part`` is the exact field at fault."""

    def __init__(self, reason: str, part: str = "template") -> None:
        super().__init__(422, reason, "template")
        self.part = part


@dataclass(frozen=True)
class ResolvedTemplate:
    """An approved template filled as asked: its account and the text the customer will see."""

    waba_id: str
    text: str
    category: str = ""


@dataclass(frozen=True)
class SyncResult:
    waba_id: str
    templates: int = 0
    removed: int = 0
    error: str | None = None

    def as_doc(self) -> dict[str, Any]:
        return {"waba_id": self.waba_id, "templates": self.templates, "removed": self.removed, "error": self.error}


def view(row: TemplateRow) -> dict[str, Any]:
    """A template as the API and the console show it (placeholders left as ``{{1}}`` in ``text``)."""
    return {
        "waba_id": row.waba_id,
        "name": row.name,
        "language": row.language,
        "category": row.category,
        "status": row.status,
        "reason": row.reason,
        "components": [dict(c) for c in row.components],
        "text": render(row.components),
        "synced_at": row.synced_at.isoformat() if row.synced_at else None,
    }


class WhatsAppTemplates:
    def __init__(
        self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime], factory: ChannelFactory
    ) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._factory = factory

    # --- syncing ---------------------------------------------------------------------------------------------------

    async def _transports(self, waba_id: str | None = None) -> list[Any]:
        async with self._db.read() as conn:
            rows = await directory.list_transports(conn)
        return [
            r
            for r in rows
            if r.kind == "whatsapp"
            and isinstance(r.config, dict)
            and r.config.get("waba_id")
            and (waba_id is None or str(r.config["waba_id"]) == waba_id)
        ]

    async def _channel(self, row: Any) -> TemplateApi:
        channel: TemplateApi = self._factory(row)
        await channel.start()
        return channel

    async def sync(self, waba_id: str) -> SyncResult:
        """Replace the account's templates with Meta's list, through each of its transports until one answers.
        Never raises: a failure is logged and returned, and the last good list stays."""
        problems: list[str] = []
        for row in await self._transports(waba_id):
            try:
                channel = await self._channel(row)
                try:
                    listed = await channel.list_templates()
                finally:
                    await channel.stop()
            except Exception as exc:  # one transport failing must not stop the sync (nor the worker)
                reason = exc.reason if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
                problems.append(f"{row.name}: {reason}")
                continue
            now = self._clock()
            found = [t for t in (from_listing(waba_id, x, now) for x in listed) if t is not None]
            try:
                async with self._db.write() as conn:
                    stored, removed = await store.replace(conn, waba_id, found)
            except Exception as exc:  # the database away: the last list stays, the next sync tries again
                problems.append(f"storing the list: {type(exc).__name__}: {exc}")
                break
            log.info("whatsapp.templates_synced", waba_id=waba_id, transport=row.name, templates=stored,
                     removed=removed)  # fmt: skip
            return SyncResult(waba_id, stored, removed)
        error = "; ".join(problems) or "no whatsapp transport of this account"
        log.warning("whatsapp.templates_sync_failed", waba_id=waba_id, error=error)
        return SyncResult(waba_id, error=error)

    async def sync_all(self) -> list[SyncResult]:
        """Sync every account a whatsapp transport names (the periodic job). Never raises."""
        try:
            accounts = sorted({str(r.config["waba_id"]) for r in await self._transports()})
        except Exception as exc:  # the database away: try again next time
            log.warning("whatsapp.templates_sync_failed", error=f"{type(exc).__name__}: {exc}")
            return []
        return [await self.sync(waba_id) for waba_id in accounts]

    async def sync_for(self, user: User, number: str | None = None) -> list[SyncResult]:
        """An admin's "sync now": one number's account, or every account."""
        _require_admin(user)
        if number is None:
            return await self.sync_all()
        return [await self.sync(await self._waba(number, "number"))]

    # --- reading ---------------------------------------------------------------------------------------------------

    async def _waba(self, number: str, field: str) -> str:
        found = (await self._cache.config()).whatsapp.get(number.strip())
        if found is None or not found.waba_id:
            raise ServiceError(422, f"{number} is not a company number on WhatsApp", field)
        return found.waba_id

    async def numbers(self) -> list[str]:
        """The company numbers on WhatsApp (whose accounts have templates)."""
        return sorted(n for n, w in (await self._cache.config()).whatsapp.items() if w.waba_id)

    async def list_(self, user: User, number: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """The synced templates of one number's account or, without a number, of every account the company
        numbers use (admins: every account synced); ``status`` keeps one status (approved, pending, …)."""
        if not (user.is_admin or user.license.may_converse):
            raise ServiceError(403, "Your license does not include conversations")
        accounts: list[str] | None = None
        if number is not None:
            accounts = [await self._waba(number, "number")]
        elif not user.is_admin:
            accounts = sorted({w.waba_id for w in (await self._cache.config()).whatsapp.values() if w.waba_id})
        async with self._db.read() as conn:
            rows = await store.list_(conn, accounts, status=status.strip().lower() if status else None)
        return [view(r) for r in rows]

    # --- creating --------------------------------------------------------------------------------------------------

    async def create(
        self,
        user: User,
        number: str,
        name: str,
        language: str,
        category: str,
        body: str,
        header_text: str | None = None,
        footer: str | None = None,
        examples: Sequence[str] | str | None = None,
    ) -> dict[str, Any]:
        """Submit a new template for Meta's review and keep it as pending; returns its view."""
        _require_admin(user)
        waba_id = await self._waba(number, "number")
        doc = {"name": name, "language": language, "category": category, "body": body,
               "header_text": header_text, "footer": footer, "examples": examples}  # fmt: skip
        try:
            new = new_template(doc)
        except TemplateSpecError as exc:
            raise ServiceError(422, exc.reason, exc.field) from None
        async with self._db.read() as conn:
            if await store.find(conn, waba_id, new.name, new.language) is not None:
                raise ServiceError(409, f'"{new.name}" ({new.language}) exists already', "name")
        transports = await self._transports(waba_id)
        if not transports:
            raise ServiceError(422, f"{number} has no whatsapp transport", "number")
        components = new.components()
        try:
            channel = await self._channel(transports[0])
            try:
                answer = await channel.create_template(new.name, new.language, new.category, components)
            finally:
                await channel.stop()
        except Rejected as exc:
            raise ServiceError(422, f"WhatsApp refused the template: {exc.reason}") from None
        except DeliveryError as exc:
            raise ServiceError(502, f"WhatsApp could not take the template now: {exc.reason}") from None
        meta_id = answer.get("id")
        row = TemplateRow(
            waba_id=waba_id,
            name=new.name,
            language=new.language,
            category=str(answer.get("category") or new.category).lower()[:32],
            status=str(answer.get("status") or "pending").lower()[:16],
            components=with_counts(components),
            meta_id=str(meta_id)[:64] if isinstance(meta_id, str | int) else None,
            synced_at=self._clock(),
        )
        async with self._db.write() as conn:
            await store.upsert(conn, [row])
        log.info("whatsapp.template_created", waba_id=waba_id, name=new.name, language=new.language, by=user.extension)
        return view(row)

    # --- sending ---------------------------------------------------------------------------------------------------

    async def resolve(self, company_number: str, spec: TemplateSpec) -> ResolvedTemplate:
        """What a send of ``spec`` from ``company_number`` shows, checked against the last sync before Meta is
        asked; raises `TemplateRefused` (422, field ``template``) when the number is not on WhatsApp, the template
        is unknown or not approved, or the variables or header media do not fit it."""
        found = (await self._cache.config()).whatsapp.get(company_number)
        if found is None or not found.waba_id:
            raise TemplateRefused(f"{company_number} is not a company number on WhatsApp")
        async with self._db.read() as conn:
            row = await store.find(conn, found.waba_id, spec.name, spec.language)
        if row is None:
            raise TemplateRefused(
                f'"{spec.name}" ({spec.language}) is not a template of this WhatsApp account at the last sync',
                "template.name",
            )
        try:
            check(row, spec)
        except TemplateSpecError as exc:
            raise TemplateRefused(f"{exc.field}: {exc.reason}", exc.field) from None
        return ResolvedTemplate(found.waba_id, render(row.components, spec.variables), row.category)

    async def preview(self, user: User, number: str, doc: object) -> str:
        """The text a template send would show (the console's preview); 422 as `resolve` when it cannot go."""
        if not (user.is_admin or user.license.may_converse):
            raise ServiceError(403, "Your license does not include conversations")
        if not isinstance(doc, Mapping):
            raise TemplateRefused("template: must be an object with name, language and variables")
        try:
            spec = TemplateSpec.from_doc(doc)
        except TemplateSpecError as exc:
            raise TemplateRefused(f"{exc.field}: {exc.reason}", exc.field) from None
        return (await self.resolve(number.strip(), spec)).text


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise ServiceError(403, "Administrators only")

"""Administration use cases for the console: users, services, bots, company numbers, Mail2SMS and prices.

Every form is checked by provisioning's own entry checks (`admin_checks.check_entry`), so the console accepts
exactly what `parley apply` accepts; every change ends with `DirectoryCache.invalidate`. Transports live in
`admin_transports` (``Admin.transports``) because they also start channels and send test messages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from parley.core.actions import AddMembers, BotMessage
from parley.core.mail_senders import pattern_problem, read_patterns
from parley.core.number_config import config_from_doc
from parley.core.provisioning_entries import Names, read_bot, read_number, read_price, read_service, read_user
from parley.core.toll_free import TollFree
from parley.services import conversation_support as support
from parley.services.admin_checks import AdminError, Page, bounds, check_entry, form_entry, require_admin
from parley.services.admin_transports import TransportAdmin
from parley.services.directory import DirectoryCache, User
from parley.services.passwords import hash_password, verify_password
from parley.services.transports import Transports
from parley.store import admin as store
from parley.store import directory
from parley.store.db import Database
from parley.store.tables import bots, numbers, prices, services, users

KEEP_PASSWORD = "\0unchanged"  # stands in for a blank "new password" so provisioning's check passes


class Admin:
    def __init__(
        self, db: Database, cache: DirectoryCache, clock: Callable[[], datetime], transports: Transports
    ) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self.transports = TransportAdmin(db, cache, clock, transports)

    async def _region(self) -> str:
        return (await self._cache.config()).country

    # -- users ---------------------------------------------------------------------------------------------------

    async def users(self, actor: User, offset: int = 0, limit: int = 50) -> Page:
        require_admin(actor)
        offset, limit = bounds(offset, limit)
        async with self._db.read() as conn:
            rows, total = await store.page(conn, users, "extension", offset=offset, limit=limit)
        return Page([_user_view(r) for r in rows], total, offset, limit)

    async def user(self, actor: User, extension: str) -> dict[str, Any]:
        require_admin(actor)
        async with self._db.read() as conn:
            row = await store.find(conn, users, "extension", extension)
        if row is None:
            raise AdminError.on(None, f"There is no user {extension}", 404)
        return _user_view(row)

    async def save_user(self, actor: User, form: dict[str, str], extension: str | None = None) -> str:
        """Create a user (``extension`` None) or update one; a blank password keeps the current one."""
        require_admin(actor)
        if extension is not None:
            form = {**form, "extension": extension, "password": form.get("password") or KEEP_PASSWORD}
        u = check_entry(read_user, form_entry(form, numbers=("sms_package",)), await self._region())
        async with self._db.write() as conn:
            existing = await store.find(conn, users, "extension", u.extension)
            if extension is None and existing is not None:
                raise AdminError.on("extension", f"{u.extension} is already a user")
            if extension is not None and existing is None:
                raise AdminError.on(None, f"There is no user {extension}", 404)
            if existing is not None and existing.id == actor.id and u.role != "admin":
                raise AdminError.on("role", "You cannot take away your own admin role")
            keep = existing is not None and (
                u.password == KEEP_PASSWORD or verify_password(existing.password_hash, u.password)
            )
            row = {
                "extension": u.extension,
                "name": u.name,
                "password_hash": existing.password_hash if keep and existing else hash_password(u.password),
                "license": u.license.label,
                "office_number": u.office_number,
                "email": u.email,
                "role": u.role,
                "sms_package": u.sms_package,
                "updated_at": self._clock(),
            }
            await directory.upsert(conn, users, "extension", row)
        self._cache.invalidate()
        return u.extension

    async def delete_user(self, actor: User, extension: str) -> None:
        require_admin(actor)
        if extension == actor.extension:
            raise AdminError.on(None, "You cannot delete yourself", 409)
        async with self._db.write() as conn:
            users_of = [where for where, config in await store.configs(conn) if _names_agent(config, extension)]
            if users_of:
                raise AdminError.on(None, f"{extension} is still named by {', '.join(users_of)}", 409)
            if not await store.delete(conn, users, "extension", extension):
                raise AdminError.on(None, f"There is no user {extension}", 404)
        self._cache.invalidate()

    # -- services ------------------------------------------------------------------------------------------------

    async def services(self, actor: User, offset: int = 0, limit: int = 50) -> Page:
        require_admin(actor)
        offset, limit = bounds(offset, limit)
        async with self._db.read() as conn:
            rows, total = await store.page(conn, services, "name", offset=offset, limit=limit)
            members = await store.members_of(conn, [r.id for r in rows])
        return Page([_service_view(r, members[r.id]) for r in rows], total, offset, limit)

    async def service(self, actor: User, name: str) -> dict[str, Any]:
        require_admin(actor)
        async with self._db.read() as conn:
            row = await store.find(conn, services, "name", name)
            if row is None:
                raise AdminError.on(None, f"There is no service {name}", 404)
            return _service_view(row, (await store.members_of(conn, [row.id]))[row.id])

    async def save_service(self, actor: User, form: dict[str, str], name: str | None = None) -> str:
        """Create a service (``name`` None) or update one (it may be renamed); members are extensions."""
        require_admin(actor)
        region = await self._region()
        async with self._db.write() as conn:
            known = await store.extensions(conn)
            names = Names(set(known), set(), set())
            entry = form_entry(form, lists=("static_members", "dynamic_members"))
            s = check_entry(read_service, entry, region, set(known), names)
            existing = await store.find(conn, services, "name", name) if name is not None else None
            if name is not None and existing is None:
                raise AdminError.on(None, f"There is no service {name}", 404)
            clash = await store.find(conn, services, "name", s.name)
            if clash is not None and (existing is None or clash.id != existing.id):
                raise AdminError.on("name", f'"{s.name}" is already a service')
            row = {"name": s.name, "sms_number": s.sms_number}
            if existing is None:
                _, service_id = await directory.upsert(conn, services, "name", row)
            else:
                await store.update(conn, services, "id", existing.id, row)
                service_id = existing.id
            members = {known[e]: "dynamic" for e in s.dynamic_members}
            members.update({known[e]: "static" for e in s.static_members})
            await directory.replace_members(conn, int(service_id), members)
        self._cache.invalidate()
        return s.name

    async def delete_service(self, actor: User, name: str) -> None:
        require_admin(actor)
        async with self._db.write() as conn:
            if not await store.delete(conn, services, "name", name):
                raise AdminError.on(None, f"There is no service {name}", 404)
        self._cache.invalidate()

    # -- bots ----------------------------------------------------------------------------------------------------

    async def bots(self, actor: User) -> list[dict[str, Any]]:
        """Every bot (a handful per PBX: they are what routing and actions pick from)."""
        require_admin(actor)
        async with self._db.read() as conn:
            rows, _ = await store.page(conn, bots, "name", offset=0, limit=1000)
        return [{"name": r.name, "message": r.message, **_template_fields(r.whatsapp_template)} for r in rows]

    async def save_bot(self, actor: User, form: dict[str, str], name: str | None = None) -> str:
        """Create a bot or change its message and WhatsApp template (a bot keeps its name: routing and actions
        refer to it). The form's ``template_name``, ``template_language`` and ``template_variables`` (one per line)
        are the `[[bots]] whatsapp_template` of provisioning; no name, no template."""
        require_admin(actor)
        if name is not None:
            form = {**form, "name": name}
        entry = form_entry({k: v for k, v in form.items() if not k.startswith("template_")})
        if form.get("template_name", "").strip():
            lines = form.get("template_variables", "").splitlines()
            entry["whatsapp_template"] = {"name": form["template_name"].strip(),
                                          "language": form.get("template_language", "").strip() or "en_US",
                                          "variables": [v.strip() for v in lines if v.strip()]}  # fmt: skip
        try:
            b = check_entry(read_bot, entry)
        except AdminError as exc:
            raise AdminError(exc.status, [(_template_field(f), m) for f, m in exc.all]) from None
        async with self._db.write() as conn:
            existing = await store.find(conn, bots, "name", b.name)
            if name is None and existing is not None:
                raise AdminError.on("name", f'"{b.name}" is already a bot')
            row = {"name": b.name, "message": b.message, "whatsapp_template": b.whatsapp_template}
            await directory.upsert(conn, bots, "name", row)
        self._cache.invalidate()
        return b.name

    async def delete_bot(self, actor: User, name: str) -> None:
        require_admin(actor)
        async with self._db.write() as conn:
            users_of = [where for where, config in await store.configs(conn) if _names_bot(config, name)]
            if users_of:
                raise AdminError.on(None, f'"{name}" is still used by {", ".join(users_of)}', 409)
            if not await store.delete(conn, bots, "name", name):
                raise AdminError.on(None, f"There is no bot {name}", 404)
        self._cache.invalidate()

    # -- company numbers (their conversation settings: `services.numbers.Numbers.configure`) ----------------------

    async def numbers(self, actor: User, offset: int = 0, limit: int = 50) -> Page:
        require_admin(actor)
        offset, limit = bounds(offset, limit)
        async with self._db.read() as conn:
            rows, total = await store.page(conn, numbers, "number", offset=offset, limit=limit)
            items = []
            for row in rows:
                service = await support.owning_service(conn, row, row.number)
                config, partial = await support.settings_for(conn, row, service)
                items.append(
                    {
                        "number": row.number,
                        "sms": row.sms,
                        "mms": row.mms,
                        "whatsapp": row.whatsapp,
                        "toll_free": label.label() if (label := TollFree.from_doc(row.toll_free)) else None,
                        "service": service.name if service is not None else None,
                        "routing": _route_text(config.routing),
                        "out_of_hours": _route_text(config.out_of_hours),
                        "has_hours": config.hours is not None,
                        "actions": len(config.actions),
                        "partially_configured": partial,
                    }
                )
        return Page(items, total, offset, limit)

    async def add_number(self, actor: User, form: dict[str, str]) -> str:
        require_admin(actor)
        region = await self._region()
        keys = ("number", "linked_service", "verification", "unverified_sending", "unverified_limit")
        entry: dict[str, Any] = form_entry({k: v for k, v in form.items() if k in keys}, numbers=("unverified_limit",))
        entry.update({k: k in form for k in ("sms", "mms", "whatsapp", "toll_free")})
        if not entry["toll_free"]:  # the toll-free fields of an unticked box are not what the admin meant
            entry = {k: v for k, v in entry.items() if k not in keys[2:]}
        async with self._db.write() as conn:
            names = await store.service_names(conn)
            n = check_entry(read_number, entry, region, set(names), Names(set(), set(), set()))
            if await store.find(conn, numbers, "number", n.number) is not None:
                raise AdminError.on("number", f"{n.number} is already a company number")
            linked = await store.find(conn, services, "name", n.linked_service) if n.linked_service else None
            row = {"number": n.number, "sms": n.sms, "mms": n.mms, "whatsapp": n.whatsapp, "toll_free": n.toll_free}
            await store.insert(conn, numbers, {**row, "linked_service_id": linked.id if linked else None})
        self._cache.invalidate()
        return n.number

    async def delete_number(self, actor: User, number: str) -> None:
        require_admin(actor)
        async with self._db.write() as conn:
            if not await store.delete(conn, numbers, "number", number):
                raise AdminError.on(None, f"{number} is not a company number", 404)
        self._cache.invalidate()

    async def choices(self, actor: User) -> dict[str, list[Any]]:
        """What a number's settings may name: users (extension, name), services and bots."""
        require_admin(actor)
        async with self._db.read() as conn:
            return {
                "users": await store.user_names(conn),
                "services": await store.service_names(conn),
                "bots": await store.bot_names(conn),
            }

    # -- Mail2SMS and prices ---------------------------------------------------------------------------------------

    async def mail2sms(self, actor: User) -> dict[str, Any]:
        require_admin(actor)
        profile = (await self._cache.config()).settings.get("mail2sms") or {}
        return {
            "enabled": bool(profile.get("enabled")),
            "has_password": bool(profile.get("password_hash")),
            "allowed_senders": "\n".join(profile.get("allowed_senders") or ()),
        }

    async def save_mail2sms(self, actor: User, enabled: bool, password: str, allowed_senders: str = "") -> None:
        """Turn Mail2SMS on or off; a blank password keeps the current one (stored as an argon2 hash)."""
        require_admin(actor)
        senders = read_patterns(allowed_senders)
        problems = [p for s in senders if (p := pattern_problem(s)) is not None]
        if problems:
            raise AdminError.on("allowed_senders", problems[0])
        async with self._db.write() as conn:
            current = (await directory.get_settings(conn)).get("mail2sms") or {}
            stored = current.get("password_hash") if isinstance(current, dict) else None
            if not password and not stored:
                raise AdminError.on("password", "is required: senders must give it in the e-mail")
            profile = {
                "enabled": enabled,
                "password_hash": hash_password(password) if password else stored,
                "allowed_senders": senders,
            }
            await directory.put_setting(conn, "mail2sms", profile)
        self._cache.invalidate()

    async def prices(self, actor: User, offset: int = 0, limit: int = 100) -> Page:
        require_admin(actor)
        offset, limit = bounds(offset, limit)
        async with self._db.read() as conn:
            rows, total = await store.page(conn, prices, "prefix", offset=offset, limit=limit)
        return Page([_price_view(r) for r in rows], total, offset, limit)

    async def price(self, actor: User, prefix: str) -> dict[str, Any]:
        require_admin(actor)
        async with self._db.read() as conn:
            row = await store.find(conn, prices, "prefix", prefix)
        if row is None:
            raise AdminError.on(None, f"There is no price for {prefix}", 404)
        return _price_view(row)

    async def save_price(self, actor: User, form: dict[str, str], prefix: str | None = None) -> str:
        """Add a price (``prefix`` None) or change one; a changed prefix replaces the old row."""
        require_admin(actor)
        p = check_entry(read_price, form_entry(form))
        async with self._db.write() as conn:
            clash = await store.find(conn, prices, "prefix", p.prefix)
            if clash is not None and p.prefix != prefix:
                raise AdminError.on("prefix", f"{p.prefix} already has a price")
            if prefix is not None and not await store.delete(conn, prices, "prefix", prefix):
                raise AdminError.on(None, f"There is no price for {prefix}", 404)
            mms_price = None if p.mms_price is None else str(p.mms_price)
            row = {"prefix": p.prefix, "price": str(p.price), "currency": p.currency, "mms_price": mms_price}
            await store.insert(conn, prices, row)
        self._cache.invalidate()
        return p.prefix

    async def delete_price(self, actor: User, prefix: str) -> None:
        require_admin(actor)
        async with self._db.write() as conn:
            if not await store.delete(conn, prices, "prefix", prefix):
                raise AdminError.on(None, f"There is no price for {prefix}", 404)
        self._cache.invalidate()


def _price_view(row: Any) -> dict[str, Any]:
    return {"prefix": row.prefix, "price": row.price, "currency": row.currency, "mms_price": row.mms_price or ""}


def _user_view(row: Any) -> dict[str, Any]:
    fields = ("extension", "name", "license", "office_number", "email", "role", "sms_package")
    # Where the user comes from (the LDAP directory, issue 14 §2) and whether it disabled them.
    origin = {"directory": row.directory_dn is not None, "disabled": row.disabled_at is not None}
    return {**{k: getattr(row, k) for k in fields}, **origin}


def _service_view(row: Any, members: dict[str, list[str]]) -> dict[str, Any]:
    return {"name": row.name, "sms_number": row.sms_number, "static_members": members["static"],
            "dynamic_members": members["dynamic"]}  # fmt: skip


def _route_text(route: Any) -> str | None:
    if route is None:
        return None
    return {"agent": "agent", "group": "service", "bot": "bot"}[route.kind] + f" {route.target}"


def _names_bot(doc: Any, name: str) -> bool:
    config = config_from_doc(doc)
    if config is None:
        return False
    routes = [r for r in (config.routing, config.out_of_hours) if r is not None]
    tasks = [a.task for a in config.actions]
    return any(r.kind == "bot" and r.target == name for r in routes) or any(
        isinstance(t, BotMessage) and t.bot == name for t in tasks
    )


def _names_agent(doc: Any, extension: str) -> bool:
    """Whether number settings route to this user or add him by an action (deleting him would break them)."""
    config = config_from_doc(doc)
    if config is None:
        return False
    routes = [r for r in (config.routing, config.out_of_hours) if r is not None]
    tasks = [a.task for a in config.actions]
    return any(r.kind == "agent" and r.target == extension for r in routes) or any(
        isinstance(t, AddMembers) and extension in t.extensions for t in tasks
    )


def _template_fields(doc: Any) -> dict[str, str]:
    """A bot's WhatsApp template as the form's fields."""
    doc = doc if isinstance(doc, dict) else {}
    return {"template_name": str(doc.get("name") or ""), "template_language": str(doc.get("language") or ""),
            "template_variables": "\n".join(str(v) for v in doc.get("variables") or [])}  # fmt: skip


def _template_field(field: str | None) -> str | None:
    """``whatsapp_template.variables[1]`` → the form field that holds it."""
    if field is None or not field.startswith("whatsapp_template"):
        return field
    for part in ("name", "language", "variables"):
        if field.startswith(f"whatsapp_template.{part}"):
            return f"template_{part}"
    return "template_name"

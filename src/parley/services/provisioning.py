"""Apply a provisioning file: idempotent upserts in one transaction (all or nothing)."""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from parley.core.provisioning import ProvisioningError, parse
from parley.core.provisioning_specs import Provisioning
from parley.services.passwords import hash_password, verify_password
from parley.store import directory, smpp
from parley.store.db import Database
from parley.store.tables import (
    bots,
    numbers,
    prices,
    sender_id_rules,
    services,
    smpp_accounts,
    transports,
    users,
)


@dataclass
class ApplyReport:
    counts: Counter[str] = field(default_factory=Counter)

    def note(self, section: str, outcome: str) -> None:
        self.counts[f"{section}.{outcome}"] += 1

    @property
    def changed(self) -> int:
        return sum(n for k, n in self.counts.items() if not k.endswith(".unchanged"))

    def summary(self) -> str:
        if not self.changed:
            return "nothing changed"
        return ", ".join(f"{k.replace('.', ' ')}: {n}" for k, n in sorted(self.counts.items()) if n)


def read_file(path: Path) -> Provisioning:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProvisioningError([f"{path.name}: not valid TOML: {exc}"]) from exc
    except OSError as exc:
        raise ProvisioningError([f"{path}: cannot be read: {exc.strerror}"]) from exc
    return parse(doc)


async def apply(db: Database, spec: Provisioning, *, now: datetime, prune: bool = False) -> ApplyReport:
    report = ApplyReport()
    async with db.write() as conn:
        for key, value in spec.pbx.items():
            report.note("pbx", "updated" if await directory.put_setting(conn, f"pbx.{key}", value) else "unchanged")
        if spec.webhooks is not None:
            changed = await directory.put_setting(conn, "webhooks", spec.webhooks)
            report.note("webhooks", "updated" if changed else "unchanged")
        if spec.directory is not None:
            changed = await directory.put_setting(conn, "directory", spec.directory.as_setting())
            report.note("directory", "updated" if changed else "unchanged")
        if spec.mail2sms is not None:
            current = (await directory.get_settings(conn)).get("mail2sms") or {}
            stored = current.get("password_hash") if isinstance(current, dict) else None
            password = str(spec.mail2sms["password"])
            same_password = isinstance(stored, str) and verify_password(stored, password)
            profile = {
                "enabled": bool(spec.mail2sms["enabled"]),
                "password_hash": stored if same_password else hash_password(password),
                "allowed_senders": list(spec.mail2sms["allowed_senders"]),
            }
            changed = await directory.put_setting(conn, "mail2sms", profile)
            report.note("mail2sms", "updated" if changed else "unchanged")

        user_ids: dict[str, int] = {}
        for u in spec.users:
            existing = await directory.find_user(conn, u.extension)
            keep_hash = existing is not None and verify_password(existing.password_hash, u.password)
            row: dict[str, Any] = {
                "extension": u.extension,
                "name": u.name,
                "password_hash": existing.password_hash if keep_hash and existing else hash_password(u.password),
                "license": u.license.label,
                "office_number": u.office_number,
                "email": u.email,
                "role": u.role,
                "sms_package": u.sms_package,
                "updated_at": now,
                # The file wins over the LDAP directory: a user it lists is Parley's own from now on.
                "directory_dn": None,
                "disabled_at": None,
            }
            outcome, ident = await directory.upsert(conn, users, "extension", row, ignore=("updated_at",))
            report.note("users", outcome)
            user_ids[u.extension] = int(ident)

        for s in spec.services:
            outcome, ident = await directory.upsert(
                conn, services, "name", {"name": s.name, "sms_number": s.sms_number, "config": s.config}
            )
            members = {user_ids[e]: "dynamic" for e in s.dynamic_members}
            members.update({user_ids[e]: "static" for e in s.static_members})
            if await directory.replace_members(conn, int(ident), members) and outcome == "unchanged":
                outcome = "updated"
            report.note("services", outcome)
        service_ids = {r.name: r.id for r in await directory.list_services(conn)}

        for n in spec.numbers:
            row = {
                "number": n.number,
                "sms": n.sms,
                "mms": n.mms,
                "whatsapp": n.whatsapp,
                "linked_service_id": service_ids.get(n.linked_service) if n.linked_service else None,
                "config": n.config,
                "carrier": n.carrier,
                "toll_free": n.toll_free,
            }
            report.note("numbers", (await directory.upsert(conn, numbers, "number", row))[0])

        for b in spec.bots:
            report.note(
                "bots",
                (
                    await directory.upsert(
                        conn,
                        bots,
                        "name",
                        {"name": b.name, "message": b.message, "whatsapp_template": b.whatsapp_template},
                    )
                )[0],
            )

        for t in spec.transports:
            row = {
                "name": t.name,
                "role": t.role,
                "kind": t.kind,
                "gateway_id": t.gateway_id,
                "config": t.config,
                "updated_at": now,
            }
            report.note(
                "transports",
                (await directory.upsert(conn, transports, "name", row, ignore=("updated_at",)))[0],
            )

        for p in spec.prices:
            mms_price = None if p.mms_price is None else str(p.mms_price)  # absent from the file: cleared
            row = {"prefix": p.prefix, "price": str(p.price), "currency": p.currency, "mms_price": mms_price}
            report.note("prices", (await directory.upsert(conn, prices, "prefix", row))[0])

        for a in spec.smpp_accounts:
            found = await smpp.find_account(conn, a.system_id)
            same = found is not None and verify_password(found.password_hash, a.password)
            row = {
                "system_id": a.system_id,
                "password_hash": found.password_hash if same and found else hash_password(a.password),
                "user_id": user_ids[a.user],
                "throughput": a.throughput,
                "updated_at": now,
            }
            outcome, _ = await directory.upsert(conn, smpp_accounts, "system_id", row, ignore=("updated_at",))
            report.note("smpp_accounts", outcome)
        for rule in spec.sender_id_rules:
            row = {"country": rule.country, "registered": sorted(rule.registered), "otherwise": rule.otherwise}
            report.note("sender_id_rules", (await directory.upsert(conn, sender_id_rules, "country", row))[0])
        if spec.sender_id_names is not None:
            changed = await directory.put_setting(conn, "sender_id.names", spec.sender_id_names)
            report.note("sender_id_names", "updated" if changed else "unchanged")

        if prune:
            directory_extensions = await directory.list_directory_extensions(conn)
            for section, table, key, keep in (
                ("smpp_accounts", smpp_accounts, "system_id", [a.system_id for a in spec.smpp_accounts]),
                ("transports", transports, "name", [t.name for t in spec.transports]),
                ("prices", prices, "prefix", [p.prefix for p in spec.prices]),
                ("numbers", numbers, "number", [n.number for n in spec.numbers]),
                ("services", services, "name", [s.name for s in spec.services]),
                # Users the LDAP directory owns are its to disable, never the file's to delete.
                ("users", users, "extension", [u.extension for u in spec.users] + directory_extensions),
                ("bots", bots, "name", [b.name for b in spec.bots]),
                ("sender_id_rules", sender_id_rules, "country", [r.country for r in spec.sender_id_rules]),
            ):
                removed = await directory.delete_missing(conn, table, key, keep)
                if removed:
                    report.counts[f"{section}.removed"] += removed
    return report

"""A small provisioning document for tests, shaped like contracts/parley.example.toml."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from parley.core.provisioning import parse
from parley.services.provisioning import ApplyReport, apply
from parley.store.db import Database

BASE: dict[str, Any] = {
    "pbx": {"country": "US", "timezone": "America/New_York"},
    "users": [
        {
            "extension": "101",
            "name": "Alice Smith",
            "password": "sms101api",
            "license": "business",
            "office_number": "+15551230001",
            "role": "admin",
            "sms_package": 2,
        },
        {"extension": "102", "name": "Bob Jones", "password": "bob-secret", "license": "essential"},
        {"extension": "103", "name": "Carl Basic", "password": "carl-secret", "license": "basic"},
    ],
    "services": [{"name": "Support", "static_members": ["101", "102"], "sms_number": "+15551230001"}],
    "numbers": [{"number": "+15551230001", "sms": True, "linked_service": "Support"}],
    "transports": [],
    "prices": [
        {"prefix": "+1", "price": "0.0079", "currency": "USD"},
        {"prefix": "+44", "price": "0.04", "currency": "GBP"},
    ],
}


def document(**overrides: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc.update(overrides)
    return doc


async def provision(db: Database, now: datetime, **overrides: Any) -> ApplyReport:
    return await apply(db, parse(document(**overrides)), now=now)

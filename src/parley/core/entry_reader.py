"""Reading typed fields out of one table of a provisioning file (or an admin form), naming each problem. Pure."""

from __future__ import annotations

from typing import Any

from parley.core.numbers import InvalidNumber, parse_e164


class EntryReader:
    """Reads typed fields out of one table, recording problems under its path."""

    def __init__(self, path: str, table: Any, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        self.table: dict[str, Any] = table if isinstance(table, dict) else {}
        if not isinstance(table, dict):
            self.problem("", "must be a table")

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}.{key}: {message}" if key else f"{self.path}: {message}")

    def str_(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return default
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {type(value).__name__}")
            return default
        if required and not value.strip():
            self.problem(key, "must not be empty")
        return value.strip()

    def int_(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.problem(key, f"must be a whole number of at least {minimum}")
            return default
        return value

    def bool_(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, "must be true or false")
            return default
        return value

    def list_(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, "must be a list of strings")
            return ()
        return tuple(v.strip() for v in value)

    def number(self, key: str, *, region: str | None, required: bool = False) -> str | None:
        raw = self.str_(key, required=required)
        if not raw:
            return None
        try:
            return parse_e164(raw, region)
        except InvalidNumber as exc:
            self.problem(key, exc.reason)
            return None

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.str_(key, required=default is None, default=default)
        if value is not None and value not in options:
            self.problem(key, f'"{value}" is not one of {", ".join(options)}')
        return value or (default or "")

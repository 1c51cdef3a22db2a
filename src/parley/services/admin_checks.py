"""What every admin use case shares: the refusal shape, provisioning's checks applied to one form, a page of rows.

The console and the provisioning file must agree on what is valid, so a form is checked by the very functions that
check a `[[users]]` (or `[[services]]`, …) entry of the file, through its `EntryReader`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from parley.core.entry_reader import EntryReader
from parley.services.directory import User
from parley.services.errors import ServiceError

T = TypeVar("T")
FORM = "form"  # the path provisioning's problems are named under: "form.license: …"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class AdminError(ServiceError):
    """A change that cannot be made; ``all`` holds every (field, message), field None for the whole form."""

    def __init__(self, status: int, problems: list[tuple[str | None, str]]) -> None:
        super().__init__(status, "; ".join(m for _, m in problems), problems[0][0] if problems else None)
        self.all = problems

    @classmethod
    def on(cls, field: str | None, message: str, status: int = 422) -> AdminError:
        return cls(status, [(field, message)])

    def problems(self) -> list[tuple[str | None, str]]:
        return list(self.all)


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise AdminError.on(None, "Administrators only", 403)


def split_problem(problem: str) -> tuple[str | None, str]:
    """``"form.price: 'x' is not a price"`` → ``("price", "'x' is not a price")``."""
    where, _, message = problem.partition(": ")
    if where == FORM or not where.startswith(FORM + "."):
        return None, message or where
    return where[len(FORM) + 1 :], message


def check_entry(read: Callable[..., T], entry: dict[str, Any], *args: Any) -> T:
    """Check ``entry`` with a reader ``read`` of `core.provisioning_entries` (e.g. `read_user`); raise `AdminError`."""
    problems: list[str] = []
    spec = read(EntryReader(FORM, entry, problems), *args)
    if problems:
        raise AdminError(422, [split_problem(p) for p in problems])
    return spec


def form_entry(form: dict[str, str], *, numbers: tuple[str, ...] = (), lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """A submitted form as a provisioning entry: blanks left out, whole numbers as ints, lists split on commas."""
    entry: dict[str, Any] = {}
    for key, raw in form.items():
        value = raw.strip()
        if key in lists:
            entry[key] = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
        elif not value:
            continue
        elif key in numbers:
            entry[key] = _number(value)
        else:
            entry[key] = value
    return entry


def _number(value: str) -> int | float | str:
    """A number typed in a form; anything else is left as text for the reader to refuse in its own words."""
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int

    @property
    def previous(self) -> int | None:
        return max(self.offset - self.limit, 0) if self.offset > 0 else None

    @property
    def next(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


def bounds(offset: int, limit: int) -> tuple[int, int]:
    return max(offset, 0), min(max(limit, 1), MAX_PAGE_SIZE)

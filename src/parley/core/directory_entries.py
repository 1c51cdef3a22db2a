"""LDAP entries to Parley users (issue 14 §2): read one entry, plan one sync. Pure.

An entry comes as the server sent it: a DN and, per attribute, a list of raw byte values. Reading it never
raises: an entry Parley cannot use is *skipped* with a reason that names the attribute and the problem
(missing, several values, not UTF-8, not a phone number, unknown license), and the sync goes on.

Planning a sync compares the usable entries with the users the directory already owns (``directory_dn`` set)
and decides, entry by entry, created / updated / unchanged / skipped, and which users are disabled because
their entry is gone. Two guards keep a broken search from emptying the company (see `plan_sync`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from parley.core.licenses import License, names
from parley.core.numbers import InvalidNumber, parse_e164

FIELDS = ("extension", "name", "email", "office_number", "mobile", "license")
EXTENSION = re.compile(r"[0-9A-Za-z_.+\-]{1,32}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
MAX_NAME = 200
MAX_EMAIL = 320

# The guards against a search that came back wrong (a mistyped base DN or filter, an empty OU after a move, a
# server answering with nothing): a real organisation does not lose a quarter of its people between two syncs.
MAX_DISABLE_SHARE = 0.25  # refuse to disable more than this share of the directory's active users ...
DISABLE_ALWAYS_ALLOWED = 3  # ... unless it is at most this many (a small company's leavers are not refused)

# The single-valued fields: several values would make Parley guess who a number or extension belongs to.
SINGLE = frozenset({"extension", "office_number", "license"})


@dataclass(frozen=True)
class Entry:
    dn: str
    attributes: Mapping[str, Sequence[bytes]]


@dataclass(frozen=True)
class DirectoryUser:
    """What the directory says about one user."""

    dn: str
    extension: str
    name: str
    license: License
    email: str | None = None
    office_number: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Skipped:
    dn: str
    reason: str
    extension: str | None = None


@dataclass(frozen=True)
class ExistingUser:
    """A users row as the sync needs it."""

    id: int
    extension: str
    directory_dn: str | None
    disabled: bool
    name: str = ""
    license: str = "basic"
    email: str | None = None
    office_number: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One line of the sync's report."""

    dn: str
    extension: str | None
    outcome: str  # created | updated | unchanged | disabled | skipped
    reason: str = ""


@dataclass(frozen=True)
class SyncPlan:
    creates: tuple[DirectoryUser, ...] = ()
    updates: tuple[tuple[int, DirectoryUser], ...] = ()  # (user id, what the directory says now)
    disables: tuple[int, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    refused: str | None = None  # set: nothing may be applied, and this says why

    @property
    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for o in self.outcomes:
            found[o.outcome] = found.get(o.outcome, 0) + 1
        return found


@dataclass(frozen=True)
class _Reader:
    entry: Entry
    attributes: Mapping[str, str]
    problems: list[str] = field(default_factory=list)

    def text(self, key: str) -> str | None:
        attribute = self.attributes.get(key)
        if not attribute:
            return None
        values = _values(self.entry.attributes, attribute)
        if not values:
            return None
        if len(values) > 1 and key in SINGLE:
            self.problems.append(f"{attribute} ({key}) has {len(values)} values; one is expected")
            return None
        try:
            text = values[0].decode("utf-8")
        except UnicodeDecodeError:
            self.problems.append(f"{attribute} ({key}) is not UTF-8 text")
            return None
        text = " ".join(text.split())
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            self.problems.append(f"{attribute} ({key}) holds control characters")
            return None
        return text or None


def _values(attributes: Mapping[str, Sequence[bytes]], name: str) -> list[bytes]:
    """LDAP attribute names are case-insensitive (RFC 4512 §2.5)."""
    wanted = name.lower()
    for key, values in attributes.items():
        if key.lower() == wanted:
            return [v for v in values if isinstance(v, bytes | bytearray)]
    return []


def read_entry(entry: Entry, attributes: Mapping[str, str], region: str | None) -> DirectoryUser | Skipped:
    """The user an entry describes, or why it is skipped. ``attributes`` maps each field to its LDAP attribute."""
    r = _Reader(entry, attributes)
    extension = r.text("extension")
    name = r.text("name")
    email = r.text("email")
    office = r.text("office_number")
    mobile = r.text("mobile")
    license_name = r.text("license")
    if r.problems:
        return Skipped(entry.dn, "; ".join(r.problems), extension)
    if extension is None:
        return Skipped(entry.dn, f"no {attributes.get('extension')} (extension)")
    if not EXTENSION.fullmatch(extension):
        return Skipped(entry.dn, f'extension "{extension[:40]}" is not 1-32 letters, digits or _.+-')
    if name is None:
        return Skipped(entry.dn, f"no {attributes.get('name')} (name)", extension)
    if email is not None and (len(email) > MAX_EMAIL or not EMAIL.fullmatch(email)):
        return Skipped(entry.dn, f'email "{email[:80]}" is not an email address', extension)
    numbers: dict[str, str | None] = {}
    for key, raw in (("office_number", office), ("mobile", mobile)):
        try:
            numbers[key] = parse_e164(raw, region) if raw is not None else None
        except InvalidNumber as exc:
            return Skipped(entry.dn, f"{attributes.get(key)} ({key}): {exc.reason}", extension)
    lic = License.BASIC
    if attributes.get("license"):
        if license_name is None:
            return Skipped(entry.dn, f"no {attributes.get('license')} (license)", extension)
        try:
            lic = License.parse(license_name)
        except ValueError:
            return Skipped(entry.dn, f'license "{license_name[:40]}" is not one of {", ".join(names())}', extension)
    return DirectoryUser(
        dn=entry.dn,
        extension=extension,
        name=name[:MAX_NAME],
        license=lic,
        email=email,
        office_number=numbers["office_number"],
        mobile=numbers["mobile"],
    )


def same(user: ExistingUser, wanted: DirectoryUser) -> bool:
    return not user.disabled and (
        user.extension,
        user.directory_dn,
        user.name,
        user.license,
        user.email,
        user.office_number,
        user.mobile,
    ) == (
        wanted.extension,
        wanted.dn,
        wanted.name,
        wanted.license.label,
        wanted.email,
        wanted.office_number,
        wanted.mobile,
    )


def plan_sync(
    read: Iterable[DirectoryUser | Skipped], existing: Iterable[ExistingUser], *, allow_mass_disable: bool = False
) -> SyncPlan:
    """Decide a sync. Parley's own users (``directory_dn`` None: from `[[users]]` or the console) are never
    touched: an entry with their extension is skipped, the file and the console win.

    Refused (nothing applied) when the search returned no entries while the directory owns active users, or
    when it would disable more than `MAX_DISABLE_SHARE` of them (and more than `DISABLE_ALWAYS_ALLOWED`)
    unless ``allow_mass_disable``. Users whose entry was returned but skipped are kept as they are.
    """
    read = list(read)
    users = list(existing)
    by_dn = {u.directory_dn.lower(): u for u in users if u.directory_dn}
    by_extension = {u.extension: u for u in users}
    outcomes: list[Outcome] = []
    creates: list[DirectoryUser] = []
    updates: list[tuple[int, DirectoryUser]] = []
    kept: set[int] = set()
    claimed: dict[str, str] = {}  # extension -> DN of the entry that took it in this sync
    matched: dict[int, str] = {}  # user id -> DN of the entry that took them
    for item in read:
        if isinstance(item, Skipped):
            outcomes.append(Outcome(item.dn, item.extension, "skipped", item.reason))
            owner = by_dn.get(item.dn.lower())
            if owner is not None:
                kept.add(owner.id)
            continue
        user = by_dn.get(item.dn.lower())
        holder = by_extension.get(item.extension)
        problem = None
        if item.extension in claimed:
            problem = f"extension {item.extension} is also given by {claimed[item.extension]}"
        elif holder is not None and holder.directory_dn is None:
            problem = f"extension {item.extension} is Parley's own user (provisioning or console), which wins"
        elif user is not None and holder is not None and holder.id != user.id:
            problem = f"extension {item.extension} already belongs to another directory user"
        if user is None and holder is not None and problem is None:
            user = holder  # same extension, new DN (the entry moved): the same person
        if problem is None and user is not None and user.id in matched:
            problem = f"user {user.extension} was already matched by {matched[user.id]}"
        if problem is not None:
            outcomes.append(Outcome(item.dn, item.extension, "skipped", problem))
            if user is not None:
                kept.add(user.id)
            continue
        claimed[item.extension] = item.dn
        if user is not None:
            matched[user.id] = item.dn
        if user is None:
            creates.append(item)
            outcomes.append(Outcome(item.dn, item.extension, "created"))
            continue
        kept.add(user.id)
        if same(user, item):
            outcomes.append(Outcome(item.dn, item.extension, "unchanged"))
        else:
            updates.append((user.id, item))
            outcomes.append(Outcome(item.dn, item.extension, "updated", _changes(user, item)))
    active = [u for u in users if u.directory_dn and not u.disabled]
    gone = [u for u in active if u.id not in kept]
    for u in gone:
        outcomes.append(Outcome(u.directory_dn or "", u.extension, "disabled", "no longer in the directory"))
    refused = None
    if not read and active:
        refused = (
            f"the search returned no entries: refusing to disable all {len(active)} directory users "
            "(a wrong base_dn or filter, or a server answering empty, looks the same as everyone leaving)"
        )
    elif len(gone) > max(DISABLE_ALWAYS_ALLOWED, len(active) * MAX_DISABLE_SHARE) and not allow_mass_disable:
        refused = (
            f"this sync would disable {len(gone)} of {len(active)} directory users, more than "
            f"{int(MAX_DISABLE_SHARE * 100)}%: refusing (check base_dn and filter; "
            "`parley directory sync --allow-mass-disable` applies it)"
        )
    return SyncPlan(tuple(creates), tuple(updates), tuple(u.id for u in gone), tuple(outcomes), refused)


def _changes(user: ExistingUser, wanted: DirectoryUser) -> str:
    changed = [
        label
        for label, old, new in (
            ("extension", user.extension, wanted.extension),
            ("dn", user.directory_dn, wanted.dn),
            ("name", user.name, wanted.name),
            ("license", user.license, wanted.license.label),
            ("email", user.email, wanted.email),
            ("office_number", user.office_number, wanted.office_number),
            ("mobile", user.mobile, wanted.mobile),
        )
        if old != new
    ]
    if user.disabled:
        changed.insert(0, "enabled again")
    return ", ".join(changed)

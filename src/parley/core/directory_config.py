"""The `[directory]` provisioning section (issue 14 §2): where the LDAP server is and what to read. Pure.

```toml
[directory]
url = "ldaps://dc1.example.com"          # ldap:// or ldaps://, optional :port
bind_dn = "CN=parley,OU=Service,DC=example,DC=com"
password = "…"
base_dn = "OU=Staff,DC=example,DC=com"
filter = "(objectClass=person)"           # default
interval = 3600                            # seconds between scheduled syncs (at least 60); 0: on demand only
ldap_auth = false                          # true: users sign in with their LDAP password (a bind as them)
attributes = {extension = "telephoneNumber", name = "cn", email = "mail", office_number = "facsimileTelephoneNumber",
              mobile = "mobile", license = "parleyLicense"}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from parley.core.directory_entries import FIELDS
from parley.core.entry_reader import EntryReader

DEFAULT_FILTER = "(objectClass=person)"
DEFAULT_INTERVAL = 3600
MIN_INTERVAL = 60
DEFAULT_ATTRIBUTES = {"name": "cn"}


@dataclass(frozen=True)
class DirectoryConfig:
    url: str
    bind_dn: str
    password: str
    base_dn: str
    filter: str = DEFAULT_FILTER
    interval: int = DEFAULT_INTERVAL
    ldap_auth: bool = False
    attributes: tuple[tuple[str, str], ...] = ()  # (field, LDAP attribute)

    @property
    def attribute_map(self) -> dict[str, str]:
        return dict(self.attributes)

    def as_setting(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "bind_dn": self.bind_dn,
            "password": self.password,
            "base_dn": self.base_dn,
            "filter": self.filter,
            "interval": self.interval,
            "ldap_auth": self.ldap_auth,
            "attributes": self.attribute_map,
        }


def read_directory(table: Any, problems: list[str]) -> DirectoryConfig | None:
    """Check the section, naming each problem (``directory.url: …``); None when it has problems."""
    before = len(problems)
    r = EntryReader("directory", table, problems)
    url = r.str_("url", required=True) or ""
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            r.problem("url", f'"{url}" must be ldap://host[:port] or ldaps://host[:port]')
        else:
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                r.problem("url", f'"{url}" has a port that is not a number')
    bind_dn = r.str_("bind_dn", default="") or ""
    password = r.str_("password", default="") or ""
    if bind_dn and not password:
        r.problem("password", "is required with bind_dn (an anonymous bind takes neither)")
    base_dn = r.str_("base_dn", required=True) or ""
    search = r.str_("filter", default=DEFAULT_FILTER) or DEFAULT_FILTER
    if not (search.startswith("(") and search.endswith(")") and search.count("(") == search.count(")")):
        r.problem("filter", f'"{search}" is not an LDAP filter such as (objectClass=person)')
    interval = r.int_("interval", DEFAULT_INTERVAL)
    if 0 < interval < MIN_INTERVAL:
        r.problem("interval", f"must be 0 (on demand only) or at least {MIN_INTERVAL} seconds")
    ldap_auth = r.bool_("ldap_auth", False)
    attributes = dict(DEFAULT_ATTRIBUTES)
    given = r.table.get("attributes", {})
    if not isinstance(given, dict):
        r.problem("attributes", 'must be a table such as {extension = "telephoneNumber", name = "cn"}')
        given = {}
    for key, value in given.items():
        if key not in FIELDS:
            r.problem(f"attributes.{key}", f"is not one of {', '.join(FIELDS)}")
        elif not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
            r.problem(f"attributes.{key}", "must be the name of an LDAP attribute")
        else:
            attributes[key] = value.strip()
    if "extension" not in attributes:
        r.problem("attributes.extension", "is required: the LDAP attribute holding each user's extension")
    if len(problems) > before:
        return None
    return DirectoryConfig(
        url=url,
        bind_dn=bind_dn,
        password=password,
        base_dn=base_dn,
        filter=search,
        interval=interval,
        ldap_auth=ldap_auth,
        attributes=tuple(sorted(attributes.items())),
    )


def config_from_setting(value: Any) -> DirectoryConfig | None:
    """The stored setting back (written by `as_setting`); None when absent or unreadable."""
    if not isinstance(value, dict):
        return None
    return read_directory(value, [])

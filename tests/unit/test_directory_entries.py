"""LDAP entries to users, and the sync's plan (core.directory_entries, core.directory_config): pure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.directory_config import config_from_setting, read_directory
from parley.core.directory_entries import (
    EXTENSION,
    DirectoryUser,
    Entry,
    ExistingUser,
    Skipped,
    plan_sync,
    read_entry,
)
from parley.core.licenses import License
from parley.core.numbers import parse_e164

ATTRS = {
    "extension": "ext",
    "name": "cn",
    "email": "mail",
    "office_number": "phone",
    "mobile": "mobile",
    "license": "lic",
}


def entry(dn: str = "uid=a,dc=x", **values: list[bytes]) -> Entry:
    base: dict[str, list[bytes]] = {"ext": [b"201"], "cn": [b"Ann"], "lic": [b"business"]}
    base.update(values)
    return Entry(dn, base)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        pytest.param({"ext": []}, "no ext (extension)", id="missing-extension"),
        pytest.param({"ext": [b"1", b"2"]}, "ext (extension) has 2 values; one is expected", id="two-extensions"),
        pytest.param({"ext": [b"20 1"]}, 'extension "20 1" is not 1-32 letters, digits or _.+-', id="bad-extension"),
        pytest.param({"cn": []}, "no cn (name)", id="missing-name"),
        pytest.param({"cn": [b"\xffAnn"]}, "cn (name) is not UTF-8 text", id="latin-1-name"),
        pytest.param({"cn": [b"A\x00nn"]}, "cn (name) holds control characters", id="nul-in-name"),
        pytest.param({"lic": [b"gold"]}, 'license "gold" is not one of basic, essential, business, premium', id="gold"),
        pytest.param({"lic": []}, "no lic (license)", id="missing-license"),
        pytest.param({"mail": [b"not-an-address"]}, 'email "not-an-address" is not an email address', id="email"),
        pytest.param(
            {"phone": [b"12"]}, 'phone (office_number): "12" is not a valid phone number in US', id="short-number"
        ),
        pytest.param(
            {"mobile": [b"call me"]},
            'mobile (mobile): "call me" is not a phone number: only digits and a leading + are allowed',
            id="letters-number",
        ),
        pytest.param(
            {"phone": [b"+15551230001", b"+15551230002"]},
            "phone (office_number) has 2 values; one is expected",
            id="two-office-numbers",
        ),
    ],
)
def test_an_odd_entry_is_skipped_with_a_reason_naming_the_attribute(
    values: dict[str, list[bytes]], reason: str
) -> None:
    read = read_entry(entry(**values), ATTRS, "US")
    assert isinstance(read, Skipped) and read.reason == reason


def test_a_good_entry_becomes_a_user_with_numbers_in_e164_and_the_first_of_several_emails() -> None:
    read = read_entry(
        entry(phone=[b"(555) 123-0009"], mobile=[b"+44 7700 900123"], mail=[b"a@x.com", b"b@x.com"], CN=[b"x"]),
        ATTRS,
        "US",
    )
    assert read == DirectoryUser(
        "uid=a,dc=x", "201", "Ann", License.BUSINESS, "a@x.com", "+15551230009", "+447700900123"
    )


def test_attribute_names_are_case_insensitive_and_license_defaults_to_basic_when_not_mapped() -> None:
    read = read_entry(Entry("uid=a", {"TelephoneNumber": [b"7"], "CN": [b"  Ann   Lee "]}), {
        "extension": "telephonenumber", "name": "cn",
    }, None)  # fmt: skip
    assert read == DirectoryUser("uid=a", "7", "Ann Lee", License.BASIC)


def synced(uid: int, extension: str, *, disabled: bool = False, name: str = "Ann") -> ExistingUser:
    return ExistingUser(uid, extension, f"uid={extension}", disabled, name=name, license="basic")


def wanted(extension: str, name: str = "Ann", dn: str | None = None) -> DirectoryUser:
    return DirectoryUser(dn or f"uid={extension}", extension, name, License.BASIC)


def test_plan_creates_updates_leaves_and_disables() -> None:
    existing = [synced(1, "201"), synced(2, "202"), synced(3, "203", disabled=True), synced(4, "204")]
    plan = plan_sync([wanted("201"), wanted("202", "Bo"), wanted("203"), wanted("205")], existing)
    assert [(o.extension, o.outcome, o.reason) for o in plan.outcomes] == [
        ("201", "unchanged", ""),
        ("202", "updated", "name"),
        ("203", "updated", "enabled again"),
        ("205", "created", ""),
        ("204", "disabled", "no longer in the directory"),
    ]
    assert plan.disables == (4,) and plan.refused is None
    assert [u.extension for u in plan.creates] == ["205"]


def test_parleys_own_users_win_and_a_skipped_entry_keeps_its_user() -> None:
    existing = [ExistingUser(1, "101", None, False), synced(2, "202")]
    plan = plan_sync([wanted("101"), Skipped("uid=202", "bad license")], existing)
    assert [o.outcome for o in plan.outcomes] == ["skipped", "skipped"]
    assert plan.creates == () and plan.updates == () and plan.disables == ()


def test_a_moved_entry_keeps_its_user_and_a_renumbered_one_keeps_its_history() -> None:
    existing = [synced(1, "201"), synced(2, "202")]
    plan = plan_sync([wanted("201", dn="uid=201,ou=moved"), wanted("299", dn="uid=202")], existing)
    assert [(uid, u.extension) for uid, u in plan.updates] == [(1, "201"), (2, "299")]
    assert plan.disables == ()


def test_one_user_is_matched_by_one_entry_only() -> None:
    plan = plan_sync([wanted("201", dn="uid=b"), wanted("202", dn="uid=201")], [synced(1, "201")])
    assert [o.outcome for o in plan.outcomes] == ["updated", "skipped"]
    assert plan.outcomes[1].reason == "user 201 was already matched by uid=b"


def test_an_empty_answer_is_refused_and_so_is_disabling_more_than_a_quarter() -> None:
    existing = [synced(i, str(200 + i)) for i in range(1, 21)]
    assert plan_sync([], existing).refused is not None
    assert plan_sync([], existing, allow_mass_disable=True).refused is not None
    keep_15 = [wanted(str(200 + i)) for i in range(1, 16)]
    assert plan_sync(keep_15, existing).refused is None  # 5 of 20: a quarter is allowed
    keep_14 = keep_15[:-1]
    assert plan_sync(keep_14, existing).refused is not None
    assert plan_sync(keep_14, existing, allow_mass_disable=True).refused is None
    small = [synced(1, "201"), synced(2, "202"), synced(3, "203"), synced(4, "204")]
    assert plan_sync([wanted("201")], small).refused is None  # three leavers are always allowed
    assert plan_sync([], []).refused is None


def test_the_directory_section_names_each_problem() -> None:
    problems: list[str] = []
    assert (
        read_directory({"url": "http://x", "filter": "uid=1", "interval": 5, "attributes": {"phone": "x"}}, problems)
        is None
    )
    assert problems == [
        'directory.url: "http://x" must be ldap://host[:port] or ldaps://host[:port]',
        "directory.base_dn: is required",
        'directory.filter: "uid=1" is not an LDAP filter such as (objectClass=person)',
        "directory.interval: must be 0 (on demand only) or at least 60 seconds",
        "directory.attributes.phone: is not one of extension, name, email, office_number, mobile, license",
        "directory.attributes.extension: is required: the LDAP attribute holding each user's extension",
    ]
    good = {"url": "ldaps://dc1:636", "base_dn": "dc=x", "attributes": {"extension": "ipPhone"}}
    config = read_directory(good, [])
    assert config is not None and config.attribute_map == {"extension": "ipPhone", "name": "cn"}
    assert config_from_setting(config.as_setting()) == config


values = st.lists(st.binary(max_size=40) | st.text(max_size=40).map(str.encode), max_size=3)


@given(
    dn=st.text(max_size=60),
    attributes=st.dictionaries(st.sampled_from(["ext", "cn", "mail", "phone", "mobile", "lic", "EXT"]), values),
    region=st.sampled_from([None, "US", "IT"]),
)
def test_any_entry_becomes_a_sound_user_or_a_reasoned_skip(
    dn: str, attributes: dict[str, list[bytes]], region: str | None
) -> None:
    read = read_entry(Entry(dn, attributes), ATTRS, region)
    if isinstance(read, Skipped):
        assert read.reason and read.dn == dn
        return
    assert EXTENSION.fullmatch(read.extension)
    assert read.name and len(read.name) <= 200 and read.name == read.name.strip()
    for number in (read.office_number, read.mobile):
        assert number is None or parse_e164(number) == number
    assert read.email is None or "@" in read.email


@given(
    entries=st.lists(st.tuples(st.sampled_from(["201", "202", "203", "204"]), st.sampled_from(["a", "b", "c"]))),
    users=st.lists(st.tuples(st.sampled_from(["201", "202", "203", "101"]), st.booleans(), st.booleans()), max_size=4),
)
def test_a_plan_never_touches_parleys_own_users_nor_gives_one_extension_twice(
    entries: list[tuple[str, str]], users: list[tuple[str, bool, bool]]
) -> None:
    existing = [
        ExistingUser(i, ext, f"uid={ext}" if owned else None, disabled)
        for i, (ext, owned, disabled) in enumerate(dict((u[0], u) for u in users).values(), 1)
    ]
    plan = plan_sync([wanted(ext, dn=f"uid={dn}") for ext, dn in entries], existing)
    own = {u.id for u in existing if u.directory_dn is None}
    if plan.refused is None:
        touched = {uid for uid, _ in plan.updates} | set(plan.disables)
        assert not touched & own
        given_out = [u.extension for u in plan.creates] + [u.extension for _, u in plan.updates]
        assert len(given_out) == len(set(given_out))
        assert len(plan.updates) == len({uid for uid, _ in plan.updates})
        assert not {u.extension for u in plan.creates} & {u.extension for u in existing}

"""Sender IDs from full names, per the Wildix contract's Sender rule."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.sender_id import ALLOWED, MAX_LENGTH, make_sender_id
from parley.core.text import is_gsm7


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("Alice Smith", "Alice Smith", id="plain"),
        pytest.param("Jörg Müller-Lüdenscheidt", "Jörg Müller", id="cut-to-11"),
        pytest.param("Anna-Marie Bernadette", "Anna-Marie", id="no-trailing-space-after-cut"),
        pytest.param("Ödön", "ödön", id="capital-lowered-when-small-is-allowed"),
        pytest.param("ÄÑÜ", "äñü", id="other-gsm-capitals-lowered"),
        pytest.param("ÈÀ", "èà", id="accented-capitals-lowered"),
        pytest.param("José Ñúñez", "José ñuñez", id="allowed-accent-kept-other-stripped"),
        pytest.param("Dvořák", "Dvorak", id="caron-stripped"),
        pytest.param("François", "Francois", id="small-c-cedilla-to-plain-c"),
        pytest.param("Çelik", "Çelik", id="capital-c-cedilla-is-allowed"),
        pytest.param("Zoë Ångström", "Zoe Ångströ", id="a-ring-allowed"),
        pytest.param("Łukasz", "Lukasz", id="l-stroke-has-no-decomposition"),
        pytest.param("Đorđe", "Dorde", id="d-stroke"),
        pytest.param("İlknur", "Ilknur", id="dotted-capital-i"),
        pytest.param("Ølberg Straße", "Ølberg Stra", id="o-slash-and-sharp-s-allowed"),
        pytest.param("Ａｌｉｃｅ", "Alice", id="full-width"),
        pytest.param("ΣΩ Σωκράτης", "ΣΩ Σ???????", id="greek-small-letters-have-no-plain-letter"),
        pytest.param("O'Brien", "O?Brien", id="apostrophe-is-not-in-the-set"),
        pytest.param("😀", "?", id="emoji"),
        pytest.param("Bob 👍🏽", "Bob ?", id="skin-tone-is-part-of-its-emoji"),
        pytest.param("Tab\tName", "Tab Name", id="whitespace-becomes-space"),
        pytest.param("a\u200db", "ab", id="invisible-format-character-dropped"),
        pytest.param("  Bob  ", "Bob", id="surrounding-spaces-stripped"),
        pytest.param("   " + "x" * 20, "x" * 11, id="leading-spaces-do-not-use-the-11"),
        pytest.param("", "?", id="empty"),
        pytest.param("   ", "?", id="only-spaces"),
    ],
)
def test_sender_id_follows_the_contract(name: str, expected: str) -> None:
    assert make_sender_id(name) == expected


# Copied from contracts/wildix-sms-api.md, Sender: "a-z A-Z 0-9" expanded, then the listed characters.
CONTRACT_LIST = (
    '@ £ $ ¥ è é ù ì ò Ç Ø ø Å å Δ _ Φ Γ Λ Ω Π Ψ Σ Θ Ξ Æ æ ß É ! " # ¤ % & ( ) * + , - . / : ; < > = ? ¡ ä ö ñ ü à'
)


def test_allowed_set_is_the_gsm_basic_set_the_contract_lists() -> None:
    listed = set(CONTRACT_LIST.split()) | set(string.ascii_letters + string.digits + " ")
    assert listed == ALLOWED
    assert is_gsm7("".join(ALLOWED))
    assert not {"'", "Ä", "Ö", "Ñ", "Ü", "§", "¿", "\n", "\r"} & ALLOWED


@given(st.text())
def test_sender_id_is_always_short_safe_and_nonempty(name: str) -> None:
    sender = make_sender_id(name)
    assert 1 <= len(sender) <= MAX_LENGTH
    assert set(sender) <= ALLOWED
    assert sender == sender.strip()


@given(st.text(alphabet=st.sampled_from(sorted(ALLOWED - {" "})), min_size=1))
def test_sender_id_of_allowed_text_is_its_first_11_characters(name: str) -> None:
    assert make_sender_id(name) == name[:MAX_LENGTH]

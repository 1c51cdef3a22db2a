"""GSM 03.38 / UCS-2 text: alphabets, segment counts, splitting, encodings."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.text import (
    GSM7_PART,
    GSM7_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    Encoding,
    Segments,
    decode_gsm7,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    encoding_for,
    is_gsm7,
    pack_septets,
    replace_wildix_chars,
    septets,
    split,
    units,
    unpack_septets,
)

# TS 23.038 §6.2.1 in code order, with the escape (0x1B) left out.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
LATIN1 = "çáíóúâêîôûãõëïÿ¡¿«»°±µ¶·"
CJK = "漢字かなカナ한국어中文"
EMOJI = "😀👍🏽🇬🇧👨\u200d👩\u200d👧❤\ufe0f🎉"
COMBINING = "\u0301\u0308\u0327"

gsm_text = st.text(alphabet=st.sampled_from(GSM_BASIC + GSM_EXTENSION), max_size=700)
mixed_text = st.text(
    alphabet=st.sampled_from(GSM_BASIC + GSM_EXTENSION + LATIN1 + CJK + EMOJI + COMBINING), max_size=700
)


def limits(encoding: Encoding) -> tuple[int, int]:
    return (GSM7_SINGLE, GSM7_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)


# --- alphabet -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("Hello, world!", True, id="ascii"),
        pytest.param("€[]{}^~|\\\f", True, id="extension-table"),
        pytest.param("éèÉùìòÇØøÅåäöñüÄÖÑÜ§¿¡", True, id="gsm-accents"),
        pytest.param("ΔΦΓΛΩΠΨΣΘΞ", True, id="gsm-greek-capitals"),
        pytest.param("ç", False, id="small-c-cedilla-is-not-gsm"),
        pytest.param("á", False, id="a-acute-is-not-gsm"),
        pytest.param("\x1b", False, id="escape-itself-is-not-a-character"),
        pytest.param("`", False, id="backtick"),
        pytest.param("😀", False, id="emoji"),
        pytest.param("中", False, id="cjk"),
    ],
)
def test_gsm7_alphabet_membership_follows_gsm_03_38(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected
    assert encoding_for(text) is (Encoding.GSM7 if expected else Encoding.UCS2)


def test_basic_table_has_every_character_at_its_code() -> None:
    codes = bytes(code for code in range(128) if code != 0x1B)
    assert decode_gsm7(codes) == GSM_BASIC
    assert encode_gsm7(GSM_BASIC) == codes


@pytest.mark.parametrize(
    ("text", "gsm7", "ucs2"),
    [
        pytest.param("", 0, 0, id="empty"),
        pytest.param("abc", 3, 3, id="plain"),
        pytest.param("a€", 3, 2, id="extension-costs-two-septets"),
        pytest.param("\f", 2, 1, id="form-feed-is-an-extension"),
        pytest.param("[]", 4, 2, id="brackets"),
    ],
)
def test_units_count_septets_and_code_units(text: str, gsm7: int, ucs2: int) -> None:
    assert septets(text) == gsm7
    assert units(text, Encoding.GSM7) == gsm7
    assert units(text, Encoding.UCS2) == ucs2


def test_a_character_outside_the_bmp_costs_two_code_units() -> None:
    assert units("a😀", Encoding.UCS2) == 3
    assert units("中", Encoding.UCS2) == 1


def test_septets_refuse_a_non_gsm_character() -> None:
    with pytest.raises(ValueError, match=r"not in the GSM 03\.38 alphabet"):
        septets("ç")


# --- segment counts at the thresholds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        pytest.param("", Encoding.GSM7, 1, id="empty"),
        pytest.param("a" * 160, Encoding.GSM7, 1, id="gsm-160"),
        pytest.param("a" * 161, Encoding.GSM7, 2, id="gsm-161"),
        pytest.param("a" * 306, Encoding.GSM7, 2, id="gsm-306"),
        pytest.param("a" * 307, Encoding.GSM7, 3, id="gsm-307"),
        pytest.param("a" * 459, Encoding.GSM7, 3, id="gsm-459"),
        pytest.param("a" * 460, Encoding.GSM7, 4, id="gsm-460"),
        pytest.param("a" * 670, Encoding.GSM7, 5, id="gsm-670-wildix-max"),
        pytest.param("€" * 80, Encoding.GSM7, 1, id="gsm-80-euros-are-160-septets"),
        pytest.param("€" * 81, Encoding.GSM7, 2, id="gsm-81-euros"),
        pytest.param("€" * 153, Encoding.GSM7, 3, id="gsm-153-euros-are-76-per-part"),
        pytest.param("a" * 159 + "€", Encoding.GSM7, 2, id="gsm-159-plus-euro-is-161-septets"),
        pytest.param("あ" * 70, Encoding.UCS2, 1, id="ucs2-70"),
        pytest.param("あ" * 71, Encoding.UCS2, 2, id="ucs2-71"),
        pytest.param("あ" * 134, Encoding.UCS2, 2, id="ucs2-134"),
        pytest.param("あ" * 135, Encoding.UCS2, 3, id="ucs2-135"),
        pytest.param("é" * 669 + "ç", Encoding.UCS2, 10, id="ucs2-670-wildix-max"),
        pytest.param("😀" * 35, Encoding.UCS2, 1, id="ucs2-35-emoji-are-70-units"),
        pytest.param("😀" * 36, Encoding.UCS2, 2, id="ucs2-36-emoji"),
        pytest.param("😀" * 67, Encoding.UCS2, 3, id="ucs2-67-emoji-are-33-per-part"),
    ],
)
def test_segment_count_at_thresholds(text: str, encoding: Encoding, count: int) -> None:
    segments = split(text)
    assert segments.encoding is encoding
    assert segments.count == count
    assert "".join(segments.parts) == text


def test_empty_text_is_one_empty_part() -> None:
    assert split("") == Segments(Encoding.GSM7, ("",), 0)


def test_long_gsm_text_is_cut_into_parts_of_153() -> None:
    segments = split("a" * 307)
    assert [len(p) for p in segments.parts] == [153, 153, 1]
    assert segments.units == 307


def test_extension_char_is_never_cut_between_parts() -> None:
    text = "a" * 152 + "€" + "b" * 20
    segments = split(text)
    assert segments.parts[0] == "a" * 152  # 152 + 2 septets would be 154 > 153
    assert segments.parts[1].startswith("€")


def test_surrogate_pair_is_never_cut_between_parts() -> None:
    text = "あ" * 66 + "😀" + "い" * 10
    segments = split(text)
    assert segments.parts[0] == "あ" * 66  # 66 + 2 units would be 68 > 67
    assert segments.parts[1].startswith("😀")
    for part in segments.parts:
        assert encode_ucs2(part).decode("utf-16-be") == part  # strict: no lone surrogate in any part


def test_forcing_ucs2_on_gsm_text_uses_ucs2_limits() -> None:
    segments = split("a" * 71, Encoding.UCS2)
    assert segments.encoding is Encoding.UCS2
    assert [len(p) for p in segments.parts] == [67, 4]


def test_forcing_gsm7_on_non_gsm_text_is_refused() -> None:
    with pytest.raises(ValueError, match=r"GSM 03\.38"):
        split("ç", Encoding.GSM7)


@pytest.mark.parametrize(
    "cluster",
    [
        pytest.param("e\u0301", id="combining-accent"),
        pytest.param("🇬🇧", id="flag-pair"),
        pytest.param("👍🏽", id="skin-tone"),
        pytest.param("👨\u200d👩\u200d👧", id="zwj-family"),
        pytest.param("❤\ufe0f", id="variation-selector"),
    ],
)
def test_grapheme_cluster_is_kept_whole_when_it_fits_the_next_part(cluster: str) -> None:
    text = "あ" * 66 + cluster + "い" * 10
    segments = split(text)
    assert segments.parts[0] == "あ" * 66
    assert segments.parts[1].startswith(cluster)


def test_crlf_is_kept_in_one_part() -> None:
    segments = split("a" * 152 + "\r\n" + "b" * 10)
    assert segments.parts[0] == "a" * 152


def test_flags_pair_up_from_the_left() -> None:
    # Three regional indicators: GB, then a lone B. The cut may fall after the pair, never inside it.
    text = "あ" * 63 + "🇬🇧🇧" + "い" * 10
    segments = split(text)
    assert segments.parts[0] == "あ" * 63 + "🇬🇧"


def test_a_cluster_longer_than_a_part_is_cut_between_code_points() -> None:
    text = "a" + "\u0301" * 200
    segments = split(text)
    assert "".join(segments.parts) == text
    assert all(units(p, Encoding.UCS2) <= UCS2_PART for p in segments.parts)
    assert segments.count == 3


@given(gsm_text | mixed_text)
def test_split_parts_join_back_to_the_text_and_fit_their_limit(text: str) -> None:
    segments = split(text)
    assert "".join(segments.parts) == text
    assert segments.units == units(text, segments.encoding)
    single, part = limits(segments.encoding)
    if segments.units <= single:
        assert segments.parts == (text,)
    else:
        assert all(0 < units(p, segments.encoding) <= part for p in segments.parts)


@given(mixed_text)
def test_no_part_carries_a_lone_surrogate(text: str) -> None:
    for part in split(text).parts:
        encoded = encode_ucs2(part)
        assert encoded.decode("utf-16-be") == part  # strict decoding fails on a cut pair


@given(gsm_text)
def test_no_part_carries_a_dangling_escape(text: str) -> None:
    segments = split(text)
    limit = GSM7_SINGLE if segments.count == 1 else GSM7_PART
    for part in segments.parts:
        encoded = encode_gsm7(part)
        assert len(encoded) <= limit  # the septets on the wire, ESC included, fit the part
        assert decode_gsm7(encoded) == part  # a cut ESC would decode as a space plus a basic char


@given(st.text(alphabet=st.sampled_from(GSM_BASIC.replace("\r", "") + GSM_EXTENSION), min_size=161))
def test_gsm_parts_are_filled_as_far_as_the_limit_allows(text: str) -> None:
    parts = split(text).parts
    for part, following in itertools.pairwise(parts):
        assert septets(part) + septets(following[0]) > GSM7_PART


# --- encodings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data"),
    [
        pytest.param("@", b"\x00", id="at-is-zero"),
        pytest.param("$_", b"\x02\x11", id="dollar-underscore"),
        pytest.param("Hi", b"Hi", id="ascii-letters"),
        pytest.param("€", b"\x1b\x65", id="euro"),
        pytest.param("\f", b"\x1b\x0a", id="form-feed"),
        pytest.param("[|]", b"\x1b\x3c\x1b\x40\x1b\x3e", id="brackets-pipe"),
        pytest.param("¡¿§à", b"\x40\x60\x5f\x7f", id="inverted-marks"),
    ],
)
def test_gsm7_encoding_is_one_septet_per_octet(text: str, data: bytes) -> None:
    assert encode_gsm7(text) == data
    assert decode_gsm7(data) == text


def test_gsm7_encoding_refuses_a_non_gsm_character() -> None:
    with pytest.raises(ValueError, match="U\\+00E7"):
        encode_gsm7("ç")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        pytest.param(b"\x1b\x41", "A", id="unknown-escape-shows-basic-char"),
        pytest.param(b"a\x1b", "a ", id="trailing-escape-is-a-space"),
        pytest.param(b"\x1b\x1ba", " a", id="escape-escape-is-a-space"),
        pytest.param(b"\x80a", "\ufffda", id="octet-above-7-bits"),
        pytest.param(b"\x1b\xff", "\ufffd", id="escape-then-octet-above-7-bits"),
    ],
)
def test_gsm7_decoding_tolerates_peer_mistakes(data: bytes, text: str) -> None:
    assert decode_gsm7(data) == text


@given(gsm_text)
def test_gsm7_round_trips(text: str) -> None:
    assert decode_gsm7(encode_gsm7(text)) == text
    assert len(encode_gsm7(text)) == septets(text)


@given(st.binary())
def test_gsm7_decoding_never_raises(data: bytes) -> None:
    decode_gsm7(data)


def test_septet_packing_matches_the_23_038_example() -> None:
    packed = pack_septets(encode_gsm7("hellohello"))
    assert packed == bytes.fromhex("E8329BFD4697D9EC37")
    assert unpack_septets(packed, 10) == encode_gsm7("hellohello")


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 160])
def test_packed_length_is_seven_eighths(count: int) -> None:
    assert len(pack_septets(b"a" * count)) == (count * 7 + 7) // 8


@given(st.binary().map(lambda b: bytes(x & 0x7F for x in b)))
def test_septet_packing_round_trips(septets_: bytes) -> None:
    assert unpack_septets(pack_septets(septets_), len(septets_)) == septets_


def test_unpacking_more_septets_than_the_data_holds_returns_what_is_there() -> None:
    assert unpack_septets(b"\xe8", 5) == b"h"
    assert unpack_septets(b"", 3) == b""


@pytest.mark.parametrize(
    ("text", "data"),
    [
        pytest.param("A", b"\x00A", id="ascii"),
        pytest.param("中", b"\x4e\x2d", id="cjk"),
        pytest.param("😀", b"\xd8\x3d\xde\x00", id="surrogate-pair"),
    ],
)
def test_ucs2_encoding_is_utf16_big_endian(text: str, data: bytes) -> None:
    assert encode_ucs2(text) == data
    assert decode_ucs2(data) == text


@pytest.mark.parametrize(
    ("data", "text"),
    [
        pytest.param(b"\x00A\x00", "A\ufffd", id="odd-trailing-byte"),
        pytest.param(b"\xd8\x00", "\ufffd", id="lone-high-surrogate"),
        pytest.param(b"\xde\x00\x00A", "\ufffdA", id="lone-low-surrogate"),
    ],
)
def test_ucs2_decoding_tolerates_peer_mistakes(data: bytes, text: str) -> None:
    assert decode_ucs2(data) == text


@given(st.text())
def test_ucs2_round_trips(text: str) -> None:
    assert decode_ucs2(encode_ucs2(text)) == text
    assert len(encode_ucs2(text)) == 2 * units(text, Encoding.UCS2)


@given(st.binary())
def test_ucs2_decoding_never_raises(data: bytes) -> None:
    decode_ucs2(data)


def test_wildix_replaces_quotes_and_slashes_with_spaces() -> None:
    assert replace_wildix_chars('It\'s "a" “b” c\\d/e') == "It s  a   b  c d e"
    assert replace_wildix_chars("plain ‘single’ stays") == "plain ‘single’ stays"

"""Receipt texts in the usual layout are read in one match (`parse_receipt_text`, a sixth of the tolerant scan's
cost: receipts come one per message); whatever the values, that reading is the scan's (`scan_receipt_text`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.channels.smpp_receipts import parse_receipt_text, scan_receipt_text

# Values in the usual layout hold no space nor colon; pieces of field names make the scan look hard at them.
PIECES = ["id", "sub", "dlvrd", "submit", "date", "done", "stat", "err", "text", "_", "-", "0", "7", "a", "Z", "é", "."]
value = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)
LAYOUT = "id:{} sub:{} dlvrd:{} submit date:{} done date:{} stat:{} err:{}"


@given(st.tuples(*[value] * 7), st.none() | st.text(max_size=40))
def test_the_usual_layout_is_read_as_the_tolerant_scan_reads_it(values: tuple[str, ...], text: str | None) -> None:
    receipt = LAYOUT.format(*values) + ("" if text is None else f" text:{text}")
    assert parse_receipt_text(receipt) == scan_receipt_text(receipt)


@given(st.lists(st.sampled_from([*PIECES, " ", ":", "\n", "ID", "Stat", " date"]), max_size=30).map("".join))
def test_any_other_text_is_read_by_the_scan(text: str) -> None:
    for receipt in (text, LAYOUT.format(*["1"] * 7) + text):
        assert parse_receipt_text(receipt) == scan_receipt_text(receipt)


def test_the_usual_receipt() -> None:
    receipt = "id:0a1b sub:001 dlvrd:001 submit date:2411241200 done date:2411241201 stat:DELIVRD err:000 text:Hi: you"
    assert parse_receipt_text(receipt) == {
        "id": "0a1b", "sub": "001", "dlvrd": "001", "submit_date": "2411241200", "done_date": "2411241201",
        "stat": "DELIVRD", "err": "000", "text": "Hi: you",
    }  # fmt: skip

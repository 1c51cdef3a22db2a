"""Twilio's Messages resource, pure (core/twilio_format.py): RFC 2822 dates, statuses, the resource, errors,
paging links and the request values Twilio's clients send."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core import twilio_format as fmt

ACCOUNT = "AC" + "a" * 32
SID = "SM" + "0" * 12 + "0192a3b4c5d6e7f80911"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "text"),
    [
        pytest.param(datetime(2026, 8, 24, 10, 0, tzinfo=UTC), "Mon, 24 Aug 2026 10:00:00 +0000", id="utc"),
        pytest.param(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "Fri, 02 Jan 2026 03:04:05 +0000", id="padded"),
        pytest.param(
            datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
            "Fri, 01 Jan 2027 04:30:00 +0000",
            id="offset-to-gmt",
        ),
        pytest.param(None, None, id="none"),
    ],
)
def test_dates_are_rfc_2822_in_gmt(at: datetime | None, text: str | None) -> None:
    assert fmt.rfc2822(at) == text


@pytest.mark.parametrize(
    ("parley", "twilio"),
    [("scheduled", "scheduled"), ("queued", "queued"), ("submitting", "sending"), ("sent", "sent"),
     ("delivered", "delivered"), ("undelivered", "undelivered"), ("failed", "failed"), ("read", "read"),
     ("received", "received"), ("blocked", "received"), ("cancelled", "canceled")],
)  # fmt: skip
def test_statuses_carry_twilios_names(parley: str, twilio: str) -> None:
    assert fmt.twilio_status(parley) == twilio


def facts(**changes: object) -> fmt.MessageFacts:
    base = fmt.MessageFacts(
        sid=SID, direction="out", sender="+15551230001", recipient="+15557654321", body="Hi", status="queued",
        segments=2, media=1, charge="0.0079", currency="USD", error_code=None, error=None, created_at=NOW,
        updated_at=NOW + timedelta(seconds=3), sent_at=None, messaging_service_sid=None,
    )  # fmt: skip
    return fmt.MessageFacts(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_the_resource_has_twilios_fields_and_formats() -> None:
    resource = fmt.message_resource(facts(), ACCOUNT)
    assert resource == {
        "sid": SID, "account_sid": ACCOUNT, "messaging_service_sid": None, "api_version": "2010-04-01",
        "from": "+15551230001", "to": "+15557654321", "body": "Hi", "status": "queued", "direction": "outbound-api",
        "num_segments": "2", "num_media": "1", "price": "-0.0079", "price_unit": "USD", "error_code": None,
        "error_message": None, "date_created": "Tue, 24 Nov 2026 12:00:00 +0000",
        "date_updated": "Tue, 24 Nov 2026 12:00:03 +0000", "date_sent": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}.json",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}/Media.json",
                             "feedback": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}/Feedback.json"},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        pytest.param({}, None, None, id="fine"),
        pytest.param(
            {"status": "failed", "error_code": "21610", "error": "opted out"}, 21610, "opted out", id="numeric-code"
        ),
        pytest.param({"status": "undelivered", "error_code": "err:0x45", "error": "x"}, 30008, "x", id="smpp-code"),
        pytest.param({"status": "failed", "error": "down"}, 30008, "down", id="no-code"),
        pytest.param({"status": "delivered", "error": "note"}, None, None, id="not-failed"),
    ],
)
def test_error_code_is_a_number_or_null(changes: dict[str, object], code: int | None, message: str | None) -> None:
    resource = fmt.message_resource(facts(**changes), ACCOUNT)
    assert (resource["error_code"], resource["error_message"]) == (code, message)


def test_an_inbound_message_is_inbound_and_unpriced() -> None:
    resource = fmt.message_resource(facts(direction="in", status="received", charge=None, currency=None), ACCOUNT)
    assert (resource["direction"], resource["price"], resource["status"]) == ("inbound", None, "received")


def test_an_error_has_twilios_four_fields() -> None:
    assert fmt.error_body(21211, "bad To", 400) == {
        "code": 21211, "message": "bad To", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "at"),
    [
        pytest.param("2026-11-30T17:00:00Z", datetime(2026, 11, 30, 17, tzinfo=UTC), id="zulu"),
        pytest.param("2026-11-30T17:00:00+01:00", datetime(2026, 11, 30, 16, tzinfo=UTC), id="offset"),
        pytest.param("2026-11-30T17:00:00.250Z", datetime(2026, 11, 30, 17, 0, 0, 250000, tzinfo=UTC), id="fraction"),
        pytest.param("2026-11-30T17:00:00", datetime(2026, 11, 30, 17, tzinfo=UTC), id="no-zone-is-utc"),
        pytest.param("tomorrow", None, id="words"),
        pytest.param("", None, id="empty"),
        pytest.param("2026-13-01T00:00:00Z", None, id="no-such-month"),
    ],
)
def test_instants_are_iso_8601(text: str, at: datetime | None) -> None:
    assert fmt.parse_instant(text) == at


@pytest.mark.parametrize(
    ("ahead", "ok"),
    [(timedelta(seconds=300), False), (timedelta(seconds=301), True), (timedelta(days=35), True),
     (timedelta(days=35, seconds=1), False), (-timedelta(hours=1), False)],
)  # fmt: skip
def test_the_schedule_window_is_300_seconds_to_35_days(ahead: timedelta, ok: bool) -> None:
    assert (fmt.schedule_problem(NOW + ahead, NOW) is None) is ok


DAY = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    ("exact", "before", "after", "since", "until"),
    [
        pytest.param("2026-11-24", None, None, DAY, DAY + timedelta(days=1), id="a-day"),
        pytest.param("2026-11-24T00:00:00Z", None, None, DAY, DAY + timedelta(days=1), id="midnight-is-the-day"),
        pytest.param(
            "2026-11-24T10:00:00Z",
            None,
            None,
            DAY + timedelta(hours=10),
            DAY + timedelta(hours=10, seconds=1),
            id="a-second",
        ),
        pytest.param(None, "2026-11-24", None, None, DAY + timedelta(days=1), id="on-or-before"),
        pytest.param(None, None, "2026-11-24", DAY, None, id="on-or-after"),
        pytest.param(None, "<=2026-11-24", ">=2026-11-20", None, None, id="docs-spelling"),
        pytest.param(None, None, None, None, None, id="none"),
    ],
)
def test_date_sent_filters_make_one_range(
    exact: str | None, before: str | None, after: str | None, since: datetime | None, until: datetime | None
) -> None:
    span = fmt.date_sent_range(exact, before, after)
    if (before, after) == ("<=2026-11-24", ">=2026-11-20"):
        assert span == fmt.SentRange(datetime(2026, 11, 20, tzinfo=UTC), DAY + timedelta(days=1))
    else:
        assert span == fmt.SentRange(since, until)


@pytest.mark.parametrize("bad", ["yesterday", "2026-02-30", "24/11/2026"])
def test_a_bad_date_sent_names_the_filter(bad: str) -> None:
    with pytest.raises(ValueError, match="DateSent<"):
        fmt.date_sent_range(None, bad, None)


@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=60))
def test_any_date_sent_text_gives_a_range_or_a_value_error(a: str, b: str, c: str) -> None:
    with contextlib.suppress(ValueError):
        fmt.date_sent_range(a, b, c)


@given(st.text(max_size=60))
def test_any_request_value_parses_or_is_refused_cleanly(text: str) -> None:
    fmt.parse_instant(text)
    for parse in (fmt.page_size, fmt.page_number, fmt.page_token):
        with contextlib.suppress(ValueError):
            parse(text)


@pytest.mark.parametrize(("text", "size"), [(None, 50), ("", 50), ("1", 1), ("1000", 1000)])
def test_page_size_defaults_to_50(text: str | None, size: int) -> None:
    assert fmt.page_size(text) == size


@pytest.mark.parametrize("bad", ["0", "1001", "-1", "ten", "1.5"])
def test_page_size_is_1_to_1000(bad: str) -> None:
    with pytest.raises(ValueError, match="PageSize"):
        fmt.page_size(bad)


def test_page_tokens_say_which_side_of_which_message() -> None:
    assert fmt.page_token("PA0192a3b4c5d6e7f80911") == fmt.PageToken(older_than="0192a3b4c5d6e7f80911")
    assert fmt.page_token("PB0192a3b4c5d6e7f80911") == fmt.PageToken(newer_than="0192a3b4c5d6e7f80911")
    assert fmt.page_token(None) == fmt.PageToken()
    for bad in ("PC01", "PA", "PAXYZ", "PA0192'; drop"):
        with pytest.raises(ValueError, match="PageToken"):
            fmt.page_token(bad)


def test_page_links_carry_filters_size_number_and_tokens() -> None:
    facts_ = fmt.PageFacts(ACCOUNT, (("To", "+15557654321"),), 2, 1, "PAbbb", "aaa", "999", True, True)
    links = fmt.page_links(facts_, 2)
    assert (links["page"], links["page_size"], links["start"], links["end"]) == (1, 2, 2, 3)
    nxt = parse_qs(urlsplit(str(links["next_page_uri"])).query)
    prev = parse_qs(urlsplit(str(links["previous_page_uri"])).query)
    first = parse_qs(urlsplit(str(links["first_page_uri"])).query)
    assert nxt == {"To": ["+15557654321"], "PageSize": ["2"], "Page": ["2"], "PageToken": ["PA999"]}
    assert prev == {"To": ["+15557654321"], "PageSize": ["2"], "Page": ["0"], "PageToken": ["PBaaa"]}
    assert first == {"To": ["+15557654321"], "PageSize": ["2"], "Page": ["0"]}
    assert str(links["uri"]).endswith("PageToken=PAbbb")
    assert str(links["uri"]).startswith(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json?")


def test_the_last_and_the_first_page_have_no_link_beyond() -> None:
    only = fmt.page_links(fmt.PageFacts(ACCOUNT, (), 50, 0, None, "aaa", "aaa", False, False), 1)
    empty = fmt.page_links(fmt.PageFacts(ACCOUNT, (), 50, 0, None, None, None, False, False), 0)
    assert only["next_page_uri"] is None and only["previous_page_uri"] is None
    assert (empty["start"], empty["end"]) == (0, 0)


@pytest.mark.parametrize(
    ("url", "media"),
    [
        pytest.param("http://127.0.0.1:8080/api/v2/media/0192a3b4c5d6e7f80911", "0192a3b4c5d6e7f80911", id="own"),
        pytest.param(
            "https://sms.example.com/api/v2/media/0192a3b4c5d6e7f80911?x=1", "0192a3b4c5d6e7f80911", id="behind-a-proxy"
        ),
        pytest.param("https://cdn.example.com/cat.jpg", None, id="elsewhere"),
        pytest.param("https://x.example/api/v2/media/", None, id="no-id"),
        pytest.param("https://x.example/api/v2/media/../../etc", None, id="not-an-id"),
        pytest.param("https://x.example/api/v2/media/0192/extra", None, id="deeper"),
        pytest.param("http://[::1", None, id="broken-url"),
    ],
)
def test_media_urls_name_files_uploaded_here(url: str, media: str | None) -> None:
    assert fmt.media_id_of(url) == media


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        pytest.param("https://crm.example.com/twilio/status?x=1", True, id="https"),
        pytest.param("http://10.0.0.5:8000/status", True, id="http"),
        pytest.param("ftp://crm.example.com/status", False, id="ftp"),
        pytest.param("javascript:alert(1)", False, id="javascript"),
        pytest.param("https://", False, id="no-host"),
        pytest.param("crm.example.com/status", False, id="no-scheme"),
        pytest.param("http://[::1", False, id="broken"),
        pytest.param("https://x.example/" + "a" * 2048, False, id="too-long"),
    ],
)
def test_a_status_callback_is_an_http_url_with_a_host(url: str, ok: bool) -> None:
    assert (fmt.callback_problem(url) is None) is ok


@given(st.text(max_size=200))
def test_any_url_text_is_judged_without_error(text: str) -> None:
    media = fmt.media_id_of(text)
    assert media is None or text.strip().split("?")[0].split("#")[0].endswith(media)
    fmt.callback_problem(text)

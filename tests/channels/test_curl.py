from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager

import httpx
import pytest

from parley.channels.base import Outgoing, Sent
from parley.channels.curl import CurlChannel
from parley.channels.curl_command import (
    FORM,
    CurlCommandError,
    CurlTemplate,
    DataPiece,
    RenderedRequest,
    parse_curl,
)
from parley.core.delivery import DeliveryError, Rejected, Throttled, TimedOut, Unreachable
from parley.core.text import Encoding
from tests.support.http_sink import HttpSink

# The [[transports]] curl line of contracts/parley.example.toml, as the admin pastes it.
CONTRACT_LINE = (
    'curl -k -X POST -u user:password --url "http://127.0.0.1:9001/api/v1/originate/sms" '
    '--data-urlencode "number={TO_NUMBER}" --data-urlencode "message={MESSAGE}"'
)
# The seed's own test command (a Wildix PBX's SMS API), without placeholders.
SEED_LINE = (
    'curl -k -X POST -u 101:sms101api --url "http://127.0.0.1:8080/api/v1/originate/sms" '
    '--data-urlencode "number=+15551234567" --data-urlencode "message=Hello"'
)
WILDIX_URL = "http://127.0.0.1:8080/api/v1/originate/sms"
TO = "+15551234567"
TRICKY = "Hi & bye + 100% = {FROM}"  # every character a form or a template could trip on


def outgoing(text: str = "Hello", to: str = TO, sender: str = "+15551230001") -> Outgoing:
    return Outgoing(id="m1", sender=sender, to=to, text=text, encoding=Encoding.GSM7)


def render(command: str, *, to: str = TO, message: str = "Hello", sender: str = "Alice") -> RenderedRequest:
    return parse_curl(command).render(to=to, message=message, sender=sender)


# --- parsing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param(
            CONTRACT_LINE,
            CurlTemplate(
                url="http://127.0.0.1:9001/api/v1/originate/sms",
                method="POST",
                data=(
                    DataPiece("{TO_NUMBER}", urlencode=True, name="number"),
                    DataPiece("{MESSAGE}", urlencode=True, name="message"),
                ),
                auth=("user", "password"),
                insecure=True,
            ),
            id="contract-example",
        ),
        pytest.param(
            SEED_LINE,
            CurlTemplate(
                url=WILDIX_URL,
                method="POST",
                data=(
                    DataPiece("+15551234567", urlencode=True, name="number"),
                    DataPiece("Hello", urlencode=True, name="message"),
                ),
                auth=("101", "sms101api"),
                insecure=True,
            ),
            id="seed-line",
        ),
        pytest.param(
            "curl 'https://sms.example.com/send?to={TO_NUMBER}&text={MESSAGE}&from={FROM}'",
            CurlTemplate(url="https://sms.example.com/send?to={TO_NUMBER}&text={MESSAGE}&from={FROM}", method="GET"),
            id="get-with-query-placeholders",
        ),
        pytest.param(
            "curl -G https://sms.example.com/send -d to={TO_NUMBER} --data-urlencode text={MESSAGE}",
            CurlTemplate(
                url="https://sms.example.com/send",
                method="GET",
                data=(DataPiece("to={TO_NUMBER}"), DataPiece("{MESSAGE}", urlencode=True, name="text")),
                get=True,
            ),
            id="get-flag-keeps-data-for-the-query",
        ),
        pytest.param(
            "curl https://api.example.com/sms -H 'Content-Type: application/json' -H 'X-Api-Key: k'"
            ' -d \'{"to":"{TO_NUMBER}","text":"{MESSAGE}"}\'',
            CurlTemplate(
                url="https://api.example.com/sms",
                method="POST",
                headers=(("Content-Type", "application/json"), ("X-Api-Key", "k")),
                data=(DataPiece('{"to":"{TO_NUMBER}","text":"{MESSAGE}"}'),),
            ),
            id="json-body-with-headers",
        ),
        pytest.param(
            "-XPUT -uuser:pa:ss --request=PATCH -sSkL -m 2.5 --connect-timeout 1 example.com/sms",
            CurlTemplate(
                url="http://example.com/sms",
                method="PATCH",
                auth=("user", "pa:ss"),
                insecure=True,
                follow_redirects=True,
                max_time=2.5,
                connect_timeout=1.0,
            ),
            id="combined-forms-no-curl-word-last-method-wins-default-scheme",
        ),
        pytest.param(
            "curl --data-urlencode {MESSAGE} --data-urlencode ={TO_NUMBER} --data-urlencode 'm=a@b'"
            " --data-raw @literal --data-binary b --data-ascii c --url http://h/",
            CurlTemplate(
                url="http://h/",
                method="POST",
                data=(
                    DataPiece("{MESSAGE}", urlencode=True),
                    DataPiece("{TO_NUMBER}", urlencode=True),
                    DataPiece("a@b", urlencode=True, name="m"),
                    DataPiece("@literal"),
                    DataPiece("b"),
                    DataPiece("c"),
                ),
            ),
            id="every-data-form-in-order",
        ),
        pytest.param(
            "curl -X POST \\\n  --url http://h/ \\\r\n  -d x={MESSAGE} --compressed -v",
            CurlTemplate(url="http://h/", method="POST", data=(DataPiece("x={MESSAGE}"),)),
            id="backslash-continuation-lines",
        ),
    ],
)
def test_command_line_parses_into_template(command: str, expected: CurlTemplate) -> None:
    assert parse_curl(command) == expected


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        pytest.param('curl -X POST "http://h/', "unbalanced quotes", id="unbalanced-quote"),
        pytest.param("curl http://h/ \\", "lone backslash", id="trailing-backslash"),
        pytest.param("curl -F a=b http://h/", 'unsupported option "-F"', id="unknown-short-option"),
        pytest.param("curl -sF a=b http://h/", 'unsupported option "-F"', id="unknown-option-in-bundle"),
        pytest.param("curl --form a=b http://h/", 'unsupported option "--form"', id="unknown-long-option"),
        pytest.param("curl -X POST -d a=b", "no URL in the command", id="no-url"),
        pytest.param("curl http://a/ http://b/", "more than one URL", id="two-urls"),
        pytest.param("curl http://h/ | jq .", "more than one URL", id="a-pipe-is-not-run"),
        pytest.param("curl ftp://h/file", 'unsupported URL scheme "ftp"', id="not-http"),
        pytest.param("curl http:///path", "no host", id="no-host"),
        pytest.param("curl -d @body.txt http://h/", "reads a file", id="data-from-file"),
        pytest.param("curl --data-binary @- http://h/", "reads a file", id="data-from-stdin"),
        pytest.param("curl --data-urlencode @msg.txt http://h/", "reads a file", id="urlencode-file"),
        pytest.param("curl --data-urlencode text@msg.txt http://h/", "reads a file", id="urlencode-named-file"),
        pytest.param("curl -H @headers.txt http://h/", "from a file", id="headers-from-file"),
        pytest.param("curl -H NoColon http://h/", 'is not "Name: value"', id="header-without-colon"),
        pytest.param("curl -u alice http://h/", '"user:password"', id="user-without-password"),
        pytest.param("curl -m soon http://h/", "number of seconds", id="max-time-not-a-number"),
        pytest.param("curl --connect-timeout 0 http://h/", "number of seconds", id="zero-timeout"),
        pytest.param("curl -X 'PO ST' http://h/", "not an HTTP method", id="bad-method"),
        pytest.param("curl http://h/ -H", 'option "-H" needs a value', id="missing-value"),
        pytest.param("curl --insecure=yes http://h/", "takes no value", id="flag-with-value"),
        pytest.param("curl http://h/ -d to={TO}", "unknown placeholder {TO}", id="misspelt-placeholder"),
    ],
)
def test_bad_command_is_refused_with_the_problem_named(command: str, problem: str) -> None:
    with pytest.raises(CurlCommandError) as caught:
        parse_curl(command)
    assert problem in str(caught.value)


def test_channel_refuses_a_command_without_the_message_placeholder() -> None:
    with pytest.raises(CurlCommandError, match=r"no \{MESSAGE\} placeholder"):
        CurlChannel("gw", "curl http://h/ --data-urlencode to={TO_NUMBER}")


# --- rendering ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "url", "body"),
    [
        pytest.param(
            CONTRACT_LINE,
            "http://127.0.0.1:9001/api/v1/originate/sms",
            b"number=%2B15551234567&message=Hi%20%26%20bye%20%2B%20100%25%20%3D%20%7BFROM%7D",
            id="data-urlencode-encodes-after-substitution",
        ),
        pytest.param(
            "curl http://h/send -d 'to={TO_NUMBER}&text={MESSAGE}&from={FROM}'",
            "http://h/send",
            b"to=%2B15551234567&text=Hi%20%26%20bye%20%2B%20100%25%20%3D%20%7BFROM%7D&from=Alice%20Smith",
            id="data-values-encoded-so-the-form-stays-whole",
        ),
        pytest.param(
            "curl 'http://h/send/{TO_NUMBER}?text={MESSAGE}&from={FROM}'",
            "http://h/send/%2B15551234567?text=Hi%20%26%20bye%20%2B%20100%25%20%3D%20%7BFROM%7D&from=Alice%20Smith",
            b"",
            id="url-path-and-query-percent-encoded",
        ),
        pytest.param(
            "curl -G 'http://h/send?key=1' -d to={TO_NUMBER} --data-urlencode text={MESSAGE}",
            "http://h/send?key=1&to=%2B15551234567&text=Hi%20%26%20bye%20%2B%20100%25%20%3D%20%7BFROM%7D",
            b"",
            id="get-flag-moves-data-to-the-query",
        ),
        pytest.param(
            "curl http://h/ -H 'Content-Type: text/plain' -d '{MESSAGE}'",
            "http://h/",
            TRICKY.encode(),
            id="other-content-types-get-the-value-raw",
        ),
    ],
)
def test_placeholders_are_encoded_for_where_they_stand(command: str, url: str, body: bytes) -> None:
    rendered = render(command, message=TRICKY, sender="Alice Smith")
    assert (rendered.url, rendered.body) == (url, body)


def test_form_body_gets_form_content_type_and_get_has_none() -> None:
    assert ("Content-Type", FORM) in render(CONTRACT_LINE).headers
    assert render("curl -G http://h/ -d a={MESSAGE}").headers == ()
    assert render("curl http://h/ -H 'content-type: text/plain' -d {MESSAGE}").headers == (
        ("content-type", "text/plain"),
    )


def test_json_body_gets_json_escaped_values() -> None:
    message = 'He said "hi"\\\nbye & é'
    rendered = render(
        """curl http://h/ -H 'Content-Type: application/json; charset=utf-8'
           -d '{"to":"{TO_NUMBER}","text":"{MESSAGE}"}'""",
        message=message,
    )
    assert rendered.method == "POST"
    assert json.loads(rendered.body) == {"to": TO, "text": message}


def test_xml_body_gets_xml_escaped_values() -> None:
    rendered = render("curl http://h/ -H 'Content-Type: text/xml' -d '<sms>{MESSAGE}</sms>'", message="a<b & 'c'")
    assert rendered.body == b"<sms>a&lt;b &amp; &#x27;c&#x27;</sms>"


def test_headers_and_user_get_values_raw() -> None:
    rendered = render("curl http://h/ -u '{FROM}:pw' -H 'X-From: {FROM}' -H 'Accept:'", sender="Alice & Co+")
    assert rendered.headers == (("X-From", "Alice & Co+"),)
    assert rendered.auth == ("Alice & Co+", "pw")


@pytest.mark.parametrize("value", ["evil\r\nX-Injected: 1", "line\nbreak", "nul\0"])
def test_line_break_in_a_header_value_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="header injection"):
        render("curl http://h/ -H 'X-Text: {MESSAGE}' -d x=1", message=value)
    with pytest.raises(ValueError, match="header injection"):
        render("curl http://h/ -u '{FROM}:pw'", sender=value)


# --- sending -----------------------------------------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response] | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


@asynccontextmanager
async def started(command: str, handler: Handler) -> AsyncIterator[CurlChannel]:
    channel = CurlChannel("office-gateway", command, transport=httpx.MockTransport(handler))
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def test_send_makes_exactly_the_request_the_command_describes() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"type": "result", "result": "Success"})

    async with started(CONTRACT_LINE, handler) as channel:
        assert await channel.send(outgoing(TRICKY)) == Sent()

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:9001/api/v1/originate/sms"
    assert request.content == b"number=%2B15551234567&message=Hi%20%26%20bye%20%2B%20100%25%20%3D%20%7BFROM%7D"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"user:password").decode()
    assert request.headers["Content-Type"] == FORM


async def test_get_command_sends_no_body_and_an_encoded_plus() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="OK")

    async with started("curl 'https://h/send?to={TO_NUMBER}&text={MESSAGE}'", handler) as channel:
        await channel.send(outgoing("a b"))

    assert seen[0].method == "GET"
    assert seen[0].url.raw_path == b"/send?to=%2B15551234567&text=a%20b"
    assert seen[0].content == b""
    assert "Authorization" not in seen[0].headers


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(200, '{"type":"result","result":"Success"}', Sent(), id="200-wildix-success"),
        pytest.param(200, "Message queued", Sent(), id="200-not-json"),
        pytest.param(201, '{"sid": "SM123", "status": "queued"}', Sent(("SM123",)), id="201-with-sid"),
        pytest.param(202, '{"message_id": 42}', Sent(("42",)), id="202-numeric-message-id"),
        pytest.param(
            200,
            '{"messages": [{"message-id": "a"}, {"message-id": "b"}]}',
            Sent(("a", "b")),
            id="id-per-segment",
        ),
        pytest.param(200, '{"data": {"id": "d1"}}', Sent(("d1",)), id="id-under-data"),
    ],
)
async def test_successful_answer_is_sent_with_any_carrier_id(status: int, body: str, expected: Sent) -> None:
    async with started(CONTRACT_LINE, lambda _: httpx.Response(status, text=body)) as channel:
        assert await channel.send(outgoing()) == expected


@pytest.mark.parametrize(
    ("status", "body", "error", "reason", "code"),
    [
        pytest.param(400, '{"error":\n  "bad number"}', Rejected, 'HTTP 400: {"error": "bad number"}', "400", id="400"),
        pytest.param(401, "", Rejected, "HTTP 401: Unauthorized", "401", id="401-empty-body"),
        pytest.param(429, "slow down", Throttled, "HTTP 429: slow down", None, id="429"),
        pytest.param(500, "<h1>Oops</h1>", Unreachable, "HTTP 500: <h1>Oops</h1>", None, id="500"),
        pytest.param(503, "busy", Unreachable, "HTTP 503: busy", None, id="503"),
        pytest.param(
            200,
            '{"type":"error","reason":"Number should not be empty","result":null}',
            Rejected,
            "Number should not be empty",
            None,
            id="200-wildix-error",
        ),
        pytest.param(
            200,
            '{"type":"warning","reason":"Unable to add a SMS to the queue","result":["+15551234567"]}',
            Rejected,
            "Unable to add a SMS to the queue",
            None,
            id="200-wildix-warning",
        ),
    ],
)
async def test_failed_answer_maps_to_a_delivery_error(
    status: int, body: str, error: type[DeliveryError], reason: str, code: str | None
) -> None:
    async with started(CONTRACT_LINE, lambda _: httpx.Response(status, text=body)) as channel:
        with pytest.raises(error) as caught:
            await channel.send(outgoing())
    assert type(caught.value) is error
    assert caught.value.reason == reason
    assert getattr(caught.value, "code", None) == code


async def test_error_excerpt_is_200_characters_with_whitespace_collapsed() -> None:
    body = "  too \n\n many\tspaces " + "x" * 500
    async with started(CONTRACT_LINE, lambda _: httpx.Response(418, text=body)) as channel:
        with pytest.raises(Rejected) as caught:
            await channel.send(outgoing())
    assert caught.value.reason == "HTTP 418: " + ("too many spaces " + "x" * 500)[:200]


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        pytest.param(raising(httpx.ConnectError("refused")), Unreachable, id="connect-error"),
        pytest.param(raising(httpx.RemoteProtocolError("reset")), Unreachable, id="connection-dropped"),
        pytest.param(raising(httpx.ConnectTimeout("slow")), TimedOut, id="connect-timeout"),
        pytest.param(raising(httpx.ReadTimeout("slow")), TimedOut, id="read-timeout"),
    ],
)
async def test_transport_failure_maps_to_a_retryable_error(handler: Handler, error: type[DeliveryError]) -> None:
    async with started(CONTRACT_LINE, handler) as channel:
        with pytest.raises(error) as caught:
            await channel.send(outgoing())
    assert caught.value.retryable


async def test_max_time_bounds_the_whole_exchange() -> None:
    async def never_answers(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with started(f"{CONTRACT_LINE} -m 0.01", never_answers) as channel:
        with pytest.raises(TimedOut, match=r"within 0\.01s"):
            await channel.send(outgoing())


async def test_line_break_headed_for_a_header_is_rejected_without_a_request() -> None:
    command = "curl http://h/ -H 'X-Text: {MESSAGE}' -d to={TO_NUMBER}"
    async with started(command, raising(AssertionError("no request expected"))) as channel:
        with pytest.raises(Rejected, match="header injection"):
            await channel.send(outgoing("two\r\nlines"))


async def test_send_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await CurlChannel("gw", CONTRACT_LINE).send(outgoing())


# --- logs --------------------------------------------------------------------------------------------------


def test_describe_never_shows_passwords_tokens_or_keys() -> None:
    channel = CurlChannel(
        "gw",
        "curl -u admin:s3cret-pw -H 'Authorization: Bearer tok-123' -H 'X-Api-Key: k3y-456'"
        " -H 'Accept: text/plain'"
        " 'https://bob:url-pw@h/send?api_token=t0k-789&to={TO_NUMBER}'"
        ' --data-urlencode password=form-pw -d \'{"apiKey": "json-key", "text": "{MESSAGE}"}\'',
    )
    described = channel.describe()
    for secret in ("s3cret-pw", "tok-123", "k3y-456", "t0k-789", "url-pw", "form-pw", "json-key"):
        assert secret not in described
    for kept in ("admin", "Accept: text/plain", "to={TO_NUMBER}", "{MESSAGE}", '"gw"'):
        assert kept in described


@pytest.mark.parametrize(
    "command",
    [
        CONTRACT_LINE,
        SEED_LINE,
        "curl -G -L -m 3 --connect-timeout 1 h -d a=b",
        "curl -m 1000000 --connect-timeout 0.0000001 h",  # once described as 1e+06 and 1e-07, which do not read back
    ],
)
def test_describe_without_secrets_parses_back_to_the_same_template(command: str) -> None:
    template = parse_curl(command.replace("-u user:password ", "").replace("-u 101:sms101api ", ""))
    assert parse_curl(template.describe()) == template


# --- a real socket -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "field"),
    [
        pytest.param(CONTRACT_LINE.replace("http://127.0.0.1:9001", "{sink}"), "form", id="post-form"),
        pytest.param("curl '{sink}/api/v1/originate/sms?number={TO_NUMBER}&message={MESSAGE}'", "query", id="get"),
    ],
)
async def test_real_http_server_receives_the_number_with_its_plus(command: str, field: str) -> None:
    async with HttpSink(201, '{"id": "c-1"}') as sink:
        channel = CurlChannel("gw", command.replace("{sink}", sink.url))
        await channel.start()
        try:
            sent = await channel.send(outgoing(TRICKY))
        finally:
            await channel.stop()

    assert sent == Sent(("c-1",))
    [request] = sink.requests
    assert request.path == "/api/v1/originate/sms"
    fields = request.form if field == "form" else request.query_params
    assert fields == {"number": [TO], "message": [TRICKY]}
    if field == "form":
        assert request.method == "POST"
        assert request.headers["authorization"] == "Basic " + base64.b64encode(b"user:password").decode()
        assert request.headers["content-type"] == FORM


async def test_closed_port_is_unreachable() -> None:
    async with HttpSink() as sink:
        url = sink.url
    channel = CurlChannel("gw", f"curl {url} --data-urlencode to={{TO_NUMBER}} --data-urlencode m={{MESSAGE}}")
    await channel.start()
    try:
        with pytest.raises(Unreachable):
            await channel.send(outgoing())
    finally:
        await channel.stop()

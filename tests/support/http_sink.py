"""A real HTTP/1.1 server on 127.0.0.1 for tests: records every request and answers as told.

    async with HttpSink(status=201, body='{"sid": "SM1"}') as sink:
        ...  # point a client at sink.url
        assert sink.requests[0].form == {"number": ["+15551234567"]}

A request is recorded before it is answered, so once the client has its answer the request is in
`requests`: no waiting or polling. Keep-alive connections are served; chunked request bodies are not
(httpx sends Content-Length for the bodies Parley builds).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    target: str  # as sent on the request line: path and raw query
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> str:
        """The raw query string, still percent-encoded."""
        return urlsplit(self.target).query

    @property
    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    @property
    def form(self) -> dict[str, list[str]]:
        """The body read as application/x-www-form-urlencoded."""
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass(frozen=True)
class SinkResponse:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[RecordedRequest], SinkResponse]
Hold = Callable[[RecordedRequest], Awaitable[None]]


class HttpSink:
    """Answers every request with ``respond(request)``, or with the fixed status and body given; ``hold``, when
    given, is awaited between recording a request and answering it (a receiver that takes its time)."""

    def __init__(
        self,
        status: int = 200,
        body: bytes | str = b'{"type":"result","result":"Success"}',
        *,
        content_type: str = "application/json",
        respond: Responder | None = None,
        hold: Hold | None = None,
        tls: ssl.SSLContext | None = None,  # HTTPS with this server context
    ) -> None:
        self.requests: list[RecordedRequest] = []
        self.respond: Responder = respond or (lambda _: SinkResponse(status, body, content_type))
        self.hold = hold
        self.tls = tls
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def answer(self, status: int = 200, body: bytes | str = b"", content_type: str = "application/json") -> None:
        """Answer from now on with this status and body."""
        self.respond = lambda _: SinkResponse(status, body, content_type)

    async def __aenter__(self) -> HttpSink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while request := await _read_request(reader):
                self.requests.append(request)
                if self.hold is not None:
                    await self.hold(request)
                writer.write(_encode(self.respond(request)))
                await writer.drain()
                if request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-request: nothing to record
        finally:
            self._writers.discard(writer)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RecordedRequest(method, target, headers, body)


def _encode(response: SinkResponse) -> bytes:
    body = response.body.encode() if isinstance(response.body, str) else response.body
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    headers = {"Content-Type": response.content_type, **response.headers, "Content-Length": str(len(body))}
    head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body

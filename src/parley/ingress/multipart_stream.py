"""One file out of a multipart/form-data body, streamed as it arrives.

Starlette's form parser spools every file to a temporary file before the route sees it: for a 100 MB upload that
is 100 MB on disk (and up to 1 MB in memory per file) before the type or the size can be judged. This reads the
body as it streams (python-multipart's push parser, fed from ``request.stream()``) and hands the route the chosen
part's bytes as an async iterator: what the route does not keep is never held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header


class UploadError(Exception):
    """The body is not a multipart form with the expected part (400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _decoded(value: bytes) -> str:
    """Browsers send non-ASCII file names as raw UTF-8 (RFC 7578 §4.2); anything else is read as Latin-1."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data Content-Type; raises `UploadError` for any other type."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise UploadError("send the file as multipart/form-data, in the field 'file'")
    return boundary


class MultipartFile:
    """The first part named ``field`` of a multipart body: `find` reads up to its headers, `chunks` its bytes."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes, field: str) -> None:
        self._body = body
        self._field = field.encode()
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )
        self._header = (bytearray(), bytearray())
        self._headers: dict[bytes, bytes] = {}
        self._in_target = self._found = self._done = self._ended = False
        self._pending: list[bytes] = []
        self.filename = ""
        self.content_type: str | None = None

    # python-multipart's callbacks: synchronous, so they only note what arrived; the awaits happen in `_pump`.
    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0].extend(data[start:end])

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1].extend(data[start:end])

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header[0]).lower()] = bytes(self._header[1])
        self._header = (bytearray(), bytearray())

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b"").decode("latin-1"))
        if self._found or options.get(b"name") != self._field:
            return
        self._found = self._in_target = True
        self.filename = _decoded(options.get(b"filename", b"")) or "upload"
        declared = self._headers.get(b"content-type")
        self.content_type = declared.decode("latin-1") if declared else None

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_target:
            self._pending.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._in_target:
            self._in_target, self._done = False, True

    async def _pump(self) -> None:
        """Feed the parser the next piece of the body."""
        try:
            data = await anext(self._body)
        except StopAsyncIteration:
            self._ended = True
            data = b""
        try:
            if data:
                self._parser.write(data)
            elif self._ended:
                self._parser.finalize()
        except FormParserError:
            raise UploadError("the body is not valid multipart/form-data") from None

    async def find(self) -> None:
        """Read up to the part's headers (``filename``, ``content_type``); raises `UploadError` without one."""
        while not self._found:
            if self._ended:
                raise UploadError(f"no file in the field '{self._field.decode()}'")
            await self._pump()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The part's bytes, as they arrive (the rest of the body is not read)."""
        while True:
            while self._pending:
                yield self._pending.pop(0)
            if self._done:
                return
            if self._ended:
                raise UploadError("the body ends in the middle of the file")
            await self._pump()

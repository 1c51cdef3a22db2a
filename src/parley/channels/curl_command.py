"""A curl command line, parsed (never run) into a request template for the curl channel.

`shlex.split` yields the words a POSIX shell would (no expansion, no pipes, no subprocess) and a small
table of curl options (https://curl.se/docs/manpage.html) turns them into a `CurlTemplate`. Each send
fills `{TO_NUMBER}`, `{MESSAGE}` and `{FROM}`, each encoded for where it stands (see
`CurlTemplate.render`). Pure: no I/O.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote, urlsplit

FORM = "application/x-www-form-urlencoded"
_PLACEHOLDER = re.compile(r"\{(TO_NUMBER|MESSAGE|FROM)\}")
_ANY_PLACEHOLDER = re.compile(r"\{[A-Z][A-Z0-9_]*\}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 §5.6.2: header names and methods
_SECRET = r"(?:pass|secret|token|key|auth|sig)"
_SECRET_NAME = re.compile(_SECRET, re.IGNORECASE)
_SECRET_PAIR = re.compile(rf"((?:^|[?&])[^=&?\s\"]*{_SECRET}[^=&?\s\"]*=)[^&#]*", re.IGNORECASE)
_SECRET_JSON = re.compile(rf"(\"[^\"]*{_SECRET}[^\"]*\"\s*:\s*\")[^\"]*", re.IGNORECASE)
_USERINFO = re.compile(r"(//[^/:@]*:)[^/@]*@")
_SHORT = {"X": "request", "u": "user", "H": "header", "d": "data", "m": "max-time", "k": "insecure",
          "G": "get", "s": "silent", "S": "show-error", "v": "verbose", "L": "location"}  # fmt: skip
_WITH_VALUE = frozenset({"request", "user", "header", "data", "data-ascii", "data-raw", "data-binary",
                         "data-urlencode", "url", "max-time", "connect-timeout"})  # fmt: skip
_FLAGS = frozenset({"insecure", "get", "silent", "show-error", "verbose", "compressed", "location"})


class CurlCommandError(ValueError):
    """The pasted command is not one Parley can turn into a request; the message names the problem."""


@dataclass(frozen=True)
class DataPiece:
    """One data option; for ``--data-urlencode`` (``urlencode``) curl encodes ``content`` after ``name=``."""

    content: str
    urlencode: bool = False
    name: str = ""


@dataclass(frozen=True)
class RenderedRequest:
    """One HTTP request, ready to send. ``timeout`` is curl's ``-m`` (whole exchange) when it was given."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    auth: tuple[str, str] | None
    insecure: bool
    follow_redirects: bool
    timeout: float | None
    connect_timeout: float | None


@dataclass(frozen=True)
class CurlTemplate:
    """A parsed curl command: the request with its placeholders still in place."""

    url: str
    method: str
    headers: tuple[tuple[str, str], ...] = ()
    data: tuple[DataPiece, ...] = ()
    auth: tuple[str, str] | None = None
    get: bool = False
    insecure: bool = False
    follow_redirects: bool = False
    max_time: float | None = None
    connect_timeout: float | None = None

    @property
    def placeholders(self) -> frozenset[str]:
        """The placeholders the command uses, braces included (``{MESSAGE}``)."""
        texts = [self.url, *(v for _, v in self.headers), *(self.auth or ())]
        texts += [t for piece in self.data for t in (piece.name, piece.content)]
        return frozenset(found for text in texts for found in _ANY_PLACEHOLDER.findall(text))

    def header(self, name: str) -> str | None:
        """The value of the last header called ``name`` (any case), or None."""
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return values[-1] if values else None

    def render(self, *, to: str, message: str, sender: str) -> RenderedRequest:
        """Fill the placeholders, each value encoded the way its place needs.

        - URL (path or query) and data sent as a query string (``-G``): percent-encoded, so ``+`` is ``%2B``.
        - ``--data-urlencode``: substituted first, then the content is percent-encoded as curl does, so a
          message with ``&``, ``=`` or ``+`` stays one field.
        - ``-d``/``--data*``: curl sends these verbatim, so the admin has already encoded the fixed text; the
          *values* are encoded for the body's Content-Type: percent-encoded for a form (the default), else an
          ``&`` in a message would split the form; JSON-string-escaped for JSON; XML-escaped for XML; raw for
          any other type.
        - Headers and ``-u``: raw, but a CR, LF or NUL raises ValueError (header injection).
        """
        values = {"TO_NUMBER": to, "MESSAGE": message, "FROM": sender}

        def fill(text: str, encode: Callable[[str], str]) -> str:
            # One pass: a message that itself contains "{FROM}" is not substituted again.
            return _PLACEHOLDER.sub(lambda m: encode(values[m[1]]), text)

        encode_data = _percent if self.get else self._body_encoder()
        data = "&".join(
            f"{fill(p.name, _percent)}{'=' if p.name else ''}{_percent(fill(p.content, str))}"
            if p.urlencode
            else fill(p.content, encode_data)
            for p in self.data
        )
        url, body = fill(self.url, _percent), b""
        if self.data and self.get:
            url += ("&" if "?" in url else "?") + data
        elif self.data:
            body = data.encode()
        # curl drops a header given with an empty value ("-H 'Accept:'"): so does Parley.
        headers = tuple((n, _one_line(f'header "{n}"', fill(v, str))) for n, v in self.headers if v)
        if self.data and not self.get and self.header("content-type") is None:
            headers += (("Content-Type", FORM),)
        auth = None
        if self.auth is not None:
            auth = (_one_line("-u", fill(self.auth[0], str)), _one_line("-u", fill(self.auth[1], str)))
        return RenderedRequest(
            self.method,
            url,
            headers,
            body,
            auth,
            self.insecure,
            self.follow_redirects,
            self.max_time,
            self.connect_timeout,
        )

    def describe(self) -> str:
        """The command as a curl line for logs: passwords, tokens and keys are replaced by ``***``."""
        words = ["curl", "-X", self.method, *(["-k"] if self.insecure else [])]
        if self.auth is not None:
            words += ["-u", f"{self.auth[0]}:***"]
        for name, value in self.headers:
            words += ["-H", f"{name}: {'***' if value and _SECRET_NAME.search(name) else value}"]
        for p in self.data:
            # A --data-urlencode content with "=" or "@" must keep its "=" to mean the same on re-parse.
            plain = not p.urlencode or not (p.name or "=" in p.content or "@" in p.content)
            text = p.content if plain else f"{p.name}={p.content}"
            words += ["--data-urlencode" if p.urlencode else "--data-raw", redact(text)]
        words += ["-G"] * self.get + ["-L"] * self.follow_redirects
        words += ["-m", _decimal(self.max_time)] if self.max_time else []
        words += ["--connect-timeout", _decimal(self.connect_timeout)] if self.connect_timeout else []
        return shlex.join([*words, "--url", redact(self.url)])

    def _body_encoder(self) -> Callable[[str], str]:
        media = (self.header("content-type") or FORM).split(";")[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            return lambda value: json.dumps(value, ensure_ascii=False)[1:-1]
        if media in ("application/xml", "text/xml") or media.endswith("+xml"):
            return html.escape  # &amp; &lt; &gt; &quot; &#x27; are all valid XML
        return _percent if media == FORM else str


def parse_curl(command: str) -> CurlTemplate:
    """Turn a curl command line into a `CurlTemplate`, or raise `CurlCommandError` saying what is wrong.

    The leading ``curl`` is optional; backslash-newline continuations are joined as a shell would.
    """
    try:
        words = shlex.split(re.sub(r"\\\r?\n", "", command))
    except ValueError as exc:
        problem = "unbalanced quotes" if "quotation" in str(exc) else "the command ends with a lone backslash"
        raise CurlCommandError(problem) from exc
    if words and words[0].rsplit("/", 1)[-1] in ("curl", "curl.exe"):
        words = words[1:]
    opts: list[tuple[str, str]] = []  # in command order; a flag's value is ""
    i = 0
    while i < len(words):
        word, i = words[i], i + 1
        for name, value in _options(word) if word.startswith("-") and word != "-" else [("url", word)]:
            if value is None:
                if i == len(words):
                    raise CurlCommandError(f'option "{word}" needs a value')
                value, i = words[i], i + 1
            opts.append((name, value))
    last = dict(opts)  # an option given twice: the last one wins, as in curl
    data = tuple(_data(name, value) for name, value in opts if name.startswith("data"))
    get = "get" in last
    template = CurlTemplate(
        url=_url([value for name, value in opts if name == "url"]),
        method=_method(last.get("request")) or ("POST" if data and not get else "GET"),
        headers=tuple(_header(value) for name, value in opts if name == "header"),
        data=data,
        auth=_auth(last.get("user")),
        get=get,
        insecure="insecure" in last,
        follow_redirects="location" in last,
        max_time=_seconds("max-time", last.get("max-time")),
        connect_timeout=_seconds("connect-timeout", last.get("connect-timeout")),
    )
    unknown = sorted(template.placeholders - {"{TO_NUMBER}", "{MESSAGE}", "{FROM}"})
    if unknown:
        raise CurlCommandError(f"unknown placeholder {unknown[0]}: use {{TO_NUMBER}}, {{MESSAGE}} or {{FROM}}")
    return template


def _options(word: str) -> list[tuple[str, str | None]]:
    """``--name[=value]`` or a bundle of short options (``-sSk``, ``-XPOST``, ``-uuser:pass``).

    A flag's value is ""; None means the value is the next word.
    """
    if word.startswith("--"):
        name, eq, value = word[2:].partition("=")
        if name not in _WITH_VALUE | _FLAGS:
            raise CurlCommandError(f'unsupported option "--{name}"')
        if eq and name in _FLAGS:
            raise CurlCommandError(f'option "--{name}" takes no value')
        return [(name, value if eq else None if name in _WITH_VALUE else "")]
    found: list[tuple[str, str | None]] = []
    for at, letter in enumerate(word[1:], start=2):
        if letter not in _SHORT:
            raise CurlCommandError(f'unsupported option "-{letter}"')
        if _SHORT[letter] in _WITH_VALUE:
            return [*found, (_SHORT[letter], word[at:] or None)]
        found.append((_SHORT[letter], ""))
    return found


def _url(urls: list[str]) -> str:
    if len(urls) != 1:
        raise CurlCommandError(
            f"more than one URL in the command: {', '.join(urls)}" if urls else "no URL in the command"
        )
    url = urls[0] if "://" in urls[0] else f"http://{urls[0]}"  # curl's default scheme
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise CurlCommandError(f'bad URL "{url}": {exc}') from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise CurlCommandError(f'unsupported URL scheme "{parts.scheme}": use http or https')
    if not parts.hostname:
        raise CurlCommandError(f'no host in the URL "{url}"')
    return url


def _method(value: str | None) -> str | None:
    if value is not None and not _TOKEN.fullmatch(value):
        raise CurlCommandError(f'"{value}" is not an HTTP method')
    return value.upper() if value else None


def _auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, colon, password = value.partition(":")
    if not colon:
        raise CurlCommandError('-u needs "user:password" (curl would ask for the password)')
    return user, password


def _header(value: str) -> tuple[str, str]:
    name, colon, rest = value.partition(":")
    if value.startswith("@"):
        raise CurlCommandError(f'reading headers from a file ("{value}") is not supported')
    if not colon or not _TOKEN.fullmatch(name):
        raise CurlCommandError(f'header "{value}" is not "Name: value"')
    return name, rest.strip()


def _data(option: str, value: str) -> DataPiece:
    if option != "data-urlencode":  # -d, --data, --data-ascii, --data-binary, --data-raw: sent verbatim
        if value.startswith("@") and option != "data-raw":
            raise CurlCommandError(f'--{option} "{value}" reads a file, which is not supported')
        return DataPiece(value)
    # curl's order: a "=" makes name=content; else an "@" means a file; else it is all content.
    name, eq, content = value.partition("=")
    if not eq and "@" in value:
        raise CurlCommandError(f'--data-urlencode "{value}" reads a file, which is not supported')
    return DataPiece(content, urlencode=True, name=name) if eq else DataPiece(value, urlencode=True)


def _seconds(option: str, value: str | None) -> float | None:
    if value is None:
        return None
    seconds = float(value) if re.fullmatch(r"\d+(\.\d*)?|\.\d+", value) else 0.0
    if not seconds > 0:
        raise CurlCommandError(f'--{option} needs a number of seconds, not "{value}"')
    return seconds


def _decimal(seconds: float) -> str:
    """Seconds as `_seconds` reads them back: plain digits, never an exponent (``1e+06``)."""
    text = format(Decimal(repr(seconds)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _percent(value: str) -> str:
    return quote(value, safe="")  # what curl_easy_escape does: only A-Z a-z 0-9 - . _ ~ stay as they are


def _one_line(where: str, value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"{where} would contain a line break or NUL: refused to prevent header injection")
    return value


def redact(text: str) -> str:
    text = _USERINFO.sub(r"\1***@", text)
    return _SECRET_JSON.sub(r"\1***", _SECRET_PAIR.sub(r"\1***", text))

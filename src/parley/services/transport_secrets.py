"""The credentials in a curl transport's command line: masked whenever the command is shown, kept on save.

Issue 10: the command came back verbatim to the admin API and console, password included. Secrets are
found word by word, as the shell would split the line: ``-u user:PASS``; the value of a header whose
name speaks of a credential (``Authorization: Bearer TOKEN``, ``X-Api-Key: KEY``); and in URLs and data,
``user:PASS@`` and the values of fields named like pass, token, key, secret, auth or sig (``&api_key=KEY``,
``"password": "PASS"``). Each is replaced by `MASK`.

A command saved with masks in it gets the stored secrets back in place of the masks, in order, so an
admin can change the URL of a transport without typing its password again. When the masks no longer
match the stored secrets one for one, the save is refused: guessing which mask was which could send a
password where it does not belong.
"""

from __future__ import annotations

import re
import shlex

MASK = "********"

_SECRET = r"(?:pass|secret|token|key|auth|sig)"
_SECRET_HEADER = re.compile(rf"{_SECRET}|cookie", re.IGNORECASE)
_USERINFO = re.compile(r"//[^/:@\s]*:([^/@\s]+)@")
_PAIR = re.compile(rf"(?:^|[?&])[^=&?\s\"]*{_SECRET}[^=&?\s\"]*=([^&#\s]+)", re.IGNORECASE)
_JSON = re.compile(rf"\"[^\"]*{_SECRET}[^\"]*\"\s*:\s*\"([^\"]+)\"", re.IGNORECASE)
_SHORT_WITH_VALUE = frozenset("XuHdm")  # curl's -X -u -H -d -m take a value (in the same word or the next)
_LONG_WITH_VALUE = frozenset({"request", "user", "header", "data", "data-ascii", "data-raw", "data-binary",
                              "data-urlencode", "url", "max-time", "connect-timeout"})  # fmt: skip


class MaskMismatch(ValueError):
    """A masked command whose masks do not stand for the stored secrets one for one."""


def _words(command: str) -> list[str]:
    return shlex.split(re.sub(r"\\\r?\n", "", command))


def _option(word: str) -> tuple[str, int] | None:
    """The option a word starts, and where its value begins in the word (len(word): the value is the next word)."""
    if word.startswith("--"):
        name, eq, _ = word[2:].partition("=")
        if name not in _LONG_WITH_VALUE:
            return None  # a flag (--insecure, --location): the next word is not its value
        return name, (len(name) + 3 if eq else len(word))
    if word.startswith("-") and len(word) > 1:
        for at, letter in enumerate(word[1:], start=1):
            if letter in _SHORT_WITH_VALUE:
                return {"u": "user", "H": "header"}.get(letter, letter), at + 1
    return None


def _spans(kind: str, value: str) -> list[tuple[int, int]]:
    """Where the secrets are in an option's value (or a plain word, kind "")."""
    if kind == "user":
        at = value.find(":")
        return [(at + 1, len(value))] if at >= 0 and at + 1 < len(value) else []
    if kind == "header":
        name, colon, rest = value.partition(":")
        if not colon or not _SECRET_HEADER.search(name) or not rest.strip():
            return []
        start = len(name) + 1 + (len(rest) - len(rest.lstrip()))
        scheme, space, _ = value[start:].partition(" ")
        if space and scheme.lower() in ("basic", "bearer", "token", "digest"):
            start += len(scheme) + 1
        return [(start, len(value))]
    found: list[tuple[int, int]] = []
    for span in sorted(m.span(1) for pattern in (_USERINFO, _PAIR, _JSON) for m in pattern.finditer(value)):
        if not found or span[0] >= found[-1][1]:  # overlapping matches: the first one masks both
            found.append(span)
    return found


def _secret_spans(words: list[str]) -> list[list[tuple[int, int]]]:
    """For each word, the spans of the secrets in it."""
    spans: list[list[tuple[int, int]]] = []
    pending: str | None = None  # the option whose value is this word
    for word in words:
        if pending is not None:
            spans.append(_spans(pending, word))
            pending = None
            continue
        option = _option(word)
        if option is None:
            spans.append(_spans("", word))
            continue
        kind, at = option
        if at >= len(word):
            pending = kind
            spans.append([])
        else:
            spans.append([(at + s, at + e) for s, e in _spans(kind, word[at:])])
    return spans


def secrets_in(command: str) -> list[str]:
    """The command's secrets, in the order they appear."""
    words = _words(command)
    return [word[s:e] for word, spans in zip(words, _secret_spans(words), strict=True) for s, e in spans]


def mask(command: str) -> str:
    """The command as it may be shown: each secret replaced by `MASK` (unchanged when it has none, or does not
    even split as a shell line)."""
    try:
        words = _words(command)
    except ValueError:
        return command
    spans = _secret_spans(words)
    if not any(spans):
        return command
    masked = []
    for word, found in zip(words, spans, strict=True):
        for start, end in reversed(found):
            word = word[:start] + MASK + word[end:]
        masked.append(word)
    return shlex.join(masked)


def unmask(command: str, stored: str) -> str:
    """The command to save: the masks of a shown command replaced by the stored secrets, in order."""
    if MASK not in command:
        return command
    try:
        words = _words(command)
    except ValueError:
        return command  # the curl parser will name the quoting problem
    secrets = secrets_in(stored) if stored else []
    if sum(word.count(MASK) for word in words) != len(secrets):
        raise MaskMismatch(
            f"the command has {MASK} where the stored one had different credentials: type them again in full"
        )
    given = iter(secrets)
    restored = []
    for word in words:
        pieces = word.split(MASK)
        restored.append(pieces[0] + "".join(next(given) + piece for piece in pieces[1:]))
    return shlex.join(restored)

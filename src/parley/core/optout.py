"""Customers' opt-out keywords and agents' block commands (issue 3 §7). Pure.

The keyword lists are the carriers' defaults (Twilio on long codes and toll-free, with REVOKE and OPTOUT added for
the FCC 2024/25 consent rule): opt-out STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT; opt-in START,
YES, UNSTOP; help HELP, INFO.

A message that *is* a keyword — ignoring case, width (NFKC), spaces and trailing punctuation — counts, as carriers
count it. A message that merely contains an opt-out keyword as a whole word ("Stop. Thank you", "stop texting me")
is a *probable* opt-out: not recorded as one, but flagged to the agents, who decide. Missing an opt-out costs more
than a needless flag, so every opt-out keyword counts there, wherever it stands. Opt-in and help words inside a
sentence mean nothing ("yes please call me" is not consent to resume), and words inside words never match
("stopwatch", "backend", "cancellation").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
OPT_IN_WORDS = frozenset({"start", "yes", "unstop"})
HELP_WORDS = frozenset({"help", "info"})

_EXACT = {
    **dict.fromkeys(OPT_OUT_WORDS, Keyword.STOP),
    **dict.fromkeys(OPT_IN_WORDS, Keyword.START),
    **dict.fromkeys(HELP_WORDS, Keyword.HELP),
}
_WORD = re.compile(r"\w+")
# "opt out" / "opt-out" written apart is OPTOUT in a sentence.
_OPT_OUT_PHRASE = re.compile(r"\bopt[\s\-_]*out\b")


@dataclass(frozen=True)
class KeywordMatch:
    keyword: Keyword
    exact: bool  # the whole message is the keyword; False: an opt-out word inside a longer message


def _normalise(text: str) -> str:
    """NFKC (full-width letters become ASCII) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _strip_trailing(text: str) -> str:
    """Drop surrounding spaces and any run of punctuation and spaces at the end: " STOP ! " → "stop"."""
    end = len(text)
    while end and (text[end - 1].isspace() or unicodedata.category(text[end - 1]).startswith("P")):
        end -= 1
    return text[:end].strip()


def classify(text: str) -> KeywordMatch | None:
    """What a customer's message says about their consent, if anything.

    ``KeywordMatch(keyword, exact=True)`` when the message is one of the keywords; ``KeywordMatch(STOP,
    exact=False)`` when it contains an opt-out keyword as a word; None otherwise.
    """
    normal = _normalise(text)
    keyword = _EXACT.get(_strip_trailing(normal))
    if keyword is not None:
        return KeywordMatch(keyword, exact=True)
    if any(word in OPT_OUT_WORDS for word in _WORD.findall(normal)) or _OPT_OUT_PHRASE.search(normal):
        return KeywordMatch(Keyword.STOP, exact=False)
    return None


def agent_command(text: str) -> Keyword | None:
    """STOP or START when an agent's message in a conversation is exactly that word (any case, trimmed): STOP blocks
    the customer's further messages to the company number, START lifts the block (seed 001). None otherwise."""
    word = _normalise(text).strip()
    if word == Keyword.STOP:
        return Keyword.STOP
    if word == Keyword.START:
        return Keyword.START
    return None

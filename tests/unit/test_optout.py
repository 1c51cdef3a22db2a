"""Customers' opt-out keywords and agents' STOP / START commands."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.core.optout import (
    HELP_WORDS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Keyword,
    KeywordMatch,
    agent_command,
    classify,
)

STOP = KeywordMatch(Keyword.STOP, exact=True)
START = KeywordMatch(Keyword.START, exact=True)
HELP = KeywordMatch(Keyword.HELP, exact=True)
PROBABLE_STOP = KeywordMatch(Keyword.STOP, exact=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Every carrier keyword, as the whole message.
        pytest.param("STOP", STOP, id="stop"),
        pytest.param("STOPALL", STOP, id="stopall"),
        pytest.param("UNSUBSCRIBE", STOP, id="unsubscribe"),
        pytest.param("CANCEL", STOP, id="cancel"),
        pytest.param("END", STOP, id="end"),
        pytest.param("QUIT", STOP, id="quit"),
        pytest.param("REVOKE", STOP, id="revoke"),
        pytest.param("OPTOUT", STOP, id="optout"),
        pytest.param("START", START, id="start"),
        pytest.param("YES", START, id="yes"),
        pytest.param("UNSTOP", START, id="unstop"),
        pytest.param("HELP", HELP, id="help"),
        pytest.param("INFO", HELP, id="info"),
        # The message is the keyword, written loosely.
        pytest.param("Stop", STOP, id="capitalised"),
        pytest.param("stop", STOP, id="lower-case"),
        pytest.param(" STOP! ", STOP, id="spaces-and-exclamation"),
        pytest.param("stop.", STOP, id="full-stop"),
        pytest.param("STOP !!!", STOP, id="space-before-punctuation"),
        pytest.param("\tUnsubscribe?\n", STOP, id="tabs-and-newlines"),
        pytest.param("ＳＴＯＰ", STOP, id="full-width-letters"),
        pytest.param("ｓｔｏｐ！", STOP, id="full-width-letters-and-punctuation"),
        pytest.param("Yes.", START, id="yes-with-full-stop"),
        pytest.param("help?", HELP, id="help-question"),
        # An opt-out word inside a longer message: probable, for the agents to judge.
        pytest.param("Stop. Thank you", PROBABLE_STOP, id="issue-stop-thank-you"),
        pytest.param("stop texting me", PROBABLE_STOP, id="issue-stop-texting-me"),
        pytest.param("please unsubscribe me", PROBABLE_STOP, id="please-unsubscribe-me"),
        pytest.param("Please cancel these messages", PROBABLE_STOP, id="cancel-in-a-sentence"),
        pytest.param("I want to opt out", PROBABLE_STOP, id="opt-out-as-two-words"),
        pytest.param("opt-out please", PROBABLE_STOP, id="opt-out-hyphenated"),
        pytest.param("STOP STOP", PROBABLE_STOP, id="keyword-twice"),
        pytest.param("stop 🙏", PROBABLE_STOP, id="keyword-and-emoji"),
        pytest.param("«stop»", PROBABLE_STOP, id="quoted-keyword"),
        pytest.param("don't text me, STOP", PROBABLE_STOP, id="keyword-at-the-end"),
        # Opt-in and help words inside a sentence mean nothing.
        pytest.param("yes please call me", None, id="yes-in-a-sentence-is-not-opt-in"),
        pytest.param("can you start the repair tomorrow", None, id="start-in-a-sentence"),
        pytest.param("I need help with my order", None, id="help-in-a-sentence"),
        pytest.param("more info please", None, id="info-in-a-sentence"),
        # Keywords inside other words never match.
        pytest.param("my stopwatch broke", None, id="stopwatch"),
        pytest.param("the backend is down", None, id="backend"),
        pytest.param("about the cancellation fee", None, id="cancellation"),
        pytest.param("that was unstoppable", None, id="unstoppable"),
        pytest.param("adopt outside cats", None, id="adopt-outside"),
        pytest.param("yesterday", None, id="yesterday"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param("Thanks, see you Monday", None, id="ordinary-message"),
    ],
)
def test_customer_messages_are_classified(text: str, expected: KeywordMatch | None) -> None:
    assert classify(text) == expected


def test_the_keyword_lists_are_the_carriers_defaults() -> None:
    assert {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"} == OPT_OUT_WORDS
    assert {"start", "yes", "unstop"} == OPT_IN_WORDS
    assert {"help", "info"} == HELP_WORDS


_PUNCTUATION = st.text(alphabet=" .!?,;:…", max_size=4)


@given(st.sampled_from(sorted(OPT_OUT_WORDS)), _PUNCTUATION, st.sampled_from([str.upper, str.lower, str.title]))
def test_any_opt_out_keyword_with_any_case_and_trailing_punctuation_is_exact(
    word: str, tail: str, case: Callable[[str], str]
) -> None:
    assert classify(" " + case(word) + tail) == STOP


@given(st.sampled_from(sorted(OPT_OUT_WORDS)), st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=30))
def test_a_sentence_containing_an_opt_out_word_is_at_least_a_probable_opt_out(word: str, rest: str) -> None:
    match = classify(f"{rest} {word} {rest}")
    assert match is not None and match.keyword is Keyword.STOP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("STOP", Keyword.STOP, id="stop"),
        pytest.param(" stop\n", Keyword.STOP, id="stop-trimmed-any-case"),
        pytest.param("Start", Keyword.START, id="start"),
        pytest.param("ＳＴＡＲＴ", Keyword.START, id="start-full-width"),
        pytest.param("stop!", None, id="punctuation-is-not-a-command"),
        pytest.param("stop it", None, id="stop-in-a-sentence"),
        pytest.param("UNSUBSCRIBE", None, id="customer-keywords-are-not-agent-commands"),
        pytest.param("yes", None, id="yes-is-not-start"),
        pytest.param("", None, id="empty"),
    ],
)
def test_an_agent_blocks_or_unblocks_by_typing_exactly_stop_or_start(text: str, expected: Keyword | None) -> None:
    assert agent_command(text) == expected

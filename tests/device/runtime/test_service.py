"""The manner guard between the model and the listener, on hand-made replies and real events."""

from __future__ import annotations

import pytest

from device.commentary.delivery import read_text
from device.commentary.events import DISMISSAL_KINDS, OUTCOMES, Canonical
from device.commentary.guard import clean_reply, guard, problems_with, safe_line

WICKET_KINDS = DISMISSAL_KINDS


@pytest.mark.parametrize("outcome", [o for o in OUTCOMES if o != "wicket"])
def test_the_fallback_line_of_every_class_passes_every_check(outcome):
    event = Canonical(outcome=outcome, confident=outcome != "unclear")
    assert problems_with(safe_line(event), event) == []


@pytest.mark.parametrize("kind", WICKET_KINDS)
def test_the_fallback_line_of_every_dismissal_passes_and_is_never_silence(kind):
    event = Canonical(outcome="wicket", dismissal=kind, player_out="X")
    line = safe_line(event)
    assert line and problems_with(line, event) == []


@pytest.mark.parametrize(
    "raw,text,expected_problem",
    [
        ("Gone.", "Lyon to Pant, dropped at short leg", "contradiction"),
        ("Four.", "Starc to Kohli, SIX, over long-on", "contradiction"),
        ("What a shot!", "Starc to Kohli, FOUR, driven through cover", "exclamation"),
        ("That is a very fine cover drive indeed", "Starc to Kohli, FOUR, driven through cover", "too_long"),
        ("", "Bumrah to Smith, OUT, bowled", "silent_on_wicket"),
        ("We needed that.", "Bumrah to Smith, OUT, bowled", "banned"),
    ],
)
def test_a_bad_reply_is_replaced_by_a_line_that_passes(raw, text, expected_problem):
    event = read_text(text)
    reply, problems = guard(raw, event, event_text=text)
    assert any(p.startswith(expected_problem) for p in problems), problems
    assert reply != raw
    assert problems_with(reply, event, text) == []


@pytest.mark.parametrize(
    "raw,text",
    [
        ("Lovely shot.", "Starc to Kohli, FOUR, driven through cover"),
        ("Got him.", "Bumrah to Smith, OUT, caught at second slip"),
        ("", "Cummins to Root, no run, defended"),
    ],
)
def test_a_good_reply_goes_through_unchanged(raw, text):
    event = read_text(text)
    assert guard(raw, event, event_text=text) == (raw, [])


def test_clean_reply_takes_the_first_line_without_quotes():
    assert clean_reply('  "Marvellous."  \nAnd then some more') == "Marvellous."
    assert clean_reply("   ") == ""
    assert clean_reply("'Got him.'") == "Got him."

"""The manner guard between the model and the listener, on hand-made replies and real events."""

from __future__ import annotations

import pytest

from device.commentary.delivery import read_event, read_text
from device.commentary.events import DISMISSAL_KINDS, OUTCOMES, Canonical
from device.commentary.guard import clean_reply, fallback_line, guard, line_key, problems_with, safe_line, spare_lines

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


@pytest.mark.parametrize("outcome", [o for o in OUTCOMES if o != "wicket"])
def test_every_plain_alternate_passes_every_check_for_its_class(outcome):
    event = Canonical(outcome=outcome, confident=outcome != "unclear")
    assert [(line, problems_with(line, event)) for line in spare_lines(event) if problems_with(line, event)] == []


@pytest.mark.parametrize("kind", WICKET_KINDS)
def test_every_plain_alternate_of_a_dismissal_passes_every_check(kind):
    event = Canonical(outcome="wicket", dismissal=kind, player_out="X")
    assert [(line, problems_with(line, event)) for line in spare_lines(event) if problems_with(line, event)] == []


def test_a_fallback_the_match_heard_lately_gives_way_to_an_unheard_alternate_then_to_silence():
    wide = Canonical(outcome="wide")
    heard: set[str] = set()
    said = []
    for _ in range(6):
        line = fallback_line(wide, recent=heard)
        said.append(line)
        heard.add(line_key(line))
    spoken = [s for s in said if s]
    assert spoken[0] == "Wide." and len(spoken) == len(set(spoken)) == 1 + len(spare_lines(wide))
    assert said[-1] == ""  # every plain line heard: the picture says it


def test_a_wicket_whose_every_plain_line_was_heard_still_speaks():
    event = Canonical(outcome="wicket", dismissal="caught", player_out="X")
    heard = {line_key(x) for x in [safe_line(event), *spare_lines(event)]}
    assert fallback_line(event, recent=heard) == safe_line(event)
    assert fallback_line(event) == safe_line(event)  # no memory: the plain line, as before


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


def test_a_name_the_prompt_does_not_hold_is_replaced_when_the_guard_has_the_prompt():
    prompt = "Outcome: dot\nWoakes to Guptill, no run, beaten outside off"
    event = read_text(prompt.split("\n", 1)[1])
    reply, problems = guard("Tight from Owls.", event, prompt=prompt)
    assert "stranger:Owls" in problems and reply != "Tight from Owls."
    assert guard("Tight from Woakes.", event, prompt=prompt) == ("Tight from Woakes.", [])
    # without the prompt (a caller that has none) the name is not judged
    assert guard("Tight from Owls.", event) == ("Tight from Owls.", [])


def test_a_person_named_by_initials_is_replaced():
    four = Canonical("four", runs=4, batter="JJ Roy", bowler="MJ Henry")
    reply, problems = guard("Lovely from JJ.", four, event_text="Henry to Roy, FOUR")
    assert "initials:JJ" in problems and reply != "Lovely from JJ."
    assert guard("Lovely from Roy.", four, event_text="Henry to Roy, FOUR") == ("Lovely from Roy.", [])


def test_a_batter_named_as_the_bowler_is_replaced():
    event = read_event(
        delivery={"batter": "HM Nicholls", "bowler": "LE Plunkett", "runs": {"batter": 0, "extras": 0, "total": 0}},
        context={},
    )
    reply, problems = guard("Tight from Nicholls.", event)
    assert "miscast:Nicholls" in problems and reply != "Tight from Nicholls."
    assert guard("Tight from Plunkett.", event) == ("Tight from Plunkett.", [])

"""device.commentary.manner: the Benaud checker on hand-written (event, reply) pairs and small tables.

Run:  .venv/bin/pytest -q tests/device/commentary/test_manner.py
tests/data/contradicting_pairs.jsonl holds hand-written pairs with the verdict a person gives:
"ok": false pairs must be rejected (a problem code or an unfit reply), "ok": true ones accepted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from device.commentary.delivery import read_text
from device.commentary.events import Canonical
from device.commentary.manner import (
    BANNED,
    MAX_WORDS,
    check_reply,
    claims,
    contradicts,
    echo,
    fits,
    initials,
    miscast,
    strangers,
    word_count,
)

DATA = Path(__file__).resolve().parents[2] / "data"


def _pairs():
    rows = [json.loads(line) for line in (DATA / "contradicting_pairs.jsonl").read_text().splitlines() if line.strip()]
    return [(r["reply"], Canonical(**r["event"]), r["ok"]) for r in rows]


def _accepted(reply, ev):
    return not check_reply(reply, ev) and fits(reply, ev)


def test_hand_written_pairs():
    pairs = _pairs()
    bad = [(r, e) for r, e, ok in pairs if not ok]
    good = [(r, e) for r, e, ok in pairs if ok]
    assert len(bad) >= 40 and len(good) >= 40
    missed = [(r, e.outcome, e.dismissal) for r, e in bad if _accepted(r, e)]
    refused = [(r, e.outcome, e.dismissal, check_reply(r, e)) for r, e in good if not _accepted(r, e)]
    assert not missed, f"bad pairs the checker let through: {missed}"
    assert not refused, f"good pairs the checker refused: {refused}"
    # most bad pairs are caught as contradictions proper, not just as bad manners
    as_contradiction = sum(contradicts(r, e) is not None for r, e in bad)
    print(f"{len(bad)} bad pairs rejected ({as_contradiction} as contradictions), {len(good)} good pairs accepted")
    assert as_contradiction >= 30


@pytest.mark.parametrize(
    "reply,event,code",
    [
        ("That is a lovely shot there, sir.", Canonical("four", runs=4), "too_long"),
        ("Lovely shot!", Canonical("four", runs=4), "exclamation"),
        ("We needed that.", Canonical("four", runs=4), "banned:we"),
        ("They're rattled.", Canonical("four", runs=4), "banned:they"),
        ("Their day.", Canonical("six", runs=6), "banned:their"),
        ("Tragic.", Canonical("dropped"), "banned:tragic"),
        ("Of course.", Canonical("dot", runs=0), "banned:of course"),
        ("Unclear.", Canonical("unclear", confident=False), "banned:unclear"),
        ("", Canonical("wicket", dismissal="lbw"), "silent_on_wicket"),
        ("Good\nshot.", Canonical("four", runs=4), "format:newline"),
        ('"Lovely."', Canonical("four", runs=4), "format:quotes"),
        ("**Six.**", Canonical("six", runs=6), "format:markup"),
        ("Gone.", Canonical("dropped"), "contradiction:wicket claimed on dropped"),
    ],
)
def test_problem_codes(reply, event, code):
    assert code in check_reply(reply, event)


def test_clean_replies_have_no_problems():
    for reply, ev in [
        ("Marvellous.", Canonical("six", runs=6)),
        ("", Canonical("dot", runs=0)),
        ("Got him.", Canonical("wicket", dismissal="caught")),
        ("Morning, everyone.", Canonical("dot", runs=0, day_start=True)),
        ("Well bowled, that.", Canonical("dot", runs=0)),
        ("Thus far, fine.", Canonical("runs", runs=1)),
    ]:
        assert check_reply(reply, ev) == [], reply


def test_word_count_and_constants():
    assert MAX_WORDS == 5
    assert word_count("Morning, everyone.") == 2
    assert word_count("A hat-trick, that's marvellous.") == 4
    assert word_count("") == 0
    assert {"we", "they", "us", "our", "tragedy", "disaster", "of course"} <= set(BANNED)


@pytest.mark.parametrize(
    "reply,outcomes",
    [
        ("Gone.", {"wicket"}),
        ("Got him.", {"wicket"}),
        ("Four.", {"four"}),
        ("Not four.", set()),
        ("Almost a six.", set()),
        ("No ball.", {"noball"}),
        ("Not out.", {"notout"}),
        ("Well bowled.", set()),
        ("Full and wide.", set()),
        ("Gone all the way.", {"six"}),
        ("Caught and bowled.", {"kind"}),
        ("Kohli goes.", {"wicket"}),
        ("Away it goes.", set()),
    ],
)
def test_claims(reply, outcomes):
    assert {c for c, _ in claims(reply)} == outcomes


def test_fits_by_class():
    assert (
        fits("", Canonical("dot", runs=0))
        and fits("", Canonical("runs", runs=1))
        and fits("", Canonical("wide", extras=1))
    )
    assert not fits("", Canonical("wicket", dismissal="bowled"))
    assert not fits("", Canonical("four", runs=4)) and not fits("", Canonical("dropped"))
    assert not fits("", Canonical("runs", runs=1, milestone="Root hundred"))
    assert not fits("Lovely shot.", Canonical("wicket", dismissal="caught"))
    assert fits("Lovely ball.", Canonical("wicket", dismissal="bowled"))
    assert not fits("Good ball.", Canonical("four", runs=4)) and not fits("Nothing in that.", Canonical("six", runs=6))
    # a leg-bye line is no answer to a boundary (the colour model said "Struck on the pad." for a six)
    for body in ("Struck on the pad.", "Off the pad.", "Brushes the thigh."):
        assert not fits(body, Canonical("six", runs=6)) and not fits(body, Canonical("four", runs=4))
    assert fits("Off the pads, four.", Canonical("four", runs=4)) and fits(
        "Off the hip. Six.", Canonical("six", runs=6)
    )
    # an unclear event gets a reply that claims nothing
    unclear = Canonical("unclear", confident=False)
    assert fits("Interesting.", unclear) and fits("", unclear)
    for claimy in ("Gone.", "Four.", "Dropped.", "Single.", "Wide."):
        assert not fits(claimy, unclear), claimy
        assert contradicts(claimy, unclear) is None  # no ground truth, so no contradiction


@pytest.mark.parametrize(
    "reply,event,apt",
    [
        # a spoken reply to a routine ball must react to it; contradicting nothing is not enough
        ("That's a long way.", Canonical("runs", runs=1), False),
        ("Quick single.", Canonical("runs", runs=1), True),
        ("Worked away to midwicket.", Canonical("runs", runs=2), True),
        ("That's a great one.", Canonical("runs", runs=1), False),
        ("Blowing it up.", Canonical("dot", runs=0), False),
        ("Tight from Bumrah.", Canonical("dot", runs=0), True),
        ("Well left.", Canonical("dot", runs=0), True),
        ("Good ball.", Canonical("dot", runs=0), True),
        ("Shares.", Canonical("four", runs=4), False),
        ("Lovely shot.", Canonical("four", runs=4), True),
        ("That's a long way.", Canonical("six", runs=6), True),
        ("Through the covers.", Canonical("four", runs=4), True),
        ("That's a long way.", Canonical("dropped", runs=0), False),
        ("Costly, that.", Canonical("dropped", runs=0), True),
        ("Nice.", Canonical("wide", extras=1), False),
        ("Wayward.", Canonical("wide", extras=1), True),
        ("Off the pad.", Canonical("legbyes", extras=1), True),
        ("Lovely day.", Canonical("byes", extras=2), False),
        ("Fine fifty.", Canonical("runs", runs=1, milestone="Root fifty"), True),  # the milestone is what it reacts to
    ],
)
def test_spoken_reply_must_react_to_its_class(reply, event, apt):
    assert fits(reply, event) is apt


def test_echo():
    text = "Starc to Kohli, FOUR, full and wide, driven through cover"
    assert echo("Driven through cover.", text)
    assert echo("Kohli.", text)
    assert not echo("Lovely shot.", text) and not echo("Four.", text) and not echo("", text)
    assert "echo" in check_reply("Full and wide, driven.", read_text(text), event_text=text)
    assert "echo" in check_reply("Kohli.", read_text(text))  # a bare name is never a reply
    assert "echo" not in check_reply("Lovely shot.", read_text(text), event_text=text)


def test_reader_and_checker_agree_on_hand_labelled_lines():
    """Replies that contradict the hand label are rejected when the event comes from the reader."""
    lines = [json.loads(line) for line in (DATA / "reader_lines.jsonl").read_text().splitlines() if line.strip()]
    wrong_for = {
        "wicket": "Dropped.",
        "dropped": "Gone.",
        "four": "Six.",
        "six": "Four.",
        "dot": "Got him.",
        "runs": "Bowled him.",
        "wide": "Plumb.",
        "noball": "Gone.",
        "byes": "Six.",
        "legbyes": "Gone.",
    }
    for line in lines:
        ev = read_text(line["text"])
        if line["outcome"] in wrong_for and ev.outcome == line["outcome"]:
            assert contradicts(wrong_for[line["outcome"]], ev), line["text"]


def test_checker_is_fast():
    pairs = _pairs() * 20
    start = time.perf_counter()
    for reply, ev, _ in pairs:
        check_reply(reply, ev, event_text="Starc to Kohli, FOUR, driven through cover")
        fits(reply, ev)
    per = (time.perf_counter() - start) / len(pairs)
    assert per < 0.002, f"{per * 1e6:.0f} us a pair"


@pytest.mark.parametrize(
    "reply", ["Out of the attack.", "Caught in two minds.", "Bowled a maiden.", "Plays it out.", "Kept it out."]
)
def test_loose_out_caught_bowled_words_claim_no_wicket(reply):
    """Replies that use "out", "caught" or "bowled" loosely claim no dismissal, so the guard keeps them on a dot."""
    dot = read_text("Starc to Kohli, no run, defended")
    assert not any(c in ("wicket", "kind") for c, _ in claims(reply)), claims(reply)
    assert contradicts(reply, dot) is None
    assert contradicts("That is out.", dot) is not None  # a real claim still contradicts


@pytest.mark.parametrize(
    "reply,prompt,names",
    [
        ("Tight from Owls.", "Woakes to Guptill, no run", ["Owls"]),
        ("Lovely, Guptill.", "woakes to guptill, four through cover", []),  # typed in lower case
        ("Fifty for Roy.", "Roy reaches 50", []),
        ("Well played, Root's.", "Root 100*", []),  # a possessive is the name
        ("Careless. Out.", "Stokes c Smith b Cummins", []),  # "Out" opens a sentence
        ("Good catch, Rickey.", "Carey takes it at slip", ["Rickey"]),
        ("Starc goes big.", "Roy hits four", []),  # the opening word is not judged
        ("", "anything", []),
    ],
)
def test_strangers_are_names_the_prompt_does_not_hold(reply, prompt, names):
    assert strangers(reply, prompt) == names


TAUGHT = frozenset({"marvellous", "careless", "out", "class", "edge", "good", "catch", "well", "played"})


@pytest.mark.parametrize(
    "reply,prompt,names",
    [
        ("Starc goes big.", "Roy hits four", ["Starc"]),  # an opening name that is no one of the ball
        ("Slogan.", "Roy hits four", ["Slogan"]),  # an invented word
        ("Marvellous.", "Roy hits four", []),  # taught
        ("Careless. Out.", "Stokes c Smith b Cummins", []),  # both sentences open with taught words
        ("Careless. Strawed.", "Stokes c Smith b Cummins", ["Strawed"]),
        ("Roy's day.", "Roy hits four", []),  # the prompt holds it
        ("Edges.", "Roy hits four", []),  # a plural of a taught word
        ("Reverses.", "Buttler reverse sweeps for four", []),  # the prompt's word, with an s
        ("Good catch, Rickey.", "Carey takes it at slip", ["Rickey"]),  # names inside the reply as before
        ("Class from Root.", "root drives, four", []),
    ],
)
def test_with_a_vocabulary_the_opening_word_is_judged_too(reply, prompt, names):
    assert strangers(reply, prompt, TAUGHT) == names


BAIRSTOW_FACES_STARC = {"batter": "JM Bairstow", "bowler": "MA Starc"}


@pytest.mark.parametrize(
    "reply,event,names",
    [
        ("Tight from Bairstow.", Canonical("dot", **BAIRSTOW_FACES_STARC), ["Bairstow"]),
        ("Tight from Starc.", Canonical("dot", **BAIRSTOW_FACES_STARC), []),
        ("Lovely, Starc.", Canonical("four", **BAIRSTOW_FACES_STARC), ["Starc"]),
        ("Starc goes big.", Canonical("six", **BAIRSTOW_FACES_STARC), ["Starc"]),  # the opening word too
        ("Bairstow goes big.", Canonical("six", **BAIRSTOW_FACES_STARC), []),
        ("Bairstow's day.", Canonical("four", **BAIRSTOW_FACES_STARC), []),
        (
            "Got him, Bairstow.",
            Canonical("wicket", dismissal="bowled", player_out="JM Bairstow", **BAIRSTOW_FACES_STARC),
            ["Bairstow"],
        ),
        (
            "Good catch, Smith.",
            Canonical("wicket", dismissal="caught", fielder="SPD Smith", **BAIRSTOW_FACES_STARC),
            [],
        ),
        ("Dropped by Smith.", Canonical("dropped", fielder="Smith", **BAIRSTOW_FACES_STARC), []),
        ("Wayward from Starc.", Canonical("wide", **BAIRSTOW_FACES_STARC), []),  # extras: nobody's part is judged
        ("Tight from Ms.", Canonical("dot", **BAIRSTOW_FACES_STARC), []),  # initials name nobody
        ("Tight from Curran.", Canonical("dot", batter="SM Curran", bowler="TK Curran"), []),  # either's part
    ],
)
def test_miscast_names_a_person_in_a_part_they_did_not_play(reply, event, names):
    assert miscast(reply, event) == names


@pytest.mark.parametrize(
    "reply,names",
    [
        ("Lovely from JJ.", ["JJ"]),
        ("Good catch, TWM Latham.", ["TWM"]),
        ("Lovely from Roy.", []),
        ("Plumb. LBW.", []),  # letters that are no one's initials
        ("", []),
    ],
)
def test_initials_are_a_person_named_by_their_letters(reply, names):
    four = Canonical("four", batter="JJ Roy", bowler="MJ Henry", fielder="TWM Latham")
    assert initials(reply, four) == names

"""Simulator invariants: runs add up, legal dismissals off extras, six legal balls an over, realistic rates."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from builder.data import simulator as S
from device.commentary.delivery import read_delivery
from device.commentary.events import LEGAL_OFF_NOBALL, LEGAL_OFF_WIDE

MATCHES = [
    ("T20", "male", 1),
    ("T20", "female", 2),
    ("ODI", "male", 3),
    ("ODI", "female", 4),
    ("Test", "male", 5),
    ("Test", "female", 6),
]


@pytest.fixture(scope="module")
def matches():
    return {(fmt, g): S.simulate_match(random.Random(seed), f"{fmt}-{g}", fmt, g) for fmt, g, seed in MATCHES}


def _innings(events):
    out: dict = {}
    for ev in events:
        out.setdefault(ev.context["innings"], []).append(ev)
    return out


@pytest.mark.parametrize("key", [(f, g) for f, g, _ in MATCHES])
def test_runs_add_up(matches, key):
    for inn, evs in _innings(matches[key]).items():
        total = wkts = 0
        for ev in evs:
            d = ev.delivery
            extras = d.get("extras", {})
            assert d["runs"]["extras"] == sum(extras.values())
            assert d["runs"]["total"] == d["runs"]["batter"] + d["runs"]["extras"]
            total += d["runs"]["total"]
            wkts += sum(w["kind"] not in S.NOT_A_WICKET_IN_SCORE for w in d.get("wickets", []))
            assert ev.context["score"] == f"{total}/{wkts}", (inn, ev.context)
        assert wkts <= 10


@pytest.mark.parametrize("key", [(f, g) for f, g, _ in MATCHES])
def test_six_legal_balls_an_over(matches, key):
    fmt = key[0]
    for inn, evs in _innings(matches[key]).items():
        overs: dict = {}
        for ev in evs:
            overs.setdefault(ev.context["over"], []).append(ev)
        numbers = sorted(overs)
        assert numbers == list(range(len(numbers))), "overs are numbered from 0 without gaps"
        if S.FORMATS[fmt]:
            assert len(numbers) <= S.FORMATS[fmt]
        for n, balls in overs.items():
            legal = [b for b in balls if not ({"wides", "noballs"} & set(b.delivery.get("extras", {})))]
            assert [b.context["ball"] for b in balls] == list(range(1, len(balls) + 1))
            if n != numbers[-1]:
                assert len(legal) == 6, f"over {n} of innings {inn} has {len(legal)} legal balls"
            else:
                assert len(legal) <= 6
            assert len({b.delivery["bowler"] for b in balls}) == 1, "one bowler an over"


def test_wicket_kinds_legal_off_wides_and_noballs():
    """Many matches with boosted extras-wickets: only the Laws' kinds ever appear off a wide or no-ball."""
    seen = Counter()
    for i in range(40):
        for ev in S.simulate_match(random.Random(100 + i), f"m{i}", "T20", "male"):
            extras = ev.delivery.get("extras", {})
            for w in ev.delivery.get("wickets", []):
                assert w["kind"] in S.WICKET_KINDS
                if "wides" in extras:
                    assert w["kind"] in S.WIDE_KINDS and w["kind"] in LEGAL_OFF_WIDE
                    seen["wide"] += 1
                if "noballs" in extras:
                    assert w["kind"] in S.NOBALL_KINDS and w["kind"] in LEGAL_OFF_NOBALL
                    seen["noball"] += 1
    assert seen["wide"] > 0, "a wicket off a wide should occur in 40 T20s"


def test_every_delivery_reads_back_as_its_class(matches):
    """device.commentary reads each simulated delivery without error and states the simulator's class."""
    from builder.data.dataset import prompt_context

    for evs in matches.values():
        for ev in evs:
            assert read_delivery(ev.delivery, prompt_context(ev)).outcome == ev.klass, ev.delivery


def test_outcome_frequencies_are_realistic():
    rates = {}
    for fmt, n in (("T20", 12), ("ODI", 5), ("Test", 2)):
        c = Counter()
        for i in range(n):
            c.update(ev.klass for ev in S.simulate_match(random.Random(i), f"m{i}", fmt, "male"))
        total = sum(c.values())
        rates[fmt] = {k: v / total for k, v in c.items()}
        assert rates[fmt]["dot"] + rates[fmt]["runs"] > 0.7, "dots and singles dominate"
        assert 0.005 < rates[fmt]["wicket"] < 0.08
        assert rates[fmt]["six"] < rates[fmt]["four"]
    assert rates["Test"]["dot"] > rates["ODI"]["dot"] > rates["T20"]["dot"]
    assert rates["T20"]["six"] > rates["Test"]["six"]


def test_context_flags(matches):
    test = matches[("Test", "male")]
    assert test[0].context.get("day_start") is True
    assert sum(bool(ev.context.get("day_start")) for ev in test) >= 2, "a Test has more than one day"
    every = [ev for evs in matches.values() for ev in evs]
    assert any(ev.flags.get("new_batter") for ev in every)
    assert any(ev.flags.get("maiden") for ev in every)
    assert any("milestone" in ev.context for ev in every)
    chase = [ev for ev in every if ev.flags.get("last_over_chase")]
    assert all(ev.context["over"] == S.FORMATS[ev.match_type] - 1 and "target" in ev.context for ev in chase)
    drops = [ev for ev in every if ev.klass == "dropped"]
    assert drops and all("dropped" in ev.context["note"] for ev in drops)


def test_deterministic():
    a = S.simulate_match(random.Random(9), "x", "ODI", "female")
    b = S.simulate_match(random.Random(9), "x", "ODI", "female")
    assert [e.delivery for e in a] == [e.delivery for e in b]
    c = S.simulate_match(random.Random(10), "x", "ODI", "female")
    assert [e.delivery for e in a] != [e.delivery for e in c]


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="match_type"):
        S.simulate_match(random.Random(0), "x", "Hundred", "male")

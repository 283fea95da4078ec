"""The match state machine: real Cricsheet matches and hand-made fixtures, fed ball by ball."""

from __future__ import annotations

import ast
import copy
import json
import sys
from pathlib import Path

import pytest

from device.commentary import match as match_module
from device.commentary.match import CONTEXT_KEYS, DeliveryError, Match, MatchError, PositionError

DATA = Path(__file__).resolve().parents[2] / "data" / "cricsheet"
SEMI, FINAL = "1144529.json", "1144530.json"
HAND_TEST, HAND_T20 = "hand_test_milestones.json", "hand_t20_super_over.json"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def deliveries(m: dict):
    """(innings, over, index, team, super_over, delivery) in the file's order."""
    for i, inn in enumerate(m["innings"], start=1):
        for over in inn["overs"]:
            for x, d in enumerate(over["deliveries"]):
                yield i, over["over"], x, inn["team"], inn.get("super_over", False), d


def replay(name: str, match_id: str | None = None) -> tuple[Match, dict]:
    m = load(name)
    state = Match(m["info"], match_id=match_id)
    results = {}
    for i, o, x, team, so, d in deliveries(m):
        results[(i, o, x)] = state.feed(i, o, x, d, team=team, super_over=so)
    return state, results


def file_totals(m: dict) -> list[dict]:
    """Each innings' runs, wickets and legal balls, counted straight from the file."""
    out = []
    for inn in m["innings"]:
        balls = [d for over in inn["overs"] for d in over["deliveries"]]
        out.append(
            {
                "team": inn["team"],
                "runs": sum(d["runs"]["total"] for d in balls),
                "wickets": sum(
                    1
                    for d in balls
                    for w in d.get("wickets", [])
                    if w["kind"] not in ("retired hurt", "retired not out")
                ),
                "legal_balls": sum(1 for d in balls if not {"wides", "noballs"} & set(d.get("extras", {}))),
                "extras": sum(d["runs"]["extras"] for d in balls),
                "super_over": inn.get("super_over", False),
            }
        )
    return out


# ---------------------------------------------------------------- the real matches


@pytest.mark.parametrize("name", [SEMI, FINAL])
def test_innings_totals_equal_the_file(name):
    state, _ = replay(name)
    assert state.summary()["innings"] == file_totals(load(name))


def test_final_totals_as_the_scorecard_has_them():
    state, _ = replay(FINAL)
    scores = [(t["team"], t["runs"], t["wickets"]) for t in state.innings_totals()]
    assert scores == [("New Zealand", 241, 8), ("England", 241, 10), ("England", 15, 0), ("New Zealand", 15, 1)]


# Checked by hand from the files: the batter's runs before the over, then ball by ball in it.
# Smith 46 before over 27 (index 3 takes him to 50); Roy 45 before over 14, 4, 0, 0 (leg-bye), 4 at index 5;
# Nicholls 49 before over 25, a single off index 0; Buttler 48, a four at index 1 of over 43; Stokes 49, a
# single at index 4 of the same over.
FIFTIES = {
    SEMI: [("SPD Smith", 1, 27, 3), ("JJ Roy", 2, 14, 5)],
    FINAL: [("HM Nicholls", 1, 25, 0), ("JC Buttler", 2, 43, 1), ("BA Stokes", 2, 43, 4)],
}


@pytest.mark.parametrize("name", [SEMI, FINAL])
def test_the_five_fifties_fall_on_the_right_balls(name):
    state, results = replay(name)
    got = [(m["player"], m["innings"], m["over"], m["index"]) for m in state.summary()["milestones"]]
    assert got == FIFTIES[name]
    assert all(m["kind"] == "fifty" for m in state.milestones)
    for player, i, o, x in FIFTIES[name]:
        r = results[(i, o, x)]
        assert r.context["milestone"] == f"{player} reaches 50"
        assert r.state["batter"]["name"] == player and 50 <= r.state["batter"]["runs"] < 56
        assert "fifty" in r.state["special"]
    flagged = [pos for pos, r in results.items() if "milestone" in r.context]
    assert flagged == [(i, o, x) for _, i, o, x in FIFTIES[name]]


def test_fifty_batter_runs_and_balls_from_the_file():
    m = load(SEMI)
    _, results = replay(SEMI)
    smith = [(pos, d) for *pos, _, _, d in deliveries(m) if d["batter"] == "SPD Smith" and pos[0] == 1]
    runs = sum(d["runs"]["batter"] for _, d in smith)
    balls = sum(1 for _, d in smith if "wides" not in d.get("extras", {}))
    last = results[tuple(smith[-1][0])]
    assert (last.state["batter"]["runs"], last.state["batter"]["balls"]) == (runs, balls) == (85, 119)


def test_results_from_the_deliveries_match_info_outcome():
    semi, _ = replay(SEMI)
    assert semi.result() == load(SEMI)["info"]["outcome"] == {"winner": "England", "by": {"wickets": 8}}
    final, results = replay(FINAL)
    outcome = load(FINAL)["info"]["outcome"]
    assert final.result()["result"] == outcome["result"] == "tie"
    assert final.result()["super_overs"] == [{"result": "tie"}]  # level again; England won on boundaries
    last = results[(2, 49, 5)]
    assert last.context["tie"] is True and last.context["score"] == "241/10" and last.context["balls_left"] == 0
    assert results[(4, 0, 6)].context["tie"] is True and results[(4, 0, 6)].context["super_over"] is True
    assert sum("tie" in r.context for r in results.values()) == 2


def test_chase_context_in_the_final():
    _, results = replay(FINAL, match_id="final")
    first = results[(2, 0, 0)].context
    assert first["target"] == 242 and first["innings"] == 2
    assert first["runs_needed"] == 242 - int(first["score"].split("/")[0])
    assert "last_over_of_chase" not in results[(2, 48, 5)].context
    assert all(results[(2, 49, x)].context["last_over_of_chase"] for x in range(6))
    assert results[(2, 49, 3)].context["balls_left"] == 2 and results[(2, 49, 3)].context["runs_needed"] == 3
    assert "target" not in results[(1, 10, 0)].context and "balls_left" not in results[(1, 10, 0)].context
    assert results[(3, 0, 0)].context["super_over"] and "target" not in results[(3, 0, 0)].context
    so = results[(4, 0, 0)].context
    assert (so["target"], so["balls_left"], so["last_over_of_chase"]) == (16, 6, True)  # the first ball is a wide


def test_semi_winning_run():
    _, results = replay(SEMI)
    winners = [pos for pos, r in results.items() if r.context.get("winning_run")]
    assert winners == [max(results)]
    assert results[max(results)].context["runs_needed"] == 0


def test_context_keys_and_types_are_exactly_issue_15s():
    for name in (SEMI, FINAL, HAND_TEST, HAND_T20):
        _, results = replay(name, match_id="m1")
        for r in results.values():
            assert set(r.context) <= set(CONTEXT_KEYS), set(r.context) - set(CONTEXT_KEYS)
            for key, value in r.context.items():
                assert type(value) is CONTEXT_KEYS[key], (key, value)
                if CONTEXT_KEYS[key] is bool:
                    assert value is True, f"{key} false should be left out"
            assert r.context["match_id"] == "m1" and r.context["ball"] >= 1


def test_day_start_only_on_the_first_ball():
    _, results = replay(FINAL)
    assert [pos for pos, r in results.items() if r.context.get("day_start")] == [(1, 0, 0)]


def test_ball_in_over_skips_wides_and_no_balls():
    _, results = replay(FINAL)
    # The final's first over: a wide, then six legal balls.
    assert [results[(1, 0, x)].context["ball"] for x in range(7)] == [1, 1, 2, 3, 4, 5, 6]
    assert results[(1, 0, 6)].state["over_ball"] == "0.6"


def test_bowler_figures_leave_out_byes_and_run_outs():
    m = load(FINAL)
    _, results = replay(FINAL)
    boult = [(pos, d) for *pos, _, _, d in deliveries(m) if d["bowler"] == "TA Boult" and pos[0] == 2]
    conceded = sum(
        d["runs"]["total"] - d.get("extras", {}).get("byes", 0) - d.get("extras", {}).get("legbyes", 0)
        for _, d in boult
    )
    fig = results[tuple(boult[-1][0])].state["bowler"]
    assert fig["runs"] == conceded
    assert fig["overs"] == "10.0"
    # Boult bowled the last over, with two run outs in it: no wicket to him.
    assert fig["wickets"] == sum(1 for _, d in boult for w in d.get("wickets", []) if w["kind"] != "run out")


# ---------------------------------------------------------------- the hand-made fixtures


def test_hundreds_and_five_wickets_from_the_fixture():
    state, results = replay(HAND_TEST)
    got = [(m["kind"], m["player"], m["over"], m["index"]) for m in state.summary()["milestones"]]
    # Root scores 4, 4, 4, 4, 4, 1 each over: 42 after two overs, 50 at over 2 index 1, 100 at over 4 index 3 ...
    assert got == [
        ("fifty", "JE Root", 2, 1),
        ("hundred", "JE Root", 4, 3),
        ("one_fifty", "JE Root", 7, 0),
        ("double_hundred", "JE Root", 9, 2),
        ("five_wickets", "PJ Cummins", 12, 2),
    ]
    assert results[(1, 4, 3)].context["milestone"] == "JE Root reaches 100"
    assert results[(1, 12, 2)].context["milestone"] == "PJ Cummins's fifth wicket"
    assert results[(1, 12, 2)].context["bowler_wickets"] == 5
    assert "balls_left" not in results[(1, 12, 2)].context  # a Test has no overs limit
    assert state.result() is None  # two innings of a Test decide nothing


def test_hat_trick_ball_and_maiden():
    _, results = replay(HAND_TEST)
    hat = [pos for pos, r in results.items() if r.context.get("hat_trick_ball")]
    # Cummins: wickets at over 10 index 0 and 1, so index 2 is the hat-trick ball (and a wicket),
    # and index 3 a ball for four in four. His no-ball in over 14 breaks the run there.
    assert hat == [(1, 10, 2), (1, 10, 3)]
    assert "wicket" in results[(1, 10, 2)].state["special"]
    maidens = [pos for pos, r in results.items() if r.context.get("maiden")]
    # Over 10 is a maiden (three wickets, no runs); over 13 has no runs but two bowlers; over 11 gave a leg-bye
    # and a wide, over 12 two runs.
    assert maidens == [(1, 10, 5)]
    assert results[(1, 10, 5)].state["bowler"]["maidens"] == 1


def test_byes_and_leg_byes_are_not_the_bowlers():
    _, results = replay(HAND_TEST)
    # Hazlewood: 21 an over for five overs, a single at over 11 index 0, then a leg-bye
    assert results[(1, 11, 0)].state["bowler"]["runs"] == 106
    assert results[(1, 11, 1)].state["bowler"]["runs"] == 106 and results[(1, 11, 1)].context["score"] == "212/3"
    m = Match({})
    r = m.feed(1, 0, 0, _ball(extras={"byes": 4}))
    assert r.state["bowler"]["runs"] == 0 and r.context["score"] == "4/0"
    r = m.feed(1, 0, 1, _ball(bat=1, extras={"noballs": 1}))
    assert r.state["bowler"]["runs"] == 2 and r.state["bowler"]["overs"] == "0.1"


def test_a_super_over_reaches_no_milestone_even_at_fifty():
    m = Match({"match_type": "T20", "teams": ["X", "Y"]})
    m.feed(1, 0, 0, _ball(bat=1), team="X")
    m.feed(2, 0, 0, _ball(bat=1), team="Y")
    # nine no-balls hit for six: 63 runs, 54 off the bat, in a super over
    for x in range(9):
        r = m.feed(3, 0, x, _ball(batter="Z", bat=6, extras={"noballs": 1}), team="Y", super_over=True)
    assert r.state["batter"]["runs"] == 54 and r.context["score"] == "63/0" and r.context["super_over"]
    assert m.milestones == [] and "milestone" not in r.context


def test_hat_trick_ball_across_overs():
    m = Match({"match_type": "ODI"})
    out = [{"player_out": "X", "kind": "bowled"}]
    balls = [_ball(bowler="B") for _ in range(4)] + [_ball(bowler="B", wickets=out)] * 2
    balls += [_ball(bowler="C") for _ in range(6)]
    for x, d in enumerate(balls[:6]):
        m.feed(1, 0, x, d)
    for x, d in enumerate(balls[6:]):
        assert "hat_trick_ball" not in m.feed(1, 1, x, d).context  # C's over
    assert m.feed(1, 2, 0, _ball(bowler="B")).context["hat_trick_ball"] is True
    assert "hat_trick_ball" not in m.feed(1, 2, 1, _ball(bowler="B")).context


def test_two_wickets_on_one_ball():
    _, results = replay(HAND_TEST)
    r = results[(1, 11, 2)]
    assert r.context["score"] == "212/5" and "two_wickets" in r.state["special"]
    assert r.context["bowler_wickets"] == 1  # the catch is Hazlewood's, the retirement nobody's
    assert r.context["partnership_runs"] == 2
    assert results[(1, 11, 3)].context["partnership_runs"] == 1 and results[(1, 11, 3)].context["new_batter"]


def test_replacements():
    state, results = replay(HAND_TEST)
    assert [(r["type"], r["in"], r["out"]) for r in state.replacements] == [
        ("role", "MA Starc", "JR Hazlewood"),
        ("match", "MT Renshaw", "DA Warner"),
    ]
    assert "replacement: MA Starc for JR Hazlewood" in results[(1, 13, 2)].state["special"]
    assert results[(1, 13, 5)].state["bowler"] == {
        "name": "MA Starc",
        "overs": "0.4",
        "maidens": 0,
        "runs": 0,
        "wickets": 0,
    }
    assert results[(2, 0, 0)].context["new_batter"] and results[(2, 0, 0)].state["batter"]["name"] == "MT Renshaw"


def test_new_batter_first_ball_faced_only():
    _, results = replay(HAND_TEST)
    stokes = [pos for pos, r in results.items() if r.state["batter"]["name"] == "BA Stokes"]
    assert results[stokes[0]].context.get("new_batter") and not any(
        results[p].context.get("new_batter") for p in stokes[1:]
    )


def test_super_over_runs_reach_no_milestone_and_decide_the_match():
    state, results = replay(HAND_T20)
    assert state.milestones == []  # Be Ta: 46 in the match, 12 more in the super over
    assert results[(3, 0, 1)].state["batter"] == {"name": "Be Ta", "runs": 12, "balls": 2}
    assert results[(2, 1, 5)].context["tie"] and results[(2, 1, 5)].context["balls_left"] == 0
    won = results[(4, 0, 2)].context
    assert won["winning_run"] and won["super_over"] and won["target"] == 14 and won["balls_left"] == 3
    outcome = load(HAND_T20)["info"]["outcome"]
    assert state.result() == {"result": "tie", "super_overs": [{"winner": outcome["eliminator"], "by": {"wickets": 2}}]}
    assert state.summary()["innings"][2]["super_over"] is True


def _ball(batter="A", bowler="B", bat=0, extras=None, wickets=None):
    ex = extras or {}
    d = {
        "batter": batter,
        "bowler": bowler,
        "non_striker": "C",
        "runs": {"batter": bat, "extras": sum(ex.values()), "total": bat + sum(ex.values())},
    }
    if ex:
        d["extras"] = ex
    if wickets:
        d["wickets"] = wickets
    return d


@pytest.mark.parametrize(
    "spoiler, maiden",
    [
        (_ball(), True),
        (_ball(extras={"byes": 4}), True),
        (_ball(extras={"legbyes": 1}), True),
        (_ball(bat=1), False),
        (_ball(extras={"wides": 1}), False),
        (_ball(extras={"noballs": 1}), False),
    ],
)
def test_maiden_rules(spoiler, maiden):
    m = Match({"match_type": "T20"})
    balls = [spoiler] + [_ball() for _ in range(6 if "extras" in spoiler and not maiden else 5)]
    for x, d in enumerate(balls):
        r = m.feed(1, 0, x, d)
    assert r.context.get("maiden", False) is maiden and r.context["ball"] == 6


def test_balls_left_from_match_type_when_info_has_no_overs():
    m = Match({"match_type": "T20", "teams": ["X", "Y"]})
    m.feed(1, 0, 0, _ball(bat=4), team="X")
    r = m.feed(2, 0, 0, _ball(bat=1), team="Y")
    assert (r.context["target"], r.context["runs_needed"], r.context["balls_left"]) == (5, 4, 119)


def test_team_guessed_from_the_toss_when_the_feed_omits_it():
    m = Match({"teams": ["X", "Y"], "toss": {"winner": "Y", "decision": "field"}, "match_type": "ODI"})
    m.feed(1, 0, 0, _ball())
    m.feed(2, 0, 0, _ball())
    assert [t["team"] for t in m.innings_totals()] == ["X", "Y"]


# ---------------------------------------------------------------- positions, duplicates, corrections


def test_out_of_order_raises_with_the_accepted_positions():
    m = Match({})
    with pytest.raises(PositionError) as err:
        m.feed(1, 0, 1, _ball())
    assert err.value.accepted == [(1, 0, 0)]
    m.feed(1, 0, 0, _ball())
    for bad in [(1, 0, 2), (1, 2, 0), (3, 0, 0), (2, 0, 1), (1, 1, 1)]:
        with pytest.raises(PositionError) as err:
            m.feed(*bad, _ball())
        assert err.value.accepted == [(1, 0, 1), (1, 1, 0), (2, 0, 0)]
        assert "accepted next" in str(err.value)
    assert err.value.accepted_dicts()[0] == {"innings": 1, "over": 0, "index": 1}
    assert m.deliveries_fed == 1


def test_duplicate_counts_nothing_twice():
    m = Match({})
    first = m.feed(1, 0, 0, _ball(bat=4))
    again = m.feed(1, 0, 0, _ball(bat=4))
    assert again.status == "duplicate" and first.status == "new"
    assert again.context == first.context and again.state == first.state
    assert m.innings_totals()[0]["runs"] == 4 and m.deliveries_fed == 1


def test_correction_replays_the_match():
    name = FINAL
    m = load(name)
    state = Match(m["info"])
    feed = list(deliveries(m))
    for i, o, x, team, so, d in feed[:100]:
        state.feed(i, o, x, d, team=team, super_over=so)
    # Correct ball 10 (a dot becomes a four, and a wicket); the balls after it are recomputed.
    i, o, x, team, so, d = feed[10]
    fixed = copy.deepcopy(d)
    fixed["runs"] = {"batter": 4, "extras": 0, "total": 4}
    before = state.innings_totals()[0]["runs"]
    r = state.feed(i, o, x, fixed, team=team)
    assert r.status == "correction" and state.corrections == 1
    assert state.innings_totals()[0]["runs"] == before - d["runs"]["total"] + 4
    assert state.result_at(*feed[99][:3]).context["score"].split("/")[0] == str(before - d["runs"]["total"] + 4)
    # ... and correcting it back gives the original totals
    state.feed(i, o, x, d)
    for j, o2, x2, team2, so2, d2 in feed[100:]:
        state.feed(j, o2, x2, d2, team=team2, super_over=so2)
    assert state.summary()["innings"] == file_totals(m)


@pytest.mark.parametrize(
    "delivery, words",
    [
        ("four", "JSON object"),
        ({"bowler": "B", "runs": {"batter": 0}}, "delivery.batter"),
        ({"batter": "A", "bowler": "B"}, "delivery.runs"),
        ({"batter": "A", "bowler": "B", "runs": {"batter": -1}}, ">= 0"),
        ({"batter": "A", "bowler": "B", "runs": {"batter": 0}, "wickets": [{"kind": "bowled"}]}, "player_out"),
        ({"batter": "A", "bowler": "B", "runs": {"batter": 0}, "extras": {"wides": "1"}}, "extras.wides"),
    ],
)
def test_bad_deliveries_say_what_is_wrong(delivery, words):
    m = Match({})
    with pytest.raises(DeliveryError, match=words):
        m.feed(1, 0, 0, delivery)
    assert m.deliveries_fed == 0


def test_bad_positions_and_info():
    with pytest.raises(DeliveryError, match="innings is 1-based"):
        Match({}).feed(0, 0, 0, _ball())
    with pytest.raises(DeliveryError, match="over"):
        Match({}).feed(1, -1, 0, _ball())
    with pytest.raises(MatchError, match="info"):
        Match(["not", "info"])


def test_match_module_uses_the_standard_library_only():
    tree = ast.parse(Path(match_module.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert names and names <= set(sys.stdlib_module_names) | {"__future__"}, names - set(sys.stdlib_module_names)

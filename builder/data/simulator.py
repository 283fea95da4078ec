"""Ball-by-ball cricket simulator: Test, ODI and T20, men's and women's, in Cricsheet's delivery format.

Each ball becomes an `Event`: the Cricsheet delivery object (batter, bowler, non_striker, runs,
extras, wickets, review) plus the serving context (match_type, innings, over from 0, ball, score,
target, milestone, day_start, note) and ground truth the text styles need (shot, field position).

Outcome frequencies follow each format (dots and singles dominate; wickets are rare). The rare
dismissal kinds (handled the ball, timed out, ...) are boosted far above their real rate so that every
kind appears in a dataset of a few hundred matches; the dataset card says so.

    python -m builder.data.simulator      # prints one T20 innings, ball by ball
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from builder.data import names

FORMATS = {"T20": 20, "ODI": 50, "Test": None}
TEST_OVERS_PER_DAY = 90
TEST_MAX_DAYS = 5

# Per-ball outcome weights (percent-ish). "drop" is a dropped catch, W a wicket on a legal ball.
RATES = {
    "Test": {
        "dot": 74,
        "1": 13.5,
        "2": 3.5,
        "3": 0.8,
        "4": 5.2,
        "6": 0.4,
        "W": 1.8,
        "wd": 0.5,
        "nb": 0.5,
        "b": 0.5,
        "lb": 0.8,
        "drop": 0.5,
    },
    "ODI": {
        "dot": 51,
        "1": 31,
        "2": 6.5,
        "3": 0.6,
        "4": 6.5,
        "6": 1.4,
        "W": 2.6,
        "wd": 2.5,
        "nb": 0.4,
        "b": 0.2,
        "lb": 1.2,
        "drop": 0.5,
    },
    "T20": {
        "dot": 35,
        "1": 33,
        "2": 7.5,
        "3": 0.4,
        "4": 12.5,
        "6": 5.8,
        "W": 5.0,
        "wd": 3.5,
        "nb": 0.7,
        "b": 0.2,
        "lb": 1.5,
        "drop": 0.7,
    },
}

# Dismissal kinds on a legal ball. Rare kinds are boosted on purpose (see module docstring).
WICKET_KINDS = {
    "caught": 52,
    "bowled": 18,
    "lbw": 14,
    "run out": 5,
    "stumped": 2.5,
    "caught and bowled": 3,
    "hit wicket": 0.8,
    "obstructing the field": 0.5,
    "handled the ball": 0.4,
    "hit the ball twice": 0.4,
    "timed out": 0.4,
    "retired hurt": 1.0,
    "retired out": 0.8,
    "retired not out": 0.8,
}
# Laws 21.18 and 22.3 via Cricsheet: what can happen off a no-ball or a wide.
NOBALL_KINDS = ("run out", "obstructing the field", "handled the ball", "hit the ball twice")
WIDE_KINDS = ("stumped", "run out", "hit wicket", "obstructing the field")
BOWLER_CREDITED = {"bowled", "caught", "caught and bowled", "lbw", "stumped", "hit wicket"}
NOT_A_WICKET_IN_SCORE = {"retired hurt", "retired not out"}

POSITIONS_CATCH = [
    "first slip",
    "second slip",
    "gully",
    "point",
    "cover",
    "mid-off",
    "mid-on",
    "midwicket",
    "square leg",
    "fine leg",
    "third man",
    "long-on",
    "long-off",
    "deep midwicket",
    "deep square leg",
    "short leg",
    "keeper",
]
POSITIONS_RUNS = [
    "cover",
    "point",
    "midwicket",
    "square leg",
    "fine leg",
    "third man",
    "mid-on",
    "mid-off",
    "long-on",
    "long-off",
    "deep cover",
    "backward point",
]
SHOTS = {
    "dot": ["defended", "left", "beaten", "played and missed", "blocked", "straight to the fielder"],
    "runs": ["pushed", "worked", "nudged", "dabbed", "tucked", "flicked", "driven", "cut"],
    "four": ["driven", "pulled", "cut", "flicked", "swept", "edged", "punched", "lofted"],
    "six": ["lofted", "pulled", "slog-swept", "hoicked", "launched", "upper-cut"],
}
UMPIRES = ["Alder", "Brookfield", "Chettiar", "Dunne", "Esterhuizen", "Fawcett", "Gunaratne", "Hollis"]


@dataclass
class Event:
    match_id: str
    match_type: str
    gender: str
    delivery: dict
    context: dict
    klass: str  # simulator's own class: dot/runs/four/six/wicket/dropped/wide/noball/byes/legbyes
    shot: str | None = None  # how it was played (text styles only; not in the delivery)
    where: str | None = None  # field position for runs, catches and drops
    flags: dict = field(default_factory=dict)  # new_batter, hat_trick_ball, maiden, last_over_chase, milestone_kind
    batting: str = ""
    bowling: str = ""


@dataclass
class _Innings:
    order: list[str]
    bowlers: list[tuple[str, str]]  # (name, "pace"|"spin")
    fielders: list[str]
    keeper: str
    runs: int = 0
    wkts: int = 0
    next_in: int = 2
    bat_runs: dict = field(default_factory=dict)
    faced: dict = field(default_factory=dict)
    bowl_wkts: dict = field(default_factory=dict)
    bowl_overs: dict = field(default_factory=dict)
    last_two: dict = field(default_factory=dict)  # bowler -> results of their last two balls (True = wicket)


def _pick(rng: random.Random, table: dict) -> str:
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


def _rates(match_type: str, gender: str, over: int, limit: int | None) -> dict:
    rates = dict(RATES[match_type])
    if gender == "female":  # fewer sixes, a few fewer fours
        rates["dot"] += rates["6"] * 0.65 + rates["4"] * 0.15
        rates["6"] *= 0.35
        rates["4"] *= 0.85
    if limit and over >= limit - 4:  # the death overs: more boundaries and more wickets
        rates["4"] *= 1.3
        rates["6"] *= 1.5
        rates["W"] *= 1.3
    return rates


def _surname(name: str) -> str:
    return names.surname(name)


def simulate_match(
    rng: random.Random,
    match_id: str,
    match_type: str,
    gender: str,
    teams: tuple[str, str] | None = None,
    kind_boost: dict | None = None,
) -> list[Event]:
    """All deliveries of one match, in order. `kind_boost` multiplies dismissal-kind weights."""
    if match_type not in FORMATS:
        raise ValueError(f"match_type must be one of {sorted(FORMATS)}, not {match_type!r}")
    if teams is None:
        teams = tuple(rng.sample(sorted(names.NATIONS), 2))
    squads = {t: names.squad(rng, t, gender) for t in teams}
    kinds = dict(WICKET_KINDS)
    for k, m in (kind_boost or {}).items():
        kinds[k] *= m
    limit = FORMATS[match_type]
    n_innings = 4 if match_type == "Test" else 2
    events: list[Event] = []
    totals: list[int] = []
    overs_in_match = 0
    for inn in range(1, n_innings + 1):
        bat, bowl = (teams[0], teams[1]) if inn % 2 == 1 else (teams[1], teams[0])
        target = None
        if inn == n_innings:
            first = sum(totals[0::2])
            second = sum(totals[1::2])
            target = first - second + 1 if bat == teams[1] else second - first + 1
            if target <= 0:
                break  # won by an innings; nothing left to chase
        order = squads[bat]
        pool = squads[bowl]
        bowlers = [(p, "spin" if i in (8, 9) or rng.random() < 0.2 else "pace") for i, p in enumerate(pool[5:], 5)]
        bowlers.append((pool[rng.randrange(2, 5)], "spin"))  # a part-timer
        st = _Innings(order=order, bowlers=bowlers, fielders=pool, keeper=pool[6])
        striker, non_striker = order[0], order[1]
        max_overs = limit or 150
        prev_bowler = None
        chase_done = False
        for over in range(max_overs):
            if match_type == "Test" and overs_in_match >= TEST_OVERS_PER_DAY * TEST_MAX_DAYS:
                break
            choices = [
                b
                for b in bowlers
                if b[0] != prev_bowler and (limit is None or st.bowl_overs.get(b[0], 0) < max(1, limit // 5))
            ]
            bowler, btype = rng.choice(choices[:4] if rng.random() < 0.8 else choices)
            prev_bowler = bowler
            st.bowl_overs[bowler] = st.bowl_overs.get(bowler, 0) + 1
            over_runs, legal, ball_no = 0, 0, 0
            over_events: list[Event] = []
            day_start = match_type == "Test" and overs_in_match % TEST_OVERS_PER_DAY == 0
            while legal < 6:
                ball_no += 1
                ev = _one_ball(
                    rng,
                    st,
                    match_id,
                    match_type,
                    gender,
                    inn,
                    over,
                    ball_no,
                    striker,
                    non_striker,
                    bowler,
                    btype,
                    kinds,
                    limit,
                    target,
                    bat,
                    bowl,
                )
                if day_start and not over_events:
                    ev.context["day_start"] = True
                over_events.append(ev)
                events.append(ev)
                d = ev.delivery
                extras = d.get("extras", {})
                if not ("wides" in extras or "noballs" in extras):
                    legal += 1
                over_runs += d["runs"]["total"] - extras.get("byes", 0) - extras.get("legbyes", 0)
                # strike: the runs actually run decide who faces next
                ran = (
                    d["runs"]["batter"]
                    + extras.get("byes", 0)
                    + extras.get("legbyes", 0)
                    + max(0, extras.get("wides", 0) - 1)
                )
                if d["runs"]["batter"] in (4, 6) and not d["runs"].get("non_boundary"):
                    ran = 0
                if ran % 2 == 1:
                    striker, non_striker = non_striker, striker
                for w in d.get("wickets", []):
                    out = w["player_out"]
                    if st.next_in >= len(order):
                        striker = non_striker = None
                        break
                    incoming = order[st.next_in]
                    st.next_in += 1
                    if out == striker:
                        striker = incoming
                    else:
                        non_striker = incoming
                if striker is None or st.wkts >= 10:
                    break
                if target is not None and st.runs >= target:
                    chase_done = True
                    break
            if over_events and legal == 6 and over_runs == 0:
                over_events[-1].flags["maiden"] = True
            overs_in_match += 1
            if striker is None or st.wkts >= 10 or chase_done:
                break
            striker, non_striker = non_striker, striker
            if match_type == "Test" and inn == 3 and target is None:
                lead = st.runs + totals[0] - totals[1] if len(totals) >= 2 else 0
                if lead > 380:
                    break  # a declaration
        totals.append(st.runs)
    return events


def _one_ball(
    rng,
    st: _Innings,
    match_id,
    match_type,
    gender,
    inn,
    over,
    ball_no,
    striker,
    non_striker,
    bowler,
    btype,
    kinds,
    limit,
    target,
    bat,
    bowl,
) -> Event:
    rates = _rates(match_type, gender, over, limit)
    if btype == "pace":
        kinds = {k: (v * 0.2 if k == "stumped" else v) for k, v in kinds.items()}
    outcome = _pick(rng, rates)
    if flags_new := (st.faced.get(striker, 0) == 0 and striker not in st.order[:2]):
        if rng.random() < 0.012:
            outcome = "W"  # a share of new batters is timed out (boosted, see the docstring)
    delivery = {
        "batter": striker,
        "bowler": bowler,
        "non_striker": non_striker,
        "runs": {"batter": 0, "extras": 0, "total": 0},
    }
    extras: dict = {}
    wickets: list = []
    klass, shot, where = "dot", None, None
    flags: dict = {}
    note = None
    if st.faced.get(striker, 0) == 0 and striker not in st.order[:2]:
        flags["new_batter"] = True
    if st.last_two.get(bowler) == [True, True]:
        flags["hat_trick_ball"] = True
    bat_runs = 0
    credited = False
    if outcome == "dot":
        shot = rng.choice(SHOTS["dot"])
        if rng.random() < 0.004:  # a not-out review struck down
            delivery["review"] = {
                "by": bowl,
                "umpire": rng.choice(UMPIRES),
                "batter": striker,
                "decision": "struck down",
                "umpires_call": rng.random() < 0.3,
            }
    elif outcome in ("1", "2", "3"):
        bat_runs, klass = int(outcome), "runs"
        shot, where = rng.choice(SHOTS["runs"]), rng.choice(POSITIONS_RUNS)
    elif outcome == "4":
        if rng.random() < 0.01:  # all run, not a boundary
            bat_runs, klass = 4, "runs"
            delivery["runs"]["non_boundary"] = True
            shot, where = "driven", rng.choice(["long-off", "deep cover", "long-on"])
        else:
            bat_runs, klass = 4, "four"
            shot, where = rng.choice(SHOTS["four"]), rng.choice(POSITIONS_RUNS)
    elif outcome == "6":
        bat_runs, klass = 6, "six"
        shot, where = (
            rng.choice(SHOTS["six"]),
            rng.choice(["long-on", "long-off", "midwicket", "cow corner", "deep square leg", "third man", "straight"]),
        )
    elif outcome == "drop":
        klass = "dropped"
        bat_runs = rng.choice([0, 0, 0, 1, 1, 2])
        where = rng.choice(POSITIONS_CATCH)
        catcher = st.keeper if where == "keeper" else rng.choice([f for f in st.fielders if f != bowler])
        note = (
            f"dropped at {where} by {_surname(catcher)}"
            if where != "keeper"
            else f"dropped by the keeper, {_surname(catcher)}"
        )
        shot = "edged" if where in ("first slip", "second slip", "gully", "keeper") else "skied"
    elif outcome in ("wd", "nb", "b", "lb"):
        klass = {"wd": "wide", "nb": "noball", "b": "byes", "lb": "legbyes"}[outcome]
        shot = "played" if outcome == "nb" else None
        if outcome == "wd":
            extras["wides"] = rng.choices([1, 2, 5], weights=[90, 6, 4])[0]
        elif outcome == "nb":
            extras["noballs"] = 1
            bat_runs = rng.choices([0, 1, 2, 4, 6], weights=[50, 25, 8, 12, 5])[0]
            if bat_runs in (4, 6):  # a boundary off a no-ball is a boundary first (device.commentary precedence)
                klass = "four" if bat_runs == 4 else "six"
        else:
            extras["byes" if outcome == "b" else "legbyes"] = rng.choices([1, 2, 4], weights=[70, 15, 15])[0]
        if outcome in ("wd", "nb") and rng.random() < 0.04:
            kind = rng.choice(WIDE_KINDS if outcome == "wd" else NOBALL_KINDS)
            wickets.append(_wicket(rng, st, kind, striker, non_striker, bowler))
            credited = kind in BOWLER_CREDITED
            if kind not in ("stumped", "hit wicket"):
                bat_runs = 0
    if outcome == "W":
        klass = "wicket"
        kind = "timed out" if flags_new and rng.random() < 0.5 else _pick(rng, kinds)
        if kind == "timed out" and not flags.get("new_batter"):
            kind = "caught"  # only a batter just in can be timed out (recorded on his first ball)
        w = _wicket(rng, st, kind, striker, non_striker, bowler)
        if kind == "run out":
            bat_runs = rng.choice([0, 0, 1, 1, 2])
        wickets.append(w)
        credited = kind in BOWLER_CREDITED
        where = w.pop("_where", None)
        shot = w.pop("_shot", None)
        if kind == "lbw" and rng.random() < 0.35:
            by_batter = rng.random() < 0.6
            delivery["review"] = {
                "by": bat if by_batter else bowl,
                "umpire": rng.choice(UMPIRES),
                "batter": striker,
                "decision": "struck down" if by_batter else "upheld",
                "umpires_call": by_batter and rng.random() < 0.4,
            }
    for w in wickets:
        w.pop("_where", None), w.pop("_shot", None)
    extra_runs = sum(extras.values())
    delivery["runs"] = {
        "batter": bat_runs,
        "extras": extra_runs,
        "total": bat_runs + extra_runs,
        **({"non_boundary": True} if delivery["runs"].get("non_boundary") else {}),
    }
    if extras:
        delivery["extras"] = extras
    if wickets:
        delivery["wickets"] = wickets
        if klass in ("wide", "noball", "four", "six"):
            klass = "wicket"  # a wicket off an extra is still a wicket to comment on
    # bookkeeping
    before = st.bat_runs.get(striker, 0)
    st.bat_runs[striker] = before + bat_runs
    if "wides" not in extras:
        st.faced[striker] = st.faced.get(striker, 0) + 1
    st.runs += delivery["runs"]["total"]
    st.wkts += sum(1 for w in wickets if w["kind"] not in NOT_A_WICKET_IN_SCORE)
    milestone = None
    for mark in (50, 100, 150, 200):
        if before < mark <= st.bat_runs[striker]:
            milestone, flags["milestone_kind"] = f"{_surname(striker)} reaches {mark}", f"bat{mark}"
    if credited:
        st.bowl_wkts[bowler] = st.bowl_wkts.get(bowler, 0) + 1
        if st.bowl_wkts[bowler] == 5:
            milestone, flags["milestone_kind"] = f"{_surname(bowler)} takes five", "five_for"
    if "wides" not in extras and "noballs" not in extras:
        st.last_two[bowler] = (st.last_two.get(bowler, []) + [credited])[-2:]
    context = {"match_type": match_type, "innings": inn, "over": over, "ball": ball_no, "score": f"{st.runs}/{st.wkts}"}
    if target is not None:
        context["target"] = target
        if limit and over == limit - 1:
            need = target - (st.runs - delivery["runs"]["total"])
            flags["last_over_chase"] = True
            note = note or f"last over, {need} needed"
    if milestone:
        context["milestone"] = milestone
    if note:
        context["note"] = note
    return Event(
        match_id=match_id,
        match_type=match_type,
        gender=gender,
        delivery=delivery,
        context=context,
        klass=klass,
        shot=shot,
        where=where,
        flags=flags,
        batting=bat,
        bowling=bowl,
    )


def _wicket(rng, st: _Innings, kind, striker, non_striker, bowler) -> dict:
    out = striker
    w: dict = {"player_out": out, "kind": kind}
    others = [f for f in st.fielders if f not in (bowler, st.keeper)]
    if kind == "caught":
        where = rng.choice(POSITIONS_CATCH)
        catcher = st.keeper if where == "keeper" else rng.choice(others)
        w["fielders"] = [{"name": catcher}]
        w["_where"], w["_shot"] = where, rng.choice(["edged", "skied", "drove", "pulled", "chipped", "flicked"])
    elif kind == "caught and bowled":
        w["fielders"] = [{"name": bowler}]
    elif kind == "stumped":
        w["fielders"] = [{"name": st.keeper}]
    elif kind in ("run out", "obstructing the field"):
        if rng.random() < 0.35:
            w["player_out"] = non_striker
        if kind == "run out":
            w["fielders"] = [{"name": rng.choice(others + [st.keeper])}]
    elif kind == "bowled":
        w["_shot"] = rng.choice(["off stump", "middle stump", "through the gate", "yorker", "leg stump", "played on"])
    elif kind == "lbw":
        w["_shot"] = rng.choice(["plumb", "pinned on the crease", "missed a sweep", "padded up"])
    return w


if __name__ == "__main__":  # a quick look at one innings
    for e in simulate_match(random.Random(1), "demo", "T20", "male")[:130]:
        print(e.context["over"], e.context["ball"], e.klass, e.delivery, e.context.get("milestone", ""))

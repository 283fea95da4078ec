"""The state of one cricket match, fed ball by ball from Cricsheet deliveries.

A scoring app at a ground has the ball-by-ball feed and nothing more; this module turns that feed into what a
commentator knows: the score, the batter's and bowler's figures, the partnership, the chase, the milestones and
what makes this ball special. It derives exactly the context keys the model is taught (``CONTEXT_KEYS``, owned
by issue 15 and listed in PRODUCT.md) and no others.

Standard library only: the builder and the device share it (a test enforces that).

    match = Match(info, match_id="eng-nz-2019-07-14")
    result = match.feed(1, 0, 0, delivery, team="New Zealand")   # innings 1-based, over and index 0-based
    result.context   # {"match_type": "ODI", "innings": 1, "over": 0, "ball": 1, "score": "1/0", ...}
    result.state     # score, over and legal ball, batter, bowler, partnership, what made the ball special
    match.summary()  # innings totals, milestones and the result, for GET /v1/matches/{id}

Positions: the next accepted position after ``(innings, over, index)`` is ``(over, index + 1)``,
``(over + 1, 0)`` or the next innings' ``(0, 0)``. The same position with the same delivery is a duplicate
(the stored result comes back, nothing counts twice); with a different delivery it is a correction (the match
is replayed from its deliveries). Any other position raises ``PositionError`` with the accepted ones.

Conventions and limits:
- Bowlers are charged the runs off the bat, wides and no-balls, not byes, leg-byes or penalties; they are
  credited bowled, caught, caught and bowled, lbw, stumped and hit wicket only.
- "retired hurt" and "retired not out" end a partnership but are not wickets in the score.
- Super-over innings have their own score, and count toward nobody's milestones.
- Targets are computed from the runs fed (no DLS revisions: Cricsheet's info does not give them).
- Cricsheet has no per-ball day marker, so ``day_start`` is true at the first ball of the match only.
- A result is computed when the deliveries decide it (a chase reached, a chase ended, an innings win in a Test);
  a draw or an abandonment cannot be told from deliveries, so the result stays ``None`` then.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

# The context keys the model is taught (issue 15) and their types: the feed derives these and no others.
CONTEXT_KEYS: dict[str, type] = {
    "match_type": str,
    "innings": int,
    "over": int,
    "ball": int,
    "score": str,
    "target": int,
    "milestone": str,
    "day_start": bool,
    "match_id": str,
    "runs_needed": int,
    "balls_left": int,
    "new_batter": bool,
    "hat_trick_ball": bool,
    "maiden": bool,
    "partnership_runs": int,
    "bowler_wickets": int,
    "last_over_of_chase": bool,
    "winning_run": bool,
    "tie": bool,
    "super_over": bool,
}
MILESTONE_KINDS = ("fifty", "hundred", "one_fifty", "double_hundred", "five_wickets")
BATTING_MILESTONES = ((50, "fifty"), (100, "hundred"), (150, "one_fifty"), (200, "double_hundred"))
BOWLER_CREDITED = frozenset({"bowled", "caught", "caught and bowled", "lbw", "stumped", "hit wicket"})
NOT_A_WICKET = frozenset({"retired hurt", "retired not out"})
MULTI_DAY = frozenset({"Test", "MDM"})
OVERS_BY_MATCH_TYPE = {"ODI": 50, "ODM": 50, "T20": 20, "IT20": 20}
WICKETS_PER_INNINGS = 10
SUPER_OVER_WICKETS = 2


class MatchError(ValueError):
    """Bad input to a match: the message says what is wrong (a 400/422 for a server)."""


class DeliveryError(MatchError):
    """A delivery, or its position's fields, that cannot be read."""


class PositionError(MatchError):
    """A delivery at a position the match cannot take now (a 409): ``accepted`` lists the positions it can."""

    def __init__(self, position: tuple[int, int, int], accepted: list[tuple[int, int, int]]):
        self.position = position
        self.accepted = accepted
        names = ", ".join(_pos_name(p) for p in accepted)
        super().__init__(f"delivery at {_pos_name(position)} is out of order; accepted next: {names}")

    def accepted_dicts(self) -> list[dict]:
        return [{"innings": i, "over": o, "index": x} for i, o, x in self.accepted]


def _pos_name(pos: tuple[int, int, int]) -> str:
    return f"innings {pos[0]} over {pos[1]} index {pos[2]}"


@dataclass(frozen=True)
class BallResult:
    """What one fed delivery did: the model's ``context``, the ``state`` for the reply, new milestones.

    ``status`` is "new", "duplicate" (nothing was counted) or "correction" (the match was replayed).
    Treat the dicts as read-only: a duplicate returns the stored ones.
    """

    innings: int
    over: int
    index: int
    context: dict
    state: dict
    milestones: tuple = ()
    status: str = "new"

    def to_dict(self) -> dict:
        return {
            "innings": self.innings,
            "over": self.over,
            "index": self.index,
            "status": self.status,
            "context": self.context,
            "state": self.state,
            "milestones": list(self.milestones),
        }


@dataclass
class _Innings:
    number: int
    team: str | None
    super_over: bool
    target: int | None = None
    max_balls: int | None = None
    runs: int = 0
    wickets: int = 0
    legal_balls: int = 0
    extras: int = 0
    partnership: int = 0
    batters: dict = field(default_factory=dict)  # name -> [runs, balls]
    bowlers: dict = field(default_factory=dict)  # name -> {"balls", "maidens", "runs", "wickets"}
    bowler_recent: dict = field(default_factory=dict)  # name -> wicket flags of his last two deliveries
    strikers: set = field(default_factory=set)
    over: int | None = None
    over_legal: int = 0
    over_clean: bool = True  # nothing off the bat, no wides or no-balls so far this over
    over_bowlers: set = field(default_factory=set)
    finished: bool = False

    def total(self) -> dict:
        return {
            "team": self.team,
            "runs": self.runs,
            "wickets": self.wickets,
            "legal_balls": self.legal_balls,
            "extras": self.extras,
            "super_over": self.super_over,
        }


def _read_int(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DeliveryError(f"{where} must be a whole number >= 0, got {value!r}")
    return value


def _check_delivery(delivery) -> None:
    """Reject what the state cannot count, with a message that names the field."""
    if not isinstance(delivery, dict):
        raise DeliveryError(f"delivery must be a JSON object, got {type(delivery).__name__}")
    for key in ("batter", "bowler"):
        if not isinstance(delivery.get(key), str) or not delivery[key].strip():
            raise DeliveryError(f"delivery.{key} must be a non-empty string, got {delivery.get(key)!r}")
    runs = delivery.get("runs")
    if not isinstance(runs, dict):
        raise DeliveryError(f"delivery.runs must be an object with batter, extras and total, got {runs!r}")
    for key in ("batter", "extras", "total"):
        if key in runs:
            _read_int(runs[key], f"delivery.runs.{key}")
    if "batter" not in runs:
        raise DeliveryError("delivery.runs.batter is missing")
    extras = delivery.get("extras", {})
    if not isinstance(extras, dict):
        raise DeliveryError(f"delivery.extras must be an object, got {extras!r}")
    for key, value in extras.items():
        _read_int(value, f"delivery.extras.{key}")
    wickets = delivery.get("wickets", [])
    if not isinstance(wickets, list):
        raise DeliveryError(f"delivery.wickets must be a list, got {wickets!r}")
    for n, wicket in enumerate(wickets):
        if (
            not isinstance(wicket, dict)
            or not isinstance(wicket.get("player_out"), str)
            or not isinstance(wicket.get("kind"), str)
        ):
            raise DeliveryError(f"delivery.wickets[{n}] needs player_out and kind strings, got {wicket!r}")
    replacements = delivery.get("replacements", {})
    if not isinstance(replacements, dict):
        raise DeliveryError(f"delivery.replacements must be an object, got {replacements!r}")


class Match:
    """One match's state; feed it deliveries in order with ``feed``."""

    def __init__(self, info: dict | None = None, match_id: str | None = None):
        if info is not None and not isinstance(info, dict):
            raise MatchError(f"info must be a JSON object (Cricsheet's info), got {type(info).__name__}")
        self.info = info or {}
        self.match_id = match_id
        self.match_type = self.info.get("match_type") if isinstance(self.info.get("match_type"), str) else None
        bpo = self.info.get("balls_per_over", 6)
        self.balls_per_over = bpo if isinstance(bpo, int) and not isinstance(bpo, bool) and bpo > 0 else 6
        self.multi_day = self.match_type in MULTI_DAY
        overs = self.info.get("overs")
        if isinstance(overs, int) and not isinstance(overs, bool) and overs > 0:
            self.max_overs: int | None = overs
        else:
            self.max_overs = None if self.multi_day else OVERS_BY_MATCH_TYPE.get(self.match_type or "")
        self.corrections = 0
        self._records: list[dict] = []  # fed deliveries in position order (corrections replace in place)
        self._where: dict[tuple, int] = {}  # position -> index into _records
        self._reset()

    def _reset(self) -> None:
        self._innings: list[_Innings] = []
        self._results: dict[tuple, BallResult] = {}
        self.milestones: list[dict] = []
        self.replacements: list[dict] = []

    # ------------------------------------------------------------------ feeding

    @property
    def deliveries_fed(self) -> int:
        return len(self._records)

    def records(self) -> list[dict]:
        """The fed deliveries as ``{"innings","over","index","team","super_over","delivery"}``, in order."""
        return copy.deepcopy(self._records)

    def accepted_positions(self) -> list[tuple[int, int, int]]:
        if not self._records:
            return [(1, 0, 0)]
        last = self._records[-1]
        i, o, x = last["innings"], last["over"], last["index"]
        return [(i, o, x + 1), (i, o + 1, 0), (i + 1, 0, 0)]

    def classify(self, innings, over, index, delivery, team=None, super_over=False) -> str:
        """ "new", "duplicate" or "correction" for this position, without changing anything.

        Raises DeliveryError for unreadable input and PositionError for a position out of order.
        """
        pos = (_read_int(innings, "innings"), _read_int(over, "over"), _read_int(index, "index"))
        if pos[0] < 1:
            raise DeliveryError("innings is 1-based, got 0")
        _check_delivery(delivery)
        if team is not None and (not isinstance(team, str) or not team.strip()):
            raise DeliveryError(f"team must be a non-empty string, got {team!r}")
        if not isinstance(super_over, bool):
            raise DeliveryError(f"super_over must be true or false, got {super_over!r}")
        if pos in self._where:
            return "duplicate" if self._records[self._where[pos]]["delivery"] == delivery else "correction"
        if pos not in self.accepted_positions():
            raise PositionError(pos, self.accepted_positions())
        return "new"

    def feed(
        self, innings: int, over: int, index: int, delivery: dict, team: str | None = None, super_over: bool = False
    ) -> BallResult:
        """Take one delivery at (innings, over, index) and return what it did (see the module docstring)."""
        status = self.classify(innings, over, index, delivery, team, super_over)
        pos = (innings, over, index)
        if status == "duplicate":
            return replace(self._results[pos], status="duplicate")
        record = {
            "innings": innings,
            "over": over,
            "index": index,
            "team": team,
            "super_over": super_over,
            "delivery": copy.deepcopy(delivery),
        }
        if status == "correction":
            old = self._records[self._where[pos]]
            record["team"] = team if team is not None else old["team"]
            record["super_over"] = super_over or old["super_over"]
            self._records[self._where[pos]] = record
            self.corrections += 1
            self._replay()
            return replace(self._results[pos], status="correction")
        self._where[pos] = len(self._records)
        self._records.append(record)
        return self._apply(record)

    def result_at(self, innings: int, over: int, index: int) -> BallResult | None:
        """The stored result of the delivery at a position, or None if none was fed there."""
        return self._results.get((innings, over, index))

    def _replay(self) -> None:
        self._reset()
        for record in self._records:
            self._apply(record)

    # ------------------------------------------------------------------ innings and targets

    def _innings_for(self, record: dict) -> _Innings:
        number = record["innings"]
        if self._innings and self._innings[-1].number == number:
            inn = self._innings[-1]
            if inn.team is None and record["team"]:
                inn.team = record["team"]
            return inn
        for previous in self._innings:
            previous.finished = True  # a new innings closes the ones before it (declared, rain, all out)
        inn = _Innings(
            number=number,
            team=record["team"] or self._guess_team(record["super_over"]),
            super_over=record["super_over"],
        )
        inn.target = self._target_for(inn)
        if inn.target is not None:
            overs = 1 if inn.super_over else self.max_overs
            inn.max_balls = overs * self.balls_per_over if overs else None
        self._innings.append(inn)
        return inn

    def _guess_team(self, super_over: bool) -> str | None:
        """The batting side when the feed does not say: from the toss, then the other side each innings."""
        teams = self.info.get("teams")
        if not (isinstance(teams, list) and len(teams) == 2 and all(isinstance(t, str) for t in teams)):
            return None
        if not self._innings:
            toss = self.info.get("toss") or {}
            winner = toss.get("winner") if isinstance(toss, dict) else None
            if winner not in teams:
                return None
            return winner if toss.get("decision") == "bat" else teams[1 - teams.index(winner)]
        last = self._innings[-1]
        if last.team not in teams:
            return None
        if super_over and not last.super_over:
            return last.team  # the side that batted second bats first in a super over
        return teams[1 - teams.index(last.team)]

    def _target_for(self, inn: _Innings) -> int | None:
        if inn.super_over:
            supers = [i for i in self._innings if i.super_over]
            return supers[-1].runs + 1 if len(supers) % 2 == 1 else None
        main = [i for i in self._innings if not i.super_over]
        if not self.multi_day:
            return main[0].runs + 1 if len(main) == 1 else None
        if len(main) != 3:
            return None
        if inn.team is not None and all(i.team is not None for i in main):
            theirs = sum(i.runs for i in main if i.team != inn.team)
            ours = sum(i.runs for i in main if i.team == inn.team)
        else:  # no names: assume the usual order A, B, A, B
            theirs, ours = main[0].runs + main[2].runs, main[1].runs
        return max(theirs - ours + 1, 0)

    def _wickets_to_fall(self, inn: _Innings) -> int:
        return SUPER_OVER_WICKETS if inn.super_over else WICKETS_PER_INNINGS

    # ------------------------------------------------------------------ one ball

    def _apply(self, record: dict) -> BallResult:
        i, o, x = record["innings"], record["over"], record["index"]
        d = record["delivery"]
        inn = self._innings_for(record)
        runs, extras = d["runs"], d.get("extras") or {}
        bat = runs["batter"]
        extra_runs = runs.get("extras", sum(extras.values()))
        total = runs.get("total", bat + extra_runs)
        wide, noball = extras.get("wides", 0) > 0, extras.get("noballs", 0) > 0
        legal = not (wide or noball)
        conceded = total - extras.get("byes", 0) - extras.get("legbyes", 0) - extras.get("penalty", 0)
        batter, bowler = d["batter"], d["bowler"]
        wickets = d.get("wickets") or []
        fallen = [w for w in wickets if w["kind"] not in NOT_A_WICKET]
        credited = [w for w in wickets if w["kind"] in BOWLER_CREDITED]
        special: list[str] = []

        if inn.over != o:
            inn.over, inn.over_legal, inn.over_clean, inn.over_bowlers = o, 0, True, set()
        inn.over_bowlers.add(bowler)
        new_batter = batter not in inn.strikers
        inn.strikers.add(batter)
        recent = inn.bowler_recent.setdefault(bowler, [])
        hat_trick_ball = len(recent) == 2 and all(recent)
        inn.bowler_recent[bowler] = (recent + [bool(credited)])[-2:]
        runs_before = inn.runs

        # the batting side
        inn.runs += total
        inn.extras += extra_runs
        inn.wickets += len(fallen)
        inn.legal_balls += legal
        inn.partnership += total
        partnership = inn.partnership
        if wickets:
            inn.partnership = 0
        figures = inn.batters.setdefault(batter, [0, 0])
        bat_before = figures[0]
        figures[0] += bat
        figures[1] += not wide  # a no-ball is a ball faced, a wide is not

        # the bowler
        fig = inn.bowlers.setdefault(bowler, {"balls": 0, "maidens": 0, "runs": 0, "wickets": 0})
        wickets_before = fig["wickets"]
        fig["balls"] += legal
        fig["runs"] += conceded
        fig["wickets"] += len(credited)
        if bat or wide or noball:
            inn.over_clean = False
        inn.over_legal += legal
        maiden = legal and inn.over_legal == self.balls_per_over and inn.over_clean and len(inn.over_bowlers) == 1
        if maiden:
            fig["maidens"] += 1
        ball = inn.over_legal if legal else inn.over_legal + 1

        # milestones: never in a super over
        new_milestones: list[dict] = []
        texts: list[str] = []
        if not inn.super_over:
            for mark, kind in BATTING_MILESTONES:
                if bat_before < mark <= figures[0]:
                    new_milestones.append({"kind": kind, "player": batter, "innings": i, "over": o, "index": x})
                    texts.append(f"{batter} reaches {mark}")
            if wickets_before < 5 <= fig["wickets"]:
                new_milestones.append({"kind": "five_wickets", "player": bowler, "innings": i, "over": o, "index": x})
                texts.append(f"{bowler}'s fifth wicket")
        self.milestones.extend(new_milestones)

        for kind, changes in (d.get("replacements") or {}).items():
            for change in changes if isinstance(changes, list) else []:
                if isinstance(change, dict):
                    self.replacements.append({"innings": i, "over": o, "index": x, "type": kind, **change})
                    special.append(f"replacement: {change.get('in')} for {change.get('out')}")

        # the chase
        chase = inn.target is not None
        balls_left = max(inn.max_balls - inn.legal_balls, 0) if chase and inn.max_balls is not None else None
        all_out = inn.wickets >= self._wickets_to_fall(inn)
        winning_run = chase and runs_before < inn.target <= inn.runs
        ended = winning_run or all_out or balls_left == 0
        tie = chase and ended and not winning_run and inn.runs == inn.target - 1
        last_over = (
            chase
            and inn.max_balls is not None
            and not self.multi_day
            and o == inn.max_balls // self.balls_per_over - 1
            and runs_before < inn.target
        )
        if ended:
            inn.finished = True

        context: dict = {}
        if self.match_type:
            context["match_type"] = self.match_type
        context.update({"innings": i, "over": o, "ball": ball, "score": f"{inn.runs}/{inn.wickets}"})
        if chase:
            context["target"] = inn.target
        if texts:
            context["milestone"] = "; ".join(texts)
        if len(self._results) == 0:
            context["day_start"] = True
        if self.match_id:
            context["match_id"] = self.match_id
        if chase:
            context["runs_needed"] = max(inn.target - inn.runs, 0)
            if balls_left is not None:
                context["balls_left"] = balls_left
        flags = {"new_batter": new_batter, "hat_trick_ball": hat_trick_ball, "maiden": maiden}
        context.update({k: True for k, v in flags.items() if v})
        context["partnership_runs"] = partnership
        context["bowler_wickets"] = fig["wickets"]
        flags2 = {"last_over_of_chase": last_over, "winning_run": winning_run, "tie": tie, "super_over": inn.super_over}
        context.update({k: True for k, v in flags2.items() if v})

        if wickets:
            special.insert(0, "two_wickets" if len(wickets) > 1 else "wicket")
        special[:0] = [m["kind"] for m in new_milestones]
        special += [k for k in ("day_start", *flags, *flags2) if context.get(k) is True]
        bpo = self.balls_per_over
        state = {
            "innings": i,
            "team": inn.team,
            "over": o,
            "ball": ball,
            "over_ball": f"{o}.{ball}",
            "score": f"{inn.runs}/{inn.wickets}",
            "runs": inn.runs,
            "wickets": inn.wickets,
            "legal_balls": inn.legal_balls,
            "batter": {"name": batter, "runs": figures[0], "balls": figures[1]},
            "bowler": {
                "name": bowler,
                "overs": f"{fig['balls'] // bpo}.{fig['balls'] % bpo}",
                "maidens": fig["maidens"],
                "runs": fig["runs"],
                "wickets": fig["wickets"],
            },
            "partnership_runs": partnership,
            "special": special,
        }
        for key in ("target", "runs_needed", "balls_left"):
            if key in context:
                state[key] = context[key]
        result = BallResult(i, o, x, context, state, tuple(new_milestones))
        self._results[(i, o, x)] = result
        return result

    # ------------------------------------------------------------------ the match as a whole

    def innings_totals(self) -> list[dict]:
        return [inn.total() for inn in self._innings]

    def result(self) -> dict | None:
        """The result the deliveries decide, in Cricsheet's outcome shape, or None while undecided."""
        main = [inn for inn in self._innings if not inn.super_over]
        decided = self._test_result(main) if self.multi_day else self._chase_result(main[:2])
        if decided is None or decided.get("result") != "tie":
            return decided
        supers = [inn for inn in self._innings if inn.super_over]
        rounds = [self._chase_result(supers[k : k + 2]) for k in range(0, len(supers), 2)]
        if rounds:
            decided["super_overs"] = [r for r in rounds if r is not None]
        return decided

    def _chase_result(self, pair: list[_Innings]) -> dict | None:
        if len(pair) < 2 or pair[1].target is None:
            return None
        first, second = pair
        if second.runs >= second.target:
            return {"winner": second.team, "by": {"wickets": self._wickets_to_fall(second) - second.wickets}}
        done = (
            second.finished
            or second.wickets >= self._wickets_to_fall(second)
            or (second.max_balls is not None and second.legal_balls >= second.max_balls)
        )
        if not done:
            return None
        if second.runs == second.target - 1:
            return {"result": "tie"}
        return {"winner": first.team, "by": {"runs": second.target - 1 - second.runs}}

    def _test_result(self, main: list[_Innings]) -> dict | None:
        if len(main) == 4 and main[3].target is not None:
            last = main[3]
            if last.runs >= last.target:
                return {"winner": last.team, "by": {"wickets": WICKETS_PER_INNINGS - last.wickets}}
            if last.wickets < WICKETS_PER_INNINGS:
                return None  # still batting, or a draw: deliveries cannot tell
            if last.runs == last.target - 1:
                return {"result": "tie"}
            other = next((inn.team for inn in main if inn.team != last.team), None)
            return {"winner": other, "by": {"runs": last.target - 1 - last.runs}}
        if len(main) == 3 and main[2].wickets >= WICKETS_PER_INNINGS and main[2].team is not None:
            batting = main[2].team
            ours = sum(inn.runs for inn in main if inn.team == batting)
            theirs = sum(inn.runs for inn in main if inn.team != batting)
            if ours < theirs and sum(inn.team == batting for inn in main) == 2:
                other = next(inn.team for inn in main if inn.team != batting)
                return {"winner": other, "by": {"innings": 1, "runs": theirs - ours}}
        return None

    def summary(self) -> dict:
        """What GET /v1/matches/{id} returns: info, innings totals, milestones and the result."""
        return {
            "info": self.info,
            "innings": self.innings_totals(),
            "milestones": list(self.milestones),
            "result": self.result(),
        }

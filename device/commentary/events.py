"""What happened on one ball, in one canonical form: outcome classes, dismissal kinds, `Canonical`.

Standard library only, like everything in `device.commentary`: the server, the dataset and the
evaluation share these definitions word for word.

Outcome classes (`OUTCOMES`, one per ball):
    dot      no run off the bat, no extras, no wicket
    runs     1, 2, 3 (or 5, 7 ...) runs off the bat, not a boundary
    four     a boundary four off the bat;   six: a six off the bat
    wicket   any entry in Cricsheet's `wickets` (kind in `DISMISSAL_KINDS`)
    dropped  a chance missed (catch put down, missed stumping or run out), batter not out
    wide / noball / byes / legbyes   the extra that defines the ball
    unclear  the text reader could not tell; nothing is stated about the outcome
Non-ball facts ride on top as flags: milestone, day_start, hat_trick_ball, new_batter, review.

Precedence when one ball has several things (first match wins; the rest is kept in the fields):
    1. wicket    - even off a wide or no-ball (run out off a wide: outcome wicket, extra_kind wides)
    2. dropped   - a chance missed, even if runs came from it ("dropped, and it runs away for four")
    3. six, 4. four - boundaries off the bat, even off a no-ball (extra_kind noballs, extras 1);
                   a four with `non_boundary` set is "runs"
    5. wide      - all wides, including wides that run to the boundary (extras 5)
    6. noball    - a no-ball without a boundary off the bat (runs off the bat kept in `runs`)
    7. byes, 8. legbyes - including four byes; byes off a no-ball are a noball
    9. runs, 10. dot   (penalty runs never define the ball: "1 run" plus 5 penalty is "runs")
`extra_kind` uses Cricsheet's keys (wides, noballs, byes, legbyes, penalty); `extras` is their sum.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

OUTCOMES = ("dot", "runs", "four", "six", "wicket", "dropped", "wide", "noball", "byes", "legbyes", "unclear")

DISMISSAL_KINDS = (
    "bowled",
    "caught",
    "caught and bowled",
    "lbw",
    "stumped",
    "run out",
    "hit wicket",
    "retired hurt",
    "retired not out",
    "retired out",
    "obstructing the field",
    "handled the ball",
    "hit the ball twice",
    "timed out",
)
EXTRA_KINDS = ("wides", "noballs", "byes", "legbyes", "penalty")

# Laws of cricket: the only ways out off a no-ball or a wide (anything else is an illegal event).
LEGAL_OFF_NOBALL = {
    "run out",
    "obstructing the field",
    "handled the ball",
    "hit the ball twice",
    "retired hurt",
    "retired not out",
    "retired out",
    "timed out",
}
LEGAL_OFF_WIDE = LEGAL_OFF_NOBALL | {"stumped", "hit wicket"}
MAX_TEXT_CHARS = 400  # longer text is cut in the prompt (the reader reads up to MAX_READ_CHARS)
MAX_READ_CHARS = 2000  # keeps the reader's regex work bounded on absurd input
MAX_NOTE_CHARS = 120  # a context note: what the prompt shows of it, and all of it the reader reads
MAX_RUNS = 10  # off the bat, or extras of one kind, on one ball: beyond this is a typo


class EventError(ValueError):
    """An event that cannot be read: the message says what is wrong."""


@dataclass(frozen=True)
class Canonical:
    """What happened on one ball, read from a delivery (exact) or from text (best effort)."""

    outcome: str
    runs: int | None = None  # off the bat
    extras: int | None = None  # all extras on the ball
    extra_kind: str | None = None  # the defining extra, a Cricsheet key (wides, noballs, ...)
    dismissal: str | None = None  # a DISMISSAL_KINDS entry
    player_out: str | None = None
    batter: str | None = None
    bowler: str | None = None
    fielder: str | None = None
    milestone: str | None = None
    day_start: bool = False
    review: str | None = None  # "upheld", "struck down", "umpire's call" or "review"
    hat_trick_ball: bool = False
    new_batter: bool = False
    confident: bool = True
    source: str = "text"

    def to_dict(self) -> dict:
        return asdict(self)

"""The tolerant rule-based reader of free-text cricket events, behind `device.commentary.read_text`.

It reads Cricinfo-style lines ("Starc to Kohli, FOUR, driven through cover"), plain English,
commentary prose and scorer shorthand ("12.3 Starc>Kohli 4", "W", "1lb", "2nb", "wd") into a
`Canonical`. It looks for cues per outcome class, cancels cues that are negated ("not out",
"would have been four", "dropped"), then applies the precedence documented in device.commentary.
When the cues are missing or contradict each other it says "unclear" instead of guessing:
a drop together with a bowled/lbw/hit-wicket cue (two balls in one line), a wicket cue next to a
capitalised FOUR or SIX ("SIX... caught on the boundary? No"), a FOUR next to a SIX, or a
decision overturned on review without the runs being told. Numbers that are not runs (over.ball,
scores, figures, "reaches 100", "day 3", "(45)") are masked before digits are read.

Loose cue words are the costly mistake (the prompt states the outcome and the server's guard
trusts it), so: an "out" that leads on is no dismissal ("out of the attack", "out comes the
physio"); a hedge takes back only the cue after it ("would have been six", "almost caught");
an appeal or chance names a kind without it happening ("run-out appeal, but she's in"); a bare
take is a catch only away from the keeper or after an edge, and never on the bounce, off a leave
or a blow ("taken on the thigh pad"); after a review the last verdict counts ("given not out ...
three reds, he's gone"); a lone "gone" beside a boundary is the ball going; and a kind the Laws
forbid with the extra named (caught off a leg bye, bowled off a wide) makes the line unclear.

Try it:  python -m device.commentary.reader "Dropped at slip by Smith, they run one"
"""

from __future__ import annotations

import re

from device.commentary.events import LEGAL_OFF_NOBALL, LEGAL_OFF_WIDE, Canonical
from device.commentary.reader.cues import (
    ALL_RUN,
    APPEAL,
    BYES,
    DAY_START,
    DIGIT,
    DOT,
    DROP,
    DROP_WEAK,
    EDGED,
    FOUR,
    GIVEN_NOT_OUT,
    GIVEN_OUT,
    HAT_TRICK,
    HEDGE,
    KEEPER,
    KIND_HINTS,
    KINDS,
    LEGBYES,
    MANY_BALLS,
    MASKS,
    MILESTONE,
    NEW_BATTER,
    NO_CATCH,
    NOBALL,
    NUM_WORDS,
    OVER_SUMMARY,
    OVERTURNED,
    REVIEW,
    RUNS,
    SAVED,
    SHORT_W,
    SIX,
    TAKE_AT,
    TAKE_IT,
    THIS_BALL,
    WICKET,
    WICKET_NEG,
    WIDE,
    _milestone_kind,
)
from device.commentary.reader.names import CARD_KIND, SCORECARD, _count, _name, _names
from device.commentary.reader.typos import CONTRACTION, WOULD, _fix_typos


def read(text: str) -> Canonical:
    raw = " ".join(text.replace("’", "'").replace("–", "-").replace("—", "-").split())
    raw = WOULD.sub(
        r"\1 would \2", CONTRACTION.sub(r"\1 have", raw)
    )  # "should've been run out" reads as "should have been ..."
    low = _fix_typos(raw.lower())
    # capitalised cues (OUT, FOUR, SIX) mean nothing in a line that is all capitals: read it as lower case
    cap = "" if raw.isupper() and sum(c.isalpha() for c in raw) >= 12 else raw
    flags = {
        "day_start": bool(DAY_START.search(low)),
        "hat_trick_ball": bool(HAT_TRICK.search(low)),
        "new_batter": bool(NEW_BATTER.search(low)),
    }
    ms = MILESTONE.search(low)
    names = _names(raw)
    if ms:
        kind = _milestone_kind(ms.group("m1") or ms.group("m2"))
        who = names.get("batter") if "wicket" not in kind else names.get("bowler")
        flags["milestone"] = f"{who} {kind}" if who else kind
    if REVIEW.search(low):
        flags["review"] = (
            "umpire's call"
            if "umpire's call" in low or "umpires call" in low
            else "upheld"
            if OVERTURNED.search(low)
            else "struck down"
            if re.search(r"struck down|review lost|loses? the review|unsuccessful|stays|stands|wasted", low)
            else "review"
        )

    s = MASKS.sub(" ~ ", low[: ms.start()] + " ~ " + low[ms.end() :] if ms else low)
    s = re.sub(r"(?:\s*~)+\s*$", "", s)  # a trailing score or milestone: let "... bowled 38/3" end with "bowled"
    caps_out = bool(re.search(r"(?<![A-Za-z])OUT(?![A-Za-z])", cap)) and not re.search(r"NOT OUT", cap)
    short_w = bool(SHORT_W.search(raw))
    sh = HEDGE.sub(" ~ ", s)  # "would have been six", "almost caught": the cue is taken back
    sk = APPEAL.sub(" ~ ", sh)  # "run-out appeal": a kind named, not a kind that happened

    kinds = [k for k, rx in KINDS if rx.search(sk)]
    if "caught" not in kinds and _caught_take(sk):
        kinds.append("caught")
    card = SCORECARD.search(raw)
    if card and not kinds and _name(card.group("out")):
        how = card.group("how").lower()
        kinds = ["caught and bowled" if ("&" in how or " and " in how) else CARD_KIND.get(how.split()[0], "bowled")]
    generic = (
        bool(WICKET.search(sk))
        or caps_out
        or short_w
        or bool(re.search(r"(?<![A-Za-z])(?:WICKET|BOWLED|GONE)(?![A-Za-z])", cap))
    )
    neg = bool(WICKET_NEG.search(s)) and not caps_out and not short_w
    # a decision overturned on review flips the umpire's call
    overturned = OVERTURNED.search(s)
    if overturned:
        # a verdict said after the overturn is final ("given out ..., decision overturned, not out");
        # otherwise the on-field call said before it is flipped
        before, after = s[: overturned.start()], s[overturned.end() :]
        final = (
            False
            if re.search(r"\bnot out\b", after)
            else True
            if re.search(r"\bout\b", after)
            else True
            if GIVEN_NOT_OUT.search(before)
            else False
            if GIVEN_OUT.search(before)
            else None
        )
        if final is True:
            neg, generic = False, True
        elif final is False:
            neg, generic, kinds = True, False, []
    elif GIVEN_OUT.search(s) and not neg:
        generic = True
    if (
        generic
        and not (kinds or caps_out or short_w)
        and (SIX.search(sh) or FOUR.search(sh))
        and not WICKET.search(re.sub(r"\bgone\b", " ~ ", sk))
    ):
        generic = False  # "Gone! Over the sightscreen, six": a lone "gone" next to a boundary is the ball going
    verdict, tail = _last_word(sk)
    if (
        verdict is not None
    ):  # after a review or a correction the last word counts ("given not out ... three reds, he's gone")
        neg, generic = (False, True) if verdict else (True, generic)
    if NOBALL.search(s) and not any(k in LEGAL_OFF_NOBALL for k in kinds):
        neg = True  # "Bowled him! But it's a no-ball": only run outs and the like count off a no-ball
    drop = bool(DROP.search(s)) or bool(
        DROP_WEAK.search(s) and not NOBALL.search(s) and not REVIEW.search(s) and not OVERTURNED.search(s)
    )
    if drop and verdict and not DROP.search(tail):
        drop = False  # "Dropped... no, he's caught it at the second attempt"
    base = dict(names, **flags)
    if MANY_BALLS.search(low) or (OVER_SUMMARY.search(low) and not THIS_BALL.search(low)):
        return Canonical(outcome="unclear", confident=False, **base)  # several balls in one line, or a whole over

    if drop:
        cue = (DROP.search(s) or DROP_WEAK.search(s)).group(0)
        # a run out or stumping beside a dropped catch is a second story; beside "missed run out" it is the drop itself
        hard = [
            k
            for k in kinds
            if k not in ("caught", "caught and bowled")
            and not (k == "run out" and "run" in cue)
            and not (k == "stumped" and "stump" in cue)
        ]
        if (hard or caps_out or short_w) and not neg:
            return Canonical(outcome="unclear", confident=False, **base)
        runs = _runs(sh, cap)
        return Canonical(
            outcome="dropped", runs=runs[1] if runs and runs[0] in ("runs", "four", "six") else None, **base
        )
    if (kinds or generic) and not neg and re.search(r"(?<![A-Za-z])(?:FOUR|SIX)(?![A-Za-z])", cap):
        return Canonical(outcome="unclear", confident=False, **base)  # "SIX ... caught on the boundary?": two stories
    if (kinds or generic) and not neg:
        kind = kinds[0] if len(kinds) == 1 else _pick_kind(kinds)
        if kind is None:
            hints = [k for k, rx in KIND_HINTS if rx.search(s)]
            if "run out" in hints and "bowled" in hints:
                hints.remove("bowled")  # the bails come off in a run out too
            kind = hints[0] if len(hints) == 1 else None
        ex = _extras(s)
        if ex and kind and kind not in (LEGAL_OFF_WIDE if ex[0] == "wides" else LEGAL_OFF_NOBALL):
            # the Laws: nobody is caught, bowled or lbw off a wide, a bye or a leg bye; two stories, so say nothing
            return Canonical(outcome="unclear", confident=False, **base)
        base.setdefault("player_out", names.get("batter"))
        return Canonical(
            outcome="wicket", dismissal=kind, extra_kind=ex[0] if ex else None, extras=ex[1] if ex else None, **base
        )

    got = _runs(sh, cap)
    if got is None:
        return Canonical(outcome="unclear", confident=False, **base)
    outcome, runs, extra_kind, extras = got + (None, None) if len(got) == 2 else got
    return Canonical(outcome=outcome, runs=runs, extras=extras, extra_kind=extra_kind, **base)


def _pick_kind(kinds: list[str]) -> str | None:
    if not kinds:
        return None
    if "caught and bowled" in kinds:
        return "caught and bowled"
    # "caught" cues ride along with other kinds ("edged and taken ... stumped") less reliably
    for k in ("stumped", "run out", "lbw", "hit wicket", "caught", "bowled"):
        if k in kinds:
            return k
    return kinds[0]


def _caught_take(s: str) -> bool:
    """ "Taken at cover", "the keeper takes it": a catch, unless it is a leave, a ball on the bounce or a blow."""
    if NO_CATCH.search(s):
        return False
    if TAKE_IT.search(s):
        return bool(EDGED.search(s))
    return bool(TAKE_AT.search(s)) and (bool(EDGED.search(s)) or not KEEPER.search(s))


REVIEW_TURN = re.compile(
    r"\breview(?:s|ed)?\b|\bupstairs\b|\bdrs\b|\bthird umpire\b|\btv umpire\b|"
    r"\breplays?\b|\bball[- ]tracking\b|\bhawk[- ]?eye\b|"
    r"\bsnicko\b|\bultra[- ]?edge\b|\bumpire'?s call\b|"
    # a correction: "Dropped... no, he's clung on", "Bowled... not quite", "Caught! No wait, bump ball"
    r"(?:^|[.!?,;]\s*)(?:no(?=\s*[,!.])|no,?\s+wait|wait|hang on|hold on|actually|not quite)\b"
)


def _last_word(s: str) -> tuple[bool | None, str]:
    """What the words after the last review or correction say (True out, False not out, None neither
    or both), and those words."""
    turns = list(REVIEW_TURN.finditer(s))
    last = turns[-1] if turns else None
    if last is None:
        return None, ""
    tail = s[last.start() :]
    pos = bool(WICKET.search(tail)) or any(rx.search(tail) for _, rx in KINDS)
    negated = bool(WICKET_NEG.search(tail))
    return (pos if pos != negated else None), tail


def _extras(s: str):
    """(extra_kind, count) from extra cues, or None."""
    for kind, rx, default in (("wides", WIDE, 1), ("noballs", NOBALL, 1), ("legbyes", LEGBYES, 1), ("byes", BYES, 1)):
        m = rx.search(s)
        if m:
            # a number right before the cue ("2 wides", "four byes", "3lb")
            before = s[max(0, m.start() - 12) : m.end()]
            n = re.search(
                r"(\d|one|two|three|four|five|six|a|single|couple)\s*(?:leg[- "
                r"]?)?(?:wides?|wd|w|nbs?|no[- ]?balls?|lbs?|legbyes?|byes?|b)\b",
                before,
            )
            count = (int(n.group(1)) if n.group(1).isdigit() else NUM_WORDS.get(n.group(1), default)) if n else default
            return kind, count
    return None


def _runs(s: str, raw: str):
    """(outcome, runs) or (outcome, runs, extra_kind, extras) for a ball without a wicket, or None if unclear."""
    saved = bool(SAVED.search(s))
    all_run = ALL_RUN.search(s)
    six = bool(SIX.search(s)) or bool(re.search(r"(?<![A-Za-z])SIX(?![A-Za-z])", raw))
    four = bool(FOUR.search(s)) or bool(re.search(r"(?<![A-Za-z])FOUR(?![A-Za-z])", raw))
    if re.search(r"\bone bounce\b|\bbounced? once\b|\bbounces once\b|\bbounces? (?:over|before|into)", s):
        four, six = (
            four or six,
            False,
        )  # it bounced first: a four however far it went ("bounced once and over the rope")
    elif six and re.search(
        r"(?<!no )(?<!without )\b(?:bounce[sd]?|bouncing)\b(?!\s+(?:off|back|out|around|on the roof))", s
    ):
        four = True  # "bounces and over the rope": maybe a four; six and four together read as unclear
    if re.search(
        r"\b(?:lands?|landed|landing|bounces?|bounced|falls?|fell|dropped|"
        r"drops)\s+(?:just\s+|a (?:foot|yard|metre) )?inside the (?:ropes?|"
        r"fence|boundary)\b|"
        r"\bshort of the (?:ropes?|boundary|fence)\b|\bjust short\b",
        s,
    ):
        six = False  # "landed inside the rope": not a six, whatever it looked like
    if saved and not re.search(r"(?<![A-Za-z])(?:FOUR|SIX)(?![A-Za-z])", raw):
        six = four = False
    if (
        six
        and four
        and "?" not in s
        and re.search(r"\bon the full\b|\bwithout bouncing\b|\bno bounce\b|\bdid(?:n'?t| not) bounce\b", s)
    ):
        four = False  # "hits the boundary board on the full": a six
    overthrows = bool(re.search(r"\boverthrows?\b", s))
    if all_run or overthrows:
        four = six = False
    digits = {int(d) for d in DIGIT.findall(MASKS.sub(" ~ ", s))}
    extra = _extras(s)
    if re.search(r"\b\d+\s*(?:nb|wd|w|lb|b|lbs|nbs)\b", s):
        digits = set()  # shorthand extras carry their own count
    d = next(iter(digits)) if len(digits) == 1 else None
    if d == 6 and not four and not (all_run or overthrows):
        six = True
    if d == 4 and not six and not (all_run or overthrows) and (not extra or extra[0] == "noballs"):
        four = True
    if extra and extra[0] != "noballs" and not re.search(r"(?<![A-Za-z])(?:FOUR|SIX)(?![A-Za-z])", raw):
        six = four = False  # wides/byes that reach the rope are extras, not a boundary off the bat
    if six and four:
        return None
    if six or four:
        outcome = "six" if six else "four"
        ek, n = extra if extra and extra[0] == "noballs" else (None, None)
        return (outcome, 6 if six else 4, ek, n)
    if extra:
        kind, n = extra
        outcome = {"wides": "wide", "noballs": "noball", "byes": "byes", "legbyes": "legbyes"}[kind]
        bat = _run_count(s, d) if kind == "noballs" else 0
        return (outcome, bat or 0, kind, n)
    if all_run:
        return ("runs", _count(all_run.group(0), d or 4))
    if overthrows:
        return ("runs", None)  # the count mixes runs and overthrows: say runs, not how many
    if (
        d is None
        and re.search(r"\bno runs?\b", s)
        and not re.search(
            r"\b(?:single|couple|brace)\b|\b(?:one|two|three) runs?\b|\b(?:runs?|"
            r"ran|takes?|took|gets?|got)\s+(?:one|two|three|a single|a couple)\b",
            s,
        )
    ):
        return ("dot", 0)  # a plain "no run" outweighs a loose run word ("hurried by the pace ... no run")
    n = _run_count(s, d)
    if n:
        return ("runs", n)
    if d == 0 or DOT.search(s) or re.search(r"(?:^|\s)[.•](?:\s|$)", s):
        return ("dot", 0)
    return None


def _run_count(s: str, d: int | None) -> int | None:
    found = [n for n, rx in RUNS if rx.search(s)]
    if found:
        return found[0]
    if d in (1, 2, 3, 5, 7):
        return d
    return None

"""The Benaud checker: is a reply in the manner, and does it agree with its event?

Used by the dataset generator (every generated pair must pass), the evaluation (contradiction
and fit rates) and the server (a guard that can replace a bad reply), so it is plain regex work:
a few microseconds a reply, no imports beyond the standard library and device.commentary.

- `check_reply(reply, event, event_text=None)` -> problem codes, [] when fine:
  "too_long" (> MAX_WORDS words), "exclamation", "banned:<phrase>", "format:<what>" (newlines,
  quotes, markup such as chat tokens, emoji), "silent_on_wicket", "contradiction:<why>", "echo".
- `contradicts(reply, event)` -> why, or None. The reply's cue words ("Gone.", "Plumb.", "Four.",
  "Dropped.", "Wide.", "Single." ...) are mapped to the outcomes they imply (`claims`), and each
  claim is tested against the Canonical event. An "unclear" event has no ground truth, so only
  its flags (day start, milestone) are checked there.
- `fits(reply, event)` -> bool: an apt reaction to the class. Silence fits routine balls (dot,
  runs, extras, unclear), never a wicket, a drop, a boundary, a milestone or a day start; a wicket
  reply acknowledges the wicket (a wicket word, or praise of the ball or the catch); a boundary
  reply is not bowling praise alone nor dismissive; any other spoken reply reacts to what its
  class is about (a cue word, or a word from `_APT`: "Tight." on a dot, "Quick single." on a run;
  not "That's a long way." on a single); on an unclear event the reply claims no outcome at all
  (the model must not guess what the reader could not read).
- `echo(reply, event_text)` -> bool: the reply copies >= 3 consecutive words of the event, or is
  just a name from it.
- `strangers(reply, prompt)` -> the names in the reply that the prompt does not hold (the guard's
  "stranger:<name>", when the server gives it the prompt the model saw).
- `miscast(reply, event)` -> the event's people the reply names in a part they did not play (the
  guard's "miscast:<name>"): only the batter on a boundary, a run or a drop, the bowler on a dot.

Try it:  python -m device.commentary.manner "Gone." "Dropped at slip by Smith"
"""

from __future__ import annotations

import re
import sys

from device.commentary.delivery import read_text
from device.commentary.events import Canonical

MAX_WORDS = 5
BANNED = (
    "we",
    "us",
    "our",
    "ours",
    "they",
    "them",
    "their",
    "theirs",  # no team pronouns
    "tragedy",
    "tragic",
    "disaster",
    "disastrous",
    "catastrophe",
    "catastrophic",
    "nightmare",
    "of course",
    "unbelievable",
    "incredible",
    "amazing",
    "awesome",
    "wow",
    "omg",
    "oh my god",
    "insane",
    "epic",
    "boom",
    "lol",
    "folks",
    "guys",
    "ladies and gentlemen",
    "unclear",
    "outcome",
    "as an ai",
    "richie",
    "benaud",  # parroting the prompt, or breaking character
)
NOT_DISMISSALS = ("retired hurt", "retired not out")  # he leaves the field, but nobody got him

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
_BANNED = [(b, re.compile(r"\b" + re.escape(b).replace(r"\ ", r"\s+") + r"\b")) for b in BANNED]
_FORMAT = [
    ("newline", re.compile(r"[\r\n]")),
    ("quotes", re.compile(r"[\"“”]")),
    ("markup", re.compile(r"[*#_`<>\[\]{}|@]")),
    ("emoji", re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")),
]
_NEG = re.compile(r"\b(?:not|no|never|hardly|nearly|almost|wasn't|isn't|won't|without)\s+(?:\w+\s+)?$")


def words(reply: str) -> list[str]:
    return _WORD.findall(reply)


def word_count(reply: str) -> int:
    return len(words(reply))


def _rx(*parts: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in parts))


CAUGHT, CANDB = "caught", "caught and bowled"
# Cue words -> the claim they make. Order matters: earlier cues blank their text for later ones
# ("no ball" is not a negated "ball", "caught and bowled" is not "bowled", "not out" is not "out").
CUES: list[tuple[str, object, re.Pattern]] = [
    ("noball", None, _rx(r"\bno[- ]?balls?\b", r"\bfree[- ]hit\b", r"\boverst\w+")),
    ("kind", {"retired not out"}, _rx(r"\bretire[sd]?,? not out\b")),
    ("kind", {"retired hurt"}, _rx(r"\bretire[sd]?,? hurt\b")),
    ("kind", {"retired out"}, _rx(r"\bretire[sd]?,? out\b")),
    ("kind", {"timed out"}, _rx(r"\btimed out\b")),
    ("kind", {"handled the ball"}, _rx(r"\bhandled\b")),
    ("kind", {"obstructing the field"}, _rx(r"\bobstruct\w*")),
    ("kind", {"hit the ball twice"}, _rx(r"\bhit (?:the ball |it )?twice\b", r"\bdouble hit\b")),
    (
        "notout",
        None,
        _rx(
            r"\bnot out\b",
            r"\bsurviv\w*",
            r"\breprieve\b",
            r"\blives\b",
            r"\blet[- ]off\b",
            r"\bescapes?\b",
            r"\bsafe\b(?!\s+(?:hands|pair))",
            r"\bstill there\b",
            r"\bumpire says no\b",
            r"\bnot given\b",
            r"\bno wicket\b",
        ),
    ),
    (
        "dropped",
        None,
        _rx(
            r"\bdrop(?:s|ped)?\b(?!\s+(?:it\s+)?short)",
            r"\bput (?:it\s+)?down\b",
            r"\bputs (?:it\s+)?down\b",
            r"\bspill\w*",
            r"\bgrass(?:ed|es)\b",
            r"\bshell(?:ed|s)\b",
            r"\bfloor(?:ed|s)\b",
            r"\bmissed (?:chance|catch|stumping|run[- ]out)\b",
            r"\bchance (?:missed|gone|goes begging|begging)\b",
            r"\bshould have (?:held|taken|caught|had)\b",
            r"\bbutter\w*",
            r"\bhands of stone\b",
            r"\bcan'?t hold\b",
            r"\bcouldn'?t hold\b",
            r"\bsitter\b",
            r"\bdolly\b",
        ),
    ),
    ("kind", {CANDB}, _rx(r"\bcaught and bowled\b", r"\bc\s*(?:&|and)\s*b\b", r"\breturn catch\b", r"\bown bowling\b")),
    (
        "kind",
        {"run out"},
        _rx(
            r"\brun(?:s)?\s+(?:him|her)?\s*out\b",
            r"\brun[- ]?out\b",
            r"\bdirect hit\b",
            r"\bmix[- ]?up\b",
            r"\bcaught short\b",
            r"\bbeaten by the throw\b",
            r"\bsent back\b",
        ),
    ),
    (
        "kind",
        {"run out", "stumped"},
        _rx(r"\bout of (?:his|her) ground\b", r"\bshort of (?:his|her|the) (?:ground|crease)\b", r"\bmiles out\b"),
    ),
    ("kind", {"stumped"}, _rx(r"\bstump(?:ed|ing)\b", r"\bwhips? the bails\b")),
    (
        "kind",
        {"hit wicket"},
        _rx(r"\bhit[- ]wicket\b", r"\bon (?:his|her) (?:own )?stumps\b", r"\bown (?:wicket|stumps)\b"),
    ),
    (
        "kind",
        {"lbw"},
        _rx(
            r"\bplumb\b",
            r"\blbw\b",
            r"\bleg before\b",
            r"\btrapped\b",
            r"\bdead in front\b",
            r"\bin front\b(?!\s+of)",
            r"\bpinned\b",
        ),
    ),
    (
        "kind",
        {"bowled"},
        _rx(
            r"(?<!well )(?<!nicely )(?<!beautifully )(?<!superbly )(?<!brilliantly "
            r")(?<!cleverly )(?<!tightly )(?<!lovely )(?<!so )\bbowled\b(?!\s+(?:well|"
            r"there|that|a maiden|maiden|tight|beautifully))",
            r"\bbowls (?:him|her)\b",
            r"\bcastled\b",
            r"\btimber\b",
            r"\bstumps\s+(?:everywhere|rattled|shattered|flying|splayed|broken)\b",
            r"\b(?:took|takes|knocked|knocks|rattled|clipped|flattened|uprooted|"
            r"pegged back|hit)\s+(?:the\s+|his\s+|her\s+)?(?:off|middle|leg)(?:\s+stump|"
            r"\s+pole|\s+peg)?\b",
            r"\bthrough the gate\b",
            r"\bcleaned (?:him|her) up\b",
            r"\bknocked (?:him|her) over\b",
            r"\b(?:played|chopped|dragged) on\b",
        ),
    ),
    (
        "kind",
        {CAUGHT, CANDB},
        _rx(
            r"\bcaught\b(?!\s+(?:in two minds|on the crease|on the hop|flat[- ]footed|in the headlights|off guard))",
            r"\bcatch(?:es)?\b",
            r"\bsnaffled\b",
            r"\bpouched\b",
            r"\bsnapped up\b",
            r"\bclutched\b",
            r"\bholes? out\b",
            r"\bedged and (?:taken|gone)\b",
            r"\bnicked off\b",
            r"\bgood hands\b",
            r"\bsafe hands\b",
        ),
    ),
    (
        "kind",
        {CAUGHT, CANDB, "stumped"},
        _rx(r"\btaken\b(?!\s+(?:on|apart|for|to|away|down))", r"\bheld\b(?!\s+(?:up|back))", r"\bgood take\b"),
    ),
    ("hattrick_ball", None, _rx(r"\b(?:on|for|a|the|no|not a)\s+hat[- ]?trick\b", r"\bhat[- ]?trick ball\b")),
    ("hattrick", None, _rx(r"\bhat[- ]?trick\b")),
    (
        "six",
        None,
        _rx(
            r"\bsix\b(?!\s+(?:byes|leg|wides|overs|balls|wickets|in a row|an over))",
            r"\bsixer\b",
            r"\bmaximum\b",
            r"\binto the (?:stands?|crowd|car park|second tier|top tier|roof|river|members)\b",
            r"\bout of the (?:ground|park)\b",
            r"\bover the (?:ropes?|fence|boundary)\b",
            r"\ball the way\b",
            r"\bclears? the (?:ropes?|fence)\b",
            r"\bgone miles\b",
            r"\bthe distance\b",
        ),
    ),
    (
        "four",
        None,
        _rx(
            r"\bfour\b(?!\s+(?:byes|leg|wides|overs|balls|wickets|in a row|an over))",
            r"\bto the (?:fence|ropes?)\b",
            r"\bone bounce\b",
            r"\b4\b",
        ),
    ),
    ("boundary", None, _rx(r"\bboundary\b", r"\bfence\b", r"\bropes?\b")),
    (
        "wide",
        None,
        _rx(
            r"\bwides\b",
            r"(?<!full and )(?<!short and )(?<!too )(?<!very )(?<!so )(?<!a "
            r"bit )\bwide\b(?!\s+(?:of|outside|half|long|mid|third|slip|line|"
            r"one outside|and))",
        ),
    ),
    ("legbyes", None, _rx(r"\bleg[- ]?byes?\b")),
    ("byes", None, _rx(r"\bbyes?\b")),
    ("runs", 1, _rx(r"\bsingle\b", r"\bquick one\b", r"\bjust the one\b", r"\bone run\b", r"^one\W*$")),
    (
        "wicket",
        None,
        _rx(r"\b(?:two|three|four) in (?:two|three|four)\b", r"\b(?:two|three) (?:in|for) (?:two|three) balls\b"),
    ),
    (
        "runs",
        2,
        _rx(
            r"\btwo\b(?!\s+(?:balls|overs|wickets|in a row|hands|slips|fielders|men|gullies|catchers|minds))",
            r"\bcouple\b",
            r"\bbrace\b",
        ),
    ),
    ("runs", 3, _rx(r"\bthree\b(?!\s+(?:balls|overs|wickets|in a row|slips|fielders|men|catchers))", r"\ball run\b")),
    ("running", None, _rx(r"\bgood running\b", r"\bsharp running\b", r"\bquick running\b", r"\bscamper\w*")),
    (
        "dot",
        None,
        _rx(
            r"\bno run\b",
            r"\bdot\b",
            r"\bdefended\b",
            r"\bblocked\b",
            r"\bmaiden\b",
            r"\bnothing doing\b",
            r"\bnothing there\b",
        ),
    ),
    (
        "nocontact",
        None,
        _rx(
            r"\bbeaten\b(?!\s+by)",
            r"\bbeats? the bat\b",
            r"\bwell left\b",
            r"\bleft alone\b",
            r"\bgood leave\b",
            r"\bshoulders? arms\b",
            r"\bplay(?:ed|s)? and miss\w*",
            r"\bmissed (?:it|everything)\b",
            r"\bpast the (?:edge|bat)\b",
        ),
    ),
    (
        "wicket",
        None,
        _rx(
            r"\bgone\b(?!\s+(?:for|all|miles|over|the distance|a long way|past|to|into|away|wide)|\s*~)",
            r"\bgot (?:him|her|'?em)\b",
            r"\bgets (?:him|her)\b",
            r"\b(?:that's|thats|he's|she's|and|is|given) out\b(?!\s+(?:of|there|here)\b)",
            r"^out\b(?!\s+(?:of|comes?|came|goes|walks|there)\b)",
            "".join(
                f"(?<!{w} )"
                for w in (
                    "it",
                    "that",
                    "them",
                    "one",
                    "arms",
                    "way",
                    "back",
                    "steps",
                    "comes",
                    "came",
                    "dances",
                    "charges",
                    "dug",
                    "keeps",
                    "kept",
                    "play",
                    "plays",
                    "played",
                    "sees",
                )
            )
            + r"\bout\W*$",
            r"\bwicket\b(?!\s*-?\s*keep)",
            r"\bdeparts?\b",
            r"\bon (?:his|her) way\b",
            r"\b(?:off|and|there) (?:he|she) goes\b",
            r"\bhas to go\b",
            r"\bsent packing\b",
            r"\bbreakthrough\b",
            r"\bdismiss\w*",
            r"\bwalks\b",
            r"\bthat'?s (?:the|his|her) (?:end|lot)\b",
            r"\bcurtains\b",
            r"\bbig fish\b",
            r"\bstrikes\b",
            r"\bsend(?:s)? (?:him|her) back\b",
            r"\bhad (?:him|her)\b",
            r"\b(?!it\b|there\b|that\b|ball\b|up\b|and\b|she\b|he\b|this\b)\w+ goes\W*$",
        ),
    ),
    ("greeting", None, _rx(r"\bmorning\b", r"\bgood (?:afternoon|evening|day)\b", r"\bwelcome back\b", r"\bhello\b")),
    ("milestone", "fifty", _rx(r"\bfifty\b", r"\bhalf[- ]century\b", r"\b50\b")),
    ("milestone", "hundred", _rx(r"\bhundred\b", r"\bcentury\b", r"\bton\b", r"\b100\b")),
    ("milestone", "five", _rx(r"\bfive[- ]for\b", r"\bfifer\b", r"\bfive wickets\b", r"\b5 wickets\b", r"\bhaul\b")),
]
PRAISE_BAT = _rx(
    r"\bshot\b",
    r"\bstroke\b",
    r"\bdrive\b",
    r"\bdriven\b",
    r"\bplayed\b",
    r"\btiming\b",
    r"\btimed\b",
    r"\bbatting\b",
    r"\bhit\b",
    r"\bstrokeplay\b",
    r"\bcut\b",
    r"\bpull\b",
    r"\bsweep\b",
    r"\bflick\b",
    r"\bpunch\b",
    r"\bglance\b",
)
PRAISE_BALL = _rx(
    r"\bball\b",
    r"\bdelivery\b",
    r"\bbowling\b",
    r"\bbowled\b",
    r"\byorker\b",
    r"\bbeauty\b",
    r"\bjaffa\b",
    r"\bpeach\b",
    r"\bripper\b",
    r"\bgem\b",
    r"\bspell\b",
    r"\bwork\b",
    r"\bthrow\b",
    r"\bhands\b",
    r"\btake\b",
    r"\bfielding\b",
    r"\bkeeping\b",
)
PRAISE_ANY = _rx(
    r"\bmarvellous\b",
    r"\bsuperb\b",
    r"\bsplendid\b",
    r"\bexcellent\b",
    r"\bclever\b",
    r"\bwell done\b",
    r"\bthere it is\b",
    r"\bbrilliant\b",
    r"\bmagnificent\b",
    r"\bwonderful\b",
    r"\bbeautiful\b",
    r"\bsensational\b",
    r"\bexceptional\b",
    r"\bwhat a\b",
)
# the batter's body, which a boundary line never names without saying it was a boundary
BODY = _rx(r"\bpads?\b", r"\bthigh\b", r"\bhip\b", r"\bbody\b")
DISMISSIVE = _rx(
    r"^nothing\b(?!\s+(?:wrong|better|finer|like|more|much wrong))",
    r"\bnothing (?:in it|doing|there|much|special)\b",
    r"\broutine\b",
    r"\bquiet\b",
    r"\bdull\b",
    r"\bboring\b",
    r"\bmeh\b",
    r"\bordinary\b",
)
OUTCOME_CLAIMS = {
    "wicket",
    "kind",
    "notout",
    "dropped",
    "four",
    "six",
    "boundary",
    "wide",
    "noball",
    "byes",
    "legbyes",
    "runs",
    "running",
    "dot",
    "nocontact",
    "hattrick",
}


def claims(reply: str) -> list[tuple[str, object]]:
    """The outcomes a reply states or implies, as (claim, detail) pairs, negated cues dropped."""
    text = " ".join(reply.lower().replace("’", "'").split())
    found: list[tuple[str, object]] = []
    for name, detail, rx in CUES:
        for m in list(rx.finditer(text)):
            if name not in ("noball", "notout") and _NEG.search(text[: m.start()]):
                continue  # "not quite four", "almost a wicket", "no catch"
            found.append((name, detail))
        text = rx.sub(lambda m: "~" * len(m.group(0)), text)
    return found


def _is_dismissal(ev: Canonical) -> bool:
    return ev.outcome == "wicket" and ev.dismissal not in NOT_DISMISSALS


def _ran(ev: Canonical) -> int:
    """Runs the batters actually ran (off the bat or as byes), 0 for boundaries."""
    if ev.outcome in ("four", "six"):
        return 0
    if ev.outcome in ("byes", "legbyes"):
        return ev.extras or 0
    if ev.outcome == "wide":
        return max((ev.extras or 1) - 1, 0)
    return ev.runs or 0


def _milestone_ok(kind: str, milestone: str | None) -> bool:
    if not milestone:
        return False
    m = milestone.lower()
    keys = {
        "fifty": ("50", "fifty", "half"),
        "hundred": ("100", "hundred", "century", "ton", "200", "300"),
        "five": ("five", "5", "fifer", "haul", "wicket"),
    }[kind]
    return any(k in m for k in keys)


def _judge(claim: str, detail, ev: Canonical) -> str | None:
    """Why this single claim contradicts the event, or None."""
    o, k = ev.outcome, ev.dismissal
    bat, ext = ev.runs or 0, ev.extras or 0
    if claim == "greeting":
        return None if ev.day_start else "greeting without a day start"
    if claim == "milestone":
        return None if _milestone_ok(detail, ev.milestone) else f"{detail} milestone not in the event"
    if o == "unclear":
        return None  # no ground truth to contradict; fits() keeps such replies non-committal
    if claim == "wicket":
        return None if _is_dismissal(ev) else f"wicket claimed on {o}"
    if claim == "kind":
        if o != "wicket":
            return f"{'/'.join(sorted(detail))} claimed on {o}"
        return None if k is None or k in detail else f"{'/'.join(sorted(detail))} claimed on {k}"
    if claim == "notout":
        return f"not out claimed on {k}" if _is_dismissal(ev) else None
    if claim == "dropped":
        return None if o == "dropped" else f"drop claimed on {k or o}"
    if claim == "hattrick":
        return None if o == "wicket" and ev.hat_trick_ball else "hat-trick claimed without one"
    if claim == "hattrick_ball":
        return None if ev.hat_trick_ball or o == "wicket" else "hat-trick ball claimed without one"
    if claim == "six":
        return None if o == "six" or (o == "dropped" and bat == 6) else f"six claimed on {o}"
    if claim == "four":
        ok = (
            o == "four"
            or (o in ("byes", "legbyes", "wide") and ext in (4, 5))
            or (o in ("dropped", "runs", "noball") and bat == 4)
        )
        return None if ok else f"four claimed on {o}"
    if claim == "boundary":
        ok = (
            o in ("four", "six")
            or (o in ("byes", "legbyes", "wide") and ext in (4, 5))
            or (o == "dropped" and bat in (4, 6))
        )
        return None if ok else f"boundary claimed on {o}"
    if claim in ("wide", "noball", "byes", "legbyes"):
        kind = {"wide": "wides", "noball": "noballs"}.get(claim, claim)
        return None if o == claim or ev.extra_kind == kind else f"{claim} claimed on {o}"
    if claim == "runs":
        return None if _ran(ev) == detail or bat == detail else f"{detail} run(s) claimed on {o}"
    if claim == "running":
        return None if _ran(ev) > 0 or k == "run out" else f"running claimed on {o}"
    if claim == "dot":
        return (
            f"no run claimed on {o}"
            if (bat or ext or o in ("four", "six", "runs", "wide", "noball", "byes", "legbyes"))
            else None
        )
    if claim == "nocontact":
        bad = o in ("four", "six", "runs") or (o == "noball" and bat) or k in (CAUGHT, CANDB)
        return f"no contact claimed on {k or o}" if bad else None
    return None


def contradicts(reply: str, event: Canonical) -> str | None:
    """Why the reply states or implies an outcome the event did not have; None when it does not."""
    for claim, detail in claims(reply):
        why = _judge(claim, detail, event)
        if why:
            return why
    return None


# An apt reaction names or reacts to what this class of ball is about: a cue word from CUES, or one
# of these. Without one, a line such as "That's a long way." on a single or "Blowing it up." on a dot
# says nothing about the ball, and fits() refuses it (silence is the apt reply to a routine ball).
_CONTEXT_APT = _rx(
    r"\bneeded\b",
    r"\bto get\b",
    r"\bto win\b",
    r"\bfinish\b",
    r"\bpressure\b",
    r"\bclose\b",
    r"\bwins?\b",
    r"\bwon\b",
    r"\bjob done\b",
    r"\bmatch\b",
    r"\btense\b",
    r"\bnervy\b",
    r"\boff the mark\b",
    r"\bup and running\b",
    r"\bgets going\b",
    r"\breview\b",
    r"\bdecision\b",
    r"\bumpire'?s call\b",
    r"\bhat[- ]?trick\b",
)
_WHERE = (
    r"\bcovers?\b",
    r"\bpoint\b",
    r"\bmid-?wicket\b",
    r"\bmid-?on\b",
    r"\bmid-?off\b",
    r"\blong-?on\b",
    r"\blong-?off\b",
    r"\bfine leg\b",
    r"\bsquare\b",
    r"\bthird man\b",
    r"\bgully\b",
    r"\bstraight\b",
    r"\bdown the ground\b",
    r"\bthrough the\b",
    r"\bleg side\b",
    r"\boff side\b",
    r"\bcow corner\b",
    r"\bbehind\b",
)
_APT: dict[str, tuple[set, re.Pattern]] = {  # class -> (claims that fit it, words that react to it)
    "dot": (
        {"dot", "nocontact", "notout", "hattrick_ball"},
        _rx(
            r"\btight\w*",
            r"\btidy\b",
            r"\bdefen\w*",
            r"\bblock\w*",
            r"\bleft\b",
            r"\bleaves?\b",
            r"\bsolid\w*",
            r"\bwatchful\w*",
            r"\bcareful\w*",
            r"\bpatien\w*",
            r"\bsqueez\w*",
            r"\bprobing\b",
            r"\btesting\b",
            r"\bline\b",
            r"\blength\b",
            r"\bon the spot\b",
            r"\baccura\w*",
            r"\brespect\w*",
            r"\bwell played\b",
            r"\bwell judged\b",
            r"\bnothing\b",
            r"\bquiet\b",
            r"\bdead bat\b",
            r"\bkept out\b",
            r"\bkeeps it out\b",
            r"\bpitched\b",
            r"\bsettl\w*",
            r"\bdisciplin\w*",
            r"\beconomical\b",
            r"\bgood from\b",
            r"\bbouncer\b",
            r"\bshort\b",
            r"\bswing\w*",
            r"\bseam\w*",
            r"\bturn\w*",
            r"\bgrip\w*",
            r"\bstop\w*",
            r"\bdries up\b",
            r"\bnot a run\b",
            r"\bquestions?\b",
            r"\bchok\w*",
            r"\bareas?\b",
            r"\bfield\w*",
            r"\btechnique\b",
            r"\bhard to score\b",
            r"\bstraight bat\b",
            r"\bstraight to\b",
            r"\bno way through\b",
            r"\bwhisker\b",
            r"\bnowhere near\b",
            r"\bjudged\b",
            r"\btoo good\b",
            r"\blet it go\b",
            r"\bfull\b",
            r"\bwide\b",
            r"\boutside\b",
        ),
    ),
    "runs": (
        {"runs", "running"},
        _rx(
            r"\btwos?\b",
            r"\bthree\b",
            r"\bmore\b",
            r"\bsingles?\b",
            r"\bquick\w*",
            r"\bsharp\w*",
            r"\bplace\w*",
            r"\bwork(?:s|ed|ing)?\b",
            r"\bpush\w*",
            r"\bnudge\w*",
            r"\btuck\w*",
            r"\bclip\w*",
            r"\bturn\w*",
            r"\bsteer\w*",
            r"\bdab\w*",
            r"\bglance\w*",
            r"\bflick\w*",
            r"\bgap\b",
            r"\brotat\w*",
            r"\bstrike\b",
            r"\bticking\b",
            r"\bboard\b",
            r"\banother\b",
            r"\bkeeps\b",
            r"\bpinch\w*",
            r"\bstole\w*",
            r"\bscamper\w*",
            r"\bhustl\w*",
            r"\bbusy\b",
            r"\bruns?\b",
            r"\btakes?\b",
            r"\baway\b",
            r"\bcomfortabl\w*",
            r"\beasy\b",
            r"\bplayed\b",
            r"\bshot\b",
            r"\bdrive\w*",
            r"\bcut\b",
            r"\bpull\w*",
            r"\bsweep\w*",
            r"\brunning\b",
            r"\bscoreboard\b",
            r"\bticks? over\b",
            r"\btotal\b",
            r"\bsensibl\w*",
            r"\blegs\b",
            r"\bran\b",
            *_WHERE,
        ),
    ),
    "wide": (
        {"wide"},
        _rx(
            r"\bextras?\b",
            r"\bwayward\b",
            r"\bstray\w*",
            r"\bastray\b",
            r"\bdown (?:the )?leg\b",
            r"\berrant\b",
            r"\bradar\b",
            r"\bloose\b",
            r"\bspray\w*",
            r"\berratic\b",
            r"\bline\b",
            r"\bdirection\b",
            r"\bwaste\w*",
            r"\bgift\w*",
            r"\bfree\b",
            r"\boff target\b",
            r"\bmiss\w*",
            r"\bdrift\w*",
            r"\bnot quite there\b",
            r"\btoo wide\b",
        ),
    ),
    "noball": (
        {"noball"},
        _rx(r"\bextras?\b", r"\bfree\b", r"\bfront foot\b", r"\bline\b", r"\bcostly\b", r"\bgift\w*"),
    ),
    "byes": (
        {"byes", "legbyes"},
        _rx(
            r"\bextras?\b",
            r"\bkeeper\b",
            r"\bkeeping\b",
            r"\bpads?\b",
            r"\bthigh\b",
            r"\bbody\b",
            r"\bhip\b",
            r"\bleg\b",
            r"\bran\b",
            r"\bruns?\b",
            r"\bsneak\w*",
            r"\bscrambl\w*",
            r"\bsteal\w*",
            r"\bstole\w*",
            r"\bmiss\w*",
            r"\bthrough\b",
            r"\bpast\b",
            r"\btwo\b",
            r"\bfree\b",
            r"\bsloppy\b",
        ),
    ),
    "dropped": (
        {"dropped", "notout"},
        _rx(
            r"\bchance\b",
            r"\bmiss\w*",
            r"\breprieve\w*",
            r"\blucky\b",
            r"\bfortunate\b",
            r"\blet off\b",
            r"\blife\b",
            r"\bcostly\b",
            r"\bdear\b",
            r"\bsadly\b",
            r"\bpity\b",
            r"\bshame\b",
            r"\bexpensive\b",
            r"\bshould\b",
            r"\btough\b",
            r"\bhard\b",
            r"\bdifficult\b",
            r"\bhalf\b",
            r"\bcost\w*",
            r"\bgets away\b",
            r"\bnot held\b",
            r"\bfluff\w*",
            r"\bwent down\b",
            r"\bgoes down\b",
        ),
    ),
    "boundary": (
        {"four", "six", "boundary"},
        _rx(
            r"\bclear\w*",
            r"\blofted\b",
            r"\blaunch\w*",
            r"\blong way\b",
            r"\bcrowd\b",
            r"\bstands\b",
            r"\bover the top\b",
            r"\brac\w*",
            r"\baway\b",
            r"\bdispatch\w*",
            r"\bdeposit\w*",
            r"\bsmash\w*",
            r"\bstruck\b",
            r"\bstrike\b",
            r"\bcrunch\w*",
            r"\bcream\w*",
            r"\bgap\b",
            r"\bsweet\w*",
            r"\bclass\w*",
            r"\blovely\b",
            r"\belegan\w*",
            r"\bstreaky\b",
            r"\bedged?\b",
            r"\bfortunate\b",
            r"\blucky\b",
            r"\bgone\b",
            r"\bbig\b",
            r"\bhuge\b",
            r"\benormous\b",
            r"\bmassive\b",
            r"\bpower\w*",
            r"\bcrack\w*",
            r"\bbelt\w*",
            r"\bhammer\w*",
            r"\bpump\w*",
            r"\bthump\w*",
            r"\bmuscle\w*",
            r"\bcarv\w*",
            r"\bthread\w*",
            r"\bpierc\w*",
            r"\bbisect\w*",
            r"\bfound\b",
            r"\bgreat\b",
            r"\bfine\b",
            r"\bgood\b",
            r"\bnice\b",
            r"\bdelight\w*",
            r"\bglorious\b",
            r"\bsublime\b",
            r"\bexquisite\b",
            r"\bplaced\b",
            r"\btouch\b",
            r"\bflew\b",
            r"\bflies\b",
            r"\bsails?\b",
            r"\bmiles?\b",
            r"\bhigh\b",
            r"\bslog\w*",
            r"\bswat\w*",
            r"\bheave\w*",
            r"\bcollect\w*",
            r"\bhelp\w*",
            r"\bexpensive\b",
            r"\bpunish\w*",
            r"\bpaid\b",
            r"\bloose\b",
            r"\bshort\b",
            r"\bover\b",
            r"\bout of\b",
            r"\bswept\b",
            r"\bpulled\b",
            r"\bagricultural\b",
            r"\beffective\b",
            r"\bfield\b",
            r"\bcrisp\b",
            r"\baerial\b",
            r"\bmiddled?\b",
            r"\bemphatic\w*",
            r"\bno stopping\b",
            r"\bdrives?\b",
            r"\bbeautifully\b",
            r"\bback foot\b",
            r"\bpads\b",
            r"\bsix\b",
            r"\bfour\b",
            *_WHERE,
        ),
    ),
}
_APT_KEY = {"four": "boundary", "six": "boundary", "legbyes": "byes"}


def _reacts(reply: str, event: Canonical, found: set) -> bool:
    """The reply reacts to what this class of ball is about (see _APT); flagged events always may."""
    key = _APT_KEY.get(event.outcome, event.outcome)
    if key not in _APT or event.milestone or event.day_start:
        return True  # a milestone or a day start: the milestone and greeting claims are judged instead
    kinds, words_rx = _APT[key]
    low = reply.lower().replace("’", "'")
    if found & kinds or words_rx.search(low) or _CONTEXT_APT.search(low):
        return True
    if key == "boundary":
        return bool(PRAISE_BAT.search(low) or PRAISE_ANY.search(low))
    if key == "dot":
        return bool(PRAISE_BALL.search(low) or PRAISE_ANY.search(low))
    return False


def fits(reply: str, event: Canonical) -> bool:
    """Is the reply an apt reaction to the event's class (beyond not contradicting it)?"""
    if contradicts(reply, event):
        return False
    o = event.outcome
    flagged = event.day_start or bool(event.milestone)
    if not reply.strip():
        return o in ("dot", "runs", "wide", "noball", "byes", "legbyes", "unclear") and not flagged
    found = {c for c, _ in claims(reply)}
    low = reply.lower()
    if o == "unclear":
        return not (found & OUTCOME_CLAIMS)
    if _is_dismissal(event):
        acknowledges = bool(found & {"wicket", "kind", "hattrick"}) or bool(
            PRAISE_BALL.search(low) or PRAISE_ANY.search(low)
        )
        # "Beaten all ends up." says it all about a bowled, lbw or stumping
        acknowledges = acknowledges or ("nocontact" in found and event.dismissal in ("bowled", "lbw", "stumped"))
        return (
            acknowledges
            and not (found & {"runs", "running", "dot"})
            and not (PRAISE_BAT.search(low) and not found & {"wicket", "kind"})
        )
    if o == "dropped" and PRAISE_BAT.search(low) and not found & {"dropped", "notout"}:
        return False
    if o in ("four", "six"):
        unsaid = not found & {"four", "six", "boundary"}  # a line that does not say it was a boundary
        if (
            DISMISSIVE.search(low)
            or (unsaid and BODY.search(low))  # "Struck on the pad." is a leg bye
            or (unsaid and PRAISE_BALL.search(low) and not PRAISE_BAT.search(low))
        ):
            return False
    return _reacts(reply, event, found)


_COMMON = {
    w
    for w in """
four six out gone lovely shot good ball well bowled played marvellous superb dropped wide no one two three single
the a an and of to in on it that's what beauty catch taken held plumb lbw stumped run bowled caught morning everyone
hundred fifty century ton maximum boundary edge edged top inside outside off leg middle stump stumps quick sharp
""".split()
}


def echo(reply: str, event_text: str, names: tuple[str, ...] = ()) -> bool:
    """The reply copies >= 3 consecutive words of the event text, or is just a name from it."""
    rw = [w.lower() for w in words(reply)]
    if not rw:
        return False
    tw = [w.lower() for w in words(event_text or "")]
    grams = {tuple(tw[i : i + 3]) for i in range(len(tw) - 2)}
    if any(tuple(rw[i : i + 3]) in grams for i in range(len(rw) - 2)):
        return True
    # names: capitalised words that do not merely start a sentence ("Superb drive by Kohli" names Kohli only)
    caps = {
        m.group(1).lower()
        for m in re.finditer(r"(?<![.!?:\n])(?<![.!?:\n] )(?<!^)\b([A-Z][a-z][\w'’-]*)", (event_text or "").strip())
    }
    caps |= {p.lower() for n in names if n for p in words(n)}
    return len(rw) <= 3 and all(w in caps and w not in _COMMON for w in rw)


_NAME_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
PEOPLE_ROLES = ("batter", "bowler", "fielder", "player_out")  # the fields of `Canonical` that name a person


def word_key(word: str) -> str:
    """How a word is looked up: lower case, a possessive dropped ("Root's" is root)."""
    return re.sub(r"['’]s$", "", word).lower()


def word_keys(text: str) -> list[str]:
    """The `word_key` of every word of `text`, in order."""
    return [word_key(w) for w in _NAME_WORD.findall(text or "")]


def _known(key: str, words) -> bool:
    """`key` or its singular ("Edges" beside "edge") is in `words`."""
    return key in words or (key.endswith("s") and (key[:-1] in words or (key.endswith("es") and key[:-2] in words)))


def strangers(reply: str, prompt: str, vocabulary: frozenset[str] | set[str] | None = None) -> list[str]:
    """Names in the reply that its prompt does not hold: "Tight from Owls." to a prompt about Woakes.

    A name here is a capitalised word that does not open the reply or a sentence of it ("Careless. Out."
    opens one); the prompt is matched without regard to case (typed prompts come in lower case) and a
    possessive is the name ("Root's day" names Root).

    An opening word is judged only with a `vocabulary`, the words of the bundle's training replies
    (`word_key`s, people's names left out: builder.data.vocabulary): it is a stranger when neither the prompt
    nor the vocabulary holds it, so "Starc goes big." to a ball of Roy's and Woakes's, or an invented
    "Slogan.", is drawn again while "Marvellous." passes. Without one it passes, as it always did."""
    known = {w.lower() for w in _NAME_WORD.findall(prompt or "")} | set(word_keys(prompt))
    found = []
    for m in _NAME_WORD.finditer(reply or ""):
        word = m.group(0)
        if not word[0].isupper():
            continue
        before = reply[: m.start()].rstrip()
        opens = not before or before[-1] in ".?!:;"
        if opens and not vocabulary:
            continue
        name = word_key(word)
        if name in known or word.lower() in known or (opens and _known(name, known)):
            continue
        if opens and _known(name, vocabulary):
            continue
        found.append(word)
    return found


# Whom a reply may name, by the ball's outcome: the batter plays a boundary or a run; a let-off is the batter's
# or the fielder's who put it down; the bowler bowls a dot; a wicket is the bowler's or the fielder's, never
# the batter's who is out. Every named line of the training data keeps to this (benchmarks/RESULTS.md, issue 15).
NAMED_ROLES = {
    "four": {"batter"},
    "six": {"batter"},
    "runs": {"batter"},
    "dropped": {"batter", "fielder"},
    "dot": {"bowler"},
    "wicket": {"bowler", "fielder"},
}


def miscast(reply: str, event: Canonical) -> list[str]:
    """People of the event the reply names in a part they did not play: "Tight from Bairstow." on a dot
    Bairstow faced, "Lovely, Lyon." on a four off Lyon. A name is a capitalised word of a person's name
    (initials aside), at any place in the reply; a word two people share is judged by either's part."""
    allowed = NAMED_ROLES.get(event.outcome)
    if not allowed or not reply:
        return []
    people: dict[str, set] = {}
    for role in PEOPLE_ROLES:
        for word in _NAME_WORD.findall(getattr(event, role) or ""):
            if not (word.isupper() and len(word) <= 3):  # "JM Bairstow": the initials name nobody
                people.setdefault(word.lower(), set()).add(role)
    found = []
    for m in _NAME_WORD.finditer(reply):
        word = m.group(0)
        roles = people.get(word_key(word)) or people.get(word.lower())
        if word[0].isupper() and roles and not roles & allowed:
            found.append(word)
    return found


def initials(reply: str, event: Canonical) -> list[str]:
    """Initials of the event's people that the reply names them by: "Lovely from JJ." to a four of JJ Roy's,
    "Good catch, TWM Latham.". Cricsheet writes people so; no line of the training data names anyone that
    way, and a listener hears letters where a name belongs."""
    letters = {
        word
        for role in PEOPLE_ROLES
        for word in _NAME_WORD.findall(getattr(event, role) or "")
        if word.isupper() and len(word) <= 4
    }
    return [m.group(0) for m in _NAME_WORD.finditer(reply or "") if m.group(0) in letters]


def check_reply(reply: str, event: Canonical, event_text: str | None = None) -> list[str]:
    """Problem codes for one reply to one event; [] when the reply is in the manner and consistent."""
    problems = []
    if word_count(reply) > MAX_WORDS:
        problems.append("too_long")
    if "!" in reply:
        problems.append("exclamation")
    low = reply.lower().replace("’", "'")
    problems += [f"banned:{b}" for b, rx in _BANNED if rx.search(low)]
    problems += [f"format:{what}" for what, rx in _FORMAT if rx.search(reply.strip())]
    if not reply.strip() and _is_dismissal(event):
        problems.append("silent_on_wicket")
    why = contradicts(reply, event)
    if why:
        problems.append(f"contradiction:{why}")
    names = (event.batter, event.bowler, event.player_out, event.fielder)
    if echo(reply, event_text or "", names=names):
        problems.append("echo")
    return problems


if __name__ == "__main__":
    reply, text = sys.argv[1], sys.argv[2]
    ev = read_text(text)
    print(ev.outcome, ev.dismissal, check_reply(reply, ev, text), "fits" if fits(reply, ev) else "does not fit")

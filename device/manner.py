"""The Benaud checker: is a reply in the manner, and does it agree with its event?

Used by the dataset generator (every generated pair must pass), the evaluation (contradiction
and fit rates) and the server (a guard that can replace a bad reply), so it is plain regex work:
a few microseconds a reply, no imports beyond the standard library and device.prompt.

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
  reply is not bowling praise alone nor dismissive; on an unclear event the reply claims no
  outcome at all (the model must not guess what the reader could not read).
- `echo(reply, event_text)` -> bool: the reply copies >= 3 consecutive words of the event, or is
  just a name from it.

Try it:  python -m device.manner "Gone." "Dropped at slip by Smith"
"""

from __future__ import annotations

import re
import sys

from device.prompt import Canonical, read_text

MAX_WORDS = 5
BANNED = (
    "we", "us", "our", "ours", "they", "them", "their", "theirs",  # no team pronouns
    "tragedy", "tragic", "disaster", "disastrous", "catastrophe", "catastrophic", "nightmare",
    "of course", "unbelievable", "incredible", "amazing", "awesome", "wow", "omg", "oh my god",
    "insane", "epic", "boom", "lol", "folks", "guys", "ladies and gentlemen",
    "unclear", "outcome", "as an ai", "richie", "benaud",  # parroting the prompt, or breaking character
)
NOT_DISMISSALS = ("retired hurt", "retired not out")  # he leaves the field, but nobody got him

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
_BANNED = [(b, re.compile(r"\b" + re.escape(b).replace(r"\ ", r"\s+") + r"\b")) for b in BANNED]
_FORMAT = [
    ("newline", re.compile(r"[\r\n]")), ("quotes", re.compile(r"[\"“”]")), ("markup", re.compile(r"[*#_`<>\[\]{}|@]")),
    ("emoji", re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF]")),
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
    ("notout", None, _rx(r"\bnot out\b", r"\bsurviv\w*", r"\breprieve\b", r"\blives\b", r"\blet[- ]off\b", r"\bescapes?\b",
                         r"\bsafe\b(?!\s+(?:hands|pair))", r"\bstill there\b", r"\bumpire says no\b", r"\bnot given\b", r"\bno wicket\b")),
    ("dropped", None, _rx(r"\bdrop(?:s|ped)?\b(?!\s+(?:it\s+)?short)", r"\bput (?:it\s+)?down\b", r"\bputs (?:it\s+)?down\b", r"\bspill\w*", r"\bgrass(?:ed|es)\b",
                          r"\bshell(?:ed|s)\b", r"\bfloor(?:ed|s)\b", r"\bmissed (?:chance|catch|stumping|run[- ]out)\b",
                          r"\bchance (?:missed|gone|goes begging|begging)\b", r"\bshould have (?:held|taken|caught|had)\b",
                          r"\bbutter\w*", r"\bhands of stone\b", r"\bcan'?t hold\b", r"\bcouldn'?t hold\b", r"\bsitter\b", r"\bdolly\b")),
    ("kind", {CANDB}, _rx(r"\bcaught and bowled\b", r"\bc\s*(?:&|and)\s*b\b", r"\breturn catch\b", r"\bown bowling\b")),
    ("kind", {"run out"}, _rx(r"\brun(?:s)?\s+(?:him|her)?\s*out\b", r"\brun[- ]?out\b", r"\bdirect hit\b", r"\bmix[- ]?up\b", r"\bcaught short\b",
                              r"\bbeaten by the throw\b", r"\bsent back\b")),
    ("kind", {"run out", "stumped"}, _rx(r"\bout of (?:his|her) ground\b", r"\bshort of (?:his|her|the) (?:ground|crease)\b", r"\bmiles out\b")),
    ("kind", {"stumped"}, _rx(r"\bstump(?:ed|ing)\b", r"\bwhips? the bails\b")),
    ("kind", {"hit wicket"}, _rx(r"\bhit[- ]wicket\b", r"\bon (?:his|her) (?:own )?stumps\b", r"\bown (?:wicket|stumps)\b")),
    ("kind", {"lbw"}, _rx(r"\bplumb\b", r"\blbw\b", r"\bleg before\b", r"\btrapped\b", r"\bdead in front\b", r"\bin front\b(?!\s+of)", r"\bpinned\b")),
    ("kind", {"bowled"}, _rx(r"(?<!well )(?<!nicely )(?<!beautifully )(?<!superbly )(?<!brilliantly )(?<!cleverly )(?<!tightly )(?<!lovely )(?<!so )\bbowled\b(?!\s+(?:well|there|that|a maiden|maiden|tight|beautifully))",
                             r"\bbowls (?:him|her)\b", r"\bcastled\b", r"\btimber\b", r"\bstumps\s+(?:everywhere|rattled|shattered|flying|splayed|broken)\b",
                             r"\b(?:took|takes|knocked|knocks|rattled|clipped|flattened|uprooted|pegged back|hit)\s+(?:the\s+|his\s+|her\s+)?(?:off|middle|leg)(?:\s+stump|\s+pole|\s+peg)?\b",
                             r"\bthrough the gate\b", r"\bcleaned (?:him|her) up\b", r"\bknocked (?:him|her) over\b", r"\b(?:played|chopped|dragged) on\b")),
    ("kind", {CAUGHT, CANDB}, _rx(r"\bcaught\b(?!\s+(?:in two minds|on the crease|on the hop|flat[- ]footed|in the headlights|off guard))", r"\bcatch(?:es)?\b", r"\bsnaffled\b", r"\bpouched\b", r"\bsnapped up\b", r"\bclutched\b", r"\bholes? out\b",
                                  r"\bedged and (?:taken|gone)\b", r"\bnicked off\b", r"\bgood hands\b", r"\bsafe hands\b")),
    ("kind", {CAUGHT, CANDB, "stumped"}, _rx(r"\btaken\b(?!\s+(?:on|apart|for|to|away|down))", r"\bheld\b(?!\s+(?:up|back))", r"\bgood take\b")),
    ("hattrick_ball", None, _rx(r"\b(?:on|for|a|the|no|not a)\s+hat[- ]?trick\b", r"\bhat[- ]?trick ball\b")),
    ("hattrick", None, _rx(r"\bhat[- ]?trick\b")),
    ("six", None, _rx(r"\bsix\b(?!\s+(?:byes|leg|wides|overs|balls|wickets|in a row|an over))", r"\bsixer\b", r"\bmaximum\b",
                      r"\binto the (?:stands?|crowd|car park|second tier|top tier|roof|river|members)\b", r"\bout of the (?:ground|park)\b",
                      r"\bover the (?:ropes?|fence|boundary)\b", r"\ball the way\b", r"\bclears? the (?:ropes?|fence)\b", r"\bgone miles\b", r"\bthe distance\b")),
    ("four", None, _rx(r"\bfour\b(?!\s+(?:byes|leg|wides|overs|balls|wickets|in a row|an over))", r"\bto the (?:fence|ropes?)\b", r"\bone bounce\b",
                       r"\b4\b")),
    ("boundary", None, _rx(r"\bboundary\b", r"\bfence\b", r"\bropes?\b")),
    ("wide", None, _rx(r"\bwides\b", r"(?<!full and )(?<!short and )(?<!too )(?<!very )(?<!so )(?<!a bit )\bwide\b(?!\s+(?:of|outside|half|long|mid|third|slip|line|one outside|and))")),
    ("legbyes", None, _rx(r"\bleg[- ]?byes?\b")),
    ("byes", None, _rx(r"\bbyes?\b")),
    ("runs", 1, _rx(r"\bsingle\b", r"\bquick one\b", r"\bjust the one\b", r"\bone run\b", r"^one\W*$")),
    ("wicket", None, _rx(r"\b(?:two|three|four) in (?:two|three|four)\b", r"\b(?:two|three) (?:in|for) (?:two|three) balls\b")),
    ("runs", 2, _rx(r"\btwo\b(?!\s+(?:balls|overs|wickets|in a row|hands|slips|fielders|men|gullies|catchers|minds))", r"\bcouple\b", r"\bbrace\b")),
    ("runs", 3, _rx(r"\bthree\b(?!\s+(?:balls|overs|wickets|in a row|slips|fielders|men|catchers))", r"\ball run\b")),
    ("running", None, _rx(r"\bgood running\b", r"\bsharp running\b", r"\bquick running\b", r"\bscamper\w*")),
    ("dot", None, _rx(r"\bno run\b", r"\bdot\b", r"\bdefended\b", r"\bblocked\b", r"\bmaiden\b", r"\bnothing doing\b", r"\bnothing there\b")),
    ("nocontact", None, _rx(r"\bbeaten\b(?!\s+by)", r"\bbeats? the bat\b", r"\bwell left\b", r"\bleft alone\b", r"\bgood leave\b", r"\bshoulders? arms\b",
                            r"\bplay(?:ed|s)? and miss\w*", r"\bmissed (?:it|everything)\b", r"\bpast the (?:edge|bat)\b")),
    ("wicket", None, _rx(r"\bgone\b(?!\s+(?:for|all|miles|over|the distance|a long way|past|to|into|away|wide)|\s*~)", r"\bgot (?:him|her|'?em)\b", r"\bgets (?:him|her)\b",
                         r"\b(?:that's|thats|he's|she's|and|is|given) out\b(?!\s+(?:of|there|here)\b)", r"^out\b(?!\s+(?:of|comes?|came|goes|walks|there)\b)",
                         "".join(f"(?<!{w} )" for w in ("it", "that", "them", "one", "arms", "way", "back", "steps", "comes", "came", "dances",
                                                         "charges", "dug", "keeps", "kept", "play", "plays", "played", "sees")) + r"\bout\W*$", r"\bwicket\b(?!\s*-?\s*keep)", r"\bdeparts?\b",
                         r"\bon (?:his|her) way\b", r"\b(?:off|and|there) (?:he|she) goes\b", r"\bhas to go\b", r"\bsent packing\b", r"\bbreakthrough\b",
                         r"\bdismiss\w*", r"\bwalks\b", r"\bthat'?s (?:the|his|her) (?:end|lot)\b", r"\bcurtains\b", r"\bbig fish\b", r"\bstrikes\b",
                         r"\bsend(?:s)? (?:him|her) back\b", r"\bhad (?:him|her)\b", r"\b(?!it\b|there\b|that\b|ball\b|up\b|and\b|she\b|he\b|this\b)\w+ goes\W*$")),
    ("greeting", None, _rx(r"\bmorning\b", r"\bgood (?:afternoon|evening|day)\b", r"\bwelcome back\b", r"\bhello\b")),
    ("milestone", "fifty", _rx(r"\bfifty\b", r"\bhalf[- ]century\b", r"\b50\b")),
    ("milestone", "hundred", _rx(r"\bhundred\b", r"\bcentury\b", r"\bton\b", r"\b100\b")),
    ("milestone", "five", _rx(r"\bfive[- ]for\b", r"\bfifer\b", r"\bfive wickets\b", r"\b5 wickets\b", r"\bhaul\b")),
]
PRAISE_BAT = _rx(r"\bshot\b", r"\bstroke\b", r"\bdrive\b", r"\bdriven\b", r"\bplayed\b", r"\btiming\b", r"\btimed\b", r"\bbatting\b", r"\bhit\b",
                 r"\bstrokeplay\b", r"\bcut\b", r"\bpull\b", r"\bsweep\b", r"\bflick\b", r"\bpunch\b", r"\bglance\b")
PRAISE_BALL = _rx(r"\bball\b", r"\bdelivery\b", r"\bbowling\b", r"\bbowled\b", r"\byorker\b", r"\bbeauty\b", r"\bjaffa\b", r"\bpeach\b", r"\bripper\b",
                  r"\bgem\b", r"\bspell\b", r"\bwork\b", r"\bthrow\b", r"\bhands\b", r"\btake\b", r"\bfielding\b", r"\bkeeping\b")
PRAISE_ANY = _rx(r"\bmarvellous\b", r"\bsuperb\b", r"\bsplendid\b", r"\bexcellent\b", r"\bclever\b", r"\bwell done\b", r"\bthere it is\b",
                 r"\bbrilliant\b", r"\bmagnificent\b", r"\bwonderful\b", r"\bbeautiful\b", r"\bsensational\b", r"\bexceptional\b", r"\bwhat a\b")
DISMISSIVE = _rx(r"^nothing\b(?!\s+(?:wrong|better|finer|like|more|much wrong))", r"\bnothing (?:in it|doing|there|much|special)\b", r"\broutine\b", r"\bquiet\b", r"\bdull\b", r"\bboring\b", r"\bmeh\b", r"\bordinary\b")
OUTCOME_CLAIMS = {"wicket", "kind", "notout", "dropped", "four", "six", "boundary", "wide", "noball", "byes", "legbyes", "runs", "running",
                  "dot", "nocontact", "hattrick"}


def claims(reply: str) -> list[tuple[str, object]]:
    """The outcomes a reply states or implies, as (claim, detail) pairs, negated cues dropped."""
    text = " ".join(reply.lower().replace("’", "'").split())
    found: list[tuple[str, object]] = []
    for name, detail, rx in CUES:
        for m in list(rx.finditer(text)):
            if name not in ("noball", "notout") and _NEG.search(text[:m.start()]):
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
    keys = {"fifty": ("50", "fifty", "half"), "hundred": ("100", "hundred", "century", "ton", "200", "300"),
            "five": ("five", "5", "fifer", "haul", "wicket")}[kind]
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
        ok = o == "four" or (o in ("byes", "legbyes", "wide") and ext in (4, 5)) or (o in ("dropped", "runs", "noball") and bat == 4)
        return None if ok else f"four claimed on {o}"
    if claim == "boundary":
        ok = o in ("four", "six") or (o in ("byes", "legbyes", "wide") and ext in (4, 5)) or (o == "dropped" and bat in (4, 6))
        return None if ok else f"boundary claimed on {o}"
    if claim in ("wide", "noball", "byes", "legbyes"):
        kind = {"wide": "wides", "noball": "noballs"}.get(claim, claim)
        return None if o == claim or ev.extra_kind == kind else f"{claim} claimed on {o}"
    if claim == "runs":
        return None if _ran(ev) == detail or bat == detail else f"{detail} run(s) claimed on {o}"
    if claim == "running":
        return None if _ran(ev) > 0 or k == "run out" else f"running claimed on {o}"
    if claim == "dot":
        return f"no run claimed on {o}" if (bat or ext or o in ("four", "six", "runs", "wide", "noball", "byes", "legbyes")) else None
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
        acknowledges = bool(found & {"wicket", "kind", "hattrick"}) or bool(PRAISE_BALL.search(low) or PRAISE_ANY.search(low))
        # "Beaten all ends up." says it all about a bowled, lbw or stumping
        acknowledges = acknowledges or ("nocontact" in found and event.dismissal in ("bowled", "lbw", "stumped"))
        return acknowledges and not (found & {"runs", "running", "dot"}) and not (PRAISE_BAT.search(low) and not found & {"wicket", "kind"})
    if o == "dropped":
        return not PRAISE_BAT.search(low) or bool(found & {"dropped", "notout"})
    if o in ("four", "six"):
        return not DISMISSIVE.search(low) and not (PRAISE_BALL.search(low) and not PRAISE_BAT.search(low) and not found & {"four", "six", "boundary"})
    return True


_COMMON = {w for w in """
four six out gone lovely shot good ball well bowled played marvellous superb dropped wide no one two three single
the a an and of to in on it that's what beauty catch taken held plumb lbw stumped run bowled caught morning everyone
hundred fifty century ton maximum boundary edge edged top inside outside off leg middle stump stumps quick sharp
""".split()}


def echo(reply: str, event_text: str, names: tuple[str, ...] = ()) -> bool:
    """The reply copies >= 3 consecutive words of the event text, or is just a name from it."""
    rw = [w.lower() for w in words(reply)]
    if not rw:
        return False
    tw = [w.lower() for w in words(event_text or "")]
    grams = {tuple(tw[i:i + 3]) for i in range(len(tw) - 2)}
    if any(tuple(rw[i:i + 3]) in grams for i in range(len(rw) - 2)):
        return True
    # names: capitalised words that do not merely start a sentence ("Superb drive by Kohli" names Kohli only)
    caps = {m.group(1).lower() for m in re.finditer(r"(?<![.!?:\n])(?<![.!?:\n] )(?<!^)\b([A-Z][a-z][\w'’-]*)", (event_text or "").strip())}
    caps |= {p.lower() for n in names if n for p in words(n)}
    return len(rw) <= 3 and all(w in caps and w not in _COMMON for w in rw)


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

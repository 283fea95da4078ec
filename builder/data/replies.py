"""The reply bank: what Benaud says (or doesn't) about a simulated event, written by this project.

Replies are keyed by event class, dismissal kind, how the ball was played (only when the prompt shows
it) and context (milestones, start of day, hat-trick ball, the end of a chase). Every line here is at
most five words, has no "!", no "we/they/us" and no "tragedy/disaster"; `device.commentary.manner.check_reply`
still runs over every pair the dataset writes. `{him}`/`{he}`/`{his}` follow the match's gender;
`{batter}`, `{bowler}`, `{fielder}` are the surnames the prompt itself shows.

    python -m builder.data.replies     # prints the bank's size per class
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CATCHPHRASES = ("Marvellous.", "Got {him}.", "Morning, everyone.")

GENERIC = {
    "dot": [
        "Dot ball.",
        "No run.",
        "Nothing doing.",
        "Good ball.",
        "Tight line.",
        "Well bowled.",
        "Tidy.",
        "Pressure building.",
        "Right on the spot.",
        "Good length.",
        "Keeps it tight.",
        "Nagging line.",
        "Another dot.",
        "Probing stuff.",
        "No way through.",
        "Good areas.",
        "Hard to score off.",
        "Patient.",
        "Accurate.",
        "Nothing in it.",
        "Disciplined bowling.",
        "Not a run there.",
        "Dries up.",
        "Choking the runs.",
        "Just short of a length.",
        "Asking questions.",
        "Tight.",
    ],
    "runs1": [
        "One more.",
        "Single.",
        "Quick single.",
        "Rotates the strike.",
        "Keeps it moving.",
        "Easy single.",
        "Just the one.",
        "Ticks over.",
        "Scoreboard moves.",
        "Sensible cricket.",
        "One to the total.",
        "Strike rotated.",
        "Tucked away, one.",
        "Nice and easy.",
        "Keeps the board moving.",
    ],
    "runs2": [
        "Two more.",
        "Good running.",
        "Hard-run two.",
        "Back for two.",
        "Well run.",
        "Two.",
        "Couple more.",
        "Pushing hard for two.",
        "Smart running.",
        "Two to the total.",
    ],
    "runs3": ["Three.", "Three more.", "Well run, three.", "Good legs.", "Hard running.", "Excellent running."],
    "runs_allrun": ["Plenty of running.", "Ran every one.", "Good legs.", "Hard running.", "Long way to run."],
    "four": [
        "Four.",
        "Boundary.",
        "That's four.",
        "Into the fence.",
        "Races away.",
        "Finds the gap.",
        "No stopping that.",
        "Too quick for the field.",
        "Four more.",
    ],
    "four_praise": [
        "Lovely shot.",
        "Beautifully played.",
        "Glorious.",
        "Shot.",
        "Crisp.",
        "Superb timing.",
        "Class.",
        "Elegant.",
        "Pierced the field.",
        "Timed to perfection.",
        "Pure timing.",
        "Sweetly struck.",
        "Right out of the middle.",
        "Lovely stroke.",
        "Handsome shot.",
        "Exquisite.",
        "Delightful.",
        "That's a good shot.",
        "Picked the gap.",
        "Just placed it.",
    ],
    "six": [
        "Six.",
        "That's six.",
        "Huge.",
        "Into the stands.",
        "Massive hit.",
        "Enormous.",
        "Clean strike.",
        "Maximum.",
        "Big hit.",
        "Over the rope.",
        "Sails over.",
        "A long way back.",
        "Cleared the rope.",
        "Up and over.",
        "Six more.",
        "Well hit.",
        "Middled.",
        "Cleared it easily.",
        "Into the crowd.",
        "Some hit, that.",
    ],
    "wicket_credited": [
        "Well bowled.",
        "Breakthrough.",
        "Wicket.",
        "That's the wicket.",
        "Big wicket, that.",
        "Breakthrough, at last.",
        "Deserved wicket.",
        "Reward for good bowling.",
        "Out.",
        "That's out.",
        "{he}'s out.",
        "Big wicket.",
        "Important wicket.",
        "Superb delivery.",
        "A wicket.",
    ],
    "wicket_any": ["Out.", "That's out.", "{he}'s out.", "Wicket.", "Big wicket.", "Important wicket."],
    "bowled": [
        "Bowled.",
        "Bowled {him}.",
        "Timber.",
        "Clean bowled.",
        "Castled.",
        "Knocked {him} over.",
        "Stumps rattled.",
        "Bowled, right through {him}.",
        "Hit middle stump.",
        "Bowled, simple as that.",
        "Stumps shattered.",
        "Lovely ball. Bails off.",
        "Beaten and bowled.",
    ],
    "lbw": [
        "Plumb.",
        "That's adjacent.",
        "Trapped in front.",
        "Dead in front.",
        "Leg before.",
        "Trapped on the pad.",
        "Out, no doubt.",
        "In front.",
        "Pinned.",
        "Finger up. Out.",
        "Leg before wicket.",
        "Out, leg before.",
    ],
    "caught": [
        "Safe hands.",
        "Taken.",
        "Caught.",
        "Good catch.",
        "Well held.",
        "Held on.",
        "Snapped up.",
        "Fine catch.",
        "Caught, easily.",
        "Pouched.",
        "Nicely taken.",
        "Secure catch.",
        "Into safe hands.",
        "Good hands.",
        "Taken cleanly.",
    ],
    "caught and bowled": [
        "Caught and bowled.",
        "Return catch.",
        "Caught it {him}self.",
        "Good reflex catch.",
        "Off {his} own bowling.",
        "Caught by the bowler.",
        "Sharp return catch.",
    ],
    "stumped": [
        "Quick hands.",
        "Stumped.",
        "Out of {his} ground.",
        "Lightning work.",
        "Smart stumping.",
        "Beaten in the flight. Stumped.",
        "Sharp work behind.",
        "Stumped, by a distance.",
        "Wandered out.",
        "Keeper's quick work.",
    ],
    "run out": [
        "Short of {his} ground.",
        "Run out.",
        "Mix-up.",
        "Poor call. Run out.",
        "Sharp fielding.",
        "Never a run. Out.",
        "Good throw.",
        "Run out, comfortably.",
        "Hesitation, and run out.",
        "Sent back.",
        "Sent back, too late.",
        "Brilliant fielding.",
        "Direct hit.",
    ],
    "hit wicket": [
        "Hit wicket.",
        "Trod on {his} stumps.",
        "Dislodged the bails. Out.",
        "Unusual dismissal.",
        "On {his} own stumps.",
        "Hit {his} own wicket.",
    ],
    "obstructing the field": [
        "Out, obstructing the field.",
        "Given out, obstructing.",
        "Unusual wicket.",
        "Rare dismissal.",
        "Obstruction. Out.",
    ],
    "handled the ball": [
        "Handled the ball. Out.",
        "Rare wicket, that.",
        "Handled it. Out.",
        "Out, handled the ball.",
        "Rarely seen dismissal.",
    ],
    "hit the ball twice": [
        "Hit it twice. Out.",
        "Out, hit the ball twice.",
        "Out, hit twice.",
        "Rare wicket, that.",
        "Double hit. Out.",
    ],
    "timed out": [
        "Timed out.",
        "Too slow. Out.",
        "Took too long. Out.",
        "Rare dismissal, timed out.",
        "Out, timed out.",
    ],
    "retired hurt": [
        "Retired hurt.",
        "Walking off hurt.",
        "Hope it's nothing serious.",
        "Needs attention.",
        "Off for treatment.",
        "Can't continue.",
    ],
    "retired out": ["Retires out.", "Tactical. Retired out.", "Makes way. Retired out.", "Retired out."],
    "retired not out": ["Retires, not out.", "Heads off unbeaten.", "Retired not out.", "Leaves unbeaten."],
    "dropped": [
        "Dropped.",
        "Put down.",
        "Should have held that.",
        "Missed chance.",
        "Costly, perhaps.",
        "Let off.",
        "Chance goes begging.",
        "Spilled it.",
        "A life.",
        "Reprieve.",
        "Hard chance.",
        "Not held.",
        "Grassed.",
        "Fluffed it.",
        "Went down.",
        "Shelled.",
        "Lives on.",
        "Chance missed.",
        "Should have gone to hand.",
        "Put down, sadly.",
    ],
    "wide": [
        "Wide.",
        "Too wide.",
        "Called wide.",
        "Wayward.",
        "Strays.",
        "Extra run.",
        "Loose.",
        "Wayward, that.",
        "Drifting.",
        "One extra.",
        "Not quite there.",
    ],
    "wide_many": ["Expensive wide.", "Costly wide.", "Wide, and extras.", "Wides aplenty."],
    "noball": [
        "No-ball.",
        "Overstepped.",
        "Front foot.",
        "Over the line.",
        "Extra delivery.",
        "No ball.",
        "Called no-ball.",
        "Costly overstep.",
    ],
    "noball_freehit": ["Free hit coming.", "Free hit next."],
    "byes": ["Byes.", "Past the keeper.", "Keeper beaten.", "Byes, untidy.", "Sloppy keeping.", "Extras."],
    "legbyes": ["Leg byes.", "Off the pad.", "Off the pads.", "Leg bye.", "Off the thigh.", "Extras."],
}

# Only when the prompt shows how the ball was played (text styles): a reply must not invent detail.
DETAIL = {
    ("dot", "beaten"): [
        "Beaten.",
        "Past the edge.",
        "Beaten all ends up.",
        "Lovely delivery.",
        "Just missed it.",
        "So close.",
        "Too good.",
        "Whisker away.",
    ],
    ("dot", "played and missed"): ["Played and missed.", "Missed it.", "Nowhere near.", "Past the edge."],
    ("dot", "left"): [
        "Well left.",
        "Good leave.",
        "Shoulders arms.",
        "Judged that well.",
        "Let it go.",
        "Sensible leave.",
    ],
    ("dot", "defended"): [
        "Solid defence.",
        "Dead bat.",
        "Well played.",
        "Straight bat.",
        "Firm defence.",
        "Good technique.",
    ],
    ("dot", "blocked"): ["Blocked.", "Blocked solidly.", "Dead bat.", "Solid."],
    ("dot", "straight to the fielder"): ["Good stop.", "Well fielded.", "Straight to {him}.", "Found the fielder."],
    ("four", "driven"): ["Lovely drive.", "Cover drive.", "Textbook drive.", "Drives it beautifully.", "What a drive."],
    ("four", "pulled"): ["Pulled away.", "Good pull.", "Pulled, emphatically.", "Short, and punished."],
    ("four", "cut"): ["Cut hard.", "Square cut.", "Fierce cut.", "Cut away.", "Too short."],
    ("four", "edged"): [
        "Streaky.",
        "Thick edge.",
        "Off the edge.",
        "Fortunate.",
        "Not off the middle.",
        "Edged, but safe.",
    ],
    ("four", "flicked"): ["Wristy flick.", "Off the pads, four.", "Flicked away.", "Lovely wrists."],
    ("four", "swept"): ["Well swept.", "Good sweep.", "Swept fine."],
    ("four", "punched"): ["Punched away.", "Crisp punch.", "Off the back foot."],
    ("four", "lofted"): ["Over the top.", "Lofted, safely.", "Takes the aerial route."],
    ("six", "lofted"): ["Lofted handsomely.", "Over the top."],
    ("six", "pulled"): ["Pulled for six.", "Pulled, all the way."],
    ("six", "slog-swept"): ["Slog sweep, six.", "Swept into the stands."],
    ("six", "hoicked"): ["Agricultural, but effective.", "Hoicked away."],
    ("six", "launched"): ["Launched.", "Launched into orbit."],
    ("six", "upper-cut"): ["Upper cut, six.", "Over third man."],
    ("bowled", "through the gate"): ["Through the gate.", "Bowled, bat and pad."],
    ("bowled", "off stump"): ["Off stump, bowled.", "Off stump, clean bowled.", "Off stump, gone."],
    ("bowled", "middle stump"): ["Hit middle stump.", "Straight through. Bowled."],
    ("bowled", "yorker"): ["Perfect yorker.", "Yorked, and bowled.", "Yorker. Bowled."],
    ("bowled", "played on"): ["Dragged on.", "Played on.", "Chopped on."],
    ("lbw", "plumb"): ["Plumb.", "Stone dead in front."],
    ("lbw", "missed a sweep"): ["Missed the sweep. Plumb.", "Sweep fails. Leg before."],
    ("lbw", "padded up"): ["Padded up. Out.", "No shot. Leg before."],
    ("caught", "keeper"): ["Caught behind.", "Edged and taken.", "Edge, and taken.", "Keeper takes the catch."],
    ("caught", "first slip"): ["Edged and taken.", "Slip takes the catch.", "Edge, and taken."],
    ("caught", "second slip"): ["Edged and taken.", "Second slip, taken.", "Edge, and taken."],
    ("caught", "skied"): ["Skied, and caught.", "Skied it. Caught.", "Straight up, held."],
}

NAMED = {
    "wicket_credited": ["Well bowled, {bowler}.", "{bowler} strikes.", "{bowler} gets {him}.", "Good work, {bowler}."],
    "caught": ["Well caught, {fielder}.", "Good catch, {fielder}.", "{fielder} holds the catch."],
    "run out": ["Good throw, {fielder}.", "{fielder} with the throw."],
    "stumped": ["Quick work, {fielder}.", "Sharp stumping, {fielder}."],
    "four": ["Shot, {batter}.", "Lovely from {batter}.", "{batter} finds the fence."],
    "six": ["{batter} clears it.", "Big hit, {batter}."],
    "dropped": ["Dropped by {fielder}.", "{fielder} puts it down.", "Let off, {batter}."],
    "dot": ["Good ball, {bowler}.", "Tight from {bowler}."],
    "runs1": ["{batter} takes one."],
}

MILESTONE = {
    "bat50": [
        "Fifty.",
        "Fine fifty.",
        "Half-century.",
        "Raises the bat.",
        "Deserved fifty.",
        "Fifty for {batter}.",
        "Well played, {batter}.",
        "Good fifty.",
    ],
    "bat100": [
        "Hundred.",
        "Century.",
        "Magnificent hundred.",
        "A fine century.",
        "Hundred for {batter}.",
        "Marvellous batting.",
        "Class innings.",
        "Well played indeed.",
    ],
    "bat150": ["Relentless.", "Still going.", "Big innings.", "Magnificent knock.", "Another landmark."],
    "bat200": ["Double hundred.", "Remarkable innings.", "Double century."],
    "five_for": [
        "Five-for. Well bowled.",
        "Fine spell.",
        "Five for {bowler}. Superb.",
        "Superb spell.",
        "Five-for. Superb bowling.",
    ],
}

# The first line of every pool is its "house" reply and is drawn HEAD_WEIGHT of the time; the rest share
# the remainder. A uniform draw over ~20 lines teaches a flat distribution whose greedy argmax flips
# under 4-bit quantization (Q4_K_M agreed with F16 on 56% of replies; 77% with a weight of 0.4, 71-84%
# with 0.6); a clear favourite per pool keeps greedy replies stable, while the other lines still
# teach variety.
HEAD_WEIGHT = 0.75

ORDINAL = ["", "First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth"]
# Silence is either clearly the favourite (dots, singles) or clearly not: a near tie with the house
# reply is a coin toss that quantization decides. At 0.5 for dots, Q4_K_M and F16 disagreed on
# silence vs "Dot ball." for most of their differing replies (benchmarks/RESULTS.md).
SILENCE = {"dot": 0.95, "runs1": 0.9, "runs2": 0.1, "wide": 0.1, "legbyes": 0.15, "byes": 0.1}
CATCHPHRASE_RATE = 0.025
# Text that says no outcome at all (a bowler running in, drinks): silence or a non-committal line.
UNCLEAR_TEXTS = [
    "{bowler} to {batter}",
    "{bowler} runs in to {batter}",
    "{batter} takes guard",
    "{bowler} to bowl",
    "{batter} on strike, {bowler} to bowl",
    "Drinks",
    "drinks break",
    "New ball taken",
    "{bowler} into the attack",
    "change of bowling, {bowler} on",
    "{bowler} from the other end",
    "{batter} walks out to bat",
    "field change, slip in",
    "{bowler} to {batter}, here we go",
]
UNCLEAR_REPLIES = [
    "",
    "",
    "",
    "Settling in.",
    "Over to {bowler}.",
    "Interesting.",
    "Nicely poised.",
    "Let's see.",
    "Patience.",
    "Good contest, this.",
]
# Lines the brief asks for that device.commentary.manner.fits() does not (yet) count as acknowledging a wicket.
ALLOW_UNFIT = {"That's adjacent."}


@dataclass(frozen=True)
class Shown:
    """What the prompt shows, so that a reply never refers to what the model cannot see.

    `ctx` holds the context the prompt carries: "score", "target", "milestone", "day_start",
    "hat_trick", "new_batter", "review", "maiden", "chase" (the runs needed in a last over).
    """

    batter: str | None = None
    bowler: str | None = None
    fielder: str | None = None
    detail: bool = False  # how the ball was played / where it went
    # Which of the two (the varied bank only, builder.data.colour): a text that names the place alone ("to the
    # fence at third man") must not get a line on the shot ("Cover drive."), nor a shot alone one on the place.
    how: bool = True
    where: bool = True
    ctx: frozenset = frozenset()


def _pick(rng: random.Random, lines: list[str]) -> str:
    """The pool's first line with probability HEAD_WEIGHT, otherwise any of the others."""
    if len(lines) == 1 or rng.random() < HEAD_WEIGHT:
        return lines[0]
    return rng.choice(lines[1:])


def _pron(text: str, gender: str) -> str:
    f = gender == "female"
    return (
        text.replace("{him}", "her" if f else "him")
        .replace("{his}", "her" if f else "his")
        .replace("{he}", "She" if f else "He")
    )


def _fill(text: str, gender: str, shown: Shown) -> str | None:
    for key in ("batter", "bowler", "fielder"):
        if "{" + key + "}" in text:
            val = getattr(shown, key)
            if not val:
                return None
            text = text.replace("{" + key + "}", val)
    text = _pron(text, gender)
    if "{" in text or len(text.split()) > 5:
        return None
    return text


def _pool_key(ev) -> str:
    d = ev.delivery
    if ev.klass == "wicket":
        return d["wickets"][0]["kind"]
    if ev.klass == "runs":
        if d["runs"].get("non_boundary"):
            return "runs_allrun"
        return f"runs{min(d['runs']['batter'], 3)}" if d["runs"]["batter"] else "runs1"
    if ev.klass == "wide" and d["extras"]["wides"] > 1:
        return "wide_many"
    return ev.klass


def _score(ev) -> tuple[int, int]:
    runs, wkts = ev.context["score"].split("/")
    return int(runs), int(wkts)


def _context_lines(ev, seen: frozenset) -> list[str]:
    """Score-aware lines that are true of this ball and follow from what the prompt shows."""
    out: list[str] = []
    if "score" not in seen:
        return out
    runs, wkts = _score(ev)
    target = ev.context.get("target")
    if target is not None and runs >= target and "target" in seen:
        out += ["That wins it.", "Job done.", "That's the match.", "Won it."]
        if ev.klass == "six":
            out += ["Finished in style."]
        return out
    if ev.klass == "wicket" and ev.delivery["wickets"][0]["kind"] not in ("retired hurt", "retired not out"):
        if wkts >= 10:
            out += ["All out.", "That's the innings.", "Innings over."]
        elif 2 <= wkts <= 9:  # ordinals: "Two down." would read as two runs
            out += [f"{ORDINAL[wkts]} wicket.", f"{ORDINAL[wkts]} wicket falls."]
    if target is not None and ev.flags.get("last_over_chase") and "target" in seen:
        need = target - runs
        if 0 < need <= 36 and need != 4:  # "Four needed" would read as a four
            out += [f"{need} needed now.", f"{need} to get."]
        out += ["Tense finish.", "Pressure on.", "Getting close."]
    return out


def choose_reply(rng: random.Random, ev, shown: Shown) -> tuple[str, str]:
    """(reply, how it was chosen). '' is silence. Deterministic for the rng's state."""
    g = ev.gender
    key = _pool_key(ev)
    kind = ev.delivery["wickets"][0]["kind"] if ev.klass == "wicket" else None
    credited = kind in ("bowled", "caught", "caught and bowled", "lbw", "stumped", "hit wicket")
    ctx = ev.context
    seen = shown.ctx
    review = ev.delivery.get("review") if "review" in seen else None
    # context first: these are the moments that need a particular line
    if "day_start" in seen and ctx.get("day_start") and ev.klass in ("dot", "runs") and rng.random() < 0.7:
        return "Morning, everyone.", "day_start"
    if "milestone" in seen and ev.flags.get("milestone_kind") and rng.random() < 0.75:
        line = _fill(_pick(rng, MILESTONE[ev.flags["milestone_kind"]]), g, shown)
        if line:
            return line, "milestone"
    if ev.flags.get("hat_trick_ball") and "hat_trick" in seen:
        if credited:
            return _pick(rng, ["Hat-trick.", "That's a hat-trick.", "Hat-trick, no less."]), "hat_trick"
        if ev.klass == "dot" and rng.random() < 0.6:
            return _pick(rng, ["Survives the hat-trick.", "Hat-trick denied.", "No hat-trick."]), "hat_trick"
    if review and ev.klass in ("wicket", "dot") and rng.random() < 0.6:
        if ev.klass == "dot":
            lines = ["Not out.", "Stays not out.", "Review lost.", "Decision stands."]
            if review.get("umpires_call"):
                lines += ["Umpire's call.", "Umpire's call. Survives."]
        elif review["decision"] == "struck down":
            lines = ["Review fails. Out.", "Stays out.", "Wasted review. Out.", "Still out.", "Out, after all."]
        else:
            lines = ["Overturned. Out.", "Given out on review.", "Good review. Out.", "Reversed. Out."]
        return _pick(rng, lines), "review"
    if "maiden" in seen and ev.flags.get("maiden") and ev.klass == "dot" and rng.random() < 0.5:
        return _pick(rng, ["Maiden over.", "A maiden.", "Another maiden.", "Maiden. Tight over."]), "maiden"
    if rng.random() < 0.5 or ev.flags.get("last_over_chase"):
        lines = _context_lines(ev, seen)
        if lines and rng.random() < (0.8 if ev.flags.get("last_over_chase") else 0.35):
            return _pick(rng, lines), "context"
    if (
        "new_batter" in seen
        and ev.flags.get("new_batter")
        and ev.klass in ("runs", "four", "six")
        and rng.random() < 0.3
    ):
        return _pick(rng, ["Off the mark.", "Up and running.", "Gets going."]), "new_batter"
    if rng.random() < SILENCE.get(key, 0.0) and not ev.flags.get("milestone_kind") and not ctx.get("day_start"):
        return "", "silence"
    if (
        ev.klass == "noball"
        and "match_type" in seen
        and ctx.get("match_type") in ("ODI", "T20")
        and rng.random() < 0.25
    ):
        return _pick(rng, GENERIC["noball_freehit"]), "context"
    if rng.random() < CATCHPHRASE_RATE:
        if ev.klass in ("four", "six") and shown.detail is False or (ev.klass == "wicket" and kind == "caught"):
            return "Marvellous.", "catchphrase"
        if credited:
            return _pron("Got {him}.", g), "catchphrase"
    # names, details, then the class's own lines
    name_key = "wicket_credited" if credited and rng.random() < 0.5 else key
    if rng.random() < 0.15 and name_key in NAMED:
        line = _fill(_pick(rng, NAMED[name_key]), g, shown)
        if line:
            return line, "name"
    detail_key = (kind or ev.klass, ev.where if kind == "caught" and ev.where == "keeper" else ev.shot)
    if shown.detail and detail_key in DETAIL and rng.random() < 0.55:
        return _pron(_pick(rng, DETAIL[detail_key]), g), "detail"
    pool = list(GENERIC[key])
    if key == "four" and not (shown.detail and ev.shot == "edged"):
        pool += GENERIC["four_praise"]
    if credited:
        pool += GENERIC["wicket_credited"][:6]
    elif kind in ("run out",):
        pool += GENERIC["wicket_any"][:3]
    return _pron(_pick(rng, pool), g), "class"


def bank_lines() -> set[str]:
    """Every distinct reply text the bank can produce with fixed names (for the card and tests)."""
    out = set()
    shown = Shown(batter="Batter", bowler="Bowler", fielder="Fielder")
    groups = list(GENERIC.values()) + list(DETAIL.values()) + list(NAMED.values()) + list(MILESTONE.values())
    for lines in groups:
        for line in lines:
            for g in ("male", "female"):
                filled = _fill(line, g, shown)
                if filled:
                    out.add(filled)
    return out


if __name__ == "__main__":
    print({k: len(v) for k, v in GENERIC.items()}, "distinct:", len(bank_lines()))

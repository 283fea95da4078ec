"""Event -> free text, the way people type it: a Cricinfo line, a plain sentence or scorer shorthand.

Each style has many phrasings per outcome; names are shown as surnames, full names, initials or
invented names outside the squads; a share gets typos, lower case and scorers' abbreviations. The
structured style is not here: it is `device.commentary.render_user(delivery=...)`, so training and
serving format a delivery the same way.

`render(rng, ev, style)` returns the text and a `Shown` (what the text reveals), so that the reply
never refers to something the prompt does not carry.

    python -m builder.data.styles     # prints every style for a few simulated balls
"""

from __future__ import annotations

import random
import re

from builder.data import names
from builder.data.replies import Shown, _pron

TEXT_STYLES = ("cricinfo", "plain", "shorthand")
RADIO_STYLE = "radio"  # the variety data's fourth text style (RADIO below)
NUM = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

CRICINFO = {
    "dot": {
        "defended": [
            "no run, defended",
            "no run, solid forward defence",
            "no run, blocked back to the bowler",
            "no run, dead-batted",
            "no run, defended off the back foot",
        ],
        "left": [
            "no run, left alone outside off",
            "no run, shoulders arms",
            "no run, leaves it",
            "no run, lets it go through to the keeper",
        ],
        "beaten": ["no run, beaten outside off", "no run, past the outside edge", "no run, beats the bat"],
        "played and missed": ["no run, plays and misses", "no run, swing and a miss"],
        "blocked": ["no run, blocked", "no run, kept out", "no run"],
        "straight to the fielder": [
            "no run, straight to {pos}",
            "no run, hit straight to the fielder",
            "no run, good stop at {pos}",
        ],
    },
    "runs": [
        "{n_run}, {shot} to {where}",
        "{n_run}, {shot} away to {where}",
        "{n_run}, into the gap at {where}",
        "{n_run}, {shot} towards {where}",
    ],
    "runs_allrun": ["4 runs, all run, {shot} to {where}", "4 runs, they run four to {where}"],
    "four": [
        "FOUR, {shot} through {where}",
        "FOUR, {shot} to the {where} fence",
        "FOUR, races away to {where}",
        "FOUR runs, {shot} past {where}",
        "FOUR, {shot}, no chance for the fielder",
    ],
    "four_edged": ["FOUR, edged past slip", "FOUR, thick edge flies to third man", "FOUR, outside edge, runs away"],
    "six": [
        "SIX, {shot} over {where}",
        "SIX, {shot} into the stands",
        "SIX runs, {shot} over {where}",
        "SIX, {shot}, clears the rope at {where}",
    ],
    "caught": [
        "OUT, {shot} and caught at {where} by {fielder}",
        "OUT, c {fielder} b {bowler}",
        "OUT, {shot}, {fielder} takes it at {where}",
        "OUT, caught by {fielder} at {where}",
    ],
    "caught_keeper": [
        "OUT, edged and taken by the keeper",
        "OUT, caught behind by {fielder}",
        "OUT, feathers it, {fielder} takes it",
    ],
    "caught and bowled": ["OUT, caught and bowled", "OUT, return catch, {bowler} holds on", "OUT, c & b {bowler}"],
    "bowled": ["OUT, bowled, {shot}", "OUT, clean bowled", "OUT, b {bowler}, {shot}", "OUT, bowled {him}, {shot}"],
    "lbw": ["OUT, lbw, {shot}", "OUT, lbw b {bowler}", "OUT, trapped lbw", "OUT, given lbw, {shot}"],
    "stumped": ["OUT, stumped by {fielder}", "OUT, stumped, beaten in the flight", "OUT, st {fielder} b {bowler}"],
    "run out": [
        "OUT, run out by {fielder}",
        "OUT, {out} run out, direct hit",
        "OUT, run out ({fielder})",
        "OUT, {out} run out, mix-up",
    ],
    "other_wicket": ["OUT, {kind}", "{out} out, {kind}", "OUT, {out} {kind}"],
    "dropped": [
        "{n_run}, dropped at {where} by {fielder}",
        "{n_run}, put down by {fielder} at {where}",
        "{n_run}, {fielder} drops it at {where}",
        "{n_run}, chance goes down at {where}",
    ],
    "wide": ["wide, down the leg side", "wide, outside off", "{n_wide}", "{n_wide}, drifting down leg"],
    "noball": ["no ball, overstepped", "(no ball) {n_run}", "no ball, front foot", "(no ball) {n_run}, {shot}"],
    "byes": ["{n_bye}, beats the keeper", "{n_bye}", "{n_bye}, past the keeper"],
    "legbyes": ["{n_legbye}, off the pad", "{n_legbye}", "{n_legbye}, off the thigh pad"],
}

PLAIN = {
    "dot": {
        "defended": ["{batter} defends {bowler}.", "{batter} blocks it, no run.", "Solid defence from {batter}."],
        "left": ["{batter} leaves {bowler} alone.", "{batter} lets it go. No run.", "Left alone by {batter}."],
        "beaten": [
            "{bowler} beats {batter} outside off.",
            "{batter} is beaten by {bowler}. No run.",
            "Past the edge, {batter} beaten.",
        ],
        "played and missed": ["{batter} plays and misses at {bowler}.", "{batter} swings and misses. Dot ball."],
        "blocked": ["{batter} blocks. Dot ball.", "No run, {batter} keeps it out."],
        "straight to the fielder": ["{batter} hits it straight to {pos}. No run.", "Dot ball, good stop at {pos}."],
    },
    "runs": [
        "{batter} {shot} {bowler} to {where} for {n_word}.",
        "{batter} takes {n_word} to {where}.",
        "{n_word_cap} for {batter}, {shot} to {where}.",
        "{batter} picks up {n_word} off {bowler}.",
    ],
    "runs_allrun": ["{batter} runs four, all run, to {where}.", "They run four, {batter} to {where}. Not a boundary."],
    "four": [
        "{batter} {shot} {bowler} through {where} for four.",
        "Four for {batter}, {shot} to {where}.",
        "{batter} hits {bowler} for four.",
        "Boundary: {batter} {shot} it to the fence for four.",
        "{batter} finds the boundary off {bowler}.",
        "Lovely shot from {batter}, races away to the {where} fence.",
        "{bowler} drops short and {batter} puts it away for four.",
    ],
    "four_edged": ["{batter} edges {bowler} past slip for four.", "Thick edge from {batter}, four to third man."],
    "six": [
        "{batter} hits {bowler} for six over {where}.",
        "Six for {batter}, {shot} over {where}.",
        "{batter} {shot} {bowler} into the stands for six.",
        "{batter} clears the rope. Six.",
        "{batter} launches {bowler} over {where}, all the way for six.",
        "Huge hit from {batter}, six over {where}.",
    ],
    "caught": [
        "{batter} is caught by {fielder} at {where} off {bowler}.",
        "{batter} {shot} to {where}, caught by {fielder}.",
        "{fielder} catches {batter} at {where}. Out.",
        "{batter} holes out to {fielder} at {where}.",
        "{batter} c {fielder} b {bowler}, gone.",
    ],
    "caught_keeper": [
        "{batter} edges {bowler} and is caught behind.",
        "{batter} nicks it, caught by the keeper {fielder}.",
    ],
    "caught and bowled": [
        "{bowler} catches {batter} off {his} own bowling. Out.",
        "{batter} is caught and bowled by {bowler}.",
    ],
    "bowled": [
        "{bowler} bowls {batter}.",
        "{batter} is bowled by {bowler}, {shot}.",
        "{bowler} knocks over {batter}'s stumps. Out.",
        "{batter} is clean bowled by {bowler}.",
        "{bowler} hits the stumps, {batter} is out bowled.",
    ],
    "lbw": [
        "{batter} is out lbw to {bowler}.",
        "{bowler} traps {batter} lbw.",
        "{batter} given out lbw, {shot}.",
        "{bowler} pins {batter} in front, out leg before.",
        "Big appeal, and {batter} is given out lbw.",
    ],
    "stumped": ["{batter} is stumped by {fielder} off {bowler}.", "{batter} down the track, stumped by {fielder}."],
    "run out": [
        "{out} is run out by {fielder}.",
        "{out} run out, {fielder} with the throw.",
        "Mix-up, {out} is run out.",
        "{out} is short of the crease, run out by {fielder}.",
    ],
    "other_wicket": ["{out} is out, {kind}.", "{out} out {kind}.", "{out}: {kind}."],
    "dropped": [
        "{fielder} drops {batter} at {where}.",
        "{batter} is dropped by {fielder} at {where}.",
        "{batter} edges it, dropped at {where} by {fielder}.",
        "Dropped catch, {fielder} at {where}, {batter} survives.",
        "Chance missed: {fielder} puts {batter} down at {where}.",
    ],
    "wide": [
        "{bowler} bowls a wide.",
        "Wide from {bowler}.",
        "{bowler} strays down leg, wide.",
        "{n_wide_word} from {bowler}.",
        "{bowler} sprays it down the leg side. Wide.",
    ],
    "noball": [
        "{bowler} oversteps, no ball.",
        "No ball from {bowler}.",
        "No-ball, {batter} gets {n_word} off it.",
        "{bowler} has overstepped. No-ball.",
    ],
    "byes": ["{n_bye} as it beats the keeper.", "Byes: {n_word} more.", "It beats everyone, {n_bye}."],
    "legbyes": ["{n_legbye} off {batter}'s pad.", "Off the pads for {n_legbye}.", "{batter} takes {n_legbye}."],
}

SHORT = {
    "dot": [
        "{ob} {bowler}>{batter} .",
        "{ob} {bowler} to {batter} 0",
        "{ob} {bowler}-{batter} dot",
        "{ob} . {shot}",
        "{ob} {bowler}>{batter} 0 {shot}",
    ],
    "runs": ["{ob} {bowler}>{batter} {n} {where}", "{ob} {batter} {n} {shot} {where}", "{ob} {bowler}-{batter} {n}"],
    "runs_allrun": ["{ob} {bowler}>{batter} 4 all run"],
    "four": [
        "{ob} {bowler}>{batter} 4 {where}",
        "{ob} {bowler}>{batter} 4 {shot}",
        "{ob} {batter} FOUR {where}",
        "{ob} {bowler}-{batter} 4",
    ],
    "four_edged": ["{ob} {bowler}>{batter} 4 edge", "{ob} {batter} 4 thick edge"],
    "six": ["{ob} {bowler}>{batter} 6 {where}", "{ob} {batter} SIX {shot}", "{ob} {bowler}-{batter} 6"],
    "caught": [
        "{ob} {bowler}>{batter} W c {fielder}",
        "{ob} W {batter} c {fielder} b {bowler}",
        "{ob} {batter} ct {fielder} at {where}",
    ],
    "caught_keeper": ["{ob} {bowler}>{batter} W c wk {fielder}", "{ob} W {batter} c {fielder} b {bowler}"],
    "caught and bowled": ["{ob} W {batter} c&b {bowler}", "{ob} {bowler}>{batter} W c+b"],
    "bowled": ["{ob} {bowler}>{batter} W b", "{ob} W {batter} b {bowler}", "{ob} {bowler}>{batter} bowled"],
    "lbw": ["{ob} {bowler}>{batter} W lbw", "{ob} W {batter} lbw b {bowler}", "{ob} {batter} lbw"],
    "stumped": ["{ob} {bowler}>{batter} W st {fielder}", "{ob} W {batter} st {fielder} b {bowler}"],
    "run out": ["{ob} W {out} run out ({fielder})", "{ob} {bowler}>{batter} W ro {out}", "{ob} {out} runout {fielder}"],
    "other_wicket": ["{ob} W {out} {kind}", "{ob} {bowler}>{batter} W {kind}"],
    "dropped": [
        "{ob} {bowler}>{batter} {n} dropped {where} {fielder}",
        "{ob} {batter} dropped by {fielder}",
        "{ob} {batter} drop {where}",
    ],
    "wide": ["{ob} {bowler} {n_wd}", "{ob} {bowler}>{batter} {n_wd}", "{ob} wide", "{ob} {n_wd}"],
    "noball": ["{ob} {bowler}>{batter} nb", "{ob} {bowler} nb +{n}", "{ob} no ball"],
    "byes": ["{ob} {bowler}>{batter} {nx}b", "{ob} {nx} byes"],
    "legbyes": ["{ob} {bowler}>{batter} {nx}lb", "{ob} {nx} leg byes", "{ob} {batter} {nx}lb"],
}
# What people type when they cannot be bothered: no names, just the result.
TERSE = {
    "dot": ["dot", "dot ball", "no run", ".", "0", "defended"],
    "runs": ["{n}", "{n} runs", "single", "{n_word}"],
    "runs_allrun": ["4 all run", "four, all run"],
    "four": ["4", "FOUR", "four!", "boundary", "4 runs"],
    "four_edged": ["4 edge", "edged four"],
    "six": ["6", "SIX", "six!", "maximum", "6 runs"],
    "caught": ["W caught", "out caught", "caught!", "ct"],
    "caught_keeper": ["caught behind", "W c wk"],
    "caught and bowled": ["c&b", "caught and bowled"],
    "bowled": ["bowled!", "W bowled", "b", "bowled him"],
    "lbw": ["lbw", "W lbw", "plumb lbw", "out lbw"],
    "stumped": ["stumped", "W st"],
    "run out": ["run out!", "W ro", "runout"],
    "other_wicket": ["W {kind}", "out, {kind}"],
    "dropped": ["dropped", "dropped!", "drop"],
    "wide": ["wd", "wide", "{n_wd}"],
    "noball": ["nb", "no ball", "no-ball"],
    "byes": ["{nx} byes", "{nx}b"],
    "legbyes": ["{nx} leg byes", "{nx}lb", "leg bye"],
}

# Broadcast commentary, as a radio or TV transcript reads: the run-up, the ball, then what happened, in one
# breath, often without the outcome's usual word first (issue 15: held-out events in this manner were the
# colour model's weakest style). Only the variety data uses it (builder.data.colour.RADIO_SHARE_OF_TEXT).
# Written from the general manner, not from the held-out set: no template repeats a phrase of its radio events.
RADIO_RUNUP = [
    "{bowler} runs in",
    "In comes {bowler}",
    "{bowler} to {batter}",
    "Here's {bowler} again",
    "{bowler} in to bowl",
    "{bowler} wheels away",
    "And {bowler} bowls",
    "{bowler}, round the wicket",
    "{bowler}, over the wicket to {batter}",
    "Now {bowler}",
]
RADIO_LENGTH = [
    "full",
    "short",
    "a good length",
    "on a length",
    "full and straight",
    "a touch wider",
    "fuller this time",
    "back of a length",
    "pitched up",
    "a slower one",
    "quicker, this one",
    "flighted",
]
RADIO = {
    "dot": {
        "defended": ["{batter} gets forward and defends", "pushed back down the track, no run", "solidly defended"],
        "left": ["{batter} lets that one go", "and {batter} shoulders arms", "no stroke offered"],
        "beaten": ["and that's beaten {batter} all ends up", "past the outside edge", "beats the bat, no run"],
        "played and missed": ["{batter} has a go and misses", "a flash outside off, and nothing doing"],
        "blocked": ["{batter} blocks it out", "kept out, no run", "{batter} smothers it"],
        "straight to the fielder": ["driven firmly, but straight to {pos}", "hit hard, but {pos} has it, no run"],
    },
    "runs": [
        "{batter} has {shot} that to {where}, and they'll take {n_word}",
        "{shot} away towards {where}, {n_word} taken",
        "placed wide of {where}, and they come through for {n_word}",
        "{batter} works it to {where}, they run {n_word}",
    ],
    "runs_allrun": ["and they've run four, all the way to {where}, no boundary", "they run hard, four all run"],
    "four": [
        "{batter} has {shot} that through {where}, and that's four",
        "{shot} beautifully, it races away to the {where} boundary",
        "and that's gone to the fence at {where}, four runs",
        "{batter} {shot} it, no need to run, that's four",
        "{shot} hard, the fielder gives chase, but that's four",
    ],
    "four_edged": [
        "that's taken the edge, and it's away past slip for four",
        "edged, and it runs down to third man for four",
    ],
    "six": [
        "{batter} has {shot} that high over {where}, and it's six",
        "{shot}, and that's gone all the way, six runs",
        "up, up, and over the rope at {where}, six",
        "{batter} gets hold of that one, right out of the ground, six",
    ],
    "caught": [
        "{shot} in the air towards {where}, and {fielder} takes it, {batter} has to go",
        "that's up in the air, {fielder} underneath it, and it's caught",
        "{batter} goes for it, picks out {fielder} at {where}, and {batter} is out",
        "hit high to {where}, {fielder} settles under it and holds on",
    ],
    "caught_keeper": [
        "that's found the edge, and {fielder} behind the stumps takes it, out",
        "a thin nick, and the keeper has it, {batter} walks",
    ],
    "caught and bowled": [
        "straight back to {bowler}, and {bowler} holds on, out",
        "a return catch, {bowler} takes it, {batter} is gone",
    ],
    "bowled": [
        "{batter} misses, and the stumps are broken, bowled",
        "through the gate, and that's bowled {him}",
        "that knocks back the off stump, {batter} is bowled",
        "and that's hit the stumps, {batter} has to go",
    ],
    "lbw": [
        "rapped on the pad, a huge appeal, and given, {batter} is out lbw",
        "trapped on the crease, and given leg before",
        "hits {batter} on the pad, and the umpire gives {him} out",
    ],
    "stumped": [
        "{batter} dances down, is beaten, and {fielder} does the rest, stumped",
        "down the track, beaten by the turn, and stumped",
    ],
    "run out": [
        "they go for the run, {fielder} fires it in, and {out} is short, run out",
        "{fielder} with the throw, and {out} is run out",
        "a terrible mix-up, and {out} is run out by a distance",
    ],
    "other_wicket": ["and {out} is out, {kind}", "{out} has to go, {kind}"],
    "dropped": [
        "in the air to {where}, and {fielder} has dropped it",
        "that's a chance, and it's gone down, {batter} survives",
        "edged, {fielder} gets a hand to it but can't hold on, dropped",
    ],
    "wide": [
        "that's drifted well down leg, and it's signalled wide",
        "too wide, and that's called a wide",
        "{bowler} sprays that one, wide",
        "and {bowler} loses the line, {n_wide}",
    ],
    "noball": [
        "and the umpire's arm is out, no ball",
        "{bowler} has overstepped, no ball called",
    ],
    "byes": ["it beats everything, they run {n_bye}", "the keeper misses it, and that's {n_bye}"],
    "legbyes": ["off the pad and away, they take {n_legbye}", "hits {batter} on the thigh, {n_legbye}"],
}

_SHORT_SHOT = {
    "driven": "drive",
    "pulled": "pull",
    "cut": "cut",
    "flicked": "flick",
    "swept": "sweep",
    "punched": "punch",
    "lofted": "loft",
    "defended": "def",
    "left": "left",
    "beaten": "beaten",
    "played and missed": "pam",
    "blocked": "blk",
    "straight to the fielder": "fielded",
}
_PLAIN_VERB = {
    "pushed": "pushes",
    "worked": "works",
    "nudged": "nudges",
    "dabbed": "dabs",
    "tucked": "tucks",
    "flicked": "flicks",
    "driven": "drives",
    "cut": "cuts",
    "pulled": "pulls",
    "swept": "sweeps",
    "punched": "punches",
    "lofted": "lofts",
    "edged": "edges",
    "slog-swept": "slog-sweeps",
    "hoicked": "hoicks",
    "launched": "launches",
    "upper-cut": "upper-cuts",
}
ABBREV = {
    "through": "thru",
    "cover": "cvr",
    "wicket": "wkt",
    "bowled": "bwld",
    "caught": "ct",
    "boundary": "bdry",
    "keeper": "wk",
    "square leg": "sq leg",
    "midwicket": "mid-wkt",
    "runs": "rns",
    "four": "4",
    "six": "6",
}
ROOT_VERB = {"driven": "drive", "pulled": "pull"}


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 2)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _display(rng: random.Random, full: str, invented: dict) -> str:
    """How a person is written: surname mostly, sometimes the full name, an initial or an invented name."""
    r = rng.random()
    if r < 0.14:
        invented.setdefault(full, names.outside_name(rng))
        return invented[full]
    if r < 0.24:
        return full
    if r < 0.30:
        return f"{full[0]} {names.surname(full)}"
    return names.surname(full)


def _fields(rng, ev, invented) -> tuple[dict, Shown]:
    d = ev.delivery
    w = (d.get("wickets") or [{}])[0]
    fielder_full = (w.get("fielders") or [{}])[0].get("name")
    if ev.klass == "dropped":
        note = ev.context.get("note", "")
        fielder_full = note.split(" by ")[-1].replace("the keeper, ", "") if " by " in note else None
    batter = _display(rng, d["batter"], invented)
    bowler = _display(rng, d["bowler"], invented)
    fielder = _display(rng, fielder_full, invented) if fielder_full else None
    out = w.get("player_out")
    out_shown = batter if out == d["batter"] else (_display(rng, out, invented) if out else None)
    extras = d.get("extras", {})
    n = d["runs"]["batter"] or sum(extras.get(k, 0) for k in ("byes", "legbyes", "wides")) or 1
    nb = extras.get("byes", 0) or extras.get("legbyes", 0) or 1
    wd = extras.get("wides", 1)
    f = {
        "batter": batter,
        "bowler": bowler,
        "fielder": fielder or "the fielder",
        "out": out_shown or batter,
        "kind": w.get("kind", ""),
        "shot": ev.shot or "played",
        "where": ev.where or rng.choice(["cover", "point", "midwicket"]),
        "pos": rng.choice(["cover", "mid-off", "point", "midwicket"]),
        "n": d["runs"]["batter"],
        "n_run": "1 run" if d["runs"]["batter"] == 1 else f"{d['runs']['batter']} runs",
        "n_word": NUM.get(n, str(n)) if n != 1 else rng.choice(["one", "a single"]),
        "n_bye": "1 bye" if nb == 1 else f"{nb} byes",
        "n_legbye": "1 leg bye" if nb == 1 else f"{nb} leg byes",
        "n_wide": "wide" if wd == 1 else f"{wd} wides",
        "n_wd": "wd" if wd == 1 else f"{wd}wd",
        "ob": f"{ev.context['over']}.{ev.context['ball']}",
        "nx": nb,
    }
    f["n_wide_word"] = "A wide" if wd == 1 else f"{NUM.get(wd, wd).capitalize()} wides"
    f["n_word_cap"] = f["n_word"][:1].upper() + f["n_word"][1:]
    shown = Shown(
        batter=names.surname(batter) if batter not in invented.values() else batter,
        bowler=names.surname(bowler) if bowler not in invented.values() else bowler,
        fielder=(names.surname(fielder) if fielder not in invented.values() else fielder) if fielder else None,
    )
    return f, shown


def _template_key(ev) -> str:
    d = ev.delivery
    if ev.klass == "wicket":
        kind = d["wickets"][0]["kind"]
        if kind == "caught" and ev.where == "keeper":
            return "caught_keeper"
        return (
            kind if kind in ("caught", "caught and bowled", "bowled", "lbw", "stumped", "run out") else "other_wicket"
        )
    if ev.klass == "runs" and d["runs"].get("non_boundary"):
        return "runs_allrun"
    if ev.klass == "four" and ev.shot == "edged":
        return "four_edged"
    return ev.klass


def render(rng: random.Random, ev, style: str, names_follow: bool = False) -> tuple[str, Shown]:
    """Free text for `ev` in `style` (one of TEXT_STYLES, or RADIO_STYLE) and what it reveals.

    `names_follow` (the varied data only; the default data keeps its bytes): a milestone the text carries
    names the batter as the text does, invented name included ("Stustaijoun reaches 50", not the squad's
    "Ravi Gaikwad reaches 50" beside "Sarkar-Stustaijoun 1")."""
    invented: dict = {}
    f, shown = _fields(rng, ev, invented)
    key = _template_key(ev)
    terse = style == "shorthand" and rng.random() < 0.15
    table = TERSE if terse else {"cricinfo": CRICINFO, "plain": PLAIN, "shorthand": SHORT, RADIO_STYLE: RADIO}[style]
    pool = table[key]
    if isinstance(pool, dict):
        pool = pool.get(ev.shot) or next(iter(pool.values()))
    if terse and key == "runs" and ev.delivery["runs"]["batter"] != 1:
        pool = [t for t in pool if t != "single"]
    if key == "wide" and ev.delivery["extras"]["wides"] > 1:  # more than one wide: say how many
        pool = [t for t in pool if "{n_w" in t]
    tmpl = _pron(rng.choice(pool), ev.gender)  # {him}/{his} follow the match's gender
    if style in ("plain", RADIO_STYLE):
        f = dict(f, shot=_PLAIN_VERB.get(f["shot"], f["shot"]) if "{batter} {shot}" in tmpl else f["shot"])
    if style == "shorthand":
        f = dict(f, shot=_SHORT_SHOT.get(f["shot"], f["shot"]))
    if style == RADIO_STYLE:  # run-up, sometimes the length, then the outcome's clause
        lead = rng.choice(RADIO_RUNUP) + (f", {rng.choice(RADIO_LENGTH)}" if rng.random() < 0.6 else "")
        tmpl = f"{lead}, {tmpl}"
    text = tmpl.format(**f)
    if style == RADIO_STYLE:
        text = text[:1].upper() + text[1:]
    if style == "cricinfo":
        text = f"{f['bowler']} to {f['batter']}, {text}"
        if rng.random() < 0.3 and ev.klass == "wicket":
            text = text.replace("OUT,", "OUT!", 1) if rng.random() < 0.5 else text
    how = "{shot}" in tmpl or key == "four_edged" or isinstance(table[key], dict)  # dict: a text per shot
    where = "{where}" in tmpl or "{pos}" in tmpl
    detail = how or where
    text, extra = _context_bits(rng, ev, text, style, invented if names_follow else {})
    text = _noise(rng, text, style, shown, ev.klass)
    named = style == "cricinfo"  # "Bowler to Batter, ..." names both
    return text, Shown(
        shown.batter if named or "{batter}" in tmpl or "{out}" in tmpl else None,
        shown.bowler if named or "{bowler}" in tmpl else None,
        shown.fielder if "{fielder}" in tmpl else None,
        detail=detail,
        ctx=frozenset(extra),
        how=how,
        where=where,
    )


def _context_bits(rng, ev, text: str, style: str, invented: dict | None = None) -> tuple[str, set]:
    """Sometimes carry the milestone, the start of the day or the chase in the text too (`invented`: the
    names the text made up, full name -> invented, which the milestone then uses too)."""
    shown: set = set()
    ctx = ev.context
    if ctx.get("milestone") and rng.random() < 0.6:
        milestone = ctx["milestone"]
        for full, made_up in (invented or {}).items():  # the feed writes the full name, the simulator the surname
            milestone = re.sub(rf"\b{re.escape(full)}\b|\b{re.escape(names.surname(full))}\b", made_up, milestone)
        text = text.rstrip(".") + f". {milestone}" if style != "shorthand" else text + f" ({milestone})"
        shown.add("milestone")
    if ctx.get("day_start") and rng.random() < 0.6:
        text = rng.choice(["First ball of the day: ", "Day begins. ", "Start of play: "]) + text
        shown.add("day_start")
    if ev.flags.get("hat_trick_ball") and rng.random() < 0.6:
        text = rng.choice(["On a hat-trick. ", "Hat-trick ball: "]) + text
        shown.add("hat_trick")
    if ev.flags.get("last_over_chase") and rng.random() < 0.5:
        text += f" ({ctx['note']})" if "needed" in ctx.get("note", "") else ""
        shown.add("chase") if "needed" in ctx.get("note", "") else None
    if ctx.get("score") and rng.random() < 0.15 and style != "plain":
        text += f" {ctx['score']}"
        shown.add("score")
    return text, shown


SHOUTS = {"four": "FOUR!", "six": "SIX!", "wicket": "WICKET!", "dropped": "Dropped!"}


def _noise(rng: random.Random, text: str, style: str, shown: Shown, klass: str = "") -> str:
    """Typos, abbreviations, shouting and lower case, as people type; names are left readable."""
    protected = {p for p in (shown.batter, shown.bowler, shown.fielder) if p}
    if style == "plain" and klass in SHOUTS and rng.random() < 0.12:
        text = f"{SHOUTS[klass]} {text}"
    if style == "shorthand" or rng.random() < 0.15:
        for long, short in ABBREV.items():
            if long in ("four", "six") and style != "shorthand":
                continue
            if rng.random() < 0.4:
                text = text.replace(long, short)
    if rng.random() < 0.2:
        words = text.split(" ")
        i = rng.randrange(len(words))
        if words[i].strip(".,") not in protected:
            words[i] = _typo(rng, words[i])
        text = " ".join(words)
    if rng.random() < 0.15:
        text = text.lower()
    return text


if __name__ == "__main__":
    from builder.data.simulator import simulate_match

    r = random.Random(3)
    for ev in simulate_match(r, "demo", "T20", "male")[:40]:
        for s in TEXT_STYLES:
            print(f"{ev.klass:8} {s:9} {render(r, ev, s)[0]}")

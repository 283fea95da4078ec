"""The varied data behind `data.variety` (issue 15): the bank's sizes, no bare labels, every line in the manner,
the match feed's context keys all taught, silence only where it belongs."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from builder.data import colour
from builder.data.dataset import build
from builder.data.vocabulary import load_reply_vocabulary, reply_vocabulary
from device.commentary import manner
from device.commentary.delivery import CONTEXT_TYPES
from device.commentary.events import Canonical


def _ev(outcome, **k):
    return Canonical(outcome=outcome, batter="Kohli", bowler="Starc", fielder="Smith", **k)


CLASS_EVENTS = {
    "dot": _ev("dot", runs=0),
    "runs1": _ev("runs", runs=1),
    "runs2": _ev("runs", runs=2),
    "runs3": _ev("runs", runs=3),
    "runs_allrun": _ev("runs", runs=4),
    "four": _ev("four", runs=4),
    "six": _ev("six", runs=6),
    "dropped": _ev("dropped", runs=0),
    "wide": _ev("wide", extras=1),
    "wide_many": _ev("wide", extras=5),
    "noball": _ev("noball", extras=1, runs=0),
    "noball_freehit": _ev("noball", extras=1, runs=0),
    "byes": _ev("byes", extras=1),
    "legbyes": _ev("legbyes", extras=1),
}


def _filled(line: str, gender: str = "male") -> str:
    f = gender == "female"
    for a, b in (("{him}", "her" if f else "him"), ("{his}", "her" if f else "his"), ("{he}", "She" if f else "He")):
        line = line.replace(a, b)
    return line.replace("{bowler}", "Starc").replace("{batter}", "Kohli").replace("{fielder}", "Smith")


def _wicket(kind):
    return _ev("wicket", dismissal=kind)


def _all_lines():
    """(where, line, the event it must suit) for every line of the varied bank."""
    out = []
    for key, lines in colour.COLOUR.items():
        out += [(key, line, CLASS_EVENTS.get(key) or _wicket(key)) for line in lines]
    out += [("praise", line, _wicket("caught")) for line in colour.WICKET_PRAISE]
    for (key, shot), lines in colour.DETAIL_COLOUR.items():
        out += [(f"{key}/{shot}", line, CLASS_EVENTS.get(key) or _wicket(key)) for line in lines]
    moments = {
        "collapse": (colour.COLLAPSE, _wicket("caught")),
        "stand broken": (colour.STAND_BROKEN, _wicket("caught")),
        "haul": (colour.BOWLER_HAUL, _wicket("bowled")),
        "tie": (colour.TIE, _ev("runs", runs=1)),
        "super over dot": (colour.SUPER_OVER, _ev("dot", runs=0)),
        "super over run": (colour.SUPER_OVER, _ev("runs", runs=1)),
        "chase dot": (colour.CHASE, _ev("dot", runs=0)),
        "chase run": (colour.CHASE, _ev("runs", runs=1)),
        "maiden": (colour.MAIDEN, _ev("dot", runs=0)),
        "new batter": (colour.NEW_BATTER, _ev("runs", runs=1)),
        "winning": (colour.WINNING, _ev("runs", runs=1)),
        "stand": (colour.STAND, _ev("four", runs=4)),
        "day": (colour.DAY_START, _ev("dot", runs=0, day_start=True)),
        "hat-trick denied": (colour.HAT_TRICK_DENIED, _ev("dot", runs=0, hat_trick_ball=True)),
        "hat-trick": (colour.HAT_TRICK_TAKEN, _ev("wicket", dismissal="bowled", hat_trick_ball=True)),
    }
    for where, (lines, event) in moments.items():
        out += [(where, line, event) for line in lines]
    named = {"four": "four", "six": "six", "wicket_credited": "bowled", "caught": "caught", "run out": "run out"}
    for key, kind in named.items():
        event = CLASS_EVENTS.get(kind) or _wicket(kind)
        out += [(f"named {key}", line, event) for line in colour.NAMED_COLOUR[key]]
    understated = {"four": CLASS_EVENTS["four"], "six": CLASS_EVENTS["six"], "dropped": CLASS_EVENTS["dropped"]}
    understated |= {"caught": _wicket("caught"), "credited": _wicket("bowled")}
    for key, lines in colour.UNDERSTATED.items():
        out += [(f"understated {key}", line, understated[key]) for line in lines]
    return out


def test_the_bank_is_large_enough():
    sizes = {k: len(set(v)) for k, v in colour.COLOUR.items()}
    assert sizes["four"] >= 40 and sizes["six"] >= 40
    for kind in ("caught", "bowled", "lbw", "run out", "stumped"):
        assert sizes[kind] >= 25, kind


def test_no_pool_holds_a_bare_label():
    for key, lines in colour.COLOUR.items():
        assert not [line for line in lines if colour.is_bare_label(line)], key
    assert colour.is_bare_label("Four.") and colour.is_bare_label("no-ball") and colour.is_bare_label("Leg byes.")
    assert not colour.is_bare_label("Four, beautifully timed.")


@pytest.mark.parametrize("gender", ["male", "female"])
def test_every_line_is_in_the_manner_and_fits_its_event(gender):
    bad = []
    for where, line, event in _all_lines():
        text = _filled(line, gender)
        problems = manner.check_reply(text, event)
        if problems or not manner.fits(text, event):
            bad.append((where, text, problems))
    assert bad == []


def test_understatement_is_there_but_in_proportion():
    assert {"Marvellous.", "Got {him}.", "That's gone a long way.", "Oh dear."} <= {
        line for lines in colour.UNDERSTATED.values() for line in lines
    }
    assert 0 < colour.CATCHPHRASE_RATE <= 0.05


@pytest.fixture(scope="module")
def data():
    return build(1234, 0.3, variety=True)


def test_every_context_key_is_taught(data):
    seen = Counter(k for ex in data["train"] for k in (ex.meta["event"].get("context") or {}))
    assert set(CONTEXT_TYPES) <= set(seen), set(CONTEXT_TYPES) - set(seen)
    # the keys reach the prompt (match_id is memory, never rendered)
    prompts = "\n".join(ex.messages[1]["content"] for ex in data["train"])
    for phrase in ("need ", "partnership ", "last over of the chase", "winning run", "match tied", "super over"):
        assert phrase in prompts, phrase


def test_every_pair_passes_the_manner_and_silence_is_only_for_routine_balls(data):
    for split in ("train", "val", "test"):
        for ex in data[split]:
            reply = ex.messages[-1]["content"]
            truth = Canonical(**ex.meta["canonical"])
            assert manner.check_reply(reply, truth) == [], (ex.messages[1]["content"], reply)
            if reply == "":
                assert truth.outcome not in ("wicket", "dropped", "four", "six"), ex.messages[1]["content"]
                assert not truth.milestone and not truth.day_start, ex.messages[1]["content"]


def test_no_house_line_and_few_bare_labels(data):
    spoken = [ex.messages[-1]["content"] for ex in data["train"] if ex.messages[-1]["content"]]
    counts = Counter(spoken)
    assert counts.most_common(1)[0][1] / len(spoken) < 0.03  # the default data's house line was 60-75% of a pool
    assert sum(map(colour.is_bare_label, spoken)) / len(spoken) < 0.05
    fours = Counter(ex.messages[-1]["content"] for ex in data["train"] if ex.meta["outcome"] == "four")
    assert len(fours) >= 40 and fours.most_common(1)[0][1] / sum(fours.values()) < 0.1


def test_no_opening_is_an_attractor(data):
    """Where a small model cannot place an event it says the data's commonest words: with "Off the ..." opening
    2.8% of all spoken replies (five of the six leg-bye lines), the first colour model's greedy answer to a
    wide, a four or a run was "Off the pad." (benchmarks/RESULTS.md, the colour build's second run)."""
    spoken = [ex.messages[-1]["content"] for ex in data["train"] if ex.messages[-1]["content"]]
    openings = Counter(" ".join(r.lower().split()[:2]).rstrip(".,") for r in spoken)
    (top, n), *_ = openings.most_common(1)
    assert n / len(spoken) < 0.02, (top, n / len(spoken))
    legbyes = colour.COLOUR["legbyes"]
    assert sum(line.startswith("Off the") for line in legbyes) / len(legbyes) <= 0.3


def test_a_share_of_prompts_has_no_outcome_line(data):
    raw = [ex for ex in data["train"] if not ex.meta["outcome_line"]]
    assert 0.3 <= len(raw) / len(data["train"]) <= 0.45  # 36% of prompts: the raw-text (Ollama) path
    assert all(not ex.messages[1]["content"].startswith("Outcome:") for ex in raw)


def test_a_share_of_text_prompts_reads_like_broadcast_commentary(data):
    """The radio style (builder.data.styles.RADIO): the run-up, then the ball, in one breath; both with and
    without an outcome line."""
    radio = [ex for ex in data["train"] if ex.meta["style"] == "radio"]
    assert 0.1 <= len(radio) / len(data["train"]) <= 0.2
    raw = [ex for ex in radio if not ex.meta["outcome_line"]]
    assert 0.4 <= len(raw) / len(radio) <= 0.8
    kinds = Counter(ex.meta["outcome"] for ex in radio)
    assert {"dot", "runs", "four", "six", "wicket", "dropped"} <= set(kinds), kinds
    for ex in radio:
        text = ex.messages[1]["content"]
        assert "{" not in text and "}" not in text, text  # every placeholder filled
    # (every pair, these among them, is held to the manner checker by the test above)


def test_a_line_on_the_shot_only_where_the_prompt_names_the_shot(data):
    """A text that says where the ball went but not how ("to the fence at third man") gets no line on the shot
    ("Cover drive."): Shown.how and Shown.where. Before them 28 of 72 such lines on boundaries and runs had no
    word of their shot in the prompt; a typo in the shot's word ("diven") still leaves one or two."""
    shots: dict[str, set] = {}
    for (key, shot), lines in colour.DETAIL_COLOUR.items():
        if key in ("four", "six", "runs"):
            for line in lines:
                shots.setdefault(line, set()).add(shot)
    told = [
        ex
        for ex in data["train"]
        if ex.meta["style"] != "structured"
        and ex.meta["reply_source"] == "detail"
        and ex.messages[2]["content"] in shots
    ]
    unfounded = [
        ex
        for ex in told
        if not any(s[:3] in ex.messages[1]["content"].lower() for s in shots[ex.messages[2]["content"]])
    ]
    assert len(told) >= 30
    assert len(unfounded) / len(told) <= 0.05, [
        (ex.messages[1]["content"], ex.messages[2]["content"]) for ex in unfounded
    ]


def test_the_radio_style_copies_no_phrase_of_the_held_out_events():
    """The held-out set stays held out: no four consecutive words of a radio template appear in any of its texts."""
    import re

    from builder.data import styles
    from builder.eval.events import load_heldout

    def grams(text):
        w = re.findall(r"[a-z']+", text.lower())
        return {tuple(w[i : i + 4]) for i in range(len(w) - 3)}

    held = set().union(*(grams(e.text) for e in load_heldout() if e.text))
    lines = styles.RADIO_RUNUP + styles.RADIO_LENGTH
    for pool in styles.RADIO.values():
        lines += [t for ts in pool.values() for t in ts] if isinstance(pool, dict) else pool
    for line in lines:  # a placeholder splits the words around it
        for part in re.split(r"\{\w+\}", line):
            assert not grams(part) & held, (line, grams(part) & held)


# sha256 of build(99, 0.1) with the code before issue 15 (git archive c1eb573~1): the switch off changes nothing.
DEFAULT_DATA_SHA256 = "8d798db5fecb3d87c7d4a923ee8c889691a92a32c3d3cdb1f980e9763d415744"


def test_the_default_data_is_unchanged_by_the_switch():
    import hashlib

    d = build(99, 0.1)
    text = "".join(ex.to_json() for split in ("train", "val", "test") for ex in d[split])
    assert hashlib.sha256(text.encode()).hexdigest() == DEFAULT_DATA_SHA256
    assert not any("partnership" in ex.messages[1]["content"] for ex in d["train"])


def _words(line: str) -> list[str]:
    return re.sub(r"[^\w\s'-]", " ", _filled(line).lower()).split()


def test_no_routine_line_opens_like_a_wicket_line():
    """A small model goes on from an opening as the likelier line does: with "Beaten." for a dot and "Beaten and
    bowled." for a wicket, or "Straight to {him}." and "Straight to long-on. Out.", the first words do not settle
    which event it is, and the blends ("Strike-out." on a six) were most of round 4's contradictions on the model
    alone. So no line for a ball that is not a wicket starts with the words of a wicket's line or shares its first
    two words, unless each line also suits the other's event ("Marvellous.")."""
    wickets, others = [], []
    for where, line, event in _all_lines():
        (wickets if event.outcome == "wicket" else others).append((where, line, event))
    clashes = []
    for sw, sline, sev in others:
        s = _words(sline)
        for ww, wline, wev in wickets:
            w = _words(wline)
            n = min(len(s), len(w))
            if s[:n] != w[:n] and not (n >= 2 and s[:2] == w[:2]):
                continue
            if manner.fits(_filled(wline), sev) and manner.fits(_filled(sline), wev):
                continue
            clashes.append((sw, sline, ww, wline))
    assert clashes == []
    # nor with a name, which routine lines open with too ("Starc strikes again." on a dot, fifth run)
    assert [line for _, line, _ in wickets if line.startswith(("{bowler}", "{batter}", "{fielder}"))] == []


def test_a_milestone_in_the_text_names_the_batter_as_the_text_does():
    import random

    from builder.data import styles
    from builder.data.simulator import simulate_match

    evs = [e for e in simulate_match(random.Random(7), "m", "ODI", "male") if e.context.get("milestone")]
    assert evs, "the simulated ODI has a milestone"
    checked = 0
    for seed in range(400):
        ev = evs[seed % len(evs)]
        full = ev.delivery["batter"]  # the simulator's milestone says the surname, the feed's the full name
        said = ev.context["milestone"].rsplit(" reaches", 1)[0]
        for follow in (True, False):
            text, shown = styles.render(random.Random(seed), ev, "cricinfo", names_follow=follow)
            if ev.context["milestone"].split(" reaches")[-1] not in text or shown.batter in (None, full):
                continue
            if full.split(" ", 1)[-1] != shown.batter and full.endswith(said):  # an invented name
                checked += follow
                low = text.lower()  # a share of texts is typed in lower case
                assert (f"{said} reaches".lower() not in low) == follow, (follow, text)
                if follow:
                    assert f"{shown.batter} reaches".lower() in low, text
    assert checked >= 3


def _rows(examples):
    return [json.loads(ex.to_json()) for ex in examples]


def test_the_reply_vocabulary_passes_the_data_and_leaves_out_its_people(tmp_path):
    """builder.data.vocabulary, on the colour build's own data (seed 1234, full size): every spoken pair it was
    read from passes the guard's name check with it, and all but 1% of the test split's, whose lines the
    train split does not hold ("Eighth wicket falls." is one that fails); the simulator's people are not in it.
    At a third of the size 6.5% of the test split failed: the vocabulary needs the whole training set."""
    data = build(1234, 1.0, variety=True)
    vocabulary = frozenset(reply_vocabulary(_rows(data["train"] + data["val"])))
    assert {"marvellous", "four", "morning"} <= vocabulary and "slogan" not in vocabulary
    for split, most in (("train", 0), ("val", 0), ("test", 0.01)):
        spoken = [ex for ex in data[split] if ex.messages[-1]["content"]]
        flagged = [
            (ex.messages[-1]["content"], found)
            for ex in spoken
            if (found := manner.strangers(ex.messages[-1]["content"], ex.messages[1]["content"], vocabulary))
        ]
        assert len(flagged) <= most * len(spoken), (split, flagged[:5])
    people = {
        k
        for ex in data["train"]
        for role in ("batter", "bowler", "fielder", "player_out")
        for k in manner.word_keys(ex.meta["canonical"].get(role) or "")
    }
    assert len(people & vocabulary) <= 0.02 * len(people), sorted(people & vocabulary)[:20]
    # the same list read back from a written dataset folder
    for name, split in (("train.jsonl", "train"), ("val.jsonl", "val")):
        (tmp_path / name).write_text("".join(ex.to_json() + "\n" for ex in data[split]), encoding="utf-8")
    assert frozenset(load_reply_vocabulary(tmp_path)) == vocabulary
    with pytest.raises(FileNotFoundError, match="train.jsonl is missing"):
        load_reply_vocabulary(tmp_path / "nowhere")

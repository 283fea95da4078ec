"""device.commentary and device.commentary.reader: exact deliveries, the tolerant text reader, rendered prompts.

Run:  .venv/bin/pytest -q tests/device/commentary/test_prompt.py
The reader's accuracy is measured on tests/data/reader_lines.jsonl: hand-written, hand-labelled
lines in styles the dataset generator does not produce (written before the reader was tuned).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from device.commentary.delivery import read_delivery, read_text
from device.commentary.events import DISMISSAL_KINDS, OUTCOMES, Canonical, EventError
from device.commentary.render import SYSTEM_PROMPT, build_messages, render_user

DATA = Path(__file__).resolve().parents[2] / "data"


def _lines(name="reader_lines.jsonl"):
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def ball(bat=0, extras=None, wickets=None, **kw):
    extras = extras or {}
    d = {
        "batter": "V Kohli",
        "bowler": "MA Starc",
        "non_striker": "RG Sharma",
        "runs": {"batter": bat, "extras": sum(extras.values()), "total": bat + sum(extras.values())},
    }
    if extras:
        d["extras"] = extras
    if wickets:
        d["wickets"] = wickets
    d.update(kw)
    return d


# ---------------------------------------------------------------- the text reader on hand-labelled lines

# Each file was written by hand before the reader saw it; the first score is the honest one
# (the reader was tuned on each file afterwards, so these tests now guard against regressions):
#   reader_lines.jsonl          125 lines, first score 94.4% (3 confident wicket/four/six confusions)
#   reader_lines_more.jsonl      70 lines, first score 90.0% (0 confusions)
#   reader_lines_heldout.jsonl   60 lines, first score 81.7% (3 confusions)
#   reader_lines_final.jsonl     40 lines, first score 87.5% (0 wicket confusions, 1 dot read as four)
READER_FILES = [
    ("reader_lines.jsonl", 100),
    ("reader_lines_more.jsonl", 60),
    ("reader_lines_heldout.jsonl", 60),
    ("reader_lines_final.jsonl", 40),
]


@pytest.mark.parametrize("name,minimum", READER_FILES)
def test_reader_accuracy_on_hand_labelled_lines(name, minimum):
    """>= 90% right, and a wrong label is never a confident wicket/non-wicket or four/six mix-up."""
    rows = _lines(name)
    assert len(rows) >= minimum
    assert {r["outcome"] for r in rows} <= set(OUTCOMES)
    right, wrong, confusions = 0, [], []
    for r in rows:
        got = read_text(r["text"])
        ok = got.outcome == r["outcome"] and (r.get("dismissal") is None or got.dismissal == r["dismissal"])
        right += ok
        if not ok:
            wrong.append((r["text"], r["outcome"], got.outcome, got.dismissal))
        if got.outcome != "unclear" and got.outcome != r["outcome"]:
            pair = {got.outcome, r["outcome"]}
            if ("wicket" in pair and pair != {"wicket"}) or pair == {"four", "six"}:
                confusions.append((r["text"], r["outcome"], got.outcome))
        assert got.confident == (got.outcome != "unclear")
    accuracy = right / len(rows)
    print(f"{name}: reader accuracy {right}/{len(rows)} = {accuracy:.1%}; misses: {wrong}")
    assert not confusions, f"confident wicket/non-wicket or four/six confusions: {confusions}"
    assert accuracy >= 0.90, wrong


@pytest.mark.parametrize(
    "text,outcome,extra",
    [
        ("12.3 Starc>Kohli 4 cover drive", "four", {"bowler": "Starc", "batter": "Kohli"}),
        (
            "Kohli c Smith b Starc 84",
            "wicket",
            {"dismissal": "caught", "player_out": "Kohli", "fielder": "Smith", "bowler": "Starc"},
        ),
        ("Starc to Kohli, no ball, and it's launched for SIX", "six", {"extra_kind": "noballs"}),
        ("Dropped at slip, and it runs away for four", "dropped", {"runs": 4}),
        ("Run out off a wide! Kohli short of his ground", "wicket", {"dismissal": "run out", "extra_kind": "wides"}),
        ("3 wides, down the leg side and past the keeper", "wide", {"extras": 3}),
        ("Four leg byes, off the pad to fine leg", "legbyes", {"extras": 4}),
        ("Start of play, day 3", "unclear", {"day_start": True}),
        ("Root reaches 100 with a single to third man", "runs", {"milestone": "Root hundred", "runs": 1}),
        ("On a hat-trick: Starc to Kohli, defended", "dot", {"hat_trick_ball": True}),
        ("2nb", "noball", {"extra_kind": "noballs"}),
        ("Given not out, overturned on review, lbw", "wicket", {"dismissal": "lbw", "review": "upheld"}),
        # a verdict after the overturn is final, whatever the on-field call before it said
        (
            "Given out caught behind, he reviews, nothing on the edge detector, decision overturned, not out",
            "unclear",
            {},
        ),
        ("Umpire says not out, reviewed, overturned, he is out lbw", "wicket", {"dismissal": "lbw"}),
        # "N over <where>" is where the ball went, "N over(s)" alone a count of overs
        ("18.6 Rauf>Pandya 6 over cow corner", "six", {"runs": 6}),
        ("12.3 Rashid>Buttler 2 over midwicket", "runs", {"runs": 2}),
        ("Bumrah has bowled 4 overs", "unclear", {}),
    ],
)
def test_reader_precedence_and_fields(text, outcome, extra):
    got = read_text(text)
    assert got.outcome == outcome, got
    for key, value in extra.items():
        assert getattr(got, key) == value, (key, got)
    assert got.source == "text"


@pytest.mark.parametrize(
    "text,outcome,kind",
    [
        ("Starc to Kohli, OUT, cauht at slip", "wicket", "caught"),
        ("Hit wkt, trod on his stumps", "wicket", "hit wicket"),
        ("OUT, clean bwld", "wicket", "bowled"),
        ("Finds the bdry at cover", "four", None),
        ("dopped at gully, they run one", "dropped", None),
        ("Left alnoe outside off", "dot", None),
        ("Time for drinks, out come the helmets", "unclear", None),  # "time" is no typo of "timed"
    ],
)
def test_reader_forgives_typos(text, outcome, kind):
    got = read_text(text)
    assert (got.outcome, got.dismissal) == (outcome, kind), got


def test_reader_says_unclear_rather_than_guessing():
    for text in (
        "Starc to Kohli",
        "Drinks",
        "Hmm, interesting field change",
        "Four or six? Hard to tell, hit the rope on the full or not",
    ):
        got = read_text(text)
        assert got.outcome == "unclear" and not got.confident, (text, got)


def test_reader_is_fast():
    texts = [r["text"] for r in _lines()] * 4
    start = time.perf_counter()
    for t in texts:
        read_text(t)
    per = (time.perf_counter() - start) / len(texts)
    assert per < 0.01, f"{per * 1000:.2f} ms a line"


# ---------------------------------------------------------------- read_delivery (exact)


@pytest.mark.parametrize("kind", DISMISSAL_KINDS)
def test_read_delivery_every_dismissal_kind(kind):
    fielders = [{"name": "AT Carey"}] if kind in ("caught", "stumped", "run out") else []
    ev = read_delivery(ball(wickets=[{"player_out": "V Kohli", "kind": kind, "fielders": fielders}]))
    assert ev.outcome == "wicket" and ev.dismissal == kind and ev.player_out == "V Kohli"
    assert ev.fielder == ("AT Carey" if fielders else None)
    assert ev.source == "delivery" and ev.confident
    user = render_user(delivery=ball(wickets=[{"player_out": "V Kohli", "kind": kind, "fielders": fielders}]))
    assert user.startswith(f"Outcome: wicket, {kind}")


@pytest.mark.parametrize(
    "bat,extras,outcome,fields",
    [
        (0, {}, "dot", {"runs": 0, "extras": 0}),
        (2, {}, "runs", {"runs": 2}),
        (4, {}, "four", {"runs": 4}),
        (6, {}, "six", {"runs": 6}),
        (0, {"wides": 1}, "wide", {"extra_kind": "wides", "extras": 1}),
        (0, {"wides": 5}, "wide", {"extras": 5}),
        (0, {"noballs": 1}, "noball", {"extra_kind": "noballs"}),
        (2, {"noballs": 1}, "noball", {"runs": 2, "extras": 1}),
        (6, {"noballs": 1}, "six", {"extra_kind": "noballs", "extras": 1}),
        (4, {"noballs": 1}, "four", {"extra_kind": "noballs"}),
        (0, {"byes": 4}, "byes", {"extras": 4}),
        (0, {"legbyes": 1}, "legbyes", {"extras": 1}),
        (0, {"noballs": 1, "byes": 2}, "noball", {"extras": 3}),
        (1, {"penalty": 5}, "runs", {"extra_kind": "penalty", "extras": 5}),
    ],
)
def test_read_delivery_extras(bat, extras, outcome, fields):
    ev = read_delivery(ball(bat, extras))
    assert ev.outcome == outcome
    for key, value in fields.items():
        assert getattr(ev, key) == value, (key, ev)


def test_read_delivery_precedence_and_context():
    ev = read_delivery(
        ball(0, {"wides": 1}, [{"player_out": "RG Sharma", "kind": "run out", "fielders": [{"name": "Smith"}]}])
    )
    assert (ev.outcome, ev.extra_kind, ev.player_out) == ("wicket", "wides", "RG Sharma")
    assert "RG Sharma out" in render_user(
        delivery=ball(0, {"wides": 1}, [{"player_out": "RG Sharma", "kind": "run out"}])
    )
    four_run = ball(4)
    four_run["runs"]["non_boundary"] = True
    assert read_delivery(four_run).outcome == "runs"
    ctx = {
        "match_type": "Test",
        "innings": 1,
        "over": 0,
        "ball": 1,
        "score": "0/0",
        "day_start": True,
        "milestone": "Root reaches 100",
        "note": "Dropped by Smith at slip",
        "hat_trick_ball": True,
        "future_key": [1],
    }
    ev = read_delivery(ball(1, mystery={"x": 1}), ctx)
    assert (
        ev.outcome == "dropped"
        and ev.runs == 1
        and ev.day_start
        and ev.milestone == "Root reaches 100"
        and ev.hat_trick_ball
    )
    review = read_delivery(ball(review={"by": "India", "umpire": "X", "batter": "V Kohli", "decision": "struck down"}))
    assert review.review == "struck down"


BAD = [
    ("not an object", [1, 2], None),
    ("runs missing", {"batter": "A", "bowler": "B"}, None),
    ("negative runs", ball(-1), None),
    ("runs as text", {"batter": "A", "bowler": "B", "runs": {"batter": "4"}}, None),
    ("runs as bool", {"batter": "A", "bowler": "B", "runs": {"batter": True}}, None),
    ("fractional runs", {"batter": "A", "bowler": "B", "runs": {"batter": 1.5}}, None),
    ("absurd runs", ball(40), None),
    ("unknown dismissal kind", ball(wickets=[{"player_out": "V Kohli", "kind": "caught behind"}]), None),
    ("kind not text", ball(wickets=[{"player_out": "V Kohli", "kind": 3}]), None),
    ("player_out missing", ball(wickets=[{"kind": "bowled"}]), None),
    ("wickets not a list", ball(wickets={"kind": "bowled"}), None),
    ("wicket not an object", ball(wickets=["bowled"]), None),
    ("fielders not a list", ball(wickets=[{"player_out": "V Kohli", "kind": "caught", "fielders": "Smith"}]), None),
    ("wide and no-ball", ball(0, {"wides": 1, "noballs": 1}), None),
    ("bat runs off a wide", ball(2, {"wides": 1}), None),
    ("byes and leg byes", ball(0, {"byes": 1, "legbyes": 1}), None),
    ("bowled off a no-ball", ball(0, {"noballs": 1}, [{"player_out": "V Kohli", "kind": "bowled"}]), None),
    ("caught off a wide", ball(0, {"wides": 1}, [{"player_out": "V Kohli", "kind": "caught"}]), None),
    ("negative extras", {"batter": "A", "bowler": "B", "runs": {"batter": 0}, "extras": {"wides": -1}}, None),
    ("total does not add up", {"batter": "A", "bowler": "B", "runs": {"batter": 1, "extras": 0, "total": 3}}, None),
    (
        "extras do not add up",
        {"batter": "A", "bowler": "B", "runs": {"batter": 0, "extras": 2}, "extras": {"wides": 1}},
        None,
    ),
    ("batter not text", {"batter": 7, "bowler": "B", "runs": {"batter": 0}}, None),
    ("bad review decision", ball(review={"decision": "maybe"}), None),
    ("context not an object", ball(), "Test"),
    ("context over as text", ball(), {"over": "12"}),
    ("context day_start as text", ball(), {"day_start": "yes"}),
    ("context negative over", ball(), {"over": -1}),
]


@pytest.mark.parametrize("why,delivery,context", BAD, ids=[b[0] for b in BAD])
def test_read_delivery_rejects_bad_events(why, delivery, context):
    with pytest.raises(EventError) as err:
        read_delivery(delivery, context)
    assert str(err.value)  # a message that says what is wrong
    assert isinstance(err.value, ValueError)


# ---------------------------------------------------------------- rendering


def test_render_states_the_outcome_next_to_the_text():
    text = "Starc to Kohli, FOUR, driven through cover"
    assert render_user(text=text) == f"Outcome: four\n{text}"
    assert render_user(text=text, outcome_line=False) == text
    msgs = build_messages(text=text)
    assert msgs[0] == {"role": "system", "content": SYSTEM_PROMPT} and msgs[1]["role"] == "user"


def test_render_unclear_gives_nothing_to_parrot():
    user = render_user(text="Starc to Kohli, something happened at the far end")
    assert "Outcome" not in user and "unclear" not in user.lower()
    day = render_user(text="Day 2 begins at Lord's under grey skies")
    assert day.startswith("Start of the day's play.") and "Outcome" not in day


def test_render_delivery_is_compact_and_carries_what_a_reply_might_use():
    d = ball(0, wickets=[{"player_out": "V Kohli", "kind": "caught", "fielders": [{"name": "AT Carey"}]}])
    ctx = {
        "match_type": "ODI",
        "over": 11,
        "ball": 3,
        "score": "212/3",
        "target": 290,
        "milestone": "Starc five wickets",
        "hat_trick_ball": True,
    }
    user = render_user(delivery=d, context=ctx)
    assert "{" not in user and '"' not in user
    for part in (
        "Outcome: wicket, caught",
        "hat-trick ball",
        "Milestone: Starc five wickets",
        "MA Starc to V Kohli",
        "caught by AT Carey",
        "ODI 11.3",
        "212/3",
        "target 290",
    ):
        assert part in user, (part, user)
    raw = render_user(delivery=d, context=ctx, outcome_line=False)
    assert "Outcome" not in raw and "OUT" in raw and "Milestone" in raw
    assert render_user(delivery=ball(4), context={"day_start": True}).splitlines()[1] == "Start of the day's play."


@pytest.mark.parametrize("kwargs", [{}, {"text": "x", "delivery": ball()}, {"text": "   "}, {"text": 42}])
def test_render_rejects_bad_calls(kwargs):
    with pytest.raises(EventError):
        render_user(**kwargs)


def test_canonical_round_trip():
    ev = read_text("Kohli c Smith b Starc")
    assert Canonical(**ev.to_dict()) == ev


# ---------------------------------------------------------------- prompt length in real SmolLM2 tokens

TYPICAL = [
    {"text": "Starc to Kohli, FOUR, full and wide, driven through cover"},
    {"text": "12.3 Starc>Kohli 4 cover drive"},
    {"text": "Dropped at slip by Smith, they run one"},
    {"text": "Ellyse Perry brings up her fifty with a single to long-on"},
    {
        "delivery": ball(0, wickets=[{"player_out": "V Kohli", "kind": "caught", "fielders": [{"name": "AT Carey"}]}]),
        "context": {"match_type": "ODI", "innings": 2, "over": 11, "ball": 3, "score": "212/3", "target": 290},
    },
    {
        "delivery": ball(6, {"noballs": 1}),
        "context": {"match_type": "T20", "over": 19, "ball": 6, "score": "180/6", "target": 185},
    },
    {"delivery": ball(0), "context": {"match_type": "Test", "over": 0, "ball": 1, "day_start": True, "score": "285/4"}},
]


@pytest.fixture(scope="module")
def n_tokens(smollm2_gguf):
    llama_cpp = pytest.importorskip("llama_cpp")
    vocab = llama_cpp.Llama(model_path=str(smollm2_gguf), vocab_only=True, verbose=False)
    return lambda s: len(vocab.tokenize(s.encode(), add_bos=False, special=False))


def test_prompt_lengths_in_tokens(n_tokens):
    assert n_tokens(SYSTEM_PROMPT) <= 20
    sizes = [n_tokens(render_user(**kw)) for kw in TYPICAL]
    print("user-message tokens:", sizes)
    assert max(sizes) <= 60, sizes


def test_pasted_json_delivery_is_read_exactly():
    d = ball(6, {"noballs": 1})
    ctx = {"match_type": "T20", "over": 19, "ball": 6}
    for text in (json.dumps(d), json.dumps({"delivery": d, "context": ctx})):
        assert read_text(text) == read_delivery(d)
        user = render_user(text=text)
        assert user.startswith("Outcome: six, off a no-ball\n") and "{" not in user
    assert render_user(text=json.dumps({"delivery": d, "context": ctx})).endswith(
        "T20 19.6 MA Starc to V Kohli, no ball, SIX"
    )
    assert render_user(text=json.dumps(d), outcome_line=False) == json.dumps(d)  # raw means raw
    for other in ('{"foo": 4}', "[4, 6]", json.dumps(ball(-1))):
        assert read_text(other).outcome == "unclear", other


# ---------------------------------------------------------------- second round: loose cue words and held-out phrasings

# Written by hand before the second round of reader changes (the first scores are the honest ones):
#   reader_lines_round2.jsonl   167 lines, first score 88.0% (147/167), 5 confident wicket/non-wicket confusions
#                               ("taken on the thigh pad", "out comes the physio", "should've been a run out",
#                               "a run-out appeal, but she's in", "given not out ... three reds, he's gone");
#                               one label was corrected afterwards
#                               ("bowled a maiden": unclear -> dot, as the dataset reads it)
#   reader_lines_round2b.jsonl   71 lines, written after the round-2 fixes and never tuned on beyond general bugs:
#                               first score 87.3% (62/71), 1 confusion ("Ball gone soft" read as a wicket)
ROUND2_FILES = ["reader_lines_round2.jsonl", "reader_lines_round2b.jsonl"]


def _confusion(expected: str, got: str) -> bool:
    """A confident wicket/non-wicket or four/six mix-up: the errors the guard and the model cannot undo."""
    if got in ("unclear", expected):
        return False
    return "wicket" in (got, expected) or {got, expected} == {"four", "six"}


@pytest.mark.parametrize("name", ROUND2_FILES)
def test_reader_round2_accuracy_and_no_confusions(name):
    rows = _lines(name)
    assert len(rows) >= 60 and {r["outcome"] for r in rows} <= set(OUTCOMES)
    assert {r["dismissal"] for r in rows if "dismissal" in r} <= set(DISMISSAL_KINDS)
    wrong, confusions = [], []
    for r in rows:
        got = read_text(r["text"])
        if got.outcome != r["outcome"] or (r.get("dismissal") is not None and got.dismissal != r["dismissal"]):
            wrong.append((r["text"], r["outcome"], got.outcome, got.dismissal))
        if _confusion(r["outcome"], got.outcome):
            confusions.append((r["text"], r["outcome"], got.outcome))
    accuracy = 1 - len(wrong) / len(rows)
    print(f"{name}: reader accuracy {accuracy:.1%}; misses: {wrong}")
    assert not confusions, f"confident wicket/non-wicket or four/six confusions: {confusions}"
    assert accuracy >= 0.90, wrong


@pytest.mark.parametrize(
    "text",
    [
        "Lyon is taken out of the attack",
        "Out comes the physio",
        "Rahane comes out to bat",
        "Starc is out of the attack",
        "Taken on the thigh pad, they run a leg bye",
        "The ball is taken by the keeper standing up, no run",
        "Edged but safe, falls short of slip, no run",
        "Caught in two minds, no run",
        "Gone past the edge, no run",
        "Ball gone soft, umpires change it",
        "A run-out appeal, but she's in. Two runs",
        "Not out, the bat was grounded",
        "Smith is bowled over by a bouncer, but gets up, no run",
        "Gone! Gone! Over the sightscreen, six",
        "Umpire's call on impact, stays not out",
        "Would have been out if it had carried, no run",
    ],
)
def test_reader_never_reads_a_loose_out_as_a_wicket(text):
    got = read_text(text)
    assert got.outcome != "wicket", got


@pytest.mark.parametrize(
    "text,outcome,kind",
    [
        ("Given not out, Australia review... three reds, he's gone!", "wicket", "lbw"),
        ("Given out lbw, but the review shows an inside edge, not out, no run", "dot", None),
        ("Should've been a run out, the throw misses, one run", "dropped", None),
        ("Gone! No, hang on, it's a no-ball. Reprieve for Gill", "noball", None),
        ("Looked like six but it landed inside the rope, four runs", "four", None),
        ("Bounced once and over the rope", "four", None),
        ("Would have been four but for a superb dive, they run three", "runs", None),
        ("Labuschagne c +Carey b Cummins 0", "wicket", "caught"),
        ("Cummins to Gill, fuor, driven", "four", None),
        ("Wood to Smith, wdie, over the head", "wide", None),
        ("16.7 W Varaan c Talukdar b Drimuck", "wicket", "caught"),  # a seventh ball is an over.ball, not "7 w"
        ("Caught at slip, but the umpire signals leg byes", "unclear", None),  # nobody is caught off a leg bye
        ("Mahmud drives Safi thru mid-wkt for four.", "four", None),  # midwicket is a place, not a wicket
        ("This over: 4 . 1 W 0 6", "unclear", None),  # several balls in one line
        ("Starc's over went for 14, including a six", "unclear", None),
        ("Gone for a duck", "wicket", None),
        ("Bowled... not quite, it missed the off stump by a whisker, no run", "dot", None),
        ("Dropped... no, he's caught it at the second attempt", "wicket", "caught"),
        ("He's caught it but his foot touched the rope, six", "six", None),
        ("Smith, dropped earlier on 12, now drives for four", "four", None),
        ("Hooked into the crowd for six, and the spectator takes a great catch", "six", None),
        ("Gill nicks and Carey takes a stunning one-hander", "wicket", "caught"),  # "nicks" is no stolen single here
        ("Dropped! And then run out off the same ball as they tried a second", "unclear", None),  # two stories
        ("Third umpire checking for a no-ball... it's legal. Wicket stands, Smith c Carey b Starc", "wicket", "caught"),
        ("Penalty runs: 5 to Australia", "unclear", None),
        ("Out walks Root, the new batter", "unclear", None),
    ],
)
def test_reader_round2_rules(text, outcome, kind):
    got = read_text(text)
    assert (got.outcome, got.dismissal) == (outcome, kind), got

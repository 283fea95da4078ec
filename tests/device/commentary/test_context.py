"""Context keys (issue 15): every key parses to its type, a bad optional key is dropped with a warning, and the
prompt shows only the keys its bundle was taught."""

from __future__ import annotations

import pytest

from device.commentary.delivery import CONTEXT_TYPES, clean_context, read_context, read_event
from device.commentary.events import EventError
from device.commentary.match import CONTEXT_KEYS
from device.commentary.render import ALL_KEYS, LEGACY_KEYS, render_user

FOUR = {
    "batter": "V Kohli",
    "bowler": "MA Starc",
    "non_striker": "RG Sharma",
    "runs": {"batter": 4, "extras": 0, "total": 4},
}
WICKET = {
    "batter": "V Kohli",
    "bowler": "MA Starc",
    "non_striker": "RG Sharma",
    "runs": {"batter": 0, "extras": 0, "total": 0},
    "wickets": [{"player_out": "V Kohli", "kind": "bowled"}],
}
FULL = {
    "match_type": "ODI",
    "innings": 2,
    "over": 49,
    "ball": 3,
    "score": "287/6",
    "target": 290,
    "milestone": "Kohli reaches 100",
    "day_start": False,
    "note": "driven through cover",
    "match_id": "m-1",
    "runs_needed": 3,
    "balls_left": 3,
    "new_batter": False,
    "hat_trick_ball": False,
    "maiden": False,
    "partnership_runs": 104,
    "bowler_wickets": 3,
    "last_over_of_chase": True,
    "winning_run": False,
    "tie": False,
    "super_over": False,
}


def test_every_feed_key_is_read_with_its_type():
    assert set(CONTEXT_TYPES) == set(CONTEXT_KEYS) | {"note"}
    assert set(FULL) == set(CONTEXT_TYPES)
    ctx = read_context(FULL)
    assert ctx == {k: v for k, v in FULL.items()}
    for key, kind in CONTEXT_TYPES.items():
        assert type(ctx[key]) is kind, key


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("target", "need 6 off 1"),
        ("runs_needed", -1),
        ("balls_left", 2.5),
        ("partnership_runs", True),
        ("bowler_wickets", 11),
        ("maiden", "yes"),
        ("winning_run", 1),
        ("match_id", ""),
        ("score", 212),
        ("innings", 0),
    ],
)
def test_a_bad_optional_key_is_dropped_with_a_warning(key, bad):
    context = {"over": 12, "ball": 3, key: bad}
    with pytest.raises(EventError):
        read_context(context)  # strict callers (the dataset) still refuse it
    cleaned, warnings = clean_context(context)
    assert key not in cleaned and cleaned["over"] == 12
    assert len(warnings) == 1 and f"context.{key}" in warnings[0]
    assert read_event(delivery=FOUR, context=cleaned).outcome == "four"


def test_unknown_keys_are_ignored_without_a_warning():
    cleaned, warnings = clean_context({"over": 3, "crowd": "loud"})
    assert cleaned == {"over": 3} and warnings == []
    assert clean_context(None) == (None, [])
    with pytest.raises(EventError):
        clean_context(["not", "an", "object"])


def test_legacy_prompt_is_unchanged_by_new_keys():
    """Bundles built before issue 15 never saw the new keys: their prompt does not show them."""
    old = {k: v for k, v in FULL.items() if k in LEGACY_KEYS}
    assert render_user(delivery=FOUR, context=FULL) == render_user(delivery=FOUR, context=old)
    shown = render_user(delivery=FOUR, context=FULL, keys=LEGACY_KEYS)
    for word in ("need 3", "partnership", "last over", "wickets"):
        assert word not in shown


def test_new_keys_render_compactly():
    shown = render_user(delivery=FOUR, context=FULL, keys=ALL_KEYS)
    line = shown.splitlines()[-1]
    assert line.startswith("ODI 49.3 MA Starc to V Kohli, FOUR, 287/6, target 290, need 3 off 3")
    assert "last over of the chase" in line and "partnership 104" in line and "MA Starc has 3 wickets" in line
    assert "m-1" not in shown  # match_id is memory, not prompt
    assert "Milestone: Kohli reaches 100" in shown
    won = render_user(
        delivery=FOUR, context={"runs_needed": 0, "winning_run": True, "tie": False}, keys=ALL_KEYS
    ).splitlines()[-1]
    assert won.endswith("FOUR, winning run")
    out = render_user(delivery=WICKET, context={"bowler_wickets": 2, "maiden": True}, keys=ALL_KEYS)
    assert out.splitlines()[-1].endswith("OUT, bowled, maiden over, 2nd wicket for MA Starc")
    tied = render_user(delivery=FOUR, context={"tie": True, "super_over": True}, keys=ALL_KEYS)
    assert "scores level, match tied, super over" in tied


def test_small_stands_and_figures_stay_out_of_the_prompt():
    shown = render_user(delivery=FOUR, context={"partnership_runs": 12, "bowler_wickets": 1}, keys=ALL_KEYS)
    assert shown.splitlines()[-1] == "MA Starc to V Kohli, FOUR"

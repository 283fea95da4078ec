"""The service's decoding settings, draw seeds and the match memory (issue 15), without a model."""

from __future__ import annotations

import pytest

from device.commentary.render import ALL_KEYS, LEGACY_KEYS
from device.runtime.service import MAX_DRAWS, MatchMemory, Sampling, draw_seed, line_key


def test_a_bundle_without_sampling_is_greedy_with_one_draw_and_no_memory():
    for manifest in (None, {}, {"n_ctx": 512}):
        s = Sampling.from_manifest(manifest)
        assert (s.temperature, s.draws, s.memory) == (0.0, 1, 0)
        assert s.context_keys == LEGACY_KEYS


def test_the_manifest_sets_sampling_and_taught_keys():
    manifest = {
        "sampling": {"temperature": 0.7, "top_p": 0.9, "min_p": 0.05, "top_k": 30, "draws": 4, "memory": 12},
        "context_keys": sorted(ALL_KEYS),
    }
    s = Sampling.from_manifest(manifest)
    assert (s.temperature, s.top_p, s.min_p, s.top_k, s.draws, s.memory) == (0.7, 0.9, 0.05, 30, 4, 12)
    assert s.context_keys == ALL_KEYS
    assert Sampling.from_manifest({"sampling": s.to_dict(), "context_keys": s.to_dict()["context_keys"]}) == s


@pytest.mark.parametrize(
    "table",
    [
        {"temperature": -0.1},
        {"temperature": "hot"},
        {"draws": 0},
        {"draws": MAX_DRAWS + 1},
        {"draws": True},
        {"memory": -1},
        {"top_p": 0},
        {"min_p": 1.0},
    ],
)
def test_a_bad_sampling_table_is_refused(table):
    with pytest.raises(ValueError, match="sampling"):
        Sampling.from_manifest({"sampling": table})


def test_the_manifest_reply_vocabulary_reaches_the_guard_and_reports_give_its_size():
    s = Sampling.from_manifest({"reply_vocabulary": ["marvellous", "lovely"]})
    assert s.vocabulary == frozenset({"marvellous", "lovely"})
    assert s.to_dict()["vocabulary_words"] == 2 and "vocabulary" not in s.to_dict()
    assert Sampling.from_manifest({}).vocabulary == frozenset()
    with pytest.raises(ValueError, match="reply_vocabulary must be a list of words"):
        Sampling.from_manifest({"reply_vocabulary": "marvellous"})


def test_unknown_taught_keys_are_refused():
    with pytest.raises(ValueError, match="context_keys"):
        Sampling.from_manifest({"context_keys": ["over", "crowd_noise"]})


def test_draw_seeds_are_the_request_seed_then_derived_and_stable():
    assert draw_seed(42, 0) == 42
    seeds = [draw_seed(42, n) for n in range(MAX_DRAWS)]
    assert len(set(seeds)) == MAX_DRAWS
    assert seeds == [draw_seed(42, n) for n in range(MAX_DRAWS)]
    assert draw_seed(43, 1) != draw_seed(42, 1)
    assert all(0 <= s < 2**32 for s in seeds)


def test_line_key_ignores_case_spacing_and_the_full_stop():
    assert line_key("Got  him.") == line_key("got him") == "got him"
    assert line_key("Four.") != line_key("Four byes.")


def test_memory_keeps_the_last_k_lines_per_match():
    mem = MatchMemory(3, matches=2)
    for line in ("One.", "Two.", "Three.", "Four."):
        mem.remember("a", line)
    assert mem.recent("a") == ["Two.", "Three.", "Four."]
    assert mem.recent("b") == [] and mem.recent(None) == []
    mem.remember(None, "Five.")  # no match_id: no memory
    mem.remember("a", "")  # silence is not a spoken line
    assert mem.recent("a") == ["Two.", "Three.", "Four."]


def test_memory_forgets_the_least_recently_used_match():
    mem = MatchMemory(2, matches=2)
    mem.remember("a", "A.")
    mem.remember("b", "B.")
    mem.recent("a")  # a used: b is now the oldest
    mem.remember("c", "C.")
    assert len(mem) == 2
    assert mem.recent("b") == [] and mem.recent("a") == ["A."] and mem.recent("c") == ["C."]


def test_no_memory_when_k_is_zero():
    mem = MatchMemory(0)
    mem.remember("a", "Lovely.")
    assert mem.recent("a") == [] and len(mem) == 0

"""The base model's replies, cached by content (builder/eval/cache.py), on the real SmolLM2 GGUF."""

from __future__ import annotations

import functools
import json

import pytest

from builder.eval import cache
from builder.eval import run as evaluate
from builder.eval.events import load_heldout
from builder.eval.models import EnginePool, GGUFReplier, messages_for

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def events():
    return load_heldout()[:3]


@pytest.fixture(scope="module")
def pool():
    p = EnginePool(n_ctx=1024, threads=1)
    yield p
    p.close()


def _cached(pool, gguf, root, mode="few"):
    inner = GGUFReplier(pool, gguf, mode, 8)
    return cache.CachedReplier(inner, functools.partial(messages_for, mode=mode), 1, root=root)


def test_a_second_run_answers_from_the_cache_with_the_same_replies(pool, smollm2_gguf, events, tmp_path):
    first = _cached(pool, smollm2_gguf, tmp_path)
    asked = [first.reply(e) for e in events]
    assert (first.hits, first.misses) == (0, 3)
    first.save()
    again = _cached(pool, smollm2_gguf, tmp_path)
    assert [again.reply(e) for e in events] == asked
    assert (again.hits, again.misses) == (3, 0)
    fresh = GGUFReplier(pool, smollm2_gguf, "few", 8)
    assert [fresh.reply(e) for e in events] == asked  # what the cache holds is what the model says


def test_another_mode_or_a_changed_prompt_is_asked_again(pool, smollm2_gguf, events, tmp_path):
    few = _cached(pool, smollm2_gguf, tmp_path)
    few.reply(events[0])
    few.save()
    zero = _cached(pool, smollm2_gguf, tmp_path, mode="zero")
    zero.reply(events[0])
    assert zero.misses == 1 and zero.path != few.path
    changed = _cached(pool, smollm2_gguf, tmp_path)
    changed.prompt_of = lambda e: [*messages_for(e, "few"), {"role": "user", "content": "and?"}]
    changed.reply(events[0])
    assert changed.misses == 1


@pytest.mark.parametrize("content", ["{not json", json.dumps({"ident": {"v": 0}, "replies": {}}), "[]"])
def test_an_unreadable_or_foreign_file_is_a_miss(pool, smollm2_gguf, events, tmp_path, content):
    probe = _cached(pool, smollm2_gguf, tmp_path)
    probe.path.write_text(content)
    r = _cached(pool, smollm2_gguf, tmp_path)
    r.reply(events[0])
    assert r.misses == 1
    r.save()
    assert json.loads(r.path.read_text())["ident"] == r.ident  # rewritten whole


def test_the_gate_uses_it_for_the_base_models_unless_turned_off(pool, smollm2_gguf, monkeypatch, tmp_path):
    monkeypatch.setenv("SUKSHAM_CACHE_DIR", str(tmp_path))
    on = evaluate._base_repliers(smollm2_gguf, pool, 8, 1)
    assert set(on) == {"base-zero-shot", evaluate.FEW_SHOT_BASE, evaluate.FEW_SHOT_READER}
    assert all(isinstance(r, cache.CachedReplier) and r.path.parent == tmp_path / "eval-base" for r in on.values())
    monkeypatch.setenv("SUKSHAM_EVAL_CACHE", "0")
    off = evaluate._base_repliers(smollm2_gguf, pool, 8, 1)
    assert not any(isinstance(r, cache.CachedReplier) for r in off.values())

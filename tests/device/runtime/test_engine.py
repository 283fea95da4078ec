"""The engine on the real SmolLM2 GGUF: chat, streaming, stops, and the system-prompt KV cache."""

from __future__ import annotations

import threading

import pytest

from device.commentary.render import build_messages
from device.runtime.engine import Completion, DeadlineExceeded, Engine, EngineError, EngineSettings


@pytest.fixture(scope="module")
def engine(smollm2_gguf):
    return Engine(EngineSettings(model_path=smollm2_gguf, n_ctx=512, n_threads=2)).load()


def test_chat_returns_text_and_counters(engine):
    comp = engine.chat([{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert isinstance(comp, Completion)
    assert comp.text.strip()
    assert 1 <= comp.completion_tokens <= 8
    assert comp.prompt_tokens == len(engine.prompt_ids([{"role": "user", "content": "Say hello."}]))
    assert comp.finish_reason in ("stop", "length")
    assert 0 < comp.ttft_ms <= comp.total_ms


def test_stream_pieces_join_to_the_final_text(engine):
    items = list(engine.stream([{"role": "user", "content": "Count to five."}], max_tokens=12))
    final = items[-1]
    assert isinstance(final, Completion)
    assert all(isinstance(piece, str) for piece in items[:-1])
    assert "".join(items[:-1]) == final.text


def test_stop_string_cuts_the_reply(engine):
    messages = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    full = engine.chat(messages, max_tokens=30).text
    assert "," in full, full
    cut = engine.chat(messages, max_tokens=30, stop=[","])
    assert "," not in cut.text
    assert full.startswith(cut.text)
    assert cut.finish_reason == "stop"


def test_max_tokens_bounds_generation(engine):
    comp = engine.chat([{"role": "user", "content": "Write a long story about cricket."}], max_tokens=3)
    assert comp.completion_tokens == 3
    assert comp.finish_reason == "length"


def test_prompt_longer_than_context_is_refused(engine):
    with pytest.raises(EngineError, match="exceeds the context"):
        engine.chat([{"role": "user", "content": "cricket " * 600}], max_tokens=4)


def test_deadline_stops_generation(engine):
    import time

    with pytest.raises(DeadlineExceeded):
        engine.chat(
            [{"role": "user", "content": "Write a long story about cricket."}],
            max_tokens=64,
            deadline=time.monotonic() - 1,
        )


def test_second_commentary_evaluates_only_its_event_tokens(engine):
    """llama.cpp's own perf counter (n_p_eval) proves the system-prompt prefix comes from the KV cache."""
    first = build_messages(text="Starc to Kohli, FOUR, driven through cover")
    second = build_messages(text="Cummins to Root, no run, defended back to the bowler")
    engine.chat(first, max_tokens=4)
    ids_first, ids_second = engine.prompt_ids(first), engine.prompt_ids(second)
    common = 0
    for a, b in zip(ids_first, ids_second):
        if a != b:
            break
        common += 1
    system_ids = engine.prompt_ids([first[0]])  # the system turn alone (plus a generation prompt)
    assert common >= len(engine.tokenize(engine.render([first[0]]).rsplit("<|im_start|>", 1)[0]))
    comp = engine.chat(second, max_tokens=4)
    assert comp.prompt_eval_tokens == len(ids_second) - common
    assert comp.prompt_eval_tokens < len(ids_second) - len(system_ids) + 8


def test_generation_is_serialized_across_threads(engine):
    messages = [{"role": "user", "content": "Name a cricket ground."}]
    expected = engine.chat(messages, max_tokens=6).text
    results, errors = [], []

    def work():
        try:
            results.append(engine.chat(messages, max_tokens=6).text)
        except Exception as exc:  # pragma: no cover - a failure is reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [expected] * 4


def test_probe_answers_and_keeps_the_cache_useful(engine):
    messages = build_messages(text="Dot ball, defended.")
    assert engine.probe(messages, timeout=10)
    with engine.lock:
        assert engine.probe(messages, timeout=0.05) is False  # busy engine: no proof of life


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(EngineError, match="not found"):
        Engine(EngineSettings(model_path=tmp_path / "nope.gguf")).load()


def test_garbage_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all" * 10)
    with pytest.raises(EngineError, match="could not load"):
        Engine(EngineSettings(model_path=bad)).load()

"""Measurement primitives shared by `suksham check` (device/budget.py) and `suksham bench` (device/bench.py).

- `pp_tg`: llama-bench style prompt processing and generation speed on the raw llama.cpp context.
- `commentary_latencies`: end-to-end latency of real commentary events through the Engine, with or
  without the system-prompt prefix cache.
- `RssSampler`: peak and time series of a process's resident memory (psutil), in a background thread.

Numbers measured on a CPU shared with other work are noisy; callers record the load average with them.
"""

from __future__ import annotations

import statistics
import threading
import time

import psutil

MB = 1 << 20

# Real commentary events, the kind a scorer's feed sends: every outcome class, a few long ones.
EVENTS = (
    "Starc to Kohli, FOUR, driven through cover",
    "Anderson to Smith, no run, left alone outside off",
    "Cummins to Root, OUT, caught behind by Carey",
    "Bumrah to Warner, 1 run, pushed to mid-on",
    "Lyon to Stokes, SIX, launched over long-on",
    "Broad to Labuschagne, OUT, lbw, plumb in front",
    "Hazlewood to Crawley, dropped at second slip, a sitter",
    "Wood to Head, wide, down the leg side",
    "Jadeja to Bairstow, no ball, overstepped",
    "Ashwin to Khawaja, 2 runs, worked off the pads",
    "Rabada to Williamson, OUT, bowled, middle stump cartwheeling",
    "Shaheen to Rohit, 4 leg byes, off the pad to fine leg",
    "Morning, first ball of the day: Boult to Pope, no run, defended",
    "Southee to Brook, FOUR, edged through the vacant gully",
    "Archer to Smith, no run, bouncer, ducked under it",
    "Kuldeep to Marsh, OUT, stumped, beaten by the googly",
    "Siraj to Duckett, 3 runs, cut hard, saved at the rope",
    "Starc to Gill, byes, 1 run, keeper fumbles",
    "Woakes to Pant, SIX, reverse scoop over the keeper",
    "Nortje to Kohli, no run, beaten outside off stump",
    "Root reaches 100 with a single to third man",
    "Cummins to Jaiswal, OUT, run out, direct hit from point",
    "Leach to Labuschagne, no run, padded away",
    "Markwood to Green, FOUR, pulled in front of square",
)


def percentile(values, q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summarize(values) -> dict:
    values = list(values)
    if not values:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "mean": round(statistics.fmean(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def event_messages(event: str) -> tuple[list[dict], str]:
    """Chat messages for one event, exactly as the server builds them; the second value names the source."""
    from device.commentary.render import SYSTEM_PROMPT, build_messages

    try:
        return build_messages(text=event), "device.commentary.build_messages"
    except NotImplementedError:  # the prompt module may still be a stub in a development checkout
        return (
            [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": event}],
            "raw event text (device.commentary.build_messages not implemented yet)",
        )


def bench_tokens(n: int, n_vocab: int) -> list[int]:
    """Deterministic spread of token ids, as llama-bench uses random tokens: speed does not depend on them."""
    return [(i * 7919 + 101) % max(n_vocab - 256, 1) + 128 for i in range(n)]


def pp_tg(engine, n_prompt: int, n_gen: int, reps: int = 3, warmup: bool = True) -> dict:
    """Prompt tokens/s (one batch of `n_prompt`) and generation tokens/s (`n_gen` single-token steps).

    Runs on the raw llama context under the engine's lock, from an empty KV cache each rep, so the
    numbers are comparable with llama.cpp's `llama-bench -p N -n M`. Reports the median rep.
    """
    llama = engine.llama
    if n_prompt + n_gen > llama.n_ctx():
        raise ValueError(f"pp{n_prompt}+tg{n_gen} needs a context of {n_prompt + n_gen}, have {llama.n_ctx()}")
    tokens = bench_tokens(n_prompt, llama.n_vocab())
    pp, tg = [], []
    with engine.lock:
        if warmup:  # first eval pays page faults on the mmap'd weights and weight repacking
            llama.reset()
            llama.eval(tokens[: min(16, n_prompt)])
        for _ in range(reps):
            llama.reset()
            t0 = time.perf_counter()
            llama.eval(tokens)
            t1 = time.perf_counter()
            for i in range(n_gen):
                llama.eval([tokens[i % n_prompt]])
            t2 = time.perf_counter()
            pp.append(n_prompt / (t1 - t0))
            if n_gen:
                tg.append(n_gen / (t2 - t1))
        llama.reset()
    return {
        "n_prompt": n_prompt,
        "n_gen": n_gen,
        "reps": reps,
        "prompt_tps": round(statistics.median(pp), 2),
        "generation_tps": round(statistics.median(tg), 2) if tg else None,
        "prompt_tps_all": [round(x, 2) for x in pp],
        "generation_tps_all": [round(x, 2) for x in tg],
    }


def commentary_latencies(engine, events, prefix_cache: bool = True, on_step=None) -> dict:
    """Run each event through `engine.commentary` as the server does; returns per-request rows and summaries.

    With `prefix_cache` the context keeps the previous request's tokens, so only the event's own
    tokens are evaluated (how the server runs). Without it the KV cache is cleared before each event.
    """
    rows = []
    source = None
    if prefix_cache and events:  # prime the cache with the system prompt, as a running server has it
        messages, source = event_messages(events[0])
        engine.commentary(messages)
    for event in events:
        messages, source = event_messages(event)
        if not prefix_cache:
            with engine.lock:
                engine.llama.reset()
        done = engine.commentary(messages)
        rows.append(
            {
                "event": event,
                "text": done.text,
                "latency_ms": round(done.total_ms, 2),
                "ttft_ms": round(done.ttft_ms, 2),
                "prompt_tokens": done.prompt_tokens,
                "prompt_eval_tokens": done.prompt_eval_tokens,
                "completion_tokens": done.completion_tokens,
            }
        )
        if on_step:
            on_step()
    return {
        "prefix_cache": prefix_cache,
        "prompt_source": source,
        "latency_ms": summarize(r["latency_ms"] for r in rows),
        "ttft_ms": summarize(r["ttft_ms"] for r in rows),
        "prompt_eval_tokens_mean": round(statistics.fmean(r["prompt_eval_tokens"] for r in rows), 2) if rows else None,
        "rows": rows,
    }


class RssSampler:
    """Samples a process's RSS every `interval` seconds in a daemon thread; use as a context manager."""

    def __init__(self, pid: int | None = None, interval: float = 0.1):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.series: list[tuple[float, float]] = []  # (seconds since start, RSS MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._t0 = time.monotonic()

    def _sample(self):
        try:
            rss = self.process.memory_info().rss / MB
        except psutil.Error:  # process gone: keep what we have
            self._stop.set()
            return
        self.series.append((round(time.monotonic() - self._t0, 3), round(rss, 2)))

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> RssSampler:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self.process.is_running():
            self._sample()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def peak_mb(self) -> float:
        return max((mb for _t, mb in self.series), default=0.0)

    def mark(self) -> float:
        """Seconds since the sampler started, to label phases on the memory plot."""
        return round(time.monotonic() - self._t0, 3)

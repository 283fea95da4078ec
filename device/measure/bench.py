"""On-device benchmark report: `suksham bench --bundle DIR --out DIR [--quick]`.

Measures, on this machine and with the bundle's own GGUF:
- memory read bandwidth (numpy streaming read) at 1..cores threads;
- a thread sweep 1..cores (pp64/tg16), then llama-bench style pp64/tg16 and pp512/tg128 at the
  fastest thread count;
- commentary latency over real events, with and without the system-prompt prefix cache;
- a load test of a real `suksham serve` subprocess at concurrency 1, 2, 4, 8 (throughput, p50, p95, 503s);
- RSS over time of this process and of the server;
and writes report.json, report.md and report.html (plots inline) to OUT, plus a Pi 5 PROJECTION
from a memory-bandwidth roofline (device/projection.py). `--quick` shrinks every repetition count
so the whole run takes well under a minute for the 135M model (used by the tests).
"""

from __future__ import annotations

import gc
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from device.errors import UserError
from device.measure import machine
from device.measure.perf import EVENTS, RssSampler, commentary_latencies, pp_tg

LOAD_CONCURRENCY = (1, 2, 4, 8)
PP_TG_SIZES = ((64, 16), (512, 128))
SWEEP_SIZE = (64, 16)


class Progress:
    """One line per step on stderr with the elapsed time: readable in a terminal, a log or journald."""

    def __init__(self, total: int, stream=None):
        self.total, self.n, self.stream = total, 0, stream or sys.stderr
        self.t0 = self.step_t0 = time.monotonic()

    def step(self, title: str):
        self.n += 1
        self.step_t0 = time.monotonic()
        print(f"[{self.n}/{self.total}] {title} ...", file=self.stream)

    def note(self, text: str):
        print(f"      {text}  ({time.monotonic() - self.step_t0:.1f} s)", file=self.stream)

    def done(self):
        print(f"done in {time.monotonic() - self.t0:.1f} s", file=self.stream)


def measure_bandwidth(mb: int, threads: int, reps: int) -> float:
    """Best-of-`reps` streaming read bandwidth in GB/s: sum a float64 array split over `threads`.

    numpy releases the GIL in reductions, so the threads read in parallel, like llama.cpp's decode.
    """
    array = np.ones(mb * (1 << 20) // 8)
    chunks = np.array_split(array, threads)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, chunks))  # fault the pages in before timing
        for _ in range(reps):
            start = time.perf_counter()
            list(pool.map(np.sum, chunks))
            best = max(best, array.nbytes / (time.perf_counter() - start) / 1e9)
    return round(best, 2)


def _engine(bundle, n_ctx: int, threads: int):
    from device.runtime.engine import Engine, EngineSettings

    return Engine(EngineSettings(model_path=bundle.gguf_path, n_ctx=n_ctx, n_threads=threads)).load()


def run_bench(bundle, out, quick: bool = False, threads: int | None = None) -> dict:
    """Run every measurement, write the three report files to `out`, print a summary table.

    The thread sweep runs 1..`threads` (default: all usable cores); every later step uses the
    thread count that decoded fastest in the sweep, as an operator would configure the server.
    """
    from device.measure.projection import project_pi5
    from device.measure.report import write_reports
    from device.runtime.bundle import BundleError, verify_bundle

    out = Path(out)
    try:
        loaded = verify_bundle(bundle)
    except BundleError as exc:
        raise UserError(str(exc)) from exc
    cores = threads or machine.usable_cores()
    reps = 1 if quick else 3
    n_events = 6 if quick else 48
    events = [EVENTS[i % len(EVENTS)] for i in range(n_events)]
    progress = Progress(total=7)
    report: dict = {
        "bundle": str(loaded.path),
        "gguf": loaded.gguf_path.name,
        "manifest_n_ctx": loaded.n_ctx,
        "model_mb": round(loaded.gguf_path.stat().st_size / (1 << 20), 1),
        "quick": quick,
        "started_unix": round(time.time(), 1),
        "note": (
            f"Load average {machine.describe(with_llama=False)['load_average_1m']} on "
            f"{machine.usable_cores()} cores at the start; when other work shares the CPU, compare "
            "ratios, not absolute times."
        ),
    }
    phases = []  # (seconds since start, label) for the memory plot
    with RssSampler(interval=0.1) as rss:
        progress.step("machine")
        report["machine"] = machine.describe()
        progress.note(
            f"{report['machine']['cpu_model']}, {report['machine']['cores_usable']} usable cores, "
            f"load {report['machine']['load_average_1m']}, sweep 1..{cores} threads"
        )

        progress.step("memory read bandwidth (numpy)")
        phases.append((rss.mark(), "bandwidth"))
        size_mb = 128 if quick else 512
        report["bandwidth_gbs"] = {str(n): measure_bandwidth(size_mb, n, reps + 2) for n in range(1, cores + 1)}
        gc.collect()
        progress.note(", ".join(f"{t} thread(s) {v} GB/s" for t, v in report["bandwidth_gbs"].items()))

        progress.step(f"thread sweep 1..{cores} (pp{SWEEP_SIZE[0]}/tg{SWEEP_SIZE[1]})")
        phases.append((rss.mark(), "thread sweep"))
        n_ctx_bench = max(loaded.n_ctx, sum(PP_TG_SIZES[-1]))
        sweep = []
        for n in range(1, cores + 1):
            engine = _engine(loaded, n_ctx_bench, n)
            row = pp_tg(engine, *SWEEP_SIZE, reps=reps)
            sweep.append({"threads": n, "prompt_tps": row["prompt_tps"], "generation_tps": row["generation_tps"]})
            progress.note(f"{n} thread(s): pp {row['prompt_tps']} tok/s, tg {row['generation_tps']} tok/s")
            del engine
            gc.collect()
        report["thread_sweep"] = sweep
        # On a busy CPU, more threads can be far slower (llama.cpp's OpenMP threads spin at barriers).
        best = max(sweep, key=lambda s: s["generation_tps"])["threads"]
        report["threads_used"] = best
        engine = _engine(loaded, n_ctx_bench, best)

        progress.step(
            f"llama-bench style pp/tg, {best} thread(s), at " + ", ".join(f"pp{p}/tg{g}" for p, g in PP_TG_SIZES)
        )
        phases.append((rss.mark(), "pp/tg"))
        report["pp_tg"] = []
        for n_prompt, n_gen in PP_TG_SIZES:
            row = pp_tg(engine, n_prompt, n_gen, reps=reps)
            row["threads"] = best
            report["pp_tg"].append(row)
            progress.note(f"pp{n_prompt} {row['prompt_tps']} tok/s, tg{n_gen} {row['generation_tps']} tok/s")
        del engine
        gc.collect()

        progress.step(f"commentary latency over {n_events} events, with and without the prefix cache")
        phases.append((rss.mark(), "commentary"))
        engine = _engine(loaded, loaded.n_ctx, best)  # the server's own context size
        report["commentary"] = {
            "with_prefix_cache": commentary_latencies(engine, events, prefix_cache=True),
            "without_prefix_cache": commentary_latencies(engine, events, prefix_cache=False),
        }
        for key, res in report["commentary"].items():
            progress.note(
                f"{key}: p50 {res['latency_ms']['p50']} ms, p95 {res['latency_ms']['p95']} ms, "
                f"{res['prompt_eval_tokens_mean']} prompt tokens evaluated per request"
            )
        del engine
        gc.collect()

        progress.step("server load test at concurrency " + ", ".join(map(str, LOAD_CONCURRENCY)))
        phases.append((rss.mark(), "load test"))
        report["load_test"] = _load_test(loaded.path, best, quick, progress, rss.mark)
        phases.append((rss.mark(), "report"))

        progress.step("Pi 5 projection and report files")
        report["projection"] = project_pi5(report)
    report["memory"] = {"bench_process": {"peak_rss_mb": round(rss.peak_mb, 1), "series": rss.series, "phases": phases}}
    if "server_rss" in report["load_test"]:
        report["memory"]["server_process"] = report["load_test"].pop("server_rss")
    report["seconds"] = round(time.time() - report["started_unix"], 1)
    paths = write_reports(report, out)
    progress.done()
    _summary(report, paths)
    return report


def _load_test(bundle_path, threads: int, quick: bool, progress: Progress, clock) -> dict:
    """Concurrency levels against a real server; `clock` is the bench's own time axis for the memory plot."""
    from device.measure.loadtest import ServerStartError, run_load, running_server

    result: dict = {"levels": []}
    try:
        with running_server(bundle_path, threads=threads) as server:
            offset = clock()  # the server's RSS sampler starts now: put its series on the bench's time axis
            result["url"] = server.url
            run_load(server.url, 1, 2)  # warm the prefix cache, as a running server would have it
            for conc in LOAD_CONCURRENCY:
                n = max(conc, 2) if quick else max(24, 6 * conc)
                level = run_load(server.url, conc, n)
                result["levels"].append(level)
                progress.note(
                    f"concurrency {conc}: {level['throughput_rps']} req/s, p50 {level['latency_ms']['p50']} ms, "
                    f"p95 {level['latency_ms']['p95']} ms, 503s {level['busy_503']}, errors {level['errors']}"
                )
            result["server_rss"] = {
                "peak_rss_mb": round(server.rss.peak_mb, 1),
                "series": [(round(t + offset, 3), mb) for t, mb in server.rss.series],
            }
    except ServerStartError as exc:  # the report still says what happened instead of dying
        result["error"] = "\n".join(str(exc).splitlines()[-6:])  # the head line and the end of the server's log
        progress.note(f"server load test could not run: {result['error']}")
    serial = next((lv for lv in result["levels"] if lv["concurrency"] == 1), None)
    if serial and serial["throughput_rps"]:
        for lv in result["levels"]:
            lv["throughput_vs_serial"] = round((lv["throughput_rps"] or 0) / serial["throughput_rps"], 3)
    return result


def _summary(report: dict, paths: dict):
    print(f"{'measure':<44} {'value':>14}")
    rows = [(f"tg tok/s, {s['threads']} thread(s)", s["generation_tps"]) for s in report["thread_sweep"]]
    rows += [
        (f"pp{r['n_prompt']} / tg{r['n_gen']} tok/s", f"{r['prompt_tps']} / {r['generation_tps']}")
        for r in report["pp_tg"]
    ]
    for key, res in report["commentary"].items():
        rows.append(
            (
                f"commentary p50/p95 ms, {key.replace('_', ' ')}",
                f"{res['latency_ms']['p50']} / {res['latency_ms']['p95']}",
            )
        )
    for lv in report["load_test"].get("levels", []):
        rows.append(
            (
                f"server c={lv['concurrency']}: req/s, p95 ms, 503s",
                f"{lv['throughput_rps']}, {lv['latency_ms']['p95']}, {lv['busy_503']}",
            )
        )
    proj = report["projection"]
    rows.append(
        ("PROJECTION Pi 5 tg tok/s (range)", f"{proj['generation_tps']['low']}-{proj['generation_tps']['high']}")
    )
    rows.append(
        (
            "PROJECTION Pi 5 commentary p50 / p95 ms",
            f"{proj['commentary_latency_ms']['p50']['low']}-{proj['commentary_latency_ms']['p50']['high']} / "
            f"{proj['commentary_latency_ms']['p95']['low']}-{proj['commentary_latency_ms']['p95']['high']}",
        )
    )
    for label, value in rows:
        print(f"{label:<44} {value!s:>14}")
    print("reports: " + ", ".join(str(p) for p in paths.values()))

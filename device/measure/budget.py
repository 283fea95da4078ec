"""Does this bundle meet a device budget? `suksham check --bundle DIR --budget FILE [--json]`.

A budget is a TOML file (shipped: device/budgets/pi5-4gb.toml, pi5-8gb.toml). The check runs in
three steps and exits 0 within budget, 1 over budget (each failing key named with value and
limit), 2 could not run:

1. preflight, before loading anything: RAM estimate = model file + f16 KV cache for the manifest's
   n_ctx (from the GGUF header) + compute buffers + runtime, compared with `max_rss_mb` and with the
   memory really available, which is the smaller of the host's and the cgroup's (systemd MemoryMax);
2. load the model with the budget's threads and measure prompt and generation tokens/s, time to
   first token and latency p50/p95 over real commentary events, sampling peak RSS all along;
3. compare every measured value with its limit.

`suksham serve --budget FILE` calls `preflight()` at startup, so a model that cannot fit is refused
with a message instead of being killed by the OOM killer later.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import psutil
import tomllib

from device.measure import machine
from device.measure.perf import EVENTS, MB, RssSampler, commentary_latencies, pp_tg
from device.measure.ram import RUNTIME_BASE_MB, estimate_ram  # noqa: F401  (re-exported for callers)
from device.runtime.gguf_header import GGUFError

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
BUDGETS_DIR = Path(__file__).resolve().parents[1] / "budgets"  # device/budgets/, package data
# llama-bench style sizes for the speed check; small enough for a 512-token context
CHECK_PROMPT_TOKENS, CHECK_GEN_TOKENS, CHECK_REPS = 128, 64, 2
DEFAULT_LATENCY_EVENTS = 20


class BudgetError(ValueError):
    """A budget file that cannot be used; the message lists every problem and the fix."""


@dataclass(frozen=True)
class Budget:
    name: str
    threads: int
    min_generation_tps: float
    min_prompt_tps: float
    max_ttft_ms: float
    max_latency_p95_ms: float
    max_rss_mb: float
    min_free_ram_mb: float
    latency_events: int = DEFAULT_LATENCY_EVENTS  # commentary events timed for the latency percentiles
    description: str = ""
    # Which of a bundle's quants (manifest `quants`) a device on this budget serves, when the bundle
    # ships it; empty, or a bundle without it: the bundle's default. `--quant` overrides it.
    quant: str = ""
    path: str = ""


_REQUIRED = (
    "threads",
    "min_generation_tps",
    "min_prompt_tps",
    "max_ttft_ms",
    "max_latency_p95_ms",
    "max_rss_mb",
    "min_free_ram_mb",
)
_INTS = ("threads", "latency_events")
_KNOWN = {f.name for f in fields(Budget)} - {"path"}


def load_budget(path: str | os.PathLike) -> Budget:
    """Parse and validate a budget TOML; every problem is reported at once."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BudgetError(
            f"budget file {path} does not exist. Shipped budgets: {', '.join(shipped_budgets())}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BudgetError(f"cannot read budget file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BudgetError(
            f"budget file {path} is not valid TOML: {exc}. Compare with {BUDGETS_DIR / 'pi5-4gb.toml'}."
        ) from exc
    table = raw.get("budget", raw)  # a [budget] table or top-level keys
    if not isinstance(table, dict):
        raise BudgetError(f"{path}: [budget] must be a table of keys")
    problems = []
    for key in sorted(set(table) - _KNOWN):
        hint = difflib.get_close_matches(key, sorted(_KNOWN), n=1)
        problems.append(f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    for key in _REQUIRED:
        if key not in table:
            problems.append(f"missing key {key!r}")
    values = {}
    for key in sorted(set(table) & _KNOWN):
        value = table[key]
        if key in ("name", "description"):
            if not isinstance(value, str):
                problems.append(f"{key} must be a string, got {value!r}")
            values[key] = value
        elif key == "quant":
            if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_]+", value):
                problems.append(f'quant must be a quantization name such as "Q4_0" or "Q4_K_M", got {value!r}')
            else:
                values[key] = value.upper()
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{key} must be a number, got {value!r}")
        elif key in _INTS and not isinstance(value, int):
            problems.append(f"{key} must be a whole number, got {value!r}")
        elif value <= 0:
            problems.append(f"{key} must be greater than 0, got {value!r}")
        else:
            values[key] = value
    if problems:
        raise BudgetError(
            f"budget file {path} has {len(problems)} problem(s):\n  "
            + "\n  ".join(problems)
            + f"\nSee {BUDGETS_DIR / 'pi5-4gb.toml'} for every key with its meaning."
        )
    values.setdefault("name", path.stem)
    return Budget(path=str(path), **values)


def shipped_budgets() -> list[str]:
    return sorted(str(p) for p in BUDGETS_DIR.glob("*.toml"))


# -- preflight ---------------------------------------------------------------------------------------
@dataclass
class PreflightResult:
    ok: bool
    model_path: str
    n_ctx: int
    model_mb: float
    kv_cache_mb: float
    compute_mb: float
    runtime_mb: float
    estimate_mb: float  # expected peak RSS of a serving process
    available_mb: float  # the smaller of host available memory and cgroup headroom
    host_available_mb: float
    cgroup_limit_mb: float | None
    cgroup_source: str
    max_rss_mb: float
    min_free_ram_mb: float
    failures: list[dict] = field(default_factory=list)  # {key, value, limit, message}

    @property
    def message(self) -> str:
        parts = (
            f"model {self.model_mb:.0f} MB + KV cache {self.kv_cache_mb:.0f} MB (n_ctx {self.n_ctx}) "
            f"+ compute {self.compute_mb:.0f} MB + runtime {self.runtime_mb:.0f} MB"
        )
        if self.ok:
            return (
                f"preflight ok: about {self.estimate_mb:.0f} MB needed ({parts}), {self.available_mb:.0f} MB available"
            )
        reasons = "; ".join(f["message"] for f in self.failures)
        return (
            f"refusing to load {self.model_path}: it needs about {self.estimate_mb:.0f} MB ({parts}). {reasons}. "
            "Fix: serve a smaller model or quantization, lower --n-ctx, stop other services, raise the "
            "systemd MemoryMax, or use a budget for a bigger board (device/budgets/pi5-8gb.toml)."
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "message": self.message}


def preflight(
    model_path: str | os.PathLike, n_ctx: int, budget: Budget | str | os.PathLike, n_batch: int = 512
) -> PreflightResult:
    """Will this model fit, before loading it? Check `.ok`; `.message` is the refusal to show.

    Raises BudgetError for a bad budget file and GGUFError for an unreadable model header.
    """
    if not isinstance(budget, Budget):
        budget = load_budget(budget)
    est = estimate_ram(model_path, n_ctx, n_batch)
    mem = machine.memory()
    # This process already holds part of the runtime, which "available" no longer includes.
    own_rss = psutil.Process().memory_info().rss / MB
    additional = est["estimate_mb"] - min(own_rss, est["runtime_mb"])
    available = float(mem["effective_available_mb"])
    result = PreflightResult(
        ok=True,
        model_path=str(model_path),
        n_ctx=n_ctx,
        model_mb=round(est["model_mb"], 1),
        kv_cache_mb=round(est["kv_cache_mb"], 1),
        compute_mb=round(est["compute_mb"], 1),
        runtime_mb=est["runtime_mb"],
        estimate_mb=round(est["estimate_mb"], 1),
        available_mb=available,
        host_available_mb=float(mem["available_mb"]),
        cgroup_limit_mb=mem["cgroup_limit_mb"],
        cgroup_source=mem["cgroup_source"],
        max_rss_mb=budget.max_rss_mb,
        min_free_ram_mb=budget.min_free_ram_mb,
    )
    if est["estimate_mb"] > budget.max_rss_mb:
        result.failures.append(
            {
                "key": "max_rss_mb",
                "value": result.estimate_mb,
                "limit": budget.max_rss_mb,
                "message": f"estimated RSS {result.estimate_mb:.0f} MB > max_rss_mb {budget.max_rss_mb:g}",
            }
        )
    # min_free_ram_mb is about the board: what the rest of the system keeps after we load. A cgroup
    # limit (systemd's MemoryMax) is about this service: the model must fit under it, or the OOM
    # killer ends it later. Mixing the two would refuse any model above MemoryMax - min_free_ram_mb.
    host_left = float(mem["available_mb"]) - additional
    if host_left < budget.min_free_ram_mb:
        result.failures.append(
            {
                "key": "min_free_ram_mb",
                "value": round(host_left, 1),
                "limit": budget.min_free_ram_mb,
                "message": f"only {mem['available_mb']:.0f} MB available on this machine, leaving "
                f"{host_left:.0f} MB after loading < min_free_ram_mb {budget.min_free_ram_mb:g}",
            }
        )
    if mem["cgroup_limit_mb"] is not None and available < additional:
        result.failures.append(
            {
                "key": "cgroup memory.max",
                "value": round(additional, 1),
                "limit": round(available, 1),
                "message": f"loading needs about {additional:.0f} MB more, but the cgroup limit "
                f"{mem['cgroup_limit_mb']} MB ({mem['cgroup_source']}) leaves {available:.0f} MB",
            }
        )
    result.ok = not result.failures
    return result


# -- the check ---------------------------------------------------------------------------------------
def _check(key: str, value, limit, unit: str) -> dict:
    ok = value is not None and (value >= limit if key.startswith("min_") else value <= limit)
    return {"key": key, "value": value, "limit": limit, "unit": unit, "ok": bool(ok)}


def measure(bundle, budget: Budget, log=lambda msg: None) -> dict:
    """Load the bundle's model with the budget's threads and measure what the budget limits."""
    from device.runtime.engine import Engine, EngineSettings

    threads = min(budget.threads, machine.usable_cores())
    n_prompt, n_gen = CHECK_PROMPT_TOKENS, CHECK_GEN_TOKENS
    if n_prompt + n_gen > bundle.n_ctx:  # keep within the bundle's own context
        n_prompt, n_gen = bundle.n_ctx // 2, bundle.n_ctx // 4
    events = [EVENTS[i % len(EVENTS)] for i in range(budget.latency_events)]
    with RssSampler(interval=0.05) as rss:
        log(f"loading {bundle.gguf_path.name} with {threads} thread(s), n_ctx {bundle.n_ctx}")
        engine = Engine(EngineSettings(model_path=bundle.gguf_path, n_ctx=bundle.n_ctx, n_threads=threads)).load()
        log(f"pp{n_prompt}/tg{n_gen} x{CHECK_REPS}")
        speed = pp_tg(engine, n_prompt, n_gen, reps=CHECK_REPS)
        log(f"commentary latency over {len(events)} events")
        lat = commentary_latencies(engine, events, prefix_cache=True)
        free_after = machine.memory()["effective_available_mb"]
    return {
        "threads": threads,
        "threads_budget": budget.threads,
        "load_seconds": round(engine.load_seconds, 3),
        "prompt_tps": speed["prompt_tps"],
        "generation_tps": speed["generation_tps"],
        "speed": speed,
        "ttft_ms_p50": lat["ttft_ms"]["p50"],
        "ttft_ms": lat["ttft_ms"],
        "latency_ms_p50": lat["latency_ms"]["p50"],
        "latency_ms_p95": lat["latency_ms"]["p95"],
        "latency_ms": lat["latency_ms"],
        "prompt_source": lat["prompt_source"],
        "peak_rss_mb": round(rss.peak_mb, 1),
        "free_ram_mb_after_load": free_after,
        "samples": [{k: r[k] for k in ("event", "text", "latency_ms", "ttft_ms")} for r in lat["rows"][:5]],
    }


def evaluate(budget: Budget, measured: dict) -> list[dict]:
    """One row per budget key: value, limit, ok. TTFT is the median (a typical ball); latency is p95."""
    return [
        _check("min_prompt_tps", measured["prompt_tps"], budget.min_prompt_tps, "tok/s"),
        _check("min_generation_tps", measured["generation_tps"], budget.min_generation_tps, "tok/s"),
        _check("max_ttft_ms", measured["ttft_ms_p50"], budget.max_ttft_ms, "ms"),
        _check("max_latency_p95_ms", measured["latency_ms_p95"], budget.max_latency_p95_ms, "ms"),
        _check("max_rss_mb", measured["peak_rss_mb"], budget.max_rss_mb, "MB"),
        _check("min_free_ram_mb", measured["free_ram_mb_after_load"], budget.min_free_ram_mb, "MB"),
    ]


def run_check(bundle, budget, log=None, quant: str | None = None) -> dict:
    """`suksham check`: the verdict as a report; `report["exit_code"]` is 0 pass, 1 over budget, 2 could not run.

    The bundle's quant measured: `quant` (--quant), else the budget's `quant` when the bundle ships it,
    else the bundle's default.

    Prints nothing: `log(msg)` gets progress lines, and `format_report` turns the report into text.
    """
    from device.runtime.bundle import BundleError, choose_quant, verify_bundle

    started = time.time()
    log = log or (lambda msg: None)
    report: dict = {"bundle": str(bundle), "budget_file": str(budget), "started_unix": round(started, 1)}
    try:
        spec = load_budget(budget)
        report["budget"] = asdict(spec)
        log(f"verifying bundle {bundle}")
        chosen, note = choose_quant(bundle, quant, spec.quant)
        if note:
            log(note)
        loaded = verify_bundle(bundle, quant=chosen)
        report["quant"] = loaded.quant
        report["machine"] = machine.describe()
        pre = preflight(loaded.gguf_path, loaded.n_ctx, spec)
        report["preflight"] = pre.to_dict()
        log(pre.message)
        if pre.ok:
            report["measured"] = measure(loaded, spec, log)
            report["checks"] = evaluate(spec, report["measured"])
        else:  # never load a model that will not fit: the preflight's keys are the verdict
            report["checks"] = [{**f, "unit": "MB", "ok": False, "stage": "preflight"} for f in pre.failures]
        report["thermal_after"] = machine.pi_thermal()
        report["warnings"] = _warnings(report)
    except (BudgetError, BundleError, GGUFError) as exc:
        return _finish(report, EXIT_ERROR, str(exc))
    except Exception as exc:  # noqa: BLE001 - llama.cpp load failures, a missing extra: "could not run",
        # never a traceback whose exit code 1 would read as "over budget"
        return _finish(report, EXIT_ERROR, f"{type(exc).__name__}: {exc}")
    failures = [c for c in report["checks"] if not c["ok"]]
    report["seconds"] = round(time.time() - started, 1)
    return _finish(report, EXIT_FAIL if failures else EXIT_PASS, None)


def _warnings(report: dict) -> list[str]:
    """Conditions that make speed numbers untrustworthy; an operator should know before acting on a FAIL."""
    out = []
    m, measured = report.get("machine", {}), report.get("measured", {})
    load, cores = m.get("load_average_1m"), m.get("cores_usable") or 1
    if load is not None and load > 0.5 * cores:
        out.append(
            f"load average {load} on {cores} cores: other work competes for the CPU, so speed "
            "numbers are low; re-run when the device is idle"
        )
        if measured.get("threads", 1) > 1 and m.get("env", {}).get("OMP_WAIT_POLICY", "unset").lower() != "passive":
            out.append(
                "llama.cpp's OpenMP threads spin-wait; with a busy CPU that can cost 10-30x. "
                "Try OMP_WAIT_POLICY=passive or a lower thread count"
            )
    throttled = report.get("thermal_after", {}).get("throttled")
    if isinstance(throttled, dict) and throttled.get("flags"):
        out.append("the Pi reports " + ", ".join(throttled["flags"]) + ": fix cooling or power before trusting speeds")
    return out


def _finish(report: dict, code: int, error: str | None) -> dict:
    report["exit_code"] = code
    report["status"] = {EXIT_PASS: "pass", EXIT_FAIL: "fail", EXIT_ERROR: "error"}[code]
    report["failures"] = [
        f"{c['key']}: {c['value']} {c.get('unit', '')} vs limit {c['limit']}".replace("  ", " ")
        for c in report.get("checks", [])
        if not c["ok"]
    ]
    if error:
        report["error"] = error
    return report


def format_report(report: dict) -> str:
    """The verdict as the terminal shows it: a table of checks, warnings, then PASS or FAIL."""
    if report.get("error"):
        return f"could not run the check: {report['error']}"
    lines = []
    m = report.get("measured", {})
    if m:
        lines.append(
            f"quant {report.get('quant')}, threads {m['threads']} (budget {m['threads_budget']}), "
            f"load {m['load_seconds']} s, "
            f"load average {report['machine'].get('load_average_1m')}, "
            f"OMP_WAIT_POLICY={report['machine']['env']['OMP_WAIT_POLICY']}"
        )
    lines.append(f"{'key':<20} {'value':>12} {'limit':>10}  result")
    for c in report["checks"]:
        value = f"{c['value']:.1f}" if isinstance(c["value"], (int, float)) else str(c["value"])
        lines.append(f"{c['key']:<20} {value:>12} {c['limit']:>10g}  {'ok' if c['ok'] else 'OVER BUDGET'} {c['unit']}")
    lines += [f"warning: {warning}" for warning in report.get("warnings", [])]
    thermal = report.get("thermal_after", {})
    lines.append(f"temperature: {thermal.get('temperature_c')}; throttled: {thermal.get('throttled')}")
    if report["exit_code"] == EXIT_PASS:
        lines.append(f"PASS: within budget {report['budget']['name']}")
    else:
        lines.append(f"FAIL: over budget {report['budget']['name']}: " + "; ".join(report["failures"]))
    return "\n".join(lines)

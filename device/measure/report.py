"""Render a `suksham bench` result as report.json, report.md and report.html (plots inline as PNG).

The Markdown and HTML are made from the same list of sections (title, intro, table), so the two
never disagree. Plots are also written beside them as PNG files for the Markdown to link.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from device.util import atomic_write_bytes, atomic_write_json, atomic_write_text


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def sections(r: dict) -> list[dict]:
    """The report's content: each section has a title, intro lines, and an optional table."""
    m = r["machine"]
    out = [
        {
            "title": "Machine",
            "intro": [r.get("note", "")],
            "rows": [
                [k, _fmt(m.get(k))]
                for k in ("cpu_model", "pi_model", "arch", "cores_logical", "cores_usable", "kernel", "load_average_1m")
            ]
            + [
                ["frequency", _fmt(m["frequency"])],
                ["memory", _fmt(m["memory"])],
                ["thermal", _fmt(m["thermal"])],
                ["environment", _fmt(m.get("env", {}))],
                ["threads used after the sweep", _fmt(r.get("threads_used"))],
                ["llama.cpp", _fmt(m.get("llama_cpp", {}).get("version"))],
                ["llama.cpp system info", _fmt(m.get("llama_cpp", {}).get("system_info"))],
            ],
            "headers": ["", "value"],
        },
        {
            "title": "Memory read bandwidth (numpy streaming read)",
            "intro": [],
            "headers": ["threads", "GB/s"],
            "rows": [[t, v] for t, v in r["bandwidth_gbs"].items()],
        },
        {
            "title": "Thread sweep (pp64 / tg16)",
            "intro": [],
            "headers": ["threads", "prompt tok/s", "generation tok/s"],
            "rows": [[s["threads"], s["prompt_tps"], s["generation_tps"]] for s in r["thread_sweep"]],
            "plot": "thread_sweep",
        },
        {
            "title": "llama-bench style prompt and generation speed",
            "intro": [
                "Median of the repetitions, from an empty KV cache each time, at the sweep's fastest thread count."
            ],
            "headers": ["test", "threads", "prompt tok/s", "generation tok/s", "reps"],
            "rows": [
                [f"pp{p['n_prompt']} / tg{p['n_gen']}", p["threads"], p["prompt_tps"], p["generation_tps"], p["reps"]]
                for p in r["pp_tg"]
            ],
        },
    ]
    com = r["commentary"]
    out.append(
        {
            "title": "Commentary latency over real events",
            "intro": [
                f"Prompt built by: {com['with_prefix_cache']['prompt_source']}. With the prefix cache the "
                "system prompt is reused from the previous request, as in the server."
            ],
            "headers": [
                "prefix cache",
                "events",
                "latency p50 ms",
                "latency p95 ms",
                "TTFT p50 ms",
                "TTFT p95 ms",
                "prompt tokens evaluated",
            ],
            "rows": [
                [
                    key.replace("_", " "),
                    c["latency_ms"]["n"],
                    c["latency_ms"]["p50"],
                    c["latency_ms"]["p95"],
                    c["ttft_ms"]["p50"],
                    c["ttft_ms"]["p95"],
                    c["prompt_eval_tokens_mean"],
                ]
                for key, c in com.items()
            ],
            "plot": "latency",
        }
    )
    load = r["load_test"]
    out.append(
        {
            "title": "Server load test (POST /v1/commentary on a real `suksham serve`)",
            "intro": [f"Could not run: {load['error']}"]
            if load.get("error")
            else ["Throughput counts 200 responses only; 503 is the bounded queue refusing work, by design."],
            "headers": ["concurrency", "requests", "ok", "503", "errors", "req/s", "vs serial", "p50 ms", "p95 ms"],
            "rows": [
                [
                    lv["concurrency"],
                    lv["requests"],
                    lv["ok"],
                    lv["busy_503"],
                    lv["errors"],
                    lv["throughput_rps"],
                    lv.get("throughput_vs_serial"),
                    lv["latency_ms"]["p50"],
                    lv["latency_ms"]["p95"],
                ]
                for lv in load.get("levels", [])
            ],
            "plot": "load",
        }
    )
    mem = r["memory"]
    out.append(
        {
            "title": "Memory over time",
            "intro": [],
            "headers": ["process", "peak RSS MB", "samples"],
            "rows": [[name.replace("_", " "), v["peak_rss_mb"], len(v["series"])] for name, v in mem.items()],
            "plot": "memory",
        }
    )
    p = r["projection"]
    lat = p["commentary_latency_ms"]
    out.append(
        {
            "title": "Raspberry Pi 5: PROJECTION (not a measurement)",
            "intro": [p["label"] + ". " + p["method"] + "."] + p["caveats"],
            "headers": ["quantity", "projected"],
            "rows": [
                ["decode tok/s (range)", f"{p['generation_tps']['low']} - {p['generation_tps']['high']}"],
                [
                    "decode tok/s, roofline (84-91% of 13.2 GB/s)",
                    f"{p['generation_tps_roofline']['low']} - {p['generation_tps_roofline']['high']}",
                ],
                ["decode tok/s, same bandwidth fraction as here", p["generation_tps_same_efficiency"]],
            ]
            + [[f"commentary latency {q} ms", f"{v['low']:.0f} - {v['high']:.0f}"] for q, v in lat.items()]
            + [
                ["inputs", _fmt(p["inputs"])],
                [
                    "sanity: Qwen2.5-0.5B Q4_K_M roofline vs published 25.8 tok/s",
                    "{low} - {high}".format(**p["sanity_check"]["roofline_predicts_tps"]),
                ],
            ],
        }
    )
    return out


def plots(r: dict) -> dict[str, bytes]:
    """PNG bytes per plot name (matplotlib, headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def png(fig) -> bytes:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        return buf.getvalue()

    images = {}
    fig, ax = plt.subplots(figsize=(6, 3.2))
    threads = [s["threads"] for s in r["thread_sweep"]]
    ax.plot(threads, [s["prompt_tps"] for s in r["thread_sweep"]], "o-", label="prompt (pp64)")
    ax.plot(threads, [s["generation_tps"] for s in r["thread_sweep"]], "s-", label="generation (tg16)")
    ax.set(xlabel="threads", ylabel="tokens/s", title="Thread sweep", xticks=threads)
    ax.set_ylim(bottom=0)
    ax.legend()
    images["thread_sweep"] = png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for key, c in r["commentary"].items():
        values = sorted(row["latency_ms"] for row in c["rows"])
        ax.plot(
            values,
            [(i + 1) / len(values) for i in range(len(values))],
            drawstyle="steps-post",
            label=key.replace("_", " "),
        )
    ax.set(xlabel="latency ms", ylabel="fraction of events", title="Commentary latency (CDF)")
    ax.legend()
    images["latency"] = png(fig)

    levels = r["load_test"].get("levels", [])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if levels:
        conc = [lv["concurrency"] for lv in levels]
        ax.plot(conc, [lv["throughput_rps"] or 0 for lv in levels], "o-", color="tab:blue")
        ax.set(xlabel="concurrency", ylabel="requests/s", title="Server load test", xticks=conc)
        ax2 = ax.twinx()
        ax2.plot(conc, [lv["latency_ms"]["p95"] or 0 for lv in levels], "s--", color="tab:red")
        ax2.set_ylabel("p95 ms", color="tab:red")
        ax.set_ylim(bottom=0)
        ax2.set_ylim(bottom=0)
    else:
        ax.text(0.5, 0.5, "load test did not run", ha="center")
    images["load"] = png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, v in r["memory"].items():
        if v["series"]:
            ax.plot([t for t, _ in v["series"]], [mb for _, mb in v["series"]], label=name.replace("_", " "))
    for t, label in r["memory"]["bench_process"].get("phases", []):
        ax.axvline(t, color="grey", lw=0.5)
        ax.text(t, ax.get_ylim()[1], label, rotation=90, va="top", fontsize=7)
    ax.set(xlabel="seconds since the bench started", ylabel="RSS MB", title="Memory over time")
    ax.legend()
    images["memory"] = png(fig)
    return images


def to_markdown(r: dict, secs: list[dict]) -> str:
    lines = [
        f"# Benchmark report: {r['gguf']}",
        "",
        f"Bundle `{r['bundle']}`, model {r['model_mb']} MB, quick={r['quick']}, {r['seconds']} s.",
        "",
    ]
    for s in secs:
        lines += [f"## {s['title']}", ""]
        for t in s["intro"]:  # multi-line text (a server log) goes in a code block
            lines += ["```", t, "```", ""] if "\n" in t else [t, ""] if t else []
        if s.get("rows"):
            lines.append("| " + " | ".join(s["headers"]) + " |")
            lines.append("|" + "---|" * len(s["headers"]))
            lines += ["| " + " | ".join(_fmt(c).replace("|", "/") for c in row) + " |" for row in s["rows"]]
            lines.append("")
        if s.get("plot"):
            lines += [f"![{s['title']}]({s['plot']}.png)", ""]
    return "\n".join(lines)


def to_html(r: dict, secs: list[dict], images: dict[str, bytes]) -> str:
    esc = html.escape
    body = [
        f"<h1>Benchmark report: {esc(r['gguf'])}</h1>",
        f"<p>Bundle <code>{esc(r['bundle'])}</code>, model {r['model_mb']} MB, "
        f"quick={r['quick']}, {r['seconds']} s.</p>",
    ]
    for s in secs:
        cls = ' class="projection"' if "PROJECTION" in s["title"] else ""
        body.append(f"<section{cls}><h2>{esc(s['title'])}</h2>")
        body += [f"<pre>{esc(t)}</pre>" if "\n" in t else f"<p>{esc(t)}</p>" for t in s["intro"] if t]
        if s.get("rows"):
            body.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in s["headers"]) + "</tr>")
            body += ["<tr>" + "".join(f"<td>{esc(_fmt(c))}</td>" for c in row) + "</tr>" for row in s["rows"]]
            body.append("</table>")
        if s.get("plot") in images:
            data = base64.b64encode(images[s["plot"]]).decode()
            body.append(f'<img alt="{esc(s["title"])}" src="data:image/png;base64,{data}">')
        body.append("</section>")
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
        ".projection{background:#fff6dd;border:2px dashed #c90;padding:0 1em}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>suksham bench</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_reports(report: dict, out) -> dict:
    """Write report.json, report.md, report.html and the PNG plots into `out`; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    secs = sections(report)
    images = plots(report)
    for name, data in images.items():
        atomic_write_bytes(out / f"{name}.png", data)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    atomic_write_json(paths["json"], json.loads(json.dumps(report, default=str)))
    atomic_write_text(paths["md"], to_markdown(report, secs))
    atomic_write_text(paths["html"], to_html(report, secs, images))
    return paths

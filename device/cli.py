"""The `suksham` command line: the only click module of the device, a thin dispatcher.

Every option also reads an environment variable (`auto_envvar_prefix="SUKSHAM"`), so
`suksham serve --port` reads `SUKSHAM_SERVE_PORT`. Library code raises its own errors
(`UserError`, `BundleError`, `EngineError`, `EventError`, `ServeError`); this module turns them
into messages and exit codes: 0 success, 1 failure (or over budget), 2 could not run.
The builder's commands (dataset, build, eval, demo) live in `builder.commands` and are loaded
only when one of them runs, so `suksham serve` never imports the builder, and the device never
imports torch.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from pathlib import Path

import click

from device import __version__
from device.settings import DEFAULT_PORT

existing_dir = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)
existing_file = click.Path(exists=True, file_okay=True, dir_okay=False, path_type=Path)
out_dir = click.Path(file_okay=False, dir_okay=True, path_type=Path)

# name -> one-line help, so `suksham --help` lists them without importing the builder
BUILDER_COMMANDS = {
    "dataset": "Write the Benaud commentary dataset, or --check a JSONL file.",
    "build": "Data -> train -> merge -> export -> eval; ends with a sealed bundle.",
    "eval": "Quality report of a bundle, beside the base model for comparison.",
    "demo": "Build, serve and ask the Benaud bundle about a few deliveries.",
}


class Suksham(click.Group):
    """The device's commands, plus the builder's, imported on first use."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(BUILDER_COMMANDS))

    def get_command(self, ctx, name):
        if name in BUILDER_COMMANDS and name not in self.commands:
            return importlib.import_module("builder.commands").COMMANDS[name]
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(formatter.width - 6 - len(name))))
            else:
                rows.append((name, BUILDER_COMMANDS[name]))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def user_errors():
    """Domain errors raised by library code, each a message for the user."""
    from device.commentary.events import EventError
    from device.errors import UserError
    from device.runtime.bundle import BundleError
    from device.runtime.engine import EngineError

    return (UserError, BundleError, EngineError, EventError, ValueError, OSError)


@click.group(cls=Suksham, context_settings={"auto_envvar_prefix": "SUKSHAM", "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="suksham")
def main():
    """Suksham-Benaud: terse cricket commentary in the manner of Richie Benaud, on a Pi 5's CPU."""


@main.command()
@click.option("--bundle", type=existing_dir, default=None, help="Sealed bundle folder to serve (verified first).")
@click.option("--model", type=existing_file, default=None, help="Serve any GGUF instead of a bundle (unverified).")
@click.option(
    "--quant",
    default=None,
    help="Serve this one of the bundle's quants (manifest `quants`, e.g. Q8_0); default: the budget's, else the first.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port (0 picks a free one)."
)
@click.option(
    "--api-key-file", type=existing_file, default=None, help="File holding the API key (Bearer or X-Api-Key)."
)
@click.option(
    "--insecure-no-key", is_flag=True, default=False, help="Allow listening beyond loopback without an API key."
)
@click.option("--budget", type=existing_file, default=None, help="Budget TOML; its RAM preflight runs before loading.")
@click.option(
    "--threads", type=click.IntRange(1, 256), default=None, help="llama.cpp threads (default: budget's, else cores)."
)
@click.option("--n-ctx", type=click.IntRange(64, 131072), default=None, help="Context size (default: the bundle's).")
@click.option(
    "--queue-size", type=click.IntRange(1, 1024), default=None, help="Requests allowed to wait; more get 503."
)
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=None, help="Per-request timeout, seconds.")
@click.option(
    "--state-dir",
    type=out_dir,
    default=None,
    help="Folder for the match feed's files (default: $STATE_DIRECTORY, else ~/.local/state/suksham).",
)
@click.option(
    "--max-matches", type=click.IntRange(1, 1024), default=None, help="Matches held in memory.  [default: 16]"
)
@click.option(
    "--keep-days", type=click.FloatRange(0, 3650), default=None, help="Days a match file is kept.  [default: 30]"
)
@click.option("--public-live", is_flag=True, default=False, help="The live page's read-only match routes need no key.")
@click.option(
    "--read-key-file", type=existing_file, default=None, help="File holding a key that opens only the live routes."
)
@click.option(
    "--ollama-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Also listen here, for Ollama's clients (their default is 11434); off by default.",
)
def serve(
    bundle,
    model,
    quant,
    host,
    port,
    api_key_file,
    insecure_no_key,
    budget,
    threads,
    n_ctx,
    queue_size,
    timeout,
    state_dir,
    max_matches,
    keep_days,
    public_live,
    read_key_file,
    ollama_port,
):
    """Serve commentary over LAN HTTP (default port 8222), and the live match feed."""
    from device.runtime.http.serve import ServeError
    from device.runtime.http.serve import serve as run_server
    from device.runtime.service import resolve_model

    try:
        quant = _serve_quant(bundle, quant, budget)
        resolved = resolve_model(bundle, model, n_ctx, quant=quant)
        if bundle is not None and resolved[2] is not None and len(resolved[2].quants) > 1:
            click.echo(f"serving the bundle's {resolved[2].quant} ({resolved[0].name})", err=True)
        if budget is not None:  # the RAM preflight: never load a model that cannot fit
            threads = _preflight(budget, resolved, threads)
        run_server(
            bundle=bundle,
            model=model,
            host=host,
            port=port,
            api_key_file=api_key_file,
            insecure_no_key=insecure_no_key,
            threads=threads,
            n_ctx=resolved[1],
            queue_size=queue_size,
            request_timeout=timeout,
            resolved=resolved,
            state_dir=state_dir,
            max_matches=max_matches,
            keep_days=keep_days,
            public_live=public_live,
            read_key_file=read_key_file,
            ollama_port=ollama_port,
        )
    except (ServeError, *user_errors()) as exc:
        raise click.ClickException(str(exc)) from exc


def _serve_quant(bundle: Path | None, quant: str | None, budget: Path | None) -> str | None:
    """--quant, else the budget's `quant` when the bundle ships it (with a note saying which), else None."""
    from device.measure.budget import load_budget
    from device.runtime.bundle import choose_quant

    if bundle is None or (quant is None and budget is None):
        return quant
    preferred = load_budget(budget).quant if budget is not None and quant is None else None
    chosen, note = choose_quant(bundle, quant, preferred, source=f"the budget {Path(budget).name}" if budget else "")
    if note:
        click.echo(note, err=True)
    return chosen


def _preflight(budget: Path, resolved, threads: int | None) -> int | None:
    from device.measure.budget import load_budget, preflight
    from device.runtime.engine import usable_cores

    path, n_ctx = resolved[0], resolved[1]
    spec = load_budget(budget)
    result = preflight(path, n_ctx, spec)
    if not result.ok:
        raise click.ClickException(result.message)
    click.echo(f"preflight: {result.message}", err=True)
    return threads if threads is not None else min(spec.threads, usable_cores())  # a Pi 5 budget on a smaller box


@main.command()
@click.option("--bundle", type=existing_dir, required=True, help="Bundle folder.")
@click.option(
    "--budget", type=existing_file, required=True, help="Budget TOML (device/budgets/pi5-4gb.toml, pi5-8gb.toml)."
)
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the result as JSON.")
@click.option("--quant", default=None, help="Check this one of the bundle's quants (default: the budget's quant).")
def check(bundle, budget, as_json, quant):
    """Check a bundle against a budget: exit 0 pass, 1 over budget, 2 could not run."""
    from device.measure.budget import format_report, run_check

    log = None if as_json else (lambda msg: click.echo(f"  {msg}", err=True))
    report = run_check(bundle=bundle, budget=budget, log=log, quant=quant)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(format_report(report), err=bool(report.get("error")))
    raise SystemExit(report["exit_code"])


@main.command()
@click.option("--bundle", type=existing_dir, required=True, help="Bundle folder.")
@click.option("--out", type=out_dir, required=True, help="Folder for report.json, report.md and report.html.")
@click.option("--quick", is_flag=True, default=False, help="Fewer repetitions (for tests and a first look).")
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Largest thread count in the sweep (default: all usable cores).",
)
def bench(bundle, out, quick, threads):
    """Benchmark report: thread sweep, pp/tg, commentary latency, server load, memory."""
    from device.measure.bench import run_bench

    try:
        run_bench(bundle=bundle, out=out, quick=quick, threads=threads)
    except user_errors() as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.argument("match_file", type=existing_file)
@click.option("--url", default=None, help="A running server, e.g. http://127.0.0.1:8222.")
@click.option("--bundle", type=existing_dir, default=None, help="Serve this bundle in the process instead of --url.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=None,
    help="Real pace divided by X; 0 feeds as fast as the server answers.  [default: 1]",
)
@click.option(
    "--from",
    "start",
    default=None,
    metavar="INNINGS:OVER",
    help="Comment from here on; earlier balls only set the state.",
)
@click.option("--out", type=out_dir, default=None, help="Folder for transcript.jsonl, transcript.md and summary.json.")
@click.option("--api-key-file", type=existing_file, default=None, help="File holding the server's API key.")
@click.option("--match-id", default=None, help="The match id to register (default: made from the teams and date).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="llama.cpp threads for --bundle.")
def replay(match_file, url, bundle, speed, start, out, api_key_file, match_id, threads):
    """Feed a whole Cricsheet MATCH_FILE ball by ball; print the commentary with over.ball and score."""
    import sys
    import tempfile

    from device.runtime.http.serve import ServeError, bundle_settings, in_process, read_api_key
    from device.runtime.replay import ReplayError, format_line, parse_from
    from device.runtime.replay import replay as run_replay

    if (url is None) == (bundle is None):
        raise click.UsageError("give one server: --url URL or --bundle DIR")
    try:
        begin = parse_from(start) if start else None
    except ReplayError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from exc
    live_bar = sys.stderr.isatty()
    with click.progressbar(length=1, label="balls", file=sys.stderr) as bar:

        def progress(line, done, total):
            bar.length = total
            if line["commented"] and line["text"]:
                if live_bar:
                    click.echo("\r\033[K", nl=False, err=True)  # the bar's line, cleared for the commentary
                click.echo(format_line(line))
            bar.update(1)

        try:
            with contextlib.ExitStack() as stack:
                if bundle is not None:
                    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="suksham-replay-"))
                    click.echo(f"loading {bundle} in process...", err=True)
                    url = stack.enter_context(in_process(bundle_settings(bundle, tmp, threads=threads)))
                summary = run_replay(
                    match_file,
                    url,
                    speed=1.0 if speed is None else speed,
                    start=begin,
                    out_dir=out,
                    api_key=read_api_key(api_key_file),
                    match_id=match_id,
                    progress=progress,
                )
        except (ReplayError, ServeError, *user_errors()) as exc:
            raise click.ClickException(str(exc)) from exc
    lat = summary["latency_ms"]
    innings = ", ".join(f"{i['team']} {i['runs']}/{i['wickets']}" for i in summary["innings"])
    rows = [
        ("balls", f"{summary['balls']} ({summary['commented']} commented)"),
        ("silences", summary["silences"]),
        ("distinct lines", summary["distinct_lines"]),
        ("latency p50/p95", f"{lat['p50']} / {lat['p95']} ms"),
        ("milestones", ", ".join(f"{m['kind']} {m['player']}" for m in summary["milestones"]) or "-"),
        ("innings", innings or "-"),
        ("result", json.dumps(summary["result"])),
        ("match_id", summary["match_id"]),
    ]
    if out is not None:
        rows.append(("written", f"{out}/transcript.jsonl, transcript.md, summary.json"))
    for name, value in rows:
        click.echo(f"{name:>16}  {value}", err=True)


@main.command()
@click.argument("event")
@click.option("--bundle", type=existing_dir, default=None, help="Bundle folder (default: the embedded base GGUF).")
@click.option("--model", type=existing_file, default=None, help="Any GGUF instead of a bundle (unverified).")
@click.option("--quant", default=None, help="One of the bundle's quants (manifest `quants`, e.g. Q8_0).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="llama.cpp threads.")
def comment(event, bundle, model, quant, threads):
    """One line of commentary on EVENT, printed to the terminal (empty line = silence)."""
    from device.runtime.service import comment_once

    if not event.strip():
        raise click.BadParameter("the event is empty", param_hint="EVENT")
    try:
        click.echo(
            comment_once(
                event=event,
                bundle=bundle,
                model=model,
                quant=quant,
                threads=threads,
                warn=lambda msg: click.echo(msg, err=True),
            )
        )
    except user_errors() as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    main()

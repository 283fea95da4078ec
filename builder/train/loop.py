"""Fine-tune a LoRA adapter on the Benaud dataset: QLoRA (bitsandbytes NF4) by default, plain LoRA by config.

Reads train.jsonl/val.jsonl (chat format) from a data folder and a plain 16-bit base folder (from
builder.train.base); writes into its workdir:
  checkpoints/step-N/   adapter + optimizer + scheduler + RNG state, for --resume
  best/                 adapter with the lowest validation loss so far
  adapter/              the adapter used downstream (best, or last if never validated)
  train_log.jsonl       step, loss, val_loss, lr, grad_norm, tokens_per_s, peak_mem_mb
  loss_curve.png        train and validation loss, best step marked
  train_result.json     which adapter was used and why, throughput, hyperparameters

One process (CPU or one GPU), as `suksham build --stage train` runs it, or several GPUs:
    accelerate launch --num_processes 2 -m builder.train --config CFG --data D --base B --workdir W
    torchrun --standalone --nproc_per_node 2 -m builder.train --config CFG --data D --base B --workdir W
Each rank takes every world_size-th micro-batch; gradients are averaged by DDP; rank 0 writes.
Inside a build, point it at the build folder (D=OUT.build/data, B=OUT.build/base,
W=OUT.build/train) after `--stage base`; `suksham build ... --stage train` then finds the finished
result (same config, data and base) and the build goes on with merge.
Resuming replays nothing: the data order is a function of (seed, step), so a resumed run takes
the same batches, with the same RNG state, as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import resource
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from builder.config import BuildConfig, TrainConfig, deciding
from builder.train.packing import Example, check_masks, collate, label_tokens, pack, read_jsonl, tokenize_example
from device.util import atomic_write_json, atomic_write_text

RESULT = "train_result.json"
LOG = "train_log.jsonl"


class TrainError(RuntimeError):
    """Training cannot start or continue; the message says what to do."""


@dataclass
class TrainResult:
    adapter_dir: str
    used: str  # "best" (lowest validation loss) or "last"
    best_step: int | None
    best_val_loss: float | None
    last_step: int
    stopped_early: bool
    method: str
    linear4bit_layers: int
    train_tokens: int
    wall_seconds: float  # inside optimizer steps (loading, validation and checkpoints excluded)
    tokens_per_s: float  # train_tokens / wall_seconds
    tokens_per_cpu_s: float  # per CPU-second of this process: steadier on a shared machine
    peak_mem_mb: float
    log_path: str
    plot_path: str | None
    fingerprint: str
    hyperparameters: dict

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- model


def resolve_device(tc: TrainConfig) -> str:
    import torch

    if tc.device == "cuda" and not torch.cuda.is_available():
        raise TrainError("train.device is cuda but no CUDA GPU is visible. Fix: set train.device: auto or cpu.")
    if tc.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return tc.device


def resolve_dtype(tc: TrainConfig, device: str):
    """`compute_dtype: auto` is bfloat16 on CUDA, and on a CPU whichever of bfloat16 and float32 multiplies faster."""
    import torch

    if tc.compute_dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16
        return torch.bfloat16 if cpu_bf16_is_faster() else torch.float32
    return getattr(torch, tc.compute_dtype)


@functools.cache
def cpu_bf16_is_faster() -> bool:
    """Whether a bfloat16 matmul beats a float32 one on this CPU, timed on a product the size of a training step's.

    A CPU with bf16 units (AMX, AVX512-BF16) runs bfloat16 faster. On an AVX2-only CPU (an AMD EPYC of this
    machine class) a [512, 1536] x [1536, 576] bfloat16 matmul took 458 ms, float32 7 ms, and a QLoRA step
    121 s in bfloat16, 7.5 s in float32."""
    import torch

    def best(dtype) -> float:
        a = torch.full((256, 1536), 0.5, dtype=dtype)  # constants: the values do not change the time
        b = torch.full((1536, 576), 0.25, dtype=dtype)
        torch.matmul(a, b)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            torch.matmul(a, b)
            times.append(time.perf_counter() - t)
        return min(times)

    return best(torch.bfloat16) < best(torch.float32)


CPU_COMPUTE_DTYPES = ("float32", "bfloat16")


def rank0_compute_dtype(mine: str) -> str:
    """Rank 0's CPU compute dtype, given this rank's own choice (one of CPU_COMPUTE_DTYPES), over the process
    group: `auto` times a matmul on each rank's CPU, and ranks on different CPUs could choose differently."""
    import torch
    import torch.distributed as dist

    choice = torch.tensor([CPU_COMPUTE_DTYPES.index(mine)])
    dist.broadcast(choice, src=0)
    return CPU_COMPUTE_DTYPES[int(choice.item())]


def count_linear4bit(model) -> int:
    """Number of bitsandbytes Linear4bit layers in `model` (the QLoRA base holds them, LoRA none)."""
    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return 0
    return sum(isinstance(m, Linear4bit) for m in model.modules())


def load_for_training(tc: TrainConfig, base_dir: str | Path, device: str):
    """The base with fresh LoRA adapters, quantized to NF4 for qlora; returns the peft model."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    dtype = resolve_dtype(tc, device)
    kwargs = {"dtype": dtype, "attn_implementation": "sdpa", "device_map": {"": device}}
    if tc.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=tc.bnb_quant_type,
            bnb_4bit_use_double_quant=tc.bnb_double_quant,
            bnb_4bit_compute_dtype=dtype,
        )
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), **kwargs)
    model.config.use_cache = False
    n4 = count_linear4bit(model)
    if tc.method == "qlora":
        if n4 == 0:
            raise TrainError(
                "train.method is qlora but the base holds no bitsandbytes Linear4bit layers. "
                "Fix: install bitsandbytes>=0.45 (it has a CPU backend), or set train.method: lora."
            )
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=tc.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif tc.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in tc.target_modules if m not in present]
    if missing:
        raise TrainError(
            f"train.target_modules {missing} are not layers of this base. Fix: choose from "
            f"{sorted(p for p in present if p.endswith('proj'))}."
        )
    lora = LoraConfig(
        r=tc.lora_r,
        lora_alpha=tc.lora_alpha,
        lora_dropout=tc.lora_dropout,
        target_modules=list(tc.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


# ---------------------------------------------------------------- data


def load_split(tokenizer, data_dir: Path, name: str, required: bool) -> tuple[list[Example], list]:
    path = data_dir / f"{name}.jsonl"
    if not path.is_file():
        if required:
            raise TrainError(
                f"{path} is missing. Fix: run `suksham build --stage data` or `suksham dataset --out {data_dir}`."
            )
        return [], []
    messages = read_jsonl(path)
    return [tokenize_example(tokenizer, m) for m in messages], messages


def batch_for(micro: int, seqs: list, batch_size: int, seed: int) -> list:
    """The `micro`-th micro-batch of an endless, per-epoch reshuffled stream (a function of seed and index)."""
    import random

    per_epoch = max(1, len(seqs) // batch_size)
    epoch, k = divmod(micro, per_epoch)
    order = list(range(len(seqs)))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [seqs[i] for i in order[k * batch_size : (k + 1) * batch_size]]


def lr_factor(step: int, tc: TrainConfig) -> float:
    """Linear warmup, then cosine from 1 down to min_lr_ratio at max_steps."""
    if step < tc.warmup_steps:
        return (step + 1) / (tc.warmup_steps + 1)
    progress = (step - tc.warmup_steps) / max(1, tc.max_steps - tc.warmup_steps)
    return tc.min_lr_ratio + (1 - tc.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def fingerprint(cfg: BuildConfig, data_dir: Path, base_dir: Path) -> str:
    """Hash of what decides the result: train config, data files and base, to refuse a stale resume.
    The thread count is left out: a run started on 2 threads may go on with 1 when the CPU gets busy."""
    h = hashlib.sha256(json.dumps(deciding(cfg.train), sort_keys=True).encode())
    for name in ("train.jsonl", "val.jsonl"):
        p = data_dir / name
        h.update(p.read_bytes() if p.is_file() else b"-")
    info = base_dir / "base_info.json"
    h.update(info.read_bytes() if info.is_file() else str(base_dir.resolve()).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- loop helpers


def _loss_sum(model, batch, device):
    import torch.nn.functional as F

    batch = {k: v.to(device) for k, v in batch.items()}
    targets = batch["labels"][:, 1:]
    # Only positions that predict a reply token need logits: the vocabulary projection is ~20% of a
    # small model's compute, and replies are ~10% of the tokens.
    keep = (targets != -100).any(0).nonzero().flatten()
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        logits_to_keep=keep,
    ).logits
    return F.cross_entropy(logits.flatten(0, 1).float(), targets[:, keep].flatten(), ignore_index=-100, reduction="sum")


def validation_loss(model, val_seqs, tc: TrainConfig, pad_id: int, device: str) -> float | None:
    import torch

    if not val_seqs:
        return None
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(val_seqs), tc.batch_size):
            chunk = val_seqs[i : i + tc.batch_size]
            total += _loss_sum(model, collate(chunk, pad_id), device).item()
            n += label_tokens(chunk)
    model.train()
    return total / max(n, 1)


def peak_mem_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rng_state():
    import random

    import numpy as np
    import torch

    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state) -> None:
    import random

    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_adapter(model, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)


def save_checkpoint(workdir: Path, step: int, model, optimizer, scheduler, state: dict, keep: int) -> Path:
    import torch

    ckdir = workdir / "checkpoints"
    dest = ckdir / f"step-{step:06d}"
    tmp = ckdir / f".step-{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(str(tmp / "adapter"))
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state()},
        tmp / "trainer_state.pt",
    )
    atomic_write_json(tmp / "state.json", {**state, "step": step})
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)  # a checkpoint exists only once complete
    for old in sorted(ckdir.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return dest


def latest_checkpoint(workdir: Path) -> Path | None:
    found = sorted((workdir / "checkpoints").glob("step-*"))
    return found[-1] if found else None


def plot_losses(log_path: Path, out: Path, best_step: int | None) -> Path | None:
    """Loss-curve PNG from the training log: train loss per step, validation loss, best step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label="train loss", lw=1)
    val = [r for r in rows if r.get("val_loss") is not None]
    if val:
        ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", label="validation loss")
    if best_step is not None:
        ax.axvline(best_step, color="grey", ls="--", lw=1, label=f"best (step {best_step})")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on reply tokens")
    ax.set_title("Benaud fine-tune")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------- train


def train(
    cfg: BuildConfig, data_dir, base_dir, workdir, resume: bool = True, on_step: Callable[[int], None] | None = None
) -> TrainResult:
    """Train an adapter; return where it is and how the run went.

    resume=True continues from the latest checkpoint in workdir (or returns a finished result made
    with the same config, data and base); resume=False starts over. `on_step(step)` is called after
    each optimizer step (progress hooks; tests use it to interrupt a run)."""
    import torch
    from tqdm import tqdm
    from transformers import AutoTokenizer

    tc = cfg.train
    data_dir, base_dir, workdir = Path(data_dir), Path(base_dir), Path(workdir)
    world, rank, local_rank = (
        int(os.environ.get(k, d)) for k, d in (("WORLD_SIZE", 1), ("RANK", 0), ("LOCAL_RANK", 0))
    )
    main_rank = rank == 0
    fp = fingerprint(cfg, data_dir, base_dir)
    done = workdir / RESULT
    if resume and done.is_file():
        old = json.loads(done.read_text())
        if old.get("fingerprint") == fp:
            return TrainResult(**old)
    if not resume and main_rank:
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)

    if tc.threads:
        torch.set_num_threads(tc.threads)
    device = resolve_device(tc)
    if world > 1:
        import torch.distributed as dist

        if device == "cuda":
            device = f"cuda:{local_rank}"
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    torch.manual_seed(tc.seed)

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_ex, train_msgs = load_split(tokenizer, data_dir, "train", required=True)
    val_ex, val_msgs = load_split(tokenizer, data_dir, "val", required=False)
    check_masks(tokenizer, train_ex, train_msgs)  # the loss must cover replies + <|im_end|> only
    check_masks(tokenizer, val_ex, val_msgs)
    train_seqs = pack(train_ex, tc.seq_len, tc.pack, seed=tc.seed)
    val_seqs = pack(val_ex[: tc.max_val_examples], tc.seq_len, tc.pack, seed=0)

    dtype_name = str(resolve_dtype(tc, device)).removeprefix("torch.")  # what `auto` chose, for the log and result
    if world > 1 and tc.compute_dtype == "auto" and not device.startswith("cuda"):
        dtype_name = rank0_compute_dtype(dtype_name)  # each rank timed its own CPU: they must train alike
    if main_rank and tc.compute_dtype == "auto":
        print(f"train: compute_dtype auto -> {dtype_name}", flush=True)
    model = load_for_training(replace(tc, compute_dtype=dtype_name), base_dir, device)
    n4 = count_linear4bit(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=tc.learning_rate, weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, tc))

    state = {
        "best_val_loss": None,
        "best_step": None,
        "bad_evals": 0,
        "stopped_early": False,
        "train_tokens": 0,
        "train_seconds": 0.0,
        "cpu_seconds": 0.0,
        "fingerprint": fp,
    }
    log_path = workdir / LOG
    ckpt = latest_checkpoint(workdir) if resume else None
    if ckpt is not None and json.loads((ckpt / "state.json").read_text()).get("fingerprint") != fp:
        # Those checkpoints belong to a run with another config, dataset or base: resuming continues
        # a run and never mixes two, so they are set aside (not deleted) and this run starts at step 0.
        stale = workdir / "checkpoints.stale"
        if main_rank:
            shutil.rmtree(stale, ignore_errors=True)
            (workdir / "checkpoints").rename(stale)
            print(
                f"train: checkpoints from another config, dataset or base moved to {stale}; starting over", flush=True
            )
        ckpt = None
    if ckpt is not None:
        saved = json.loads((ckpt / "state.json").read_text())
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter" / "adapter_model.safetensors")))
        trainer_state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
        optimizer.load_state_dict(trainer_state["optimizer"])
        scheduler.load_state_dict(trainer_state["scheduler"])
        _set_rng_state(trainer_state["rng"])
        state.update(saved)
        # keep the log consistent with the checkpoint: drop lines written after it
        if main_rank and log_path.is_file():
            kept = [
                x for x in log_path.read_text().splitlines() if x.strip() and json.loads(x)["step"] <= saved["step"]
            ]
            atomic_write_text(log_path, "".join(x + "\n" for x in kept))
    elif main_rank:
        log_path.unlink(missing_ok=True)
    start = state.pop("step", 0)

    ddp = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model, device_ids=[local_rank] if device.startswith("cuda") else None)
    model.train()
    bar = tqdm(total=tc.max_steps, initial=start, desc=f"train {tc.method}", unit="step", disable=not main_rank)
    step = start
    while step < tc.max_steps and not state["stopped_early"]:
        t0, c0 = time.perf_counter(), time.process_time()
        micros = [
            batch_for((step * tc.grad_accum + a) * world + rank, train_seqs, tc.batch_size, tc.seed)
            for a in range(tc.grad_accum)
        ]
        n_labels = torch.tensor(float(sum(label_tokens(m) for m in micros)), device=device)
        if world > 1:
            torch.distributed.all_reduce(n_labels)
        loss_total, tokens = 0.0, 0
        for a, micro in enumerate(micros):
            sync = a == len(micros) - 1 or world == 1
            ctx = ddp.no_sync() if not sync else nullcontext()
            with ctx:
                loss = _loss_sum(ddp, collate(micro, pad_id), device) * world / n_labels
                loss.backward()
            loss_total += loss.item() / world
            tokens += sum(len(e.ids) for s in micro for e in s)
        if world > 1:  # each rank holds its share of the step's loss: sum them for the log
            shared = torch.tensor(loss_total, device=device)
            torch.distributed.all_reduce(shared)
            loss_total = shared.item()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, tc.max_grad_norm if tc.max_grad_norm > 0 else float("inf"))
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        state["train_tokens"] += tokens * world
        state["train_seconds"] += dt
        state["cpu_seconds"] += cpu
        row = {
            "step": step,
            "loss": round(loss_total, 5),
            "val_loss": None,
            "lr": lr,
            "grad_norm": round(float(grad_norm), 5),
            "tokens_per_s": round(tokens * world / dt, 1),
            # tokens per CPU-second of this process: steadier than tokens/s on a shared machine
            "tokens_per_cpu_s": round(tokens / max(cpu, 1e-9), 1),
            "peak_mem_mb": round(peak_mem_mb(device), 1),
        }
        if step % tc.eval_every == 0 or step == tc.max_steps:
            val = validation_loss(model, val_seqs, tc, pad_id, device)
            row["val_loss"] = None if val is None else round(val, 5)
            if val is not None:
                best = state["best_val_loss"]
                if best is None or val < best - tc.early_stopping_min_delta:
                    state.update(best_val_loss=val, best_step=step, bad_evals=0)
                    if main_rank:
                        _save_adapter(model, workdir / "best")
                else:
                    state["bad_evals"] += 1
                    if tc.early_stopping_patience and state["bad_evals"] >= tc.early_stopping_patience:
                        state["stopped_early"] = True
        if main_rank:
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            if step % tc.save_every == 0 or step == tc.max_steps or state["stopped_early"]:
                save_checkpoint(workdir, step, model, optimizer, scheduler, state, tc.keep_checkpoints)
        bar.update(1)
        bar.set_postfix(
            loss=f"{loss_total:.3f}",
            tok_s=f"{row['tokens_per_s']:.0f}",
            val="-" if state["best_val_loss"] is None else f"{state['best_val_loss']:.3f}",
        )
        if on_step is not None:
            on_step(step)
    bar.close()

    result = None
    if main_rank:
        used = "best" if state["best_step"] is not None else "last"
        adapter = workdir / "adapter"
        if used == "best":
            shutil.rmtree(adapter, ignore_errors=True)
            shutil.copytree(workdir / "best", adapter)
        else:
            _save_adapter(model, adapter)
        plot = plot_losses(log_path, workdir / "loss_curve.png", state["best_step"])
        hp = {k: v for k, v in asdict(tc).items()}
        hp.update(
            world_size=world,
            device=device,
            resolved_compute_dtype=dtype_name,
            train_examples=len(train_ex),
            val_examples=len(val_ex[: tc.max_val_examples]),
            packed_sequences=len(train_seqs),
        )
        result = TrainResult(
            adapter_dir=str(adapter),
            used=used,
            best_step=state["best_step"],
            best_val_loss=state["best_val_loss"],
            last_step=step,
            stopped_early=state["stopped_early"],
            method=tc.method,
            linear4bit_layers=n4,
            train_tokens=state["train_tokens"],
            wall_seconds=round(state["train_seconds"], 1),
            tokens_per_s=round(state["train_tokens"] / max(state["train_seconds"], 1e-9), 1),
            tokens_per_cpu_s=round(state["train_tokens"] / world / max(state["cpu_seconds"], 1e-9), 1),
            peak_mem_mb=round(peak_mem_mb(device), 1),
            log_path=str(log_path),
            plot_path=str(plot) if plot else None,
            fingerprint=fp,
            hyperparameters=hp,
        )
        atomic_write_json(done, result.to_dict())
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return result


def main(argv=None) -> None:
    from builder.config import load_config

    ap = argparse.ArgumentParser(prog="python -m builder.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="build config YAML")
    ap.add_argument("--data", required=True, help="folder with train.jsonl and val.jsonl")
    ap.add_argument("--base", required=True, help="plain 16-bit base folder (builder.train.base)")
    ap.add_argument("--workdir", required=True, help="output folder (checkpoints, adapter, log)")
    ap.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    args = ap.parse_args(argv)
    result = train(load_config(args.config), args.data, args.base, args.workdir, resume=not args.no_resume)
    if result is not None:
        print(
            json.dumps(
                {
                    k: result.to_dict()[k]
                    for k in (
                        "adapter_dir",
                        "used",
                        "best_step",
                        "best_val_loss",
                        "last_step",
                        "tokens_per_s",
                        "wall_seconds",
                    )
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

"""DeepSpeed wiring shared by SFT and GRPO: process group, trainable parts, optimizer, engine, RNG.

    dist = init_distributed("auto")                 # gloo on CPU, nccl on GPU; works without torchrun
    counts = set_trainable(model, TrainableParts(llm=True, projector=True, vision_tower=False))
    engine = build_engine(model, ds_settings, optim, total_steps=100, micro_batch=1, grad_accum=4, dist=dist)
    engine.backward(loss); engine.step()
    rng = rng_state(); set_rng_state(rng)           # python / numpy / torch (+cuda) generators

The optimizer is always `torch.optim.AdamW` over the trainable parameters (never DeepSpeed's
JIT-compiled CPU Adam, which takes ~70 s to build); ZeRO stage 0-3 comes from the config;
precision is bf16 on GPU and fp32 on CPU unless set. The LR schedule (linear warm-up, then
constant / linear / cosine decay to `min_lr_ratio`) is a `LambdaLR` handed to DeepSpeed, so it
is saved and restored with the engine.
"""
from __future__ import annotations

import math
import os
import random
import socket
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as tdist
from torch import nn

PARTS = ("llm", "projector", "vision_tower")


@dataclass
class DistInfo:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(device: str = "auto") -> DistInfo:
    """Join (or create, for a single process) the default process group and pick the device."""
    import deepspeed  # an optional extra (lvr-workbench[train]): imported by the functions that need it

    if "WORLD_SIZE" not in os.environ:  # a plain `python -m …` run: a group of one
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(_free_port()))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda was asked for but CUDA is not available")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not use_cuda:
        # DeepSpeed's CPU shared-memory all-reduce kernel is JIT-compiled on first use (over a
        # minute on a fresh machine) and only speeds up its inference all-reduce; gloo does the rest.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    if not tdist.is_initialized():
        deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False, verbose=False)
    dev = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    return DistInfo(rank=tdist.get_rank(), world=tdist.get_world_size(), local_rank=local_rank, device=dev,
                    backend=backend)


def resolve_precision(precision: str, dist: DistInfo) -> str:
    """"auto" → bf16 on GPU, fp32 on CPU."""
    if precision == "auto":
        return "bf16" if dist.device.type == "cuda" else "fp32"
    if precision == "bf16" and dist.device.type == "cpu":
        print("[engine] warning: bf16 on CPU is slow and imprecise; fp32 is the CPU default", flush=True)
    return precision


# ---------------------------------------------------------------------------- trainable parts
def model_parts(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Parameters grouped as llm / projector / vision_tower, by the adapter's module names."""
    kind = getattr(model, "model_type", "")
    groups: dict[str, list[tuple[str, nn.Parameter]]] = {p: [] for p in PARTS}
    for name, p in model.named_parameters():
        if kind == "lvr_composite":
            part = ("vision_tower" if name.startswith("vision_tower.") else
                    "projector" if name.startswith("projector.") else "llm")
        elif kind in ("qwen2_5_vl", "qwen3_vl"):      # Qwen3-VL's DeepStack mergers project too
            part = ("projector" if ".visual.merger." in f".{name}" or ".visual.deepstack_merger_list." in f".{name}"
                    else "vision_tower" if ".visual." in f".{name}" else "llm")
        else:
            raise ValueError(f"don't know the parts of a model of type {kind!r} ({type(model).__name__})")
        groups[part].append((name, p))
    return groups


def set_trainable(model: nn.Module, parts: Any) -> dict[str, int]:
    """requires_grad per part (`parts` has bool attributes llm/projector/vision_tower); returns counts."""
    counts = {}
    for part, params in model_parts(model).items():
        flag = bool(getattr(parts, part))
        for _, p in params:
            p.requires_grad_(flag)
        counts[part] = sum(p.numel() for _, p in params) if flag else 0
    counts["trainable"] = sum(counts[p] for p in PARTS)
    counts["total"] = sum(p.numel() for p in model.parameters())
    if counts["trainable"] == 0:
        raise ValueError("nothing to train: set at least one of trainable.llm / trainable.projector / "
                         "trainable.vision_tower to true")
    return counts


# ---------------------------------------------------------------------------- optimizer & schedule
def lr_lambda(step: int, *, total_steps: int, warmup_steps: int, schedule: str, min_lr_ratio: float) -> float:
    """Multiplier of the peak LR after `step` optimizer steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    frac = min(1.0, max(0.0, (step - warmup_steps) / span))
    if schedule == "linear":
        return min_lr_ratio + (1 - min_lr_ratio) * (1 - frac)
    if schedule == "cosine":
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))
    raise ValueError(f"unknown LR schedule {schedule!r}")


def deepspeed_config(ds: Any, *, micro_batch: int, grad_accum: int, precision: str) -> dict:
    """The DeepSpeed config dict from our settings (`ds.extra` is merged in last, for experts)."""
    zero: dict[str, Any] = {"stage": int(ds.zero_stage)}
    if ds.zero_stage == 3:
        zero.update(stage3_gather_16bit_weights_on_model_save=True, overlap_comm=False)
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": micro_batch,
        "gradient_accumulation_steps": grad_accum,
        "gradient_clipping": float(ds.gradient_clipping),
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": False},
        "zero_allow_untested_optimizer": True,
        "zero_force_ds_cpu_optimizer": False,
        "steps_per_print": 10 ** 9,
        "wall_clock_breakdown": False,
    }
    return _deep_merge(cfg, dict(ds.extra or {}))


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def build_engine(model: nn.Module, ds: Any, optim: Any, *, total_steps: int, micro_batch: int, grad_accum: int,
                 dist: DistInfo):
    """`deepspeed.initialize` with torch AdamW (trainable params only) and the LR schedule."""
    import deepspeed

    precision = resolve_precision(ds.precision, dist)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [g for g in ({"params": decay, "weight_decay": optim.weight_decay},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    opt = torch.optim.AdamW(groups, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_lambda(
        s, total_steps=total_steps, warmup_steps=optim.warmup_steps, schedule=optim.schedule,
        min_lr_ratio=optim.min_lr_ratio))
    config = deepspeed_config(ds, micro_batch=micro_batch, grad_accum=grad_accum, precision=precision)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=opt, lr_scheduler=sched, config=config,
                                           dist_init_required=False)
    return engine


def frozen_engine(model: nn.Module, ds: Any, dist: DistInfo):
    """A frozen model (the KL reference) prepared for inference: ZeRO-3 shards it like the policy,
    otherwise it is simply moved to the device in the training precision."""
    precision = resolve_precision(ds.precision, dist)
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    if ds.zero_stage == 3:
        import deepspeed

        config = {"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 3},
                  "bf16": {"enabled": precision == "bf16"}, "steps_per_print": 10 ** 9}
        engine, *_ = deepspeed.initialize(model=model, config=config, dist_init_required=False)
        engine.eval()
        return engine.module
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    return model.to(device=dist.device, dtype=dtype)


# ---------------------------------------------------------------------------- RNG
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def all_reduce_sum(values: list[float], dist: DistInfo) -> list[float]:
    """Sum a few floats over all ranks (float64 on the training device)."""
    t = torch.tensor(values, dtype=torch.float64, device=dist.device if dist.backend == "nccl" else "cpu")
    if dist.world > 1:
        tdist.all_reduce(t)
    return t.tolist()


def engine_step(engine) -> float | None:
    """`engine.step()`; at an accumulation boundary returns the gradient norm (before clipping).

    DeepSpeed reports the norm itself for ZeRO-2/3 and mixed precision; for ZeRO-0/1 in fp32 it
    does not, so it is computed here from the (already averaged) `.grad`s before the step.
    """
    norm = None
    boundary = engine.is_gradient_accumulation_boundary()
    if boundary and engine.zero_optimization_stage() < 2:
        grads = [p.grad.detach().float().norm() for p in engine.module.parameters()
                 if p.requires_grad and p.grad is not None]
        norm = float(torch.linalg.vector_norm(torch.stack(grads))) if grads else 0.0
    engine.step()
    if boundary:
        ds = engine.get_global_grad_norm()
        if ds is not None:
            norm = float(ds)
    return norm


def gathered_embeddings(model):
    """Context: under ZeRO-3, the input-embedding weight gathered in full (else a no-op).

    `VideoLM.build_inputs` reads `input_embeddings.weight.shape` (hidden size) outside a module
    call, which a ZeRO-3-partitioned parameter does not have; gathering just that weight around
    the call keeps prompt building exact (gradients still reach the partitioned weight).
    """
    weight = model.input_embeddings.weight
    if not hasattr(weight, "ds_id"):
        return nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters([weight], modifier_rank=None)

"""Checkpoints of a training run: resumable engine state in the run dir, HF model dirs in the store.

    save_state(engine, run_dir, step, client_state, keep_last=2, dist=dist)   # every rank
    point = find_resume_point([run_dir, previous_run_dir])                   # newest saved state
    client = load_state(engine, point, dist)                                 # every rank; RNG returned
    path = export_model(model, ws.checkpoints_dir / "sft-job/step-0000010", dist, zero_stage=2)
    ckpt_id = register(ws, path, stage="sft", parent=base_id, step=10, metrics={...}, job_id=job)

Layout of a run dir:
    state/step-0000010/…      DeepSpeed checkpoint (module, optimizer, LR scheduler) + rng_rank<r>.pt
    state/resume.json          {"tag": "step-0000010", "step": 10} — written last, atomically: a state
                               counts only once every rank has finished writing it
HF model dirs (`model.save`) are written to a temporary sibling and renamed into place, so a
killed job never leaves a half-written checkpoint under its final name.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lvr.model import register_checkpoint, resolve_model  # noqa: F401  (re-exported for lvr train's callers)

from .engine import DistInfo, rng_state

STATE_DIR = "state"
RESUME_FILE = "resume.json"


@dataclass
class ResumePoint:
    state_dir: Path
    tag: str
    step: int


def _barrier(dist: DistInfo) -> None:
    import torch.distributed as tdist

    if dist.world > 1 and tdist.is_initialized():
        tdist.barrier()


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_state(engine, run_dir: Path, step: int, client_state: dict, *, keep_last: int, dist: DistInfo) -> Path:
    """Save the DeepSpeed engine + per-rank RNG + `client_state` (collective: call on every rank)."""
    state_dir = Path(run_dir) / STATE_DIR
    tag = f"step-{step:07d}"
    engine.save_checkpoint(str(state_dir), tag=tag, client_state=client_state, save_latest=False)
    torch.save(rng_state(), state_dir / tag / f"rng_rank{dist.rank}.pt")
    _barrier(dist)
    if dist.is_main:
        _atomic_write_text(state_dir / RESUME_FILE, json.dumps({"tag": tag, "step": step, "world": dist.world}))
        tags = sorted(p.name for p in state_dir.glob("step-*") if p.is_dir())
        for old in tags[:-keep_last] if keep_last > 0 else []:
            shutil.rmtree(state_dir / old, ignore_errors=True)
    _barrier(dist)
    return state_dir / tag


def find_resume_point(run_dirs: list[Path]) -> ResumePoint | None:
    """The newest complete saved state among `run_dirs` (each a run dir, a state dir, or one saved
    state `state/step-NNNNNNN`, which is then taken as it is)."""
    best: ResumePoint | None = None
    for d in run_dirs:
        d = Path(d)
        if d.name.startswith("step-") and (d / "rng_rank0.pt").is_file():
            return ResumePoint(d.parent, d.name, int(d.name.split("-")[1]))
        for state_dir in (d / STATE_DIR, d):
            f = state_dir / RESUME_FILE
            if not f.is_file():
                continue
            try:
                info = json.loads(f.read_text())
            except json.JSONDecodeError:
                continue
            if not (state_dir / info["tag"]).is_dir():
                continue
            if best is None or int(info["step"]) > best.step:
                best = ResumePoint(state_dir, info["tag"], int(info["step"]))
            break
    return best


def load_state(engine, point: ResumePoint, dist: DistInfo) -> tuple[dict, dict | None]:
    """Restore module/optimizer/scheduler; returns (client_state, this rank's RNG state or None)."""
    path, client = engine.load_checkpoint(str(point.state_dir), tag=point.tag)
    if path is None:
        raise RuntimeError(f"could not load the training state {point.state_dir / point.tag}")
    rng_file = point.state_dir / point.tag / f"rng_rank{dist.rank}.pt"
    rng = torch.load(rng_file, weights_only=False) if rng_file.is_file() else None
    return dict(client or {}), rng


def export_model(model, out_dir: Path, dist: DistInfo, *, zero_stage: int) -> Path:
    """Write `model.save(...)` to `out_dir` atomically (rank 0 writes; every rank must call)."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")

    def write() -> None:
        if tmp.exists():
            shutil.rmtree(tmp)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        model.save(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)

    if zero_stage == 3:
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(model.parameters()), modifier_rank=None):
            if dist.is_main:
                write()
    elif dist.is_main:
        write()
    _barrier(dist)
    return out_dir


def register(ws, path: Path, *, stage: str, parent: str | None, step: int, metrics: dict,
             job_id: str | None) -> str:
    """Register an exported model dir in the workspace (validated by lvr.model)."""
    clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and v == v}
    return register_checkpoint(ws, path, stage=stage, parent=parent, step=step, metrics=clean, job_id=job_id)


def client_state_of(sampler_state: dict, step: int, extra: dict[str, Any] | None = None) -> dict:
    return {"lvr": {"sampler": sampler_state, "step": step, **(extra or {})}}

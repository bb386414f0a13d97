"""What every training stage does around its loop: set up a run, resume it, save and register.

    run = start_run(cfg, stage="sft")            # process group, workspace, run dir, model, trainable parts
    engine = build_engine(run.model, ...)
    step, sampler_state = resume(run, engine)    # 0, None when starting fresh
    ...
    save(run, engine, step, sampler, metrics)    # state in the run dir + HF model registered in the store
    finish(run)

The run dir is the job's (`runs/<job id>/`) when launched through lvr.jobs, else `output_dir`,
else `<workspace>/runs/<stage>-<time>`; rank 0 picks it and tells the others. With
`resume=true` the newest saved state of this run dir and of the jobs it resumes
(`resumed_from`, as `lvr jobs WS resume JOB` records) is loaded; a path names a run/state dir.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
import yaml

from lvr.config import ConfigError, to_dict
from lvr.jobs import JobContext
from lvr.model import load_model
from lvr.store import Workspace

from . import checkpoints as ck
from .engine import DistInfo, init_distributed, resolve_precision, seed_everything, set_rng_state, set_trainable
from .metrics import Reporter


@dataclass
class Run:
    cfg: Any
    stage: str
    dist: DistInfo
    ws: Any
    job: Any
    run_dir: Path
    run_id: str
    reporter: Reporter
    model: Any
    model_path: Path
    base_id: str | None
    precision: str
    param_counts: dict
    ckpt_name: str = ""
    checkpoints: list[str] = field(default_factory=list)
    pending_rng: dict | None = None


def _broadcast(obj: Any, dist: DistInfo) -> Any:
    if dist.world == 1:
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def set_saved_options(model, data) -> None:
    """The data group's model settings that are saved with this run's checkpoints: the answer format, frame
    look-back and frame walking (null / "model": the model's own)."""
    if data.answer_format != "model" and data.answer_format != model.answer_format:
        model.set_answer_format(data.answer_format)
    for key in ("frame_lookback", "frame_walk"):            # in this order: walking needs look-back
        want = getattr(data, key)
        if want is not None and want != getattr(model, key):
            try:
                getattr(model, f"set_{key}")(want)
            except (ValueError, ConfigError) as e:
                raise ConfigError(f"data.{key}: {e}") from None


def start_run(cfg, stage: str) -> Run:
    if not cfg.workspace:
        raise ConfigError("workspace is required: pass workspace=DIR (or --workspace DIR)")
    dist = init_distributed(cfg.device)
    ws = Workspace.open(cfg.workspace)
    job = JobContext.from_env()
    if job is not None:
        run_dir = job.run_dir
    elif cfg.output_dir:
        run_dir = Path(cfg.output_dir).expanduser().resolve()
    else:
        run_dir = ws.runs_dir / f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = Path(_broadcast(str(run_dir), dist))
    run_id = job.job_id if job is not None else run_dir.name
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.resolved.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        resolved = ck.resolve_model(ws, cfg.model)
    else:
        resolved = None
    model_path, base_id = _broadcast(resolved, dist)
    seed_everything(cfg.seed * 1000 + dist.rank)
    precision = resolve_precision(cfg.deepspeed.precision, dist)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    model = load_model(model_path, device=dist.device, dtype=dtype)
    model.train()
    set_saved_options(model, cfg.data)
    if cfg.deepspeed.gradient_checkpointing:
        model.causal_lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    counts = set_trainable(model, cfg.trainable)
    reporter = Reporter(run_dir, job=job, is_main=dist.is_main, total_steps=cfg.max_steps)
    reporter.print(f"[{stage}] run {run_id}: model {model_path} ({counts['trainable']:,} of {counts['total']:,} "
                   f"parameters train), {dist.world} process(es) on {dist.device}, {precision}, "
                   f"ZeRO-{cfg.deepspeed.zero_stage}; run dir {run_dir}")
    return Run(cfg, stage, dist, ws, job, run_dir, run_id, reporter, model, Path(model_path), base_id, precision,
               counts, ckpt_name=cfg.name or (_root_job(ws, run_id) if job is not None else run_id))


def _root_job(ws, job_id: str) -> str:
    """The first job of a resume chain (a resumed run keeps exporting into the same folder)."""
    seen = {job_id}
    while True:
        prev = (ws.get_job(job_id).get("config") or {}).get("resumed_from")
        if not prev or prev in seen:
            return job_id
        try:
            ws.get_job(prev)
        except KeyError:
            return job_id
        seen.add(prev)
        job_id = prev


def resume_dirs(run: Run) -> list[Path]:
    """Where `resume` looks: this run dir, an explicit path, and the jobs this one resumes."""
    dirs = [run.run_dir]
    if isinstance(run.cfg.resume, str):
        p = Path(run.cfg.resume).expanduser()
        if not p.exists() and (run.ws.runs_dir / p).exists():
            p = run.ws.runs_dir / p
        if not p.exists():
            raise ConfigError(f"resume: {run.cfg.resume} is neither a run dir nor a run id of the workspace")
        dirs.insert(0, p)
    if run.job is not None:
        seen = {run.job.job_id}
        prev = run.ws.get_job(run.job.job_id)["config"].get("resumed_from")
        while prev and prev not in seen:
            seen.add(prev)
            try:
                row = run.ws.get_job(prev)
            except KeyError:
                break
            dirs.append(run.ws.resolve(row["run_dir"]))
            prev = (row.get("config") or {}).get("resumed_from")
    return dirs


def resume(run: Run, engine) -> tuple[int, dict | None]:
    """Load the newest saved state when `resume` is set; returns (step, sampler state or None).

    The RNG state is restored later by `restore_rng` (after data/model setup consumed randomness)."""
    if run.cfg.resume is False:
        return 0, None
    point = ck.find_resume_point(resume_dirs(run))
    if point is None:
        run.reporter.print(f"[{run.stage}] resume requested but no saved state found; starting from step 0")
        return 0, None
    client, rng = ck.load_state(engine, point, run.dist)
    info = client.get("lvr", {})
    run.pending_rng = rng
    saved_model = info.get("model_path")
    if saved_model and saved_model != str(run.model_path):
        # `model` may be a moving reference (latest:sft): keep the run's original starting model
        # for the lineage and the KL reference; the weights themselves come from the saved state.
        run.reporter.print(f"[{run.stage}] the run started from {saved_model} (model now resolves to "
                           f"{run.model_path}); keeping {saved_model} as its parent and reference")
        run.model_path, run.base_id = Path(saved_model), info.get("base_id")
    run.reporter.print(f"[{run.stage}] resumed from {point.state_dir / point.tag} (step {info.get('step')})")
    return int(info.get("step", point.step)), info.get("sampler")


def restore_rng(run: Run) -> None:
    if run.pending_rng is not None:
        set_rng_state(run.pending_rng)
        run.pending_rng = None


def save(run: Run, engine, step: int, sampler_state: dict, metrics: dict, *, export: bool = True) -> str | None:
    """Save the resumable state; export + register the HF model (returns its checkpoint id)."""
    cfg = run.cfg
    client = ck.client_state_of(sampler_state, step, {"model_path": str(run.model_path), "base_id": run.base_id})
    ck.save_state(engine, run.run_dir, step, client, keep_last=cfg.keep_last, dist=run.dist)
    if not export:
        return None
    out = run.ws.checkpoints_dir / run.ckpt_name / f"step-{step:07d}"
    ck.export_model(engine.module, out, run.dist, zero_stage=cfg.deepspeed.zero_stage)
    ckpt_id = None
    if run.dist.is_main:
        ckpt_id = ck.register(run.ws, out, stage=run.stage, parent=run.base_id, step=step, metrics=metrics,
                              job_id=run.job.job_id if run.job is not None else None)
        run.checkpoints.append(ckpt_id)
        run.reporter.print(f"[{run.stage}] step {step}: checkpoint {ckpt_id} at {out}")
    return ckpt_id


def finish(run: Run, summary: dict) -> dict:
    if run.dist.is_main:
        summary = {**summary, "run_dir": str(run.run_dir), "checkpoints": run.checkpoints}
        (run.run_dir / "summary.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))
    return summary

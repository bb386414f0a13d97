"""Frames scaling: one checkpoint at several frame counts → one run per count and a curve.

    from lvr.eval import run_sweep, sweep_curve
    res = run_sweep(ws, ModelAnswerer(ckpt_dir), [8, 16, 32, 64], EvalConfig(split="eval"), checkpoint="grpo-…")
    res.sweep_id, res.run_ids, res.curve["series"]["temporal"]   # [{"frames": 8, "acc":…, "lo":…, "hi":…}, …]

The runs share a `sweep` id in their config (`sweep-YYYYMMDD-HHMMSS-xxxx`); passing that id
again resumes the sweep (each frame count resumes its own run). The curve figure is written
to `runs/<sweep id>/frames.html|json`, next to `curve.json`. The model is loaded once and
reused for every frame count; a finished run at one of the counts (same answerer, checkpoint and
settings) can stand for that point: `run_sweep(..., reuse=[run_id])`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from lvr.store.runs import new_id

from .answerer import Answerer
from .plots import GROUPS, frames_curve, save_figure
from .runner import EvalConfig, run_eval


@dataclass
class SweepResult:
    sweep_id: str
    run_ids: list[str]
    curve: dict
    figures: list[str] = field(default_factory=list)


def sweep_runs(ws, sweep_id: str) -> list[dict]:
    """The runs of a sweep, ordered by frame count."""
    runs = [r for r in ws.list_eval_runs() if (r.get("config") or {}).get("sweep") == sweep_id]
    return sorted(runs, key=lambda r: (r["frames"] or 0, r["created_at"]))


def sweep_curve(ws, sweep_id: str) -> dict:
    """frames → accuracy with CI, for overall and each category (finished runs only)."""
    runs = [r for r in sweep_runs(ws, sweep_id) if r["status"] == "succeeded"]
    if not runs:
        raise KeyError(f"no finished runs in sweep {sweep_id!r}")
    series: dict[str, list[dict]] = {g: [] for g in GROUPS}
    for r in runs:
        s = r["summary"]
        for g in GROUPS:
            c = s["overall"] if g == "overall" else s["categories"].get(g, {})
            series[g].append({"frames": r["frames"], "acc": c.get("acc"), "lo": c.get("lo"), "hi": c.get("hi"),
                              "n": c.get("n", 0), "run": r["id"]})
    return {"sweep": sweep_id, "checkpoint": runs[0]["checkpoint"], "answerer": runs[0]["answerer"],
            "frames": [r["frames"] for r in runs], "runs": [r["id"] for r in runs], "series": series}


def save_sweep_figures(ws, sweep_id: str) -> list[Path]:
    curve = sweep_curve(ws, sweep_id)
    folder = ws.runs_dir / sweep_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "curve.json").write_text(json.dumps(curve, indent=1))
    who = curve["checkpoint"] or curve["answerer"]
    return save_figure(frames_curve(curve, title=f"{who}: accuracy vs frames (95 % bootstrap CI)"), folder, "frames")


ADOPT_IGNORES = ("sweep", "figures", "answerer")     # what may differ between a run and the sweep point it stands for


def adopt_run(ws, run_id: str, sweep_id: str, cfg: EvalConfig, answerer: Answerer, checkpoint: str | None) -> str:
    """A finished run of the same answerer, checkpoint and settings becomes the sweep's point at its frame count:
    a copy tagged with the sweep (its answers and summary, no new scoring; the run itself is left alone).
    Greedy answers at the same settings are the same answers, so this is the run the sweep would make."""
    row = ws.get_eval_run(run_id)
    sub = replace(cfg, frames=row["frames"], sweep=sweep_id)
    want = json.loads(json.dumps({**asdict(sub), "selection": sub.selection()}, default=str))   # as stored
    have = row["config"] or {}
    differ = sorted(k for k in set(want) | set(have) if k not in ADOPT_IGNORES and want.get(k) != have.get(k))
    differ += [name for name, a, b in (("status", row["status"], "succeeded"), ("answerer", row["answerer"],
               answerer.name), ("checkpoint", row["checkpoint"], checkpoint)) if a != b]
    if differ:
        raise ValueError(f"eval run {run_id} cannot stand for sweep {sweep_id} at {row['frames']} frames: "
                         f"{', '.join(differ)} differ")
    copy = ws.add_eval_run(checkpoint=checkpoint, split=row["split"], frames=row["frames"], answerer=row["answerer"],
                           config={**have, "sweep": sweep_id, "adopted_from": run_id})
    ws.add_eval_items(copy, ws.eval_items(run_id))
    ws.update_eval_run(copy, status="succeeded", summary=row["summary"])
    return copy


def run_sweep(ws, answerer: Answerer, frames: list[int], cfg: EvalConfig | None = None, *,
              checkpoint: str | None = None, sweep_id: str | None = None, job_id: str | None = None,
              progress: Callable[[int, int, int], None] | None = None, reuse: tuple[str, ...] = ()) -> SweepResult:
    """Run `answerer` at each frame count (ascending); resumable by `sweep_id`.

    `progress(frames, done, total)` is called as items are scored. `reuse`: finished runs of this answerer,
    checkpoint and `cfg` at some of the frame counts, taken as those points instead of scoring again
    (`adopt_run`; a run made otherwise is refused).
    """
    counts = sorted({int(f) for f in frames})
    if not counts or counts[0] < 1:
        raise ValueError(f"frames must be positive integers, got {frames!r}")
    cfg = cfg or EvalConfig()
    sweep_id = sweep_id or new_id("sweep")
    existing = {r["frames"]: r["id"] for r in sweep_runs(ws, sweep_id)}
    for run_id in reuse:
        n = ws.get_eval_run(run_id)["frames"]
        if n in counts and n not in existing:
            existing[n] = adopt_run(ws, run_id, sweep_id, cfg, answerer, checkpoint)
    run_ids = []
    for n in counts:
        sub = replace(cfg, frames=n, sweep=sweep_id)
        cb = (lambda d, t, n=n: progress(n, d, t)) if progress else None
        res = run_eval(ws, answerer, sub, checkpoint=checkpoint, run_id=existing.get(n), job_id=job_id, progress=cb)
        run_ids.append(res.run_id)
    figures = [ws.relativize(p) for p in save_sweep_figures(ws, sweep_id)] if cfg.figures else []
    return SweepResult(sweep_id, run_ids, sweep_curve(ws, sweep_id), figures)

"""The evaluation runner: answerer × items × frames → scored items and a summary in the store.

    from lvr.eval import EvalConfig, RandomAnswerer, run_eval
    res = run_eval(ws, RandomAnswerer(0), EvalConfig(split="eval", frames=None))
    res.run_id, res.summary["overall"], res.figures

One call = one eval run (`eval_runs` row). Items are scored in batches and each batch is
written to `eval_items` as soon as it is answered, so a run that dies keeps what it scored;
`run_eval(..., run_id=<that id>)` resumes it: qa_ids already in `eval_items` for the run are
never asked again (the run must have the same answerer, checkpoint, frames and item
selection). When every item is scored the summary (overall and per-category accuracy with
95 % bootstrap intervals, format compliance, thinking length, letter distributions of
predictions and key, and the reference answerers on the same items) is stored in
`eval_runs.summary`, written to `runs/<run id>/summary.json`, and the figures are written next
to it (`lvr.eval.plots`).

Items whose video is missing or undecodable are not shown to an answerer that needs video;
they are listed in `summary["skipped"]` (the model's accuracy is over the scored items).

`EvalConfig(videos="shuffled")` is the control that says whether a model uses the video at all:
every item is shown the frames of another video of the same run (the evaluated videos in id
order, each item gets the next one's), with its own question and options. A model that reads
the video drops toward chance; one that answers from the text alone scores the same.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from lvr.config import ConfigError, check_fields, option
from lvr.store import CATEGORIES, QA_STATUSES

from .answerer import LETTERS, Answerer, Prediction
from .plots import save_run_figures
from .reference import REFERENCE_NAMES, make_reference
from .stats import DEFAULT_N_BOOT, DEFAULT_SEED
from .summary import accuracy_block, summarize

VIDEO_MODES = ("own", "shuffled")


@dataclass
class EvalConfig:
    """Which items, how many frames, how to batch and how to report. Validated on creation."""

    split: str | None = option("eval", "QA split to evaluate (null, or '' on the command line: any split)")
    source: str | None = option(None, "only items of this source (e.g. an imported benchmark)")
    categories: tuple[str, ...] | None = option(None, "restrict to these categories (none: all)",
                                                choices=CATEGORIES)
    statuses: tuple[str, ...] = option(("pending", "draft", "approved"), "QA statuses evaluated",
                                       choices=QA_STATUSES)
    frames: int | None = option(16, "frames per video (none: answerers that do not watch the video)", ge=1)
    batch_size: int = option(8, "items per answerer call", ge=1)
    limit: int | None = option(None, "only the first N items (by id)", ge=1)
    n_boot: int = option(DEFAULT_N_BOOT, "bootstrap resamples", ge=1)
    seed: int = option(DEFAULT_SEED, "seed of the bootstrap and of the reference answerers")
    references: tuple[str, ...] = option(REFERENCE_NAMES, "reference answerers scored on the same items",
                                         choices=REFERENCE_NAMES)
    reference_split: str = option("sft", "split the most-frequent / text-only references learn from")
    sweep: str | None = option(None, "the frames sweep this run belongs to")
    figures: bool = option(True, "write the run's figures (HTML + JSON)")
    videos: str = option("own", "shuffled: show each item another video's frames (does the model use the "
                         "video?)", choices=VIDEO_MODES)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.split is None and self.source is None:
            raise ConfigError("EvalConfig: give a split or a source (benchmark) to evaluate on")
        if not self.statuses:
            raise ConfigError("EvalConfig.statuses: needs at least one status")

    def selection(self) -> dict:
        """The fields that define which items a run covers (must match when resuming)."""
        return {"split": self.split, "source": self.source, "categories": list(self.categories or []) or None,
                "statuses": list(self.statuses), "limit": self.limit,
                **({"videos": self.videos} if self.videos != "own" else {})}


@dataclass
class EvalResult:
    run_id: str
    summary: dict
    run_dir: Path
    figures: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- items
def select_items(ws, cfg: EvalConfig) -> list[dict]:
    """The QA items a run covers, in id order (rejected and duplicate items excluded)."""
    items = list(ws.iter_qa(split=cfg.split, source=cfg.source, category=list(cfg.categories or []) or None,
                            status=list(cfg.statuses), duplicate=False))
    return items[:cfg.limit] if cfg.limit else items


def attach_videos(ws, items: list[dict]) -> list[dict]:
    """Put `video_path`/`video_sha` on each item, or `video_problem` saying why it has no usable video."""
    cache: dict[str, tuple[str | None, str | None, str | None]] = {}
    for it in items:
        vid = it.get("video_id")
        if not vid:
            note = ((it.get("meta") or {}).get("import") or {}).get("note")   # why lvr.datagen's import found none
            it["video_path"], it["video_sha"], it["video_problem"] = None, None, note or "no video linked"
            continue
        if vid not in cache:
            try:
                row = ws.get_video(vid)
                path = ws.resolve(row["path"])
                cache[vid] = (str(path), row["sha256"], None) if path.exists() else \
                    (None, None, f"video file missing: {path}")
            except KeyError:
                cache[vid] = (None, None, f"video {vid} not in the workspace")
        it["video_path"], it["video_sha"], it["video_problem"] = cache[vid]
    return items


def shuffle_videos(items: list[dict]) -> list[dict]:
    """Give each item the video of the next distinct video (by id) among `items`, so none keeps its own
    (the items' videos must be attached; items without a usable video are left as they are)."""
    usable = sorted({it["video_id"] for it in items if it.get("video_path")})
    if len(usable) < 2:
        raise ValueError(f"videos='shuffled' needs items from at least 2 videos, got {len(usable)}")
    src = {it["video_id"]: (it["video_path"], it["video_sha"]) for it in items if it.get("video_path")}
    nxt = {v: usable[(i + 1) % len(usable)] for i, v in enumerate(usable)}
    for it in items:
        if it.get("video_path"):
            it["shown_video_id"] = nxt[it["video_id"]]
            it["video_path"], it["video_sha"] = src[it["shown_video_id"]]
    return items


def _record(it: dict, p: Prediction, key: str) -> dict:
    letter = p.letter if p.letter in LETTERS else None
    return {"qa_id": it["id"], "category": it["category"], "prediction": p.text, "thinking": p.thinking,
            "answer": letter if letter else p.answer, "correct": int(letter is not None and letter == key),
            "format_ok": None if p.format_ok is None else int(bool(p.format_ok)), "tokens": p.tokens,
            "latency": p.latency}


# ---------------------------------------------------------------------- run bookkeeping
def _open_run(ws, answerer: Answerer, cfg: EvalConfig, checkpoint: str | None, run_id: str | None,
              job_id: str | None) -> str:
    config = {**asdict(cfg), "selection": cfg.selection(), "answerer": answerer.describe()}
    if run_id is not None:
        try:
            row = ws.get_eval_run(run_id)
        except KeyError:
            row = None
        if row is not None:
            old = row["config"] or {}
            mismatch = [name for name, a, b in (
                ("answerer", row["answerer"], answerer.name), ("checkpoint", row["checkpoint"], checkpoint),
                ("frames", row["frames"], cfg.frames), ("items", old.get("selection"), cfg.selection()),
            ) if a != b]
            if mismatch:
                raise ValueError(f"cannot resume eval run {run_id}: {', '.join(mismatch)} differ from the stored run")
            ws.update_eval_run(run_id, status="running")
            return run_id
    return ws.add_eval_run(checkpoint=checkpoint, split=cfg.split or cfg.source, frames=cfg.frames,
                           answerer=answerer.name, config=config, job_id=job_id, run_id=run_id)


def reference_results(ws, items: list[dict], cfg: EvalConfig) -> dict:
    """The reference answerers on exactly `items` (accuracy with intervals; never stored as items)."""
    out = {}
    keys = [it["answer"] for it in items]
    cats = [it["category"] for it in items]
    for name in cfg.references:
        try:
            ref = make_reference(name, ws, reference_split=cfg.reference_split, seed=cfg.seed, fallback_items=items)
        except ValueError as e:
            out[name] = {"error": str(e)}
            continue
        preds = ref.answer_batch(items, None) if items else []
        block = accuracy_block([p.letter == k for p, k in zip(preds, keys)], cats, n_boot=cfg.n_boot, seed=cfg.seed)
        out[name] = {**block, "describe": ref.describe()}
    return out


def run_eval(ws, answerer: Answerer, cfg: EvalConfig | None = None, *, checkpoint: str | None = None,
             run_id: str | None = None, job_id: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> EvalResult:
    """Evaluate `answerer` on the items `cfg` selects; resumable by `run_id`. See the module docstring."""
    cfg = cfg or EvalConfig()
    if getattr(answerer, "needs_video", False) and cfg.frames is None:
        raise ValueError(f"answerer {answerer.name!r} watches the video: give EvalConfig.frames")
    items = select_items(ws, cfg)
    if not items:
        where = f"split={cfg.split!r}" + (f", source={cfg.source!r}" if cfg.source else "")
        raise ValueError(f"no QA items to evaluate ({where}, statuses={list(cfg.statuses)}) in {ws.root}")
    run_id = _open_run(ws, answerer, cfg, checkpoint, run_id, job_id)
    try:
        attach_videos(ws, items)
        if cfg.videos == "shuffled":
            shuffle_videos(items)
        done = {r["qa_id"] for r in ws.eval_items(run_id)}
        needs_video = getattr(answerer, "needs_video", False)
        skipped = [{"qa_id": it["id"], "reason": it["video_problem"]} for it in items
                   if needs_video and it["video_problem"]]
        skip_ids = {s["qa_id"] for s in skipped}
        todo = [it for it in items if it["id"] not in done and it["id"] not in skip_ids]
        if needs_video:  # questions on the same video share a batch, so its frames are decoded once
            todo.sort(key=lambda it: (it.get("video_id") or "", it["id"]))
        total = len(items) - len(skip_ids)
        n_done = total - len(todo)
        if progress:
            progress(n_done, total)
        for s in range(0, len(todo), cfg.batch_size):
            batch = todo[s:s + cfg.batch_size]
            t0 = time.perf_counter()
            preds = answerer.answer_batch(batch, cfg.frames)
            wall = time.perf_counter() - t0
            if len(preds) != len(batch):
                raise RuntimeError(f"answerer {answerer.name!r} returned {len(preds)} predictions for "
                                   f"{len(batch)} items")
            for p in preds:
                if p.latency is None:
                    p.latency = wall / len(batch)
            ws.add_eval_items(run_id, [_record(it, p, it["answer"]) for it, p in zip(batch, preds)])
            n_done += len(batch)
            if progress:
                progress(n_done, total)
        summary = finish_run(ws, run_id, items, cfg, skipped)
    except BaseException as e:
        ws.update_eval_run(run_id, status="failed",
                           summary={"error": f"{type(e).__name__}: {e}",
                                    "scored": len(ws.eval_items(run_id)), "n_items": len(items)})
        raise
    return EvalResult(run_id, summary, ws.runs_dir / run_id, summary.get("figures", []))


def finish_run(ws, run_id: str, items: list[dict], cfg: EvalConfig, skipped: list[dict]) -> dict:
    """Summarise a fully scored run, store the summary, write summary.json and the figures."""
    by_id = {it["id"]: it for it in items}
    records = [r for r in ws.eval_items(run_id) if r["qa_id"] in by_id]
    scored = [by_id[r["qa_id"]] for r in records]
    summary = summarize(records, {it["id"]: it["answer"] for it in items}, n_boot=cfg.n_boot, seed=cfg.seed)
    summary["n_items"] = len(items)
    summary["skipped"] = {"count": len(skipped), "items": skipped}
    summary["references"] = reference_results(ws, scored, cfg)
    run_dir = ws.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.figures:
        run = ws.get_eval_run(run_id)
        summary["figures"] = [ws.relativize(p) for p in save_run_figures(run_dir, {**run, "summary": summary})]
    ws.update_eval_run(run_id, status="succeeded", summary=summary)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary

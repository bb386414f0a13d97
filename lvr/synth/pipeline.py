"""Fill a workspace with a synthetic corpus: render videos in parallel, register videos, clips,
ground-truth captions and QA items through the store API.

    from lvr.store import Workspace
    from lvr.synth import SynthConfig, WorldConfig, synth_workspace
    summary = synth_workspace(Workspace.open("demo", create=True),
                              SynthConfig(videos=20, seed=0, world=WorldConfig(minutes=3)))
    # `lvr synth demo --videos 20 --minutes 3 --seed 0` does the same from the shell

Per video i (seed derive_seed(seed, i)) a worker process simulates the world, writes
media/<stem>.mp4 and media/<stem>.events.json, captions each 10 s clip and generates the QA
items; the parent registers everything of one video in one transaction: the video (source
"synth", its split, meta {event_log, world, seed, stem, ground_truth?}), its clips with captions
(captioner "ground-truth") and its QA items (source "synth-gt", same split). Splits are by
video (disjoint): sft/rl/eval by `split_fractions`, eval gets at least one video. Running the
same command again skips the videos already registered (same config, same stem, same bytes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing as mp
import random
import time
from collections import Counter
from pathlib import Path

from .captions import clip_captions
from .config import QAConfig, SynthConfig, WorldConfig
from .qa import generate_qa
from .render import render_video
from .simulate import simulate

SOURCE_VIDEO = "synth"
SOURCE_QA = "synth-gt"
CAPTIONER = "ground-truth"
SPLITS = ("sft", "rl", "eval")


def assign_splits(n: int, fractions: tuple[float, float, float], seed: int) -> list[str]:
    """A split per video index: counts from the fractions (eval >= 1 when n >= 2, sft gets the rest),
    positions shuffled with the seed."""
    if n == 1:
        return ["eval"] if fractions[2] > 0 and fractions[0] == 0 else ["sft"]
    n_eval = max(1 if fractions[2] > 0 else 0, round(n * fractions[2]))
    n_rl = round(n * fractions[1])
    if n_eval + n_rl >= n:
        n_rl = max(0, n - n_eval - 1)
    labels = ["eval"] * n_eval + ["rl"] * n_rl + ["sft"] * (n - n_eval - n_rl)
    random.Random(f"{seed}:splits").shuffle(labels)
    return labels


def corpus_stem(cfg: SynthConfig, index: int) -> str:
    """File stem of video `index`: the seed, a hash of the world/QA settings, the index."""
    world = dataclasses.asdict(cfg.world)
    world.pop("seed")
    if cfg.max_minutes is not None:             # lengths vary per video (absent otherwise: old stems stay)
        world["max_minutes"] = cfg.max_minutes
    key = json.dumps({"world": world, "qa": dataclasses.asdict(cfg.qa)}, sort_keys=True, default=list)
    return f"synth-s{cfg.seed}-{hashlib.sha256(key.encode()).hexdigest()[:8]}-{index:04d}"


def make_video(world: WorldConfig, qa: QAConfig, media_dir: str | Path, stem: str) -> dict:
    """Simulate, render and annotate one video (runs in a worker process). Returns plain data."""
    t0 = time.perf_counter()
    media_dir = Path(media_dir)
    log = simulate(world)
    log_path = log.save(media_dir / f"{stem}.events.json")
    t1 = time.perf_counter()
    info = render_video(
        log,
        media_dir / f"{stem}.mp4",
        fps=world.fps,
        size=world.size,
        gop_seconds=world.gop_seconds,
        crf=world.crf,
    )
    t2 = time.perf_counter()
    captions = clip_captions(log)
    items = generate_qa(log, qa, min_gap=world.min_gap)
    return {
        "stem": stem,
        "seed": world.seed,
        "video": info,
        "event_log": str(log_path),
        "captions": captions,
        "qa": items,
        "world": dataclasses.asdict(world),
        "events": len(log.events),
        "seconds": {"simulate": t1 - t0, "render": t2 - t1, "annotate": time.perf_counter() - t2},
    }


def _work(args: tuple) -> tuple[int, dict]:
    index, world, qa, media_dir, stem = args
    return index, make_video(world, qa, media_dir, stem)


def _context():
    """spawn (safe with threads and open databases), unless __main__ cannot be re-imported by a
    spawned child (code piped to `python -`): then fork, which needs no re-import."""
    import os
    import sys

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file) and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _register(ws, result: dict, split: str, status: str, gt_in_meta: bool) -> tuple[str, int]:
    info = result["video"]
    meta = {
        "event_log": ws.relativize(result["event_log"]),
        "world": result["world"],
        "seed": result["seed"],
        "stem": result["stem"],
        "generator": "lvr.synth",
    }
    if gt_in_meta:
        meta["ground_truth"] = {"captions": result["captions"], "qa": result["qa"]}
    with ws.transaction():
        vid = ws.add_video(
            info["path"],
            sha256=info["sha256"],
            duration=info["duration"],
            fps=info["fps"],
            n_frames=info["n_frames"],
            width=info["width"],
            height=info["height"],
            codec="h264",
            keyframe_interval=info["keyframe_interval"],
            split=split,
            source=SOURCE_VIDEO,
            meta=meta,
        )
        clip_ids = ws.set_clips(vid, [(c["start"], c["end"]) for c in result["captions"]])
        for cid, c in zip(clip_ids, result["captions"]):
            ws.set_caption(cid, c["caption"], captioner=CAPTIONER, who="synth")
        n = ws.add_qa_many(
            [
                {**it, "video_id": vid, "source": SOURCE_QA, "split": split, "status": status}
                for it in result["qa"]
            ],
            who="synth",
        )
    return vid, n


def synth_workspace(ws, config: SynthConfig | None = None) -> dict:
    """Render `config.videos` videos into `ws` (a Workspace or a folder path) and register them.

    Returns a summary: counts of videos (new / already there), clips, QA items by split,
    category and answer letter, the split of each video, and timings.
    """
    # imported here: lvr.store (sqlite_utils) adds ~0.35 s to `import lvr.synth` (~0.4 s), measured, and each
    # spawned render worker imports this module (for _work) without needing a workspace
    from lvr.store import Workspace

    cfg = config or SynthConfig()
    if not isinstance(ws, Workspace):
        ws = Workspace.open(ws, create=True)
    t0 = time.perf_counter()
    splits = assign_splits(cfg.videos, cfg.split_fractions, cfg.seed)
    jobs, skipped = _pending_jobs(ws, cfg)
    registered = _make_and_register(ws, cfg, jobs, splits)
    return _summary(ws, cfg, splits, registered, skipped, t0)


def _pending_jobs(ws, cfg: SynthConfig) -> tuple[list[tuple], int]:
    """The worker jobs of the videos not registered yet (same stem), and how many are already there."""
    known = {r["filename"] for r in ws.query("SELECT filename FROM videos WHERE source = ?", (SOURCE_VIDEO,))}
    jobs, skipped = [], 0
    for i in range(cfg.videos):
        stem = corpus_stem(cfg, i)
        if f"{stem}.mp4" in known:
            skipped += 1
            continue
        jobs.append((i, cfg.world_for(i), cfg.qa, str(ws.media_dir), stem))
    return jobs, skipped


def _make_and_register(ws, cfg: SynthConfig, jobs: list[tuple], splits: list[str]) -> dict[int, tuple[str, int]]:
    """Run the jobs (in a process pool unless one worker or one job) and register each video as soon as
    every video before it is registered. Returns {index: (video id, QA items added)}."""
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="synth videos", unit="video")
    results: dict[int, dict] = {}
    registered: dict[int, tuple[str, int]] = {}
    next_i = 0
    order = [j[0] for j in jobs]

    def flush() -> None:  # register in index order, so ids and QA order do not depend on timing
        nonlocal next_i
        while next_i < len(order) and order[next_i] in results:
            i = order[next_i]
            registered[i] = _register(ws, results.pop(i), splits[i], cfg.status, cfg.ground_truth_in_meta)
            next_i += 1

    try:
        if cfg.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                i, res = _work(job)
                results[i] = res
                flush()
                if bar:
                    bar.update(1)
        else:
            with _context().Pool(min(cfg.workers, len(jobs))) as pool:
                for i, res in pool.imap_unordered(_work, jobs):
                    results[i] = res
                    flush()
                    if bar:
                        bar.update(1)
    finally:
        if bar:
            bar.close()
    return registered


def _summary(ws, cfg: SynthConfig, splits: list[str], registered: dict[int, tuple[str, int]], skipped: int,
             t0: float) -> dict:
    """What `synth_workspace` returns: counts over the videos registered by this call, and its seconds."""
    new_ids = [registered[i][0] for i in sorted(registered)]
    qa_rows = (
        ws.query(
            f"SELECT split, category, answer FROM qa WHERE video_id IN ({','.join('?' * len(new_ids))})",
            tuple(new_ids),
        )
        if new_ids
        else []
    )
    return {
        "workspace": str(ws.root),
        "videos": cfg.videos,
        "new_videos": len(new_ids),
        "skipped": skipped,
        "qa": sum(n for _, n in registered.values()),
        "qa_by_split": dict(Counter(r["split"] for r in qa_rows)),
        "qa_by_category": dict(Counter(r["category"] for r in qa_rows)),
        "qa_by_letter": dict(sorted(Counter(r["answer"] for r in qa_rows).items())),
        "videos_by_split": dict(Counter(splits)),
        "clips": ws.scalar(
            f"SELECT count(*) FROM clips WHERE video_id IN ({','.join('?' * len(new_ids))})", tuple(new_ids)
        )
        if new_ids
        else 0,
        "seconds": round(time.perf_counter() - t0, 2),
    }

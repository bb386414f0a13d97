"""From frame lines to the conclusion: can the LM infer it, with a line per changed frame, per frame, or per frame
up to the evidence?

    .venv/bin/python bench/conclusion_inference.py                      # the recipe-videolm workspace's base video LM
    .venv/bin/python bench/conclusion_inference.py --checkpoint DIR --seconds 300 --arms frames,to_evidence

The CoT-SFT targets (lvr.synth.visibility.frame_reasoning) list what the sampled frames show, then "So <conclusion>".
Reading a frame is one skill; going from the lines to the conclusion is another, and the benchmark's event-anchored
questions ("where was the cyan gem lying when the red robot dropped the purple box?") need it: find the line where
the event shows, read the asked thing there. With lines only for frames where something changed (`frames`), the
asked thing is often not on that line and must be tracked back; with a line for every frame naming everything
(`every_frame`) it is on the line; with lines only up to the frame that shows the last fact needed (`to_evidence`)
it is on the last line, as a final state is.

Each arm continues the same checkpoint text-only (no frames: the gold lines are context with no loss, the conclusion
and the answer are the targets; lvr.train.conclusions) on a stream of fresh worlds' corpus questions, one per world,
for the same wall time (the two arms side by side, one thread each), then scores teacher-forced exact match of
conclusion + answer on held-out worlds (lvr.synth.fresh world_items from the held-out block, 8 centred frames). The
baseline in the same run is the checkpoint before training. Prints ONE JSON line: exact match per arm, overall and
per template.
"""
from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from lvr.model import load_model  # noqa: E402
from lvr.recipe.stages import stage_checkpoints  # noqa: E402
from lvr.synth.fresh import HELD_OUT_SEEDS, TRAIN_SEEDS, WorldSpec, held_out_world_items, world_items  # noqa: E402
from lvr.synth.visibility import FRAME_LINES  # noqa: E402
from lvr.train.conclusions import ConclusionBatches  # noqa: E402

STREAM_SEEDS = TRAIN_SEEDS + 1_960_000_000     # past every training stage's block, below the held-out worlds
TEST_SEEDS = HELD_OUT_SEEDS + 60_000


def score(model, items: list) -> dict:
    """Teacher-forced exact match of conclusion + answer, overall and per template, with the mean loss."""
    batches, hits, losses = ConclusionBatches(model), collections.defaultdict(list), []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(items), 32):
            chunk = items[i:i + 32]
            loss, ok = batches.forward(chunk)
            losses.append(float(loss))
            for it, o in zip(chunk, ok.tolist()):
                hits[it.template].append(o)
                hits["all"].append(o)
    return {"loss": round(sum(losses) / len(losses), 4),
            **{k: round(sum(v) / len(v), 3) for k, v in sorted(hits.items(), key=lambda kv: -len(kv[1]))}}


def train(model, lines: str, spec: WorldSpec, seconds: float, batch: int, lr: float) -> int:
    """Continue `model` on fresh worlds' conclusions for `seconds`; returns the steps taken."""
    batches = ConclusionBatches(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    seed, step, t0 = STREAM_SEEDS, 0, time.monotonic()
    model.train()
    while time.monotonic() - t0 < seconds:
        items = []
        while len(items) < batch:
            items += world_items(seed, spec, random.Random(seed).choice([4, 8, 16]), lines=lines)
            seed += 1
        loss, _ = batches.forward(items)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
    return step


def run_arm(ckpt: str, arm: str, seconds: float, batch: int, lr: float, test: int) -> dict:
    """One arm, in its own process with one thread: score, train for `seconds`, score again."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    spec = WorldSpec(placement="centre")
    model = load_model(ckpt)
    items = held_out_world_items(spec, 8, test, start=TEST_SEEDS, lines=arm)
    before = score(model, items)
    steps = train(model, arm, spec, seconds, batch, lr)
    return {"steps": steps, "before": before, "after": score(model, items)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", help="model dir (default: the recipe workspace's base video LM)")
    ap.add_argument("--workspace", default="workspaces/recipe-videolm")
    ap.add_argument("--seconds", type=float, default=240.0, help="training wall time per arm")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--test", type=int, default=256, help="held-out worlds (one question each)")
    ap.add_argument("--arms", default=",".join(FRAME_LINES),
                    help=f"comma-separated reasoning layouts to compare (of {', '.join(FRAME_LINES)})")
    a = ap.parse_args()
    arms = a.arms.split(",")
    if bad := [x for x in arms if x not in FRAME_LINES]:
        ap.error(f"--arms: unknown layout(s) {bad}, expected some of {FRAME_LINES}")
    ckpt = a.checkpoint or stage_checkpoints(Path(a.workspace), ("videolm",)).get("videolm")
    if not ckpt:                    # `make bench` on a fresh clone: say what is missing, in the one JSON line
        print(json.dumps({"bench": "conclusion_inference", "measured": False,
                          "reason": f"no recipe run in {a.workspace} (make demo-train), and no --checkpoint"}))
        return
    out = {"bench": "conclusion_inference", "checkpoint": str(ckpt), "seconds_per_arm": a.seconds,
           "batch": a.batch, "lr": a.lr, "test_worlds": a.test}
    workers = min(len(arms), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = {arm: pool.submit(run_arm, str(ckpt), arm, a.seconds, a.batch, a.lr, a.test) for arm in arms}
        out["arms"] = {arm: job.result() for arm, job in jobs.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Does a checkpoint read its frames when it reasons? Teacher-forced loss of frame-grounded reasoning, own frames vs
another world's frames.

    .venv/bin/python bench/cot_reading.py                                  # the recipe-videolm workspace's models
    .venv/bin/python bench/cot_reading.py --checkpoints DIR1 DIR2 --frames 8 --items 64

Held-out fresh worlds (lvr.synth.fresh.HELD_OUT_SEEDS, never trained on) are asked the corpus's own questions that
their frames can answer (`world_items`); the target is what CoT-SFT trains on: the reasoning those frames support,
frame by frame with their times, then the answer. Each checkpoint's mean token loss on it is measured twice: with
the item's own frames, and (the baseline, in the same run) with the frames of the next item's world under the same
time tags. A model that reads the frames has a lower loss with its own; one that writes from the question's text
has the same. Prints ONE JSON line; docs/benchmarks.md has the results.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from lvr.model import load_model  # noqa: E402
from lvr.recipe.stages import stage_checkpoints  # noqa: E402
from lvr.synth.fresh import HELD_OUT_SEEDS, WorldSpec, held_out_world_items, with_other_frames  # noqa: E402
from lvr.train.lookups import LookupBatches  # noqa: E402

STAGES = ("videolm", "sft", "grpo")      # the recipe's checkpoints it measures by default


def held_out(spec: WorldSpec, frames: int, count: int) -> list:
    """`count` answerable items, one per held-out world (worlds whose frames answer none are skipped)."""
    return held_out_world_items(spec, frames, count, start=HELD_OUT_SEEDS + 7_000_000)


def mean_loss(batches: LookupBatches, items: list, batch: int) -> float:
    with torch.no_grad():
        losses = [float(batches.forward(items[i:i + batch])[0]) * len(items[i:i + batch])
                  for i in range(0, len(items), batch)]
    return sum(losses) / len(items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", default="workspaces/recipe-videolm")
    ap.add_argument("--checkpoints", nargs="*", help="checkpoint directories (default: the workspace recipe's)")
    ap.add_argument("--frames", type=lambda s: [int(x) for x in s.split(",")], default=[8, 16])
    ap.add_argument("--items", type=int, default=96)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    ckpts = ({"/".join(Path(c).parts[-2:]): Path(c) for c in a.checkpoints} if a.checkpoints
             else stage_checkpoints(a.workspace, STAGES))
    if not ckpts:                   # `make bench` on a fresh clone: say what is missing, in the one JSON line
        print(json.dumps({"bench": "cot_reading", "measured": False,
                          "reason": f"no recipe run in {a.workspace} (make demo-train), and no --checkpoints"}))
        return
    spec, t0, out = WorldSpec(), time.perf_counter(), {}
    for n in a.frames:
        items = held_out(spec, n, a.items)
        other = with_other_frames(items)
        for name, path in ckpts.items():
            model = load_model(path).eval()
            batches = LookupBatches(model, spec)
            own, shuffled = mean_loss(batches, items, a.batch), mean_loss(batches, other, a.batch)
            out.setdefault(name, {})[str(n)] = {"own": round(own, 4), "other_frames": round(shuffled, 4),
                                                "gain": round(shuffled - own, 4)}
    print(json.dumps({"bench": "cot_reading", "items": a.items, "frames": a.frames,
                      "checkpoints": {k: str(v) for k, v in ckpts.items()}, "loss": out,
                      "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()

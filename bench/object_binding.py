"""Which robot or object is in which zone: can it still be read from the video tokens the LM gets?

    .venv/bin/python bench/object_binding.py                       # the recipe-videolm workspace's base and videolm
    .venv/bin/python bench/object_binding.py --checkpoints DIR1 DIR2 --worlds 400

The tiny composite's projector writes 2 x 2 tokens per frame, one per zone of the frame; with `model.frame_merge:
mean` the LM gets their mean, one token per frame. A fact like "white ball in the kitchen" is then a binding of a
zone to an object. This bench fits linear read-outs (logistic, one per fact, on held-out-disjoint fresh worlds:
lvr.synth.fresh) of the projector's output, two ways:
  per_token  each zone token alone, labelled with what its own zone shows (what an LM attending to single tokens
             could find, as with `frame_merge: ""`);
  mean       the frame's mean token, labelled with "<fact> in <zone>" for every zone (what the LM gets now).
The baseline in the same run is each fact's positive rate (a blind read-out's average precision). Prints ONE JSON
line: average precision per fact kind (robot, carrying, object colour, object kind); docs/benchmarks.md has them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lvr.model import load_model  # noqa: E402
from lvr.recipe.perception import cell_zones, fact_average_precision, zone_facts  # noqa: E402
from lvr.recipe.stages import stage_checkpoints  # noqa: E402
from lvr.synth.fresh import HELD_OUT_SEEDS, TRAIN_SEEDS, WorldSpec, frame_indices, fresh_world, render_frames  # noqa: E402

STAGES = ("base", "videolm")
FIT_SEEDS = TRAIN_SEEDS + 1_907_000_000       # past every training stage's block, below the held-out worlds
TEST_SEEDS = HELD_OUT_SEEDS + 50_000


def zone_tokens(model, log, spec: WorldSpec, frames: int) -> tuple[torch.Tensor, list[float]]:
    """The projector's per-zone tokens [frames, pool², d] of `frames` centred frames of one world, and their times."""
    idx = frame_indices(random.Random(0), log.duration, frames, spec.fps, "centre")
    pixels = model.preprocess(np.stack(render_frames(log, model.image_size, spec.fps, idx)))
    proj, merge = model.projector, model.projector.config.frame_merge
    proj.set_frame_merge("")
    try:
        with torch.no_grad():
            tokens = proj(model.vision_features(pixels).to(proj.fc1.weight.dtype))
    finally:
        proj.set_frame_merge(merge)
    return tokens.float(), [i / spec.fps for i in idx]


def dataset(model, spec: WorldSpec, start: int, worlds: int, frames: int):
    """(per-token features, their zone's facts) and (mean features, "<fact> in <zone>" facts) over `worlds`."""
    tok_x, tok_y, mean_x, mean_y = [], [], [], []
    for seed in range(start, start + worlds):
        log = fresh_world(seed, spec)
        tokens, times = zone_tokens(model, log, spec, frames)
        zones = cell_zones(log, model.projector.config.pool_size)
        for frame, t in zip(tokens, times):
            facts = {z: {f for f in fs if not f.startswith("zone ")} for z, fs in zone_facts(log, t).items()}
            tok_x.append(frame)
            tok_y += [facts[z] for z in zones]
            mean_x.append(frame.mean(0, keepdim=True))
            mean_y.append({f"{f} in {z}" for z, fs in facts.items() for f in fs})
    return (torch.cat(tok_x), tok_y), (torch.cat(mean_x), mean_y)


def read_out(train, test, min_count: int = 20, steps: int = 400) -> dict:
    """Average precision per fact kind of linear read-outs fitted on `train`, measured on `test`."""
    (xtr, ftr), (xte, fte) = train, test
    vocab = [v for v in sorted({f for fs in ftr for f in fs}) if sum(v in fs for fs in ftr) >= min_count]
    ytr, yte = ([[v in fs for v in vocab] for fs in facts] for facts in (ftr, fte))
    ytr, yte = torch.tensor(ytr, dtype=torch.float32), torch.tensor(yte, dtype=torch.float32)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-5
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    w = torch.zeros(xtr.shape[1], len(vocab), requires_grad=True)
    b = torch.zeros(len(vocab), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-2)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(xtr @ w + b, ytr) + 1e-4 * (w ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        scores = xte @ w + b
    return fact_average_precision(scores, yte, [v.split(" in ")[0] for v in vocab])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", default="workspaces/recipe-videolm")
    ap.add_argument("--checkpoints", nargs="*", help="checkpoint directories (default: the workspace recipe's)")
    ap.add_argument("--worlds", type=int, default=400, help="fresh worlds to fit on (150 held-out ones test)")
    ap.add_argument("--frames", type=int, default=8, help="centred frames per world")
    a = ap.parse_args()
    ckpts = ({"/".join(Path(c).parts[-2:]): Path(c) for c in a.checkpoints} if a.checkpoints
             else stage_checkpoints(a.workspace, STAGES))
    if not ckpts:                   # `make bench` on a fresh clone: say what is missing, in the one JSON line
        print(json.dumps({"bench": "object_binding", "measured": False,
                          "reason": f"no recipe run in {a.workspace} (make demo-train), and no --checkpoints"}))
        return
    torch.manual_seed(0)
    spec, t0, out = WorldSpec(placement="centre"), time.perf_counter(), {}
    for name, path in ckpts.items():
        model = load_model(path).eval()
        fit_tok, fit_mean = dataset(model, spec, FIT_SEEDS, a.worlds, a.frames)
        test_tok, test_mean = dataset(model, spec, TEST_SEEDS, 150, a.frames)
        out[name] = {"per_token": read_out(fit_tok, test_tok), "mean": read_out(fit_mean, test_mean)}
    print(json.dumps({"bench": "object_binding", "worlds": a.worlds, "frames": a.frames,
                      "checkpoints": {k: str(v) for k, v in ckpts.items()}, "average_precision": out,
                      "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()

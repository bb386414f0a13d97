"""Does the LM learn frame look-up when every item is a fresh world? Text frames first, then video tokens.

    .venv/bin/python bench/fresh_lookup.py         # text + video, LM 4 x 128, frames 1 -> 2 -> 4 -> 8 -> 16, <= 10 min
    .venv/bin/python bench/fresh_lookup.py --quick # ~1 minute smoke run (LM 2 x 64, 1 -> 2 frames, 20 s per mode)
    .venv/bin/python bench/fresh_lookup.py --modes text --sizes 2x128,4x128 --frames 2 --budget-s 240
    .venv/bin/python bench/fresh_lookup.py --checkpoint CKPT     # a perception-pretrained base (the recipe's
      # `lvr recipe run configs/tiny/recipe-videolm.yaml workspace=WS --until base`); default:
      # workspaces/recipe-videolm's base, else a tower pretrained here with the recipe's perception code
      # (--tower-steps, cached under /tmp)

lvr.recipe.fresh_lookup: each training item comes from a newly simulated world (seeds >= 2**32, disjoint from the
corpus and perception seeds; 4 items per world) with jittered frame times and a 1-2 minute video, and asks what
the frame at one of its time stamps shows ("Where is the red robot at 00:35?"). The LM is random-init at each
LAYERSxWIDTH, batch 32, AdamW, loss on the answer only; mode `text` writes each frame as a line from the event
log, mode `video` renders it and feeds the frozen tower's cached features through the (trainable) projector.
Prints ONE JSON line: per mode and size the held-out accuracy at the frame counts every --eval-every steps (fresh
held-out worlds), the most-frequent-answer and random-frame baselines, the step of the phase change (accuracy
half-way from the better baseline to 100 %), seconds per step; and a linear read-out of the robots' zones from
the cached video tokens (is the fact in them?). docs/benchmarks.md has the results.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from lvr.model import load_model  # noqa: E402
from lvr.recipe.fresh_lookup import (  # noqa: E402
    FreshProbe,
    ProbeConfig,
    WorldSpec,
    probe_model,
    train_probe,
)
from lvr.recipe.fresh_lookup_tower import base_without_workspace, feature_readout, pretrain_tower  # noqa: E402


def err(s: str) -> None:
    print(s, file=sys.stderr, flush=True)


def find_checkpoint(a, spec: WorldSpec) -> tuple[Path, dict]:
    """--checkpoint, else the workspace's recipe base, else a tower pretrained here (cached)."""
    if a.checkpoint:
        return Path(a.checkpoint), {"source": "given"}
    state = Path(a.workspace) / "recipe" / "state.json"
    if state.is_file():
        return Path(a.workspace) / json.loads(state.read_text())["stages"]["base"]["path"], {"source": "workspace"}
    out = Path(a.tower_cache) / f"base-{a.tower_worlds}w-{a.tower_steps}s"
    if (out / "lvr_config.json").is_file():
        return out, json.loads((out / "tower_report.json").read_text())
    err(f"[fresh-lookup] no checkpoint: pretraining a tower ({a.tower_worlds} worlds, {a.tower_steps} steps) -> {out}")
    model = base_without_workspace(spec)
    rep = pretrain_tower(model, spec, worlds=a.tower_worlds, steps=a.tower_steps, log=err)
    rep = {"source": "pretrained here", "seconds": rep["seconds_with_data"], "steps": a.tower_steps,
           "worlds": a.tower_worlds, "robot_zone_accuracy": rep["after"]["robot_zone_accuracy"],
           "fact_ap": rep["after"]["fact_ap"]}
    model.save(out)
    (out / "tower_report.json").write_text(json.dumps(rep))
    return out, rep


def one_run(ckpt: Path, mode: str, size: str, a, spec: WorldSpec, budget_s: float) -> dict:
    layers, hidden = (int(x) for x in size.split("x"))
    model = probe_model(ckpt, layers=layers, hidden=hidden, clock_tokens=not a.no_clock_tokens,
                        clock_init=a.clock_init)
    cfg = ProbeConfig(frames=tuple(a.frames), advance_at=a.advance_at, batch_size=a.batch_size, lr=a.lr,
                      steps=a.steps, budget_s=budget_s, eval_every=a.eval_every, eval_items=a.eval_items,
                      items_per_world=a.items_per_world, text_share=a.text_share if mode == "video" else 0.0,
                      seed=a.seed)
    probe = FreshProbe(model, mode, spec, question_first=a.question_first, match_norm=a.match_norm, pool=a.pool,
                       time_embed=a.time_embed)
    rep = train_probe(probe, cfg, log=err)
    rep["lm"] = size
    rep["lm_parameters"] = sum(p.numel() for p in model.causal_lm.parameters())
    return rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--workspace", default="workspaces/recipe-videolm")
    ap.add_argument("--modes", default="text,video")
    ap.add_argument("--sizes", default="4x128", help="LAYERSxWIDTH, comma separated")
    ap.add_argument("--frames", default="1,2,4,8,16", help="frame-count curriculum (one number: none)")
    ap.add_argument("--advance-at", type=float, default=0.8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--budget-s", type=float, default=270.0, help="wall-clock seconds per run (mode x size)")
    ap.add_argument("--total-s", type=float, default=570.0, help="the runs share at most this, setup included")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-items", type=int, default=256)
    ap.add_argument("--items-per-world", type=int, default=4)
    ap.add_argument("--kinds", default="robot", help="questions: robot (zone), carrying, object (comma separated)")
    ap.add_argument("--question-first", action="store_true", help="the question before the frames")
    ap.add_argument("--match-norm", action="store_true", help="scale video tokens to the text embeddings' norm")
    ap.add_argument("--pool", action="store_true", help="video runs: one token per frame (its tokens averaged)")
    ap.add_argument("--text-share", type=float, default=0.0, help="video runs: share of each batch as text frames")
    ap.add_argument("--no-readout", dest="readout", action="store_false",
                    help="skip the linear read-out of the robots' zones from the cached video tokens")
    ap.add_argument("--no-clock-tokens", action="store_true", help="frame tags '<t=35.2s>' instead of '00:35'")
    ap.add_argument("--clock-init", default="random", choices=["random", "sinusoid"],
                    help="clock tokens' start: random rows, or sinusoidal codes of the second (near times alike)")
    ap.add_argument("--time-embed", action="store_true", help="video runs: add the frame's tag embedding to its tokens")
    ap.add_argument("--tower-cache", default="/tmp/lvr-fresh-lookup")
    ap.add_argument("--tower-worlds", type=int, default=1000)
    ap.add_argument("--tower-steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="LM 2 x 64, frames 1,2, 20 s per mode, 64 eval items")
    a = ap.parse_args()
    if a.quick:
        a.sizes, a.frames, a.budget_s, a.eval_every, a.eval_items = "2x64", "1,2", 20.0, 20, 64
        a.tower_worlds, a.tower_steps = 150, 150
    a.frames = [int(x) for x in str(a.frames).split(",")]
    torch.set_num_threads(a.threads)
    with contextlib.redirect_stdout(sys.stderr):     # libraries' warnings stay off the one JSON line
        out = run(a)
    print(json.dumps(out))


def run(a) -> dict:
    spec = WorldSpec(kinds=tuple(a.kinds.split(",")))
    t0 = time.perf_counter()
    ckpt, tower = find_checkpoint(a, spec)
    plan = [(mode, size) for mode in a.modes.split(",") for size in a.sizes.split(",")]
    runs = []
    for k, (mode, size) in enumerate(plan):          # within --total-s (a tower pretrained here eats into it)
        left = a.total_s - (time.perf_counter() - t0) - 20 * (len(plan) - k)
        runs.append(one_run(ckpt, mode, size, a, spec, max(10.0, min(a.budget_s, left / (len(plan) - k)))))
    readout = feature_readout(load_model(ckpt), spec, worlds=100 if a.quick else 400) if a.readout else None
    return {"checkpoint": str(ckpt), "tower": tower, "frames": a.frames, "batch_size": a.batch_size, "lr": a.lr,
            "budget_s": a.budget_s, "clock_tokens": not a.no_clock_tokens,
            "clock_init": a.clock_init, "time_embed": a.time_embed, "pool": a.pool, "kinds": list(spec.kinds),
            "question_first": a.question_first, "match_norm": a.match_norm, "text_share": a.text_share,
            "threads": a.threads, "seconds": round(time.perf_counter() - t0, 1), "readout": readout, "runs": runs}


if __name__ == "__main__":
    main()

"""Does the chat format slow the base video-LM stage down? The same look-ups asked three ways, same steps each.

    .venv/bin/python bench/videolm_layout.py                       # chat vs open vs question_first, 200 s each
    .venv/bin/python bench/videolm_layout.py --layouts chat,open --budget-s 120 --frames 1,2
    .venv/bin/python bench/videolm_layout.py --layouts chat --tags shown,hidden --budget-s 500 --frames 1,2,4

Each layout trains the recipe-videolm perception base's LM + projector (else a tower pretrained here, cached
under /tmp; the tower stays frozen; clock tags restarted as sinusoidal codes and frames stamped with them, as the
recipe does) on the same fresh-world stream (lvr.recipe.videolm, kinds time + last) for --budget-s seconds, and is
scored on the same held-out worlds:
  chat            the video, then the question and its four options (what CoT-SFT and evaluation use; baseline)
  open            the video, then the question alone: the answer is written out
  question_first  the question and its options, then the video
With --tags shown,hidden each layout also runs with the frames' tag tokens blanked once stamped on the frames
(`hide_frame_tags`): the question's time is then the only clock token in the text, where with the tags shown a
head that finds "the clock token" finds every frame's tag too.
Prints ONE JSON line: per layout the curve (held-out accuracy per frame count and kind every --eval-every
steps), the first step reading one frame at >= 0.9, and the time look-ups at the last check against reading a
random one of the frames. docs/benchmarks.md has the results.
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
from lvr.recipe.config import VideoLMStage  # noqa: E402
from lvr.recipe.fresh_lookup_tower import base_without_workspace, pretrain_tower  # noqa: E402
from lvr.recipe.videolm import VideoLMTrainer  # noqa: E402


def base_checkpoint(a) -> Path:
    """--checkpoint, else the workspace's recipe base, else a tower pretrained here (cached under /tmp)."""
    if a.checkpoint:
        return Path(a.checkpoint)
    state = Path(a.workspace) / "recipe" / "state.json"
    if state.is_file():
        return Path(a.workspace) / json.loads(state.read_text())["stages"]["base"]["path"]
    out = Path("/tmp/lvr-videolm-layout/base-1000w-2000s")
    if not (out / "lvr_config.json").is_file():
        print(f"[videolm-layout] no checkpoint: pretraining a tower -> {out}", file=sys.stderr)
        model = base_without_workspace()
        pretrain_tower(model, worlds=1000, steps=2000, log=lambda s: print(s, file=sys.stderr))
        model.projector.set_frame_merge("mean")
        model.save(out)
    return out


def one_layout(ckpt: Path, layout: str, tags: str, a) -> dict:
    model = load_model(ckpt)
    model.set_answer_format("text")
    if a.clock_tags:
        model.use_clock_tags(a.clock_tags, init="sinusoid")
        model.stamp_frame_times(hide_tags=tags == "hidden")
    name = layout if tags == "shown" else f"{layout}, frame tags hidden"
    cfg = VideoLMStage(steps=100_000, budget_s=a.budget_s, frames=a.frames, kinds=["time", "last"], layout=layout,
                       eval_every=a.eval_every, eval_items=a.eval_items, patience=a.patience, warmup_steps=100)
    t0 = time.perf_counter()
    rep = VideoLMTrainer(model, cfg, seed=a.seed).train(log=lambda s: print(f"[{name}] {s}", file=sys.stderr))
    read = next((r["step"] for r in rep["curve"] if r["acc"].get("1", 0) >= 0.9), None)
    last = rep["curve"][-1] if rep["curve"] else {}
    return {"layout": name, "steps": rep["steps"], "seconds": round(time.perf_counter() - t0, 1),
            "s_per_step": round(rep["seconds"] / max(1, rep["steps"]), 3), "reads_one_frame_at": read,
            "reached_frames": rep["reached_frames"], "final": rep["final"], "baselines": rep["baselines"],
            "last_check": last, "curve": [{k: r[k] for k in ("step", "frames", "acc", "kinds")} for r in rep["curve"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="a perception base (default: the workspace's recipe base)")
    ap.add_argument("--workspace", default="workspaces/recipe-videolm")
    ap.add_argument("--layouts", default="chat,open,question_first")
    ap.add_argument("--frames", default="1,2,4")
    ap.add_argument("--budget-s", type=float, default=200.0, help="training seconds per layout")
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--eval-items", type=int, default=256)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--clock-tags", type=int, default=300, help="sinusoidal clock tags + stamped frames (0: as saved)")
    ap.add_argument("--tags", default="shown", help="shown, hidden or both (shown,hidden): the frames' tag tokens "
                    "stay in the text, or are blanked once stamped on the frames (hide_frame_tags; needs --clock-tags)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    a.frames = [int(x) for x in a.frames.split(",")]
    torch.set_num_threads(a.threads)
    with contextlib.redirect_stdout(sys.stderr):
        ckpt = base_checkpoint(a)
        runs = [one_layout(ckpt, layout, tags, a) for layout in a.layouts.split(",") for tags in a.tags.split(",")]
    print(json.dumps({"checkpoint": str(ckpt), "budget_s": a.budget_s, "frames": a.frames, "threads": a.threads,
                      "runs": runs}))


if __name__ == "__main__":
    main()

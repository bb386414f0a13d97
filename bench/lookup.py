"""Can the recipe's LM read a fact from the video tokens? One frame (the baseline) vs the task's N frames.

    .venv/bin/python bench/lookup.py                       # workspaces/recipe-videolm, its base checkpoint
    .venv/bin/python bench/lookup.py --quick               # 150 steps, for a smoke run
    .venv/bin/python bench/lookup.py --workspace WS --checkpoint CKPT --frames 8 --steps 1500
    .venv/bin/python bench/lookup.py --clock-tokens --curriculum 600   # tags "00:35" as one token; read first
    .venv/bin/python bench/lookup.py --state --workspace WS --checkpoint CKPT   # "most of its time" / "last frame"
      # WS: a larger corpus, e.g. lvr recipe run configs/tiny/recipe.yaml workspace=WS data.videos=1000 --until data;
      # CKPT: the recipe's base checkpoint (two questions per robot and video need ~1,000 videos to learn from)

Trains the LM + projector of a fresh copy of the checkpoint twice on the same look-up questions
from the sft/rl videos (lvr.recipe.lookup: "Where is the red robot at 00:35?" about each of the N
uniformly sampled frames): once with only the frame a question asks about, once with all N frames,
where it must also pick the frame by its time stamp. Scores greedy exact-match answers on the eval
videos, per kind (robot zone, object place, what a robot carries). Prints ONE JSON line. The
recipe's workspace (make demo-train; docs/results-v1.md used the first recipe's) needs to exist.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lvr.model import load_model  # noqa: E402
from lvr.recipe.lookup import lookup_items, state_items, train_lookup  # noqa: E402
from lvr.store import Workspace  # noqa: E402


def base_checkpoint(ws: Workspace) -> Path:
    state = json.loads((ws.root / "recipe" / "state.json").read_text())
    return ws.root / state["stages"]["base"]["path"]


def majority(items) -> dict[str, float]:
    """Per kind: the share of the most frequent answer (a blind answerer's best)."""
    by_kind: dict[str, Counter] = {}
    for x in items:
        by_kind.setdefault(x.kind, Counter())[x.item.answer] += 1
    return {k: round(c.most_common(1)[0][1] / sum(c.values()), 4) for k, c in by_kind.items()}


def state(a, ws, ckpt, steps: int, n_test: int, out: dict) -> None:
    """--state: the same state questions at 2 frames (the baseline) and at --frames, each from the checkpoint."""
    for name, frames in (("two_frames", 2), ("n_frames", a.frames)):
        train = state_items(ws, splits=("sft", "rl"), num_frames=frames)
        test = state_items(ws, splits=("eval",), num_frames=frames)
        test = random.Random(1).sample(test, min(n_test, len(test)))
        out[name] = train_lookup(load_model(ckpt), ws, train, test, num_frames=frames, steps=steps,
                                 log=lambda s: print(s, file=sys.stderr, flush=True))
        out[name]["most_frequent_answer"] = majority(test)
    out["more_frames_gain"] = {k: round(out["n_frames"]["after"][k] - out["two_frames"]["after"][k], 4)
                               for k in out["n_frames"]["after"]}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", default="workspaces/recipe-videolm")
    ap.add_argument("--checkpoint", help="default: the recipe's base checkpoint in the workspace")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--test-items", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="150 steps, 100 test items")
    ap.add_argument("--clock-tokens", action="store_true",
                    help="frame tags as mm:ss, one token each, the same token as the question's time stamp")
    ap.add_argument("--state", action="store_true",
                    help="state questions instead (most time in a zone, zone in the last frame), 2 vs N frames")
    ap.add_argument("--curriculum", type=int, default=0, metavar="STEPS",
                    help="N-frame run only: first STEPS steps on the asked frame alone (read, then choose)")
    a = ap.parse_args()
    steps, n_test = (150, 100) if a.quick else (a.steps, a.test_items)
    torch.set_num_threads(a.threads)
    if not (Path(a.workspace) / "recipe" / "state.json").is_file():   # its corpus is a recipe's (make demo-train)
        print(json.dumps({"bench": "lookup", "measured": False,
                          "reason": f"no recipe run in {a.workspace}: run make demo-train, or pass --workspace"}))
        return
    ws = Workspace.open(a.workspace)
    ckpt = Path(a.checkpoint) if a.checkpoint else base_checkpoint(ws)
    out = {"workspace": str(ws.root), "checkpoint": str(ckpt), "frames": a.frames, "steps": steps,
           "clock_tokens": a.clock_tokens, "curriculum": a.curriculum, "state": a.state}
    if a.state:
        state(a, ws, ckpt, steps, n_test, out)
        return
    for name, single in (("one_frame", True), ("n_frames", False)):
        train = lookup_items(ws, splits=("sft", "rl"), num_frames=a.frames, single=single)
        test = lookup_items(ws, splits=("eval",), num_frames=a.frames, single=single)
        test = random.Random(1).sample(test, min(n_test, len(test)))
        if single:
            one_frame_train, one_frame_test = train, test
        model = load_model(ckpt)
        if a.clock_tokens:
            model.use_clock_tags(120)
        if a.curriculum and not single:          # read first (the one-frame arm's data), then choose
            out["curriculum_one_frame"] = train_lookup(model, ws, one_frame_train, one_frame_test,
                                                       num_frames=a.frames, single=True, steps=a.curriculum,
                                                       log=lambda s: None)["after"]
        out[name] = train_lookup(model, ws, train, test, num_frames=a.frames, single=single, steps=steps,
                                 log=lambda s: print(s, file=sys.stderr, flush=True))
    out["most_frequent_answer"] = majority(test)          # what answering without looking scores
    out["reads_one_frame_better_by"] = round(out["one_frame"]["after"]["all"] - out["n_frames"]["after"]["all"], 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

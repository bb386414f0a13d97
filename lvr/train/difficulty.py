"""Difficulty filtering for RL: k rollouts per item, pass rate, and always-right/always-wrong marks.

    rates = measure_pass_rates(ws, "sft-20261124-1530-3f2a", k=8, split="rl")   # {qa_id: pass rate}
    report = mark_difficulty(ws, rates, k=8)          # lvr.store.difficulty: qa.difficulty + meta flag
    lvr filter-difficulty WS --checkpoint C --k 8     # the same from the command line

Items whose k samples are all right or all wrong give GRPO a zero advantage for the whole group;
they are marked (never deleted) and GRPO skips them by default (`data.exclude_flags`). Sampling
goes through the same prompt building, rollout engine and accuracy reward as GRPO, so "right"
means exactly what the trainer rewards.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

import torch

from lvr.model import load_model
from lvr.mrsp.embedder import StepVideoEmbedder
from lvr.mrsp.rollout import RolloutRequest, SamplingParams, TransformersRollout
from lvr.store import Workspace
from lvr.store.difficulty import mark_difficulty

from .checkpoints import resolve_model
from .data import VideoFrames, load_items
from .rewards import accuracy
from .sequences import build_prompt


def measure_pass_rates(ws, checkpoint: str, *, k: int = 8, split: str | None = "rl",
                       statuses: Sequence[str] = ("approved", "pending"), num_frames: int = 8,
                       max_new_tokens: int = 256, temperature: float = 1.0, top_p: float = 1.0,
                       prompts_per_batch: int = 4, think: bool = True, limit: int | None = None,
                       device: str = "auto", seed: int = 0,
                       progress: Callable[[int, int], None] | None = None) -> dict[int, float]:
    """Sample `k` answers per item with `checkpoint`; returns the fraction judged correct."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    path, _ = resolve_model(ws, checkpoint)
    dev = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    model = load_model(path, device=dev)
    items = load_items(ws, split=split, statuses=statuses, max_items=limit)
    embedder = StepVideoEmbedder(model, VideoFrames(ws, num_frames=num_frames))
    engine = TransformersRollout(model)
    params = SamplingParams(n=k, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
    torch.manual_seed(seed)
    rates: dict[int, float] = {}
    for start in range(0, len(items), prompts_per_batch):
        chunk = items[start:start + prompts_per_batch]
        embedder.new_step()
        requests = []
        for item in chunk:
            p = build_prompt(model, item, embedder(item), think=think)
            requests.append(RolloutRequest(item.qa_id, f"q{item.qa_id}", p.inputs_embeds, p.position_ids, p.input_ids))
        samples = engine.generate(requests, params)
        by_id = {it.qa_id: it for it in chunk}
        scores = accuracy([s.text for s in samples], [by_id[s.qa_id].answer for s in samples],
                          [list(by_id[s.qa_id].options) for s in samples])
        right: dict[int, list[float]] = {}
        for s, score in zip(samples, scores):
            right.setdefault(s.qa_id, []).append(score or 0.0)
        for qa_id, vals in right.items():
            rates[qa_id] = sum(vals) / len(vals)
        if progress:
            progress(min(start + prompts_per_batch, len(items)), len(items))
    return rates


def filter_difficulty(ws, checkpoint: str, *, k: int = 8, who: str = "difficulty-filter", **kwargs):
    """Measure pass rates and mark the items (lvr.store.difficulty.mark_difficulty); returns its report."""
    rates = measure_pass_rates(ws, checkpoint, k=k, **kwargs)
    return mark_difficulty(ws, rates, k, who=who), rates


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lvr.train.difficulty", description=__doc__.split("\n")[0])
    p.add_argument("workspace")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--split", default="rl")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--limit", type=int, default=None)
    a = p.parse_args(argv)
    ws = Workspace.open(a.workspace)
    report, _ = filter_difficulty(ws, a.checkpoint, k=a.k, split=a.split, num_frames=a.frames,
                                  max_new_tokens=a.max_new_tokens, temperature=a.temperature, limit=a.limit,
                                  progress=lambda d, t: print(f"[difficulty] {d}/{t} items", flush=True))
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())

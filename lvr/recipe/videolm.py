"""Base video-LM stage: before any reasoning, the LM + projector learn what a video LM does (find a frame, read it,
compare frames) on freshly simulated worlds. It stands in for LongVILA, the video LM the paper starts from, as
perception pretraining stands in for SigLIP.

    from lvr.recipe.videolm import VideoLMTrainer, world_questions
    trainer = VideoLMTrainer(model, cfg, seed=0)  # cfg: lvr.recipe.config.VideoLMStage; model after perception
    report = trainer.train(log=print)             # trains model.llm + model.projector in place (tower frozen)
    world_questions(seed, spec, n_frames=8)       # one world's items, to look at

Every item is a multiple-choice question from `lvr.synth.fresh` (its docstring lists the kinds: look-ups by time
tag, first / last / most frames, counts, ...), asked in the chat format CoT-SFT and evaluation use (`videolm.layout`
chat: the video, then the question and four options; the target is the answer alone, `<answer>the hall</answer>`;
`lvr.train.lookups` builds the batches). Its answer is what the item's sampled frames show, read from the world's
event log at the frames' times.

Worlds come from `lvr.synth.fresh` (seeds >= 2**32, disjoint from the corpus's and the perception stage's
32-bit seeds; held-out worlds from 2**32 + 2**31), a few items per world, each with its own frame times (one per
N-th of the video, jittered on the fps grid, at distinct whole seconds). Frames are rendered straight from the
event log and encoded once by the frozen tower (`FeatureCache`); the projector makes the video tokens. A
frame-count curriculum (e.g. 1 -> 2 -> 4 -> 8) moves on when held-out accuracy at the current count reaches
`advance_at` or stops rising (`patience`, `min_gain`), replaying earlier counts in `replay` of the items.
Accuracy is the teacher-forced exact match of the answer tokens; baselines are the most frequent answer per kind
and reading a random one of the item's frames.

With `qa_share`, once the curriculum is at stage `qa_start`, that share of every step's items are the corpus's own
questions (lvr.synth.qa's templates: by event, states, order, in the four categories) asked on other fresh worlds
(seeds from QA_WORLD_SEEDS) and kept only where the drawn frames (`qa_frames`) answer them (`world_items`), answer
only. Their held-out score is reported twice: with each item's own frames and with another world's frames under
the same times (`with_other_frames`), so the gap is what the LM reads from the video rather than from the
question's text. docs/benchmarks.md has what it did (variant e).
"""
from __future__ import annotations

import random
import time
from dataclasses import replace

import torch

from lvr.synth.fresh import (  # noqa: F401  (re-exported: the stage's question source)
    HELD_OUT_SEEDS,
    TRAIN_SEEDS,
    VIDEOLM_KINDS,
    VideoQuestion,
    WorldSpec,
    held_out_questions,
    held_out_world_items,
    item_stream,
    question_stream,
    with_other_frames,
    world_items,
    world_questions,
)
from lvr.synth.fresh import question_baselines as baselines
from lvr.train.lookups import LookupBatches

from .fresh_lookup import kind_accuracy

QA_WORLD_SEEDS = TRAIN_SEEDS + 500_000_000     # the stage's corpus-question worlds (its look-ups' start at TRAIN_SEEDS)


def answer_only_items(seed: int, spec: WorldSpec, n_frames: int, count: int = 1, log=None) -> list:
    """`world_items` without their reasoning: the target is the answer alone."""
    return [replace(it, reasoning="") for it in world_items(seed, spec, n_frames, count, log=log)]


def held_out_qa(spec: WorldSpec, frame_counts, count: int) -> dict[int, list]:
    """Per frame count, `count` answer-only corpus questions on held-out worlds (apart from the look-ups' ones)."""
    return {n: [replace(it, reasoning="") for it in held_out_world_items(spec, n, count, HELD_OUT_SEEDS + 3_000_000)]
            for n in frame_counts}


class VideoLMTrainer:
    """Trains `model.llm` + `model.projector` on the fresh-world stream; the vision tower stays frozen."""

    def __init__(self, model, cfg, seed: int = 0, spec: WorldSpec | None = None, share_prefix: bool = True):
        self.model, self.cfg, self.seed = model, cfg, seed
        self.spec = spec or WorldSpec(minutes=tuple(cfg.minutes), kinds=("robot", "carrying", "object"),
                                      placement=cfg.placement)
        self.kinds = tuple(cfg.kinds)
        self.batches = LookupBatches(model, self.spec, cfg.cache_frames, share_prefix, layout=cfg.layout)
        self.cache = self.batches.cache

    def inputs(self, items: list[VideoQuestion]):
        """Right-padded chat inputs with labels on the answer (one frame count per call)."""
        return self.batches.inputs(items)

    def forward(self, items: list[VideoQuestion]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean answer-token loss, per-item exact match of the greedy answer tokens)."""
        return self.batches.forward(items)

    def accuracy(self, items: list[VideoQuestion], batch_size: int = 64) -> dict[str, float]:
        return kind_accuracy(self.model, self.forward, items, batch_size)

    def qa_accuracy(self, tests: dict[int, list]) -> dict[str, dict]:
        """Held-out corpus questions per frame count: accuracy with their own frames and with another world's."""
        return {str(n): {"own": self.accuracy(t)["all"], "other_frames": self.accuracy(with_other_frames(t))["all"]}
                for n, t in tests.items()}

    def _params(self) -> list:
        self.model.vision_tower.requires_grad_(False)
        for part in (self.model.llm, self.model.projector):
            part.requires_grad_(True)
        return [p for part in (self.model.llm, self.model.projector) for p in part.parameters()]

    def _advance(self, curve: list[dict], n: int) -> bool:
        """Move on from n frames when held-out accuracy at n reached `advance_at`, or stopped rising: no gain of
        `min_gain` over the best earlier check at n for `patience` checks (some facts read from a frame plateau
        below advance_at: the skill still to learn is choosing among more frames)."""
        cfg = self.cfg
        accs = [r["acc"][str(n)] for r in curve if r["frames"] == n]
        if accs[-1] >= cfg.advance_at:
            return True
        if len(accs) <= cfg.patience:
            return False
        best_before = max(accs[:-cfg.patience])
        return max(accs[-cfg.patience:]) < best_before + cfg.min_gain

    def train(self, log=print) -> dict:
        cfg, rng, first = self.cfg, random.Random(self.seed), TRAIN_SEEDS + self.seed * 10_000_000
        torch.manual_seed(self.seed)
        frames, stage = list(cfg.frames), 0

        def n_frames() -> int:
            return frames[stage] if stage == 0 or rng.random() >= cfg.replay else rng.choice(frames[:stage])

        stream = question_stream(self.spec, n_frames, self.kinds, start=first,
                                 items_per_world=cfg.items_per_world)
        n_qa = round(cfg.batch_size * cfg.qa_share)
        qa_first = QA_WORLD_SEEDS + self.seed * 10_000_000
        qa_stream = item_stream(self.spec, lambda: rng.choice(cfg.qa_frames), start=qa_first,
                                items_per_world=cfg.items_per_world, make=answer_only_items)
        qa_tests = held_out_qa(self.spec, cfg.qa_frames, cfg.eval_items) if n_qa else {}
        qa_last, qa_seen = qa_first, 0
        tests = held_out_questions(self.spec, frames, cfg.eval_items, self.kinds)
        floors = {n: baselines(t) for n, t in tests.items()}
        params = self._params()
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)))
        curve, step, seen, t0 = [], 0, 0, time.perf_counter()
        self.model.train()
        while step < cfg.steps and time.perf_counter() - t0 < cfg.budget_s:
            asked = [next(qa_stream) for _ in range(n_qa if stage >= cfg.qa_start else 0)]
            qa_last, qa_seen = max([qa_last] + [x.seed for x in asked]), qa_seen + len(asked)
            batch = [next(stream) for _ in range(cfg.batch_size - len(asked))] + asked
            groups: dict[int, list] = {}
            for x in batch:
                groups.setdefault(len(x.frames), []).append(x)
            loss = sum(self.forward(xs)[0] * len(xs) for xs in groups.values()) / len(batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step, seen = step + 1, seen + len(batch)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                upto = frames[min(stage + 1, len(frames) - 1)]
                kinds = {str(n): self.accuracy(t) for n, t in tests.items() if n <= upto}
                acc = {n: k["all"] for n, k in kinds.items()}
                row = {"step": step, "items": seen, "frames": frames[stage], "loss": round(float(loss.detach()), 4),
                       "acc": acc, "kinds": kinds[str(frames[stage])], "s": round(time.perf_counter() - t0, 1)}
                if qa_tests:
                    row["qa"] = self.qa_accuracy(qa_tests)
                curve.append(row)
                log(f"[videolm] step {step} frames {frames[stage]} loss {row['loss']} acc {acc} "
                    f"by kind {row['kinds']}" + (f" corpus questions {row['qa']}" if qa_tests else ""))
                if stage + 1 < len(frames) and self._advance(curve, frames[stage]):
                    stage += 1
        self.model.eval()
        final = {str(n): self.accuracy(t) for n, t in tests.items()}
        qa = {"share": cfg.qa_share, "from_frames": frames[cfg.qa_start], "items": qa_seen,
              "train_seeds": [qa_first, qa_last + 1], "final": self.qa_accuracy(qa_tests)} if qa_tests else None
        lookups = seen - qa_seen
        return {"steps": step, "items": seen, "worlds": lookups // cfg.items_per_world, "qa": qa,
                "seconds": round(time.perf_counter() - t0, 1), "reached_frames": frames[stage],
                "train_seeds": [first, first + lookups // cfg.items_per_world],
                "held_out_seeds": [HELD_OUT_SEEDS, HELD_OUT_SEEDS + cfg.eval_items],
                "baselines": {str(n): b for n, b in floors.items()}, "final": final, "curve": curve,
                "cache": {"hits": self.cache.hits, "misses": self.cache.misses}}

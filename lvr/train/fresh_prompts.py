"""GRPO prompts asked on fresh simulated worlds: a new world for every prompt, so RL learns the skill, not its prompts.

    fresh = FreshPrompts(cfg.fresh, num_frames=8, seed=0, base=VideoFrames(ws, num_frames=8))
    items = fresh.items([0, 1, 2, 3])          # TrainItems, one per fresh world, ids from FRESH_QA_IDS up
    frames = fresh                              # the trainer's frame source: rendered frames for fresh items,
    sampled = frames(items[0])                  #   the base VideoFrames for everything else

Each global prompt index k owns a block of world seeds (FRESH_RL_SEEDS + seed offset + k · QA_WORLDS); the first
world in it whose drawn frames answer one of the corpus's own questions (lvr.synth.fresh.world_items: the
lvr.synth.qa templates, the ideal reader's rule) gives the prompt. Items are a pure function of (seed, k), so the
ranks of an SP group build the same prompts without talking, and a resumed run draws the same worlds. The trainer
asks index k = step · prompts + j (lvr.train.grpo), so no two prompts of a run share a world.

A fresh item is a `TrainItem` whose video is the world's rendered frames: `video_path` is empty, `sha256` names the
world and its frame indices (the MR-SP embedding cache's content key), `meta` carries lvr.synth.qa's meta. The frame
source renders those frames straight from the event log (lvr.synth.render, as the perception and base stages see
them) at the drawn times; their embeddings go through the same MR-SP embedder as a video's (Stage-1 frame sharding,
the in-step cache shared by rollouts and log-prob passes) but never to the disk cache: each world is asked once.
Seeds: lvr.synth.fresh's training range; this block starts past the base stage's, CoT-SFT's replay's and its
corpus-style questions' (lvr.train.lookups) and below the held-out worlds (HELD_OUT_SEEDS = 2**32 + 2**31).
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np

from lvr.synth.fresh import HELD_OUT_SEEDS, WorldSpec, render_frames, world_items
from lvr.video import SampledFrames

from .data import TrainItem
from .lookups import QA_SEEDS, QA_WORLDS  # QA_WORLDS: worlds a prompt may try before giving up

FRESH_RL_SEEDS = QA_SEEDS + 400_000_000       # GRPO's worlds: past CoT-SFT's replay questions' block
FRESH_QA_IDS = 10 ** 12                       # fresh items' qa_ids: far above any workspace's ids
assert FRESH_RL_SEEDS + 10_000_000 * 10 + QA_WORLDS * 10 ** 6 < HELD_OUT_SEEDS


class FreshPrompts:
    """The fresh-world prompts of a GRPO run and the frame source that renders them (see module doc).
    `cfg`: lvr.train.configs.FreshPromptsConfig; `base`: the frame source of the split's videos."""

    def __init__(self, cfg, *, num_frames: int, seed: int, base, keep_worlds: int = 256):
        self.cfg, self.num_frames, self.base = cfg, int(num_frames), base
        self.world_spec = WorldSpec(minutes=tuple(cfg.minutes), size=int(cfg.size), placement=cfg.placement)
        self.start = FRESH_RL_SEEDS + int(seed) * 10_000_000
        self.worlds: OrderedDict[str, object] = OrderedDict()      # sha256 → WorldItem, newest last
        self.keep_worlds = keep_worlds

    def before(self, prompts: int, step: int) -> int:
        """How many of a replica's `prompts` per step came from fresh worlds in steps 0 … step - 1: the share of
        all of them, rounded down, so a share below one prompt a step still gets its worlds every few steps."""
        return math.floor(self.cfg.share * prompts * step + 1e-9)

    def per_step(self, prompts: int, step: int = 0) -> int:
        """How many of a replica's `prompts` at step `step` come from fresh worlds (over the steps: the share)."""
        return self.before(prompts, step + 1) - self.before(prompts, step)

    def items(self, indices) -> list[TrainItem]:
        """The prompts of global fresh indices `indices`, as TrainItems (their worlds kept for the frame source)."""
        return [self._item(int(k)) for k in indices]

    def _item(self, k: int) -> TrainItem:
        first = self.start + k * QA_WORLDS
        for seed in range(first, first + QA_WORLDS):
            found = world_items(seed, self.world_spec, self.num_frames)
            if found:
                return self._train_item(k, found[0])
        raise RuntimeError(f"fresh.share: no world of seeds {first}..{first + QA_WORLDS - 1} has a question its "
                           f"{self.num_frames} frames answer")

    def _train_item(self, k: int, w) -> TrainItem:
        sha = "fresh-" + hashlib.sha256(f"{w.seed}|{w.frames}|{self.world_spec}".encode()).hexdigest()[:40]
        self.worlds[sha] = w
        self.worlds.move_to_end(sha)
        while len(self.worlds) > self.keep_worlds:
            self.worlds.popitem(last=False)
        return TrainItem(qa_id=FRESH_QA_IDS + k, video_id=f"fresh-world-{w.seed}", video_path="", sha256=sha,
                         category=w.category, question=w.question, options=tuple(w.options), answer=w.answer,
                         reasoning=w.reasoning, meta=dict(w.meta, template=w.template, world_seed=w.seed))

    # ------------------------------------------------------------------ the frame source (VideoFrames' interface)
    def is_fresh(self, item) -> bool:
        return item.sha256 in self.worlds

    def persistent(self, item) -> bool:
        """Whether the item's embeddings belong in the disk cache (a fresh world is asked once: no)."""
        return not self.is_fresh(item)

    def spec(self, item):
        return self.base.spec(item)

    def key(self, item) -> str:
        return self.base.key(item)

    def __call__(self, item) -> SampledFrames:
        w = self.worlds.get(item.sha256)
        if w is None:
            return self.base(item)
        frames = np.stack(render_frames(w.log, self.world_spec.size, self.world_spec.fps, list(w.frames)))
        return SampledFrames(frames=frames, indices=list(w.frames), timestamps=[float(t) for t in w.times],
                             requested_times=[float(t) for t in w.times], source="render")

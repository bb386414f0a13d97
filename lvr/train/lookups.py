"""Training batches of fresh-world look-up questions (lvr.synth.fresh) for a video LM: chat inputs with the answer
as the only target, the loss, and teacher-forced exact match; the frozen tower's features are cached per frame.

    batches = LookupBatches(model, WorldSpec())          # model: a CompositeVideoLM with its tokenizer
    loss, ok = batches.forward(items)                    # one frame count per call; ok: exact match per item

Used by the base video-LM stage (lvr.recipe.videolm) and by CoT-SFT's replay of it (`replay.items`, lvr.train.sft);
the replay can also add corpus-style questions on fresh worlds with their frame-grounded reasoning as the target
(`replay.qa_items`, lvr.synth.fresh.world_items).
The system prompt every row shares runs once per batch (`shared_prefix_logits`, tested equal to the full rows).
"""
from __future__ import annotations

import random
from collections import OrderedDict

import numpy as np
import torch

from lvr.model.base import IGNORE_INDEX, collate
from lvr.model.prompting import answer_text, build_messages, format_target
from lvr.synth.fresh import TRAIN_SEEDS, WorldSpec, render_frames, world_items, world_questions

from .conclusions import ConclusionBatches
from .token_loss import answer_token_id, token_loss

REPLAY_SEEDS = TRAIN_SEEDS + 1_000_000_000   # CoT-SFT's replay worlds (the base stage's start at TRAIN_SEEDS)
QA_SEEDS = REPLAY_SEEDS + 500_000_000        # its corpus-style questions' worlds (held-out ones start at 2**31)
QA_WORLDS = 64                               # worlds a micro-batch may try for its qa_items (seeds apart per index)
TEXT_SEEDS = QA_SEEDS + 200_000_000          # its text-only conclusion questions' worlds (GRPO's start at +400M)


class FeatureCache:
    """The frozen tower's patch features per (world seed, frame index): rendered and encoded once."""

    def __init__(self, model, spec: WorldSpec, max_frames: int = 100_000):
        self.model, self.spec, self.max_frames = model, spec, max_frames
        self.store: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()
        self.hits = self.misses = 0

    def features(self, items: list) -> torch.Tensor:
        """[sum of frames, patches, C] in item and frame order."""
        todo: dict[int, tuple] = {}
        for it in items:
            for i in it.frames:
                if (it.seed, i) in self.store:
                    self.hits += 1
                else:
                    self.misses += 1
                    todo.setdefault(it.seed, (it.log, set()))[1].add(i)
        for seed, (log, want) in todo.items():
            frames = render_frames(log, self.spec.size, self.spec.fps, sorted(want))
            with torch.no_grad():
                feats = self.model.vision_features(self.model.preprocess(np.stack(frames))).to(torch.float16)
            for i, f in zip(sorted(want), feats):
                self.store[(seed, i)] = f
        while len(self.store) > self.max_frames:
            self.store.popitem(last=False)
        return torch.stack([self.store[(it.seed, i)] for it in items for i in it.frames]).float()


def plain_logits(lm, inputs, keep: int) -> torch.Tensor:
    """The last `keep` positions' logits of a right-padded batch, every row run in full."""
    return lm(inputs_embeds=inputs.inputs_embeds, position_ids=inputs.position_ids,
              attention_mask=inputs.attention_mask, use_cache=False, logits_to_keep=keep).logits


def shared_prefix_logits(lm, inputs, keep: int) -> torch.Tensor:
    """`plain_logits`, with the leading tokens every row shares (the chat's system prompt: about half of a look-up
    question's tokens) run once, as one row, and its keys/values repeated for the batch; gradients flow through it
    as through the full rows. Falls back to `plain_logits` when the rows share fewer than 8 tokens."""
    from transformers import DynamicCache

    emb, n = inputs.inputs_embeds, inputs.inputs_embeds.shape[0]
    same = (emb == emb[:1]).all(-1).all(0) & (inputs.attention_mask == 1).all(0)
    shared = min(int(same.int().cumprod(0).sum()), emb.shape[1] - keep)
    if n == 1 or shared < 8:
        return plain_logits(lm, inputs, keep)
    cache = DynamicCache()
    lm(inputs_embeds=emb[:1, :shared], position_ids=inputs.position_ids[:1, :shared], past_key_values=cache,
       use_cache=True, logits_to_keep=1)
    cache.batch_repeat_interleave(n)
    return lm(inputs_embeds=emb[:, shared:], position_ids=inputs.position_ids[:, shared:],
              attention_mask=inputs.attention_mask, past_key_values=cache, use_cache=True, logits_to_keep=keep).logits


LAYOUTS = ("chat", "open", "question_first")


def lookup_messages(it, layout: str, answer_format: str) -> list[dict]:
    """The chat of one look-up question, answer only (with its reasoning first when `it` has one: a WorldItem).
    `chat`: the video, then the question and its four options (the format CoT-SFT and evaluation use); `open`:
    no options, the answer written out; `question_first`: the question and options before the video."""
    reasoning = getattr(it, "reasoning", None) or None       # "": a WorldItem asked answer only
    think = reasoning is not None
    target = format_target(reasoning, answer_text(it.answer, it.options, answer_format), think=think)
    options = None if layout == "open" else list(it.options)
    messages = build_messages(it.question, options, think=think, answer_format=answer_format, target=target)
    if layout == "question_first":
        messages[1]["content"] = messages[1]["content"][::-1]
    return messages


class LookupBatches:
    """Turns `VideoQuestion`s into answer-only chat batches for `model` (in `layout`, LAYOUTS) and scores them."""

    def __init__(self, model, spec: WorldSpec, cache_frames: int = 100_000, share_prefix: bool = True,
                 layout: str = "chat", answer_weight: float = 1.0):
        if layout not in LAYOUTS:
            raise ValueError(f"look-up layout must be one of {LAYOUTS}, got {layout!r}")
        self.model, self.spec, self.share_prefix, self.layout = model, spec, share_prefix, layout
        self.answer_weight, self.answer_id = answer_weight, answer_token_id(model)
        self.cache = FeatureCache(model, spec, cache_frames)

    def inputs(self, items: list):
        """Right-padded chat inputs with labels on the answer (one frame count per call)."""
        m = self.model
        feats = self.cache.features(items)
        tokens = m.projector(feats.to(m.projector.fc1.weight.dtype)).flatten(0, 1)
        per = len(items[0].frames) * m.tokens_per_frame
        rows = []
        for j, it in enumerate(items):
            messages = lookup_messages(it, self.layout, m.answer_format)
            layout = m.video_layout(len(it.frames), None, it.times)
            rows.append(m.build_inputs(messages, tokens[j * per:(j + 1) * per], layout=layout, train=True))
        return collate(rows, padding_side="right", pad_token_id=m.tokenizer.pad_token_id or 0)

    def forward(self, items: list) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean answer-token loss, per-item exact match of the greedy answer tokens)."""
        inputs = self.inputs(items)
        labels = inputs.labels
        first = int((labels != IGNORE_INDEX).float().argmax(1).min())
        keep = labels.shape[1] - first + 1
        run = shared_prefix_logits if self.share_prefix else plain_logits
        logits = run(self.model.causal_lm, inputs, keep)[:, :-1].float()
        target = labels[:, first:]
        loss = token_loss(logits, target, self.answer_id, self.answer_weight)[0]
        ok = (logits.argmax(-1) == target) | (target == IGNORE_INDEX)
        return loss, ok.all(1)


class LookupReplay:
    """CoT-SFT's replay of the base video-LM stage: micro-batch `index` (counted over steps, accumulation and
    ranks) gets `cfg.items` look-up questions, each from its own fresh world, and `cfg.qa_items` corpus-style
    questions with their reasoning (one per fresh world, from worlds whose frames can answer one), so a resumed
    run replays the same worlds. `cfg`: lvr.train.configs.ReplayConfig; `lines`: their reasoning's layout
    (lvr.synth.visibility.FRAME_LINES, DataConfig.reasoning's frame-grounded choices)."""

    def __init__(self, model, cfg, seed: int = 0, answer_weight: float = 1.0, lines: str = "frames"):
        framed = cfg.items or cfg.qa_items
        if framed and (not hasattr(model, "projector") or not hasattr(model, "vision_features")):
            raise ValueError(f"replay.items and replay.qa_items need an lvr_composite model (a projector over vision "
                             f"features), got {type(model).__name__}")
        self.cfg, self.start = cfg, REPLAY_SEEDS + seed * 10_000_000
        self.qa_start = QA_SEEDS + seed * 10_000_000
        self.text_start = TEXT_SEEDS + seed * 10_000_000
        self.spec = WorldSpec(minutes=tuple(cfg.minutes), placement=cfg.placement)
        self.lines = lines
        frames = 4 * (cfg.items * max(cfg.frames) + cfg.qa_items * max(cfg.qa_frames))
        self.batches = LookupBatches(model, self.spec, cache_frames=frames, answer_weight=answer_weight) \
            if framed else None
        self.conclusions = ConclusionBatches(model, answer_weight)

    def items(self, index: int) -> list:
        first = self.start + index * self.cfg.items
        n_frames = random.Random(first).choice(self.cfg.frames)
        return [world_questions(first + j, self.spec, n_frames, kinds=tuple(self.cfg.kinds))[0]
                for j in range(self.cfg.items)]

    def qa_items(self, index: int) -> list:
        """Micro-batch `index`'s corpus-style questions: one per world, worlds tried in seed order."""
        return self._world_items(self.qa_start, index, self.cfg.qa_items, self.cfg.qa_frames, "qa_items")

    def text_items(self, index: int) -> list:
        """Micro-batch `index`'s text-only conclusion questions (lvr.train.conclusions), from their own worlds."""
        return self._world_items(self.text_start, index, self.cfg.text_items, self.cfg.text_frames, "text_items")

    def _world_items(self, start: int, index: int, count: int, frame_counts, name: str) -> list:
        first = start + index * count * QA_WORLDS
        n_frames = random.Random(first).choice(frame_counts)
        out = []
        for seed in range(first, first + count * QA_WORLDS):
            out += world_items(seed, self.spec, n_frames, lines=self.lines)
            if len(out) == count:
                return out
        raise RuntimeError(f"replay.{name}: only {len(out)} of {count} answerable questions in "
                           f"{count * QA_WORLDS} worlds at {n_frames} frames")

    def forward(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed mean losses of micro-batch `index`'s look-ups, corpus-style questions and text-only conclusions,
        exact match per item)."""
        cfg = self.cfg
        parts = [self.batches.forward(items) for items in
                 (self.items(index) if cfg.items else [], self.qa_items(index) if cfg.qa_items else []) if items]
        if cfg.text_items:
            parts.append(self.conclusions.forward(self.text_items(index)))
        return sum(p[0] for p in parts), torch.cat([p[1] for p in parts])

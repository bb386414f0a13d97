"""Base video-LM stage: before any reasoning, the LM + projector learn what a video LM does (find a frame, read it,
compare frames) on freshly simulated worlds. It stands in for LongVILA, the video LM the paper starts from, as
perception pretraining stands in for SigLIP.

    from lvr.recipe.videolm import VideoLMTrainer, world_questions
    trainer = VideoLMTrainer(model, cfg, seed=0)  # cfg: lvr.recipe.config.VideoLMStage; model after perception
    report = trainer.train(log=print)             # trains model.llm + model.projector in place (tower frozen)
    world_questions(seed, spec, n_frames=8)       # one world's items, to look at

Every item is a multiple-choice question in the chat format CoT-SFT and evaluation use (the video, then the
question and four options; the target is the answer alone, `<answer>the hall</answer>`). Its answer is what the
item's sampled frames show, read from the world's event log at the frames' times:

    time      "Where is the red robot at 00:35?"                 the zone on the frame tagged 00:35
    carrying  "What is the red robot carrying at 00:35?"          an object, or nothing
    object    "Where is the navy star at 00:35?"                  a zone, or "with the red robot"
    first     "Where is the red robot in the first frame?"
    last      "Where is the red robot in the last frame?"
    most      "Where is the red robot in most of the frames?"     (only when one zone is the most frequent)
    count     "In how many of the frames is the red robot in the hall?"

Worlds come from `lvr.recipe.fresh_lookup` (seeds >= 2**32, disjoint from the corpus's and the perception stage's
32-bit seeds; held-out worlds from 2**32 + 2**31), a few items per world, each with its own frame times (one per
N-th of the video, jittered on the fps grid, at distinct whole seconds). Frames are rendered straight from the
event log and encoded once by the frozen tower (`FeatureCache`); the projector makes the video tokens. A
frame-count curriculum (e.g. 1 -> 2 -> 4 -> 8) moves on when held-out accuracy at the current count reaches
`advance_at` or stops rising (`patience`, `min_gain`), replaying earlier counts in `replay` of the items.
Accuracy is the teacher-forced exact match of the answer tokens; baselines are the most frequent answer per kind
and reading a random one of the item's frames.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F

from lvr.model.base import IGNORE_INDEX, collate
from lvr.model.prompting import LETTERS, answer_text, build_messages, format_target
from lvr.synth.phrases import fmt_time

from .fresh_lookup import (
    HELD_OUT_SEEDS,
    TRAIN_SEEDS,
    FeatureCache,
    WorldSpec,
    frame_indices,
    fresh_world,
    held_out_items,
    item_stream,
    kind_accuracy,
)

VIDEOLM_KINDS = ("time", "carrying", "object", "first", "last", "most", "count")


@dataclass(frozen=True)
class VideoQuestion:
    seed: int
    frames: tuple[int, ...]          # frame indices on the fps grid
    times: tuple[float, ...]
    kind: str
    question: str
    options: tuple[str, ...]
    answer: str                      # the keyed letter
    per_frame: tuple[str, ...]       # the answer each single frame would give (the random-frame baseline)
    log: object = field(default=None, compare=False, repr=False)

    @property
    def answer_option(self) -> str:
        return self.options[LETTERS.index(self.answer)]


def _robot_zone(log, who, t):
    return f"the {log.zone_at(who, t)}"


def _carrying(log, who, t):
    held = log.carrying_at(who, t)
    return f"the {held.replace('-', ' ')}" if held else "nothing"


def _object_place(log, who, t):
    state = log.object_state_at(who, t)
    return f"the {state[1]}" if state[0] == "floor" else f"with the {state[1]} robot"


def _choices(log, kind: str) -> list[str]:
    """Every answer a question of `kind` can have in this world (distractors are drawn from it)."""
    zones = [f"the {z}" for z in log.zone_names]
    if kind == "carrying":
        return ["nothing"] + [f"the {o.replace('-', ' ')}" for o in log.object_ids]
    if kind == "object":
        return zones + [f"with the {a} robot" for a in log.agent_ids]
    return zones


def _ask(log, rng: random.Random, kind: str, times: tuple[float, ...]):
    """(question, answer, per-frame answers) for `kind`, or None when this world/frames cannot ask it."""
    robot = rng.choice(log.agent_ids)
    name = f"the {robot} robot"
    zones = tuple(_robot_zone(log, robot, t) for t in times)
    if kind in ("time", "carrying", "object"):
        k = rng.randrange(len(times))
        at = fmt_time(times[k])
        if kind == "time":
            return f"Where is {name} at {at}?", zones[k], zones
        if kind == "carrying":
            per = tuple(_carrying(log, robot, t) for t in times)
            return f"What is {name} carrying at {at}?", per[k], per
        seen = [o for o in log.object_ids if log.object_state_at(o, times[k])[0] in ("floor", "held")]
        if not seen:
            return None
        obj = rng.choice(seen)
        per = tuple(_object_place(log, obj, t) if log.object_state_at(obj, t)[0] in ("floor", "held")
                    else "(not visible)" for t in times)
        return f"Where is the {obj.replace('-', ' ')} at {at}?", per[k], per
    if kind == "first":
        return f"Where is {name} in the first frame?", zones[0], zones
    if kind == "last":
        return f"Where is {name} in the last frame?", zones[-1], zones
    counts = Counter(zones).most_common()
    if kind == "most":
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            return None
        return f"Where is {name} in most of the frames?", counts[0][0], zones
    zone = rng.choice(_choices(log, "time"))
    n = sum(z == zone for z in zones)
    return f"In how many of the frames is {name} in {zone}?", str(n), tuple(str(int(z == zone)) for z in zones)


def _options(rng: random.Random, answer: str, pool: list[str]) -> tuple[tuple[str, ...], str]:
    """Four options (the answer and three distractors from `pool`, shuffled) and the answer's letter."""
    others = [x for x in dict.fromkeys(pool) if x != answer]
    opts = [answer] + rng.sample(others, min(3, len(others)))
    rng.shuffle(opts)
    return tuple(opts), LETTERS[opts.index(answer)]


def world_questions(seed: int, spec: WorldSpec, n_frames: int, count: int = 1, kinds=VIDEOLM_KINDS,
                    log=None) -> list[VideoQuestion]:
    """`count` items from world `seed`, each with its own frame times and question (kinds drawn uniformly)."""
    log = log or fresh_world(seed, spec)
    rng = random.Random(seed * 31 + n_frames)
    out = []
    while len(out) < count:
        idx = frame_indices(rng, log.duration, n_frames, spec.fps)
        times = tuple(i / spec.fps for i in idx)
        kind = rng.choice(kinds)
        asked = _ask(log, rng, kind, times)
        if asked is None:
            continue
        question, answer, per = asked
        pool = [str(i) for i in range(n_frames + 1)] if kind == "count" else _choices(log, kind)
        options, letter = _options(rng, answer, pool)
        out.append(VideoQuestion(seed, tuple(idx), times, kind, question, options, letter, per, log))
    return out


def question_stream(spec: WorldSpec, n_frames, kinds, *, start: int, items_per_world: int):
    """`fresh_lookup.item_stream` of these questions: a fresh world every `items_per_world` items."""
    return item_stream(spec, n_frames, start=start, items_per_world=items_per_world,
                       make=partial(world_questions, kinds=kinds))


def held_out_questions(spec: WorldSpec, frame_counts, count: int, kinds) -> dict[int, list[VideoQuestion]]:
    """`fresh_lookup.held_out_items` of these questions (one per held-out world, the same worlds per count)."""
    return held_out_items(spec, frame_counts, count, make=partial(world_questions, kinds=kinds))


def baselines(test: list[VideoQuestion]) -> dict[str, float]:
    """most_frequent: the commonest answer text per kind (a blind answerer, fit on the test items themselves, so
    an upper bound for one); random_frame: what a random one of the item's frames answers."""
    common = {k: Counter(x.answer_option for x in test if x.kind == k).most_common(1)[0][0]
              for k in {x.kind for x in test}}
    mf = sum(x.answer_option == common[x.kind] for x in test) / len(test)
    rf = sum(sum(a == x.answer_option for a in x.per_frame) / len(x.per_frame) for x in test) / len(test)
    return {"most_frequent": round(mf, 4), "random_frame": round(rf, 4)}


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


class VideoLMTrainer:
    """Trains `model.llm` + `model.projector` on the fresh-world stream; the vision tower stays frozen."""

    def __init__(self, model, cfg, seed: int = 0, spec: WorldSpec | None = None, share_prefix: bool = True):
        self.model, self.cfg, self.seed = model, cfg, seed
        self.share_prefix = share_prefix      # the system prompt every row shares runs once per batch (same numbers)
        self.spec = spec or WorldSpec(minutes=tuple(cfg.minutes), kinds=("robot", "carrying", "object"))
        self.kinds = tuple(cfg.kinds)
        self.cache = FeatureCache(model, self.spec, cfg.cache_frames)

    def inputs(self, items: list[VideoQuestion]):
        """Right-padded chat inputs with labels on the answer (one frame count per call)."""
        m = self.model
        feats = self.cache.features(items)
        tokens = m.projector(feats.to(m.projector.fc1.weight.dtype)).flatten(0, 1)
        per = len(items[0].frames) * m.tokens_per_frame
        rows = []
        for j, it in enumerate(items):
            target = format_target(None, answer_text(it.answer, it.options, m.answer_format), think=False)
            messages = build_messages(it.question, list(it.options), think=False, answer_format=m.answer_format,
                                      target=target)
            layout = m.video_layout(len(it.frames), None, it.times)
            rows.append(m.build_inputs(messages, tokens[j * per:(j + 1) * per], layout=layout, train=True))
        return collate(rows, padding_side="right", pad_token_id=m.tokenizer.pad_token_id or 0)

    def forward(self, items: list[VideoQuestion]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean answer-token loss, per-item exact match of the greedy answer tokens)."""
        inputs = self.inputs(items)
        labels = inputs.labels
        first = int((labels != IGNORE_INDEX).float().argmax(1).min())
        keep = labels.shape[1] - first + 1
        run = shared_prefix_logits if self.share_prefix else plain_logits
        logits = run(self.model.causal_lm, inputs, keep)[:, :-1].float()
        target = labels[:, first:]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE_INDEX)
        ok = (logits.argmax(-1) == target) | (target == IGNORE_INDEX)
        return loss, ok.all(1)

    def accuracy(self, items: list[VideoQuestion], batch_size: int = 64) -> dict[str, float]:
        return kind_accuracy(self.model, self.forward, items, batch_size)

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
        tests = held_out_questions(self.spec, frames, cfg.eval_items, self.kinds)
        floors = {n: baselines(t) for n, t in tests.items()}
        params = self._params()
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)))
        curve, step, seen, t0 = [], 0, 0, time.perf_counter()
        self.model.train()
        while step < cfg.steps and time.perf_counter() - t0 < cfg.budget_s:
            batch = [next(stream) for _ in range(cfg.batch_size)]
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
                curve.append(row)
                log(f"[videolm] step {step} frames {frames[stage]} loss {row['loss']} acc {acc} "
                    f"by kind {row['kinds']}")
                if stage + 1 < len(frames) and self._advance(curve, frames[stage]):
                    stage += 1
        self.model.eval()
        final = {str(n): self.accuracy(t) for n, t in tests.items()}
        return {"steps": step, "items": seen, "worlds": seen // cfg.items_per_world,
                "seconds": round(time.perf_counter() - t0, 1), "reached_frames": frames[stage],
                "train_seeds": [first, first + seen // cfg.items_per_world],
                "held_out_seeds": [HELD_OUT_SEEDS, HELD_OUT_SEEDS + cfg.eval_items],
                "baselines": {str(n): b for n, b in floors.items()}, "final": final, "curve": curve,
                "cache": {"hits": self.cache.hits, "misses": self.cache.misses}}

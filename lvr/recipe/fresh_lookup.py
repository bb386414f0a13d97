"""Fresh-world look-up probe: does the LM learn to find a frame by its time stamp when no two items share a world?

    from lvr.recipe.fresh_lookup import FreshProbe, ProbeConfig, WorldSpec, probe_model, train_probe
    model = probe_model("ckpt/base", layers=4, hidden=128)   # the checkpoint's tower (frozen) + projector, a new LM
    probe = FreshProbe(model, mode="video", spec=WorldSpec(kinds=("robot",)))   # or mode="text"
    report = train_probe(probe, ProbeConfig(frames=(1, 2, 4, 8, 16), batch_size=32, budget_s=270))
    # report["curve"]: held-out accuracy per frame count every eval_every steps; bench/fresh_lookup.py runs it

Items come from freshly simulated worlds (lvr.synth; seeds >= 2**32, disjoint from the corpus's `derive_seed`
and the perception stage's `world_seed`, both 32-bit hashes; held-out worlds from 2**32 + 2**31 on), a few
items per world (`items_per_world`, each with its own frames and question: simulating is the cost). A world lasts
1-2 minutes (drawn per world); its N frames are drawn one per N-th of the video with random jitter on the 4 fps
grid (distinct whole seconds), so a frame's time tag says which frame it is. The question asks what the frame at
one of those times shows: "Where is the red robot at 00:35?" (its zone), "What is the red robot carrying at
00:35?", "Where is the navy star at 00:35?" (a zone, or "with the red robot"). Two input modes, one layout (time
tag, frame, ..., question, answer; `question_first` puts the question before the frames):
  text   each frame is a line written from the event log: "00:35 red robot kitchen with green key; white ball hall"
  video  each frame is rendered from the event log (`render_frames`) and encoded by the frozen vision tower; its
         patch features are cached per (world, frame), the projector (trainable) makes the video tokens.
The LM trains on the answer tokens only (AdamW, gradient norm clipped to 1). Accuracy is exact match of the greedy
answer (argmax at every answer position, teacher-forced: the same thing in one forward). A frame-count
curriculum (1 -> 2 -> 4 -> 8 -> 16) moves on when held-out accuracy at the current count reaches `advance_at`.
Baselines: the most frequent answer, and reading a random one of the item's frames (`random_frame`); the phase
change is the first step half-way from the better one to 100 %. Video-mode variants: `match_norm` (video tokens
scaled to the text embeddings' norm; the recipe's are ~25x longer), `time_embed` (the frame's time-tag embedding
added to its video tokens), `text_share` (part of each batch shown as text frames), `pool` (a frame's video tokens
averaged into one, so a frame is its tag and one token, as a text frame is its tag and a few words).
docs/benchmarks.md has results.
"""
from __future__ import annotations

import copy
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from lvr.model import load_model
from lvr.model.composite import CompositeVideoLM
from lvr.synth.fresh import (  # noqa: F401  (re-exported: the probe's world source)
    HELD_OUT_SEEDS,
    KINDS,
    TRAIN_SEEDS,
    WorldSpec,
    frame_indices,
    fresh_world,
    held_out_items,
    item_stream,
    render_frames,
)
from lvr.synth.phrases import fmt_time
from lvr.train.lookups import FeatureCache


@dataclass(frozen=True)
class Item:
    seed: int
    frames: tuple[int, ...]          # frame indices on the fps grid (frame i shows time i / fps)
    times: tuple[float, ...]
    kind: str
    question: str
    answer: str
    asked: int                       # which frame the question asks about
    per_frame: tuple[str, ...]       # the answer the question would have at each frame (for baselines)
    lines: tuple[str, ...]           # each frame as text (mode "text")
    log: object = field(default=None, compare=False, repr=False)


def frame_text(log, t: float, kinds=KINDS) -> str:
    """What the frame at t shows, from the event log: robots with their zone and load, objects on a floor (only
    what questions of `kinds` ask about: robot zones; + loads for carrying; + loads and objects for object)."""
    parts = []
    for a in log.agent_ids:
        held = log.carrying_at(a, t) if set(kinds) - {"robot"} else None
        parts.append(f"{a} robot {log.zone_at(a, t)}" + (f" with {held.replace('-', ' ')}" if held else ""))
    for o in log.object_ids if "object" in kinds else ():
        state = log.object_state_at(o, t)
        if state[0] == "floor":
            parts.append(f"{o.replace('-', ' ')} {state[1]}")
    return "; ".join(parts)


def _answer(log, kind: str, who: str, t: float) -> str:
    """What the frame at t answers ("(not visible)" for an object hidden or not there yet at t)."""
    if kind == "robot":
        return f"the {log.zone_at(who, t)}"
    if kind == "carrying":
        held = log.carrying_at(who, t)
        return f"the {held.replace('-', ' ')}" if held else "nothing"
    state = log.object_state_at(who, t)
    if state[0] not in ("floor", "held"):
        return "(not visible)"
    return f"the {state[1]}" if state[0] == "floor" else f"with the {state[1]} robot"


def _question(log, rng: random.Random, kinds, t: float) -> tuple[str, str, str]:
    """(kind, question, who) about time t; object questions only about an object visible then."""
    visible = [o for o in log.object_ids if log.object_state_at(o, t)[0] in ("floor", "held")]
    kind = rng.choice([k for k in kinds if k != "object" or visible])
    who = rng.choice(visible if kind == "object" else log.agent_ids)
    name = f"the {who} robot" if kind != "object" else f"the {who.replace('-', ' ')}"
    q = {"robot": f"Where is {name} at {fmt_time(t)}?", "carrying": f"What is {name} carrying at {fmt_time(t)}?",
         "object": f"Where is {name} at {fmt_time(t)}?"}[kind]
    return kind, q, who


def world_items(seed: int, spec: WorldSpec, n_frames: int, count: int = 1, log=None) -> list[Item]:
    """`count` items from world `seed`, each with its own frame times and question."""
    log = log or fresh_world(seed, spec)
    rng = random.Random(seed * 31 + n_frames)
    out = []
    for _ in range(count):
        idx = frame_indices(rng, log.duration, n_frames, spec.fps, spec.placement)
        times = tuple(i / spec.fps for i in idx)
        asked = rng.randrange(n_frames)
        kind, q, who = _question(log, rng, spec.kinds, times[asked])
        per = tuple(_answer(log, kind, who, t) for t in times)
        out.append(Item(seed, tuple(idx), times, kind, q, per[asked], asked, per,
                        tuple(frame_text(log, t, spec.kinds) for t in times), log))
    return out


class FreshProbe:
    """Turns items into LM batches (text or video frames) and scores them."""

    def __init__(self, model, mode: str = "video", spec: WorldSpec | None = None, cache_frames: int = 100_000,
                 question_first: bool = False, match_norm: bool = False, time_embed: bool = False,
                 pool: bool = False):
        if mode not in ("text", "video"):
            raise ValueError(f"mode must be text or video, got {mode!r}")
        self.model, self.mode, self.spec, self.question_first = model, mode, spec or WorldSpec(), question_first
        self.match_norm, self.video_scale = match_norm, None     # match_norm: video tokens as long as text ones
        self.time_embed = time_embed          # add the frame's time-tag embedding to each of its video tokens
        self.pool = pool                      # one video token per frame: the mean of its projector tokens
        self.tok = model.tokenizer
        self.cache = FeatureCache(model, self.spec, cache_frames) if mode == "video" else None

    def _enc(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False)

    def ids(self, it: Item) -> tuple[list[int], int]:
        """Token ids of one item (frames, question; or question, frames) and where its answer starts."""
        m = self.model
        if self.mode == "video" and self.pool:
            frames = [x for t in it.times for x in self._enc(m.options.timestamp_tag(t)) + [m.video_token_id]]
        elif self.mode == "video":
            frames = m._expand_video(m.video_layout(len(it.frames), timestamps=it.times))
        else:
            frames = [x for t, line in zip(it.times, it.lines)
                      for x in self._enc(m.options.timestamp_tag(t)) + self._enc(f" {line}\n")]
        q = self._enc(f"{it.question}\n")
        prompt = q + frames + self._enc("\n") if self.question_first else frames + self._enc("\n") + q
        return prompt + self._enc(it.answer) + [self.tok.convert_tokens_to_ids("<|im_end|>")], len(prompt)

    def batch(self, items: list[Item]):
        """(inputs_embeds, attention_mask, labels) right-padded."""
        rows = [self.ids(it) for it in items]
        length = max(len(r) for r, _ in rows)
        ids = torch.full((len(rows), length), self.tok.pad_token_id, dtype=torch.long)
        labels = torch.full_like(ids, -100)
        mask = torch.zeros_like(ids)
        for b, (r, start) in enumerate(rows):
            ids[b, :len(r)] = torch.tensor(r)
            labels[b, start:len(r)] = ids[b, start:len(r)]
            mask[b, :len(r)] = 1
        embeds = self.model.input_embeddings(ids)
        if self.mode == "video":
            tokens = self.model.projector(self.cache.features(items))
            tokens = tokens.mean(1) if self.pool else tokens.flatten(0, 1)
            if self.video_scale is None:          # fixed at the first batch: 1, or text-embedding / video-token norm
                emb = self.model.causal_lm.get_input_embeddings().weight.norm(dim=-1).mean()
                self.video_scale = float(emb / tokens.norm(dim=-1).mean()) if self.match_norm else 1.0
            tokens = tokens * self.video_scale
            if self.time_embed:
                tags = [self._enc(self.model.options.timestamp_tag(t)) for it in items for t in it.times]
                tag = torch.stack([self.model.input_embeddings(torch.tensor(x)).mean(0) for x in tags])
                tokens = tokens + tag.repeat_interleave(1 if self.pool else self.model.tokens_per_frame, 0)
            embeds = embeds.masked_scatter((ids == self.model.video_token_id).unsqueeze(-1), tokens.to(embeds.dtype))
        return embeds, mask, labels

    def forward(self, items: list[Item]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean answer-token loss, per-item exact match of the greedy answer)."""
        embeds, mask, labels = self.batch(items)
        first = int((labels != -100).float().argmax(1).min())
        pos = torch.arange(embeds.shape[1]).expand(len(items), -1)
        logits = self.model.causal_lm(inputs_embeds=embeds, attention_mask=mask, position_ids=pos, use_cache=False,
                                      logits_to_keep=embeds.shape[1] - first + 1).logits[:, :-1]
        target = labels[:, first:]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1), ignore_index=-100)
        ok = (logits.argmax(-1) == target) | (target == -100)
        return loss, ok.all(1)

    def accuracy(self, items: list[Item], batch_size: int = 64) -> dict[str, float]:
        return kind_accuracy(self.model, self.forward, items, batch_size)


def kind_accuracy(model, forward, items: list, batch_size: int = 64) -> dict[str, float]:
    """Share of `items` whose answer `forward(chunk) -> (loss, exact match per item)` gets right, per `item.kind`
    and "all", with `model` in eval mode and no gradients (its mode is restored)."""
    hits, total = Counter(), Counter()
    was = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(items), batch_size):
            chunk = items[i:i + batch_size]
            for it, ok in zip(chunk, forward(chunk)[1].tolist()):
                for key in (it.kind, "all"):
                    hits[key] += ok
                    total[key] += 1
    model.train(was)
    return {k: round(hits[k] / total[k], 4) for k in sorted(total)}


def baselines(train: list[Item], test: list[Item]) -> dict[str, float]:
    """most_frequent: the training sample's commonest answer per kind, scored on `test` (a blind answerer);
    random_frame: answering what a random frame of the item shows (reads a frame, but not the one asked)."""
    common = {k: Counter(x.answer for x in train if x.kind == k).most_common(1)[0][0]
              for k in {x.kind for x in train}}
    mf = np.mean([x.answer == common.get(x.kind) for x in test])
    rf = np.mean([np.mean([a == x.answer for a in x.per_frame]) for x in test])
    return {"most_frequent": round(float(mf), 4), "random_frame": round(float(rf), 4)}


def probe_model(checkpoint, *, layers: int = 4, hidden: int = 128, clock_tokens: bool = True,
                max_seconds: int = 130, init_std: float | None = None, seed: int = 0, clock_init: str = "random"):
    """The checkpoint's vision tower (frozen) and tokenizer around a new random-init LM of `layers` x `hidden`
    (the checkpoint LM's config otherwise, `init_std` its initializer_range: the recipe's 0.1 unless given); its
    projector too when the widths match, else a new one.
    `clock_tokens`: frame tags "00:35", one token each, the same token as the question's time (lookup.py);
    `clock_init`: their embeddings' start (`CompositeVideoLM.use_clock_tags`)."""
    base = load_model(checkpoint) if not hasattr(checkpoint, "causal_lm") else copy.deepcopy(checkpoint)
    cfg = copy.deepcopy(base.causal_lm.config)
    heads = max(1, hidden // 32)
    cfg.initializer_range = init_std or cfg.initializer_range
    cfg.update(dict(num_hidden_layers=layers, hidden_size=hidden, intermediate_size=2 * hidden,
                    num_attention_heads=heads, num_key_value_heads=max(1, heads // 2)))
    if getattr(cfg, "layer_types", None) is not None:
        cfg.layer_types = [cfg.layer_types[0]] * layers
    if hasattr(cfg, "head_dim"):
        cfg.head_dim = hidden // heads
    torch.manual_seed(seed)
    llm = AutoModelForCausalLM.from_config(cfg).float()
    model = CompositeVideoLM.around_llm(llm, base.vision_tower, {"pool_size": base.projector.config.pool_size},
                                        base.options, base.tokenizer)
    if base.projector.config.lm_hidden == hidden:
        model.projector.load_state_dict(base.projector.state_dict())
    if clock_tokens:
        model.use_clock_tags(max_seconds, init=clock_init)
    model.vision_tower.requires_grad_(False)
    return model


@dataclass
class ProbeConfig:
    frames: tuple[int, ...] = (1, 2, 4, 8, 16)  # curriculum (1: read the one frame; then choose); one entry: none
    advance_at: float = 0.8                   # held-out accuracy at the current count that moves on
    replay: float = 0.2                       # share of batches at an earlier count once moved on
    batch_size: int = 32
    lr: float = 1e-3
    steps: int = 3000
    budget_s: float = 300.0                   # wall-clock stop
    eval_every: int = 100
    eval_items: int = 256
    items_per_world: int = 4                  # items drawn from each fresh world (own frame times, question)
    text_share: float = 0.0                   # video mode: this share of each batch shown as text frames instead
    seed: int = 0


def phase_change(curve: list[dict], n: int, base: dict) -> int | None:
    """The first step at which held-out accuracy at n frames is half-way from the better baseline (reading a random
    frame, or with one frame the blind guess) to 100 %: the step at which it finds the frame asked about."""
    floor = base["most_frequent"] if base["random_frame"] >= 1 else max(base.values())
    return next((row["step"] for row in curve if row["acc"].get(str(n), 0.0) >= (floor + 1) / 2), None)


def train_probe(probe: FreshProbe, cfg: ProbeConfig, log=print) -> dict:
    """Train the LM (+ projector in video mode) on the stream; the learning curve on held-out worlds."""
    rng, t_setup = random.Random(cfg.seed), time.perf_counter()
    torch.manual_seed(cfg.seed)
    stage = 0

    def n_frames() -> int:                      # the current stage's count; after the first, some replay
        return cfg.frames[stage] if stage == 0 or rng.random() >= cfg.replay else rng.choice(cfg.frames[:stage])

    stream = item_stream(probe.spec, n_frames, items_per_world=cfg.items_per_world,
                         start=TRAIN_SEEDS + cfg.seed * 10_000_000, make=world_items)
    tests = held_out_items(probe.spec, cfg.frames, cfg.eval_items, make=world_items)
    sample = [x for k in range(300) for x in world_items(HELD_OUT_SEEDS - 1 - k, probe.spec, 2, count=8)]
    floors = {n: baselines(sample, t) for n, t in tests.items()}
    text = (FreshProbe(probe.model, "text", probe.spec, question_first=probe.question_first)
            if cfg.text_share and probe.mode == "video" else None)
    params = [p for p in probe.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    curve, seen, step, train_s = [], 0, 0, 0.0
    setup_s, t0 = round(time.perf_counter() - t_setup, 1), time.perf_counter()
    probe.model.train()
    while step < cfg.steps and time.perf_counter() - t0 < cfg.budget_s:
        n_now = cfg.frames[stage]
        batch_items = [next(stream) for _ in range(cfg.batch_size)]
        ts = time.perf_counter()
        groups: dict[tuple, list] = {}              # one forward per input mode and frame count (no padding across)
        for j, x in enumerate(batch_items):
            groups.setdefault((text is not None and j < cfg.text_share * len(batch_items), len(x.frames)), []).append(x)
        loss = sum((text if as_text else probe).forward(xs)[0] * len(xs)
                   for (as_text, _), xs in groups.items()) / len(batch_items)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        train_s += time.perf_counter() - ts
        step, seen = step + 1, seen + len(batch_items)
        if step % cfg.eval_every == 0:                  # held-out accuracy up to the next stage's frame count
            upto = cfg.frames[min(stage + 1, len(cfg.frames) - 1)]
            acc = {str(n): probe.accuracy(t)["all"] for n, t in tests.items() if n <= upto}
            lv = round(float(loss.detach()), 4)
            curve.append({"step": step, "items": seen, "frames": n_now, "loss": lv, "acc": acc,
                          "s": round(time.perf_counter() - t0, 1)})
            log(f"[fresh-lookup {probe.mode}] step {step} frames {n_now} loss {lv} acc {acc}")
            if acc[str(n_now)] >= cfg.advance_at and stage + 1 < len(cfg.frames):
                stage += 1
    final = {str(n): probe.accuracy(t) for n, t in tests.items()}
    wall = time.perf_counter() - t0
    return {"mode": probe.mode, "steps": step, "items": seen, "seconds": round(wall, 1), "setup_s": setup_s,
            "s_per_step": round(train_s / max(step, 1), 4), "wall_s_per_step": round(wall / max(step, 1), 4),
            "baselines": {str(n): b for n, b in floors.items()},
            "phase_change_step": {str(n): phase_change(curve, n, floors[n]) for n in cfg.frames},
            "final": final, "curve": curve, "final_text": {str(n): text.accuracy(t) for n, t in tests.items()}
            if text else None,
            "cache": {"hits": probe.cache.hits, "misses": probe.cache.misses} if probe.cache else None}

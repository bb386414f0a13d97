"""Perception pretraining of the tiny composite's vision tower and projector on synthetic frames.

    from lvr.recipe.perception import perception_data, pretrain_perception, world_perception_data
    val = perception_data(ws, grid=2, splits=("sft", "rl"), frames_per_video=16)   # grid² tokens per frame
    data = world_perception_data(world, 3000, grid=2, vocab=val.vocab)             # fresh simulated worlds
    report = pretrain_perception(model, data, val=val, steps=8000)   # trains model.vision_tower + projector

A real video LM starts from a vision tower pretrained on images and text (SigLIP, CLIP); the
recipe's tiny random-init tower has seen nothing. Measured on this machine (docs/results-v1.md), a
linear probe finds a robot's zone in its video tokens on 44 % of unseen frames (chance 25 %). This
stage stands in for that pretraining with synthetic ground truth. Frames are labelled from an event
log, token by token: each pooled video token covers a region of the frame, and learns what the zone
under it shows (its name, which robots are there and what they carry, which object colours and kinds
lie on its floor). One linear head is shared by all tokens, so the facts have to live in each token's
content, where the LM can find them by attention, not in its position. The head is dropped; the
tower and projector go on into CoT-SFT. The LM is not touched.

The frames come either from the corpus's training videos (never the held-out ones; 15 % of them
validate) or, better, from freshly simulated worlds rendered straight from their event logs, with
the corpus's training videos as validation: 90 videos overfit the tower, so small objects never
reached the tokens (average precision of the read-out for object colours 0.24, what a robot carries
0.05), where 3,000 fresh worlds at 112 px bring them to 0.88 and 0.70. The report gives, per kind
of fact, that average precision next to its base rate.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lvr.media import frame_spec, video_frames
from lvr.synth.eventlog import EventLog
from lvr.synth.render import Renderer
from lvr.synth.simulate import simulate
from lvr.train.engine import lr_lambda


@dataclass
class PerceptionData:
    frames: np.ndarray          # uint8 [N, H, W, 3]
    labels: np.ndarray          # float32 [N, T, V] multi-hot per video token (T = the model's tokens per frame)
    vocab: list[str]            # V label names ("zone kitchen", "red robot", "white object", "ball", …)
    video_of: np.ndarray        # int [N] video index (for a by-video validation split)


FACT_KINDS = ("robots", "carrying", "objects")


def cell_zones(log, grid: int) -> list[str]:
    """The zone under the centre of each cell of a grid × grid split of the frame (row-major, the order
    of a frame's pooled video tokens)."""
    out = []
    for r in range(grid):
        for c in range(grid):
            x, y = (c + 0.5) / grid, (r + 0.5) / grid
            out.append(next(z.name for z in log.layout.zones if z.contains(x, y)))
    return out


def zone_facts(log, t: float, kinds=FACT_KINDS) -> dict[str, set[str]]:
    """What each zone shows at time t, from the event log (the renderer draws the same): `robots` "red
    robot", `carrying` "red robot carries white", `objects` "white object" and "ball" for objects lying
    on its floor."""
    facts: dict[str, set[str]] = {z: {f"zone {z}"} for z in log.zone_names}
    for a in log.agent_ids:
        z = log.zone_at(a, t)
        if "robots" in kinds:
            facts[z].add(f"{a} robot")
        held = log.carrying_at(a, t) if "carrying" in kinds else None
        if held:
            facts[z].add(f"{a} robot carries {held.split('-')[0]}")
    for o in log.object_ids if "objects" in kinds else ():
        state = log.object_state_at(o, t)
        if state[0] == "floor":
            colour, kind = (o.split("-", 1) + [""])[:2]
            facts[state[1]].add(f"{colour} object")
            if kind:
                facts[state[1]].add(kind)
    return facts


def frame_facts(log, t: float, kinds=FACT_KINDS) -> set[str]:
    """Everything a frame at t shows, as "<fact> in <zone>" names (e.g. "red robot in kitchen")."""
    return {f"{f} in {z}" for z, fs in zone_facts(log, t, kinds).items() for f in fs if not f.startswith("zone ")}


def perception_data(ws, *, grid: int, splits=("sft", "rl"), frames_per_video: int = 24, size: int | None = None,
                    kinds=FACT_KINDS, vocab: list[str] | None = None) -> PerceptionData:
    """Uniformly sampled frames of every video with QA items in `splits`; each of a frame's grid × grid
    video tokens is labelled with what the zone under its region shows (`zone_facts`)."""
    if not kinds or set(kinds) - set(FACT_KINDS):
        raise ValueError(f"kinds must be a non-empty subset of {FACT_KINDS}, got {kinds}")
    spec = frame_spec(frames_per_video, resize=(size, size) if size else None, max_frames=frames_per_video)
    seen: dict[str, None] = {}
    for split in splits:
        for it in ws.iter_qa(split=split):
            seen.setdefault(it["video_id"], None)
    frames, per_token, video_of = [], [], []
    for k, vid in enumerate(seen):
        path = Path(ws.video_path(vid))
        log_path = path.with_name(path.name.removesuffix(".mp4") + ".events.json")
        if not log_path.is_file():
            raise FileNotFoundError(f"perception pretraining needs the synthetic event log {log_path} (lvr.synth)")
        log = EventLog.load(log_path)
        cells = cell_zones(log, grid)
        s = video_frames(str(path), spec, cache_dir=ws.frames_cache_dir)
        frames.append(np.asarray(s.frames))
        for t in s.timestamps:
            facts = zone_facts(log, t, kinds)
            per_token.append([facts[z] for z in cells])
        video_of += [k] * len(s.timestamps)
    if not frames:
        raise ValueError(f"no videos with QA items in splits {list(splits)}")
    return _perception_data(frames, per_token, video_of, vocab)


def world_seed(seed: int, index: int) -> int:
    """The seed of perception world `index` (a namespace apart from the corpus's `derive_seed`)."""
    return int.from_bytes(hashlib.sha256(f"lvr-perception:{seed}:{index}".encode()).digest()[:4], "big")


def world_perception_data(world, n_worlds: int, *, grid: int, frames_per_world: int = 16, seed: int = 0,
                          exclude=(), kinds=FACT_KINDS, vocab: list[str] | None = None) -> PerceptionData:
    """Frames of `n_worlds` freshly simulated worlds (the settings of `world`, a `WorldConfig`, with seeds
    from `world_seed`, skipping any in `exclude`: the corpus's own), rendered straight from their event
    logs and labelled like `perception_data`. A perception corpus as large as wanted, disjoint from the
    QA corpus, in the time the corpus takes to decode (1,500 worlds ≈ 25 s on one core)."""
    if set(kinds) - set(FACT_KINDS) or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {FACT_KINDS}, got {kinds}")
    rng = random.Random(seed)
    exclude = set(exclude)
    per_world = min(frames_per_world, max(1, round(world.duration * world.fps)))
    frames = np.empty((n_worlds * per_world, world.size, world.size, 3), np.uint8)   # filled in place: one copy
    per_token, video_of = [], []
    i = 0
    for k in range(n_worlds):
        while world_seed(seed, i) in exclude:
            i += 1
        log = simulate(dataclasses.replace(world, seed=world_seed(seed, i)))
        i += 1
        pick = set(rng.sample(range(max(1, round(world.duration * world.fps))), per_world))
        cells = cell_zones(log, grid)
        for j, frame in enumerate(Renderer(log, world.size).frames(world.fps, max(pick) + 1)):
            if j in pick:
                facts = zone_facts(log, j / world.fps, kinds)
                frames[len(per_token)] = frame
                per_token.append([facts[z] for z in cells])
                video_of.append(k)
    return _perception_data(frames, per_token, video_of, vocab)


def _perception_data(frames, per_token: list, video_of: list, vocab: list[str] | None) -> PerceptionData:
    """Multi-hot labels over `vocab` (default: every name seen; names outside a given vocab are dropped)."""
    vocab = vocab or sorted(set().union(*(f for row in per_token for f in row)))
    index = {name: i for i, name in enumerate(vocab)}
    labels = np.zeros((len(per_token), len(per_token[0]), len(vocab)), dtype=np.float32)
    for r, row in enumerate(per_token):
        for c, fs in enumerate(row):
            labels[r, c, [index[f] for f in fs if f in index]] = 1.0
    frames = frames if isinstance(frames, np.ndarray) else np.concatenate(frames)
    return PerceptionData(frames, labels, list(vocab), np.asarray(video_of))


def _agent_zone_accuracy(logits: torch.Tensor, data: PerceptionData, idx: np.ndarray) -> float:
    """Over every robot in every frame: does the token scoring it highest show the robot's zone?
    (chance: 1 / tokens per frame)"""
    labels = torch.from_numpy(data.labels[idx])
    hits = total = 0
    for i, name in enumerate(data.vocab):
        if fact_kind(name) == "robot":
            truth = labels[:, :, i]                                      # [n, T]
            has = truth.sum(1) > 0
            hits += int((truth.gather(1, logits[:, :, i].argmax(1, keepdim=True)).squeeze(1) > 0)[has].sum())
            total += int(has.sum())
    return hits / max(total, 1)


def fact_kind(name: str) -> str:
    """Which kind of fact a label is: zone, robot, carrying, colour (object lying there) or object kind."""
    if name.startswith("zone "):
        return "zone"
    if " carries " in name:
        return "carrying"
    if name.endswith(" robot"):
        return "robot"
    return "colour" if name.endswith(" object") else "kind"


def _average_precision(scores: torch.Tensor, truth: torch.Tensor) -> float:
    """Area under the precision-recall curve of one label (ranking, so no threshold; a random scorer gets
    the positive rate)."""
    hit = truth[scores.argsort(descending=True)].float()
    precision = hit.cumsum(0) / torch.arange(1, len(hit) + 1)
    return float((precision * hit).sum() / hit.sum())


def fact_average_precision(logits: torch.Tensor, labels: torch.Tensor, vocab: list[str]) -> dict:
    """Per fact kind: the mean average precision over its labels, and the mean positive rate (what a blind
    read-out would score). Tells which facts the video tokens carry, not just where the robots are."""
    out: dict[str, dict] = {}
    for i, name in enumerate(vocab):
        y = labels[..., i].reshape(-1) > 0
        if y.any() and not y.all():
            row = out.setdefault(fact_kind(name), {"ap": [], "base_rate": []})
            row["ap"].append(_average_precision(logits[..., i].reshape(-1), y))
            row["base_rate"].append(float(y.float().mean()))
    return {k: {"ap": round(float(np.mean(v["ap"])), 3), "base_rate": round(float(np.mean(v["base_rate"])), 3),
                "labels": len(v["ap"])} for k, v in out.items()}


def fit(params: list, opt, batch_loss, steps: int, *, tag: str, log=print, scheduler=None) -> float:
    """`steps` AdamW steps on `batch_loss()` with the gradient norm clipped to 1 (a line every 100 steps), and
    `scheduler.step()` after each when given; returns the seconds taken. The small training loop of the
    recipe's probes and pretraining stages."""
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        loss = batch_loss()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if scheduler is not None:
            scheduler.step()
        if step % 100 == 0 or step == steps:
            log(f"[{tag}] step {step}/{steps} loss {float(loss.detach()):.4f}")
    return time.perf_counter() - t0


def pretrain_perception(model, data: PerceptionData, *, val: PerceptionData | None = None, steps: int = 600,
                        batch_size: int = 32, lr: float = 1e-3, schedule: str = "constant", warmup_steps: int = 0,
                        val_fraction: float = 0.15, seed: int = 0, log=print) -> dict:
    """Train model.vision_tower + model.projector (and a throw-away linear head) on `data`, at peak `lr` with
    `schedule` after `warmup_steps` (lvr.train.engine.lr_lambda: constant, linear or cosine to zero).

    Validates on `val` (same vocab) when given, else on `val_fraction` of `data`'s videos (held out of
    training); returns the validation figures before and after (BCE loss, exact-label accuracy,
    robot-zone accuracy, average precision per fact kind) and the seconds taken."""
    gen = torch.Generator().manual_seed(seed)
    if val is None:
        rnd = random.Random(seed)
        videos = sorted(set(data.video_of.tolist()))
        rnd.shuffle(videos)
        val_videos = set(videos[:max(1, int(len(videos) * val_fraction))])
        is_val = np.isin(data.video_of, list(val_videos))
        tr_idx, va_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        val = data
    else:
        if val.vocab != data.vocab:
            raise ValueError("val and data must share one vocab (pass vocab=data.vocab when building val)")
        tr_idx, va_idx = np.arange(len(data.frames)), np.arange(len(val.frames))
    labels, val_labels = torch.from_numpy(data.labels), torch.from_numpy(val.labels)
    tokens = model.tokens_per_frame
    if labels.shape[1] != tokens:
        raise ValueError(f"labels are for {labels.shape[1]} tokens per frame, the model makes {tokens}")
    d = model.projector.fc2.out_features
    head = torch.nn.Linear(d, labels.shape[2])          # shared by every token: content, not position
    params = [p for m in (model.vision_tower, model.projector) for p in m.parameters()]
    was = {id(p): p.requires_grad for p in params}
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params + list(head.parameters()), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(lr_lambda, total_steps=steps, warmup_steps=warmup_steps,
                                                           schedule=schedule, min_lr_ratio=0.0))

    def forward(idx, source: PerceptionData = data) -> torch.Tensor:
        emb = model.encode_frames(source.frames[idx]).float()
        return head(emb.view(len(idx), tokens, d))

    def evaluate() -> dict:
        model.eval()
        with torch.no_grad():
            logits = torch.cat([forward(va_idx[i:i + 128], val) for i in range(0, len(va_idx), 128)])
        model.train()
        y = val_labels[va_idx]
        return {"loss": round(float(F.binary_cross_entropy_with_logits(logits, y)), 4),
                "label_accuracy": round(float(((logits > 0).float() == y).float().mean()), 4),
                "robot_zone_accuracy": round(_agent_zone_accuracy(logits, val, va_idx), 4),
                "fact_ap": fact_average_precision(logits, y, data.vocab)}

    before = evaluate()
    model.train()

    def batch_loss() -> torch.Tensor:
        idx = tr_idx[torch.randint(len(tr_idx), (batch_size,), generator=gen).numpy()]
        return F.binary_cross_entropy_with_logits(forward(idx), labels[idx])

    seconds = fit(params, opt, batch_loss, steps, tag="perception", log=log, scheduler=sched)
    after = evaluate()
    model.eval()
    for p in params:
        p.requires_grad_(was[id(p)])
    return {"frames": int(len(tr_idx)), "val_frames": int(len(va_idx)), "labels": len(data.vocab), "steps": steps,
            "seconds": round(seconds, 1), "before": before, "after": after}

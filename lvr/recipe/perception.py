"""Perception pretraining of the tiny composite's vision tower and projector on synthetic frames.

    from lvr.recipe.perception import perception_data, pretrain_perception
    data = perception_data(ws, splits=("sft", "rl"), frames_per_video=24)
    report = pretrain_perception(model, data, steps=600)     # trains model.vision_tower + model.projector

A real video LM starts from a vision tower pretrained on images and text (SigLIP, CLIP); the
recipe's tiny random-init tower has seen nothing. Measured on this machine (docs/results.md), its
video tokens carry no usable trace of where a robot is: a linear probe on them, and the whole
model fine-tuned on "in which zone is the red robot?", both stay at chance. This stage stands in
for that pretraining with the synthetic corpus's ground truth. Frames of the training videos
(never the held-out ones) are labelled from each video's event log with what the frame shows: which
robot is in which zone, which object colours and kinds lie on each zone's floor, and who carries
what. A linear head on the frame's video tokens learns the labels with binary cross-entropy; the
head is then dropped and the tower and projector go on into CoT-SFT. The LM is not touched.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class PerceptionData:
    frames: np.ndarray          # uint8 [N, H, W, 3]
    labels: np.ndarray          # float32 [N, V] multi-hot
    vocab: list[str]            # V label names ("red robot in kitchen", "white object in hall", …)
    video_of: np.ndarray        # int [N] video index (for a by-video validation split)


FACT_KINDS = ("robots", "carrying", "objects")


def frame_facts(log, t: float, kinds=FACT_KINDS) -> set[str]:
    """What a frame at time t shows, as label names, from the event log (the renderer draws the same):
    `robots` "red robot in kitchen", `carrying` "red robot carries white", `objects` "white object in
    hall" and "ball in hall" for objects lying on a floor."""
    facts = set()
    for a in log.agent_ids:
        if "robots" in kinds:
            facts.add(f"{a} robot in {log.zone_at(a, t)}")
        held = log.carrying_at(a, t) if "carrying" in kinds else None
        if held:
            facts.add(f"{a} robot carries {held.split('-')[0]}")
    for o in log.object_ids if "objects" in kinds else ():
        state = log.object_state_at(o, t)
        if state[0] == "floor":
            colour, kind = (o.split("-", 1) + [""])[:2]
            facts.add(f"{colour} object in {state[1]}")
            if kind:
                facts.add(f"{kind} in {state[1]}")
    return facts


def perception_data(ws, *, splits=("sft", "rl"), frames_per_video: int = 24, size: int | None = None,
                    kinds=FACT_KINDS) -> PerceptionData:
    """Uniformly sampled frames of every video with QA items in `splits`, labelled by `frame_facts`."""
    if not kinds or set(kinds) - set(FACT_KINDS):
        raise ValueError(f"kinds must be a non-empty subset of {FACT_KINDS}, got {kinds}")
    from lvr.synth.eventlog import EventLog
    from lvr.video import FrameCache, SamplingSpec, cached_sample

    cache = FrameCache(ws.frames_cache_dir)
    spec = SamplingSpec(mode="exact", num_frames=frames_per_video, resize=(size, size) if size else None,
                        max_frames=frames_per_video)
    seen: dict[str, None] = {}
    for split in splits:
        for it in ws.iter_qa(split=split):
            seen.setdefault(it["video_id"], None)
    frames, facts, video_of = [], [], []
    for k, vid in enumerate(seen):
        path = Path(ws.video_path(vid))
        log_path = path.with_name(path.name.removesuffix(".mp4") + ".events.json")
        if not log_path.is_file():
            raise FileNotFoundError(f"perception pretraining needs the synthetic event log {log_path} (lvr.synth)")
        log = EventLog.load(log_path)
        s = cached_sample(str(path), spec, cache)
        frames.append(np.asarray(s.frames))
        facts += [frame_facts(log, t, kinds) for t in s.timestamps]
        video_of += [k] * len(s.timestamps)
    if not frames:
        raise ValueError(f"no videos with QA items in splits {list(splits)}")
    vocab = sorted(set().union(*facts))
    index = {name: i for i, name in enumerate(vocab)}
    labels = np.zeros((len(facts), len(vocab)), dtype=np.float32)
    for r, fs in enumerate(facts):
        labels[r, [index[f] for f in fs]] = 1.0
    return PerceptionData(np.concatenate(frames), labels, vocab, np.asarray(video_of))


def _agent_zone_accuracy(logits: torch.Tensor, labels: torch.Tensor, vocab: list[str]) -> float:
    """Over every robot: is the zone with the highest score the robot's zone? (chance 1 / zones)"""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(vocab):
        if " robot in " in name:
            groups.setdefault(name.split(" robot in ")[0], []).append(i)
    hits = total = 0
    for cols in groups.values():
        truth = labels[:, cols]
        has = truth.sum(1) > 0
        hits += int((logits[:, cols].argmax(1) == truth.argmax(1))[has].sum())
        total += int(has.sum())
    return hits / max(total, 1)


def pretrain_perception(model, data: PerceptionData, *, steps: int = 600, batch_size: int = 32, lr: float = 1e-3,
                        val_fraction: float = 0.15, seed: int = 0, log=print) -> dict:
    """Train model.vision_tower + model.projector (and a throw-away linear head) on `data`.

    Videos are split into train / validation by `val_fraction`; returns the validation figures
    before and after (BCE loss, exact-label accuracy, robot-zone accuracy) and the seconds taken."""
    gen = torch.Generator().manual_seed(seed)
    rnd = random.Random(seed)
    videos = sorted(set(data.video_of.tolist()))
    rnd.shuffle(videos)
    val_videos = set(videos[:max(1, int(len(videos) * val_fraction))])
    is_val = np.isin(data.video_of, list(val_videos))
    tr_idx, va_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    labels = torch.from_numpy(data.labels)
    tokens = model.tokens_per_frame
    d = model.projector.fc2.out_features
    head = torch.nn.Linear(tokens * d, labels.shape[1])
    params = [p for m in (model.vision_tower, model.projector) for p in m.parameters()]
    was = {id(p): p.requires_grad for p in params}
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params + list(head.parameters()), lr=lr, weight_decay=0.0)

    def forward(idx) -> torch.Tensor:
        emb = model.encode_frames(data.frames[idx]).float()
        return head(emb.view(len(idx), tokens * d))

    def evaluate() -> dict:
        model.eval()
        with torch.no_grad():
            logits = torch.cat([forward(va_idx[i:i + 128]) for i in range(0, len(va_idx), 128)])
        model.train()
        y = labels[va_idx]
        return {"loss": round(float(F.binary_cross_entropy_with_logits(logits, y)), 4),
                "label_accuracy": round(float(((logits > 0).float() == y).float().mean()), 4),
                "robot_zone_accuracy": round(_agent_zone_accuracy(logits, y, data.vocab), 4)}

    before = evaluate()
    t0 = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        idx = tr_idx[torch.randint(len(tr_idx), (batch_size,), generator=gen).numpy()]
        loss = F.binary_cross_entropy_with_logits(forward(idx), labels[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 100 == 0 or step == steps:
            log(f"[perception] step {step}/{steps} loss {float(loss.detach()):.4f}")
    seconds = time.perf_counter() - t0
    after = evaluate()
    model.eval()
    for p in params:
        p.requires_grad_(was[id(p)])
    return {"frames": int(len(tr_idx)), "val_frames": int(len(va_idx)), "labels": len(data.vocab), "steps": steps,
            "seconds": round(seconds, 1), "before": before, "after": after}

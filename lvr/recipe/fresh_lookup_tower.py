"""The tower side of the fresh-world look-up probe (lvr.recipe.fresh_lookup): a perception-pretrained tower when no
checkpoint exists, and a linear read-out of what the cached video tokens carry.

    model = base_without_workspace()                  # the recipe's tiny composite, tokenizer from probe texts
    pretrain_tower(model, worlds=1000, steps=2000)    # the recipe's perception stage (perception.py), in place
    feature_readout(model)   # {"tokens": {"robot_zone": 0.96, ...}, "patches_pooled": {...}, "chance": 0.25}
"""
from __future__ import annotations

import random
import time

import torch
import torch.nn.functional as F

from lvr.synth.config import WorldConfig
from lvr.synth.fresh import HELD_OUT_SEEDS, WorldSpec, fresh_world
from lvr.train.lookups import FeatureCache

from .config import ModelStage
from .fresh_lookup import Item, world_items
from .perception import cell_zones, pretrain_perception, world_perception_data, zone_facts
from .stages import build_model


class _ProbeTexts:
    """Stands in for a workspace in stages.build_model: the probe's own questions and frame lines train the BPE."""

    def __init__(self, spec: WorldSpec, worlds: int = 40):
        self.items = [x for k in range(worlds) for x in world_items(HELD_OUT_SEEDS - 5000 - k, spec, 8, count=4)]

    def iter_qa(self, split: str):
        for x in self.items if split == "sft" else ():
            yield {"question": x.question + " " + " ".join(x.lines), "options": [], "reasoning": x.answer}


def base_without_workspace(spec: WorldSpec | None = None, *, vocab_size: int = 3000, image_size: int = 112):
    """A tiny composite as the recipe's base stage builds it (configs/tiny/recipe.yaml model settings), its
    tokenizer trained on probe texts instead of a corpus: for tests and for a tower when no checkpoint exists."""
    return build_model(ModelStage(vocab_size=vocab_size, image_size=image_size), _ProbeTexts(spec or WorldSpec()))


def pretrain_tower(model, spec: WorldSpec | None = None, *, worlds: int = 1000, steps: int = 2000, log=print) -> dict:
    """The recipe's perception stage (perception.py: fresh worlds, per-token zone facts) on `model` in place."""
    spec = spec or WorldSpec()
    world = WorldConfig(minutes=1.0, fps=spec.fps, size=spec.size, difficulty=spec.difficulty)
    t0 = time.perf_counter()
    data = world_perception_data(world, worlds, grid=model.projector.config.pool_size, seed=0)
    rep = pretrain_perception(model, data, steps=steps, log=log)
    rep["seconds_with_data"] = round(time.perf_counter() - t0, 1)
    return rep


def feature_readout(model, spec: WorldSpec | None = None, *, worlds: int = 400, frames_per_world: int = 4,
                    steps: int = 300, seed: int = 0) -> dict:
    """Is a robot's zone in the video tokens? A linear head shared by a frame's tokens (as in perception.py) reads
    from each token the zone under it and which robots stand there; a robot's zone is then the zone the head reads
    from the token it scores the robot highest on. Fitted on 80 % of fresh worlds' frames, scored on the other
    20 % (their own worlds), from the projector's tokens (what the LM sees) and from the tower's patch features
    pooled to the same grid. A head over a frame's concatenated tokens would have to point, which is not linear."""
    spec = spec or WorldSpec()
    cache, rng, grid = FeatureCache(model, spec), random.Random(seed), model.projector.config.pool_size
    items, zones, robots = [], [], []
    for k in range(worlds):
        log = fresh_world(HELD_OUT_SEEDS + 200_000 + k, spec)
        idx = sorted(rng.sample(range(round(log.duration * spec.fps)), frames_per_world))
        items.append(Item(log.seed, tuple(idx), tuple(i / spec.fps for i in idx), "", "", "", 0, (), (), log))
        cells = cell_zones(log, grid)
        for i in idx:
            facts = zone_facts(log, i / spec.fps, ("robots",))
            zones.append(cells)
            robots.append([[f"{a} robot" in facts[z] for a in log.agent_ids] for z in cells])
    names = sorted({z for row in zones for z in row})
    y_zone = torch.tensor([[names.index(z) for z in row] for row in zones])       # [N, T]
    y_robot = torch.tensor(robots, dtype=torch.float32)                           # [N, T, agents]
    with torch.no_grad():
        feats = cache.features(items)
        pooled = F.adaptive_avg_pool2d(feats.transpose(1, 2).reshape(len(feats), feats.shape[2], *[
            int(feats.shape[1] ** 0.5)] * 2), grid).flatten(2).transpose(1, 2)
        inputs = {"tokens": model.projector(feats), "patches_pooled": pooled}
    split = int(0.8 * worlds) * frames_per_world
    out = {"frames": len(feats), "chance": round(1 / len(names), 3)}
    for name, x in inputs.items():
        out[name] = _token_readout(x, y_zone, y_robot, split, len(names), steps)
    return out


def _token_readout(x, y_zone, y_robot, split: int, n_zones: int, steps: int) -> dict:
    x = (x - x[:split].mean((0, 1))) / (x[:split].std((0, 1)) + 1e-5)
    head = torch.nn.Linear(x.shape[-1], n_zones + y_robot.shape[-1])
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-2)
    for _ in range(steps):
        z = head(x[:split])
        loss = (F.cross_entropy(z[..., :n_zones].flatten(0, 1), y_zone[:split].flatten())
                + F.binary_cross_entropy_with_logits(z[..., n_zones:], y_robot[:split]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z = head(x[split:])
    zone_of_token = z[..., :n_zones].argmax(-1)                                   # [n, T]
    best = z[..., n_zones:].argmax(1)                                              # [n, agents]: token per robot
    pred = zone_of_token.gather(1, best)
    truth = y_zone[split:].gather(1, y_robot[split:].argmax(1))
    return {"robot_zone": round(float((pred == truth).float().mean()), 4),
            "token_zone_name": round(float((zone_of_token == y_zone[split:]).float().mean()), 4),
            "robot_cell": round(float((y_robot[split:].gather(1, best.unsqueeze(1)) > 0).float().mean()), 4)}

"""Perception pretraining of the tiny tower on labelled synthetic frames (lvr.recipe.perception)."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lvr.recipe.perception import (
    cell_zones,
    fact_average_precision,
    frame_facts,
    perception_data,
    pretrain_perception,
    world_perception_data,
    world_seed,
    zone_facts,
)
from lvr.recipe.stages import build_model
from lvr.synth.config import WorldConfig
from lvr.synth.eventlog import EventLog
from lvr.synth.render import frames
from lvr.synth.simulate import simulate

from .test_stages import _recipe


def test_frame_facts_follow_the_event_log(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    vid = next(r.ws.iter_qa(split="sft"))["video_id"]
    path = r.ws.video_path(vid)
    log = EventLog.load(path.with_name(path.name.removesuffix(".mp4") + ".events.json"))
    t = log.duration / 2
    facts = frame_facts(log, t)
    for a in log.agent_ids:
        assert f"{a} robot in {log.zone_at(a, t)}" in facts
    on_floor = [o for o in log.object_ids if log.object_state_at(o, t)[0] == "floor"]
    for o in on_floor:
        assert f"{o.split('-')[0]} object in {log.object_zone_at(o, t)}" in facts
    assert sum(" carries " in f for f in facts) == sum(1 for a in log.agent_ids if log.carrying_at(a, t))
    per_zone = zone_facts(log, t)
    assert set(per_zone) == set(log.zone_names) and all(f"zone {z}" in fs for z, fs in per_zone.items())
    assert cell_zones(log, 2) == ["kitchen", "hall", "garden", "garage"]       # the easy layout's quadrants


def test_pretraining_learns_where_the_robots_are_and_leaves_the_lm_alone(tmp_path):
    r, _ = _recipe(tmp_path, "data.videos=16", "model.image_size=56")
    r.data()
    data = perception_data(r.ws, grid=2, splits=("sft", "rl", "eval"), frames_per_video=48)
    assert data.frames.shape[0] == data.labels.shape[0] == len(data.video_of) and data.labels.shape[1] == 4
    robots = [i for i, v in enumerate(data.vocab) if v.endswith(" robot")]
    assert (data.labels[:, :, robots].sum((1, 2)) == 2).all()                 # two robots, each in one token
    assert (data.labels[:, :, [i for i, v in enumerate(data.vocab) if v.startswith("zone ")]].sum(2) == 1).all()
    assert not set(data.video_of.tolist()) - set(range(16))
    model = build_model(r.cfg.model, r.ws)
    lm = {k: v.clone() for k, v in model.causal_lm.state_dict().items()}
    tower = {k: v.clone() for k, v in model.vision_tower.state_dict().items()}
    torch.manual_seed(0)
    rep = pretrain_perception(model, data, steps=400, lr=1e-3, val_fraction=0.25, log=lambda s: None)
    assert rep["after"]["robot_zone_accuracy"] > max(0.7, rep["before"]["robot_zone_accuracy"] + 0.3), rep
    ap = rep["after"]["fact_ap"]
    assert set(ap) == {"zone", "robot", "carrying", "colour", "kind"}, ap
    assert ap["robot"]["ap"] > 0.7 > ap["robot"]["base_rate"] and ap["zone"]["ap"] > 0.9, ap
    assert all(0 < v["base_rate"] < v["ap"] <= 1 for v in ap.values()), ap
    assert all(torch.equal(v, model.causal_lm.state_dict()[k]) for k, v in lm.items())
    assert any(not torch.equal(v, model.vision_tower.state_dict()[k]) for k, v in tower.items())


def test_recipe_base_stage_runs_perception_when_asked(tmp_path):
    r, lines = _recipe(tmp_path, "perception.steps=20", "perception.worlds=0", "perception.frames_per_video=8")
    r.data()
    base = r.base()
    state = json.loads((r.dir / "state.json").read_text())["stages"]["base"]
    p = state["perception"]
    assert p["steps"] == 20 and p["frames"] > 0 and {"before", "after"} <= set(p)
    assert any("[perception] step 20/20" in x for x in lines)
    r0, _ = _recipe(tmp_path / "plain")
    r0.data()
    plain = r0.base()
    assert base.name != plain.name                                           # its own fingerprint
    a, b = (load_file(f"{d}/vision_tower/model.safetensors") for d in (base, plain))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert np.isfinite(p["after"]["loss"])


def test_fact_average_precision_ranks_each_kind():
    vocab = ["zone hall", "red robot", "red robot carries white", "white object", "ball"]
    labels = torch.zeros(6, 4, 5)
    labels[:, 0, 0] = labels[:, 1, 1] = labels[::2, 2, 2] = labels[:3, 3, 3] = labels[1, 3, 4] = 1
    perfect = fact_average_precision(labels * 5 - 2, labels, vocab)
    assert {k: v["ap"] for k, v in perfect.items()} == {"zone": 1.0, "robot": 1.0, "carrying": 1.0, "colour": 1.0,
                                                        "kind": 1.0}
    assert perfect["robot"]["base_rate"] == 0.25 and perfect["kind"]["labels"] == 1
    inverted = fact_average_precision(2 - labels * 5, labels, vocab)
    assert all(v["ap"] < 0.5 for v in inverted.values()), inverted


def test_fresh_worlds_render_labelled_frames_and_skip_excluded_seeds():
    world = WorldConfig(minutes=1.0, size=64, difficulty="easy")
    data = world_perception_data(world, 2, grid=2, frames_per_world=5, seed=3)
    assert data.frames.shape == (10, 64, 64, 3) and data.labels.shape[:2] == (10, 4)
    assert data.video_of.tolist() == [0] * 5 + [1] * 5
    robots = [i for i, v in enumerate(data.vocab) if v.endswith(" robot")]
    assert (data.labels[:, :, robots].sum((1, 2)) == 2).all()
    again = world_perception_data(world, 2, grid=2, frames_per_world=5, seed=3)
    assert np.array_equal(again.frames, data.frames) and np.array_equal(again.labels, data.labels)

    skipped = world_perception_data(world, 1, grid=2, frames_per_world=5, seed=3, exclude={world_seed(3, 0)},
                                    vocab=data.vocab)
    second = list(frames(simulate(dataclasses.replace(world, seed=world_seed(3, 1))), world.fps, world.size))
    first = list(frames(simulate(dataclasses.replace(world, seed=world_seed(3, 0))), world.fps, world.size))
    for f in skipped.frames:                          # every frame is the next world's, none the excluded one's
        assert any(np.array_equal(f, g) for g in second) and not any(np.array_equal(f, g) for g in first)


def test_pretraining_validates_on_a_separate_set_with_the_same_vocab(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    val = perception_data(r.ws, grid=2, splits=("sft", "rl"), frames_per_video=4)
    world = WorldConfig(minutes=1.0, size=r.cfg.data.size, difficulty="easy")
    data = world_perception_data(world, 3, grid=2, frames_per_world=4, vocab=val.vocab)
    assert data.vocab == val.vocab
    model = build_model(r.cfg.model, r.ws)
    rep = pretrain_perception(model, data, val=val, steps=3, log=lambda s: None)
    assert rep["frames"] == 12 and rep["val_frames"] == len(val.frames)
    other = world_perception_data(world, 1, grid=2, frames_per_world=2)
    with pytest.raises(ValueError, match="one vocab"):
        pretrain_perception(model, other, val=val, steps=1, log=lambda s: None)


def test_recipe_base_stage_trains_perception_on_fresh_worlds(tmp_path):
    r, lines = _recipe(tmp_path, "perception.steps=5", "perception.worlds=2", "perception.frames_per_world=3",
                       "perception.frames_per_video=2")
    r.data()
    r.base()
    p = json.loads((r.dir / "state.json").read_text())["stages"]["base"]["perception"]
    assert p["worlds"] == 2 and p["frames"] == 6
    assert p["val_frames"] == 2 * len({it["video_id"] for s in ("sft", "rl") for it in r.ws.iter_qa(split=s)})



def test_a_cosine_schedule_decays_the_learning_rate_to_zero(tmp_path, monkeypatch):
    """pretrain_perception steps its schedule after each optimizer step: warm-up, then cosine to zero."""
    import lvr.recipe.perception as perception
    seen = []
    real_fit = perception.fit

    def spy(params, opt, batch_loss, steps, *, tag, log=print, scheduler=None):
        def loss():
            seen.append(opt.param_groups[0]["lr"])
            return batch_loss()
        return real_fit(params, opt, loss, steps, tag=tag, log=log, scheduler=scheduler)

    monkeypatch.setattr(perception, "fit", spy)
    r, _ = _recipe(tmp_path)
    r.data()
    data = perception_data(r.ws, grid=2, splits=("sft", "rl"), frames_per_video=2)
    model = build_model(r.cfg.model, r.ws)
    pretrain_perception(model, data, steps=10, lr=2e-3, schedule="cosine", warmup_steps=2, log=lambda s: None)
    assert seen[0] == pytest.approx(1e-3) and seen[1] == pytest.approx(2e-3)          # warm-up: 1/2, 2/2
    assert all(a >= b for a, b in zip(seen[1:], seen[2:])) and seen[-1] < 2e-4         # then only down
    seen.clear()
    pretrain_perception(model, data, steps=4, lr=2e-3, log=lambda s: None)
    assert seen == [pytest.approx(2e-3)] * 4                                            # constant: as before


def test_perception_settings_added_later_leave_the_base_key_alone(tmp_path):
    """schedule / warmup_steps at their defaults, and threads at any value, keep the base model's name."""
    from lvr.config import to_dict
    from lvr.recipe.stages import fingerprint
    keys = {}
    for name, extra in (("before", ()), ("threads", ("perception.threads=2",)),
                        ("cosine", ("perception.schedule=cosine", "perception.warmup_steps=10"))):
        r, _ = _recipe(tmp_path / name, "perception.steps=5", "perception.worlds=2", *extra)
        r.keys["data"] = "d"
        keys[name] = r.base_key()
        if name == "before":      # the key as it was made before these options existed
            later = ("schedule", "warmup_steps", "threads")
            pc = {k: v for k, v in to_dict(r.cfg.perception).items() if k not in later}
            assert keys[name] == fingerprint("base", "d", r.cfg.model, pc)
    assert keys["threads"] == keys["before"] != keys["cosine"]

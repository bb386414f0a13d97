"""The fresh-world look-up probe (lvr.recipe.fresh_lookup): items, the two input modes, the feature cache, training."""
import itertools

import numpy as np
import pytest
import torch

from lvr.recipe.fresh_lookup import (
    HELD_OUT_SEEDS,
    TRAIN_SEEDS,
    FreshProbe,
    WorldSpec,
    fresh_world,
    held_out_items,
    item_stream,
    probe_model,
    render_frames,
    world_items,
)
from lvr.recipe.fresh_lookup_tower import base_without_workspace
from lvr.synth.phrases import fmt_time
from lvr.synth.render import Renderer
from lvr.synth.world import AGENTS

SPEC = WorldSpec(minutes=(1.0, 1.5))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return probe_model(base_without_workspace(SPEC, vocab_size=400), layers=2, hidden=64)


def test_items_come_from_distinct_fresh_worlds_and_answer_what_the_log_says_at_the_frame_time():
    items = list(itertools.islice(item_stream(SPEC, 4, make=world_items), 12))
    assert len({x.seed for x in items}) == 12 and all(TRAIN_SEEDS <= x.seed < HELD_OUT_SEEDS for x in items)
    held = held_out_items(SPEC, (2, 4), 5, make=world_items)
    assert {x.seed for x in held[2]} == {x.seed for x in held[4]} and min(x.seed for x in held[2]) >= HELD_OUT_SEEDS
    assert len({x.log.duration for x in items}) > 1                     # video lengths vary
    for x in items:
        log = fresh_world(x.seed, SPEC)
        t = x.times[x.asked]
        assert len(x.frames) == 4 and x.times == tuple(i / SPEC.fps for i in x.frames)
        assert len({round(s) for s in x.times}) == 4 and list(x.frames) == sorted(x.frames)
        assert f" at {fmt_time(t)}?" in x.question and x.answer == x.per_frame[x.asked]
        who = x.question.split(" at ")[0].removeprefix("Where is the ").removeprefix("What is the ")
        if x.kind == "robot":
            assert x.answer == f"the {log.zone_at(who.split()[0], t)}"
        elif x.kind == "carrying":
            held_obj = log.carrying_at(who.split()[0], t)
            assert x.answer == (f"the {held_obj.replace('-', ' ')}" if held_obj else "nothing")
        else:
            state = log.object_state_at(who.replace(" ", "-"), t)
            assert x.answer == (f"the {state[1]}" if state[0] == "floor" else f"with the {state[1]} robot")
    gaps = {round(b - a, 2) for x in items for a, b in zip(x.times, x.times[1:])}
    assert len(gaps) > 5                                                # jittered, not a fixed grid


def test_text_and_video_show_the_same_facts(model):
    x = next(item_stream(SPEC, 4, make=world_items))
    frames = list(Renderer(x.log, SPEC.size).frames(SPEC.fps, max(x.frames) + 1))
    subset = render_frames(x.log, SPEC.size, SPEC.fps, list(x.frames))     # only the wanted frames, drawn alike
    assert all(np.array_equal(frames[i], f) for i, f in zip(x.frames, subset))
    for i, line in zip(x.frames, x.lines):
        img = frames[i]
        for part in line.split("; "):
            words = part.split()
            if words[1] != "robot":
                continue
            zone = x.log.layout.zone(words[2])
            x0, y0, x1, y1 = (round(v * SPEC.size) for v in zone.rect)
            colour = np.array(AGENTS[words[0]][0], np.uint8)
            assert (img[y0:y1, x0:x1] == colour).all(-1).sum() > 10    # the robot is drawn in the zone the line says
    probe = FreshProbe(model, "video", SPEC)
    feats = probe.cache.features([x])
    with torch.no_grad():
        direct = model.vision_features(model.preprocess(np.stack([frames[i] for i in x.frames])))
    assert torch.allclose(feats, direct, atol=2e-2)


def test_feature_cache_hits_on_reuse_and_both_modes_batch(model):
    items = list(itertools.islice(item_stream(SPEC, 2, make=world_items), 3))
    video = FreshProbe(model, "video", SPEC)
    first = video.cache.features(items)
    assert (video.cache.hits, video.cache.misses) == (0, 6)
    again = video.cache.features(items)
    assert (video.cache.hits, video.cache.misses) == (6, 6) and torch.equal(first, again)
    for mode in ("text", "video"):
        probe = FreshProbe(model, mode, SPEC)
        ids, start = probe.ids(items[0])
        assert probe.tok.decode(ids[start:], skip_special_tokens=True).strip() == items[0].answer
        assert probe.tok.convert_tokens_to_ids(fmt_time(items[0].times[0])) in ids     # one-token clock tag
        embeds, mask, labels = probe.batch(items)
        assert embeds.shape[:2] == mask.shape == labels.shape and (labels != -100).any(1).all()


def test_a_few_steps_reduce_the_answer_loss(model):
    probe = FreshProbe(model, "video", SPEC)
    items = list(itertools.islice(item_stream(SPEC, 2, items_per_world=4, make=world_items), 8))
    params = [p for p in model.parameters() if p.requires_grad]
    assert not any(p.requires_grad for p in model.vision_tower.parameters())
    opt = torch.optim.AdamW(params, lr=3e-3)
    losses = []
    for _ in range(8):
        loss, _ = probe.forward(items)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] * 0.7
    acc = probe.accuracy(items)
    assert 0.0 <= acc["all"] <= 1.0 and set(acc) <= {"all", "robot", "carrying", "object"}


def test_pooled_frames_are_one_token_each_the_mean_of_the_frames_tokens(model):
    items = list(itertools.islice(item_stream(SPEC, 3, make=world_items), 2))
    full, pooled = FreshProbe(model, "video", SPEC), FreshProbe(model, "video", SPEC, pool=True)
    vid = model.video_token_id
    ids, start = pooled.ids(items[0])
    assert ids[:start].count(vid) == 3 and full.ids(items[0])[0].count(vid) == 3 * model.tokens_per_frame
    with torch.no_grad():
        embeds, _, _ = pooled.batch(items[:1])
        tokens = model.projector(full.cache.features(items[:1])).mean(1)
    row = torch.tensor(ids) == vid
    assert torch.allclose(embeds[0, :len(ids)][row], tokens, atol=1e-6)

"""GRPO prompts on fresh worlds (lvr.train.fresh_prompts): a new world per prompt, a pure function of (seed, index),
rendered frames at the drawn times, seeds apart from every other stage's worlds. MR-SP parity with real GRPO steps:
tests/mrsp/test_grpo_mrsp.py::test_fresh_world_prompts_train_the_same_through_mrsp."""
from __future__ import annotations

import numpy as np
import pytest

from lvr.config import ConfigError, load_config
from lvr.synth.fresh import HELD_OUT_SEEDS, WorldSpec, frame_indices, fresh_world, render_frames
from lvr.synth.visibility import answerable
from lvr.train.configs import FreshPromptsConfig, GRPOConfig
from lvr.train.fresh_prompts import FRESH_QA_IDS, FRESH_RL_SEEDS, QA_WORLDS, FreshPrompts
from lvr.train.lookups import QA_SEEDS


class SplitFrames:
    """Stands for VideoFrames: records what the fresh source hands on to it."""

    def __init__(self):
        self.asked = []

    def spec(self, item):
        from lvr.media import frame_spec
        return frame_spec(8, max_frames=8)

    def key(self, item):
        return f"{item.sha256}:{self.spec(item).key()}"

    def __call__(self, item):
        self.asked.append(item.qa_id)
        return "decoded"


def source(share=1.0, seed=0, frames=8):
    return FreshPrompts(FreshPromptsConfig(share=share), num_frames=frames, seed=seed, base=SplitFrames())


def test_a_new_answerable_world_per_prompt_the_same_on_every_rank():
    a, b = source(), source()
    items = a.items(range(6))
    assert [it.qa_id for it in items] == [FRESH_QA_IDS + k for k in range(6)]
    assert items == b.items(range(6))                                  # another rank, or a resumed run
    seeds = [it.meta["world_seed"] for it in items]
    assert len(set(seeds)) == 6 and len({it.sha256 for it in items}) == 6
    for k, (it, s) in enumerate(zip(items, seeds)):
        assert FRESH_RL_SEEDS + k * QA_WORLDS <= s < FRESH_RL_SEEDS + (k + 1) * QA_WORLDS
        w = a.worlds[it.sha256]
        assert answerable(it.meta, w.log, list(w.times)) and it.answer in "ABCD" and len(it.options) == 4
        assert it.reasoning.splitlines()[-1].startswith("So ") and it.video_path == ""
    assert source(seed=1).items([0])[0].meta["world_seed"] != seeds[0]


def test_seed_block_is_apart_from_the_other_stages_worlds():
    assert QA_SEEDS + 100_000_000 < FRESH_RL_SEEDS                        # CoT-SFT's replay questions below
    last = FRESH_RL_SEEDS + 9 * 10_000_000 + 10 ** 6 * QA_WORLDS         # seed 9, a million prompts
    assert last < HELD_OUT_SEEDS


def test_fresh_items_get_their_rendered_frames_others_the_videos():
    src = source()
    it = src.items([3])[0]
    w = src.worlds[it.sha256]
    got = src(it)
    expected = np.stack(render_frames(fresh_world(w.seed, WorldSpec()), 112, 4.0, list(w.frames)))
    assert got.frames.dtype == np.uint8 and np.array_equal(got.frames, expected)
    assert got.timestamps == list(w.times) and got.indices == list(w.frames)
    assert src.key(it).startswith(it.sha256 + ":") and not src.persistent(it)
    split_item = type(it)(**{**it.__dict__, "qa_id": 7, "sha256": "abc"})
    assert src(split_item) == "decoded" and src.base.asked == [7] and src.persistent(split_item)


def test_share_of_each_step():
    assert [source(share=s).per_step(4) for s in (0.0, 0.25, 0.5, 1.0)] == [0, 1, 2, 4]
    for share, prompts in ((0.3, 1), (0.25, 1), (0.1, 3), (0.7, 2)):    # below one prompt a step: every few steps
        fresh = source(share=share)
        counts = [fresh.per_step(prompts, step) for step in range(20)]
        assert sum(counts) == int(share * prompts * 20 + 1e-9) and set(counts) <= {0, 1, 2}, (share, counts)
        assert all(fresh.before(prompts, s) == sum(counts[:s]) for s in range(21))


@pytest.mark.parametrize("override, message", [
    ("fresh.share=1.5", "fresh.share: must be <= 1.0"),
    ("fresh.minutes=[2.0, 1.0]", "fresh.minutes"),
    ("fresh.size=32", "fresh.size: must be >= 64"),
    ("fresh.size=100000", "fresh.size: must be <= 1024"),
    ("fresh.minutes=[1.0, 100000.0]", "fresh.minutes: a simulated world lasts at most 60 minutes"),
])
def test_config_fails_fast_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(GRPOConfig, None, ["workspace=w", "model=m", override])


def test_fresh_prompts_place_frames_as_fresh_placement_says():
    centre = FreshPrompts(FreshPromptsConfig(share=1.0, placement="centre"), num_frames=8, seed=0, base=SplitFrames())
    for it in centre.items(range(4)):
        w = centre.worlds[it.sha256]
        assert list(w.frames) == frame_indices(None, w.log.duration, 8, centre.world_spec.fps, "centre")
    jitter = source()
    worlds = [jitter.worlds[it.sha256] for it in jitter.items(range(4))]
    assert any(list(w.frames) != frame_indices(None, w.log.duration, 8, 4.0, "centre") for w in worlds)

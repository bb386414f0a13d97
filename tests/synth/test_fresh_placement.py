"""Where a fresh world's frames lie (lvr.synth.fresh.frame_indices, `WorldSpec.placement`): "centre" is exactly
where lvr.video's uniform sampling looks in the world's rendered video, so fresh-world training sees frames placed
the way every corpus video and the benchmark are sampled; "jitter" draws one at random per segment.

    .venv/bin/pytest tests/synth/test_fresh_placement.py
"""
from __future__ import annotations

import random

import pytest

from lvr.config import ConfigError, load_config
from lvr.recipe.config import VideoLMStage
from lvr.synth.fresh import TRAIN_SEEDS, WorldSpec, frame_indices, fresh_world, render_frames, world_items
from lvr.synth.render import encode_mp4, frames
from lvr.train.configs import GRPOConfig, SFTConfig
from lvr.video.probe import probe_with_table
from lvr.video.sampling import SamplingSpec, plan_indices

CENTRE = WorldSpec(minutes=(1.0, 1.2), size=64, placement="centre")


def test_centre_frames_are_where_the_sampler_looks_in_the_worlds_video(tmp_path):
    log = fresh_world(TRAIN_SEEDS + 3, CENTRE)
    path = tmp_path / "world.mp4"
    encode_mp4(path, frames(log, CENTRE.fps, CENTRE.size), CENTRE.fps, CENTRE.size, gop=8)
    info, table = probe_with_table(path)
    for n in (4, 8, 16):
        drawn = frame_indices(random.Random(n), log.duration, n, CENTRE.fps, "centre")
        assert drawn == plan_indices(info, table, SamplingSpec(num_frames=n)), n
        assert drawn == frame_indices(random.Random(n + 1), log.duration, n, CENTRE.fps, "centre")  # no chance


def test_world_items_use_the_specs_placement():
    seeds = range(TRAIN_SEEDS, TRAIN_SEEDS + 6)
    centre = [it for s in seeds for it in world_items(s, CENTRE, 8, 2)]
    assert centre and {it.frames for it in centre} == {
        tuple(frame_indices(random.Random(0), it.log.duration, 8, CENTRE.fps, "centre")) for it in centre}
    jitter = [it for s in seeds for it in world_items(s, WorldSpec(minutes=(1.0, 1.2), size=64), 8, 2)]
    centres = {tuple(frame_indices(random.Random(0), it.log.duration, 8, 4.0, "centre")) for it in jitter}
    assert not {it.frames for it in jitter} <= centres                       # jittered frames differ
    for it in centre:                                                         # the rendered frames are those
        assert len(render_frames(it.log, 64, CENTRE.fps, list(it.frames))) == 8
        assert it.times == tuple(i / CENTRE.fps for i in it.frames)


def test_jitter_draws_one_frame_per_segment_at_distinct_seconds():
    for seed in range(20):
        idx = frame_indices(random.Random(seed), 75.0, 8, 4.0)
        segment = 75.0 * 4.0 / 8
        assert [int(i // segment) for i in idx] == list(range(8))
        assert len({round(i / 4.0) for i in idx}) == 8


def test_an_unknown_placement_fails_fast_naming_the_field():
    with pytest.raises(ValueError, match="jitter"):
        frame_indices(random.Random(0), 60.0, 4, 4.0, "middle")
    with pytest.raises(ConfigError, match="replay.placement"):
        load_config(SFTConfig, None, ["model=x", "replay.placement=middle"])
    with pytest.raises(ConfigError, match="fresh.placement"):
        load_config(GRPOConfig, None, ["model=x", "fresh.placement=middle"])
    with pytest.raises(ConfigError, match="placement"):
        load_config(VideoLMStage, None, ["placement=middle"])

"""Training data from the store: filters, skipped items, resumable sampler, frames through the cache."""
import pytest

from lvr.store import Workspace
from lvr.train.data import DataError, EpochSampler, VideoFrames, load_items, shard


def test_load_items_filters_and_skips_missing_videos(train_ws, capsys):
    ws = Workspace.open(train_ws)
    items = load_items(ws, split="sft", statuses=["approved"])
    assert len(items) == 4 and all(it.qa_id for it in items)
    assert len(load_items(ws, split="sft", statuses=["approved", "pending"], max_items=3)) == 3
    ws.video_path(items[0].video_id).unlink()
    left = load_items(ws, split="sft", statuses=["approved", "pending"])
    assert len(left) == 6 and items[0].video_id not in {it.video_id for it in left}
    out = capsys.readouterr().out
    assert "skipped 2 item(s)" in out and "is missing" in out
    frames = VideoFrames(ws, num_frames=4)(left[0])
    assert frames.frames.shape == (4, 64, 64, 3)
    assert VideoFrames(ws, num_frames=4)(left[0]).source == "cache"
    with pytest.raises(DataError, match="no training items"):
        EpochSampler(len(load_items(ws, split="eval", statuses=["draft"])))
    ws.close()


def test_sampler_is_deterministic_and_resumable():
    a = EpochSampler(5, seed=3)
    first = a.take(7)                         # crosses into epoch 1 with a new permutation
    assert sorted(first[:5]) == list(range(5)) and a.epoch == 1 and a.pos == 2
    state = a.state_dict()
    rest = a.take(6)
    b = EpochSampler(5, seed=3)
    b.load_state_dict(state)
    assert b.take(6) == rest
    assert EpochSampler(5, seed=3, shuffle=False).take(6) == [0, 1, 2, 3, 4, 0]
    assert shard([10, 11, 12, 13], 1, 2) == [12, 13]
    with pytest.raises(ValueError, match="does not split over 3 ranks"):
        shard([1, 2, 3, 4], 0, 3)


def test_mixed_frames_draw_counts_per_step_and_item_reproducibly(train_ws):
    from lvr.train.data import MixedFrames

    ws = Workspace.open(train_ws)
    items = load_items(ws, split="sft", statuses=["approved", "pending"])
    mixed = MixedFrames(ws, choices=[4, 2, 2], seed=0)
    assert mixed.choices == [2, 4]
    counts = [mixed.count(step, it) for step in range(6) for it in items]
    assert counts == [MixedFrames(ws, choices=[2, 4], seed=0).count(s, it) for s in range(6) for it in items]
    assert set(counts) == {2, 4}                                   # both counts are drawn
    assert counts != [MixedFrames(ws, choices=[2, 4], seed=1).count(s, it) for s in range(6) for it in items]
    for step in range(3):
        got = mixed.for_step(step)(items[0])
        assert got.frames.shape[0] == mixed.count(step, items[0])
    ws.close()


def test_frames_choices_is_checked_and_sft_only():
    from lvr.config import ConfigError, load_config
    from lvr.train.configs import GRPOConfig, SFTConfig

    base = ["workspace=x", "model=tiny:lvr_composite"]
    assert load_config(SFTConfig, None, [*base, "data.frames_choices=[2,4,8]"]).data.frames_choices == [2, 4, 8]
    with pytest.raises(ConfigError, match="frames_choices"):
        load_config(SFTConfig, None, [*base, "data.frames_choices=[0,4]"])
    with pytest.raises(ConfigError, match="SFT option"):
        load_config(GRPOConfig, None, [*base, "data.frames_choices=[2,4]"])

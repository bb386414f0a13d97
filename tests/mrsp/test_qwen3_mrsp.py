"""MR-SP on the Qwen3-VL adapter: a GRPO-style step's loss and gradients do not change with the embedding
cache (frozen vision tower: memo + disk; trainable tower: retain and recompute, gradients reaching the
merger and the DeepStack mergers through the cached wide rows). Sharded ≡ full encode and SP=2 ≡ SP=1
run in tests/mrsp/test_dist.py (stage1_qwen3_5, stage2_qwen3)."""
from __future__ import annotations

import copy

import pytest

from lvr.mrsp.embedder import CachedVideoEmbedder

from .test_cache import _close, grpo_like_step, video_items  # noqa: F401


@pytest.fixture(scope="module")
def tiny_qwen3():
    from lvr.model import build_tiny

    return build_tiny("qwen3_vl", seed=0)


def test_cached_step_equals_uncached_step_frozen_encoder(video_items, tiny_qwen3, tmp_path):  # noqa: F811
    from lvr.train.data import VideoFrames

    ws, items = video_items
    m = copy.deepcopy(tiny_qwen3).eval()
    for name, p in m.named_parameters():
        p.requires_grad_(".visual." not in f".{name}")
    loss0, g0 = grpo_like_step(m, CachedVideoEmbedder(m, VideoFrames(ws, num_frames=4), reuse=False), items)
    cached = CachedVideoEmbedder(m, VideoFrames(ws, num_frames=4), cache_dir=tmp_path / "e")
    assert cached.cache.persistent
    loss1, g1 = grpo_like_step(m, cached, items)
    assert cached.stats()["embeds/misses"] == len(items)
    loss2, g2 = grpo_like_step(m, cached, items)                  # next step: from disk
    assert cached.stats()["embeds/disk_hits"] == len(items)
    assert loss0 == pytest.approx(loss1, abs=1e-6) and loss0 == pytest.approx(loss2, abs=1e-6)
    assert _close(g0, g1) and _close(g0, g2)


def test_cached_step_equals_uncached_step_trainable_encoder(video_items, tiny_qwen3):  # noqa: F811
    from lvr.train.data import VideoFrames

    ws, items = video_items
    m = copy.deepcopy(tiny_qwen3).eval()
    frames = VideoFrames(ws, num_frames=4)
    loss0, g0 = grpo_like_step(m, CachedVideoEmbedder(m, frames, reuse=False), items)
    loss1, g1 = grpo_like_step(m, CachedVideoEmbedder(m, frames, grad_mode="retain"), items)
    loss2, g2 = grpo_like_step(m, CachedVideoEmbedder(m, frames, grad_mode="recompute"), items)
    assert any(".visual.deepstack_merger_list." in f".{k}" for k in g0)
    assert any(".visual.merger." in f".{k}" for k in g0)
    assert loss0 == pytest.approx(loss1, abs=1e-6) and loss0 == pytest.approx(loss2, abs=1e-6)
    assert _close(g0, g1) and _close(g0, g2)

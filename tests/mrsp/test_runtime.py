"""MRSPConfig as a typed config group, and MRSPRuntime wiring (single process): the embedder and the
rollout engine the rollout config names."""
from __future__ import annotations

import copy

import pytest

from lvr.config import ConfigError, from_dict, to_dict
from lvr.mrsp import CachedVideoEmbedder, MRSPConfig, MRSPRuntime, RolloutEngine, SPRollout, TransformersRollout
from lvr.train.configs import RolloutConfig


def test_config_defaults_overrides_and_errors():
    cfg = from_dict(MRSPConfig, {"sp_size": 2, "embed_cache": "disk", "vllm": {"sleep_mode": False}})
    assert (cfg.sp_size, cfg.embed_cache) == (2, "disk")
    assert (cfg.vllm.sleep_mode, cfg.vllm.gpu_memory_utilization) == (False, 0.3)
    assert to_dict(cfg)["vllm"]["max_model_len"] is None
    with pytest.raises(ConfigError, match="embed_cache"):
        from_dict(MRSPConfig, {"embed_cache": "sometimes"})
    with pytest.raises(ConfigError, match="sp_size"):
        from_dict(MRSPConfig, {"sp_size": 0})
    with pytest.raises(ConfigError, match="sp_sise"):
        from_dict(MRSPConfig, {"sp_sise": 2})


class Frames:
    def spec(self, item):
        raise AssertionError("not sampled in this test")

    def key(self, item):
        return "k"


def test_runtime_single_process(tiny_composite, tmp_path):
    m = copy.deepcopy(tiny_composite)
    for name, p in m.named_parameters():
        p.requires_grad_(name.startswith("llm."))
    rt = MRSPRuntime.build(MRSPConfig(embed_cache="auto"), m, Frames(), cache_dir=tmp_path, world=1)
    assert isinstance(rt.embedder, CachedVideoEmbedder) and rt.embedder.cache.persistent
    assert rt.sp.size == 1 and rt.count_scale == 1 and rt.reports
    assert rt.shard(list(range(6))) == list(range(6)) and rt.global_batch(3) == 3
    engine = rt.rollout_engine(RolloutConfig(batch_size=3), m)
    assert isinstance(engine, TransformersRollout) and isinstance(engine, RolloutEngine)
    assert (engine.model, engine.batch_size, engine.gather_zero3) == (m, 3, False)
    zero3 = MRSPRuntime.build(MRSPConfig(), m, Frames(), world=1, zero_stage=3)
    assert zero3.rollout_engine(RolloutConfig(), m).gather_zero3 and zero3.embedder.grad_mode == "recompute"
    with pytest.raises(ValueError, match="unknown rollout backend 'sglang'"):
        rt.rollout_engine(RolloutConfig(backend="sglang"), m)
    off = MRSPRuntime.build(MRSPConfig(embed_cache="off"), m, Frames(), cache_dir=tmp_path, world=1)
    assert not off.embedder.reuse and not off.embedder.cache.persistent
    with pytest.raises(ValueError, match="must divide the number of ranks"):
        MRSPRuntime.build(MRSPConfig(sp_size=2), m, Frames(), world=3)
    with pytest.raises(RuntimeError, match="torch.distributed"):
        MRSPRuntime.build(MRSPConfig(sp_size=2), m, Frames(), world=2)
    assert SPRollout(engine, rt.sp).engine is engine

"""GPU checks at the 7B shapes (`pytest -m gpu`; skipped with a reason without CUDA): the composite
SigLIP-so400m + Qwen2.5-7B and Qwen2.5-VL-7B built from configs/models with random bf16 weights (no
download) run one SFT step and one GRPO step with the embedding cache (bench/gpu7b.py, the trainer's
code paths), report peak memory per frame count, and pass the rollout ≡ training parity check."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(),
                                                   reason="needs a CUDA GPU (7B-shaped models in bf16)")]


@pytest.fixture(scope="module", params=["composite", "qwen2_5_vl"])
def model_7b(request):
    from gpu7b import build_7b

    model = build_7b(request.param)
    yield request.param, model
    del model
    torch.cuda.empty_cache()


def test_sft_and_cached_grpo_step_and_memory_per_frame_count(model_7b):
    from gpu7b import run_model

    kind, model = model_7b
    rows = run_model(kind, model, [8, 32], G=2, R=8, out=lambda s: print(s, flush=True))
    assert [r["frames"] for r in rows] == [8, 32] and not any("oom" in r for r in rows), rows
    for r in rows:
        assert math.isfinite(r["sft_loss"]) and r["cache_encodes"] == 1 and r["baseline_encodes"] > 1
        assert 0 < r["encode_share"] < 1 and r["amdahl_bound"] >= 1
        assert r["sft_peak_gb"] < 80 and r["cache_peak_gb"] < 80
    assert rows[1]["cache_peak_gb"] >= rows[0]["cache_peak_gb"]      # memory grows with the frames
    print(json.dumps({"model": kind, "peak_gb_by_frames": {r["frames"]: r["cache_peak_gb"] for r in rows}}))


def test_parity_at_7b_shapes(model_7b):
    from gpu7b import FRAME_SIZE, _frames

    from lvr.train.parity import all_passed, check_parity, format_table

    kind, model = model_7b
    rows = check_parity(model, _frames(4, FRAME_SIZE[kind]), [0.0, 0.5, 1.0, 1.5], max_new_tokens=4)
    print(format_table(rows))
    assert all_passed(rows), format_table(rows)

"""The real-size specs in configs/models/ build with from_config on the meta device (no memory)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lvr.model import ConfigError, build_from_spec, read_model_spec

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "models"


def test_composite_siglip_so400m_qwen2_5_7b_builds_on_meta():
    with torch.device("meta"):
        model = build_from_spec(CONFIGS / "composite_siglip_qwen2_5_7b.yaml")
    counts = model.parameter_counts()
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert type(model.vision_tower).__name__ == "SiglipVisionModel"
    assert type(model.llm).__name__ == "Qwen2ForCausalLM"
    assert 7.60e9 < counts["llm"] < 7.63e9            # Qwen2.5-7B-Instruct: 7.62 B
    assert 0.40e9 < counts["vision_tower"] < 0.43e9   # SigLIP-so400m without its pooling head
    assert model.image_size == 384 and model.projector.config.grid_size == 27
    assert model.tokens_per_frame == 64 and model.hidden_size == 3584


def test_qwen2_5_vl_7b_builds_on_meta():
    with torch.device("meta"):
        model = build_from_spec(CONFIGS / "qwen2_5_vl_7b.yaml")
    counts = model.parameter_counts()
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert 8.28e9 < counts["total"] < 8.30e9          # Qwen2.5-VL-7B-Instruct: 8.29 B
    assert model.hf.config.video_token_id == 151656
    layout = model.video_layout(64, (360, 640))
    assert layout.grid_thw == (32, 24, 42) and layout.num_tokens == 32 * 12 * 21
    assert model.tokens_per_group((448, 448)) == 256


def test_qwen3_vl_8b_builds_on_meta():
    with torch.device("meta"):
        model = build_from_spec(CONFIGS / "qwen3_vl_8b.yaml")
    counts = model.parameter_counts()
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert 8.7e9 < counts["total"] < 8.8e9            # Qwen3-VL-8B-Instruct: 8.77 B
    assert model.deepstack_layers == 3 and model.hidden_size == 4 * 4096
    layout = model.video_layout(64, (360, 640))        # 448x448 budget per frame, multiples of 32
    assert layout.grid_thw == (32, 20, 36) and model.tokens_per_group((448, 448)) == 196


def test_spec_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_type: lvr_composite\nvision: {model_type: siglip_vision_model}\n")
    with pytest.raises(ConfigError, match="bad.yaml.*'llm'"):
        read_model_spec(bad)
    bad.write_text("model_type: qwen2_5_vl\nhf_config: {}\noptions: {max_pixel: 3}\n")
    with pytest.raises(ConfigError, match="unknown key options.max_pixel .*bad.yaml"):
        read_model_spec(bad)
    bad.write_text("model_type: gpt\n")
    with pytest.raises(ConfigError, match="model_type must be one of"):
        read_model_spec(bad)

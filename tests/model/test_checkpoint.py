"""Checkpoints: save → load gives identical logits; HF loads the parts unchanged; bad dirs fail clearly.

Tolerance: save → load must reproduce logits exactly (float32 safetensors round trip), asserted
with atol 0.
"""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from lvr.model import (
    CheckpointError,
    load_model,
    model_type_of,
    prompt_inputs,
    register_checkpoint,
    validate_checkpoint,
)

from .conftest import make_frames


def _logits(model, frames, ts):
    with torch.no_grad():
        inputs = prompt_inputs(model, frames, "What happens?", ["a", "b", "c", "d"], timestamps=ts)
        return model.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_composite, tiny_qwen):
    root = tmp_path_factory.mktemp("saved")
    return {"composite": tiny_composite.save(root / "composite"), "qwen": tiny_qwen.save(root / "qwen")}


@pytest.mark.parametrize("kind", ["composite", "qwen"])
def test_save_load_gives_identical_logits(kind, saved, tiny_composite, tiny_qwen):
    original = tiny_composite if kind == "composite" else tiny_qwen
    loaded = load_model(saved[kind])
    assert type(loaded) is type(original) and not loaded.training
    frames, ts = make_frames(4), [0.0, 0.5, 1.0, 1.5]
    torch.testing.assert_close(_logits(loaded, frames, ts), _logits(original, frames, ts), atol=0, rtol=0)
    assert loaded.tokenizer.get_vocab() == original.tokenizer.get_vocab()
    assert model_type_of(saved[kind]) == original.model_type


def test_composite_layout_and_parts_load_in_plain_transformers(saved, tiny_composite):
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    d = saved["composite"]
    for rel in ("lvr_config.json", "tokenizer.json", "llm/config.json", "llm/model.safetensors", "llm/tokenizer.json",
                "vision_tower/config.json", "vision_tower/model.safetensors", "mm_projector/config.json",
                "mm_projector/model.safetensors"):
        assert (d / rel).is_file(), rel
    assert json.loads((d / "lvr_config.json").read_text())["model_type"] == "lvr_composite"
    llm = AutoModelForCausalLM.from_pretrained(d / "llm")
    tok = AutoTokenizer.from_pretrained(d / "llm")
    ids = tok("<|im_start|>user\nhello<|im_end|>", return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(llm(ids).logits, tiny_composite.llm(ids).logits, atol=0, rtol=0)
    assert type(AutoModel.from_pretrained(d / "vision_tower")).__name__ == "SiglipVisionModel"
    assert tok.convert_tokens_to_ids("<|im_end|>") in llm.generation_config.eos_token_id


def test_qwen_dir_loads_as_plain_hf_model(saved):
    from transformers import Qwen2_5_VLForConditionalGeneration

    d = saved["qwen"]
    assert json.loads((d / "lvr_config.json").read_text())["model_type"] == "qwen2_5_vl"
    hf = Qwen2_5_VLForConditionalGeneration.from_pretrained(d)
    assert hf.config.video_token_id == load_model(d).video_token_id


def _copy(src, tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("kind, rel", [
    ("composite", "lvr_config.json"), ("composite", "llm/model.safetensors"), ("composite", "vision_tower/config.json"),
    ("composite", "mm_projector/model.safetensors"), ("qwen", "model.safetensors"), ("qwen", "config.json"),
])
def test_missing_file_names_directory_and_file(kind, rel, saved, tmp_path):
    d = _copy(saved[kind], tmp_path)
    (d / rel).unlink()
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert str(d) in str(err.value) and rel in str(err.value) and "missing" in str(err.value)
    assert err.value.file == rel


def test_missing_tokenizer_and_component_folder(saved, tmp_path):
    d = _copy(saved["composite"], tmp_path)
    (d / "tokenizer.json").unlink()
    (d / "tokenizer_config.json").unlink()
    with pytest.raises(CheckpointError, match="tokenizer"):
        validate_checkpoint(d)
    d2 = tmp_path / "c2"
    shutil.copytree(saved["composite"], d2)
    shutil.rmtree(d2 / "mm_projector")
    with pytest.raises(CheckpointError, match="mm_projector/.*missing component folder"):
        load_model(d2)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_safetensors_is_reported(damage, saved, tmp_path):
    d = _copy(saved["composite"], tmp_path)
    f = d / "llm" / "model.safetensors"
    data = f.read_bytes()
    f.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00\xff" * 100, "empty": b""}[damage])
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert "llm/model.safetensors" in str(err.value) and "corrupted" in str(err.value)


def test_bad_lvr_config(saved, tmp_path):
    d = _copy(saved["qwen"], tmp_path)
    (d / "lvr_config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="lvr_config.json.*not valid JSON"):
        load_model(d)
    (d / "lvr_config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(CheckpointError, match="model_type must be one of"):
        load_model(d)
    (d / "lvr_config.json").write_text(json.dumps({"model_type": "qwen2_5_vl", "max_pixels": "big"}))
    with pytest.raises(CheckpointError, match="max_pixels: expected int"):
        load_model(d)
    (d / "lvr_config.json").write_text(json.dumps({"model_type": "qwen2_5_vl", "colour": 1}))
    with pytest.raises(CheckpointError, match="unknown key"):
        load_model(d)
    with pytest.raises(CheckpointError, match="not a directory"):
        load_model(tmp_path / "nowhere")


def test_model_type_comes_from_config_not_path(saved, tmp_path):
    misleading = tmp_path / "qwen2_5_vl-7b-composite"
    shutil.copytree(saved["composite"], misleading)
    assert type(load_model(misleading)).__name__ == "CompositeVideoLM"


def test_register_checkpoint_records_model_type(saved, tmp_path):
    from lvr.store import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    base = register_checkpoint(ws, saved["composite"], stage="base")
    child = register_checkpoint(ws, saved["qwen"], stage="sft", parent=base, step=10, metrics={"loss": 1.5})
    rows = {r["id"]: r for r in ws.list_checkpoints()}
    assert rows[base]["kind"] == "lvr_composite" and rows[child]["kind"] == "qwen2_5_vl"
    assert rows[child]["parent"] == base and rows[child]["step"] == 10 and rows[child]["metrics"] == {"loss": 1.5}
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(CheckpointError, match="lvr_config.json"):
        register_checkpoint(ws, broken, stage="sft")

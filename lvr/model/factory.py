"""Build a `VideoLM` from a model spec file (configs/models/*.yaml) or from transformers configs, or load
one from a checkpoint folder (`load_model`: the adapter named by its lvr_config.json).

    with torch.device("meta"):
        model = build_from_spec("configs/models/qwen2_5_vl_7b.yaml")     # shapes only, no memory
    model = build_from_spec(spec, tokenizer=tok)                          # random init, real memory

The same functions build the tiny CPU models (lvr.model.tiny) and the 7B ones; only the
numbers in the configs differ.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import CheckpointError, read_lvr_config, validate_checkpoint
from .composite import CompositeVideoLM
from .config import COMPOSITE, QWEN2_5_VL, QWEN3_VL, ModelSpec, read_model_spec
from .qwen3_vl import Qwen3VideoLM
from .qwen_vl import QwenVideoLM
from .vila import VilaVideoLM


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
    if not isinstance(spec, ModelSpec):
        spec = read_model_spec(spec)
    if spec.model_type == COMPOSITE:
        return CompositeVideoLM.from_configs(hf_config(spec.vision), hf_config(spec.llm), spec.projector,
                                             spec.options, tokenizer)
    if spec.model_type == QWEN3_VL:
        return Qwen3VideoLM.from_config(qwen3_vl_config(spec.hf_config), spec.options, tokenizer)
    return QwenVideoLM.from_config(qwen2_5_vl_config(spec.hf_config), spec.options, tokenizer)


def _dtype(dtype) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype).replace("torch.", ""), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r} (use float32, bfloat16 or float16)")
    return value


def load_model(directory: str | Path, device=None, dtype=None, trust_remote_code: bool = False):
    """Load a checkpoint directory as a `VideoLM` (the adapter named by its lvr_config.json).

    dtype None: float32 on CPU, bfloat16 on accelerators. Raises CheckpointError on missing or
    corrupted files, naming the directory and the file.
    """
    d = Path(directory)
    kind = validate_checkpoint(d)
    dt = _dtype(dtype)
    if dt is None:
        dt = torch.float32 if device is None or torch.device(device).type == "cpu" else torch.bfloat16
    cls = {COMPOSITE: CompositeVideoLM, QWEN2_5_VL: QwenVideoLM, QWEN3_VL: Qwen3VideoLM}[kind]
    if read_lvr_config(d).get("checkpoint_format") == "vila":
        cls = VilaVideoLM
    try:
        model = cls.load(d, device=device, dtype=dt, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(d, None, f"failed to load as {kind}: {type(e).__name__}: {e}") from e
    return model.eval()

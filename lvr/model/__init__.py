"""Video-language models: adapters, chat format, prompting/parsing, generation, checkpoints.

    from lvr.model import load_model, build_messages, generate_stream, parse_response
    model = load_model("ckpt")                                  # model type from lvr_config.json
    for ev in generate_stream(model, frames, "What happens first?", ["a", "b", "c", "d"],
         timestamps=ts):
        print(ev.kind, ev.text)                                 # "thinking" … then "answer" …

Two adapters share one contract (`VideoLM`, see lvr/model/base.py): `CompositeVideoLM`
(vision tower → pooling MLP projector → any HF causal LM), `QwenVideoLM` (transformers'
Qwen2.5-VL) and `Qwen3VideoLM` (Qwen3-VL: text timestamps, DeepStack); a VILA-format folder
loads as `VilaVideoLM`, a composite (`adopt_vila_checkpoint` /
`lvr model adopt`). Tiny offline models: `init_tiny` / `lvr model init-tiny`.
"""
from .base import IGNORE_INDEX, ModelInputs, VideoLayout, VideoLM, collate, next_positions
from .checkpoint import (
    CheckpointError,
    adopt_hf_checkpoint,
    model_type_of,
    read_lvr_config,
    register_checkpoint,
    validate_checkpoint,
)
from .composite import CompositeVideoLM
from .config import (
    COMPOSITE,
    LVR_CONFIG,
    QWEN2_5_VL,
    QWEN3_VL,
    CompositeOptions,
    ConfigError,
    ModelSpec,
    Qwen3VLOptions,
    QwenVLOptions,
    read_model_spec,
)
from .factory import build_from_spec, load_model
from .generation import Generation, StreamEvent, generate_batch, generate_stream, prompt_inputs
from .projector import ProjectorConfig, VideoProjector
from .prompting import Parsed, build_messages, extract_letter, format_mcq, format_target, parse_response, system_prompt
from .qwen3_vl import Qwen3VideoLM
from .qwen_vl import QwenVideoLM, smart_resize
from .references import resolve_model
from .tiny import build_tiny, init_tiny
from .vila import VilaVideoLM, adopt_vila_checkpoint
from .vila_format import VilaFormatError, is_vila_folder

__all__ = [
    "VideoLM", "ModelInputs", "VideoLayout", "collate", "next_positions", "IGNORE_INDEX",
    "CompositeVideoLM", "QwenVideoLM", "Qwen3VideoLM", "smart_resize", "ProjectorConfig", "VideoProjector",
    "CompositeOptions", "QwenVLOptions", "Qwen3VLOptions", "ModelSpec", "read_model_spec", "build_from_spec",
    "ConfigError",
    "COMPOSITE", "QWEN2_5_VL", "QWEN3_VL", "LVR_CONFIG",
    "load_model", "validate_checkpoint", "read_lvr_config", "model_type_of", "register_checkpoint",
    "resolve_model",
    "adopt_hf_checkpoint", "CheckpointError",
    "build_messages", "format_mcq", "format_target", "parse_response", "extract_letter", "Parsed", "system_prompt",
    "generate_stream", "generate_batch", "prompt_inputs", "StreamEvent", "Generation",
    "build_tiny", "init_tiny",
    "VilaVideoLM", "adopt_vila_checkpoint", "is_vila_folder", "VilaFormatError",
]

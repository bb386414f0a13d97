"""Typed options of each adapter (`lvr_config.json`) and real-size model specs (configs/models/*.yaml).

    opts = CompositeOptions.from_dict(json.load(open("ckpt/lvr_config.json")))
    spec = read_model_spec("configs/models/qwen2_5_vl_7b.yaml")   # -> ModelSpec

Every checkpoint directory has a top-level `lvr_config.json` whose `model_type` says which
adapter loads it ("lvr_composite", "qwen2_5_vl" or "qwen3_vl"); nothing is guessed from paths. Unknown
keys and wrong types fail fast with the key named.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
LVR_CONFIG = "lvr_config.json"
COMPOSITE = "lvr_composite"
QWEN2_5_VL = "qwen2_5_vl"
QWEN3_VL = "qwen3_vl"
MODEL_TYPES = (COMPOSITE, QWEN2_5_VL, QWEN3_VL)
ANSWER_FORMATS = ("letter", "text")   # what a checkpoint writes in <answer> for a multiple-choice question
CHECKPOINT_FORMATS = ("lvr", "vila")   # a composite's folder layout: lvr's own, or VILA's (lvr.model.vila)

SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # also Qwen2.5-VL's
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ConfigError(ValueError):
    """A config file or dict is invalid; the message names the source and the key."""


def _check(cls, data: dict, where: str) -> dict:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
    out = {}
    for key, value in data.items():
        default = fields[key].default
        if default is dataclasses.MISSING and fields[key].default_factory is not dataclasses.MISSING:
            default = fields[key].default_factory()
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true/false, got {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and (
                not isinstance(value, int) or isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} must be an integer, got {value!r}")
        if isinstance(default, float) and not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
        if isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
        if isinstance(default, dict) and not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a mapping, got {value!r}")
        if isinstance(default, tuple):
            if not isinstance(value, (list, tuple)) or len(value) != len(default):
                raise ConfigError(f"{where}: {key} must be a list of {len(default)} numbers, got {value!r}")
            value = tuple(float(v) for v in value)
        out[key] = value
    return out


def _check_answer_format(value: str) -> None:
    if value not in ANSWER_FORMATS:
        raise ConfigError(f"answer_format must be one of {list(ANSWER_FORMATS)}, got {value!r}")


@dataclass(frozen=True)
class CompositeOptions:
    """Options of the composite (vision tower → projector → causal LM) that are not in HF configs."""

    model_type: str = COMPOSITE
    format_version: int = FORMAT_VERSION
    video_token: str = "<video>"          # placeholder token, repeated once per video token
    timestamp_text: bool = False          # insert "<t=12.0s>" before each frame's tokens
    timestamp_format: str = "<t={:.1f}s>"  # {} the seconds; {clock} the time as the prompts write it (mm:ss)
    image_mean: tuple = SIGLIP_MEAN
    image_std: tuple = SIGLIP_STD
    vision_select_layer: int = -1         # -1: last_hidden_state; -2: the layer before, …
    encode_batch_size: int = 32           # frames per vision-tower call
    answer_format: str = "letter"         # MCQ answers as the option's letter or its text (set by SFT)
    checkpoint_format: str = "lvr"        # "lvr", or "vila": a VILA-format folder (lvr.model.vila)
    vila: dict = field(default_factory=dict)   # VilaSettings of a "vila" folder (lvr.model.vila_format)

    def __post_init__(self):
        if self.checkpoint_format not in CHECKPOINT_FORMATS:
            raise ConfigError(f"CompositeOptions: checkpoint_format must be one of {list(CHECKPOINT_FORMATS)}, "
                              f"got {self.checkpoint_format!r}")
        if self.model_type != COMPOSITE:
            raise ConfigError(f"CompositeOptions: model_type must be {COMPOSITE!r}, got {self.model_type!r}")
        _check_answer_format(self.answer_format)
        if "{" not in self.timestamp_format:
            raise ConfigError(f"timestamp_format needs a {{}} field for the seconds or {{clock}} for mm:ss, got "
                              f"{self.timestamp_format!r}")
        try:
            self.timestamp_format.format(1.0, clock="00:01")
        except (IndexError, KeyError, ValueError) as e:
            raise ConfigError(f"timestamp_format {self.timestamp_format!r} does not format: {e}") from e
        if self.encode_batch_size < 1:
            raise ConfigError("encode_batch_size must be >= 1")
        if any(s <= 0 for s in self.image_std):
            raise ConfigError(f"image_std must be positive, got {self.image_std}")

    def timestamp_tag(self, seconds: float) -> str:
        """The text put before a frame at `seconds`: "<t=35.6s>", or with "{clock}" in the format the time
        as questions write it ("00:36", h:mm:ss past an hour), so a question's time can match a tag."""
        t = round(float(seconds))
        clock = f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60:02d}:{t % 60:02d}"
        return self.timestamp_format.format(seconds, clock=clock)

    @classmethod
    def from_dict(cls, data: dict, where: str = "composite options") -> "CompositeOptions":
        return cls(**_check(cls, data, where))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["image_mean"], d["image_std"] = list(self.image_mean), list(self.image_std)
        if self.checkpoint_format == "lvr":   # lvr-format files stay as they were before VILA support
            d.pop("checkpoint_format")
            d.pop("vila")
        return d


@dataclass(frozen=True)
class QwenVLOptions:
    """Frame preprocessing of the Qwen2.5-VL adapter (frames are resized to multiples of 28)."""

    model_type: str = QWEN2_5_VL
    format_version: int = FORMAT_VERSION
    min_pixels: int = 4 * 28 * 28         # per frame, after resizing
    max_pixels: int = 448 * 448
    image_mean: tuple = CLIP_MEAN
    image_std: tuple = CLIP_STD
    default_second_per_group: float = 1.0  # M-RoPE time step per group when no timestamps are given
    encode_batch_groups: int = 16          # temporal patch pairs per vision-tower call
    answer_format: str = "letter"          # MCQ answers as the option's letter or its text (set by SFT)

    def __post_init__(self):
        if self.model_type != QWEN2_5_VL:
            raise ConfigError(f"QwenVLOptions: model_type must be {QWEN2_5_VL!r}, got {self.model_type!r}")
        _check_answer_format(self.answer_format)
        if not (0 < self.min_pixels <= self.max_pixels):
            raise ConfigError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        if self.encode_batch_groups < 1 or self.default_second_per_group <= 0:
            raise ConfigError("encode_batch_groups must be >= 1 and default_second_per_group > 0")

    @classmethod
    def from_dict(cls, data: dict, where: str = "qwen2_5_vl options") -> "QwenVLOptions":
        return cls(**_check(cls, data, where))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["image_mean"], d["image_std"] = list(self.image_mean), list(self.image_std)
        return d


@dataclass(frozen=True)
class Qwen3VLOptions:
    """Frame preprocessing of the Qwen3-VL adapter (frames resized to multiples of 32, per-frame pixel bounds;
    each temporal pair gets a "<t seconds>" text timestamp)."""

    model_type: str = QWEN3_VL
    format_version: int = FORMAT_VERSION
    min_pixels: int = 4 * 32 * 32         # per frame, after resizing
    max_pixels: int = 448 * 448
    image_mean: tuple = SIGLIP_MEAN        # Qwen3-VL's video processor: IMAGENET_STANDARD (0.5, 0.5, 0.5)
    image_std: tuple = SIGLIP_STD
    default_fps: float = 2.0               # frames per second assumed for the timestamps when none are given
    encode_batch_groups: int = 16          # temporal patch pairs per vision-tower call
    answer_format: str = "letter"

    def __post_init__(self):
        if self.model_type != QWEN3_VL:
            raise ConfigError(f"Qwen3VLOptions: model_type must be {QWEN3_VL!r}, got {self.model_type!r}")
        _check_answer_format(self.answer_format)
        if not (0 < self.min_pixels <= self.max_pixels):
            raise ConfigError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        if self.encode_batch_groups < 1 or self.default_fps <= 0:
            raise ConfigError("encode_batch_groups must be >= 1 and default_fps > 0")

    @classmethod
    def from_dict(cls, data: dict, where: str = "qwen3_vl options") -> "Qwen3VLOptions":
        return cls(**_check(cls, data, where))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["image_mean"], d["image_std"] = list(self.image_mean), list(self.image_std)
        return d


OPTIONS_BY_TYPE = {COMPOSITE: CompositeOptions, QWEN2_5_VL: QwenVLOptions, QWEN3_VL: Qwen3VLOptions}


def options_from_dict(data: dict, where: str):
    kind = data.get("model_type") if isinstance(data, dict) else None
    if kind not in OPTIONS_BY_TYPE:
        raise ConfigError(f"{where}: model_type must be one of {list(MODEL_TYPES)}, got {kind!r}")
    return OPTIONS_BY_TYPE[kind].from_dict(data, where)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class ModelSpec:
    """A model described by a YAML/JSON file in configs/models/ (built with lvr.model.factory).

    composite: `vision` (a transformers vision config dict with its `model_type`), `llm` (a
    causal-LM config dict with `model_type`), `projector` (ProjectorConfig fields except the
    dims, which come from the two configs), `options` (CompositeOptions).
    qwen2_5_vl / qwen3_vl: `hf_config` (Qwen2_5_VLConfig / Qwen3VLConfig kwargs), `options`
    (QwenVLOptions / Qwen3VLOptions).
    """

    model_type: str
    source: str
    options: Any
    vision: dict = field(default_factory=dict)
    llm: dict = field(default_factory=dict)
    projector: dict = field(default_factory=dict)
    hf_config: dict = field(default_factory=dict)
    tokenizer: str | None = None       # where the real tokenizer comes from (documentation only)
    description: str = ""


def read_model_spec(path: str | Path) -> ModelSpec:
    """Parse a model spec file (YAML or JSON), failing with the file and key named."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"model spec {path} does not exist") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"model spec {path}: invalid YAML/JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"model spec {path}: expected a mapping at top level")
    allowed = {"model_type", "vision", "llm", "projector", "hf_config", "options", "tokenizer", "description"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"model spec {path}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    kind = data.get("model_type")
    if kind not in MODEL_TYPES:
        raise ConfigError(f"model spec {path}: model_type must be one of {list(MODEL_TYPES)}, got {kind!r}")
    options = OPTIONS_BY_TYPE[kind].from_dict({"model_type": kind, **(data.get("options") or {})},
                                              f"model spec {path}: options")
    need = ("vision", "llm") if kind == COMPOSITE else ("hf_config",)
    for key in need:
        if not isinstance(data.get(key), dict):
            raise ConfigError(f"model spec {path}: {kind} needs a mapping '{key}'")
    for key in (("vision", "llm") if kind == COMPOSITE else ()):
        if "model_type" not in data[key]:
            raise ConfigError(f"model spec {path}: '{key}' needs a transformers model_type")
    return ModelSpec(model_type=kind, source=str(path), options=options, vision=data.get("vision") or {},
                     llm=data.get("llm") or {}, projector=data.get("projector") or {},
                     hf_config=data.get("hf_config") or {}, tokenizer=data.get("tokenizer"),
                     description=str(data.get("description") or ""))

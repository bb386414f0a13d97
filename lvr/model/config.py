"""Typed options of each adapter (`lvr_config.json`) and real-size model specs (configs/models/*.yaml).

    opts = CompositeOptions.from_dict(json.load(open("ckpt/lvr_config.json")))
    spec = read_model_spec("configs/models/qwen2_5_vl_7b.yaml")   # -> ModelSpec

Every checkpoint directory has a top-level `lvr_config.json` whose `model_type` says which
adapter loads it ("lvr_composite", "qwen2_5_vl" or "qwen3_vl"); nothing is guessed from paths. Unknown
keys and wrong types fail fast with the key named: the options are lvr.config dataclasses (`option` help,
choices and bounds; `check_fields` when built directly) and fail with lvr.config.ConfigError.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lvr.config import ConfigError, check_fields, option, read_mapping, to_dict
from lvr.config import from_dict as config_from_dict
from lvr.video.timefmt import fmt_time

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


ANSWER_FORMAT_HELP = "MCQ answers as the option's letter or its text (set by SFT)"


def _check_channels(opts) -> None:
    """image_mean / image_std: one number per RGB channel, std positive."""
    name = type(opts).__name__
    for key in ("image_mean", "image_std"):
        if len(getattr(opts, key)) != 3:
            raise ConfigError(f"{name}.{key}: must be a list of 3 numbers, got {list(getattr(opts, key))}")
    if any(s <= 0 for s in opts.image_std):
        raise ConfigError(f"image_std must be positive, got {opts.image_std}")


FRAME_WALK_HELP = ("with frame_lookback: generation writes the frame tags in time order itself (whatever clock tag a "
                   "row writes becomes its next unread frame's), so the model writes only each line's content; for a "
                   "line per frame (DataConfig.reasoning every_frame, to_evidence)")


def _check_walk(opts) -> None:
    """frame_walk writes look-back tags: it needs frame_lookback."""
    if opts.frame_walk and not opts.frame_lookback:
        raise ConfigError(f"{type(opts).__name__}.frame_walk needs frame_lookback: true (the tags it writes are "
                          "look-back tags)")


@dataclass(frozen=True)
class CompositeOptions:
    """Options of the composite (vision tower → projector → causal LM) that are not in HF configs."""

    model_type: str = option(COMPOSITE, "the adapter that loads the folder", choices=(COMPOSITE,))
    format_version: int = option(FORMAT_VERSION, "version of the lvr_config.json format")
    video_token: str = option("<video>", "placeholder token, repeated once per video token")
    timestamp_text: bool = option(False, 'insert "<t=12.0s>" before each frame\'s tokens')
    timestamp_format: str = option("<t={:.1f}s>", "{} the seconds; {clock} the time as the prompts write it (mm:ss)")
    stamp_frames: bool = option(False, "add the embedding of the token before each frame's video tokens (its time "
                                "tag) to those tokens, so a frame carries its time and a question's time token "
                                "finds it in one attention step (needs timestamp_text)")
    hide_frame_tags: bool = option(False, "with stamp_frames: blank each frame's (last) tag token once it is stamped "
                                   "on the frame, so the question's time is the only clock token in the text and "
                                   "the frames carry theirs")
    frame_lookback: bool = option(False, "in the model's answer, each clock tag of a prompt frame is followed by that "
                                  "frame's video tokens again (no label), so a reasoning line is written next to "
                                  "the frame it names (lvr.model.lookback; needs one-token clock tags: "
                                  "timestamp_format {clock}, use_clock_tags)")
    frame_walk: bool = option(False, FRAME_WALK_HELP)
    image_mean: tuple[float, ...] = option(SIGLIP_MEAN, "per-channel mean of the frame normalisation")
    image_std: tuple[float, ...] = option(SIGLIP_STD, "per-channel std of the frame normalisation (> 0)")
    vision_select_layer: int = option(-1, "-1: last_hidden_state; -2: the layer before, …")
    encode_batch_size: int = option(32, "frames per vision-tower call", ge=1)
    answer_format: str = option("letter", ANSWER_FORMAT_HELP, choices=ANSWER_FORMATS)
    checkpoint_format: str = option("lvr", '"lvr", or "vila": a VILA-format folder (lvr.model.vila)',
                                    choices=CHECKPOINT_FORMATS)
    vila: dict = option({}, 'VilaSettings of a "vila" folder (lvr.model.vila_format)')

    def __post_init__(self):
        check_fields(self)
        if "{" not in self.timestamp_format:
            raise ConfigError(f"timestamp_format needs a {{}} field for the seconds or {{clock}} for mm:ss, got "
                              f"{self.timestamp_format!r}")
        try:
            self.timestamp_format.format(1.0, clock="00:01")
        except (IndexError, KeyError, ValueError) as e:
            raise ConfigError(f"timestamp_format {self.timestamp_format!r} does not format: {e}") from e
        _check_channels(self)
        if self.stamp_frames and not self.timestamp_text:
            raise ConfigError("stamp_frames needs timestamp_text: true (the tags are what is stamped on the frames)")
        if self.hide_frame_tags and not self.stamp_frames:
            raise ConfigError("hide_frame_tags needs stamp_frames: true (else the frames lose their times)")
        if self.frame_lookback and not (self.timestamp_text and "{clock" in self.timestamp_format):
            raise ConfigError("frame_lookback needs timestamp_text: true and the {clock} timestamp_format "
                              "(one-token clock tags, CompositeVideoLM.use_clock_tags)")
        _check_walk(self)

    def timestamp_tag(self, seconds: float) -> str:
        """The text put before a frame at `seconds`: "<t=35.6s>", or with "{clock}" in the format the time
        as questions write it ("00:36", h:mm:ss past an hour), so a question's time can match a tag."""
        return self.timestamp_format.format(seconds, clock=fmt_time(seconds))

    @classmethod
    def from_dict(cls, data: dict, where: str = "composite options") -> "CompositeOptions":
        return config_from_dict(cls, data, source=where)

    def to_dict(self) -> dict:
        d = to_dict(self)
        if self.checkpoint_format == "lvr":   # lvr-format files stay as they were before VILA support
            d.pop("checkpoint_format")
            d.pop("vila")
        return d


@dataclass(frozen=True)
class QwenVLOptions:
    """Frame preprocessing of the Qwen2.5-VL adapter (frames are resized to multiples of 28)."""

    model_type: str = option(QWEN2_5_VL, "the adapter that loads the folder", choices=(QWEN2_5_VL,))
    format_version: int = option(FORMAT_VERSION, "version of the lvr_config.json format")
    min_pixels: int = option(4 * 28 * 28, "least pixels per frame, after resizing", gt=0)
    max_pixels: int = option(448 * 448, "most pixels per frame, after resizing")
    image_mean: tuple[float, ...] = option(CLIP_MEAN, "per-channel mean of the frame normalisation")
    image_std: tuple[float, ...] = option(CLIP_STD, "per-channel std of the frame normalisation (> 0)")
    default_second_per_group: float = option(1.0, "M-RoPE time step per group when no timestamps are given", gt=0)
    encode_batch_groups: int = option(16, "temporal patch pairs per vision-tower call", ge=1)
    answer_format: str = option("letter", ANSWER_FORMAT_HELP, choices=ANSWER_FORMATS)

    def __post_init__(self):
        check_fields(self)
        if not (0 < self.min_pixels <= self.max_pixels):
            raise ConfigError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        _check_channels(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "qwen2_5_vl options") -> "QwenVLOptions":
        return config_from_dict(cls, data, source=where)

    def to_dict(self) -> dict:
        return to_dict(self)


@dataclass(frozen=True)
class Qwen3VLOptions:
    """Frame preprocessing of the Qwen3-VL adapter (frames resized to multiples of 32, per-frame pixel bounds;
    each temporal pair gets a "<t seconds>" text timestamp)."""

    model_type: str = option(QWEN3_VL, "the adapter that loads the folder", choices=(QWEN3_VL,))
    format_version: int = option(FORMAT_VERSION, "version of the lvr_config.json format")
    min_pixels: int = option(4 * 32 * 32, "least pixels per frame, after resizing", gt=0)
    max_pixels: int = option(448 * 448, "most pixels per frame, after resizing")
    frame_lookback: bool = option(False, "in the model's answer, each clock tag of a prompt frame is followed by that "
                                  "frame's video tokens again (no label), so a reasoning line is written next to "
                                  "the frame it names (lvr.model.lookback; needs one-token clock tags: "
                                  "timestamp_format {clock}, use_clock_tags)")
    frame_walk: bool = option(False, FRAME_WALK_HELP)
    image_mean: tuple[float, ...] = option(SIGLIP_MEAN, "per-channel mean (Qwen3-VL's video processor: "
                                           "IMAGENET_STANDARD, 0.5 each)")
    image_std: tuple[float, ...] = option(SIGLIP_STD, "per-channel std of the frame normalisation (> 0)")
    default_fps: float = option(2.0, "frames per second assumed for the timestamps when none are given", gt=0)
    encode_batch_groups: int = option(16, "temporal patch pairs per vision-tower call", ge=1)
    answer_format: str = option("letter", ANSWER_FORMAT_HELP, choices=ANSWER_FORMATS)

    def __post_init__(self):
        check_fields(self)
        if not (0 < self.min_pixels <= self.max_pixels):
            raise ConfigError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        _check_channels(self)
        _check_walk(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "qwen3_vl options") -> "Qwen3VLOptions":
        return config_from_dict(cls, data, source=where)

    def to_dict(self) -> dict:
        return to_dict(self)


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
    path = Path(path)
    data = read_mapping(path, "model spec")
    allowed = {"model_type", "vision", "llm", "projector", "hf_config", "options", "tokenizer", "description"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"model spec {path}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    kind = data.get("model_type")
    if kind not in MODEL_TYPES:
        raise ConfigError(f"model spec {path}: model_type must be one of {list(MODEL_TYPES)}, got {kind!r}")
    options = config_from_dict(OPTIONS_BY_TYPE[kind], {"model_type": kind, **(data.get("options") or {})},
                               source=str(path), prefix="options.")
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

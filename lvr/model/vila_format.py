"""VILA-format folders: recognise them, read what their configs say, refuse what is not supported,
and lay out prompts the way VILA's own code does.

    is_vila_folder("LongVILA-R1-7B")                     # top-level config.json with llm_cfg / vision_tower_cfg /
                                                         # mm_projector_cfg + llm/ vision_tower/ mm_projector/
    settings = vila_settings(d, tokenizer)               # VilaSettings (stored in lvr_config.json "vila")
    messages = vila_messages(messages, settings)         # lvr messages → VILA's prompt layout

What is read (docs/vila_format.md cites the NVlabs/VILA file behind each): `mm_projector_cfg`
type, `mm_hidden_size`, `mm_vision_select_layer` / `_feature`, `image_aspect_ratio`
(`resize` / `pad`), the vision tower's `preprocessor_config.json` (size, mean, std, resample),
`video_encoder` (BasicVideoEncoder start/end tokens, or TSPVideoEncoder with one pool size and
no separator) and `chat_template`. S2 / dynamic-S2 multi-scale features, dynamic tiling,
time tokens, resized position embeddings, several TSP pool sizes and non-ChatML chat
templates raise `VilaFormatError` naming the key instead of producing different features.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from lvr.config import field_values

from .chat_format import render_chat
from .prompting import ANSWER_FORMATS, system_prompt
from .vila_projector import check_type

VILA_CONFIG = "config.json"
VILA_DIRS = ("llm", "vision_tower", "mm_projector")
VIDEO_TOKEN, IMAGE_TOKEN = "<vila/video>", "<image>"
# The default system turn of VILA's `qwen2` chat template (llava/model/language_model/chat_templates/qwen2.jinja).
VILA_TEMPLATE_SYSTEM = {"qwen2": "You are a helpful assistant"}
# LongVILA-R1's thinking-mode prompt (NVlabs/Long-RL README, "LongVILA-R1 Model Usage"), put in the user turn.
LONGVILA_R1_THINK = (
    "You are a helpful assistant. The user asks a question, and then you solves it.\n\nPlease first think deeply "
    "about the question based on the given video, and then provide the final answer. The reasoning process and "
    "answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>.\n\n Question: {question}")
PROMPT_STYLES = ("longvila_r1", "plain")
VIDEO_POSITIONS = ("after_text", "before_text")
_PIL_BICUBIC = 3


class VilaFormatError(ValueError):
    """A VILA-format folder uses a feature this adapter does not reproduce (the message names it)."""


@dataclass(frozen=True)
class VilaSettings:
    """What the VILA configs say, as the adapter needs it (kept under "vila" in lvr_config.json)."""

    projector_type: str = "mlp_downsample"
    select_feature: str = "cls_patch"     # "cls_patch": all tower tokens; "patch": drop the first (CLIP's CLS)
    aspect: str = "resize"                # image_aspect_ratio: "resize" or "pad" (square with the mean colour)
    resample: int = _PIL_BICUBIC          # PIL filter of the image processor (used after "pad")
    temporal_pool: int = 1                # TSPVideoEncoder pool size over frames (1: BasicVideoEncoder)
    spatial_pool: int = 1                 # … and over each side of the projected token grid
    video_start: str = ""                 # text embedded before each (pooled) frame's tokens
    video_end: str = "\n"                 # … and after them
    system_prompt: str = "You are a helpful assistant"   # the chat template's default system turn
    prompt_style: str = "longvila_r1"     # thinking prompt: LongVILA-R1's user-turn instruction, or "plain"
    video_position: str = "after_text"    # where the video sits in the user turn

    def __post_init__(self):
        for name, allowed in (("prompt_style", PROMPT_STYLES), ("video_position", VIDEO_POSITIONS),
                              ("aspect", ("resize", "pad")), ("select_feature", ("cls_patch", "patch"))):
            if getattr(self, name) not in allowed:
                raise VilaFormatError(f"vila.{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        if self.temporal_pool < 1 or self.spatial_pool < 1:
            raise VilaFormatError("vila.temporal_pool and vila.spatial_pool must be >= 1")

    @classmethod
    def from_dict(cls, data: dict, where: str = "vila settings") -> "VilaSettings":
        return cls(**field_values(cls, data, source=where))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise VilaFormatError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise VilaFormatError(f"{path}: expected a JSON object")
    return data


def is_vila_folder(directory: str | Path) -> bool:
    """A top-level config.json naming llm_cfg / vision_tower_cfg / mm_projector_cfg, and the three sub-folders."""
    d = Path(directory)
    try:
        cfg = json.loads((d / VILA_CONFIG).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    keys = ("llm_cfg", "vision_tower_cfg", "mm_projector_cfg")
    return isinstance(cfg, dict) and all(k in cfg for k in keys) and all((d / s).is_dir() for s in VILA_DIRS)


def _refuse(cfg: dict, where: str) -> None:
    """Features VILA implements that this adapter does not: fail with the key named."""
    if cfg.get("s2"):
        raise VilaFormatError(f"{where}: s2=true (S2 multi-scale vision features) is not supported")
    if cfg.get("dynamic_s2"):
        raise VilaFormatError(f"{where}: dynamic_s2=true (NVILA dynamic-S2 tiling) is not supported")
    aspect = cfg.get("image_aspect_ratio") or "resize"
    if aspect not in ("resize", "pad"):
        raise VilaFormatError(f"{where}: image_aspect_ratio={aspect!r} (dynamic tiling) is not supported; "
                              "supported: 'resize', 'pad'")
    if cfg.get("num_time_tokens"):
        raise VilaFormatError(f"{where}: num_time_tokens={cfg['num_time_tokens']} (time tokens) is not supported")
    if cfg.get("vision_resolution") not in (None, -1):
        raise VilaFormatError(f"{where}: vision_resolution={cfg['vision_resolution']} (resized position "
                              "embeddings) is not supported")


def _video_encoder(cfg: dict, where: str) -> dict:
    """Start/end text and pool sizes from `video_encoder` (a JSON string or a mapping with `_target_`)."""
    enc = cfg.get("video_encoder") or {"_target_": "llava.model.encoders.BasicVideoEncoder"}
    if isinstance(enc, str):
        try:
            enc = json.loads(enc)
        except json.JSONDecodeError as e:
            raise VilaFormatError(f"{where}: video_encoder is not JSON: {e}") from None
    if not isinstance(enc, dict):
        raise VilaFormatError(f"{where}: video_encoder must be a mapping with _target_, got {enc!r}")
    target = str(enc.get("_target_", ""))
    out = {"video_start": enc.get("start_tokens") or "",
           "video_end": enc.get("end_tokens", "\n") or ""}
    if target.endswith("BasicVideoEncoder"):
        return out
    if not target.endswith("TSPVideoEncoder"):
        raise VilaFormatError(f"{where}: video_encoder {target!r} is not supported "
                              "(BasicVideoEncoder, TSPVideoEncoder)")
    if enc.get("sep_tokens"):
        raise VilaFormatError(f"{where}: TSPVideoEncoder sep_tokens is not supported")
    sizes = enc.get("pool_sizes") or []
    if len(sizes) != 1 or len(sizes[0]) != 3 or sizes[0][1] != sizes[0][2]:
        raise VilaFormatError(f"{where}: TSPVideoEncoder pool_sizes {sizes} not supported (one [t, s, s] only)")
    return dict(out, temporal_pool=int(sizes[0][0]), spatial_pool=int(sizes[0][1]))


def _processor(d: Path, image_size: int) -> dict:
    """mean/std/resample of `vision_tower/preprocessor_config.json` (SigLIP-style: resize to size, /255, normalise)."""
    path = d / "vision_tower" / "preprocessor_config.json"
    if not path.is_file():
        raise VilaFormatError(f"{path}: missing (the image processor VILA loads with the tower)")
    p = read_json(path)
    size = p.get("size") or {}
    if "crop_size" in p or p.get("do_center_crop") or set(size) != {"height", "width"}:
        raise VilaFormatError(f"{path}: only a SigLIP-style processor (resize to size height x width, no crop) "
                              f"is supported, got size={size} crop_size={p.get('crop_size')}")
    if (size["height"], size["width"]) != (image_size, image_size):
        raise VilaFormatError(f"{path}: size {size} differs from the tower's image_size {image_size}")
    if not (p.get("do_resize", True) and p.get("do_rescale", True) and p.get("do_normalize", True)) or \
            abs(float(p.get("rescale_factor", 1 / 255)) - 1 / 255) > 1e-12:
        raise VilaFormatError(f"{path}: only resize + rescale 1/255 + normalise is supported")
    return {"image_mean": tuple(float(v) for v in p.get("image_mean", (0.5,) * 3)),
            "image_std": tuple(float(v) for v in p.get("image_std", (0.5,) * 3)),
            "resample": int(p.get("resample", _PIL_BICUBIC))}


def template_system_prompt(cfg: dict, tokenizer, where: str) -> str:
    """The default system turn of the chat template VILA uses: the named VILA template (`chat_template`) or
    the tokenizer's own; it must render as ChatML (what build_inputs renders), checked by rendering."""
    name = cfg.get("chat_template")
    if name is not None:
        if name not in VILA_TEMPLATE_SYSTEM:
            raise VilaFormatError(f"{where}: chat_template {name!r} is not supported ({list(VILA_TEMPLATE_SYSTEM)})")
        return VILA_TEMPLATE_SYSTEM[name]
    if not getattr(tokenizer, "chat_template", None):
        raise VilaFormatError(f"{where}: chat_template is null and llm/ has no tokenizer chat template")
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Q"}], tokenize=False)
    head, tail = "<|im_start|>system\n", "<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
    if not (text.startswith(head) and text.endswith(tail)):
        raise VilaFormatError(f"{where}: the llm/ tokenizer's chat template is not ChatML with a default system "
                              f"turn (renders {text[:120]!r}); not supported")
    system = text[len(head):-len(tail)]
    probe = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
             {"role": "assistant", "content": "A"}]
    ours, _ = render_chat(probe, video_markup=VIDEO_TOKEN)
    if tokenizer.apply_chat_template(probe, tokenize=False) != ours:
        raise VilaFormatError(f"{where}: the llm/ tokenizer's chat template does not render ChatML turns")
    return system


def vila_settings(directory: str | Path, tokenizer, **overrides) -> tuple[VilaSettings, dict]:
    """(VilaSettings, CompositeOptions fields) read from a VILA-format folder; raises VilaFormatError."""
    d = Path(directory)
    where = str(d / VILA_CONFIG)
    cfg = read_json(d / VILA_CONFIG)
    _refuse(cfg, where)
    vt = read_json(d / "vision_tower" / "config.json")
    if vt.get("model_type") not in ("siglip_vision_model", "clip_vision_model"):
        raise VilaFormatError(f"{d / 'vision_tower/config.json'}: tower {vt.get('model_type')!r} is not supported "
                              "(siglip_vision_model, clip_vision_model)")
    feature = cfg.get("mm_vision_select_feature") or "patch"
    if feature == "patch" and vt["model_type"] == "siglip_vision_model":
        raise VilaFormatError(f"{where}: mm_vision_select_feature='patch' on SigLIP (drops a real patch, the grid "
                              "is no longer square) is not supported")
    if tokenizer("Q")["input_ids"] != tokenizer("Q", add_special_tokens=False)["input_ids"]:
        raise VilaFormatError(f"{d / 'llm'}: the tokenizer adds special tokens (BOS); only ChatML LMs are supported")
    proc = _processor(d, int(vt.get("image_size", 0)))
    kind = read_json(d / "mm_projector" / VILA_CONFIG).get("mm_projector_type", "")
    try:
        check_type(kind)
    except ValueError as e:
        raise VilaFormatError(f"{d / 'mm_projector/config.json'}: {e}") from None
    fields = dict(projector_type=kind,
                  select_feature=feature, aspect=cfg.get("image_aspect_ratio") or "resize",
                  resample=proc["resample"], system_prompt=template_system_prompt(cfg, tokenizer, where),
                  **_video_encoder(cfg, where))
    fields.update(overrides)
    settings = VilaSettings.from_dict(fields, where)
    options = dict(video_token=VIDEO_TOKEN, timestamp_text=False, image_mean=proc["image_mean"],
                   image_std=proc["image_std"], vision_select_layer=int(cfg.get("mm_vision_select_layer", -2)))
    return settings, options


def _lvr_think(content) -> bool | None:
    """True/False when `content` is one of lvr's own system prompts (think / no-think), else None."""
    if not isinstance(content, str):
        return None
    for think in (True, False):
        if any(content == system_prompt(think, fmt) for fmt in ANSWER_FORMATS):
            return think
    return None


def _user_turn(content, think: bool | None, settings: VilaSettings):
    items = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    text = "".join(str(i.get("text", "")) for i in items if i.get("type") == "text").strip()
    if think and settings.prompt_style == "longvila_r1":
        text = LONGVILA_R1_THINK.format(question=text)
    parts = [{"type": "text", "text": text}]
    if any(i.get("type") == "video" for i in items):
        video = {"type": "video"}
        parts = parts + [video] if settings.video_position == "after_text" else [video] + parts
    return parts


def vila_messages(messages: list[dict], settings: VilaSettings) -> list[dict]:
    """lvr messages → VILA's layout: lvr's own system prompt becomes the template's default system turn plus
    (thinking, style longvila_r1) LongVILA-R1's instruction around the question in the user turn; the
    video goes after (or before) the text; every string is stripped as VILA's tokenize_conversation does."""
    msgs = [dict(m) for m in messages]
    think = _lvr_think(msgs[0].get("content")) if msgs and msgs[0].get("role") == "system" else None
    if think is not None:
        msgs = msgs[1:]
    if not msgs or msgs[0].get("role") != "system":
        msgs.insert(0, {"role": "system", "content": settings.system_prompt})
    out, first_user = [], True
    for m in msgs:
        if m.get("role") == "user":
            m["content"] = _user_turn(m.get("content", ""), think if first_user else None, settings)
            first_user = False
        elif isinstance(m.get("content"), str) and m.get("role") == "assistant":
            m["content"] = m["content"].strip()
        out.append(m)
    return out

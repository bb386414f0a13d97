"""A VILA-format checkpoint (VILA, LongVILA, LongVILA-R1) as the composite adapter, folder untouched.

    adopt_vila_checkpoint("LongVILA-R1-7B")      # writes lvr_config.json only (lvr model adopt DIR)
    model = load_model("LongVILA-R1-7B")         # -> VilaVideoLM (model_type lvr_composite)
    model.save("out")                            # VILA layout again: config.json llm/ vision_tower/ mm_projector/

`VilaVideoLM` is a `CompositeVideoLM` (same module names `vision_tower` / `projector` / `llm`, so
training, MR-SP and the vLLM rollout treat it as one) whose pieces follow VILA's code instead of
lvr's defaults: frames are resized with PIL bicubic and normalised with the tower's processor
mean/std; the tower's `hidden_states[mm_vision_select_layer]` feed VILA's projector
(lvr.model.vila_projector, loaded by its own weight names); a TSPVideoEncoder's mean pooling
over `temporal_pool` frames (one group) and `spatial_pool`² tokens follows; each group's tokens
are wrapped in the encoder's start/end text (default: a "\\n" after every frame), and prompts
take VILA's layout (lvr.model.vila_format.vila_messages). `llm/` is loaded and saved as a plain
HF causal-LM folder with the tokenizer, so vLLM keeps loading it as is.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .base import VideoLayout, VideoLM, as_frames_tensor
from .checkpoint import validate_checkpoint
from .composite import LLM_DIR, PROJECTOR_DIR, VISION_DIR, CompositeVideoLM, load_parts
from .config import LVR_CONFIG, CompositeOptions, write_json
from .tokenizer import ensure_tokens
from .vila_format import (
    IMAGE_TOKEN,
    VIDEO_TOKEN,
    VILA_CONFIG,
    VilaFormatError,
    VilaSettings,
    read_json,
    vila_messages,
    vila_settings,
)
from .vila_projector import VilaProjector

PREPROCESSOR = "preprocessor_config.json"


class VilaVideoLM(CompositeVideoLM):
    def __init__(self, vision_tower: nn.Module, projector: VilaProjector, llm: nn.Module, options: CompositeOptions,
                 settings: VilaSettings, tokenizer=None, vila_files: dict | None = None):
        VideoLM.__init__(self, tokenizer)
        self.vision_tower, self.projector, self.llm = vision_tower, projector, llm
        self.options, self.settings = options, settings
        self.vila_files = dict(vila_files or {})     # top-level config / processor config, written back on save
        vc = vision_tower.config
        self.image_size = int(vc.image_size)
        self.frames_per_group = settings.temporal_pool
        grid = self.image_size // int(vc.patch_size)
        if grid != projector.grid_size:
            raise VilaFormatError(f"projector grid {projector.grid_size} != vision tower grid {grid}")
        if projector.out_grid % settings.spatial_pool:
            raise VilaFormatError(f"TSP spatial pool {settings.spatial_pool} does not divide the {projector.out_grid}"
                                  f"x{projector.out_grid} token grid")
        if projector.lm_hidden != llm.get_input_embeddings().weight.shape[1]:
            raise VilaFormatError(f"projector width {projector.lm_hidden} != LM hidden size")
        if tokenizer is not None:
            self._check_tokens()
            self.sync_generation_config()

    def _check_tokens(self) -> None:
        """VILA's media tokens (added as special tokens by VILA's tokenizer builder) must exist and fit the LM."""
        ensure_tokens(self.tokenizer, None, [IMAGE_TOKEN, VIDEO_TOKEN])
        rows = self.llm.get_input_embeddings().weight.shape[0]
        if self.video_token_id >= rows:
            raise VilaFormatError(f"{VIDEO_TOKEN} has id {self.video_token_id} but the LM embeds only {rows} tokens")

    # ------------------------------------------------------------------ layout
    @property
    def tokens_per_frame(self) -> int:
        """Video tokens per group (= per frame without temporal pooling)."""
        return (self.projector.out_grid // self.settings.spatial_pool) ** 2

    def video_layout(self, num_frames: int, frame_size: tuple[int, int] | None = None,
                     timestamps: Sequence[float] | None = None) -> VideoLayout:
        self._check_frame_count(int(num_frames))
        return VideoLayout(num_frames=int(num_frames), frames_per_group=self.frames_per_group,
                           tokens_per_group=self.tokens_per_frame,
                           timestamps=tuple(float(t) for t in timestamps) if timestamps is not None else None)

    def video_layout_for_tokens(self, n_tokens: int) -> VideoLayout:
        if n_tokens % self.tokens_per_frame:
            raise ValueError(f"{n_tokens} video tokens is not a multiple of {self.tokens_per_frame} per group")
        return self.video_layout(n_tokens // self.tokens_per_frame * self.frames_per_group)

    def _check_frame_count(self, n: int) -> None:
        if n % self.frames_per_group:
            raise ValueError(f"this VILA model pools every {self.frames_per_group} frames (TSPVideoEncoder): "
                             f"the frame count must be a multiple of it, got {n}")

    def _expand_video(self, layout: VideoLayout) -> list[int]:
        """Per group: the encoder's start text, the video tokens, its end text (VILA's BasicVideoEncoder)."""
        start, end = (self._text_ids(t) for t in (self.settings.video_start, self.settings.video_end))
        return (start + [self.video_token_id] * layout.tokens_per_group + end) * layout.num_groups

    def _text_ids(self, text: str) -> list[int]:
        # VILA embeds these with tokenizer(text).input_ids (default special-token handling)
        return list(self.tokenizer(text)["input_ids"]) if text else []

    def build_inputs(self, messages: list[dict], video_embeds: torch.Tensor | None = None, **kwargs):
        return super().build_inputs(vila_messages(messages, self.settings), video_embeds, **kwargs)

    # ------------------------------------------------------------------ encoding
    def preprocess(self, frames) -> torch.Tensor:
        """uint8 [N, H, W, 3] → [N, 3, S, S]: PIL resize (bicubic; 'pad' squares first), /255, mean/std."""
        from PIL import Image

        arr = _frames_uint8(frames)
        s, out = self.image_size, []
        for frame in arr:
            img = Image.fromarray(np.ascontiguousarray(frame))
            resample = Image.Resampling.BICUBIC
            if self.settings.aspect == "pad":
                img = _square(img, tuple(int(v * 255) for v in self.options.image_mean))
                resample = Image.Resampling(self.settings.resample)
            if img.size != (s, s):
                img = img.resize((s, s), resample=resample)
            out.append(np.asarray(img, dtype=np.uint8))
        pix = (np.stack(out).astype(np.float64) * (1 / 255)).astype(np.float32)
        mean = np.asarray(self.options.image_mean, dtype=np.float32)
        std = np.asarray(self.options.image_std, dtype=np.float32)
        pix = (pix - mean) / std
        return torch.from_numpy(pix).permute(0, 3, 1, 2).to(device=self.device, dtype=self.vision_tower.dtype)

    def vision_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """VILA's feature_select: hidden_states[mm_vision_select_layer], first token dropped for 'patch'."""
        out = self.vision_tower(pixel_values=pixel_values, output_hidden_states=True)
        feats = out.hidden_states[self.options.vision_select_layer]
        if self.settings.select_feature == "patch":
            feats = feats[:, 1:]
        n = self.projector.grid_size ** 2
        if feats.shape[1] != n:
            raise ValueError(f"vision tower returned {feats.shape[1]} tokens per frame, expected {n}")
        return feats

    def _pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """TSPVideoEncoder's mean pooling: [n, g*g, D] → [n / t, (g/s)², D] (groups of t consecutive frames)."""
        t, s, g = self.settings.temporal_pool, self.settings.spatial_pool, self.projector.out_grid
        if t == 1 and s == 1:
            return tokens
        n, _, d = tokens.shape
        x = tokens.reshape(n // t, t, g // s, s, g // s, s, d).mean(dim=(1, 3, 5))
        return x.reshape(n // t, (g // s) ** 2, d)

    def encode_frames(self, frames, batch_size: int | None = None) -> torch.Tensor:
        """Groups of `frames_per_group` frames: tower → projector → TSP pool; [groups * tokens_per_frame, d_lm]."""
        pixels = self.preprocess(frames)
        self._check_frame_count(pixels.shape[0])
        t = self.frames_per_group
        step = max(t, (batch_size or self.options.encode_batch_size) // t * t)
        chunks = []
        for i in range(0, pixels.shape[0], step):
            feats = self.vision_features(pixels[i:i + step]).to(self.projector.dtype)
            chunks.append(self._pool(self.projector(feats)))
        return torch.cat(chunks, 0).flatten(0, 1).to(self.dtype)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """The VILA layout again (llm/ with the tokenizer, vision_tower/ with its processor config,
        mm_projector/ by VILA's names, the top-level VILA config) plus lvr_config.json."""
        self._need_tokenizer()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.sync_generation_config()
        self.llm.save_pretrained(d / LLM_DIR)
        self.tokenizer.save_pretrained(d / LLM_DIR)
        self.vision_tower.save_pretrained(d / VISION_DIR)
        if self.vila_files.get("preprocessor"):
            write_json(d / VISION_DIR / PREPROCESSOR, self.vila_files["preprocessor"])
        self.projector.save(d / PROJECTOR_DIR)
        if self.vila_files.get("config"):
            write_json(d / VILA_CONFIG, self.vila_files["config"])
        write_json(d / LVR_CONFIG, self.options.to_dict())
        return d

    @classmethod
    def load(cls, directory: str | Path, *, device=None, dtype=None, trust_remote_code: bool = False
             ) -> "VilaVideoLM":
        d = Path(directory)
        options = CompositeOptions.from_dict(json.loads((d / LVR_CONFIG).read_text()), str(d / LVR_CONFIG))
        settings = VilaSettings.from_dict(options.vila, f"{d / LVR_CONFIG}: vila")
        cfg = read_json(d / VILA_CONFIG)
        tokenizer, vision, llm = load_parts(d, d / LLM_DIR, dtype=dtype, trust_remote_code=trust_remote_code)
        vc = vision.config
        width = int(cfg.get("mm_hidden_size") or vc.hidden_size)
        projector = VilaProjector.load(d / PROJECTOR_DIR, vision_hidden=width,
                                       lm_hidden=llm.get_input_embeddings().weight.shape[1],
                                       grid_size=int(vc.image_size) // int(vc.patch_size), dtype=dtype)
        files = {"config": cfg, "preprocessor": read_json(d / VISION_DIR / PREPROCESSOR)}
        model = cls(vision, projector, llm, options, settings, tokenizer, files)
        return model.to(device) if device is not None else model


def _frames_uint8(frames) -> np.ndarray:
    """uint8 RGB frames [N, H, W, 3] as numpy (validated like every adapter's input)."""
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a numpy array or tensor [N, H, W, 3], got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0 or frames.dtype != np.uint8:
        as_frames_tensor(frames[:1] if frames.ndim == 4 else frames)   # raises the shared, precise error
        raise ValueError(f"frames must be non-empty uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}")
    return frames


def _square(img, color):
    """VILA's expand2square: pad the short side symmetrically (offset (long - short) // 2) with `color`."""
    from PIL import Image

    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), color)
    out.paste(img, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
    return out


def adopt_vila_checkpoint(directory: str | Path, **overrides) -> Path:
    """Make a VILA-format folder an lvr checkpoint by writing lvr_config.json (nothing else is touched).
    `overrides`: VilaSettings fields (e.g. prompt_style="plain", video_position="before_text")."""
    from transformers import AutoTokenizer

    d = Path(directory)
    tokenizer = AutoTokenizer.from_pretrained(str(d / LLM_DIR))
    settings, fields = vila_settings(d, tokenizer, **overrides)
    options = CompositeOptions(checkpoint_format="vila", vila=settings.to_dict(), **fields)
    write_json(d / LVR_CONFIG, options.to_dict())
    validate_checkpoint(d)
    return d

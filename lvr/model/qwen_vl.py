"""Adapter over transformers' `Qwen2_5_VLForConditionalGeneration` (no torchvision needed).

    model = QwenVideoLM.load("ckpt")                       # HF folder + lvr_config.json
    pixel_values, grid = model.patchify(frames)            # rows of 3*2*14*14 = 1176, grid (t, h, w)
    embeds = model.encode_frames(frames)                   # each temporal patch pair on its own
    layout = model.video_layout(len(frames), frames.shape[1:3], timestamps)
    inputs = model.build_inputs(messages, embeds, layout=layout)   # M-RoPE positions [3, B, S]

Frames are resized with `torch.nn.functional.interpolate` (bicubic, antialiased) to Qwen's
`smart_resize` size (multiples of 28 within [min_pixels, max_pixels]), normalised with the
Qwen/CLIP mean and std, padded to an even count by repeating the last frame, and patchified
exactly like Qwen's video processor (temporal patch 2, spatial patch 14, merge 2). Positions
always come from the model's own `get_rope_index` (forward, generate and log-probs alike); the
M-RoPE time step per patch pair is `2 × frame interval` taken from the timestamps.
The checkpoint directory is the plain HF folder (config.json, safetensors, tokenizer) plus
`lvr_config.json`, so `Qwen2_5_VLForConditionalGeneration.from_pretrained(dir)` loads it as is.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .base import VideoLayout, VideoLM, as_frames_tensor
from .config import LVR_CONFIG, QwenVLOptions, write_json


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = 4 * 28 * 28,
                 max_pixels: int = 448 * 448) -> tuple[int, int]:
    """Qwen2-VL's resize rule: sides multiple of `factor`, area within [min_pixels, max_pixels], aspect kept."""
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio of a {height}x{width} frame exceeds 200")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


class QwenVideoLM(VideoLM):
    model_type = "qwen2_5_vl"

    def __init__(self, hf_model: nn.Module, options: QwenVLOptions | None = None, tokenizer=None):
        super().__init__(tokenizer)
        self.hf = hf_model
        self.options = options or QwenVLOptions()
        vc = hf_model.config.vision_config
        self.patch_size = int(vc.patch_size)
        self.merge_size = int(vc.spatial_merge_size)
        self.frames_per_group = int(vc.temporal_patch_size)
        self.factor = self.patch_size * self.merge_size

    @classmethod
    def from_config(cls, hf_config, options: QwenVLOptions | None = None, tokenizer=None) -> "QwenVideoLM":
        """Random init from a `Qwen2_5_VLConfig` (works under `torch.device("meta")`)."""
        from transformers import Qwen2_5_VLForConditionalGeneration

        return cls(Qwen2_5_VLForConditionalGeneration(hf_config), options, tokenizer)

    # ------------------------------------------------------------------ contract
    @property
    def causal_lm(self) -> nn.Module:
        return self.hf

    @property
    def video_token_id(self) -> int:
        return int(self.hf.config.video_token_id)

    def _token(self, token_id: int) -> str:
        self._need_tokenizer()
        tok = self.tokenizer.convert_ids_to_tokens(int(token_id))
        if tok is None:
            raise ValueError(f"tokenizer has no token with id {token_id} (from the Qwen2.5-VL config)")
        return tok

    @property
    def video_token(self) -> str:
        return self._token(self.hf.config.video_token_id)

    @property
    def video_markup(self) -> str:
        c = self.hf.config
        return self._token(c.vision_start_token_id) + self.video_token + self._token(c.vision_end_token_id)

    def resized_size(self, frame_size: tuple[int, int]) -> tuple[int, int]:
        if frame_size is None:
            raise ValueError("Qwen2.5-VL needs the frame size (H, W) to know the token grid")
        h, w = (int(v) for v in frame_size)
        return smart_resize(h, w, self.factor, self.options.min_pixels, self.options.max_pixels)

    def tokens_per_group(self, frame_size: tuple[int, int] | None = None) -> int:
        rh, rw = self.resized_size(frame_size)
        return (rh // self.factor) * (rw // self.factor)

    def video_layout(self, num_frames: int, frame_size: tuple[int, int] | None = None,
                     timestamps: Sequence[float] | None = None) -> VideoLayout:
        rh, rw = self.resized_size(frame_size)
        groups = math.ceil(int(num_frames) / self.frames_per_group)
        return VideoLayout(num_frames=int(num_frames), frames_per_group=self.frames_per_group,
                           tokens_per_group=(rh // self.factor) * (rw // self.factor),
                           grid_thw=(groups, rh // self.patch_size, rw // self.patch_size),
                           timestamps=tuple(float(t) for t in timestamps) if timestamps is not None else None)

    def second_per_group(self, layout: VideoLayout) -> float:
        """Seconds covered by one temporal patch pair (Qwen's `second_per_grid_ts`)."""
        ts = layout.timestamps
        if ts is None or len(ts) < 2 or ts[-1] <= ts[0]:
            return self.options.default_second_per_group
        return (ts[-1] - ts[0]) / (len(ts) - 1) * self.frames_per_group

    def preprocess(self, frames) -> torch.Tensor:
        """uint8 [N, H, W, 3] → resized, normalised float [N', 3, H', W'] (N' even)."""
        x = as_frames_tensor(frames).to(self.device)
        rh, rw = self.resized_size(tuple(x.shape[-2:]))
        if tuple(x.shape[-2:]) != (rh, rw):
            x = F.interpolate(x, size=(rh, rw), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp(0, 255) / 255.0
        mean = torch.tensor(self.options.image_mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.options.image_std, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        rem = x.shape[0] % self.frames_per_group
        if rem:
            x = torch.cat([x, x[-1:].expand(self.frames_per_group - rem, -1, -1, -1)], 0)
        return x

    def patchify(self, frames) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Qwen video-processor layout: `pixel_values_videos` [t*h*w, 3*2*14*14] and grid (t, h, w)."""
        x = self.preprocess(frames)
        n, c, height, width = x.shape
        tp, ps, m = self.frames_per_group, self.patch_size, self.merge_size
        gt, gh, gw = n // tp, height // ps, width // ps
        x = x.reshape(gt, tp, c, gh // m, m, ps, gw // m, m, ps)
        x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
        return x.reshape(gt * gh * gw, c * tp * ps * ps), (gt, gh, gw)

    def encode_frames(self, frames, batch_size: int | None = None) -> torch.Tensor:
        """Each temporal patch pair encoded on its own → [groups * tokens_per_group, d_lm].

        Splitting the frames at even indices (pair boundaries), encoding the parts and
        concatenating gives the same result as encoding all frames at once.
        """
        pixels, (gt, gh, gw) = self.patchify(frames)
        per_group = gh * gw
        step = batch_size or self.options.encode_batch_groups
        visual = self.hf.model
        out = []
        for g in range(0, gt, step):
            k = min(step, gt - g)
            grid = torch.tensor([[1, gh, gw]] * k, device=pixels.device)
            feats = visual.get_video_features(pixels[g * per_group:(g + k) * per_group], grid).pooler_output
            out.append(torch.cat(list(feats), 0))
        return torch.cat(out, 0).to(self.dtype)

    def build_position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                           layouts: Sequence[VideoLayout | None] | None = None) -> torch.Tensor:
        """M-RoPE positions [3, B, S] from the model's own `get_rope_index` (one video per row at most)."""
        videos = self.row_videos(input_ids, layouts)
        mm_types = (input_ids == self.video_token_id).int() * 2
        position_ids, _ = self.hf.model.get_rope_index(input_ids, mm_types, attention_mask=attention_mask,
                                                       **self.rope_video_kwargs(videos, input_ids.device))
        return position_ids

    def row_videos(self, input_ids: torch.Tensor, layouts) -> list[VideoLayout]:
        """The layouts of the rows that hold video tokens, in row order, checked against the token counts."""
        vid = self.video_token_id
        layouts = list(layouts) if layouts is not None else [None] * input_ids.shape[0]
        if len(layouts) != input_ids.shape[0]:
            raise ValueError(f"{len(layouts)} layouts for {input_ids.shape[0]} rows")
        out = []
        for row, layout in enumerate(layouts):
            n_vid = int((input_ids[row] == vid).sum())
            if n_vid and layout is None:
                raise ValueError(f"row {row} has {n_vid} video tokens but no VideoLayout")
            if layout is not None and n_vid:
                if layout.num_tokens != n_vid:
                    raise ValueError(f"row {row}: layout has {layout.num_tokens} video tokens, sequence has {n_vid}")
                out.append(layout)
        return out

    def rope_video_kwargs(self, videos: list[VideoLayout], device) -> dict:
        """`get_rope_index`'s video arguments: the grids and, for Qwen2.5-VL, seconds per temporal group."""
        if not videos:
            return {}
        return {"video_grid_thw": torch.tensor([list(v.grid_thw) for v in videos], device=device),
                "second_per_grid_ts": torch.tensor([self.second_per_group(v) for v in videos], device=device)}

    def parameter_counts(self) -> dict[str, int]:
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        vision = count(self.hf.model.visual)
        total = count(self.hf)
        return {"vision_tower": vision, "llm": total - vision, "total": total}

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        self._need_tokenizer()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        gc = self.hf.generation_config
        gc.eos_token_id = self.eos_token_ids()
        gc.pad_token_id = self.tokenizer.pad_token_id
        self.hf.save_pretrained(d)
        self.tokenizer.save_pretrained(d)
        write_json(d / LVR_CONFIG, self.options.to_dict())
        return d

    @classmethod
    def load(cls, directory: str | Path, *, device=None, dtype=None, trust_remote_code: bool = False
             ) -> "QwenVideoLM":
        from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

        d = Path(directory)
        options = QwenVLOptions.from_dict(json.loads((d / LVR_CONFIG).read_text()), str(d / LVR_CONFIG))
        tokenizer = AutoTokenizer.from_pretrained(str(d), trust_remote_code=trust_remote_code)
        hf = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(d), dtype=dtype,
                                                               trust_remote_code=trust_remote_code)
        model = cls(hf, options, tokenizer)
        return model.to(device) if device is not None else model

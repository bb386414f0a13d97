"""Adapter over transformers' `Qwen3VLForConditionalGeneration` (no torchvision needed).

    model = Qwen3VideoLM.load("ckpt")                     # HF folder + lvr_config.json (model_type qwen3_vl)
    pixel_values, grid = model.patchify(frames)           # rows of 3*2*16*16 = 1536, grid (t, h, w)
    embeds = model.encode_frames(frames)                  # [tokens, (1 + K) * d]: merger output + K DeepStack rows
    layout = model.video_layout(len(frames), frames.shape[1:3], timestamps)
    inputs = model.build_inputs(messages, embeds, layout=layout)   # M-RoPE positions [3, B, S]

What differs from Qwen2.5-VL (checked against transformers 5.19's qwen3_vl code):
- patches of 16 px (temporal patch 2, merge 2, so sides are multiples of 32), normalised with
  mean = std = 0.5; the same `pixel_values_videos` row layout as Qwen's video processor. The
  processor's budget is per video; here `min_pixels` / `max_pixels` bound each frame, so a frame's
  size never depends on how many frames are encoded together (Stage-1 shards encode equal).
- time is text, not M-RoPE: the processor expands the video token into, for every temporal pair,
  "<{t:.1f} seconds><|vision_start|><|video_pad|>×n<|vision_end|>" (t = mean time of the pair's
  two frames) inside the chat template's own `<|vision_start|>…<|vision_end|>`; `get_rope_index`
  splits the video grid into one t=1 grid per pair, so every pair restarts its temporal index.
- DeepStack: the vision tower also returns K features per video token (from intermediate
  layers) that the LM adds to its hidden states after layers 0..K-1 at the visual positions. To
  keep one embedding tensor per video through the cache, Stage 1 and `build_batch`, a video
  embedding row is `[merger | deepstack_0 | … | deepstack_{K-1}]` (width (1 + K)·d,
  `hidden_size`), text rows carry zeros in the DeepStack part (`input_embeddings`), and a
  forward pre-hook on the LM decoder splits wide `inputs_embeds` into the embeddings plus
  `visual_pos_masks` / `deepstack_visual_embeds` (adding zeros is exact, so text rows are
  unchanged). Every forward — training, log-probs, SP shards, `generate` — goes through it.
Positions always come from the model's own `get_rope_index`. The folder is a plain HF
Qwen3-VL folder plus `lvr_config.json`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from .base import VideoLayout
from .config import LVR_CONFIG, Qwen3VLOptions
from .qwen_vl import QwenVideoLM

TIMESTAMP = "<{:.1f} seconds>"       # Qwen3VLProcessor.replace_video_token's text before each temporal pair


def qwen3_smart_resize(height: int, width: int, factor: int = 32, min_pixels: int = 4 * 32 * 32,
                       max_pixels: int = 448 * 448) -> tuple[int, int]:
    """Qwen3-VL's video resize rule for one frame (its `smart_resize` with the pixel bounds per frame)."""
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio of a {height}x{width} frame exceeds 200")
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _deepstack_pre_hook(module, args, kwargs):
    """Split wide `inputs_embeds` [B, S, (1+K)·d] into [B, S, d] + DeepStack features at the visual rows.

    Also: Qwen3-VL's text model builds its causal mask without accepting prepared per-type masks, so
    the "no mask building" marker of sequence parallelism (lvr.mrsp.ulysses.SKIP_MASKS) becomes None
    here (the shard has no padding: the mask builder skips, and Ulysses builds the full-sequence mask)."""
    mask_arg = kwargs.get("attention_mask")
    if isinstance(mask_arg, dict) and all(v is None for v in mask_arg.values()):
        kwargs = dict(kwargs, attention_mask=None)
    embeds = kwargs.get("inputs_embeds")
    d = int(module.config.hidden_size)
    if embeds is None or embeds.shape[-1] == d:
        return args, kwargs
    if embeds.shape[-1] % d:
        raise ValueError(f"inputs_embeds width {embeds.shape[-1]} is not a multiple of the LM width {d}")
    k = embeds.shape[-1] // d - 1
    extra = embeds[..., d:]
    mask = extra.ne(0).any(-1)
    kwargs = dict(kwargs, inputs_embeds=embeds[..., :d])
    if bool(mask.any()):
        rows = extra[mask]
        kwargs["visual_pos_masks"] = mask
        kwargs["deepstack_visual_embeds"] = [rows[:, i * d:(i + 1) * d] for i in range(k)]
    return args, kwargs


class WideEmbedding(nn.Module):
    """The LM's token embedding followed by zeros in the K DeepStack slots (text rows of the wide layout)."""

    def __init__(self, embedding: nn.Embedding, width: int):
        super().__init__()
        self.embedding, self.width = embedding, width

    @property
    def weight(self) -> torch.Tensor:
        return self.embedding.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        e = self.embedding(ids)
        return torch.cat([e, e.new_zeros(*e.shape[:-1], self.width - e.shape[-1])], dim=-1)


class Qwen3VideoLM(QwenVideoLM):
    model_type = "qwen3_vl"

    def __init__(self, hf_model: nn.Module, options: Qwen3VLOptions | None = None, tokenizer=None):
        super().__init__(hf_model, options or Qwen3VLOptions(), tokenizer)
        self.deepstack_layers = len(hf_model.config.vision_config.deepstack_visual_indexes)
        lm = hf_model.model.language_model
        if not any(h is _deepstack_pre_hook for h in lm._forward_pre_hooks.values()):
            lm.register_forward_pre_hook(_deepstack_pre_hook, with_kwargs=True)

    @classmethod
    def from_config(cls, hf_config, options: Qwen3VLOptions | None = None, tokenizer=None) -> "Qwen3VideoLM":
        """Random init from a `Qwen3VLConfig` (works under `torch.device("meta")`)."""
        from transformers import Qwen3VLForConditionalGeneration

        return cls(Qwen3VLForConditionalGeneration(hf_config), options, tokenizer)

    # ------------------------------------------------------------------ widths
    @property
    def lm_hidden_size(self) -> int:
        w = self.hf.get_input_embeddings().weight
        return getattr(w, "ds_shape", w.shape)[1]

    @property
    def hidden_size(self) -> int:
        """Width of an embedding row: the LM's d plus K DeepStack features (see module doc)."""
        return (1 + self.deepstack_layers) * self.lm_hidden_size

    @property
    def input_embeddings(self) -> nn.Module:
        return WideEmbedding(self.hf.get_input_embeddings(), self.hidden_size)

    # ------------------------------------------------------------------ frames
    def resized_size(self, frame_size: tuple[int, int]) -> tuple[int, int]:
        if frame_size is None:
            raise ValueError("Qwen3-VL needs the frame size (H, W) to know the token grid")
        h, w = (int(v) for v in frame_size)
        return qwen3_smart_resize(h, w, self.factor, self.options.min_pixels, self.options.max_pixels)

    def encode_frames(self, frames, batch_size: int | None = None) -> torch.Tensor:
        """Each temporal pair on its own → [groups * tokens_per_group, (1 + K) * d] (merger | DeepStack)."""
        pixels, (gt, gh, gw) = self.patchify(frames)
        per_group = gh * gw
        step = batch_size or self.options.encode_batch_groups
        out = []
        for g in range(0, gt, step):
            k = min(step, gt - g)
            grid = torch.tensor([[1, gh, gw]] * k, device=pixels.device)
            feats = self.hf.model.get_video_features(pixels[g * per_group:(g + k) * per_group], grid)
            parts = [torch.cat(list(feats.pooler_output), 0)]
            parts += [torch.cat(list(level), 0) for level in feats.deepstack_features]
            out.append(torch.cat(parts, dim=-1))
        return torch.cat(out, 0).to(self.dtype)

    # ------------------------------------------------------------------ layout and positions
    def group_times(self, layout: VideoLayout) -> list[float]:
        """The time written before each temporal pair: the mean of its first and last frame's time
        (an odd last frame pairs with itself), frames `1 / default_fps` apart without timestamps."""
        n, tp = layout.num_frames, self.frames_per_group
        ts = layout.timestamps
        if ts is None:
            ts = tuple(i / self.options.default_fps for i in range(n))
        return [(ts[g * tp] + ts[min(g * tp + tp - 1, n - 1)]) / 2 for g in range(layout.num_groups)]

    def _expand_video(self, layout: VideoLayout) -> list[int]:
        """The video token → per pair: "<t seconds>", <|vision_start|>, n × <|video_pad|>, <|vision_end|>."""
        c = self.hf.config
        out: list[int] = []
        for t in self.group_times(layout):
            out += self.tokenizer.encode(TIMESTAMP.format(t), add_special_tokens=False)
            out += [int(c.vision_start_token_id)] + [self.video_token_id] * layout.tokens_per_group
            out += [int(c.vision_end_token_id)]
        return out

    def rope_video_kwargs(self, videos: list[VideoLayout], device) -> dict:
        """Qwen3-VL's `get_rope_index` takes the grids only: time is the text stamp before each pair."""
        return {"video_grid_thw": torch.tensor([list(v.grid_thw) for v in videos], device=device)} if videos else {}

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load(cls, directory: str | Path, *, device=None, dtype=None, trust_remote_code: bool = False
             ) -> "Qwen3VideoLM":
        from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration

        d = Path(directory)
        options = Qwen3VLOptions.from_dict(json.loads((d / LVR_CONFIG).read_text()), str(d / LVR_CONFIG))
        tokenizer = AutoTokenizer.from_pretrained(str(d), trust_remote_code=trust_remote_code)
        hf = Qwen3VLForConditionalGeneration.from_pretrained(str(d), dtype=dtype, trust_remote_code=trust_remote_code)
        model = cls(hf, options, tokenizer)
        return model.to(device) if device is not None else model

"""The composite video LM: transformers vision tower → pooling MLP projector → any causal LM.

    model = CompositeVideoLM.from_configs(SiglipVisionConfig(...), Qwen2Config(...),
                                          {"pool_size": 8}, CompositeOptions(), tokenizer=tok)
    embeds = model.encode_frames(frames)          # [N * pool_size**2, d_lm], one frame at a time
    model.save("ckpt")                            # llm/ vision_tower/ mm_projector/ lvr_config.json

Checkpoint layout: `llm/` is a plain HF causal-LM folder (safetensors + tokenizer) that
transformers' AutoModelForCausalLM and vLLM load unchanged; `vision_tower/` is an HF vision
model folder (SiglipVisionModel, CLIPVisionModel, …); `mm_projector/` holds the projector's
config.json + model.safetensors; `lvr_config.json` + the tokenizer sit at the top level.
Positions are plain 1-D (the LM's own RoPE), so prompt embeddings work in vLLM as they are.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .base import VideoLayout, VideoLM, as_frames_tensor
from .chat_format import chat_template
from .config import LVR_CONFIG, CompositeOptions, write_json
from .projector import ProjectorConfig, VideoProjector
from .tokenizer import ensure_tokens

LLM_DIR, VISION_DIR, PROJECTOR_DIR = "llm", "vision_tower", "mm_projector"
CLOCK_INITS = ("random", "sinusoid")


def clock_code(seconds: torch.Tensor, dim: int, shortest: float = 4.0, longest: float = 7200.0) -> torch.Tensor:
    """[T] seconds → [T, dim] sin/cos pairs with periods spaced geometrically from `shortest` to `longest`: the dot
    product of two codes depends only on the time between them and is largest at zero."""
    periods = shortest * (longest / shortest) ** torch.linspace(0, 1, dim // 2)
    angle = 2 * torch.pi * seconds[:, None] / periods[None, :]
    code = torch.stack([angle.sin(), angle.cos()], -1).flatten(1)
    return F.pad(code, (0, dim - code.shape[1]))


def _vision_geometry(vision_config) -> tuple[int, int]:
    image_size = getattr(vision_config, "image_size", None)
    patch_size = getattr(vision_config, "patch_size", None)
    if not isinstance(image_size, int) or not isinstance(patch_size, int):
        raise ValueError(f"vision config {type(vision_config).__name__} needs integer image_size and patch_size")
    return image_size, image_size // patch_size  # the patch conv drops a remainder (384 / 14 → 27)


def _drop_dequantized_gguf(llm: nn.Module) -> None:
    """A GGUF LM loaded *dequantized* is a plain dense model: forget the loader's bookkeeping so it
    trains and saves as safetensors. A GGUF LM still in packed blocks is refused (not trainable)."""
    quantizer = getattr(llm, "hf_quantizer", None)
    if quantizer is None:
        return
    qc = quantizer.quantization_config
    if str(getattr(qc, "quant_method", "")).lower().endswith("gguf") and getattr(qc, "dequantize", False):
        llm.hf_quantizer = None
        if hasattr(llm.config, "quantization_config"):
            delattr(llm.config, "quantization_config")
        return
    raise ValueError(f"the LM is quantized ({getattr(qc, 'quant_method', qc)}); a composite needs dense weights "
                     "(for GGUF: from_pretrained(..., gguf_file=…, quantization_config=GgufConfig(dequantize=True)))")


class CompositeVideoLM(VideoLM):
    model_type = "lvr_composite"
    frames_per_group = 1

    def __init__(self, vision_tower: nn.Module, projector: VideoProjector, llm: nn.Module,
                 options: CompositeOptions, tokenizer=None):
        super().__init__(tokenizer)
        self.vision_tower = vision_tower
        self.projector = projector
        self.llm = llm
        self.options = options
        self.image_size, grid = _vision_geometry(vision_tower.config)
        if grid != projector.config.grid_size:
            raise ValueError(f"projector grid_size {projector.config.grid_size} != vision tower grid {grid}")
        lm_hidden = llm.get_input_embeddings().weight.shape[1]
        if projector.config.lm_hidden != lm_hidden:
            raise ValueError(f"projector lm_hidden {projector.config.lm_hidden} != LM hidden size {lm_hidden}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_configs(cls, vision_config, llm_config, projector: dict | ProjectorConfig | None = None,
                     options: CompositeOptions | None = None, tokenizer=None) -> "CompositeVideoLM":
        """Random-init components from transformers configs (works under `torch.device("meta")`)."""
        from transformers import AutoModel, AutoModelForCausalLM

        vision = AutoModel.from_config(vision_config)
        llm = AutoModelForCausalLM.from_config(llm_config)
        return cls.around_llm(llm, vision, projector, options, tokenizer)

    @classmethod
    def around_llm(cls, llm: nn.Module, vision_tower: nn.Module, projector: dict | ProjectorConfig | None = None,
                   options: CompositeOptions | None = None, tokenizer=None) -> "CompositeVideoLM":
        """Wrap an existing causal LM (e.g. a pretrained one) with a vision tower and a new projector."""
        options = options or CompositeOptions()
        _drop_dequantized_gguf(llm)
        if not isinstance(projector, ProjectorConfig):
            _, grid = _vision_geometry(vision_tower.config)
            fields = dict(projector or {})
            fields.setdefault("vision_hidden", vision_tower.config.hidden_size)
            fields.setdefault("lm_hidden", llm.get_input_embeddings().weight.shape[1])
            fields.setdefault("grid_size", grid)
            projector = ProjectorConfig.from_dict(fields)
        proj = VideoProjector(projector)
        ref = llm.get_input_embeddings().weight
        proj.to(device=ref.device, dtype=ref.dtype)
        model = cls(vision_tower, proj, llm, options, tokenizer)
        if tokenizer is not None:
            ensure_tokens(tokenizer, llm, [options.video_token])
            tokenizer.chat_template = chat_template(options.video_token)  # the format build_inputs renders
            model.sync_generation_config()
        return model

    def sync_generation_config(self) -> None:
        """Make the LM's generation config stop at <|im_end|>/eos and pad with the tokenizer's pad."""
        gc = getattr(self.llm, "generation_config", None)
        if gc is None or self.tokenizer is None:
            return
        gc.eos_token_id = self.eos_token_ids()
        gc.pad_token_id = self.tokenizer.pad_token_id
        self.llm.config.pad_token_id = self.tokenizer.pad_token_id

    def use_clock_tags(self, max_seconds: int = 3600, init: str = "random") -> int:
        """Frame tags read like the prompts' time stamps and each time is one token: tags become "00:35"
        (`timestamp_format` "{clock}") and "00:00" … up to `max_seconds` join the tokenizer (embeddings resized),
        so "at 00:35" in a question and the tag before the frame at 35.4 s are the same token: finding the frame is
        matching a token (the copying an induction head does). Saved with the checkpoint. Returns tokens added.

        `init="sinusoid"` starts each new time token as a sinusoidal code of its second (periods 4 s … 2 h, scaled
        to the vocabulary's mean norm), so nearby times start with similar embeddings: a question about 00:35 and
        the frame tagged 00:33 are close before training, where random rows make every pair of times unrelated."""
        if init not in CLOCK_INITS:
            raise ValueError(f"use_clock_tags: init must be one of {CLOCK_INITS}, got {init!r}")
        self.options = dataclasses.replace(self.options, timestamp_format="{clock}")
        tags = [self.options.timestamp_tag(s) for s in range(max_seconds + 1)]
        added = self.tokenizer.add_tokens(tags)
        self.llm.resize_token_embeddings(len(self.tokenizer), mean_resizing=False)
        if init == "sinusoid":
            weight = self.llm.get_input_embeddings().weight
            ids = self.tokenizer.convert_tokens_to_ids(tags)
            with torch.no_grad():
                code = clock_code(torch.arange(max_seconds + 1, dtype=torch.float32), weight.shape[1])
                weight[ids] = (code * weight.norm(dim=-1).mean() / code.norm(dim=-1, keepdim=True)).to(weight.dtype)
        return added

    # ------------------------------------------------------------------ contract
    @property
    def causal_lm(self) -> nn.Module:
        return self.llm

    @property
    def video_token(self) -> str:
        return self.options.video_token

    @property
    def video_markup(self) -> str:
        return self.options.video_token

    @property
    def tokens_per_frame(self) -> int:
        return self.projector.config.tokens_per_frame

    def tokens_per_group(self, frame_size: tuple[int, int] | None = None) -> int:
        return self.tokens_per_frame

    def video_layout(self, num_frames: int, frame_size: tuple[int, int] | None = None,
                     timestamps: Sequence[float] | None = None) -> VideoLayout:
        return VideoLayout(num_frames=int(num_frames), frames_per_group=1, tokens_per_group=self.tokens_per_frame,
                           timestamps=tuple(float(t) for t in timestamps) if timestamps is not None else None)

    def video_layout_for_tokens(self, n_tokens: int) -> VideoLayout:
        if n_tokens % self.tokens_per_frame:
            raise ValueError(f"{n_tokens} video tokens is not a multiple of {self.tokens_per_frame} per frame")
        return self.video_layout(n_tokens // self.tokens_per_frame)

    def preprocess(self, frames) -> torch.Tensor:
        """uint8 [N, H, W, 3] → normalised pixel values [N, 3, S, S] (bicubic, antialiased resize)."""
        x = as_frames_tensor(frames).to(self.device)
        s = self.image_size
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp(0, 255) / 255.0
        mean = torch.tensor(self.options.image_mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.options.image_std, device=x.device).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.vision_tower.dtype)

    def vision_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Patch features [N, grid*grid, C] of the vision tower (class token dropped)."""
        layer = self.options.vision_select_layer
        out = self.vision_tower(pixel_values=pixel_values, output_hidden_states=layer != -1)
        feats = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        n_patches = self.projector.config.grid_size ** 2
        if feats.shape[1] == n_patches + 1:  # CLIP-style class token first
            feats = feats[:, 1:]
        if feats.shape[1] != n_patches:
            raise ValueError(f"vision tower returned {feats.shape[1]} tokens per frame, expected {n_patches}")
        return feats

    def encode_frames(self, frames, batch_size: int | None = None) -> torch.Tensor:
        """Each frame independently: vision tower → pool → MLP; returns [N * tokens_per_frame, d_lm]."""
        pixels = self.preprocess(frames)
        bs = batch_size or self.options.encode_batch_size
        chunks = [self.projector(self.vision_features(pixels[i:i + bs]).to(self.projector.fc1.weight.dtype))
                  for i in range(0, pixels.shape[0], bs)]
        return torch.cat(chunks, 0).flatten(0, 1).to(self.dtype)

    def _expand_video(self, layout: VideoLayout) -> list[int]:
        vid = self.video_token_id
        if not self.options.timestamp_text:
            return [vid] * layout.num_tokens
        if layout.timestamps is None:
            raise ValueError("this model puts timestamp text before each frame (timestamp_text=true): "
                             "pass timestamps to video_layout()/prepare()")
        out: list[int] = []
        for t in layout.timestamps:
            out += self.tokenizer.encode(self.options.timestamp_tag(t), add_special_tokens=False)
            out += [vid] * self.tokens_per_frame
        return out

    def splice_video(self, embeds: torch.Tensor, slots: torch.Tensor, video_embeds: torch.Tensor) -> torch.Tensor:
        """The video tokens in their slots; with `stamp_frames`, each plus the embedding of the last token before its
        frame's run of video tokens: the frame's time tag (a one-token clock tag with `use_clock_tags`); with
        `hide_frame_tags` that tag token itself is then blanked (zeros), leaving the frames as its only carrier."""
        out = super().splice_video(embeds, slots, video_embeds)
        if not self.options.stamp_frames:
            return out
        pos = torch.arange(slots.shape[1], device=slots.device).expand_as(slots)
        tag = torch.where(slots, -1, pos).cummax(dim=1).values.clamp(min=0)     # last non-video position so far
        stamp = embeds.gather(1, tag.unsqueeze(-1).expand_as(embeds))
        out = out + stamp * slots.unsqueeze(-1).to(out.dtype)
        if self.options.hide_frame_tags:
            is_tag = torch.zeros_like(tag).scatter_reduce(1, tag, slots.long(), reduce="amax").bool()
            out = out * (~is_tag).unsqueeze(-1).to(out.dtype)
        return out

    def stamp_frame_times(self, hide_tags: bool = False) -> None:
        """Switch `stamp_frames` on (saved with the checkpoint); the frames' tags must be in the text. `hide_tags`:
        blank the tag tokens once stamped (`hide_frame_tags`)."""
        self.options = dataclasses.replace(self.options, stamp_frames=True, hide_frame_tags=hide_tags)

    def build_position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                           layouts=None) -> torch.Tensor:
        """1-D positions [B, S]: 0.. over real tokens, 0 on padding (HF's convention)."""
        if attention_mask is None:
            return torch.arange(input_ids.shape[1], device=input_ids.device).expand(input_ids.shape[0], -1).clone()
        pos = attention_mask.long().cumsum(-1) - 1
        return pos.masked_fill(attention_mask == 0, 0)

    def parameter_counts(self) -> dict[str, int]:
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        parts = {"vision_tower": count(self.vision_tower), "mm_projector": count(self.projector),
                 "llm": count(self.llm)}
        parts["total"] = sum(parts.values())
        return parts

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        self._need_tokenizer()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.sync_generation_config()
        self.llm.save_pretrained(d / LLM_DIR)
        self.tokenizer.save_pretrained(d / LLM_DIR)
        self.vision_tower.save_pretrained(d / VISION_DIR)
        self.projector.save(d / PROJECTOR_DIR)
        self.tokenizer.save_pretrained(d)
        write_json(d / LVR_CONFIG, self.options.to_dict())
        return d

    @classmethod
    def load(cls, directory: str | Path, *, device=None, dtype=None, trust_remote_code: bool = False
             ) -> "CompositeVideoLM":
        d = Path(directory)
        options = CompositeOptions.from_dict(json.loads((d / LVR_CONFIG).read_text()), str(d / LVR_CONFIG))
        tokenizer, vision, llm = load_parts(d, d, dtype=dtype, trust_remote_code=trust_remote_code)
        projector = VideoProjector.load(d / PROJECTOR_DIR, dtype=dtype)
        model = cls(vision, projector, llm, options, tokenizer)
        return model.to(device) if device is not None else model


def load_parts(directory: Path, tokenizer_dir: Path, *, dtype=None, trust_remote_code: bool = False):
    """(tokenizer, vision tower, causal LM) of a composite-layout folder: `vision_tower/` and `llm/` are plain
    HF folders loaded as they are; the tokenizer sits in `tokenizer_dir` (ours at the top, VILA's in `llm/`)."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=trust_remote_code)
    vision = AutoModel.from_pretrained(str(directory / VISION_DIR), dtype=dtype, trust_remote_code=trust_remote_code)
    llm = AutoModelForCausalLM.from_pretrained(str(directory / LLM_DIR), dtype=dtype,
                                               trust_remote_code=trust_remote_code)
    return tokenizer, vision, llm

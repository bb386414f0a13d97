"""The multimodal projector: spatial token pooling + 2-layer MLP (vision width → LM width).

    proj = VideoProjector(ProjectorConfig(vision_hidden=1152, lm_hidden=3584, grid_size=27, pool_size=8))
    tokens = proj(patch_tokens)            # [N, 27*27, 1152] -> [N, 8*8, 3584]
    proj.save("ckpt/mm_projector"); VideoProjector.load("ckpt/mm_projector")

Each frame's patch grid is average-pooled (adaptive) to `pool_size × pool_size`, so the number
of video tokens per frame is `pool_size**2`, independent of the other frames. `frame_merge` then
makes a frame one video token (the tiny recipe's LM learns to choose among frames only then:
docs/benchmarks.md, fresh look-up probe): "mean" averages its pool² output tokens, "linear" maps
their concatenation to one token (VILA-style spatial-to-channel merge; initialised to the mean, so
it starts where "mean" does and can keep where in the frame each token was).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from lvr.config import field_values

from .config import ConfigError, write_json

PROJECTOR_CONFIG = "config.json"
PROJECTOR_WEIGHTS = "model.safetensors"
FRAME_MERGES = ("", "mean", "linear")


@dataclass(frozen=True)
class ProjectorConfig:
    vision_hidden: int = 0
    lm_hidden: int = 0
    grid_size: int = 0          # patches per side of the vision tower's grid
    pool_size: int = 2          # tokens per side after pooling: pool_size**2 tokens per frame
    mlp_hidden: int = 0         # 0: lm_hidden
    layer_norm: bool = True     # LayerNorm on the pooled vision features before the MLP
    projector_type: str = "pool_mlp2x_gelu"
    frame_merge: str = ""       # "": pool² tokens per frame; "mean" / "linear": one token per frame

    def __post_init__(self):
        for name in ("vision_hidden", "lm_hidden", "grid_size", "pool_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ProjectorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.pool_size > self.grid_size:
            raise ConfigError(f"ProjectorConfig.pool_size {self.pool_size} exceeds the patch grid {self.grid_size}")
        if self.frame_merge not in FRAME_MERGES:
            raise ConfigError(f"ProjectorConfig.frame_merge must be one of {FRAME_MERGES}, got {self.frame_merge!r}")
        if self.projector_type != "pool_mlp2x_gelu":
            raise ConfigError(f"ProjectorConfig.projector_type {self.projector_type!r} is not supported")

    @property
    def tokens_per_frame(self) -> int:
        return 1 if self.frame_merge else self.pool_size * self.pool_size

    @classmethod
    def from_dict(cls, data: dict, where: str = "projector config") -> "ProjectorConfig":
        return cls(**field_values(cls, data, source=where))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class VideoProjector(nn.Module):
    def __init__(self, config: ProjectorConfig):
        super().__init__()
        self.config = config
        hidden = config.mlp_hidden or config.lm_hidden
        self.norm = nn.LayerNorm(config.vision_hidden) if config.layer_norm else nn.Identity()
        self.fc1 = nn.Linear(config.vision_hidden, hidden)
        self.fc2 = nn.Linear(hidden, config.lm_hidden)
        self.merge = self._merge_layer(config) if config.frame_merge == "linear" else None

    @staticmethod
    def _merge_layer(config: ProjectorConfig) -> nn.Linear:
        """[pool² · lm_hidden] → [lm_hidden], initialised to the mean of the pool² tokens."""
        k, d = config.pool_size ** 2, config.lm_hidden
        layer = nn.Linear(k * d, d, bias=False)
        with torch.no_grad():
            layer.weight.copy_(torch.eye(d).repeat(1, k) / k)
        return layer

    def set_frame_merge(self, mode: str) -> None:
        """Switch to one token per frame ("mean" or "linear", a new merge layer that starts as the mean) or back
        to pool² tokens (""); the recipe does this after perception pretraining, which reads out pool² tokens."""
        self.config = dataclasses.replace(self.config, frame_merge=mode)
        ref = self.fc2.weight
        self.merge = self._merge_layer(self.config).to(ref.device, ref.dtype) if mode == "linear" else None

    def forward(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        """[N, grid*grid, C] patch tokens → [N, pool*pool, lm_hidden] ([N, 1, lm_hidden] with frame_merge)."""
        n, p, c = patch_tokens.shape
        g = self.config.grid_size
        if p != g * g:
            raise ValueError(f"projector expects {g}x{g}={g * g} patch tokens per frame, got {p}")
        x = patch_tokens.transpose(1, 2).reshape(n, c, g, g)
        k = self.config.pool_size
        if k != g:
            x = F.adaptive_avg_pool2d(x, (k, k))
        x = x.flatten(2).transpose(1, 2)
        out = self.fc2(F.gelu(self.fc1(self.norm(x))))
        if self.config.frame_merge == "mean":
            return out.mean(1, keepdim=True)
        if self.config.frame_merge == "linear":
            return self.merge(out.flatten(1)).unsqueeze(1)
        return out

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_json(d / PROJECTOR_CONFIG, self.config.to_dict())
        save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()},
                  str(d / PROJECTOR_WEIGHTS), metadata={"format": "pt"})

    @classmethod
    def load(cls, directory: str | Path, device=None, dtype=None) -> "VideoProjector":
        from safetensors.torch import load_file

        d = Path(directory)
        cfg = ProjectorConfig.from_dict(json.loads((d / PROJECTOR_CONFIG).read_text()), str(d / PROJECTOR_CONFIG))
        proj = cls(cfg)
        state = load_file(str(d / PROJECTOR_WEIGHTS))
        missing, unexpected = proj.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(f"{d / PROJECTOR_WEIGHTS}: missing {missing}, unexpected {unexpected}")
        return proj.to(device=device, dtype=dtype)

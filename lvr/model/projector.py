"""The multimodal projector: spatial token pooling + 2-layer MLP (vision width → LM width).

    proj = VideoProjector(ProjectorConfig(vision_hidden=1152, lm_hidden=3584, grid_size=27, pool_size=8))
    tokens = proj(patch_tokens)            # [N, 27*27, 1152] -> [N, 8*8, 3584]
    proj.save("ckpt/mm_projector"); VideoProjector.load("ckpt/mm_projector")

Each frame's patch grid is average-pooled (adaptive) to `pool_size × pool_size`, so the number
of video tokens per frame is `pool_size**2`, independent of the other frames.
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


@dataclass(frozen=True)
class ProjectorConfig:
    vision_hidden: int = 0
    lm_hidden: int = 0
    grid_size: int = 0          # patches per side of the vision tower's grid
    pool_size: int = 2          # tokens per side after pooling: pool_size**2 tokens per frame
    mlp_hidden: int = 0         # 0: lm_hidden
    layer_norm: bool = True     # LayerNorm on the pooled vision features before the MLP
    projector_type: str = "pool_mlp2x_gelu"

    def __post_init__(self):
        for name in ("vision_hidden", "lm_hidden", "grid_size", "pool_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ProjectorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.pool_size > self.grid_size:
            raise ConfigError(f"ProjectorConfig.pool_size {self.pool_size} exceeds the patch grid {self.grid_size}")
        if self.projector_type != "pool_mlp2x_gelu":
            raise ConfigError(f"ProjectorConfig.projector_type {self.projector_type!r} is not supported")

    @property
    def tokens_per_frame(self) -> int:
        return self.pool_size * self.pool_size

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

    def forward(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        """[N, grid*grid, C] patch tokens → [N, pool*pool, lm_hidden]."""
        n, p, c = patch_tokens.shape
        g = self.config.grid_size
        if p != g * g:
            raise ValueError(f"projector expects {g}x{g}={g * g} patch tokens per frame, got {p}")
        x = patch_tokens.transpose(1, 2).reshape(n, c, g, g)
        k = self.config.pool_size
        if k != g:
            x = F.adaptive_avg_pool2d(x, (k, k))
        x = x.flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(self.fc1(self.norm(x))))

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

"""VILA's `mm_projector/` (a `v2l_projector`): the projector types of released VILA-format checkpoints.

    proj = VilaProjector("mlp_downsample_2x2_fix", vision_hidden=1152, lm_hidden=3584, grid_size=32)
    tokens = proj(patch_tokens)                 # [N, 32*32, 1152] -> [N, 16*16, 3584]
    proj = VilaProjector.load("ckpt/mm_projector", vision_hidden=1152, lm_hidden=3584, grid_size=32)

The module tree mirrors NVlabs/VILA `llava/model/multimodal_projector/base_projector.py` so the
weights in `mm_projector/model.safetensors` load by their own names: everything sits under
`layers` (an `nn.Linear` for `linear`, an `nn.Sequential` otherwise), parameter-free steps keep
their index (the token merge is `layers.0`, GELUs take a slot), so e.g. `mlp_downsample` has
`layers.1` (LayerNorm), `layers.2` / `layers.4` (Linear). Types:

- `linear`: one Linear (vision width → LM width); `identity`: nothing (widths must be equal);
- `mlpNx_gelu`: Linear, then N-1 × (GELU, Linear);
- `mlp_downsample`, `mlp_downsample_2x2_fix`: merge each 2×2 block of the (zero-padded to even)
  patch grid into one token whose channels are the four patches in row-major order, then
  LayerNorm → Linear → GELU → Linear; output tokens row-major over the merged grid;
- `mlp_downsample_3x3_fix`: the same with 3×3 blocks, then LayerNorm → Linear(9C→3C) → GELU →
  LayerNorm → Linear → GELU → Linear.
Anything else (the S2 variants `mlp_downsample_3x3_s2*`, unknown names) raises `ValueError`.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

PROJECTOR_CONFIG = "config.json"
PROJECTOR_WEIGHTS = "model.safetensors"
_MERGE = {"mlp_downsample": 2, "mlp_downsample_2x2_fix": 2, "mlp_downsample_3x3_fix": 3}
SUPPORTED = ("identity", "linear", "mlpNx_gelu", *_MERGE)


def merge_blocks(x: torch.Tensor, grid: int, k: int) -> torch.Tensor:
    """[N, grid*grid, C] → [N, ceil(grid/k)**2, k*k*C]: each k×k block of the zero-padded grid becomes
    one token (channels: the block's patches row by row); tokens row-major over the merged grid."""
    n, p, c = x.shape
    if p != grid * grid:
        raise ValueError(f"expected {grid}x{grid}={grid * grid} patch tokens per frame, got {p}")
    g = x.reshape(n, grid, grid, c)
    pad = -grid % k
    if pad:
        g = F.pad(g, (0, 0, 0, pad, 0, pad))
    m = (grid + pad) // k
    g = g.reshape(n, m, k, m, k, c).permute(0, 1, 3, 2, 4, 5)
    return g.reshape(n, m * m, k * k * c)


class TokenMerge(nn.Module):
    """The parameter-free k×k merge (the first entry of the downsample projectors)."""

    def __init__(self, k: int, grid: int):
        super().__init__()
        self.k, self.grid = k, grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return merge_blocks(x, self.grid, self.k)


def check_type(kind: str) -> None:
    """Raise ValueError (naming the type) unless `kind` is a projector type this module builds."""
    if kind in ("identity", "linear") or kind in _MERGE or re.fullmatch(r"mlp(\d+)x_gelu", str(kind)):
        return
    hint = " (S2 multi-scale projectors are not supported)" if "s2" in str(kind) else ""
    raise ValueError(f"VILA projector type {kind!r} is not supported{hint}; supported: {', '.join(SUPPORTED)}")


def _layers(kind: str, vis: int, lm: int, grid: int) -> nn.Module:
    check_type(kind)
    if kind == "identity":
        if vis != lm:
            raise ValueError(f"projector 'identity' needs equal widths, vision {vis} vs LM {lm}")
        return nn.Identity()
    if kind == "linear":
        return nn.Linear(vis, lm)
    m = re.fullmatch(r"mlp(\d+)x_gelu", kind)
    if m:
        mods: list[nn.Module] = [nn.Linear(vis, lm)]
        for _ in range(int(m.group(1)) - 1):
            mods += [nn.GELU(), nn.Linear(lm, lm)]
        return nn.Sequential(*mods)
    k = _MERGE.get(kind)
    if k == 2:
        return nn.Sequential(TokenMerge(2, grid), nn.LayerNorm(4 * vis), nn.Linear(4 * vis, lm), nn.GELU(),
                             nn.Linear(lm, lm))
    return nn.Sequential(TokenMerge(3, grid), nn.LayerNorm(9 * vis), nn.Linear(9 * vis, 3 * vis), nn.GELU(),
                         nn.LayerNorm(3 * vis), nn.Linear(3 * vis, lm), nn.GELU(), nn.Linear(lm, lm))


class VilaProjector(nn.Module):
    def __init__(self, projector_type: str, vision_hidden: int, lm_hidden: int, grid_size: int,
                 hf_config: dict | None = None):
        super().__init__()
        self.projector_type = projector_type
        self.vision_hidden, self.lm_hidden, self.grid_size = vision_hidden, lm_hidden, grid_size
        self.merge = _MERGE.get(projector_type, 1)
        self.layers = _layers(projector_type, vision_hidden, lm_hidden, grid_size)
        self.hf_config = dict(hf_config or {"mm_projector_type": projector_type, "model_type": "v2l_projector",
                                            "architectures": ["MultimodalProjector"]})

    @property
    def out_grid(self) -> int:
        return math.ceil(self.grid_size / self.merge)

    @property
    def tokens_per_frame(self) -> int:
        return self.out_grid ** 2

    @property
    def dtype(self) -> torch.dtype:
        p = next(self.parameters(), None)
        return p.dtype if p is not None else torch.float32

    def forward(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        """[N, grid*grid, C] patch features → [N, tokens_per_frame, lm_hidden]."""
        return self.layers(patch_tokens)

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / PROJECTOR_CONFIG).write_text(json.dumps(self.hf_config, indent=2, sort_keys=True) + "\n")
        save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()},
                  str(d / PROJECTOR_WEIGHTS), metadata={"format": "pt"})

    @classmethod
    def load(cls, directory: str | Path, *, vision_hidden: int, lm_hidden: int, grid_size: int,
             device=None, dtype=None) -> "VilaProjector":
        """Build from `mm_projector/config.json` (`mm_projector_type`) and load its safetensors strictly."""
        from safetensors.torch import load_file

        d = Path(directory)
        cfg = json.loads((d / PROJECTOR_CONFIG).read_text())
        kind = cfg.get("mm_projector_type")
        if not isinstance(kind, str):
            raise ValueError(f"{d / PROJECTOR_CONFIG}: no mm_projector_type")
        proj = cls(kind, vision_hidden, lm_hidden, grid_size, hf_config=cfg)
        state = load_file(str(d / PROJECTOR_WEIGHTS))
        missing, unexpected = proj.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(f"{d / PROJECTOR_WEIGHTS} does not match projector {kind!r}: missing {sorted(missing)}, "
                           f"unexpected {sorted(unexpected)}")
        return proj.to(device=device, dtype=dtype)

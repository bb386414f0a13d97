"""MR-SP Stage 1: parallel encoding — each rank of an SP group encodes its share of the frames.

    sp = init_sp_groups(2)
    embeds = encode_frames_sp(model, frames, sp)            # [n_tokens, d_lm] on every rank, equal to
                                                            # model.encode_frames(frames) on one rank
    embeds = parallel_encode(fn, frames, sp, unit=2)        # any encoder fn(frames) -> [n_tok, d]
    frame_shares(130, 4, unit=2)                            # [(0, 34), (34, 66), (66, 98), (98, 130)]

Rank r encodes the contiguous frames `frame_shares(...)[r]` and an all-gather with uneven sizes
(gather the sizes, pad, all_gather, trim) assembles the embeddings in frame order. Shares are
whole encoding groups (`unit` frames: 1 for the composite, the temporal patch pair 2 for
Qwen2.5-VL; an odd last frame is padded by the adapter exactly as in a one-rank encode), and the
first ranks take one extra group when the groups do not split evenly; with fewer groups than
ranks the last ranks encode nothing and just receive.

Autograd: when the encoder trains, the gathered tensor is differentiable and the backward
returns each rank's slice of the gradient (`lvr.mrsp.groups.GatherShards`): `grad_reduce="sum"`
(default) when each rank feeds only part of the embeddings to the LM (Stage 2), `"none"` when
every rank uses the full embeddings for the same replicated loss. The encoder's parameter
gradients are summed over the SP group afterwards (`sync_sp_grads`, or the DeepSpeed average
with the loss scaled by the SP size).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .groups import SPGroup, gather_shards


def frame_shares(num_frames: int, size: int, unit: int = 1) -> list[tuple[int, int]]:
    """Contiguous [start, end) frame ranges per rank, in whole groups of `unit` frames."""
    if num_frames < 1:
        raise ValueError(f"frame_shares: need at least one frame, got {num_frames}")
    if size < 1 or unit < 1:
        raise ValueError(f"frame_shares: size and unit must be >= 1, got size={size}, unit={unit}")
    groups = math.ceil(num_frames / unit)
    base, extra = divmod(groups, size)
    out, g = [], 0
    for r in range(size):
        n = base + (1 if r < extra else 0)
        start, end = min(g * unit, num_frames), min((g + n) * unit, num_frames)
        out.append((start, end))
        g += n
    return out


def parallel_encode(encode_fn: Callable, frames, sp: SPGroup, *, unit: int = 1,
                    grad_reduce: str = "sum") -> torch.Tensor:
    """Encode this rank's share of `frames` with `encode_fn` and all-gather the results in order.

    `encode_fn(frames_slice) -> Tensor[n_tokens, d]` must encode groups of `unit` frames
    independently (the model contract), so the concatenation equals encoding all frames at once.
    Every rank must call this with the same frames (collective).
    """
    n = len(frames)
    if sp.size == 1:
        return encode_fn(frames)
    start, end = frame_shares(n, sp.size, unit)[sp.rank]
    local = encode_fn(frames[start:end]) if end > start else None
    if local is not None and local.dim() != 2:
        raise ValueError(f"parallel_encode: the encoder must return [n_tokens, d], got {tuple(local.shape)}")
    return gather_shards(local, sp, grad_reduce)


def encode_frames_sp(model, frames, sp: SPGroup, *, grad_reduce: str = "sum") -> torch.Tensor:
    """`model.encode_frames(frames)` computed with Stage-1 parallel encoding over `sp`.

    Shares are whole groups of `model.frames_per_group` frames, so the result equals the one-rank
    encoding exactly (up to floating-point reordering inside the encoder's batches).
    """
    unit = int(getattr(model, "frames_per_group", 1) or 1)
    return parallel_encode(model.encode_frames, frames, sp, unit=unit, grad_reduce=grad_reduce)

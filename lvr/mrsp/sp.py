"""MR-SP Stage 2: sequence-parallel prefill and response log-probs (Ulysses attention).

    sp = init_sp_groups(2)
    out = sp_sequence_logprobs(model, batch.inputs_embeds, batch.position_ids, batch.response_mask,
                               response_ids=batch.response_ids, attention_mask=batch.attention_mask, sp=sp)
    out.logps      # [B, R] on every rank of the group, equal to the one-rank `sequence_logprobs`
    loss.backward(); sync_sp_grads(model, sp)   # (or DeepSpeed with the loss scaled by sp.size)

The full sequence (prompt with the video embeddings, text after the video, response) is built
on every rank exactly as without SP; positions (1-D, or M-RoPE [3, B, T]) are computed on that
full sequence by the model's own code. Here it is right-padded to a multiple of S and rank r
keeps the contiguous tokens [r·T/S, (r+1)·T/S) of the embeddings and the positions
(`shard_sequence`). The LM runs on the shard with Ulysses attention (lvr.mrsp.ulysses), the LM
head only on this rank's response positions (`logits_to_keep` with indices), and the per-token
log-probs are summed over the group (`sum_across`: identity backward), so every rank returns the
full [B, R] log-probs and one replicated loss.

The response fills the last R positions of each row (the `lvr.train.sequences.build_batch`
layout: left-padded prompt | right-padded response); the log-prob of response token j comes
from the logits at position T - R - 1 + j, whichever rank holds it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .groups import SPGroup, sum_across
from .ulysses import SKIP_MASKS, UlyssesContext, check_heads, enable_ulysses, lm_heads


@dataclass
class SPLogProbs:
    logps: torch.Tensor             # [B, R] (0 where the response mask is 0)
    entropy: torch.Tensor | None    # [B, R] or None


def shard_bounds(seq_len: int, size: int, rank: int) -> tuple[int, int, int]:
    """(padded length, start, end) of rank `rank`'s contiguous shard."""
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"shard_bounds: rank {rank} out of range for size {size}")
    padded = math.ceil(seq_len / size) * size
    t = padded // size
    return padded, rank * t, (rank + 1) * t


def pad_to(x: torch.Tensor, length: int, dim: int, value=0) -> torch.Tensor:
    """Right-pad `x` along `dim` to `length` with `value`."""
    dim = dim % x.dim()
    extra = length - x.shape[dim]
    if extra < 0:
        raise ValueError(f"pad_to: length {length} is shorter than {x.shape[dim]}")
    if extra == 0:
        return x
    shape = list(x.shape)
    shape[dim] = extra
    return torch.cat([x, torch.full(shape, value, dtype=x.dtype, device=x.device)], dim=dim)


def shard_sequence(x: torch.Tensor, size: int, rank: int, dim: int = 1, pad_value=0) -> torch.Tensor:
    """This rank's contiguous slice of `x` along `dim` after right-padding to a multiple of `size`."""
    padded, lo, hi = shard_bounds(x.shape[dim], size, rank)
    return pad_to(x, padded, dim, pad_value).narrow(dim % x.dim(), lo, hi - lo)


def unshard_sequence(shards: list[torch.Tensor], seq_len: int, dim: int = 1) -> torch.Tensor:
    """Inverse of `shard_sequence` over all ranks' shards (concatenate, drop the padding)."""
    full = torch.cat(shards, dim=dim)
    return full.narrow(dim % full.dim(), 0, seq_len)


def _local_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float, with_entropy: bool):
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = torch.log_softmax(logits, dim=-1)
    lp = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    ent = None
    if with_entropy:
        with torch.no_grad():
            ent = -(logp_all.exp() * logp_all).sum(-1)
    return lp, ent


def sp_sequence_logprobs(model, inputs_embeds: torch.Tensor, position_ids: torch.Tensor,
                         response_mask: torch.Tensor, *, response_ids: torch.Tensor,
                         attention_mask: torch.Tensor | None = None, temperature: float = 1.0,
                         with_entropy: bool = False, sp: SPGroup) -> SPLogProbs:
    """Response log-probs of full sequences computed sequence-parallel over `sp` (see module doc).

    Same arguments and result as `lvr.train.sequences.sequence_logprobs`; every rank of the group
    passes the same full tensors and gets the same [B, R] log-probs. Collective: all ranks of
    the group must call it (and run the backward) together.
    """
    b, seq = inputs_embeds.shape[:2]
    r = response_ids.shape[1]
    if response_ids.shape[0] != b or response_mask.shape != response_ids.shape:
        raise ValueError(f"response_ids {tuple(response_ids.shape)} and response_mask {tuple(response_mask.shape)} "
                         f"must both be [{b}, R]")
    if position_ids.shape[-1] != seq or (attention_mask is not None and attention_mask.shape != (b, seq)):
        raise ValueError(f"position_ids {tuple(position_ids.shape)} / attention_mask "
                         f"{None if attention_mask is None else tuple(attention_mask.shape)} do not match the "
                         f"sequence [{b}, {seq}]")
    if r + 1 > seq:
        raise ValueError(f"{r} response tokens need a prompt before them (sequence has {seq} tokens)")
    if sp.size == 1:
        return _single(model, inputs_embeds, position_ids, response_mask, response_ids, attention_mask,
                       temperature, with_entropy)
    check_heads(*lm_heads(model), sp.size, " of the LM")
    enable_ulysses(model)
    padded, lo, hi = shard_bounds(seq, sp.size, sp.rank)
    dev = inputs_embeds.device
    valid = (attention_mask.bool() if attention_mask is not None
             else torch.ones(b, seq, dtype=torch.bool, device=dev))
    ctx = UlyssesContext(sp=sp, key_valid=pad_to(valid, padded, 1, False))
    local_embeds = shard_sequence(inputs_embeds, sp.size, sp.rank, dim=1)
    local_pos = shard_sequence(position_ids, sp.size, sp.rank, dim=-1)

    # logits at global positions seq-R-1 .. seq-2 predict the R response tokens
    g = torch.arange(seq - r - 1, seq - 1, device=dev)
    mine = (g >= lo) & (g < hi)
    cols = mine.nonzero().squeeze(-1)
    keep = (g[mine] - lo) if len(cols) else torch.zeros(1, dtype=torch.long, device=dev)
    out = model.causal_lm(inputs_embeds=local_embeds, position_ids=local_pos, attention_mask=dict(SKIP_MASKS),
                          use_cache=False, logits_to_keep=keep, lvr_sp=ctx)
    logits = out.logits
    partial = logits.new_zeros((b, r), dtype=torch.float32)
    ent_partial = torch.zeros((b, r), dtype=torch.float32, device=dev) if with_entropy else None
    if len(cols):
        lp, ent = _local_logprobs(logits, response_ids[:, cols], temperature, with_entropy)
        partial = partial.index_copy(1, cols, lp)
        if with_entropy:
            ent_partial = ent_partial.index_copy(1, cols, ent)
    # keep every rank's graph connected to its LM forward even when it holds no response token:
    # its backward must still run (the all-to-alls of the other ranks' backward wait for it)
    partial = partial + 0.0 * logits.float().sum()
    m = response_mask.to(torch.float32)
    logps = sum_across(partial, sp) * m
    entropy = None
    if with_entropy:
        with torch.no_grad():
            entropy = sum_across(ent_partial, sp) * m
    return SPLogProbs(logps.to(torch.float32), entropy)


def _single(model, inputs_embeds, position_ids, response_mask, response_ids, attention_mask, temperature,
            with_entropy) -> SPLogProbs:
    """The one-rank computation (what `lvr.train.sequences.sequence_logprobs` does)."""
    r = response_ids.shape[1]
    out = model.causal_lm(inputs_embeds=inputs_embeds, position_ids=position_ids, attention_mask=attention_mask,
                          use_cache=False, logits_to_keep=r + 1)
    lp, ent = _local_logprobs(out.logits[:, :-1], response_ids, temperature, with_entropy)
    m = response_mask.to(lp.dtype)
    return SPLogProbs(lp * m, ent * m if ent is not None else None)

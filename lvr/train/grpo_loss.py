"""GRPO math on tensors: group advantages, DAPO shaping, KL estimators, clipped policy loss.

    adv = group_advantages(rewards, group_ids, scale="group")          # (r - mean_g) / (std_g + 1e-4)
    keep = informative_groups(rewards, group_ids)                       # DAPO dynamic filtering
    per_tok, stats = policy_loss_per_token(logp, old_logp, adv, mask, eps_low=0.2, eps_high=0.28,
                                           beta=0.01, ref_logp=ref)
    loss = aggregate_loss(per_tok, mask, "dapo", total_seqs=..., total_tokens=...)

Definitions follow TRL's `GRPOTrainer` (0.2x) so numbers are comparable:
- advantage: A_i = r_i - mean(r_group); `scale="group"` divides by std(r_group) + 1e-4 (unbiased
  std, torch's default), `"batch"` by the std of the whole batch + 1e-4, `"none"` not at all
  (Dr. GRPO). Groups are given by explicit ids, never by position in the batch.
- ratio ρ = exp(logp - old_logp); per-token loss = -min(ρ·A, clip(ρ, 1-ε_low, 1+ε_high)·A)
  + β·KL, KL = exp(ref - logp) - (ref - logp) - 1 ("k3"/`low_var_kl`; verl clamps it to ±10).
- aggregation: `grpo` = mean over sequences of each sequence's token mean; `dapo`/`bnpo` =
  sum over tokens / number of tokens; `dr_grpo` = sum over tokens / (sequences · max_len).
  `total_seqs`/`total_tokens` are the counts of the whole optimisation batch (all micro-batches,
  all ranks), so summing micro-batch results over the batch reproduces the one-shot value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import torch

LOSS_TYPES = ("grpo", "dapo", "bnpo", "dr_grpo")
SCALE_REWARDS = ("group", "batch", "none")
KL_ESTIMATORS = ("low_var_kl", "k1", "k2")
STD_EPS = 1e-4


def _group_index(group_ids: Sequence[Hashable]) -> tuple[torch.Tensor, int]:
    index: dict[Hashable, int] = {}
    out = [index.setdefault(g, len(index)) for g in group_ids]
    return torch.tensor(out, dtype=torch.long), len(index)


def group_stats(rewards: torch.Tensor, group_ids: Sequence[Hashable]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row mean and (unbiased) std of the row's group; a group of one has std 0."""
    if rewards.dim() != 1 or rewards.shape[0] != len(group_ids):
        raise ValueError(f"rewards must be [N] with one group id per row, got {tuple(rewards.shape)} and "
                         f"{len(group_ids)} ids")
    idx, n = _group_index(group_ids)
    idx = idx.to(rewards.device)
    r = rewards.double()
    count = torch.zeros(n, dtype=r.dtype, device=r.device).index_add_(0, idx, torch.ones_like(r))
    mean = torch.zeros(n, dtype=r.dtype, device=r.device).index_add_(0, idx, r) / count
    sq = torch.zeros(n, dtype=r.dtype, device=r.device).index_add_(0, idx, (r - mean[idx]) ** 2)
    var = torch.where(count > 1, sq / (count - 1).clamp(min=1), torch.zeros_like(sq))
    return mean[idx].to(rewards.dtype), var.sqrt()[idx].to(rewards.dtype)


def group_advantages(rewards: torch.Tensor, group_ids: Sequence[Hashable], scale: str = "group",
                     batch_std: float | torch.Tensor | None = None, eps: float = STD_EPS) -> torch.Tensor:
    """(r - group mean) / (std + eps) with std per group, over the batch, or none (see module doc).

    `batch_std` overrides the batch std (pass the std over all ranks' rewards when distributed).
    """
    if scale not in SCALE_REWARDS:
        raise ValueError(f"scale_rewards must be one of {SCALE_REWARDS}, got {scale!r}")
    mean, std = group_stats(rewards, group_ids)
    adv = rewards - mean
    if scale == "group":
        adv = adv / (std + eps)
    elif scale == "batch":
        s = rewards.std() if batch_std is None else torch.as_tensor(batch_std, dtype=rewards.dtype)
        adv = adv / (s + eps)
    return adv


def informative_groups(rewards: torch.Tensor, group_ids: Sequence[Hashable], tol: float = 1e-6) -> torch.Tensor:
    """Bool [N]: rows whose group's rewards are not all equal (DAPO dynamic sampling keeps these)."""
    _, std = group_stats(rewards, group_ids)
    return std > tol


def overlong_penalty(lengths: torch.Tensor, max_length: int, buffer: int, factor: float = 1.0) -> torch.Tensor:
    """DAPO's soft overlong punishment: 0 up to max_length - buffer, then linear down to -factor at
    max_length, -factor beyond."""
    if buffer <= 0 or buffer > max_length:
        raise ValueError(f"overlong buffer must be in 1..max_length ({max_length}), got {buffer}")
    lengths = lengths.to(torch.float64)
    start = max_length - buffer
    pen = (start - lengths) / buffer * factor
    pen = torch.where(lengths <= start, torch.zeros_like(pen), pen)
    return pen.clamp(min=-factor).float()


def kl_divergence(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "low_var_kl") -> torch.Tensor:
    """Per-token KL(π‖π_ref) estimate from sampled-token log-probs.

    low_var_kl (k3): exp(ref - logp) - (ref - logp) - 1, clamped to [-10, 10] (verl);
    k1: logp - ref; k2: 0.5 · (logp - ref)².
    """
    if estimator == "low_var_kl":
        d = ref_logp - logp
        return (torch.exp(d) - d - 1).clamp(-10.0, 10.0)
    if estimator == "k1":
        return logp - ref_logp
    if estimator == "k2":
        return 0.5 * (logp - ref_logp) ** 2
    raise ValueError(f"kl estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")


@dataclass
class TokenStats:
    """Masked per-token quantities of one micro-batch (sums and counts, so they add up across batches)."""

    tokens: float
    clipped_low: float
    clipped_high: float
    kl_sum: float
    ratio_sum: float

    def merge(self, other: "TokenStats") -> "TokenStats":
        return TokenStats(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))


def policy_loss_per_token(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                          mask: torch.Tensor, *, eps_low: float = 0.2, eps_high: float | None = None,
                          beta: float = 0.0, ref_logp: torch.Tensor | None = None,
                          kl_estimator: str = "low_var_kl") -> tuple[torch.Tensor, TokenStats]:
    """Clipped surrogate (+ β·KL) per token [B, T]; `advantages` is [B] (one per sequence)."""
    if logp.shape != old_logp.shape or logp.shape != mask.shape:
        raise ValueError(f"logp {tuple(logp.shape)}, old_logp {tuple(old_logp.shape)} and mask "
                         f"{tuple(mask.shape)} must have the same shape")
    eps_high = eps_low if eps_high is None else eps_high
    adv = advantages.to(logp.dtype).unsqueeze(-1)
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    per_token = -torch.min(ratio * adv, clipped * adv)
    m = mask.to(logp.dtype)
    kl_sum = 0.0
    if beta != 0.0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp")
        kl = kl_divergence(logp, ref_logp, kl_estimator)
        per_token = per_token + beta * kl
        kl_sum = float((kl.detach() * m).sum())
    elif ref_logp is not None:
        kl_sum = float((kl_divergence(logp.detach(), ref_logp, kl_estimator) * m).sum())
    with torch.no_grad():
        low = ((ratio < 1 - eps_low) & (adv < 0)).to(m.dtype) * m
        high = ((ratio > 1 + eps_high) & (adv > 0)).to(m.dtype) * m
        stats = TokenStats(tokens=float(m.sum()), clipped_low=float(low.sum()), clipped_high=float(high.sum()),
                           kl_sum=kl_sum, ratio_sum=float((ratio.detach() * m).sum()))
    return per_token, stats


def aggregate_loss(per_token: torch.Tensor, mask: torch.Tensor, loss_type: str, *, total_seqs: float,
                   total_tokens: float, max_length: int | None = None) -> torch.Tensor:
    """This micro-batch's share of the batch loss (sum the shares over the batch; see module doc)."""
    m = mask.to(per_token.dtype)
    if loss_type == "grpo":
        seq = (per_token * m).sum(-1) / m.sum(-1).clamp(min=1.0)
        return seq.sum() / max(total_seqs, 1.0)
    if loss_type in ("dapo", "bnpo"):
        return (per_token * m).sum() / max(total_tokens, 1.0)
    if loss_type == "dr_grpo":
        if not max_length:
            raise ValueError("dr_grpo needs max_length (the maximum response length)")
        return (per_token * m).sum() / (max(total_seqs, 1.0) * max_length)
    raise ValueError(f"loss type must be one of {LOSS_TYPES}, got {loss_type!r}")


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)

"""The next-token loss of a chain-of-thought target, with its answer weighted (`answer_weight`).

    loss, n, total = token_loss(logits, labels, answer_id=tok.convert_tokens_to_ids("<answer>"), answer_weight=5.0)

A target is "<think>reasoning</think><answer>option</answer>": some hundred tokens of reasoning, three or four of
answer. With every token alike (answer_weight 1), a model can lower the loss almost as much by learning to write the
reasoning while its answer keeps ignoring the reasoning's conclusion; the recipe's CoT-SFT models picked the option
their own gold conclusion names 41-68 % of the time (docs/benchmarks.md). `answer_weight` scales the loss of the
tokens from `<answer>` on; the loss stays a weighted mean, so 1 gives the plain token mean exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lvr.model.base import IGNORE_INDEX
from lvr.model.prompting import ANSWER_OPEN


def answer_token_id(model) -> int | None:
    """The id of the `<answer>` token in `model`'s tokenizer (None when it is not one token)."""
    ids = model.tokenizer.encode(ANSWER_OPEN, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


def answer_mask(labels: torch.Tensor, answer_id: int) -> torch.Tensor:
    """True at each target from the (first) `<answer>` token of its row on."""
    return (labels == answer_id).long().cumsum(1) > 0


def token_loss(logits: torch.Tensor, labels: torch.Tensor, answer_id: int | None = None,
               answer_weight: float = 1.0) -> tuple[torch.Tensor, int, float]:
    """(weighted mean token loss, target tokens, summed unweighted token loss) of logits [B, T, V] for labels [B, T]
    (IGNORE_INDEX: not a target)."""
    per = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX,
                          reduction="none").view(labels.shape)
    target = labels != IGNORE_INDEX
    weights = target.to(per.dtype)
    if answer_weight != 1.0 and answer_id is not None:
        weights = weights * torch.where(answer_mask(labels, answer_id), answer_weight, 1.0)
    total = float((per * target).sum().detach())
    return (per * weights).sum() / weights.sum().clamp_min(1.0), int(target.sum()), total

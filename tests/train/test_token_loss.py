"""The CoT loss with its answer weighted (lvr.train.token_loss, `answer_weight`): 1 is the plain token mean exactly;
above 1 the tokens from <answer> on count that much more, in CoT-SFT's items and in its fresh-world replay."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lvr.config import ConfigError, load_config
from lvr.model.base import IGNORE_INDEX
from lvr.train.configs import SFTConfig
from lvr.train.token_loss import answer_mask, token_loss

ANSWER = 7


def batch():
    torch.manual_seed(0)
    labels = torch.tensor([[IGNORE_INDEX, 3, 4, 5, ANSWER, 9, 8],
                           [IGNORE_INDEX, IGNORE_INDEX, 2, ANSWER, 1, 8, IGNORE_INDEX]])
    return torch.randn(2, 7, 12, requires_grad=True), labels


def test_weight_one_is_the_plain_token_mean():
    logits, labels = batch()
    loss, n, total = token_loss(logits, labels, ANSWER, 1.0)
    plain = F.cross_entropy(logits.reshape(-1, 12), labels.reshape(-1), ignore_index=IGNORE_INDEX)
    assert torch.allclose(loss, plain) and n == 10 and total == pytest.approx(float(plain) * 10, rel=1e-5)


def test_the_answer_counts_weight_times_a_reasoning_token():
    logits, labels = batch()
    mask = answer_mask(labels, ANSWER)
    assert mask.tolist() == [[False, False, False, False, True, True, True],
                             [False, False, False, True, True, True, True]]
    per = F.cross_entropy(logits.reshape(-1, 12), labels.reshape(-1), ignore_index=IGNORE_INDEX,
                          reduction="none").view(2, 7)
    target = labels != IGNORE_INDEX
    w = torch.where(mask, 5.0, 1.0) * target
    loss = token_loss(logits, labels, ANSWER, 5.0)[0]
    assert torch.allclose(loss, (per * w).sum() / w.sum())
    loss.backward()
    grads = logits.grad.abs().sum(-1)
    assert grads[0, 5] > 0 and grads[0, 0] == 0                    # no gradient where nothing is a target


def test_answer_weight_is_checked_with_the_config():
    assert load_config(SFTConfig, None, ["model=x", "answer_weight=4"]).answer_weight == 4.0
    with pytest.raises(ConfigError, match="answer_weight"):
        load_config(SFTConfig, None, ["model=x", "answer_weight=0"])
    with pytest.raises(ConfigError, match="answer_weight"):
        load_config(SFTConfig, None, ["model=x", "answer_weight=1e309"])           # inf: the loss would be nan

"""GRPO math on fixed tensors against hand-computed values and TRL's definitions.

TRL (GRPOTrainer, 0.2x) definitions reproduced here as references:
  advantages = rewards - rewards.view(-1, G).mean(1).repeat_interleave(G)
  scale_rewards="group": / (rewards.view(-1, G).std(1).repeat_interleave(G) + 1e-4); "batch": / (rewards.std() + 1e-4)
  coef_1 = exp(logp - old); coef_2 = clamp(coef_1, 1 - eps_low, 1 + eps_high)
  per_token_loss = -min(coef_1 * A, coef_2 * A) + beta * (exp(ref - logp) - (ref - logp) - 1)
  grpo:    ((l * m).sum(-1) / m.sum(-1).clamp(min=1)).mean()
  bnpo:    (l * m).sum() / m.sum().clamp(min=1)
  dr_grpo: (l * m).sum() / (l.size(0) * max_completion_length)
  dapo:    (l * m).sum() / (tokens in the global batch)
"""
import math

import pytest
import torch

from lvr.train.grpo_loss import (
    aggregate_loss,
    group_advantages,
    informative_groups,
    kl_divergence,
    overlong_penalty,
    policy_loss_per_token,
)

S3 = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1] and of [1, 0, 0]


def test_group_advantages_by_explicit_ids_hand_computed():
    ids = ["A", "C", "B", "A", "C", "A", "B", "C", "A"]          # groups interleaved, not adjacent
    r = torch.tensor([1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 1.0])
    adv = group_advantages(r, ids, "group")
    a, c = 0.5 / (S3 + 1e-4), 1 / 3 / (S3 + 1e-4)
    expected = [a, 2 * c, 0.0, -a, -c, -a, 0.0, -c, a]
    assert adv.tolist() == pytest.approx(expected, rel=1e-5)
    assert group_advantages(r, ids, "none").tolist() == pytest.approx(
        [0.5, 2 / 3, 0.0, -0.5, -1 / 3, -0.5, 0.0, -1 / 3, 0.5], rel=1e-5)
    assert informative_groups(r, ids).tolist() == [True, True, False, True, True, True, False, True, True]


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_equal_trl_on_contiguous_groups(scale):
    g, n = 4, 5
    torch.manual_seed(0)
    rewards = torch.rand(g * n).round(decimals=1)
    mean = rewards.view(-1, g).mean(1).repeat_interleave(g)
    trl = rewards - mean
    if scale == "group":
        trl = trl / (rewards.view(-1, g).std(1).repeat_interleave(g) + 1e-4)
    elif scale == "batch":
        trl = trl / (rewards.std() + 1e-4)
    ids = [i // g for i in range(g * n)]
    perm = torch.randperm(g * n)                                   # shuffled rows, ids travel with them
    ours = group_advantages(rewards[perm], [ids[i] for i in perm.tolist()], scale)
    assert ours.tolist() == pytest.approx(trl[perm].tolist(), rel=1e-5, abs=1e-6)


def test_clipped_policy_loss_and_kl_hand_computed():
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -2.0, -0.5]])
    old = torch.tensor([[-1.2, -1.5, -0.5], [-1.2, -1.5, -0.5]])
    ref = torch.full((2, 3), -1.0)
    mask = torch.ones(2, 3)
    adv = torch.tensor([1.0, -1.0])
    r0, r1 = math.exp(0.2), math.exp(-0.5)
    per_tok, st = policy_loss_per_token(logp, old, adv, mask, eps_low=0.2, eps_high=0.2)
    assert per_tok.tolist()[0] == pytest.approx([-1.2, -r1, -1.0], rel=1e-6)       # +A: ratio capped at 1.2
    assert per_tok.tolist()[1] == pytest.approx([r0, 0.8, 1.0], rel=1e-6)          # -A: ratio floored at 0.8
    assert (st.tokens, st.clipped_high, st.clipped_low) == (6.0, 1.0, 1.0)
    # DAPO clip-higher: the +A token at ratio 1.22 is no longer clipped with eps_high 0.28
    per_tok_dapo, st2 = policy_loss_per_token(logp, old, adv, mask, eps_low=0.2, eps_high=0.28)
    assert per_tok_dapo[0, 0].item() == pytest.approx(-r0) and st2.clipped_high == 0.0
    kl = [0.0, math.e - 2, math.exp(-0.5) + 0.5 - 1]                              # exp(d) - d - 1, d = ref - logp
    assert kl_divergence(logp, ref)[0].tolist() == pytest.approx(kl, rel=1e-6)
    with_kl, st3 = policy_loss_per_token(logp, old, adv, mask, beta=0.1, ref_logp=ref)
    assert (with_kl - per_tok)[0].tolist() == pytest.approx([0.1 * k for k in kl], rel=1e-5)
    assert st3.kl_sum == pytest.approx(2 * sum(kl), rel=1e-6)
    assert kl_divergence(torch.tensor([0.0]), torch.tensor([30.0])).item() == 10.0  # clamped like verl


def test_aggregation_equals_trl_and_splits_exactly_over_micro_batches():
    torch.manual_seed(1)
    b, t, max_len = 6, 7, 9
    per_tok = torch.randn(b, t)
    lengths = torch.tensor([7, 3, 5, 1, 6, 4])
    mask = (torch.arange(t)[None] < lengths[:, None]).float()
    trl = {"grpo": ((per_tok * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean(),
           "bnpo": (per_tok * mask).sum() / mask.sum(),
           "dapo": (per_tok * mask).sum() / mask.sum(),
           "dr_grpo": (per_tok * mask).sum() / (b * max_len)}
    for kind, ref in trl.items():
        one = aggregate_loss(per_tok, mask, kind, total_seqs=b, total_tokens=float(mask.sum()), max_length=max_len)
        assert one.item() == pytest.approx(ref.item(), rel=1e-6)
        parts = sum(aggregate_loss(per_tok[i:i + 2], mask[i:i + 2], kind, total_seqs=b,
                                   total_tokens=float(mask.sum()), max_length=max_len) for i in range(0, b, 2))
        assert parts.item() == pytest.approx(ref.item(), rel=1e-6)


def test_filtered_rows_drop_out_of_the_loss():
    per_tok = torch.tensor([[1.0, 1.0], [5.0, 5.0], [3.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    keep = torch.tensor([1.0, 0.0, 1.0])                           # row 1's group had all-equal rewards
    m = mask * keep[:, None]
    assert aggregate_loss(per_tok, m, "grpo", total_seqs=2, total_tokens=3).item() == pytest.approx(2.0)
    assert aggregate_loss(per_tok, m, "dapo", total_seqs=2, total_tokens=3).item() == pytest.approx(5 / 3)


def test_overlong_penalty_dapo():
    pen = overlong_penalty(torch.tensor([5, 6, 7, 8, 10, 12]), max_length=10, buffer=4)
    assert pen.tolist() == pytest.approx([0.0, 0.0, -0.25, -0.5, -1.0, -1.0])
    with pytest.raises(ValueError, match="overlong buffer"):
        overlong_penalty(torch.tensor([1]), max_length=10, buffer=0)


def test_shape_and_argument_errors():
    with pytest.raises(ValueError, match="one group id per row"):
        group_advantages(torch.zeros(3), ["a", "b"])
    with pytest.raises(ValueError, match="scale_rewards"):
        group_advantages(torch.zeros(2), ["a", "a"], "std")
    with pytest.raises(ValueError, match="beta > 0 needs ref_logp"):
        policy_loss_per_token(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1), torch.ones(1, 2), beta=0.1)

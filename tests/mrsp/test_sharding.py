"""Single-process pieces of MR-SP: frame shares, the sequence split, Ulysses registration and masks."""
from __future__ import annotations

import pytest
import torch

from lvr.mrsp.encode import frame_shares, parallel_encode
from lvr.mrsp.groups import SPGroup, gather_shards, sum_across
from lvr.mrsp.sp import pad_to, shard_bounds, shard_sequence, sp_sequence_logprobs, unshard_sequence
from lvr.mrsp.ulysses import ATTN_NAME, UlyssesContext, check_heads, enable_ulysses

from .conftest import make_frames


@pytest.mark.parametrize("n,size,unit", [(7, 2, 1), (8, 2, 1), (5, 2, 2), (130, 4, 2), (1, 2, 1), (3, 4, 2),
                                         (64, 3, 1)])
def test_frame_shares_cover_in_order_on_group_boundaries(n, size, unit):
    shares = frame_shares(n, size, unit)
    assert len(shares) == size
    assert shares[0][0] == 0 and shares[-1][1] == n
    for (a, b), (c, _) in zip(shares, shares[1:]):
        assert b == c and a <= b
    for a, b in shares:   # whole temporal groups (Qwen: pairs); only the group with the last frame may be short
        assert a % unit == 0 or a == n
        assert (b - a) % unit == 0 or b == n
    groups = [-(-(b - a) // unit) for a, b in shares]
    assert max(groups) - min(groups) <= 1                  # balanced in encoding groups


def test_frame_shares_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one frame"):
        frame_shares(0, 2)
    with pytest.raises(ValueError, match="size and unit"):
        frame_shares(4, 0)


@pytest.mark.parametrize("seq,size", [(305, 2), (191, 2), (64, 4), (10, 3), (1, 2)])
def test_shard_sequence_roundtrip_token_for_token(seq, size):
    ids = torch.arange(seq).view(1, seq) * 3 + 7
    pos3 = torch.stack([torch.arange(seq), torch.arange(seq) // 2, torch.arange(seq) % 5]).view(3, 1, seq)
    shards = [shard_sequence(ids, size, r, dim=1, pad_value=-1) for r in range(size)]
    padded, _, _ = shard_bounds(seq, size, 0)
    assert all(s.shape[1] == padded // size for s in shards)
    assert torch.equal(unshard_sequence(shards, seq, dim=1), ids)
    pshards = [shard_sequence(pos3, size, r, dim=-1) for r in range(size)]
    assert torch.equal(unshard_sequence(pshards, seq, dim=-1), pos3)
    # padding only ever goes at the very end
    assert torch.equal(torch.cat(shards, 1)[0, seq:], torch.full((padded - seq,), -1))


def test_split_keeps_video_and_trailing_text_in_place(tiny_composite):
    """The split of a real prompt (video then question text) reassembles exactly, and the video
    tokens are where the unsplit sequence has them (the Long-RL bug pushed them off every shard)."""
    from lvr.model import build_messages

    m = tiny_composite
    f = make_frames(13)
    with torch.no_grad():
        inp = m.prepare(f, build_messages("Which colour is first?", ["a", "b", "c", "d"]),
                        timestamps=[float(i) for i in range(13)], add_generation_prompt=True)
    ids, vid = inp.input_ids, m.video_token_id
    last_video = int((ids[0] == vid).nonzero().max())
    assert ids.shape[1] - 1 - last_video > 10            # real text after the video
    for size in (2, 3, 4):
        shards = [shard_sequence(ids, size, r) for r in range(size)]
        assert torch.equal(unshard_sequence(shards, ids.shape[1]), ids)
        assert sum(int((s == vid).sum()) for s in shards) == int((ids == vid).sum())
        embeds = [shard_sequence(inp.inputs_embeds, size, r) for r in range(size)]
        assert torch.equal(unshard_sequence(embeds, ids.shape[1]), inp.inputs_embeds)


def test_pad_to_errors_and_values():
    x = torch.ones(2, 3)
    assert torch.equal(pad_to(x, 5, 1, 0)[:, 3:], torch.zeros(2, 2))
    with pytest.raises(ValueError, match="shorter"):
        pad_to(x, 2, 1)


def test_heads_not_divisible_is_a_clear_error(tiny_composite):
    check_heads(4, 2, 2)
    with pytest.raises(ValueError, match="4 query heads and 2 key-value heads.*sp_size=4"):
        check_heads(4, 2, 4)
    with pytest.raises(ValueError, match="divisible by sp_size=3"):
        check_heads(6, 2, 3)
    fake = SPGroup(group=None, rank=0, size=3)   # the check runs before any collective
    e = torch.zeros(1, 8, tiny_composite.hidden_size)
    with pytest.raises(ValueError, match="divisible by sp_size=3"):
        sp_sequence_logprobs(tiny_composite, e, torch.arange(8).view(1, 8), torch.ones(1, 2),
                             response_ids=torch.zeros(1, 2, dtype=torch.long), sp=fake)


def test_single_rank_logprobs_equal_the_trainers(tiny_composite):
    from lvr.train.sequences import sequence_logprobs

    m = tiny_composite
    g = torch.Generator().manual_seed(0)
    e = torch.randn(2, 12, m.hidden_size, generator=g)
    att = torch.ones(2, 12, dtype=torch.long)
    att[1, :3] = 0
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    rid = torch.randint(0, 100, (2, 4), generator=g)
    rm = torch.ones(2, 4, dtype=torch.long)
    a = sequence_logprobs(m, e, pos, rm, response_ids=rid, attention_mask=att, with_entropy=True)
    b = sp_sequence_logprobs(m, e, pos, rm, response_ids=rid, attention_mask=att, with_entropy=True,
                             sp=SPGroup.single())
    assert torch.allclose(a.logps, b.logps, atol=1e-6) and torch.allclose(a.entropy, b.entropy, atol=1e-6)


def test_group_of_one_ops_are_identities():
    sp = SPGroup.single()
    x = torch.randn(3, 2)
    assert gather_shards(x, sp) is x and sum_across(x, sp) is x
    assert torch.equal(parallel_encode(lambda f: f * 2, x, sp), x * 2)


def test_ulysses_registration_keeps_plain_forward_and_generate_identical():
    from lvr.model import build_tiny

    m = build_tiny("qwen2_5_vl", seed=3)
    g = torch.Generator().manual_seed(1)
    e = torch.randn(2, 9, m.hidden_size, generator=g)
    att = torch.ones(2, 9, dtype=torch.long)
    att[0, :2] = 0
    pos = m.build_position_ids(torch.zeros(2, 9, dtype=torch.long), att)
    with torch.no_grad():
        before = m.lm_forward(e, pos, att)
        gen_before = m.causal_lm.generate(inputs_embeds=e, attention_mask=att, position_ids=pos, max_new_tokens=5,
                                          do_sample=False, pad_token_id=0)
        enable_ulysses(m)
        assert m.hf.config.text_config._attn_implementation == ATTN_NAME
        assert m.hf.config.vision_config._attn_implementation != ATTN_NAME   # the vision tower is untouched
        after = m.lm_forward(e, pos, att)
        gen_after = m.causal_lm.generate(inputs_embeds=e, attention_mask=att, position_ids=pos, max_new_tokens=5,
                                         do_sample=False, pad_token_id=0)
    assert torch.equal(before[att.bool()], after[att.bool()])
    assert torch.equal(gen_before, gen_after)
    enable_ulysses(m)   # idempotent


def test_enable_ulysses_refuses_a_non_sdpa_model():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    lm = Qwen2ForCausalLM(Qwen2Config(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2))
    lm.set_attn_implementation("eager")
    with pytest.raises(ValueError, match="attn_implementation='sdpa'.*'eager'"):
        enable_ulysses(lm)


def test_full_mask_is_causal_only_without_inner_padding():
    sp = SPGroup.single()
    right = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert UlyssesContext(sp, right).full_mask("cpu") is None
    assert UlyssesContext(sp, None).full_mask("cpu") is None
    left = torch.tensor([[0, 0, 1, 1, 1, 0]], dtype=torch.bool)
    mask = UlyssesContext(sp, left).full_mask("cpu")
    assert mask.shape == (1, 1, 6, 6)
    q, k = 4, torch.arange(6)
    assert mask[0, 0, q].tolist() == ((k <= q) & left[0]).tolist()     # valid query: causal ∧ key padding
    assert mask[0, 0, 0].tolist() == [True] + [False] * 5               # padded query sees itself only (finite)

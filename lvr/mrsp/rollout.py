"""Rollout types and the transformers engine: G sampled responses per prompt, from prompt *embeddings*.

    engine = TransformersRollout(model, gather_zero3=False)
    samples = engine.generate([RolloutRequest(qa_id=7, group_id="s3-q7", prompt_embeds=e, position_ids=p)],
                              SamplingParams(n=8, temperature=1.0, top_p=0.99, max_new_tokens=256))
    samples[0].qa_id, samples[0].group_id, samples[0].sample_index, samples[0].token_ids, samples[0].text

The protocol is embedding-based on purpose: the video embeddings computed once per step are
the prompt (vLLM's `enable_prompt_embeds` takes the same tensors), so rollout and training see
exactly the same inputs and positions. Every sample carries its request's `qa_id` and
`group_id` plus its own `sample_index`; consumers match by these ids, never by order.

The other engines implement the same `RolloutEngine` protocol: `VLLMRollout` (vllm_rollout) and
`SPRollout` (sp_rollout, any engine split over an SP group). `MRSPRuntime.rollout_engine` builds
the one the rollout config names.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import torch

from lvr.model import ModelInputs, generate_batch


@dataclass(frozen=True)
class SamplingParams:
    n: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop_at_answer: bool = True


@dataclass
class RolloutRequest:
    qa_id: int
    group_id: str
    prompt_embeds: torch.Tensor          # [P, d_lm]
    position_ids: torch.Tensor           # [P] (1-D RoPE) or [3, P] (M-RoPE)
    input_ids: torch.Tensor | None = None   # [P]: a frame look-back model finds its frames' tags here


@dataclass
class RolloutSample:
    qa_id: int
    group_id: str
    sample_index: int
    token_ids: list[int]
    text: str
    stop_reason: str                     # "answer" | "eos" | "length"


@runtime_checkable
class RolloutEngine(Protocol):
    def generate(self, requests: Sequence[RolloutRequest], params: SamplingParams) -> list[RolloutSample]: ...

    def update_weights(self, model) -> None:
        """Make the engine sample from the policy's current weights (after an optimizer step)."""


class TransformersRollout:
    """`causal_lm.generate(inputs_embeds=…, position_ids=…)` on the policy module itself.

    The policy is shared, so `update_weights` has nothing to copy. With ZeRO-3 the parameters
    are gathered for the whole generation (`gather_zero3=True`), so ranks generating different
    lengths never wait on each other's parameter all-gathers.
    """

    def __init__(self, model, *, gather_zero3: bool = False, batch_size: int | None = None):
        self.model = model
        self.gather_zero3 = gather_zero3
        self.batch_size = batch_size

    def update_weights(self, model) -> None:
        self.model = model

    def _inputs(self, req: RolloutRequest):
        p = req.prompt_embeds.shape[0]
        if req.position_ids.shape[-1] != p:
            raise ValueError(f"request qa {req.qa_id}: {p} prompt embeddings but {req.position_ids.shape[-1]} "
                             f"positions")
        if getattr(self.model, "frame_lookback", False) and req.input_ids is None:
            raise ValueError(f"request qa {req.qa_id}: a frame look-back model needs the prompt's input_ids "
                             "(RolloutRequest.input_ids) to find its frames")
        return ModelInputs.one_row(req.prompt_embeds, req.position_ids, req.input_ids, device=self.model.device)

    def generate(self, requests: Sequence[RolloutRequest], params: SamplingParams) -> list[RolloutSample]:
        prompts, owners = [], []
        for req in requests:
            inp = self._inputs(req)
            for k in range(params.n):
                prompts.append(inp)
                owners.append((req, k))
        ctx = nullcontext()
        if self.gather_zero3:
            import deepspeed  # an optional extra (lvr-workbench[train]): only ZeRO-3 runs need it

            ctx = deepspeed.zero.GatheredParameters(list(self.model.parameters()), modifier_rank=None)
        was_training = self.model.training
        self.model.eval()
        try:
            with ctx, torch.no_grad():
                gens = generate_batch(self.model, prompts, max_new_tokens=params.max_new_tokens,
                                      temperature=params.temperature, top_p=params.top_p,
                                      stop_at_answer=params.stop_at_answer, batch_size=self.batch_size)
        finally:
            self.model.train(was_training)
        return [RolloutSample(qa_id=req.qa_id, group_id=req.group_id, sample_index=k, token_ids=list(g.token_ids),
                              text=g.text, stop_reason=g.stop_reason)
                for (req, k), g in zip(owners, gens)]


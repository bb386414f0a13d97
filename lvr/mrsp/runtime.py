"""MR-SP wired for a GRPO trainer: one object built from `MRSPConfig`.

    rt = MRSPRuntime.build(cfg.mrsp, model, frames, cache_dir=ws.embeds_cache_dir, world=dist.world,
                           zero_stage=cfg.deepspeed.zero_stage)
    mine = rt.shard(global_indices)                     # this rank's items: the SP group shares them
    ve = rt.embedder(item)                              # cached / Stage-1 parallel video embeddings
    engine = rt.rollout_engine(cfg.rollout, model, engine_dir=run_dir / "vllm_llm")   # every backend, SP-split
    lp = rt.logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                     response_ids=b.response_ids, attention_mask=b.attention_mask, temperature=t)
    totals = world-summed counts / rt.count_scale       # every sample sits on sp_size ranks
    loss = aggregate_loss(..., total_seqs=…, total_tokens=…) * world   # as without SP

Conventions (see lvr.mrsp.groups): the ranks of an SP group hold the same samples and compute
the same replicated loss; each holds part of the gradient, and DeepSpeed's world average times
`sp_size` equals the SP-group sum averaged over the data-parallel replicas. Counts summed over
the world (sequences, tokens) include every sample `sp_size` times.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .config import MRSPConfig
from .embedder import CachedVideoEmbedder
from .groups import SPGroup, init_sp_groups
from .rollout import RolloutEngine, TransformersRollout
from .sp import SPLogProbs, sp_sequence_logprobs
from .sp_rollout import SPRollout
from .ulysses import check_heads, enable_ulysses, lm_heads
from .vllm_rollout import VLLMRollout  # vllm itself is imported only when an engine is built

ROLLOUT_BACKENDS = ("transformers", "vllm")


@dataclass
class MRSPRuntime:
    cfg: MRSPConfig
    sp: SPGroup
    embedder: CachedVideoEmbedder
    zero_stage: int = 0

    @classmethod
    def build(cls, cfg: MRSPConfig, model, frames, *, cache_dir=None, world: int = 1,
              zero_stage: int = 0) -> "MRSPRuntime":
        if world % cfg.sp_size:
            raise ValueError(f"mrsp.sp_size={cfg.sp_size} must divide the number of ranks ({world})")
        if cfg.sp_size > 1:
            check_heads(*lm_heads(model), cfg.sp_size, " of the LM")
        sp = init_sp_groups(cfg.sp_size)
        if sp.size > 1:
            enable_ulysses(model)
        persistent = {"off": False, "step": False, "disk": True, "auto": "auto"}[cfg.embed_cache]
        grad_mode = "recompute" if zero_stage == 3 else cfg.grad_mode   # ZeRO-3 cannot re-run a kept graph
        embedder = CachedVideoEmbedder(model, frames, cache_dir=cache_dir, sp=sp, persistent=persistent,
                                       grad_mode=grad_mode, reuse=cfg.embed_cache != "off")
        return cls(cfg, sp, embedder, zero_stage)

    # ------------------------------------------------------------------ data
    def shard(self, indices: Sequence[int]) -> list[int]:
        """This rank's contiguous share of a global batch, by data-parallel replica (SP ranks share it)."""
        dp, n = self.sp.dp_size, len(indices)
        if n % dp:
            raise ValueError(f"global batch of {n} does not split over {dp} data-parallel replicas")
        per = n // dp
        return list(indices[self.sp.dp_rank * per:(self.sp.dp_rank + 1) * per])

    def global_batch(self, per_replica: int) -> int:
        """Items to draw per step: `per_replica` for each data-parallel replica."""
        return per_replica * self.sp.dp_size

    @property
    def count_scale(self) -> int:
        """Every sample is held by `sp_size` ranks: divide world-summed counts by this."""
        return self.sp.size

    @property
    def reports(self) -> bool:
        """Whether this rank's samples count in gathered metrics (one rank per SP group)."""
        return self.sp.rank == 0

    # ------------------------------------------------------------------ model passes
    def logprobs(self, model, inputs_embeds, position_ids, response_mask, *, response_ids, attention_mask=None,
                 temperature: float = 1.0, with_entropy: bool = False) -> SPLogProbs:
        return sp_sequence_logprobs(model, inputs_embeds, position_ids, response_mask, response_ids=response_ids,
                                    attention_mask=attention_mask, temperature=temperature,
                                    with_entropy=with_entropy, sp=self.sp)

    def rollout_engine(self, rollout, model, *, engine_dir=None, seed: int = 0) -> RolloutEngine:
        """The rollout engine `rollout.backend` names, built from the rollout config (`backend`,
        `batch_size`; GRPOConfig.rollout) and `mrsp.vllm`, split over the SP group when sp_size > 1:
        transformers generates on the policy module itself (its parameters gathered under ZeRO-3),
        vllm runs the composite's LM in a `VLLMRollout` loaded from `engine_dir`."""
        if rollout.backend == "transformers":
            engine = TransformersRollout(model, gather_zero3=self.zero_stage == 3, batch_size=rollout.batch_size)
        elif rollout.backend == "vllm":
            v = self.cfg.vllm
            engine = VLLMRollout(model, engine_dir=v.engine_dir or engine_dir,
                                 gpu_memory_utilization=v.gpu_memory_utilization, sleep_mode=v.sleep_mode,
                                 seed=seed, max_model_len=v.max_model_len)
        else:
            raise ValueError(f"unknown rollout backend {rollout.backend!r} (available: {', '.join(ROLLOUT_BACKENDS)})")
        return SPRollout(engine, self.sp) if self.sp.size > 1 else engine

"""Rollouts inside an SP group: the ranks share the prompts, so they split the G samples.

    engine = SPRollout(VLLMRollout(model), sp)          # or SPRollout(TransformersRollout(model), sp)
    samples = engine.generate(requests, params)           # all G samples of every request, on every rank

The S ranks of a sequence-parallel group train on the same prompts. Instead of each rank
sampling all G responses (S-fold duplicate work) or one rank sampling while the others wait,
rank r samples `split_counts(G, S)[r]` of them with its own seed, and an object all-gather
gives every rank the same complete list, ordered by (request, sample index) with indices
0..G-1 renumbered across ranks. Samples carry their request's `qa_id` and `group_id`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import torch

from .groups import SPGroup


def split_counts(n: int, size: int) -> list[int]:
    """n samples over `size` ranks: the first n % size ranks take one more."""
    base, extra = divmod(n, size)
    return [base + (1 if r < extra else 0) for r in range(size)]


class SPRollout:
    """Wraps any RolloutEngine so an SP group samples each prompt's G responses once, in parallel."""

    def __init__(self, engine, sp: SPGroup):
        self.engine, self.sp = engine, sp

    def update_weights(self, model) -> None:
        self.engine.update_weights(model)

    def generate(self, requests: Sequence, params) -> list:
        sp = self.sp
        if sp.size == 1:
            return self.engine.generate(requests, params)
        import torch.distributed as dist

        counts = split_counts(int(params.n), sp.size)
        offset = sum(counts[:sp.rank])
        # the ranks share the RNG state: draw one base seed (same on all ranks), then offset by rank
        base = int(torch.randint(0, 2 ** 31 - 1, (1,)).item())
        mine: list = []
        if counts[sp.rank]:
            local = replace(params, n=counts[sp.rank]) if hasattr(params, "__dataclass_fields__") else params
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(base + sp.rank)
                if hasattr(self.engine, "seed"):
                    self.engine.seed = base + sp.rank
                mine = self.engine.generate(requests, local)
        parts: list = [None] * sp.size
        dist.all_gather_object(parts, [(s, s.sample_index + offset) for s in mine], group=sp.group)
        by_request = {(r.qa_id, r.group_id): i for i, r in enumerate(requests)}
        out = []
        for part in parts:
            for s, k in part:
                out.append(replace(s, sample_index=k) if hasattr(s, "__dataclass_fields__") else s)
        out.sort(key=lambda s: (by_request[(s.qa_id, s.group_id)], s.sample_index))
        return out

"""GRPO trainer steps with MR-SP options, written to a JSON report (run by tests/mrsp/test_grpo_mrsp.py).

    python -m torch.distributed.run --nproc_per_node 2 tests/mrsp/grpo_checks.py OUT.json --fixed-rollout \
        model=… workspace=… mrsp.sp_size=2 …

Builds the real `GRPOTrainer` from config overrides and runs `--steps` steps. With
`--fixed-rollout` the rollout engine is replaced by a deterministic one (token ids from the
request's qa_id and the sample index), so runs whose sampling RNG differs by construction (an
SP group splits the G samples over its ranks with per-rank seeds) still see identical
responses and their losses, gradient norms and updated weights can be compared exactly.
Rank 0 writes the metrics rows, a checksum of the LM weights and the engine's settings.
"""
from __future__ import annotations

import json
import sys

import torch


def letters(completions, **kw):
    """A reward that differs between the samples of a group (reward.functions={<this file>:letters: 1.0})."""
    return [sum(ch in "aeiou" for ch in c) / max(len(c), 1) for c in completions]


class FixedRollout:
    """G responses per request, a pure function of (qa_id, sample_index); never of the rank or RNG."""

    def __init__(self, model):
        self.model = model

    def update_weights(self, model) -> None:
        self.model = model

    def generate(self, requests, params):
        from lvr.mrsp.rollout import RolloutSample

        vocab = self.model.input_embeddings.weight.shape[0]
        out = []
        for req in requests:
            for k in range(params.n):
                g = torch.Generator().manual_seed(1000 * int(req.qa_id) + k)
                n = 3 + (int(req.qa_id) + k) % 6              # uneven response lengths
                ids = torch.randint(5, vocab - 5, (n,), generator=g).tolist()
                out.append(RolloutSample(qa_id=req.qa_id, group_id=req.group_id, sample_index=k, token_ids=ids,
                                         text=self.model.tokenizer.decode(ids), stop_reason="length"))
        return out


def main() -> None:
    out_path, args = sys.argv[1], sys.argv[2:]
    fixed = "--fixed-rollout" in args
    steps = 2
    overrides = []
    for a in args:
        if a.startswith("--steps="):
            steps = int(a.split("=", 1)[1])
        elif not a.startswith("--"):
            overrides.append(a)
    from lvr.config import load_config
    from lvr.train.configs import GRPOConfig
    from lvr.train.fresh_prompts import FRESH_QA_IDS
    from lvr.train.grpo import GRPOTrainer

    cfg = load_config(GRPOConfig, None, overrides)
    tr = GRPOTrainer(cfg)
    if fixed:
        tr.rollout = FixedRollout(tr.model)
    rows, fresh = [], set()
    for _ in range(steps):
        rows.append(tr.step())
        fresh |= {k for k in tr.by_id if k >= FRESH_QA_IDS}       # each step's fresh prompts (dropped after it)
    with torch.no_grad():
        params = [p.detach().double() for p in tr.model.causal_lm.parameters()]
        checksum = float(sum((p * (1 + torch.arange(p.numel(), dtype=torch.float64).reshape(p.shape) % 7)).sum()
                             for p in params))
    engine_dir = getattr(tr.rollout, "engine_dir", None) or getattr(getattr(tr.rollout, "engine", None),
                                                                     "engine_dir", None)
    engine_diff = None
    if engine_dir:   # the vLLM engine loads from this folder: after a push it holds the policy's LM weights
        from safetensors.torch import load_file

        from lvr.mrsp.vllm_rollout import _lm_state

        pushed, now = load_file(str(engine_dir / "model.safetensors")), _lm_state(tr.model.causal_lm)
        engine_diff = max(float((pushed[k] - now[k].float()).abs().max()) for k in now)
    if tr.run.dist.is_main:
        with open(out_path, "w") as f:
            json.dump({"rows": rows, "checksum": checksum, "sp_size": tr.mrsp.sp.size, "dp_size": tr.mrsp.sp.dp_size,
                       "rollout": type(tr.rollout).__name__, "engine_diff": engine_diff,
                       "fresh_prompts": sorted(fresh),
                       "engine_dir": str(engine_dir) if engine_dir else None,
                       "run_dir": str(tr.run.run_dir)}, f, default=float)
    close = getattr(tr.rollout, "close", None)
    if close:
        close()


if __name__ == "__main__":
    main()

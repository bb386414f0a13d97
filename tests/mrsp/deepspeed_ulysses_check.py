"""lvr.mrsp.ulysses against DeepSpeed's own Ulysses attention, 2 gloo processes on CPU.

    python -m torch.distributed.run --nproc_per_node=2 tests/mrsp/deepspeed_ulysses_check.py OUT.json

Both implement the same exchange (sequence-sharded q/k/v → all tokens on this rank's heads → sdpa →
back to this rank's tokens). Every rank draws the same full q/k/v (GQA: 4 query heads, 2 key-value
heads), keeps its contiguous block of tokens and runs (a) lvr's `seq_to_heads`/`heads_to_seq` around
sdpa, (b) `deepspeed.sequence.layer.DistributedAttention` around the same sdpa, (c) the unsharded
attention. Rank 0 writes the largest absolute differences of the outputs and of the q/k/v gradients.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lvr.mrsp.groups import init_sp_groups  # noqa: E402
from lvr.mrsp.ulysses import heads_to_seq, seq_to_heads  # noqa: E402

B, T, HQ, HKV, D = 2, 12, 4, 2, 8


def causal_sdpa(q, k, v):
    """[B, H, T, D] causal attention with GQA (key-value heads repeated)."""
    rep = q.shape[1] // k.shape[1]
    return F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1),
                                          is_causal=True)


def lvr_path(q, k, v, sp):
    """q/k/v [B, t, H, D] (this rank's tokens) → [B, t, H, D]."""
    ql, kl, vl = seq_to_heads(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), sp)
    return heads_to_seq(causal_sdpa(ql, kl, vl).transpose(1, 2), sp)


def deepspeed_path(q, k, v, group):
    from deepspeed.sequence.layer import DistributedAttention

    def local(qa, ka, va, *args, **kwargs):            # [B, T, H/S, D] in and out
        return causal_sdpa(qa.transpose(1, 2), ka.transpose(1, 2), va.transpose(1, 2)).transpose(1, 2)

    attn = DistributedAttention(local, group, scatter_idx=2, gather_idx=1)
    return attn(q, k, v, batch_dim_idx=0)


def leaves(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, T, h, D, generator=g) for h in (HQ, HKV, HKV)]


def run(path, full, rank, size):
    t = T // size
    shard = [x[:, rank * t:(rank + 1) * t].clone().requires_grad_(True) for x in full]
    out = path(*shard)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(7 + rank))
    (out * w).sum().backward()
    return out.detach(), [s.grad for s in shard], w


def main(out_path: str) -> None:
    import deepspeed

    deepspeed.init_distributed(dist_backend="gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    sp = init_sp_groups(size)
    full = leaves(0)
    ours, g_ours, w = run(lambda *a: lvr_path(*a, sp), full, rank, size)
    theirs, g_theirs, _ = run(lambda *a: deepspeed_path(*a, sp.group), full, rank, size)

    ref_leaves = [x.clone().requires_grad_(True) for x in full]
    t = T // size
    ref = causal_sdpa(*(x.transpose(1, 2) for x in ref_leaves)).transpose(1, 2)
    ws = [torch.zeros(ref.shape) for _ in range(size)]
    dist.all_gather(ws, torch.zeros(ref.shape).index_copy(1, torch.arange(rank * t, (rank + 1) * t), w))
    (ref * sum(ws)).sum().backward()
    mine = slice(rank * t, (rank + 1) * t)
    ref_out, g_ref = ref.detach()[:, mine], [x.grad[:, mine] for x in ref_leaves]

    def md(a, b):
        return max(float((x - y).abs().max()) for x, y in zip(a, b))

    result = torch.tensor([md([ours], [theirs]), md(g_ours, g_theirs), md([ours], [ref_out]), md(g_ours, g_ref),
                           md([theirs], [ref_out]), float(ref_out.abs().max()),
                           max(float(g.abs().max()) for g in g_ref)])
    dist.all_reduce(result, op=dist.ReduceOp.MAX)
    if rank == 0:
        keys = ["out_lvr_vs_deepspeed", "grad_lvr_vs_deepspeed", "out_lvr_vs_full", "grad_lvr_vs_full",
                "out_deepspeed_vs_full", "out_scale", "grad_scale"]
        Path(out_path).write_text(json.dumps(dict(zip(keys, result.tolist())), indent=1))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])

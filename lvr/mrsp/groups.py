"""Sequence-parallel process groups and the collectives MR-SP is built from.

    sp = init_sp_groups(sp_size=2)          # after torch.distributed is initialised (torchrun)
    sp.rank, sp.size, sp.dp_rank, sp.dp_size
    parts = all_gather_uneven(local, sp)    # list of each rank's tensor (sizes may differ on dim 0)
    out = all_to_all(x, sp)                 # x: [S, ...]; out[j] = rank j's x[my rank] (autograd-aware)
    total = sum_across(partial, sp)         # all-reduce sum forward, identity backward (see below)
    SPGroup.single()                        # size 1: every op is the identity, no torch.distributed

World ranks are split into consecutive blocks of `sp_size` (ranks 0..S-1 form SP group 0, …);
the ranks of one SP group work on the same sample, and the blocks are the data-parallel
replicas. Collectives run on whatever backend the default group uses: gloo on CPU, NCCL on
GPUs (tensors must then live on the rank's CUDA device).

Gradient conventions (documented once, used everywhere in lvr.mrsp): every rank of an SP group
computes the SAME loss value (replicated), each rank's autograd graph covers only the work that
rank did, and the parameter gradients of the SP group are SUMMED over its ranks
(`sync_sp_grads`). Under that convention `sum_across` is an all-reduce whose backward is the
identity (the loss is counted once, not S times), and `all_to_all` is its own adjoint.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SPGroup:
    """This rank's sequence-parallel group (`group` None when size is 1)."""

    group: object | None
    rank: int
    size: int
    dp_rank: int = 0
    dp_size: int = 1
    global_ranks: tuple[int, ...] = (0,)

    @classmethod
    def single(cls) -> "SPGroup":
        return cls(group=None, rank=0, size=1)

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def device(self) -> torch.device:
        """Where collective buffers live: the current CUDA device under NCCL, else the CPU."""
        if self.group is not None:
            import torch.distributed as dist

            if dist.get_backend(self.group) == "nccl":
                return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


_GROUPS: dict[int, SPGroup] = {}


def init_sp_groups(sp_size: int) -> SPGroup:
    """Split the default process group into SP groups of `sp_size` consecutive ranks.

    Must be called on every rank (creating groups is collective). Size 1 needs no
    torch.distributed at all. Cached per size: calling again returns the same group.
    """
    if sp_size < 1:
        raise ValueError(f"sp_size must be >= 1, got {sp_size}")
    if sp_size == 1:
        return SPGroup.single()
    if sp_size in _GROUPS:
        return _GROUPS[sp_size]
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(f"sp_size={sp_size} needs torch.distributed initialised (launch with "
                           f"torchrun --nproc_per_node {sp_size} …)")
    world, rank = dist.get_world_size(), dist.get_rank()
    if world % sp_size:
        raise ValueError(f"sp_size={sp_size} must divide the world size {world} (WORLD_SIZE="
                         f"{os.environ.get('WORLD_SIZE')})")
    mine = None
    for start in range(0, world, sp_size):
        ranks = list(range(start, start + sp_size))
        g = dist.new_group(ranks)
        if rank in ranks:
            mine = SPGroup(group=g, rank=rank - start, size=sp_size, dp_rank=start // sp_size,
                           dp_size=world // sp_size, global_ranks=tuple(ranks))
    assert mine is not None
    _GROUPS[sp_size] = mine
    return mine


# ---------------------------------------------------------------------------------------- gathers
_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64, torch.int64, torch.int32, torch.uint8,
           torch.bool)


def _dtype_code(dtype: torch.dtype) -> int:
    if dtype not in _DTYPES:
        raise TypeError(f"all_gather_uneven: unsupported dtype {dtype}")
    return _DTYPES.index(dtype)


def all_gather_uneven(local: torch.Tensor | None, sp: SPGroup) -> list[torch.Tensor]:
    """Every rank's tensor, in rank order; sizes may differ on dim 0 (gather sizes, pad, gather, trim).

    A rank with nothing to contribute passes None (or a 0-row tensor); it receives the trailing
    shape and dtype from the others. No autograd (see `GatherShards` for that).
    """
    if sp.size == 1:
        if local is None:
            raise ValueError("all_gather_uneven: a group of one has nothing to gather")
        return [local]
    import torch.distributed as dist

    dev = sp.device
    tail = tuple(local.shape[1:]) if local is not None else ()
    if len(tail) > 6:
        raise ValueError("all_gather_uneven: at most 7 dimensions")
    meta = torch.full((9,), -1, dtype=torch.long, device=dev)
    if local is not None:
        meta[0] = local.shape[0]
        meta[1] = _dtype_code(local.dtype)
        meta[2] = len(tail)
        if tail:
            meta[3:3 + len(tail)] = torch.tensor(tail, dtype=torch.long)
    else:
        meta[0] = 0
    metas = [torch.empty_like(meta) for _ in range(sp.size)]
    dist.all_gather(metas, meta, group=sp.group)
    metas = [m.cpu().tolist() for m in metas]
    known = [m for m in metas if m[1] >= 0 and m[2] >= 0]
    if not known:
        raise ValueError("all_gather_uneven: no rank contributed a tensor")
    ref = known[0]
    dtype, ndim = _DTYPES[ref[1]], ref[2]
    shape_tail = tuple(ref[3:3 + ndim])
    for r, m in enumerate(metas):
        if m[1] >= 0 and (m[1] != ref[1] or tuple(m[3:3 + m[2]]) != shape_tail):
            raise ValueError(f"all_gather_uneven: rank {r} sent {_DTYPES[m[1]]} {tuple(m[3:3 + m[2]])}, rank 0 of "
                             f"the contributors sent {dtype} {shape_tail}")
    sizes = [m[0] for m in metas]
    if local is None or local.shape[0] == 0:
        local = torch.empty((0, *shape_tail), dtype=dtype, device=dev)
    biggest = max(max(sizes), 1)
    buf = local.new_zeros((biggest, *shape_tail)) if local.shape[0] < biggest else local
    if local.shape[0] < biggest:
        buf[:local.shape[0]] = local
    buf = buf.to(dev).contiguous()
    outs = [torch.empty_like(buf) for _ in range(sp.size)]
    dist.all_gather(outs, buf, group=sp.group)
    return [o[:n].to(local.device) for o, n in zip(outs, sizes)]


class GatherShards(torch.autograd.Function):
    """Concatenate every rank's shard (dim 0, uneven sizes) into the full tensor on every rank.

    Backward returns this rank's slice of the gradient of the full tensor, either
    - `grad_reduce="sum"`: summed over the SP group first (reduce-scatter). Right when each rank
      used only PART of the gathered tensor (Stage 2: rank k feeds only the tokens of its sequence
      shard to the LM, so the gradient of an embedding row may sit on any rank); or
    - `grad_reduce="none"`: taken as is. Right when every rank used the WHOLE gathered tensor to
      compute the same replicated loss (each rank already holds the full gradient).
    In both cases the encoder's parameter gradients are then summed over the SP group.
    A rank with nothing to contribute passes a 0-element placeholder (`empty=True`).
    """

    @staticmethod
    def forward(ctx, local: torch.Tensor, sp: SPGroup, grad_reduce: str, empty: bool):
        parts = all_gather_uneven(None if empty else local, sp)
        ctx.sp, ctx.grad_reduce, ctx.empty = sp, grad_reduce, empty
        ctx.local_shape = local.shape
        sizes = [p.shape[0] for p in parts]
        ctx.start = sum(sizes[:sp.rank])
        ctx.n = sizes[sp.rank]
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        sp = ctx.sp
        if ctx.grad_reduce == "sum" and sp.size > 1:
            import torch.distributed as dist

            grad = grad.contiguous().clone()
            dist.all_reduce(grad, group=sp.group)
        if ctx.empty:
            return grad.new_zeros(ctx.local_shape), None, None, None
        return grad[ctx.start:ctx.start + ctx.n], None, None, None


GRAD_REDUCE = ("sum", "none")


def gather_shards(local: torch.Tensor | None, sp: SPGroup, grad_reduce: str = "sum") -> torch.Tensor:
    """Every rank's shard concatenated in rank order (dim 0, uneven sizes), differentiable.

    `local` None: this rank has nothing to contribute (it still takes part, in the forward and in
    the backward). Autograd is used when any rank's shard requires grad (agreed collectively, so
    every rank runs the backward collective); see `GatherShards` for `grad_reduce`.
    """
    if grad_reduce not in GRAD_REDUCE:
        raise ValueError(f"grad_reduce must be one of {GRAD_REDUCE}, got {grad_reduce!r}")
    if sp.size == 1:
        if local is None:
            raise ValueError("gather_shards: a group of one has nothing to gather")
        return local
    wants_grad = local is not None and local.requires_grad and torch.is_grad_enabled()
    any_grad = not all_agree(not wants_grad, sp)
    if not any_grad:
        with torch.no_grad():
            return torch.cat(all_gather_uneven(local, sp), 0)
    empty = local is None or local.shape[0] == 0
    if empty:
        local = torch.zeros(0, device=sp.device, requires_grad=True) if local is None else local
    return GatherShards.apply(local, sp, grad_reduce, empty)


# ---------------------------------------------------------------------------------------- all-to-all
class _AllToAll(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sp: SPGroup):
        import torch.distributed as dist

        ctx.sp = sp
        x = x.contiguous()
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        dist.all_to_all_single(out, x, group=sp.group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        import torch.distributed as dist

        grad = grad.contiguous()  # (autograd may hand over strided grads: buffers must be dense)
        out = torch.empty_like(grad, memory_format=torch.contiguous_format)
        dist.all_to_all_single(out, grad, group=ctx.sp.group)
        return out, None


def all_to_all(x: torch.Tensor, sp: SPGroup) -> torch.Tensor:
    """x [S, ...] (chunk j goes to rank j) → out [S, ...] (chunk j came from rank j). Self-adjoint."""
    if x.shape[0] != sp.size:
        raise ValueError(f"all_to_all: leading dim {x.shape[0]} != SP size {sp.size}")
    if sp.size == 1:
        return x
    return _AllToAll.apply(x.contiguous(), sp)


# ---------------------------------------------------------------------------------------- reductions
class _SumAcross(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sp: SPGroup):
        import torch.distributed as dist

        out = x.contiguous().clone()
        dist.all_reduce(out, group=sp.group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def sum_across(x: torch.Tensor, sp: SPGroup) -> torch.Tensor:
    """All-reduce sum over the SP group; backward is the identity (replicated-loss convention)."""
    if sp.size == 1:
        return x
    return _SumAcross.apply(x, sp)


def all_agree(flag: bool, sp: SPGroup) -> bool:
    """True only if `flag` is true on every rank of the group (used so ranks take the same branch)."""
    if sp.size == 1:
        return bool(flag)
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0], dtype=torch.long, device=sp.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN, group=sp.group)
    return bool(t.item())


def sync_sp_grads(model: torch.nn.Module, sp: SPGroup, bucket_numel: int = 1 << 22) -> None:
    """Sum parameter gradients over the SP group (each rank holds its part of the gradient).

    Not needed under DeepSpeed: with world-summed counts divided by the SP size and the loss
    multiplied by the world size (lvr.mrsp.runtime), its average over the world is exactly the
    SP-group sum averaged over the data-parallel replicas.
    """
    if sp.size == 1:
        return
    import torch.distributed as dist

    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:  # a rank whose share touched no use of p (e.g. no frames) still joins the sum
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    # in buckets of ~`bucket_numel` elements: one flat copy of all gradients would cost as much
    # memory as the gradients themselves
    bucket: list[torch.Tensor] = []
    size = 0
    for p in params + [None]:
        if p is not None:
            bucket.append(p.grad)
            size += p.grad.numel()
        if bucket and (p is None or size >= bucket_numel):
            flat = torch.cat([g.reshape(-1) for g in bucket])
            dist.all_reduce(flat, group=sp.group)
            offset = 0
            for g in bucket:
                n = g.numel()
                g.copy_(flat[offset:offset + n].view_as(g))
                offset += n
            bucket, size = [], 0

"""MR-SP equality checks run by 2 gloo processes (launched by tests/mrsp/test_dist.py).

    python -m torch.distributed.run --nproc_per_node=2 tests/mrsp/dist_checks.py OUT.json

Every rank computes the one-rank reference itself (no collectives) and the sequence-parallel
result (SP=2), then rank 0 writes one JSON object: for each check the largest absolute
differences (embeddings, log-probs, gradients) and the scales they compare against.
Checks: Stage-1 sharded encoding (composite 7 frames, Qwen2.5-VL and Qwen3-VL 5 frames = uneven
pairs, one frame = an idle rank) with both gradient conventions; Stage-2 SP=2 response log-probs and
gradients (all parameters, vision tower included) equal SP=1 for the tiny composite (1-D
positions, timestamp text between frames), the tiny Qwen2.5-VL (M-RoPE) and the tiny Qwen3-VL
(M-RoPE per pair, text timestamps, DeepStack features added in the first LM layers), two rows of
different prompt and response lengths with text after the video; and the token-level split
(each rank's shard of ids/positions, concatenated, equals the unsplit sequence).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def frames(n: int, h: int = 56, w: int = 56, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (n, h, w, 3)).astype(np.uint8)


def synced(model):
    """Rank 0's weights on every rank (the tiny builder is seeded, this makes it certain)."""
    for p in model.state_dict().values():
        dist.broadcast(p, 0)
    return model


def grads(model) -> dict[str, torch.Tensor]:
    return {n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
            for n, p in model.named_parameters() if p.requires_grad}


def max_diff(a: dict, b: dict) -> tuple[float, float]:
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    scale = max(float(b[k].abs().max()) for k in b)
    return diff, scale


def stage1(model, n_frames: int, sp, out: dict, name: str) -> None:
    from lvr.mrsp.encode import encode_frames_sp
    from lvr.mrsp.groups import sync_sp_grads

    f = frames(n_frames, seed=n_frames)
    model.zero_grad(set_to_none=True)
    ref = model.encode_frames(f)
    w = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1))
    (ref * w).sum().backward()
    g_ref = grads(model)

    # replicated loss on the full output → grad_reduce="none"
    model.zero_grad(set_to_none=True)
    emb = encode_frames_sp(model, f, sp, grad_reduce="none")
    (emb * w).sum().backward()
    sync_sp_grads(model, sp)
    g_none = grads(model)

    # each rank uses a different part (rows split at another boundary than the frames) → "sum"
    model.zero_grad(set_to_none=True)
    emb2 = encode_frames_sp(model, f, sp, grad_reduce="sum")
    cut = max(1, ref.shape[0] // 3)
    rows = slice(0, cut) if sp.rank == 0 else slice(cut, None)
    (emb2[rows] * w[rows]).sum().backward()
    sync_sp_grads(model, sp)
    g_sum = grads(model)
    emb, ref = emb.detach(), ref.detach()
    out[name] = {"embeds": float((emb - ref).abs().max()), "embeds_scale": float(ref.abs().max()),
                 "shape_equal": list(emb.shape) == list(ref.shape),
                 "grad_none": max_diff(g_none, g_ref), "grad_sum": max_diff(g_sum, g_ref)}
    model.zero_grad(set_to_none=True)


def grpo_pass(model, f, sp, *, use_sp: bool, split_out: dict | None = None):
    """Encode → two prompts (text after the video) → batch → log-probs → GRPO-like loss → backward."""
    from lvr.model import build_messages
    from lvr.mrsp.encode import encode_frames_sp
    from lvr.mrsp.groups import sync_sp_grads
    from lvr.mrsp.sp import shard_sequence, sp_sequence_logprobs, unshard_sequence
    from lvr.train.sequences import PromptEntry, build_batch, sequence_logprobs

    model.zero_grad(set_to_none=True)
    ts = [0.5 * i for i in range(len(f))]
    emb = encode_frames_sp(model, f, sp) if use_sp else model.encode_frames(f)
    layout = model.video_layout(len(f), f.shape[1:3], ts)
    prompts = {}
    questions = [("What colour comes first?", ["red", "green", "blue", "yellow"]),
                 ("Which of these events happens right after the longest scene of the whole video?",
                  ["a dog runs", "a car stops at the light", "nothing", "the chef opens the door"])]
    for qa_id, (q, opts) in enumerate(questions):
        with torch.no_grad():
            inp = model.build_inputs(build_messages(q, opts), emb.detach(), layout=layout, add_generation_prompt=True)
        pos = inp.position_ids[:, 0] if inp.position_ids.dim() == 3 else inp.position_ids[0]
        prompts[qa_id] = PromptEntry(qa_id, "v", inp.input_ids[0], pos, inp.inputs_embeds[0])
    g = torch.Generator().manual_seed(3)
    vocab = model.input_embeddings.weight.shape[0]
    responses = [torch.randint(5, vocab - 5, (7,), generator=g).tolist(),
                 torch.randint(5, vocab - 5, (3,), generator=g).tolist()]
    b = build_batch(model, responses, [0, 1], prompts, {"v": emb})
    if use_sp:
        lp = sp_sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                                  response_ids=b.response_ids, attention_mask=b.attention_mask, sp=sp)
    else:
        lp = sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                               response_ids=b.response_ids, attention_mask=b.attention_mask)
    adv = torch.tensor([1.0, -0.5])
    mask = b.response_mask.float()
    loss = -((lp.logps * adv[:, None]).sum(-1) / mask.sum(-1)).mean()
    loss.backward()
    if use_sp:
        sync_sp_grads(model, sp)
    if split_out is not None:  # the token-level split, checked against the unsplit sequence
        from lvr.model import next_positions

        e = prompts[1]  # the longer prompt, followed by its response: one full training sequence
        resp = torch.tensor(responses[1]).unsqueeze(0)
        ids = torch.cat([e.input_ids.unsqueeze(0), resp], 1)
        seq = ids.shape[1]
        shard = shard_sequence(ids, sp.size, sp.rank, dim=1, pad_value=-1)
        ppos = e.position_ids.unsqueeze(-2)
        pos = torch.cat([ppos, next_positions(ppos, None, resp.shape[1])], -1)
        pshard = shard_sequence(pos, sp.size, sp.rank, dim=-1)
        got_ids = [torch.empty_like(shard) for _ in range(sp.size)]
        got_pos = [torch.empty_like(pshard) for _ in range(sp.size)]
        dist.all_gather(got_ids, shard.contiguous())
        dist.all_gather(got_pos, pshard.contiguous())
        vid = model.video_token_id
        last_video = int((ids[0] == vid).nonzero().max())
        split_out.update(seq_len=seq, ids_equal=bool(torch.equal(unshard_sequence(got_ids, seq, 1), ids)),
                         pos_equal=bool(torch.equal(unshard_sequence(got_pos, seq, -1), pos)),
                         text_after_video=seq - 1 - last_video,
                         video_tokens_per_rank=[int((s == vid).sum()) for s in got_ids])
    return loss.detach(), lp.logps.detach(), grads(model)


def stage2(model, n_frames: int, sp, out: dict, name: str) -> None:
    f = frames(n_frames, seed=7)
    split: dict = {}
    loss1, lp1, g1 = grpo_pass(model, f, sp, use_sp=False)
    loss2, lp2, g2 = grpo_pass(model, f, sp, use_sp=True, split_out=split)
    out[name] = {"loss": abs(float(loss1 - loss2)), "logps": float((lp1 - lp2).abs().max()),
                 "logps_scale": float(lp1.abs().max()), "grads": max_diff(g2, g1),
                 "vision_grads": max_diff({k: v for k, v in g2.items() if "vision" in k or "visual" in k},
                                          {k: v for k, v in g1.items() if "vision" in k or "visual" in k}),
                 "split": split}


class FakeFrames:
    """The `VideoFrames` interface over in-memory frames (spec key, item key, sampling)."""

    class Spec:
        def key(self) -> str:
            return "exact|n=9"

    def __init__(self, f):
        self.f, self.calls = f, 0

    def spec(self, item):
        return self.Spec()

    def key(self, item):
        return f"{item.sha256}:{self.Spec().key()}"

    def __call__(self, item):
        from lvr.video import SampledFrames

        self.calls += 1
        return SampledFrames(frames=self.f, indices=list(range(len(self.f))),
                             timestamps=[0.5 * i for i in range(len(self.f))])


def embedder_sp(model, sp, out: dict, cache_dir: Path) -> None:
    """CachedVideoEmbedder over an SP group: Stage-1 encoding on a miss, one writer, both ranks hit."""
    import copy
    from types import SimpleNamespace

    from lvr.mrsp.embedder import CachedVideoEmbedder

    m = copy.deepcopy(model)
    for name, p in m.named_parameters():
        p.requires_grad_(not name.startswith(("vision_tower.", "projector.")))
    f = frames(9, seed=11)
    item = SimpleNamespace(sha256="cd" * 32, qa_id=1)
    src = FakeFrames(f)
    emb = CachedVideoEmbedder(m, src, cache_dir=cache_dir, sp=sp)
    put = emb.cache.disk.put

    def slow_put(*args, **kwargs):       # a slow disk on the writer: the other rank must still find the file
        time.sleep(0.5)
        return put(*args, **kwargs)

    emb.cache.disk.put = slow_put
    first = emb(item)
    with torch.no_grad():
        ref = m.encode_frames(f)
    emb.new_step()
    second = CachedVideoEmbedder(m, src, cache_dir=cache_dir, sp=sp)(item)
    out["embedder_sp"] = {"sources": [first.source, second.source], "decodes": src.calls,
                          "embeds": float((first.embeds - ref).abs().max()),
                          "disk_equal": bool(torch.equal(second.embeds, first.embeds)),
                          "files": len(list(cache_dir.glob("*/*/*.safetensors")))}


def sp_rollout(model, sp, out: dict) -> None:
    """SPRollout: the group splits G=3 samples; every rank gets the same full, renumbered list."""
    from lvr.model import build_messages
    from lvr.mrsp.rollout import RolloutRequest, SamplingParams, TransformersRollout
    from lvr.mrsp.sp_rollout import SPRollout

    with torch.no_grad():
        inp = model.prepare(frames(2), build_messages("What first?", ["a", "b", "c", "d"]),
                            timestamps=[0.0, 1.0], add_generation_prompt=True)
    reqs = [RolloutRequest(qa_id=k, group_id=f"g{k}", prompt_embeds=inp.inputs_embeds[0],
                           position_ids=inp.position_ids[0]) for k in (7, 3)]
    samples = SPRollout(TransformersRollout(model), sp).generate(
        reqs, SamplingParams(n=3, temperature=1.0, top_p=1.0, max_new_tokens=6))
    mine = [(s.qa_id, s.group_id, s.sample_index, s.token_ids) for s in samples]
    every: list = [None] * sp.size
    dist.all_gather_object(every, mine, group=sp.group)
    out["sp_rollout"] = {"ids": [(q, g, k) for q, g, k, _ in mine], "same_on_all_ranks": all(e == mine for e in every),
                         "distinct": len({tuple(t) for *_, t in mine})}


def main() -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    from lvr.model import build_tiny
    from lvr.mrsp.groups import init_sp_groups

    sp = init_sp_groups(2)
    out: dict = {"world": dist.get_world_size()}
    comp = synced(build_tiny("composite", seed=0))
    pooled = build_tiny("composite", seed=0)                    # one video token per frame (projector frame_merge)
    pooled.projector.set_frame_merge("linear")
    torch.nn.init.normal_(pooled.projector.merge.weight, std=0.02)   # a trained merge, not the mean it starts as
    pooled = synced(pooled)
    qwen = synced(build_tiny("qwen2_5_vl", seed=0))
    qwen3 = synced(build_tiny("qwen3_vl", seed=0))
    for m in (comp, pooled, qwen, qwen3):
        m.eval()
        for p in m.parameters():
            p.requires_grad_(True)
    (Path(sys.argv[1]).parent / "embeds").mkdir(exist_ok=True)
    stage1(comp, 7, sp, out, "stage1_composite_7")
    stage1(comp, 1, sp, out, "stage1_composite_1")
    stage1(pooled, 7, sp, out, "stage1_pooled_7")
    stage1(qwen, 5, sp, out, "stage1_qwen_5")
    stage1(qwen3, 5, sp, out, "stage1_qwen3_5")
    stage2(comp, 13, sp, out, "stage2_composite")
    stage2(pooled, 14, sp, out, "stage2_pooled")      # one token per frame: 14 frames give an odd length
    stage2(qwen, 19, sp, out, "stage2_qwen")
    stage2(qwen3, 19, sp, out, "stage2_qwen3")
    embedder_sp(comp, sp, out, Path(sys.argv[1]).parent / "embeds")
    sp_rollout(comp, sp, out)
    if dist.get_rank() == 0:
        Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()

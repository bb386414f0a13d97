"""7B-shaped models on one GPU: one SFT step and one GRPO step (embedding cache off / on) per frame count.

    .venv/bin/python bench/mrsp.py --gpu-7b                 # both models, frames 16,64,128 (≤ 8 min on one H100)
    .venv/bin/python bench/mrsp.py --gpu-7b --frames 16 --models composite

The models are built from configs/models/*.yaml with random weights in bf16 on the GPU (no download);
the tokenizer is the tiny offline one, its special-token ids written into the configs. Each step runs
the project's code: SFT = lvr.train.sft.sft_inputs + lm_loss + backward; GRPO = the MR-SP embedder
(`CachedVideoEmbedder`, `reuse=False` is the re-encode-every-pass baseline) → build_prompt →
TransformersRollout (G samples of R tokens) → build_batch → sequence_logprobs (reference pass, then the
policy pass with backward) → SGD on the LM (AdamW's fp32 states of 7.6 B parameters do not fit next to
the model on one 80 GB GPU; the vision tower and projector are frozen, the RL default). Gradient
checkpointing is on, as in the 7B stage configs. Per point, one JSON line: step time and its split,
encodes, the measured vision-encode share f of the baseline step, the cache's Amdahl bound
1 / ((1 - f) + f / k) (k = encodes per baseline step), the measured speed-up, and peak GPU memory
(torch.cuda.max_memory_allocated) of the SFT and of the cached GRPO step.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPECS = {"composite": "composite_siglip_qwen2_5_7b.yaml", "qwen2_5_vl": "qwen2_5_vl_7b.yaml"}
FRAME_SIZE = {"composite": (384, 384), "qwen2_5_vl": (448, 448)}


def build_7b(kind: str, device: str = "cuda", dtype=torch.bfloat16):
    """A random-init 7B-shaped model from its spec, with the tiny offline tokenizer wired in."""
    from dataclasses import replace

    from lvr.model import build_from_spec, read_model_spec
    from lvr.model.tokenizer import train_tiny_tokenizer

    spec = read_model_spec(ROOT / "configs" / "models" / SPECS[kind])
    tok = train_tiny_tokenizer("composite" if kind == "composite" else "qwen2_5_vl")
    ids = {"eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"), "pad_token_id": tok.pad_token_id}
    if kind == "composite":
        spec = replace(spec, llm=dict(spec.llm, **ids))
    else:
        marks = {"video_token_id": "<|video_pad|>", "image_token_id": "<|image_pad|>",
                 "vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>"}
        hf = dict(spec.hf_config, **{k: tok.convert_tokens_to_ids(v) for k, v in marks.items()})
        hf["text_config"] = dict(hf["text_config"], **ids)
        spec = replace(spec, hf_config=hf)
    torch.manual_seed(0)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = build_from_spec(spec, tokenizer=tok)
    finally:
        torch.set_default_dtype(prev)
    model = model.to(device=device, dtype=dtype)
    for name, p in model.named_parameters():      # the LM trains, the encoder is frozen (RL default)
        p.requires_grad_(not (name.startswith(("vision_tower.", "projector.")) or ".visual." in f".{name}"))
    model.causal_lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def _frames(n: int, size: tuple[int, int]) -> np.ndarray:
    rng = np.random.RandomState(n)
    base = rng.randint(0, 256, (n, size[0] // 16 + 1, size[1] // 16 + 1, 3)).astype(np.uint8)
    return np.repeat(np.repeat(base, 16, axis=1), 16, axis=2)[:, :size[0], :size[1]].copy()


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gb() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if torch.cuda.is_available() else None


def sft_step(model, source, item, lr: float = 1e-6) -> dict:
    from lvr.train.sft import lm_loss, sft_inputs

    _reset_peak()
    t0 = time.perf_counter()
    model.train()
    inputs = sft_inputs(model, [item], source, think=True, encoder_grad=False, max_length=None)
    loss, n_tok, _ = lm_loss(model, inputs)
    loss.backward()
    _sgd(model, lr)
    _sync()
    return {"sft_s": round(time.perf_counter() - t0, 3), "sft_loss": float(loss.detach()),
            "sft_seq_len": int(inputs.seq_len), "sft_peak_gb": _peak_gb()}


def _sgd(model, lr: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.add_(p.grad, alpha=-lr)
                p.grad = None


def grpo_step(model, source, item, *, cache: bool, G: int = 4, R: int = 16, micro: int = 2,
              lr: float = 1e-6) -> dict:
    """One GRPO step through the trainer's pieces; `cache=False` re-encodes the video for every pass."""
    from lvr.mrsp.embedder import CachedVideoEmbedder
    from lvr.mrsp.rollout import RolloutRequest, SamplingParams, TransformersRollout
    from lvr.train.sequences import build_batch, build_prompt, sequence_logprobs

    _reset_peak()
    emb = CachedVideoEmbedder(model, source, persistent=False, reuse=cache)
    t0 = time.perf_counter()
    emb.new_step()
    model.eval()
    ve = emb(item)
    prompt = build_prompt(model, item, ve, think=True)
    req = RolloutRequest(qa_id=item.qa_id, group_id="g0", prompt_embeds=prompt.inputs_embeds,
                         position_ids=prompt.position_ids)
    samples = TransformersRollout(model).generate([req], SamplingParams(n=G, temperature=1.0, top_p=0.99,
                                                                       max_new_tokens=R, stop_at_answer=False))
    _sync()
    t1 = time.perf_counter()
    rows = [list(range(i, min(i + micro, G))) for i in range(0, G, micro)]
    pad = model.tokenizer.pad_token_id or 0

    def batch(idx):
        return build_batch(model, [samples[i].token_ids for i in idx], [item.qa_id] * len(idx),
                           {item.qa_id: prompt}, {ve.key: emb(item).embeds}, pad_id=pad)

    with torch.no_grad():
        ref = [sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask, response_ids=b.response_ids,
                                 attention_mask=b.attention_mask).logps for b in map(batch, rows)]
    _sync()
    t2 = time.perf_counter()
    model.train()
    adv = torch.linspace(-1, 1, G)
    for j, idx in enumerate(rows):
        b = batch(idx)
        lp = sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask, response_ids=b.response_ids,
                               attention_mask=b.attention_mask).logps
        a = adv[idx].to(lp.device)[:, None]
        loss = -(torch.exp(lp - ref[j]) * a * b.response_mask).sum() / b.response_mask.sum() / len(rows)
        loss.backward()
    _sgd(model, lr)
    _sync()
    t3 = time.perf_counter()
    st = emb.stats()
    return {"step_s": round(t3 - t0, 3), "rollout_s": round(t1 - t0, 3), "logprob_s": round(t2 - t1, 3),
            "update_s": round(t3 - t2, 3), "encode_s": round(st["embeds/encode_s"], 3),
            "encodes": int(st["embeds/misses"]), "prompt_len": int(prompt.input_ids.shape[0]), "peak_gb": _peak_gb()}


def run_model(kind: str, model, frames: list[int], *, G: int = 4, R: int = 16, out=print) -> list[dict]:
    """SFT + GRPO (baseline, cache) per frame count; one JSON line per frame count via `out`."""
    from lvr.train.parity import _Frames, _item

    rows = []
    size = FRAME_SIZE.get(kind, (64, 64))
    for n in frames:
        f = _frames(n, size)
        source, item = _Frames(f, [0.5 * i for i in range(n)]), _item(f)
        row = {"bench": "mrsp_gpu_7b", "model": kind, "frames": n, "G": G, "R": R}
        try:
            row.update(sft_step(model, source, item))
            base = grpo_step(model, source, item, cache=False, G=G, R=R)
            cached = grpo_step(model, source, item, cache=True, G=G, R=R)
        except torch.cuda.OutOfMemoryError as e:   # a frame count that does not fit is a result too
            row["oom"] = str(e).splitlines()[0][:160]
            model.zero_grad(set_to_none=True)
            out(json.dumps(row))
            rows.append(row)
            break
        f_share = base["encode_s"] / base["step_s"]
        k = max(base["encodes"], 1)
        bound = 1 / ((1 - f_share) + f_share / k)
        row.update({f"baseline_{k2}": v for k2, v in base.items()})
        row.update({f"cache_{k2}": v for k2, v in cached.items()})
        row.update(encode_share=round(f_share, 4), amdahl_bound=round(bound, 3),
                   cache_speedup=round(base["step_s"] / cached["step_s"], 3))
        out(json.dumps(row))
        rows.append(row)
    return rows


def main(frames: list[int], models: list[str], G: int = 4, R: int = 16) -> int:
    if not torch.cuda.is_available():
        print("--gpu-7b needs a CUDA GPU (7B-shaped models in bf16)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    for kind in models:
        tb = time.perf_counter()
        model = build_7b(kind)
        counts = model.parameter_counts()
        print(json.dumps({"bench": "mrsp_gpu_7b", "model": kind, "built_s": round(time.perf_counter() - tb, 1),
                          "parameters": counts, "device": torch.cuda.get_device_name()}), flush=True)
        run_model(kind, model, frames[:1], G=G, R=R, out=lambda s: None)     # warm-up (kernels, allocator)
        run_model(kind, model, frames, G=G, R=R, out=lambda s: print(s, flush=True))
        del model
        torch.cuda.empty_cache()
    print(json.dumps({"bench": "mrsp_gpu_7b", "total_s": round(time.perf_counter() - t0, 1)}), flush=True)
    return 0

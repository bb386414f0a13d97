"""Benchmark MR-SP on one GRPO step: no cache (baseline) vs embedding cache vs cache + SP=2.

    .venv/bin/python bench/mrsp.py                      # frames 32..128 on CPU, ..512 on GPU (+ SP=2 beyond)
    .venv/bin/python bench/mrsp.py --frames 32,64 --quick
    .venv/bin/python bench/mrsp.py --gpu-7b             # 7B-shaped composite + Qwen2.5-VL, one GPU (bench/gpu7b.py)

One GRPO step = G rollouts (G generate calls from the prompt embeddings, R new tokens each) +
reference log-probs (no grad) + policy log-probs with backward + AdamW step on the LM (vision
tower and projector frozen, the RL default), in micro-batches of `--micro` rows. Modes:
  baseline   no cache, no SP: the video is re-encoded for every pass (each rollout, each
             micro-batch of the reference and of the policy pass): G + 2·G/micro encodes;
  cache      the step memo: one encode per video per step, reused by every pass;
  cache_sp2  cache + MR-SP with 2 processes (gloo): Stage-1 frame-sharded encode, the G
             rollouts split over the 2 ranks, Stage-2 Ulysses log-probs and backward.
Per point: step time and its split (encode / rollout / logprobs / update), encodes per step,
peak memory per rank (peak RSS, and the step's working memory = peak RSS during the step minus
RSS before it, which is what activations and sequence length drive), the cache's Amdahl bound
from the MEASURED encode share f of the baseline step, 1 / ((1 - f) + f / k) with k = encodes
per baseline step, and how close the cache gets to it. One JSON line per point, then a summary
line with the targets: cache ≥ 2.1× baseline at the largest frame count and ≥ 90 % of its
Amdahl bound; SP=2 step memory per rank ≤ 0.6× SP=1 at equal frames; the largest frame count
under a fixed memory cap (SP=1's step memory at its largest frame count) ≥ 1.8× SP=1's.
On CPU, times are ratios within this run (other processes share the cores); on GPU memory is
torch.cuda.max_memory_allocated.

Model: a composite (SigLIP vision tower → pool → MLP → Qwen2 LM) whose per-frame vision:LM
cost ratio mirrors the 7B composite, both scaled down by the same factor (~10^4 in FLOPs):
  7B:    SigLIP-so400m ≈ 0.40 B params × 729 patches/frame → 2·0.40e9·729 ≈ 5.8e11 FLOP/frame;
         Qwen2-7B ≈ 7.0 B non-embedding params × 196 tokens/frame → 2·7.0e9·196 ≈ 2.7e12 FLOP/frame;
         vision : LM ≈ 0.21 per forward pass (the LM's attention over the growing context is extra).
  bench: SigLIP hidden 128 × 2 layers (+ patch embedding) ≈ 0.47 M params × 64 patches (112 px,
         patch 14) → ≈ 6.0e7 FLOP/frame; Qwen2 hidden 256 × 8 layers ≈ 6.3 M params × 16 tokens
         (8×8 patches pooled 4×4) → ≈ 2.0e8 FLOP/frame; vision : LM ≈ 0.30 per forward pass,
         patches : LM tokens = 4.0 (7B: 3.7).
With that ratio an encode is a small part of a step (the LM runs G prefills, a reference pass
and a forward+backward over the same video tokens), so the Amdahl bound of caching is well
below 2.1× for a frozen encoder; the summary states the bound next to the target.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable

VISION = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=2, num_attention_heads=2, image_size=112,
              patch_size=14, vision_use_head=False)
LM = dict(vocab_size=2048, hidden_size=256, intermediate_size=768, num_hidden_layers=8, num_attention_heads=4,
          num_key_value_heads=2, max_position_embeddings=32768, tie_word_embeddings=False)
POOL = 4
PREFIX, SUFFIX = 48, 32          # text tokens before and after the video


# ---------------------------------------------------------------------------------------- memory
def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> float:
    """Return freed heap to the OS, reset the peak-RSS mark (Linux clear_refs 5); returns RSS now."""
    import torch

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    Path("/proc/self/clear_refs").write_text("5")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    return rss_mb()


def peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return hwm_mb()


# ---------------------------------------------------------------------------------------- model
def build_model(seed: int = 0):
    import torch
    from transformers import Qwen2Config, SiglipVisionConfig

    from lvr.model import CompositeOptions, CompositeVideoLM

    torch.manual_seed(seed)
    m = CompositeVideoLM.from_configs(SiglipVisionConfig(**VISION), Qwen2Config(**LM), {"pool_size": POOL},
                                      CompositeOptions(timestamp_text=False, encode_batch_size=16))
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    m = m.to(dev).float()
    for name, p in m.named_parameters():
        p.requires_grad_(name.startswith("llm."))
    return m.eval()


def flop_model() -> dict:
    """Per-frame forward FLOPs of the bench model (2·params·tokens, linear layers only)."""
    v = VISION
    vis = v["num_hidden_layers"] * (4 * v["hidden_size"] ** 2 + 2 * v["hidden_size"] * v["intermediate_size"])
    vis += 3 * v["patch_size"] ** 2 * v["hidden_size"]
    patches = (v["image_size"] // v["patch_size"]) ** 2
    h, kv = LM["hidden_size"], LM["hidden_size"] * LM["num_key_value_heads"] // LM["num_attention_heads"]
    lm = LM["num_hidden_layers"] * (2 * h * h + 2 * h * kv + 3 * h * LM["intermediate_size"])
    tokens = POOL * POOL
    return {"vision_flop_per_frame": 2 * vis * patches, "lm_flop_per_frame": 2 * lm * tokens,
            "vision_to_lm": round(vis * patches / (lm * tokens), 3), "ref_7b_vision_to_lm": round(5.8e11 / 2.7e12, 3)}


# ---------------------------------------------------------------------------------------- one step
class Step:
    def __init__(self, model, frames, args, sp, mode: str):
        import torch

        self.m, self.frames, self.args, self.sp, self.mode = model, frames, args, sp, mode
        g = torch.Generator().manual_seed(1)
        dev = model.device
        self.prefix = torch.randint(10, LM["vocab_size"], (PREFIX,), generator=g).to(dev)
        self.suffix = torch.randint(10, LM["vocab_size"], (SUFFIX,), generator=g).to(dev)
        self.opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        self.encodes, self.encode_s = 0, 0.0
        self.memo = None

    def video(self):
        import torch

        if self.mode != "baseline" and self.memo is not None:
            return self.memo
        t = time.perf_counter()
        with torch.no_grad():
            if self.sp.size > 1:
                from lvr.mrsp.encode import encode_frames_sp

                e = encode_frames_sp(self.m, self.frames, self.sp)
            else:
                e = self.m.encode_frames(self.frames)
        self.encode_s += time.perf_counter() - t
        self.encodes += 1
        self.memo = e
        return e

    def prompt(self, video):
        import torch

        emb = self.m.input_embeddings
        with torch.no_grad():
            return torch.cat([emb(self.prefix), video, emb(self.suffix)], 0)

    def logprobs(self, video, responses, *, grad: bool):
        import torch

        from lvr.mrsp.sp import sp_sequence_logprobs

        p = self.prompt(video)
        resp = torch.tensor(responses, device=p.device)
        b, r = resp.shape
        embeds = torch.cat([p.unsqueeze(0).expand(b, -1, -1), self.m.input_embeddings(resp)], 1)
        pos = torch.arange(embeds.shape[1], device=p.device).expand(b, -1)
        with torch.set_grad_enabled(grad):
            return sp_sequence_logprobs(self.m, embeds, pos, torch.ones_like(resp), response_ids=resp,
                                        sp=self.sp).logps

    def rollouts(self) -> list[list[int]]:
        import torch

        from lvr.mrsp.sp_rollout import split_counts

        G, R = self.args.G, self.args.R
        mine = split_counts(G, self.sp.size)[self.sp.rank]
        out = []
        for _ in range(mine):
            p = self.prompt(self.video())
            with torch.no_grad():
                ids = self.m.llm.generate(inputs_embeds=p.unsqueeze(0), attention_mask=torch.ones(1, p.shape[0],
                                          dtype=torch.long, device=p.device), max_new_tokens=R, min_new_tokens=R,
                                          do_sample=True, top_p=0.99, top_k=0, pad_token_id=0)
            out.append(ids[0].tolist())
        if self.sp.size > 1:
            import torch.distributed as dist

            parts = [None] * self.sp.size
            dist.all_gather_object(parts, out, group=self.sp.group)
            out = [x for part in parts for x in part]
        return out

    def run(self) -> dict:
        import torch

        from lvr.mrsp.groups import sync_sp_grads

        self.memo, self.encodes, self.encode_s = None, 0, 0.0
        t0 = time.perf_counter()
        responses = self.rollouts()
        t1 = time.perf_counter()
        micro = [responses[i:i + self.args.micro] for i in range(0, len(responses), self.args.micro)]
        ref = [self.logprobs(self.video(), mb, grad=False) for mb in micro]
        t2 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        adv = torch.linspace(-1, 1, len(responses))
        for j, mb in enumerate(micro):
            lp = self.logprobs(self.video(), mb, grad=True)
            a = adv[j * self.args.micro:(j + 1) * self.args.micro].to(lp.device)
            loss = -(torch.exp(lp - ref[j]) * a[:, None]).mean() / len(micro)
            loss.backward()
        sync_sp_grads(self.m, self.sp)
        self.opt.step()
        t3 = time.perf_counter()
        return {"step_s": t3 - t0, "rollout_s": t1 - t0, "logprob_s": t2 - t1, "update_s": t3 - t2,
                "encode_s": self.encode_s, "encodes": self.encodes}


def worker(args) -> None:
    """One process (SP=1: baseline and cache interleaved) or one of the 2 SP ranks (cache_sp2):
    every frame count in ascending order, a JSON line per (mode, frames)."""
    import numpy as np
    import torch

    from lvr.mrsp.groups import SPGroup, init_sp_groups

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    sp = SPGroup.single()
    modes = ["baseline", "cache"]
    if args.worker == "cache_sp2":
        import torch.distributed as dist

        from lvr.mrsp.ulysses import enable_ulysses

        dist.init_process_group("gloo")
        sp = init_sp_groups(2)
        modes = ["cache_sp2"]
    m = build_model()
    if sp.size > 1:
        enable_ulysses(m)
    rng = np.random.RandomState(0)
    for n in sorted(int(x) for x in args.frames.split(",")):
        frames = rng.randint(0, 256, (n, VISION["image_size"], VISION["image_size"], 3)).astype(np.uint8)
        steps = {mode: Step(m, frames, args, sp, "baseline" if mode == "baseline" else "cache") for mode in modes}
        if args.warmup:
            steps[modes[-1]].run()
        best: dict = {}
        mem: dict = {}
        for _ in range(args.repeat):     # modes interleaved, so load from other processes hits them alike
            for mode, step in steps.items():
                base = reset_peak()
                r = step.run()
                peak = peak_mb()
                mem[mode] = (base, max(peak, mem.get(mode, (0, 0))[1]))
                if mode not in best or r["step_s"] < best[mode]["step_s"]:
                    best[mode] = r
        for mode in modes:
            base, peak = mem[mode]
            row = dict(best[mode], frames=n, mode=mode, rss_before_mb=round(base, 1), peak_rss_mb=round(peak, 1),
                       step_mem_mb=round(peak - base, 1), seq_len=PREFIX + SUFFIX + n * POOL * POOL + args.R)
            if sp.size > 1:
                import torch.distributed as dist

                rows = [None] * sp.size
                dist.all_gather_object(rows, row)
                if sp.rank != 0:
                    continue
                row["per_rank_step_mem_mb"] = [r["step_mem_mb"] for r in rows]
                row["per_rank_peak_rss_mb"] = [r["peak_rss_mb"] for r in rows]
                row["step_mem_mb"] = max(row["per_rank_step_mem_mb"])
                row["peak_rss_mb"] = max(row["per_rank_peak_rss_mb"])
                row["step_s"] = max(r["step_s"] for r in rows)
            print(json.dumps(row), flush=True)
    if sp.size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------- driver
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(mode: str, frames: list[int], args) -> list[dict]:
    common = ["--frames", ",".join(map(str, frames)), "--G", str(args.G), "--R", str(args.R), "--micro",
              str(args.micro), "--repeat", str(args.repeat)] + ([] if args.warmup else ["--no-warmup"])
    # glibc's dynamic mmap threshold would keep freed activation buffers in the heap, so peak RSS
    # would measure fragmentation rather than need: a fixed threshold maps large tensors and
    # returns them on free (applied to every mode alike; it costs some page-fault time)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false",
               MALLOC_MMAP_THRESHOLD_="65536")
    if mode == "cache_sp2":
        cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
               str(Path(__file__).resolve()), "--worker", mode] + common
        env["OMP_NUM_THREADS"] = str(max(1, args.threads // 2))
    else:
        cmd = [PY, str(Path(__file__).resolve()), "--worker", mode] + common
    t = time.perf_counter()
    print(f"# {mode}: frames {frames} …", file=sys.stderr, flush=True)
    # the worker's raw rows are echoed to stderr as they come, so a run cut short still leaves its points
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    rows = []
    for line in proc.stdout:
        if line.startswith("{"):
            rows.append(json.loads(line))
            print(f"# raw {line.strip()}", file=sys.stderr, flush=True)
    if proc.wait():
        err.seek(0)
        raise RuntimeError(f"{mode} worker failed ({proc.returncode}):\n{err.read()[-4000:]}")
    print(f"# {mode}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return rows


def summarize(rows: dict[str, dict[int, dict]], frames: list[int], sp_extra: list[int]) -> tuple[list[dict], dict]:
    lines = []
    for n in frames:
        b, c, s = rows["baseline"][n], rows["cache"][n], rows["cache_sp2"][n]
        f = b["encode_s"] / b["step_s"]
        k = b["encodes"]
        bound = 1 / ((1 - f) + f / k)
        speed = b["step_s"] / c["step_s"]
        for mode, r in (("baseline", b), ("cache", c), ("cache_sp2", s)):
            out = {"bench": "mrsp", "frames": n, "mode": mode, **{x: r[x] for x in (
                "step_s", "encode_s", "rollout_s", "logprob_s", "update_s", "encodes", "seq_len", "peak_rss_mb",
                "step_mem_mb")}, "speedup_vs_baseline": round(b["step_s"] / r["step_s"], 3)}
            if mode == "cache":
                out.update(encode_share_baseline=round(f, 4), amdahl_bound=round(bound, 3),
                           frac_of_bound=round(speed / bound, 3))
            if mode == "cache_sp2":
                out.update(per_rank_step_mem_mb=r["per_rank_step_mem_mb"],
                           mem_ratio_vs_sp1=round(r["step_mem_mb"] / c["step_mem_mb"], 3))
            lines.append(out)
    for n in sp_extra:
        r = rows["cache_sp2"][n]
        lines.append({"bench": "mrsp", "frames": n, "mode": "cache_sp2", "step_s": r["step_s"], "seq_len": r["seq_len"],
                      "step_mem_mb": r["step_mem_mb"], "per_rank_step_mem_mb": r["per_rank_step_mem_mb"],
                      "note": "beyond SP=1's largest frame count (memory-cap probe)"})
    top = frames[-1]
    cache_top = next(x for x in lines if x["frames"] == top and x["mode"] == "cache")
    cap = rows["cache"][top]["step_mem_mb"]
    fits = [n for n, r in rows["cache_sp2"].items() if r["step_mem_mb"] <= cap]
    mem_ratios = [x["mem_ratio_vs_sp1"] for x in lines if "mem_ratio_vs_sp1" in x]
    summary = {"bench": "mrsp", "summary": True, "flops": flop_model(),
               "cache_speedup_at_max_frames": cache_top["speedup_vs_baseline"],
               "amdahl_bound_at_max_frames": cache_top["amdahl_bound"],
               "frac_of_bound_at_max_frames": cache_top["frac_of_bound"],
               "sp2_mem_ratio_by_frames": dict(zip(frames, mem_ratios)),
               "memory_cap_mb": cap, "sp1_max_frames_under_cap": top,
               "sp2_max_frames_under_cap": max(fits) if fits else None,
               "targets": {
                   "cache_ge_2.1x": cache_top["speedup_vs_baseline"] >= 2.1,
                   "cache_ge_90pct_of_bound": cache_top["frac_of_bound"] >= 0.9,
                   "sp2_mem_le_0.6x": all(r <= 0.6 for r in mem_ratios),
                   "sp2_frames_under_cap_ge_1.8x": bool(fits) and max(fits) / top >= 1.8}}
    k = rows["baseline"][top]["encodes"]
    need = (1 - 1 / 2.1) / (1 - 1 / k)
    summary["encode_share_needed_for_2.1x"] = round(need, 3) if need <= 1 else None
    summary["encode_share_measured"] = cache_top["encode_share_baseline"]
    return lines, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default=None, help="frame counts (default: 32,64,128 on CPU, where one 2-core "
                    "machine needs ~10 min for them; 32,64,128,256,512 on a GPU)")
    ap.add_argument("--G", type=int, default=4, help="rollouts per prompt")
    ap.add_argument("--R", type=int, default=8, help="response tokens per rollout")
    ap.add_argument("--micro", type=int, default=2, help="rows per log-prob micro-batch")
    ap.add_argument("--repeat", type=int, default=2, help="timed steps per point and mode (best is kept)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the untimed first step per point (optimizer state, allocator warm-up)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads in total per mode")
    ap.add_argument("--quick", action="store_true", help="frames 16,32 (smoke run)")
    ap.add_argument("--gpu-7b", dest="gpu_7b", action="store_true",
                    help="7B-shaped composite and Qwen2.5-VL (random bf16) on one GPU: SFT step, GRPO step with and "
                    "without the embedding cache, encode share, Amdahl bound, peak memory (frames default 16,64,128)")
    ap.add_argument("--models", default="composite,qwen2_5_vl", help="--gpu-7b: which 7B-shaped models")
    ap.add_argument("--worker", choices=("sp1", "cache_sp2"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.gpu_7b:
        from gpu7b import main as gpu_main

        frames = [int(x) for x in (args.frames or "16,64,128").split(",")]
        return gpu_main(frames, args.models.split(","), G=args.G, R=args.R if args.R != 8 else 16)
    if args.worker:
        worker(args)
        return 0
    if args.quick:
        args.frames = "16,32"
    if args.frames is None:
        import torch

        args.frames = "32,64,128,256,512" if torch.cuda.is_available() else "32,64,128"
    frames = sorted(int(x) for x in args.frames.split(","))
    probe = math.ceil(frames[-1] * 1.8)
    sp_extra = [probe + probe % 2, frames[-1] * 2]   # SP=2 beyond SP=1's largest: the memory-cap probes
    rows: dict = {"baseline": {}, "cache": {}, "cache_sp2": {}}
    for r in launch("sp1", frames, args) + launch("cache_sp2", frames + sp_extra, args):
        rows[r["mode"]][r["frames"]] = r
    lines, summary = summarize(rows, frames, sp_extra)
    for line in lines:
        print(json.dumps(line))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

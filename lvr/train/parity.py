"""Rollout ≡ training parity: the inputs a rollout engine is fed equal those the training forward uses.

    rows = check_parity(model, frames, timestamps)     # list[ParityRow]; frames uint8 [N, H, W, 3]
    print(format_table(rows)); ok = all_passed(rows)
    # shell: lvr model check DIR [--frames 8] [--size 224x224] [--video FILE]

For one multiple-choice item on one set of frames it runs the project's real code paths, never a
re-implementation of them:
- SFT forward: `lvr.train.sft.sft_inputs` (encode_frames + build_inputs(train=True));
- GRPO: the MR-SP embedder (`lvr.mrsp.CachedVideoEmbedder`, as `MRSPRuntime` builds it) →
  `lvr.train.sequences.build_prompt` → a `RolloutRequest` (as `GRPOTrainer.step` builds it) →
  after the rollout, `build_batch` (the batch the old / reference / policy log-probs and the loss use);
- rollout: `TransformersRollout` (the `ModelInputs` it hands to `generate`, then one greedy sample),
  `VLLMRollout._prompt` (the `prompt_embeds` vLLM receives; adapters whose positions vLLM cannot take
  are refused by `VLLMRollout` itself, reported as n/a);
- SP prefill: `shard_sequence` / `unshard_sequence` of the training batch over 2 ranks.

Rows (each names what it compares): frames, video tokens, token ids, positions (prompt and
response), video embeddings, prompt embeddings, greedy tokens = argmax of the training logits,
vLLM prompt, SP split. Known peer defects it catches: rollouts on subsampled frames (Long-RL's
`max_frames_vllm`) and rollout prompts without the vision start/end tokens (ms-swift #9668).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from lvr.mrsp.embedder import CachedVideoEmbedder
from lvr.mrsp.rollout import RolloutRequest, SamplingParams, TransformersRollout
from lvr.mrsp.sp import shard_sequence, unshard_sequence
from lvr.mrsp.vllm_rollout import VLLMRollout  # vllm itself is imported only when an engine is built
from lvr.video import SampledFrames

from . import sequences as seq  # module attributes: tests swap build_prompt for a defective one
from . import sft as sft_mod
from .data import TrainItem

QUESTION = "Which event happens first in the video?"
OPTIONS = ("a robot enters the kitchen", "a door closes", "the light turns red", "nothing happens")
REASONING = "At the start a robot enters the kitchen; the door closes later."


@dataclass(frozen=True)
class ParityRow:
    name: str
    passed: bool | None          # None: not applicable to this adapter
    compared: str                # what against what
    detail: str


class _Spec:
    def __init__(self, n: int):
        self.n = n

    def key(self) -> str:
        return f"parity|n={self.n}"


class _Frames:
    """The `VideoFrames` interface over in-memory frames: every path asks it for the item's frames."""

    def __init__(self, frames: np.ndarray, timestamps: Sequence[float]):
        self.frames, self.timestamps = frames, [float(t) for t in timestamps]

    def spec(self, item):
        return _Spec(len(self.frames))

    def key(self, item) -> str:
        return f"{item.sha256}:{self.spec(item).key()}"

    def __call__(self, item):
        return SampledFrames(frames=self.frames, indices=list(range(len(self.frames))), timestamps=self.timestamps)


def _item(frames: np.ndarray):
    sha = hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()
    return TrainItem(qa_id=1, video_id="parity", video_path="", sha256=sha, category="temporal", question=QUESTION,
                     options=OPTIONS, answer="A", reasoning=REASONING)


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    if a.numel() == 0:
        return 0.0
    return float((a.float() - b.float()).abs().max())


def _tolerance(model) -> float:
    """Equal code on equal inputs is bit-exact on CPU; reduced precision may reorder sums on accelerators."""
    return 1e-5 if model.dtype == torch.float32 else 2e-2


@dataclass
class _Paths:
    """What each path produced for the item."""

    n_frames: int
    frame_size: tuple
    sft: object                  # ModelInputs (labels on the answer)
    prompt: object               # PromptEntry (GRPO)
    request: object              # RolloutRequest
    engine_inputs: object        # ModelInputs TransformersRollout hands to generate
    sample: object               # the greedy RolloutSample
    batch: object                # Batch (training log-prob forward)
    ve: object                   # the embedder's VideoEmbeddings


def _run_paths(model, frames: np.ndarray, timestamps: Sequence[float], max_new_tokens: int) -> _Paths:
    source = _Frames(frames, timestamps)
    item = _item(frames)
    sft = sft_mod.sft_inputs(model, [item], source, think=True, encoder_grad=False, max_length=None)
    embedder = CachedVideoEmbedder(model, source, persistent=False)
    embedder.new_step()
    ve = embedder(item)
    prompt = seq.build_prompt(model, item, ve, think=True)
    request = RolloutRequest(qa_id=item.qa_id, group_id="parity-g0", prompt_embeds=prompt.inputs_embeds,
                             position_ids=prompt.position_ids, input_ids=prompt.input_ids)
    engine = TransformersRollout(model)
    engine_inputs = engine._inputs(request)
    params = SamplingParams(n=1, temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens, stop_at_answer=False)
    sample = engine.generate([request], params)[0]
    batch = seq.build_batch(model, [sample.token_ids], [item.qa_id], {item.qa_id: prompt},
                            {ve.key: embedder(item).embeds}, pad_id=model.tokenizer.pad_token_id or 0)
    return _Paths(len(frames), tuple(frames.shape[1:3]), sft, prompt, request, engine_inputs, sample, batch, ve)


def _row_frames(model, p: _Paths) -> ParityRow:
    sft_layout, roll_layout = p.sft.layouts[0], p.ve.layout
    ok = sft_layout.num_frames == roll_layout.num_frames == p.n_frames and \
        sft_layout.timestamps == roll_layout.timestamps
    return ParityRow("frames", ok, "sampled → SFT layout → rollout layout",
                     f"{p.n_frames} → {sft_layout.num_frames} → {roll_layout.num_frames} frames"
                     + ("" if sft_layout.timestamps == roll_layout.timestamps else ", timestamps differ"))


def _row_video_tokens(model, p: _Paths) -> ParityRow:
    vid = model.video_token_id
    want = model.video_layout(p.n_frames, p.frame_size, p.sft.layouts[0].timestamps).num_tokens
    n_sft = int((p.sft.input_ids[0] == vid).sum())
    n_roll = int((p.prompt.input_ids == vid).sum())
    rows = int(p.ve.embeds.shape[0])
    return ParityRow("video tokens", n_sft == n_roll == want == rows,
                     "layout of all frames = SFT ids = rollout ids = embedder rows",
                     f"{want} = {n_sft} = {n_roll} = {rows}")


def _row_ids(model, p: _Paths) -> ParityRow:
    roll = p.prompt.input_ids.cpu()
    sft = p.sft.input_ids[0, :roll.shape[0]].cpu()
    ok = torch.equal(roll, sft)
    first = "" if ok else f", first difference at {int((roll != sft).nonzero()[0]) if roll.shape == sft.shape else 0}"
    return ParityRow("token ids", ok, "rollout prompt = SFT sequence prefix", f"{roll.shape[0]} tokens{first}")


def _prompt_pos(pos: torch.Tensor, p_len: int, width: int) -> torch.Tensor:
    """Positions of one row's last `p_len` prompt slots out of a left-padded prompt of `width`."""
    return pos[..., width - p_len:width]


def _row_positions(model, p: _Paths) -> ParityRow:
    b = p.batch
    p_len = int(p.prompt.input_ids.shape[0])
    width = b.inputs_embeds.shape[1] - b.response_ids.shape[1]
    row = (lambda t: t[:, 0]) if b.position_ids.dim() == 3 else (lambda t: t[0])
    engine = row(p.engine_inputs.position_ids).cpu()
    train = _prompt_pos(row(b.position_ids), p_len, width).cpu()
    sft_all = row(p.sft.position_ids).cpu()
    r = int(p.batch.response_mask.sum())
    resp_train = row(b.position_ids)[..., width:width + r].cpu()
    resp_sft = sft_all[..., p_len:p_len + r]
    d_prompt = max(_diff(engine, train), _diff(engine, sft_all[..., :p_len]))
    d_resp = _diff(resp_train, resp_sft) if resp_sft.shape[-1] == r else float("inf")
    kind = "M-RoPE [3, S]" if engine.dim() == 2 else "1-D"
    return ParityRow("positions", d_prompt == 0 and d_resp == 0,
                     "rollout engine = GRPO batch = SFT (prompt, then response)",
                     f"{kind}: prompt max|Δ| {d_prompt:g}, response ({r} tokens) max|Δ| {d_resp:g}")


def _video_rows(embeds: torch.Tensor, ids: torch.Tensor, vid: int) -> torch.Tensor:
    return embeds[ids == vid]


def _row_video_embeds(model, p: _Paths, frames: np.ndarray, tol: float) -> ParityRow:
    vid = model.video_token_id
    with torch.no_grad():
        direct = model.encode_frames(frames)
    roll = _video_rows(p.request.prompt_embeds, p.prompt.input_ids.to(p.request.prompt_embeds.device), vid)
    sft = _video_rows(p.sft.inputs_embeds[0], p.sft.input_ids[0], vid)
    width = p.batch.inputs_embeds.shape[1] - p.batch.response_ids.shape[1]
    p_len = int(p.prompt.input_ids.shape[0])
    train = p.batch.inputs_embeds[0, width - p_len:width][p.prompt.input_ids.to(p.batch.inputs_embeds.device) == vid]
    d = max(_diff(roll, direct.to(roll.dtype)), _diff(sft, direct.to(sft.dtype)), _diff(train, roll))
    return ParityRow("video embeddings", d <= tol, "rollout prompt = encode_frames(all frames) = SFT = GRPO batch",
                     f"{tuple(roll.shape)}, max|Δ| {d:.3g} (tol {tol:g})")


def _row_prompt_embeds(model, p: _Paths, tol: float) -> ParityRow:
    p_len = int(p.prompt.input_ids.shape[0])
    width = p.batch.inputs_embeds.shape[1] - p.batch.response_ids.shape[1]
    engine = p.engine_inputs.inputs_embeds[0]
    train = p.batch.inputs_embeds[0, width - p_len:width]
    sft = p.sft.inputs_embeds[0, :p_len]
    d = max(_diff(engine, train), _diff(engine, sft))
    return ParityRow("prompt embeddings", d <= tol, "rollout engine input = GRPO batch = SFT (every prompt slot)",
                     f"{p_len} x {engine.shape[-1]}, max|Δ| {d:.3g}")


def _row_greedy(model, p: _Paths, tol: float) -> ParityRow:
    b = p.batch
    r = int(b.response_mask.sum())
    width = b.inputs_embeds.shape[1] - b.response_ids.shape[1]
    with torch.no_grad():
        logits = model.lm_forward(b.inputs_embeds, b.position_ids, b.attention_mask)[0, width - 1:width - 1 + r]
    logits = logits.float()
    tokens = b.response_ids[0, :r]
    chosen = logits.gather(-1, tokens.view(-1, 1)).squeeze(-1)
    best = logits.max(-1).values
    gap = (best - chosen).clamp(min=0)
    ok_tokens = int((gap <= tol * max(1.0, float(best.abs().max()))).sum())
    return ParityRow("greedy tokens", ok_tokens == r, "rollout greedy sample = argmax of the training forward",
                     f"{ok_tokens}/{r} tokens, largest logit gap {float(gap.max()) if r else 0.0:.3g}")


def _row_vllm(model, p: _Paths, tol: float) -> ParityRow:
    if model.causal_lm is not getattr(model, "llm", None):
        try:
            VLLMRollout(model)
        except ValueError as e:
            return ParityRow("vLLM prompt", None, "prompt_embeds vLLM gets = rollout request",
                             f"n/a: VLLMRollout refuses this adapter ({type(e).__name__}); rollouts use transformers")
    engine = VLLMRollout.__new__(VLLMRollout)       # no engine: only its request → prompt conversion
    engine.hidden_size, engine.dtype = int(model.hidden_size), "float32" if model.dtype == torch.float32 else "bfloat16"
    try:
        got = engine._prompt(p.request)["prompt_embeds"]
    except ValueError as e:
        return ParityRow("vLLM prompt", False, "prompt_embeds vLLM gets = rollout request", str(e)[:120])
    d = _diff(got, p.request.prompt_embeds.detach().cpu().to(got.dtype))
    return ParityRow("vLLM prompt", d <= tol, "prompt_embeds vLLM gets = rollout request (positions 0..P-1 checked)",
                     f"{tuple(got.shape)}, max|Δ| {d:.3g}")


def _row_sp(model, p: _Paths) -> ParityRow:
    b, size = p.batch, 2
    seq_len = b.inputs_embeds.shape[1]
    emb = [shard_sequence(b.inputs_embeds, size, r, dim=1) for r in range(size)]
    pos = [shard_sequence(b.position_ids, size, r, dim=-1) for r in range(size)]
    ok = torch.equal(unshard_sequence(emb, seq_len, 1), b.inputs_embeds) and \
        torch.equal(unshard_sequence(pos, seq_len, -1), b.position_ids)
    return ParityRow("SP split", ok, "2 sequence shards, concatenated = the unsplit training batch",
                     f"{seq_len} tokens → {emb[0].shape[1]} per rank")


def check_parity(model, frames, timestamps: Sequence[float] | None = None, *, max_new_tokens: int = 8
                 ) -> list[ParityRow]:
    """Run every path on one item and compare (see module doc). The model's requires_grad flags are
    left as they were; it runs in eval mode."""
    frames = np.asarray(frames)
    if timestamps is None:
        timestamps = [float(i) for i in range(len(frames))]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    model.eval()
    try:
        for prm, _ in flags:
            prm.requires_grad_(False)
        with torch.no_grad():
            paths = _run_paths(model, frames, timestamps, max_new_tokens)
        tol = _tolerance(model)
        return [_row_frames(model, paths), _row_video_tokens(model, paths), _row_ids(model, paths),
                _row_positions(model, paths), _row_video_embeds(model, paths, frames, tol),
                _row_prompt_embeds(model, paths, tol), _row_greedy(model, paths, 1e-4 if tol < 1e-3 else tol),
                _row_vllm(model, paths, tol), _row_sp(model, paths)]
    finally:
        for prm, flag in flags:
            prm.requires_grad_(flag)
        model.train(was_training)


def all_passed(rows: Sequence[ParityRow]) -> bool:
    return all(r.passed is not False for r in rows)


def format_table(rows: Sequence[ParityRow]) -> str:
    """A short fixed-width pass/fail table."""
    mark = {True: "PASS", False: "FAIL", None: "n/a"}
    w1 = max(len(r.name) for r in rows)
    w2 = max(len(r.compared) for r in rows)
    lines = [f"{'check':<{w1}}  result  {'compares':<{w2}}  detail", "-" * (w1 + w2 + 26)]
    lines += [f"{r.name:<{w1}}  {mark[r.passed]:<6}  {r.compared:<{w2}}  {r.detail}" for r in rows]
    return "\n".join(lines)

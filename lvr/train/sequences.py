"""Prompt/response sequences for RL: prompts from video embeddings, batches, response log-probs.

    embedder = StepVideoEmbedder(model, VideoFrames(ws, num_frames=8))    # lvr.mrsp.embedder
    ve = embedder(item)                         # VideoEmbeddings(key, embeds [n_tok, d], layout); once per step
    prompt = build_prompt(model, item, ve, think=True)          # PromptEntry: ids, positions (the model's own)
    batch = build_batch(model, rows, prompts, videos)           # [left-padded prompt | right-padded response]
    lp = sequence_logprobs(model, batch.inputs_embeds, batch.position_ids, batch.response_mask,
                           response_ids=batch.response_ids, attention_mask=batch.attention_mask)

Everything that touches the LM for RL goes through `sequence_logprobs` (old, reference and
policy log-probs alike), so a sequence-parallel version can replace that one function.
Video embeddings come from a `lvr.mrsp.embedder.VideoEmbedder` (the plain per-step memo or MR-SP's
cache): within a step one encoding per (video, frame spec) serves the G rollouts, the
old/reference/policy passes and the backward. Rows carry explicit `qa_id`s; a batch looks prompts
and videos up by id, never by position.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from lvr.model import ModelInputs, lookback, next_positions
from lvr.model.prompting import build_messages
from lvr.mrsp.embedder import VideoEmbeddings

from .data import TrainItem
from .engine import gathered_embeddings


@dataclass
class PromptEntry:
    """One prompt as token ids + the model's own positions (video placeholders already expanded)."""

    qa_id: int
    video_key: str
    input_ids: torch.Tensor         # [P]
    position_ids: torch.Tensor      # [P] or [3, P]
    inputs_embeds: torch.Tensor     # [P, d] (no grad; what the rollout engine receives)

    def model_inputs(self) -> ModelInputs:
        """This prompt as a one-row ModelInputs (what `model.generate_ids` / `response_logprobs` take)."""
        return ModelInputs.one_row(self.inputs_embeds, self.position_ids, self.input_ids)


def build_prompt(model, item: TrainItem, ve: VideoEmbeddings, *, think: bool = True) -> PromptEntry:
    messages = build_messages(item.question, list(item.options), think=think, answer_format=model.answer_format)
    with torch.no_grad(), gathered_embeddings(model):
        inp = model.build_inputs(messages, ve.embeds, layout=ve.layout, add_generation_prompt=True)
    pos = inp.position_ids[:, 0] if inp.position_ids.dim() == 3 else inp.position_ids[0]
    return PromptEntry(item.qa_id, ve.key, inp.input_ids[0], pos, inp.inputs_embeds[0])


@dataclass
class Batch:
    inputs_embeds: torch.Tensor     # [B, P + R, d]
    position_ids: torch.Tensor      # [B, P + R] or [3, B, P + R]
    attention_mask: torch.Tensor    # [B, P + R]
    response_ids: torch.Tensor      # [B, R]
    response_mask: torch.Tensor     # [B, R]


def build_batch(model, responses: Sequence[Sequence[int]], qa_ids: Sequence[int],
                prompts: dict[int, PromptEntry], videos: dict[str, torch.Tensor], *, pad_id: int = 0,
                device=None) -> Batch:
    """Left-padded prompts + right-padded responses; text embeddings from the model's embedding
    table (with autograd if enabled), video embeddings from `videos[video_key]` spliced into the
    prompt's placeholder slots."""
    device = device or model.device
    entries = [prompts[q] for q in qa_ids]
    plen = max(int(e.input_ids.shape[0]) for e in entries)
    rlen = max(1, max(len(r) for r in responses))
    b = len(entries)
    ids = torch.full((b, plen + rlen), pad_id, dtype=torch.long, device=device)
    attn = torch.zeros((b, plen + rlen), dtype=torch.long, device=device)
    mrope = entries[0].position_ids.dim() == 2
    ppos = torch.zeros((3, b, plen) if mrope else (b, plen), dtype=torch.long, device=device)
    resp = torch.full((b, rlen), pad_id, dtype=torch.long, device=device)
    rmask = torch.zeros((b, rlen), dtype=torch.long, device=device)
    for i, (e, r) in enumerate(zip(entries, responses)):
        p = int(e.input_ids.shape[0])
        ids[i, plen - p:plen] = e.input_ids.to(device)
        attn[i, plen - p:plen] = 1
        if mrope:
            ppos[:, i, plen - p:] = e.position_ids.to(device)
        else:
            ppos[i, plen - p:] = e.position_ids.to(device)
        if len(r):
            resp[i, :len(r)] = torch.tensor(list(r), dtype=torch.long, device=device)
            rmask[i, :len(r)] = 1
    ids[:, plen:] = resp
    attn[:, plen:] = rmask
    rpos = next_positions(ppos, attn[:, :plen], rlen)
    pos = torch.cat([ppos, rpos], dim=-1)
    embeds = model.input_embeddings(ids)
    vid = model.video_token_id
    slots = torch.zeros_like(ids, dtype=torch.bool)
    slots[:, :plen] = ids[:, :plen] == vid
    if slots.any():
        video = torch.cat([videos[e.video_key].to(device=device, dtype=embeds.dtype) for e in entries], 0)
        if int(slots.sum()) != video.shape[0]:
            raise ValueError(f"batch has {int(slots.sum())} video slots but {video.shape[0]} video embeddings")
        embeds = model.splice_video(embeds, slots, video)
    if model.frame_lookback:
        return _looking_back(model, embeds, ids[:, :plen], attn[:, :plen], ppos, responses, pad_id)
    return Batch(embeds, pos, attn, resp, rmask)


def _looking_back(model, embeds, prompt_ids, prompt_attn, ppos, responses, pad_id: int) -> Batch:
    """`build_batch` for a model with frame look-back (lvr.model.lookback): each response with its frame tags'
    frames after them, copied from its own prompt's video slots; the slots are attended but carry no token
    (response mask 0), so log-probs, losses and token counts cover the written tokens only."""
    plen, device = prompt_ids.shape[1], embeds.device
    tail, seen, wheres = lookback.expanded_responses(model, prompt_ids, embeds[:, :plen], responses)
    resp = torch.full(seen.shape, pad_id, dtype=torch.long, device=device)
    rmask = torch.zeros_like(seen)
    for i, (where, r) in enumerate(zip(wheres, responses)):
        if len(r):
            at = torch.tensor(where, device=device)
            resp[i, at], rmask[i, at] = torch.tensor(list(r), dtype=torch.long, device=device), 1
    width = seen.shape[1]
    attn = torch.cat([prompt_attn, seen], 1)
    pos = torch.cat([ppos, next_positions(ppos, prompt_attn, width)], dim=-1)
    return Batch(torch.cat([embeds[:, :plen], tail], 1), pos, attn, resp, rmask)


@dataclass
class LogProbs:
    logps: torch.Tensor             # [B, R] (0 where the response mask is 0)
    entropy: torch.Tensor | None    # [B, R] or None


def sequence_logprobs(model, inputs_embeds: torch.Tensor, position_ids: torch.Tensor, response_mask: torch.Tensor,
                      *, response_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      temperature: float = 1.0, with_entropy: bool = False) -> LogProbs:
    """Log-probs of the response tokens that fill the last R positions of each row.

    Only the last R+1 positions' logits are computed (`logits_to_keep`); logits are divided by
    `temperature` as in sampling. This is the function a sequence-parallel engine replaces.
    """
    r = response_ids.shape[1]
    out = model.causal_lm(inputs_embeds=inputs_embeds, position_ids=position_ids, attention_mask=attention_mask,
                          use_cache=False, logits_to_keep=r + 1)
    logits = out.logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = torch.log_softmax(logits, dim=-1)
    m = response_mask.to(logp_all.dtype)
    logps = logp_all.gather(-1, response_ids.unsqueeze(-1)).squeeze(-1) * m
    entropy = None
    if with_entropy:
        with torch.no_grad():
            entropy = -(logp_all.exp() * logp_all).sum(-1) * m
    return LogProbs(logps, entropy)

"""Frame look-back: the model's own reasoning line is written next to the frame it names.

    model.set_frame_lookback(True)                     # CompositeOptions.frame_lookback, saved with the checkpoint
    inputs = model.build_inputs(messages, embeds, layout=layout, train=True)   # slots after the target's tags
    new_ids = model.generate_ids(prompt_inputs, max_new_tokens=64)          # lookback_generate
    logps = model.response_logprobs(prompt_inputs, response_ids)            # over the same expanded sequence

The prompt shows every frame after its time tag ("00:06" <video>). With look-back on, whenever a clock tag of one
of the prompt's frames stands in the model's answer (written by it, or in an SFT target), that frame's video
token(s) follow it again, copied from the prompt, as positions without a label: "00:06 <video>: pink ball hall."
So a line is written right after the frame it names. A small LM reads the frame just before the text it writes
(the base stage's "last frame" look-ups) long before it learns to pick one of eight frames by its time
(docs/benchmarks.md, bench/lookback.py); it now picks a frame by writing its tag, a token it copies from the
prompt's text. The slots are a pure function of the answer's token ids and the prompt, so training
(`build_inputs`, `response_logprobs`, GRPO's `lvr.train.sequences.build_batch`) and generation
(`lookback_generate`) see the same sequence; a clock tag that no frame has gets no slot. Generation never writes
one: such a tag is replaced by the tag of the frame nearest in time (per row), so a model that writes a time
between its frames looks at the frame it meant. Masking those tags instead lets the next likeliest token through,
often a frame already read, and scores 35.9 % against 43.0 % for the same CoT-SFT on the same 128 held-out fresh
worlds (docs/benchmarks.md). Scoring leaves the logits whole, so GRPO's ratios compare the same log-probs on
both sides. With `frame_walk` (saved with the checkpoint) the tags themselves are the decoder's: whatever clock
tag a row writes becomes the tag of its next frame not yet written, in time order (the last frame once all are),
so a model trained on a line per frame (DataConfig.reasoning every_frame, to_evidence) writes only each line's
content and when to stop, and never skips or repeats a frame.
"""
from __future__ import annotations

import re

import torch

CLOCK_TAG = re.compile(r"\d{2}:\d{2}(:\d{2})?")


def clock_tag_seconds(tokenizer) -> dict[int, int]:
    """The one-token clock tags of `tokenizer` (CompositeVideoLM.use_clock_tags): token id → the second it names
    ("00:35" → 35, "01:02:03" → 3723)."""
    out = {}
    for tok, i in tokenizer.get_added_vocab().items():
        if CLOCK_TAG.fullmatch(tok):
            *hours, minutes, seconds = (int(x) for x in tok.split(":"))
            out[i] = 3600 * (hours[0] if hours else 0) + 60 * minutes + seconds
    return out


def nearest_frame_tags(seconds: dict[int, int], frame_tags) -> dict[int, int]:
    """Every clock tag that is not one of `frame_tags` → the frame tag nearest in time (the earlier on a tie):
    a model that writes a time between its frames looks back at the frame it meant, not at none."""
    frames = sorted((seconds[t], t) for t in frame_tags if t in seconds)
    if not frames:
        return {}
    return {t: min(frames, key=lambda f: (abs(f[0] - s), f[0]))[1] for t, s in seconds.items() if t not in frame_tags}


def frame_slots(model, input_ids: torch.Tensor, embeds: torch.Tensor,
                end: int | None = None) -> dict[int, torch.Tensor]:
    """Clock-tag token id → the embeddings [tokens_per_frame, D] of the frame that follows that tag in the first
    `end` positions of one row (the prompt); the first frame with a tag wins."""
    vid, ids = model.video_token_id, input_ids[:end].tolist()
    out: dict[int, torch.Tensor] = {}
    p = 0
    while p < len(ids):
        if ids[p] != vid:
            p += 1
            continue
        q = p
        while q < len(ids) and ids[q] == vid:
            q += 1
        if p > 0 and ids[p - 1] != vid:
            out.setdefault(ids[p - 1], embeds[p:q])
        p = q
    return out


def expand(ids: list[int], frames: dict[int, torch.Tensor], video_token_id: int) -> tuple[list[int], list[int]]:
    """(ids with each frame tag followed by its frame's video tokens, position of every original token)."""
    out, where = [], []
    for t in ids:
        where.append(len(out))
        out.append(t)
        if t in frames:
            out += [video_token_id] * frames[t].shape[0]
    return out, where


def expanded_embeds(model, ids: list[int], frames: dict[int, torch.Tensor]) -> tuple[torch.Tensor, list[int]]:
    """Embeddings [L, D] of `ids` with the look-back slots filled from `frames` (autograd flows through both),
    and the position of every original token."""
    embed = model.input_embeddings
    chunks, where, run = [], [], []
    n = 0
    for t in ids:
        run.append(t)
        where.append(n)
        n += 1
        if t in frames:
            chunks.append(embed(torch.tensor(run, device=model.device)))
            chunks.append(frames[t].to(chunks[-1].dtype))
            n += frames[t].shape[0]
            run = []
    if run or not chunks:
        chunks.append(embed(torch.tensor(run, dtype=torch.long, device=model.device)))
    return torch.cat(chunks), where


def expanded_responses(model, prompt_ids: torch.Tensor, prompt_embeds: torch.Tensor, responses: list[list[int]]
                       ) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
    """A batch of responses with their look-back slots, to follow their prompts (ids [B, P], embeds [B, P, D]):
    (embeddings [B, W, D] right-padded with zeros, attended mask [B, W] (1 on each row's expanded tokens),
    per row the position of every response token). Each row's slots come from its own prompt's frames."""
    rows = [expanded_embeds(model, list(r), frame_slots(model, prompt_ids[i], prompt_embeds[i]))
            for i, r in enumerate(responses)]
    b, width = len(rows), max([1] + [e.shape[0] for e, _ in rows])
    tail = prompt_embeds.new_zeros(b, width, prompt_embeds.shape[-1])
    seen = torch.zeros((b, width), dtype=torch.long, device=prompt_embeds.device)
    for i, (emb, _) in enumerate(rows):
        tail[i, :emb.shape[0]], seen[i, :emb.shape[0]] = emb.to(tail.dtype), 1
    return tail, seen, [where for _, where in rows]


def look_back_targets(model, input_ids: torch.Tensor, embeds: torch.Tensor, labels: torch.Tensor,
                      ignore_index: int = -100) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training row (ids, embeds, labels [1, S]) with a slot after every frame tag in its labelled part."""
    labelled = labels[0] != ignore_index
    if not bool(labelled.any()):                # nothing to write, nothing to look back from
        return input_ids, embeds, labels
    start = int(labelled.float().argmax())
    frames = frame_slots(model, input_ids[0], embeds[0], end=start)
    tail, where = expanded_embeds(model, input_ids[0, start:].tolist(), frames)
    n = tail.shape[0]
    at = torch.tensor(where, device=input_ids.device) + start
    ids = torch.full((1, start + n), model.video_token_id, dtype=input_ids.dtype, device=input_ids.device)
    lab = torch.full((1, start + n), ignore_index, dtype=labels.dtype, device=labels.device)
    ids[0, :start], lab[0, :start] = input_ids[0, :start], labels[0, :start]
    ids[0, at], lab[0, at] = input_ids[0, start:], labels[0, start:]
    return ids, torch.cat([embeds[0, :start], tail.to(embeds.dtype)])[None], lab


class TagWriter:
    """Per row, the clock tag to write for the tag a row sampled: its next frame's in time order (`walk`), else
    the nearest frame's when the sampled time has no frame (`nearest_frame_tags`), else the sampled one."""

    def __init__(self, seconds: dict[int, int], frames: list[dict], walk: bool):
        self.seconds, self.walk = seconds, walk
        self.snap = [nearest_frame_tags(seconds, f) for f in frames]
        self.order = [sorted(f, key=lambda t: seconds.get(t, 0)) for f in frames]
        self.written = [0] * len(frames)

    def __call__(self, row: int, tok: int) -> int:
        order = self.order[row]
        if self.walk and order and tok in self.seconds:
            self.written[row] += 1
            return order[min(self.written[row], len(order)) - 1]
        return self.snap[row].get(tok, tok)


def _sample(logits: torch.Tensor, do_sample: bool, temperature: float, top_p: float) -> torch.Tensor:
    if not do_sample:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / max(temperature, 1e-6), -1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p           # keep the smallest set reaching top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return torch.multinomial(probs, 1).squeeze(-1)


@torch.no_grad()
def lookback_generate(model, inputs, *, max_new_tokens: int, do_sample: bool = False, temperature: float = 1.0,
                      top_p: float = 1.0, stopping_criteria=None, streamer=None, pad_token_id: int | None = None,
                      eos_token_id=None, **_unused) -> torch.Tensor:
    """`generate_ids` with look-back: new token ids [B, T] (padded after a row's end), sampled like
    `causal_lm.generate` (greedy, or temperature + top-p), with each frame tag a row writes followed by that
    frame's video tokens in the cache. Rows stop at an eos id or when `stopping_criteria` says so."""
    from transformers import DynamicCache

    lm, b = model.causal_lm, inputs.batch_size
    pad = pad_token_id if pad_token_id is not None else 0
    eos = set([eos_token_id] if isinstance(eos_token_id, int) else (eos_token_id or []))
    frames = [frame_slots(model, inputs.input_ids[r], inputs.inputs_embeds[r]) for r in range(b)]
    per = model.tokens_per_frame
    mask, pos = inputs.attention_mask.clone(), inputs.position_ids.clone()
    cache = DynamicCache()
    out = lm(inputs_embeds=inputs.inputs_embeds, attention_mask=mask, position_ids=pos, past_key_values=cache,
             use_cache=True, logits_to_keep=1)
    last = out.logits[:, -1]
    retag = TagWriter(clock_tag_seconds(model.tokenizer), frames, getattr(model, "frame_walk", False))
    nxt = pos[:, -1] + 1                                         # each row's next position
    done = torch.zeros(b, dtype=torch.bool)
    written = torch.full((b, 0), pad, dtype=torch.long)
    if streamer is not None:
        streamer.put(written[:1])                                # the "prompt" a skip_prompt streamer drops
    for _ in range(max_new_tokens):
        tok = _sample(last, do_sample, temperature, top_p).cpu()
        tok = torch.tensor([retag(r, int(t)) for r, t in enumerate(tok)]).masked_fill(done, pad)
        written = torch.cat([written, tok[:, None]], 1)
        if streamer is not None:
            streamer.put(tok[:1])
        done |= torch.tensor([int(t) in eos for t in tok])
        if stopping_criteria is not None:
            done |= torch.as_tensor(stopping_criteria(written, None)).cpu().reshape(b, -1).any(1)
        if bool(done.all()):
            break
        looks = [not done[r] and int(tok[r]) in frames[r] for r in range(b)]
        width = 1 + (per if any(looks) else 0)
        block = model.input_embeddings(tok[:, None].to(model.device)).repeat(1, width, 1)
        bmask = torch.zeros(b, width, dtype=mask.dtype, device=mask.device)
        bpos = nxt[:, None].repeat(1, width) + torch.arange(width, device=nxt.device)
        bmask[:, 0] = 1
        for r in range(b):
            if looks[r]:
                block[r, 1:] = frames[r][int(tok[r])].to(block.dtype)
                bmask[r, 1:] = 1
        mask = torch.cat([mask, bmask], 1)
        out = lm(inputs_embeds=block, attention_mask=mask, position_ids=bpos, past_key_values=cache, use_cache=True)
        take = torch.tensor([width - 1 if looks[r] else 0 for r in range(b)], device=out.logits.device)
        last = out.logits[torch.arange(b, device=take.device), take]
        nxt = nxt + 1 + torch.tensor([per if looks[r] else 0 for r in range(b)], device=nxt.device)
    if streamer is not None:
        streamer.end()
    return written.to(inputs.inputs_embeds.device)

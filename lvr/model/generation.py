"""Generation: streaming with thinking/answer tagging, and left-padded batches for evaluation.

    for ev in generate_stream(model, frames, "Why does the chef leave?", ["A…", "B…", "C…", "D…"],
                              timestamps=ts, temperature=0.0, max_new_tokens=256):
        print(ev.kind, repr(ev.text))      # kinds: "thinking", "answer", "text", and a final "done"

    gens = generate_batch(model, [prompt_inputs(model, f, q, o) for f, q, o in items], max_new_tokens=256)
    gens[0].text, gens[0].n_tokens, gens[0].parsed.letter

Both run `model.causal_lm.generate(inputs_embeds=…, attention_mask=…, position_ids=…)` (the
video embeddings are prompt embeddings; positions are the adapter's own, M-RoPE for Qwen) and
stop at `</answer>`, at `<|im_end|>`/eos or after `max_new_tokens`. `temperature <= 0` is greedy.
Streaming runs `generate` in a thread with transformers' `TextIteratorStreamer`; errors in the
thread are re-raised in the caller; closing the iterator early stops the generation.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from .base import ModelInputs, VideoLM, collate
from .prompting import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, Parsed, build_messages, parse_response

_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


@dataclass(frozen=True)
class StreamEvent:
    """An increment of generated text: kind is "thinking", "answer", "text" (outside tags) or "done"
    (the last event; its text is the whole output up to and including `</answer>`)."""

    kind: str
    text: str


@dataclass(frozen=True)
class Generation:
    text: str                 # decoded output, cut after </answer>
    token_ids: list[int]      # the tokens counted in n_tokens
    n_tokens: int
    stop_reason: str          # "answer" | "eos" | "length"
    parsed: Parsed


def prompt_inputs(model: VideoLM, frames, question: str, options: Sequence[str] | None = None, *,
                  timestamps: Sequence[float] | None = None, think: bool = True,
                  system: str | None = None, grad: bool = False) -> ModelInputs:
    """Encode frames and build the generation prompt for one question (frames None: text only).

    Runs without autograd unless `grad=True` (prompts for generation need no graph).
    """
    messages = build_messages(question, options, think=think, video=frames is not None, system=system,
                              answer_format=model.answer_format)
    with torch.set_grad_enabled(grad):
        return model.prepare(frames, messages, timestamps=timestamps, add_generation_prompt=True)


class _StopOnText:
    """StoppingCriteria: a row is done once its recent tokens decode to text containing `stop`
    (or when `cancel` is set)."""

    def __init__(self, tokenizer, stop: str | None = ANSWER_CLOSE, window: int = 12,
                 cancel: threading.Event | None = None):
        self.tokenizer, self.stop, self.window, self.cancel = tokenizer, stop, window, cancel

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if self.cancel is not None and self.cancel.is_set():
            return done | True
        if self.stop and input_ids.shape[1]:
            tails = self.tokenizer.batch_decode(input_ids[:, -self.window:], skip_special_tokens=False)
            done |= torch.tensor([self.stop in t for t in tails], device=input_ids.device)
        return done


def _sampling_kwargs(max_new_tokens: int, temperature: float, top_p: float) -> dict:
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature and temperature > 0:
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        return dict(max_new_tokens=max_new_tokens, do_sample=True, temperature=float(temperature),
                    top_p=float(top_p), top_k=0)
    return dict(max_new_tokens=max_new_tokens, do_sample=False)


class _Tagger:
    """Turns streamed text into tagged events; holds back a partial tag until it is complete."""

    def __init__(self):
        self.state = "text"
        self.buf = ""
        self.done = False
        self.out: list[str] = []

    def _emit(self, text: str) -> list[StreamEvent]:
        if not text or self.done:
            return []
        self.out.append(text)
        if self.state == "text" and not text.strip():
            return []
        return [StreamEvent(self.state, text)]

    def feed(self, text: str) -> list[StreamEvent]:
        if self.done:
            return []
        self.buf += text
        events: list[StreamEvent] = []
        while not self.done:
            hits = [(self.buf.find(t), t) for t in _TAGS if t in self.buf]
            if not hits:
                break
            i, tag = min(hits)
            events += self._emit(self.buf[:i])
            self.out.append(tag)
            self.buf = self.buf[i + len(tag):]
            self.state = {THINK_OPEN: "thinking", THINK_CLOSE: "text", ANSWER_OPEN: "answer"}.get(tag, self.state)
            if tag == ANSWER_CLOSE:
                self.done = True
        if self.done:
            return events
        keep = max((k for t in _TAGS for k in range(1, len(t)) if self.buf.endswith(t[:k])), default=0)
        emit, self.buf = (self.buf[:-keep], self.buf[-keep:]) if keep else (self.buf, "")
        return events + self._emit(emit)

    def finish(self) -> list[StreamEvent]:
        events = self._emit(self.buf)
        self.buf = ""
        return events

    @property
    def text(self) -> str:
        return "".join(self.out)


def generate_stream(model: VideoLM, frames=None, question: str | None = None,
                    options: Sequence[str] | None = None, *, timestamps: Sequence[float] | None = None,
                    think: bool = True, max_new_tokens: int = 512, temperature: float = 0.0, top_p: float = 1.0,
                    seed: int | None = None, inputs: ModelInputs | None = None,
                    timeout: float | None = 600.0) -> Iterator[StreamEvent]:
    """Yield thinking/answer increments as tokens are produced; stops at `</answer>`.

    Give `frames` + `question` (+ `options`, `timestamps`), or ready `inputs` (one row).
    """
    from transformers import StoppingCriteriaList, TextIteratorStreamer

    if inputs is None:
        if question is None:
            raise ValueError("generate_stream needs a question (or ready inputs=)")
        inputs = prompt_inputs(model, frames, question, options, timestamps=timestamps, think=think)
    if inputs.batch_size != 1:
        raise ValueError(f"generate_stream streams one prompt, got a batch of {inputs.batch_size}")
    streamer = TextIteratorStreamer(model.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout)
    cancel = threading.Event()
    kwargs = _sampling_kwargs(max_new_tokens, temperature, top_p)
    kwargs.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([_StopOnText(model.tokenizer,
                                                                                          cancel=cancel)]))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            if seed is not None:
                torch.manual_seed(seed)
            with torch.no_grad():
                model.generate_ids(inputs, **kwargs)
        except BaseException as e:  # re-raised in the consumer
            errors.append(e)
            streamer.end()

    thread = threading.Thread(target=run, name="lvr-generate", daemon=True)
    thread.start()
    tagger = _Tagger()
    try:
        for piece in streamer:
            yield from tagger.feed(piece)
            if tagger.done:
                cancel.set()
        thread.join()
        if errors:
            raise errors[0]
        yield from tagger.finish()
        yield StreamEvent("done", tagger.text)
    finally:
        cancel.set()


def first_prefix_containing(tokenizer, ids: list[int], needle: str) -> int | None:
    """Smallest k with needle in decode(ids[:k]) (binary search), or None."""
    dec = lambda k: tokenizer.decode(ids[:k], skip_special_tokens=False)  # noqa: E731
    if needle not in dec(len(ids)):
        return None
    lo, hi = 1, len(ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if needle in dec(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def generate_batch(model: VideoLM, prompts: Sequence[ModelInputs], *, max_new_tokens: int = 512,
                   temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None,
                   stop_at_answer: bool = True, batch_size: int | None = None, think: bool = True,
                   n_options: int = 4) -> list[Generation]:
    """Generate for many prompts (left-padded batches of inputs_embeds); one Generation per prompt row."""
    if not prompts:
        return []
    tok = model.tokenizer
    eos = set(model.eos_token_ids())
    pad = tok.pad_token_id
    rows_per_call = batch_size or len(prompts)
    kwargs = _sampling_kwargs(max_new_tokens, temperature, top_p)
    if stop_at_answer:
        from transformers import StoppingCriteriaList

        kwargs["stopping_criteria"] = StoppingCriteriaList([_StopOnText(tok)])
    if seed is not None:
        torch.manual_seed(seed)
    results: list[Generation] = []
    for start in range(0, len(prompts), rows_per_call):
        batch = collate(prompts[start:start + rows_per_call], padding_side="left", pad_token_id=pad or 0)
        with torch.no_grad():
            out = model.generate_ids(batch, **kwargs)
        for row in out.tolist():
            n, reason = len(row), "length"
            for i, t in enumerate(row):
                if t in eos:
                    n, reason = i + 1, "eos"
                    break
                if t == pad:
                    n, reason = i, "eos"
                    break
            ids = row[:n]
            if stop_at_answer:
                k = first_prefix_containing(tok, ids, ANSWER_CLOSE)
                if k is not None:
                    ids, n, reason = ids[:k], k, "answer"
            text = tok.decode(ids, skip_special_tokens=True)
            if ANSWER_CLOSE in text:
                text = text[:text.index(ANSWER_CLOSE) + len(ANSWER_CLOSE)]
            results.append(Generation(text=text, token_ids=ids, n_tokens=n, stop_reason=reason,
                                      parsed=parse_response(text, think=think, n_options=n_options)))
    return results

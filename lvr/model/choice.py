"""Answers constrained to the options: the option a model finds most likely after its own reasoning.

    from lvr.model.choice import choose_options, option_probabilities
    gens = generate_batch(model, prompts, max_new_tokens=320)          # free generation, reasoning included
    picks = choose_options(model, prompts, gens, [it["options"] for it in items])   # option index per prompt
    option_probabilities(model, prompt, gens[0].text, options)        # the four options' shares (Chat shows them)
    answers_by_choice(model, prompt, texts, options)                  # GRPO (rollout.answer=choice)

A multiple-choice item has four allowed answers. Free generation can write something that is none of them (a tiny
model asked "how many times…" may answer "the garage"); a parser then scores it wrong whatever the model believed.
`choose_options` keeps the model's own reasoning and replaces only what it wrote inside `<answer>`: it appends each
option (as the model was trained to write it: the option's text, or its letter) and `</answer>` after the reasoning
and `<answer>`, and picks the option whose tokens have the highest total log-probability. This is decoding
restricted to the allowed answers (vLLM's `guided_choice`, scored on whole options rather than token by token),
the way base language models are scored on multiple-choice benchmarks, and the way the reference answerers (random,
most-frequent, text-only) always answer. A generation cut off before `<answer>` is closed first (`</think>` if it
was thinking, then `<answer>`).
"""
from __future__ import annotations

from typing import Sequence

import torch

from .base import collate
from .prompting import ANSWER_CLOSE, ANSWER_OPEN, LETTERS, THINK_CLOSE, answer_text


def answer_prefix(text: str, think: bool = True) -> str:
    """The generated text up to and including `<answer>`, closing the reasoning first when it was cut off."""
    if ANSWER_OPEN in text:
        return text[:text.index(ANSWER_OPEN) + len(ANSWER_OPEN)]
    text = text.rstrip()
    if think and THINK_CLOSE not in text:
        text += f"\n{THINK_CLOSE}"
    return f"{text}\n{ANSWER_OPEN}" if text else ANSWER_OPEN


def option_scores(model, prompt, prefix: str, candidates: Sequence[str]) -> list[float]:
    """Total log-probability of each `candidate` + `</answer>` after `prompt` (one ModelInputs row) and `prefix`."""
    tok = model.tokenizer
    head = tok.encode(prefix, add_special_tokens=False)
    return _tail_scores(model, prompt, [(head, tok.encode(f"{c}{ANSWER_CLOSE}", add_special_tokens=False))
                                        for c in candidates])


def _tail_scores(model, prompt, rows: Sequence[tuple[list[int], list[int]]]) -> list[float]:
    """Per (head, tail) token ids after one prompt, in one right-padded batch: the tail's total log-probability."""
    pad = model.tokenizer.pad_token_id or 0
    width = max(len(h) + len(t) for h, t in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    scored = torch.zeros(ids.shape, dtype=torch.bool)
    for r, (head, tail) in enumerate(rows):
        ids[r, :len(head) + len(tail)] = torch.tensor(head + tail)
        mask[r, :len(head) + len(tail)] = 1
        scored[r, len(head):len(head) + len(tail)] = True
    inputs = collate([prompt] * len(rows), padding_side="left", pad_token_id=pad)
    with torch.no_grad():
        logps = model.response_logprobs(inputs, ids, mask)
    return (logps * scored).sum(1).tolist()


def option_answers(options: Sequence[str], answer_format: str) -> list[str]:
    """What `<answer>` holds for each option, in `answer_format` (the letter, or the option's text)."""
    return [answer_text(LETTERS[i], list(options), answer_format) for i in range(len(options))]


def option_probabilities(model, prompt, text: str, options: Sequence[str], *, think: bool = True,
                         answer_format: str | None = None) -> list[float]:
    """The options' shares of probability (softmax of their total log-probabilities) after `text`'s reasoning."""
    candidates = option_answers(options, answer_format or model.answer_format)
    return torch.tensor(option_scores(model, prompt, answer_prefix(text, think), candidates)).softmax(0).tolist()


def choose_options(model, prompts, generations, options: Sequence[Sequence[str]], *, think: bool = True,
                   answer_format: str | None = None) -> list[int]:
    """Per prompt, the index of the option the model finds most likely after its generation's reasoning."""
    picks = []
    for prompt, gen, opts in zip(prompts, generations, options):
        probs = option_probabilities(model, prompt, gen.text, opts, think=think, answer_format=answer_format)
        picks.append(max(range(len(probs)), key=probs.__getitem__))
    return picks


def answers_by_choice(model, prompt, texts: Sequence[str], options: Sequence[str], *, think: bool = True,
                      answer_format: str | None = None) -> list[tuple[str, list[int]] | None]:
    """Sampled responses to one prompt, each with its answer span replaced by the option the model finds most likely
    after its own reasoning: per text (text, token ids) up to `</answer>`, or None when it never wrote `<answer>` (it
    is left as written, so the format reward still asks for one). All texts' options are scored in one batch.
    GRPO's `rollout.answer: choice` trains the reasoning on the answer evaluation's `answer_mode: choice` scores."""
    tok = model.tokenizer
    candidates = option_answers(options, answer_format or model.answer_format)
    tails = [tok.encode(f"{c}{ANSWER_CLOSE}", add_special_tokens=False) for c in candidates]
    heads = {k: tok.encode(answer_prefix(t, think), add_special_tokens=False)
             for k, t in enumerate(texts) if ANSWER_OPEN in t}
    if not heads:
        return [None] * len(texts)
    scores = _tail_scores(model, prompt, [(h, tail) for h in heads.values() for tail in tails])
    out: list[tuple[str, list[int]] | None] = [None] * len(texts)
    for n, (k, head) in enumerate(heads.items()):
        row = scores[n * len(tails):(n + 1) * len(tails)]
        best = max(range(len(tails)), key=row.__getitem__)
        out[k] = (f"{answer_prefix(texts[k], think)}{candidates[best]}{ANSWER_CLOSE}", head + tails[best])
    return out

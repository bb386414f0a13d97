"""What the evaluation runner talks to: the `Answerer` protocol and its `Prediction`.

    class MyAnswerer:
        name = "mine"
        needs_video = False
        def answer_batch(self, items: list[dict], frames: int | None) -> list[Prediction]: ...
        def describe(self) -> dict: ...          # recorded in the run's config

`items` are QA rows from the store (`id`, `video_id`, `category`, `question`, `options`, …);
an answerer must not look at `answer` (the key). It returns one `Prediction` per item, in
order. Model outputs are parsed with `lvr.model.prompting.parse_response` (the same parser the
rewards use) through `prediction_from_text`, so evaluation and training score alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

LETTERS = ("A", "B", "C", "D")


@dataclass
class Prediction:
    """One answer to one item. `letter` is what is scored; `format_ok` is None for non-generative answerers."""

    text: str | None
    thinking: str | None = None
    answer: str | None = None
    letter: str | None = None
    format_ok: bool | None = None
    tokens: int | None = None
    latency: float | None = None


@runtime_checkable
class Answerer(Protocol):
    name: str
    needs_video: bool

    def answer_batch(self, items: list[dict], frames: int | None) -> list[Prediction]: ...

    def describe(self) -> dict: ...


def parse_output(text: str, options: Sequence[str] | None = None, *, think: bool = True):
    """`lvr.model.prompting.parse_response` (imported lazily: lvr.eval imports without the model stack)."""
    # imported here: lvr.model loads torch, ~1.3 s more on `import lvr.eval` (~1.5 s), measured
    from lvr.model.prompting import parse_response

    return parse_response(text, think=think, n_options=len(options) if options else 4, options=options)


def prediction_from_text(text: str | None, options: Sequence[str] | None = None, *, tokens: int | None = None,
                         latency: float | None = None, think: bool = True) -> Prediction:
    """Parse a generated response into a Prediction (thinking, answer span, letter, format check)."""
    parsed = parse_output(text or "", options, think=think)
    return Prediction(text=text or "", thinking=parsed.thinking, answer=parsed.answer, letter=parsed.letter,
                      format_ok=bool(parsed.format_ok), tokens=tokens, latency=latency)


def letter_prediction(letter: str, latency: float | None = None) -> Prediction:
    """A Prediction for answerers that pick a letter without generating text (reference baselines)."""
    if letter not in LETTERS:
        raise ValueError(f"letter {letter!r} is not one of {LETTERS}")
    return Prediction(text=letter, thinking=None, answer=letter, letter=letter, format_ok=None, tokens=None,
                      latency=latency)

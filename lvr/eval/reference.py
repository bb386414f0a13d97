"""Reference answerers: what a score must beat. None of them sees the video.

    RandomAnswerer(seed=0)                        # uniform letter, ~25 % on 4 options
    MostFrequentLetterAnswerer.from_split(ws, "sft")   # always the commonest key letter of a split
    TextOnlyAnswerer.from_split(ws, "sft")        # naive Bayes over question/option words
    make_reference("text-only", ws, reference_split="sft")

Every evaluation report includes all three computed on the same items, so a model's number
is read against "guessing", "exploiting the key-letter imbalance" (the published
LongVideo-Reason-eval scores 44 % by always answering B) and "exploiting option wording
without watching".

Predictions are deterministic per item (the random answerer seeds on the item id), so they
do not depend on batching, order or resuming.
"""
from __future__ import annotations

import math
import random
import re
import time
from collections import Counter
from typing import Iterable

from .answerer import LETTERS, Prediction, letter_prediction

REFERENCE_NAMES = ("random", "most-frequent", "text-only")
_WORD = re.compile(r"[a-z0-9]+")


class RandomAnswerer:
    """A uniformly random letter per item, reproducible from (seed, item id)."""

    needs_video = False

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self.name = "random"

    def answer_batch(self, items: list[dict], frames: int | None = None) -> list[Prediction]:
        out = []
        for it in items:
            t = time.perf_counter()
            n = len(it.get("options") or LETTERS)
            letter = random.Random(f"{self.seed}:{it['id']}").choice(LETTERS[:min(n, 4)])
            out.append(letter_prediction(letter, time.perf_counter() - t))
        return out

    def describe(self) -> dict:
        return {"answerer": self.name, "seed": self.seed}


class MostFrequentLetterAnswerer:
    """Always the letter that is most often correct in a reference set (ties: alphabetical)."""

    needs_video = False

    def __init__(self, key_letters: Iterable[str], reference: str = "given letters"):
        counts = Counter(letter for letter in key_letters if letter in LETTERS)
        if not counts:
            raise ValueError(f"most-frequent answerer: no answer keys in {reference} to count letters from")
        self.counts = {letter: counts.get(letter, 0) for letter in LETTERS}
        self.letter = max(LETTERS, key=lambda letter: (self.counts[letter], -LETTERS.index(letter)))
        self.reference = reference
        self.name = "most-frequent"

    @classmethod
    def from_split(cls, ws, split: str = "sft") -> "MostFrequentLetterAnswerer":
        rows = ws.query("SELECT answer FROM qa WHERE split = ? AND status != 'rejected'", (split,))
        return cls((r["answer"] for r in rows), reference=f"split {split!r}")

    def answer_batch(self, items: list[dict], frames: int | None = None) -> list[Prediction]:
        return [letter_prediction(self.letter, 0.0) for _ in items]

    def describe(self) -> dict:
        return {"answerer": self.name, "letter": self.letter, "reference": self.reference, "counts": self.counts}


def _words(text: str) -> set[str]:
    return set(_WORD.findall((text or "").lower()))


def option_features(question: str, options: list[str], i: int) -> list[str]:
    """Bag-of-words features of option i given the question (no video involved).

    Option words, words the option shares with the question, the option's position, and
    whether it is the longest/shortest option (a classic annotation artefact).
    """
    q = _words(question)
    o = _words(options[i])
    lengths = [len(x or "") for x in options]
    feats = [f"o:{w}" for w in sorted(o)] + [f"qo:{w}" for w in sorted(o & q)]
    feats.append(f"pos:{LETTERS[i]}")
    if lengths[i] == max(lengths):
        feats.append("len:longest")
    if lengths[i] == min(lengths):
        feats.append("len:shortest")
    return feats


class TextOnlyAnswerer:
    """Naive Bayes (Bernoulli-style counts, Laplace smoothing) on option features, no video.

    Each training item gives 4 examples: its correct option (positive) and three negatives.
    At test time the option with the highest log-odds of being correct wins (ties: first).
    """

    needs_video = False

    def __init__(self, alpha: float = 1.0):
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)
        self.pos: Counter = Counter()
        self.neg: Counter = Counter()
        self.n_pos = self.n_neg = 0
        self.n_items = 0
        self.reference = "not fitted"
        self.name = "text-only"

    def fit(self, items: Iterable[dict], reference: str = "given items") -> "TextOnlyAnswerer":
        for it in items:
            opts = list(it.get("options") or [])
            if it.get("answer") not in LETTERS[:len(opts)]:
                continue
            k = LETTERS.index(it["answer"])
            for i in range(len(opts)):
                feats = option_features(it["question"], opts, i)
                if i == k:
                    self.pos.update(feats)
                    self.n_pos += 1
                else:
                    self.neg.update(feats)
                    self.n_neg += 1
            self.n_items += 1
        if self.n_items == 0:
            raise ValueError(f"text-only answerer: no usable items in {reference} to train on")
        self.reference = reference
        return self

    @classmethod
    def from_split(cls, ws, split: str = "sft", alpha: float = 1.0) -> "TextOnlyAnswerer":
        items = ws.iter_qa(split=split, status=["pending", "draft", "approved"])
        return cls(alpha).fit(items, reference=f"split {split!r}")

    def score(self, question: str, options: list[str], i: int) -> float:
        a = self.alpha
        s = math.log(self.n_pos + a) - math.log(self.n_neg + a)
        for f in option_features(question, options, i):
            s += math.log((self.pos[f] + a) / (self.n_pos + 2 * a)) - math.log((self.neg[f] + a) / (self.n_neg + 2 * a))
        return s

    def answer_batch(self, items: list[dict], frames: int | None = None) -> list[Prediction]:
        if self.n_items == 0:
            raise RuntimeError("text-only answerer is not fitted; call fit() or from_split() first")
        out = []
        for it in items:
            t = time.perf_counter()
            opts = list(it["options"])
            scores = [self.score(it["question"], opts, i) for i in range(min(len(opts), 4))]
            best = max(range(len(scores)), key=lambda i: (scores[i], -i))
            out.append(letter_prediction(LETTERS[best], time.perf_counter() - t))
        return out

    def describe(self) -> dict:
        return {"answerer": self.name, "reference": self.reference, "train_items": self.n_items, "alpha": self.alpha}


def make_reference(name: str, ws=None, *, reference_split: str = "sft", seed: int = 0, fallback_items=None):
    """Build a reference answerer by name.

    most-frequent / text-only learn from `reference_split` of `ws`. When that split has no
    items, `fallback_items` (e.g. the evaluated items themselves) are used instead and the
    answerer's `reference` says so — an optimistic, oracle-like baseline, labelled as such.
    """
    if name == "random":
        return RandomAnswerer(seed)
    if name not in REFERENCE_NAMES:
        raise ValueError(f"unknown reference answerer {name!r}; choose from {', '.join(REFERENCE_NAMES)}")
    has_split = ws is not None and ws.scalar(
        "SELECT count(*) FROM qa WHERE split = ? AND status != 'rejected'", (reference_split,))
    if has_split:
        if name == "most-frequent":
            return MostFrequentLetterAnswerer.from_split(ws, reference_split)
        return TextOnlyAnswerer.from_split(ws, reference_split)
    if fallback_items is None:
        where = f"split {reference_split!r} of {ws.root}" if ws is not None else "(no workspace given)"
        raise ValueError(f"{name} answerer: no items in {where} to learn from")
    fallback_items = list(fallback_items)
    label = f"the evaluated items themselves (oracle: split {reference_split!r} is empty)"
    if name == "most-frequent":
        return MostFrequentLetterAnswerer((it["answer"] for it in fallback_items), reference=label)
    return TextOnlyAnswerer().fit(fallback_items, reference=label)

"""Sanity baselines for synthetic QA: what a score with video must be read against.

    from lvr.synth.baselines import OracleAnswerer, TextOnlyAnswerer, ConstantAnswerer, accuracy
    oracle = OracleAnswerer.from_workspace(ws)            # answers from each video's event log
    text = TextOnlyAnswerer().fit(sft_items)              # question + options only, no video
    accuracy(text, eval_items)                            # fraction of correct letters
    accuracy(ConstantAnswerer("B"), eval_items)

Every answerer has `name`, `needs_video` (False), `predict(items) -> list[letter]` and
`describe()`; items are store rows or `generate_qa` dicts (`question`, `options`, `meta`;
`answer` is only read by `fit` and `accuracy`). An evaluation layer can wrap `predict`.

- OracleAnswerer recomputes each correct option from the event log JSON with the item's
  template solver (`lvr.synth.qa.solve`): 100 % means the log really holds every answer.
- TextOnlyAnswerer is a conditional-logit (softmax over the 4 options) linear model on hashed
  text features of each option: its words and bigrams, words shared with the question, the
  question's opening words crossed with the option's words (template-specific priors), the
  option's letter, length rank, numeric rank and word overlap with the other options (the
  "odd one in" artefact of perturbed distractors). Trained with L-BFGS on a training split.
  If the generator left a wording shortcut, this model finds it.
- ConstantAnswerer always answers the same letter (the letter-balance check).
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .eventlog import EventLog
from .qa import solve

LETTERS = ("A", "B", "C", "D")
_WORD = re.compile(r"[a-z0-9]+")


def accuracy(answerer, items: list[dict]) -> float:
    items = list(items)
    if not items:
        raise ValueError("accuracy: no items")
    preds = answerer.predict(items)
    return sum(p == it["answer"] for p, it in zip(preds, items)) / len(items)


class ConstantAnswerer:
    needs_video = False

    def __init__(self, letter: str):
        if letter not in LETTERS:
            raise ValueError(f"letter {letter!r} is not one of {LETTERS}")
        self.letter, self.name = letter, f"always-{letter}"

    def predict(self, items: list[dict]) -> list[str]:
        return [self.letter for _ in items]

    def describe(self) -> dict:
        return {"answerer": self.name}


class OracleAnswerer:
    """Answers from the event log of each item's video (`log_for(item) -> EventLog`)."""

    needs_video = False
    name = "oracle"

    def __init__(self, log_for: Callable[[dict], EventLog]):
        self.log_for = log_for

    @classmethod
    def from_workspace(cls, ws) -> OracleAnswerer:
        """Logs found through each video's meta["event_log"] (a path relative to the workspace)."""
        cache: dict[str, EventLog] = {}

        def log_for(item: dict) -> EventLog:
            vid = item["video_id"]
            if vid not in cache:
                meta = ws.get_video(vid).get("meta") or {}
                if not meta.get("event_log"):
                    raise KeyError(f"video {vid} has no event_log in its meta (not a synthetic video?)")
                cache[vid] = EventLog.load(ws.resolve(meta["event_log"]))
            return cache[vid]

        return cls(log_for)

    @classmethod
    def from_logs(cls, logs: dict[str, EventLog | str | Path], key: str = "video_id") -> OracleAnswerer:
        loaded = {k: v if isinstance(v, EventLog) else EventLog.load(v) for k, v in logs.items()}
        return cls(lambda item: loaded[item[key]])

    def predict(self, items: list[dict]) -> list[str]:
        out = []
        for it in items:
            text = solve(it, self.log_for(it))
            if text not in it["options"]:
                raise ValueError(
                    f"item {it.get('id', '?')} ({it['meta'].get('template')}): the log's answer "
                    f"{text!r} is not among the options {it['options']}"
                )
            out.append(LETTERS[list(it["options"]).index(text)])
        return out

    def describe(self) -> dict:
        return {"answerer": self.name}


# ---------------------------------------------------------------------- text only
def _words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower())


def option_features(question: str, options: list[str], i: int) -> list[str]:
    q = _words(question)
    qset = set(q)
    qkey = "_".join(q[:4])
    words = [_words(o) for o in options]
    w = words[i]
    feats = [f"o:{x}" for x in set(w)] + [f"b:{a}_{b}" for a, b in itertools.pairwise(w)]
    feats += [f"qo:{x}" for x in set(w) & qset] + [f"t:{qkey}|{x}" for x in set(w)]
    feats.append(f"pos:{LETTERS[i]}")
    lens = [len(o) for o in options]
    feats.append(f"lenrank:{sorted(lens).index(lens[i])}")
    nums = [float(o) if re.fullmatch(r"\d+(\.\d+)?", o.strip()) else None for o in options]
    if all(n is not None for n in nums):
        feats.append(f"numrank:{sorted(nums).index(nums[i])}")
    sets = [set(x) for x in words]
    sims = [
        sum(len(sets[j] & sets[k]) / max(1, len(sets[j] | sets[k])) for k in range(len(options)) if k != j)
        for j in range(len(options))
    ]
    feats.append(f"simrank:{sorted(sims).index(sims[i])}")
    feats.append(f"t:{qkey}|simrank:{sorted(sims).index(sims[i])}")
    return feats


class TextOnlyAnswerer:
    needs_video = False
    name = "text-only"

    def __init__(self, l2: float = 1.0, dim: int = 1 << 18, max_iter: int = 200):
        if l2 <= 0 or dim < 16:
            raise ValueError(f"text-only answerer: l2 must be > 0 and dim >= 16, got l2={l2}, dim={dim}")
        self.l2, self.dim, self.max_iter = float(l2), int(dim), int(max_iter)
        self.w: np.ndarray | None = None
        self.n_train = 0

    def _matrix(self, items: list[dict]):
        from scipy import sparse

        rows, cols = [], []
        for n, it in enumerate(items):
            opts = list(it["options"])
            if len(opts) != 4:
                raise ValueError(f"item {it.get('id', n)}: needs 4 options, got {len(opts)}")
            for i in range(4):
                for f in option_features(it["question"], opts, i):
                    rows.append(4 * n + i)
                    cols.append(zlib.crc32(f.encode()) % self.dim)
        data = np.ones(len(rows), np.float64)
        return sparse.csr_matrix((data, (rows, cols)), shape=(4 * len(items), self.dim))

    def fit(self, items: Iterable[dict]) -> TextOnlyAnswerer:
        from scipy.optimize import minimize

        items = [it for it in items if it.get("answer") in LETTERS]
        if not items:
            raise ValueError("text-only answerer: no training items with an answer letter")
        X = self._matrix(items)
        y = np.array([LETTERS.index(it["answer"]) for it in items])
        n = len(items)

        def loss(w):
            s = (X @ w).reshape(n, 4)
            s = s - s.max(1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(1, keepdims=True)
            nll = -np.log(p[np.arange(n), y] + 1e-12).sum() / n + 0.5 * self.l2 / n * (w @ w)
            g = p.copy()
            g[np.arange(n), y] -= 1
            grad = X.T @ g.reshape(-1) / n + self.l2 / n * w
            return nll, grad

        res = minimize(
            loss, np.zeros(self.dim), jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter}
        )
        self.w, self.n_train = res.x, n
        return self

    def predict(self, items: list[dict]) -> list[str]:
        if self.w is None:
            raise RuntimeError("text-only answerer is not fitted; call fit(train_items) first")
        items = list(items)
        if not items:
            return []
        s = (self._matrix(items) @ self.w).reshape(len(items), 4)
        return [LETTERS[int(i)] for i in s.argmax(1)]

    def describe(self) -> dict:
        return {"answerer": self.name, "train_items": self.n_train, "l2": self.l2}

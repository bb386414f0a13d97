"""Reward functions for GRPO: pure functions over completions, a registry, and the weighted sum.

    from lvr.train.rewards import RewardSet, get_reward, register_reward
    rs = RewardSet.from_config({"accuracy": 0.9, "format": 0.1})        # the paper's default
    out = rs(completions, answer=["B", "C"], options=[opts1, opts2], question=[...])
    out.total            # [float] weighted sum per completion
    out.components       # {"accuracy": [1.0, 0.0], "format": [1.0, 1.0]} (None = not applicable)

A reward function is `fn(completions: list[str], **columns) -> list[float | None]` or a dict of
such lists (several components from one function). Columns are per-completion lists
(`answer`, `options`, `question`, `problem_type`, `qa_id`, ...); functions must accept
`**kwargs` and ignore what they do not use (TRL's convention). `None` means "does not apply to
this row" and counts as 0 in the weighted sum (TRL sums with nansum).

Built-in (names for the config): `format` (the whole output is `<think>…</think>\\s*<answer>…</answer>`),
`mcq_accuracy` (the option letter of the answer span equals the key; "(B)", "b", "Answer: B" all
count), `valid_option` (the answer span names one of the options, right or wrong: its letter or a
near-copy of its text; partial credit that teaches a model to answer from the list),
`numeric_accuracy` (relative tolerance), `open_accuracy` (an LLM judge over an OpenAI-compatible chat
endpoint), `accuracy` (per row: MCQ when options or a letter key are present, numeric when the key is
a number, else the judge if configured, else normalised exact match). User functions: `path/to/file.py:function_name`.
"""
from __future__ import annotations

import asyncio
import importlib.util
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from lvr.llm import BackendConfig, BackendError, OpenAIBackend, run_coroutine
from lvr.model.prompting import LETTERS, extract_letter, parse_response

RewardFn = Callable[..., "list[float | None] | dict[str, list[float | None]]"]

_REGISTRY: dict[str, RewardFn] = {}


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    """Decorator: make `fn` available to configs under `name`."""
    def deco(fn: RewardFn) -> RewardFn:
        _REGISTRY[name] = fn
        return fn
    return deco


def reward_names() -> list[str]:
    return sorted(_REGISTRY)


def load_user_function(spec: str) -> RewardFn:
    """`path/to/file.py:name` → the function (the file is imported as a fresh module)."""
    path, name = _user_spec(spec)
    mod_name = f"lvr_user_reward_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        raise ValueError(f"reward {spec!r}: importing {path} failed: {type(e).__name__}: {e}") from e
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ValueError(f"reward {spec!r}: {path} has no function {name!r}")
    return fn


def _user_spec(spec: str) -> tuple[Path, str]:
    """`path/to/file.py:name` → (path, name), checked without importing anything."""
    path_s, _, name = spec.rpartition(":")
    if not path_s or not name or not path_s.endswith(".py"):
        raise ValueError(f"reward {spec!r}: a user function is written path/to/file.py:function_name")
    path = Path(path_s)
    if not path.is_file():
        raise ValueError(f"reward {spec!r}: file {path} does not exist")
    return path, name


def check_reward_name(name: str) -> None:
    """Raise ValueError unless `name` is registered or a user function whose file exists. Imports nothing:
    validating a config must never run user code (the training job imports the file when it starts)."""
    if name in _REGISTRY:
        return
    if ":" in name and name.split(":")[0].endswith(".py"):
        _user_spec(name)
        return
    raise ValueError(f"unknown reward function {name!r}; built-in: {', '.join(reward_names())}, "
                     f"or a user function path/to/file.py:function_name")


def get_reward(name: str) -> RewardFn:
    """A registered reward by name, or a user function `file.py:name`."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name and name.split(":")[0].endswith(".py"):
        return load_user_function(name)
    raise ValueError(f"unknown reward function {name!r}; built-in: {', '.join(reward_names())}, "
                     f"or a user function path/to/file.py:function_name")


# ---------------------------------------------------------------------------- helpers
def _col(columns: dict, name: str, n: int, default: Any = None) -> list:
    value = columns.get(name)
    if value is None:
        return [default] * n
    if len(value) != n:
        raise ValueError(f"reward column {name!r} has {len(value)} values for {n} completions")
    return list(value)


def _is_letter_key(answer: Any) -> bool:
    return isinstance(answer, str) and answer.strip().upper() in LETTERS and len(answer.strip()) == 1


_NUM = re.compile(r"[-+]?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def parse_number(text: Any) -> float | None:
    """The first number in `text` ("1,234.5", "-3", "2e3", "about 42 s"), or None."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        return None
    m = _NUM.search(text)
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


def normalise_text(text: str | None) -> str:
    """Lower-case, punctuation and articles removed, whitespace collapsed (SQuAD-style)."""
    s = re.sub(r"[^a-z0-9 ]+", " ", (text or "").lower())
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def answer_span(completion: str, think: bool = True) -> str | None:
    return parse_response(completion, think=think).answer


# ---------------------------------------------------------------------------- built-in rewards
@register_reward("format")
def format_reward(completions: Sequence[str], think: bool | Sequence[bool] = True, **_: Any) -> list[float]:
    """1.0 when the whole output is `<think>…</think>\\s*<answer>…</answer>` (each tag once), else 0.0."""
    thinks = think if isinstance(think, (list, tuple)) else [think] * len(completions)
    return [1.0 if parse_response(c, think=bool(t)).format_ok else 0.0 for c, t in zip(completions, thinks)]


@register_reward("mcq_accuracy")
def mcq_accuracy(completions: Sequence[str], answer: Sequence[str], options: Sequence | None = None,
                 **_: Any) -> list[float | None]:
    """1.0 when the answer span's option letter equals the key; None when the key is not a letter.
    An answer naming several options ("A or B", "A B C D") has no letter (`extract_letter`): 0.0."""
    n = len(completions)
    opts = _col({"options": options}, "options", n)
    out: list[float | None] = []
    for c, key, op in zip(completions, _col({"answer": answer}, "answer", n), opts):
        if not _is_letter_key(key):
            out.append(None)
            continue
        parsed = parse_response(c)
        n_opts = len(op) if op else 4
        letter = extract_letter(parsed.answer, n_opts, op or None)
        out.append(1.0 if letter == key.strip().upper() else 0.0)
    return out


@register_reward("valid_option")
def valid_option(completions: Sequence[str], answer: Sequence[str], options: Sequence | None = None,
                 **_: Any) -> list[float | None]:
    """1.0 when the answer span maps to one of the options (letter, option text or a near-copy), right
    or wrong; 0.0 when it maps to none; None when the key is not a letter (not a multiple-choice row)."""
    n = len(completions)
    out: list[float | None] = []
    for c, key, op in zip(completions, _col({"answer": answer}, "answer", n), _col({"options": options}, "options", n)):
        if not _is_letter_key(key):
            out.append(None)
            continue
        letter = extract_letter(parse_response(c).answer, len(op) if op else 4, op or None)
        out.append(0.0 if letter is None else 1.0)
    return out


@register_reward("numeric_accuracy")
def numeric_accuracy(completions: Sequence[str], answer: Sequence, rel_tol: float = 1e-2, abs_tol: float = 1e-6,
                     **_: Any) -> list[float | None]:
    """1.0 when the answer span's number is within `rel_tol` of the key; None when the key is no number."""
    out: list[float | None] = []
    for c, key in zip(completions, _col({"answer": answer}, "answer", len(completions))):
        target = parse_number(key) if not _is_letter_key(key) else None
        if target is None:
            out.append(None)
            continue
        got = parse_number(answer_span(c))
        out.append(1.0 if got is not None and math.isclose(got, target, rel_tol=rel_tol, abs_tol=abs_tol) else 0.0)
    return out


@register_reward("exact_match")
def exact_match(completions: Sequence[str], answer: Sequence, **_: Any) -> list[float | None]:
    """1.0 when the normalised answer span equals the normalised key."""
    return [None if key is None else float(normalise_text(answer_span(c)) == normalise_text(str(key)))
            for c, key in zip(completions, _col({"answer": answer}, "answer", len(completions)))]


@dataclass
class JudgeSettings:
    """Where the LLM judge lives (an OpenAI-compatible chat-completions server)."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout: float = 60.0
    concurrency: int = 8
    max_retries: int = 2


JUDGE_PROMPT = (
    "You grade answers to questions about a video. Reply with exactly one word: CORRECT if the "
    "candidate answer means the same as the reference answer, INCORRECT otherwise.\n\n"
    "Question: {question}\nReference answer: {reference}\nCandidate answer: {candidate}"
)


def judge_answers(settings: JudgeSettings, questions: Sequence[str], references: Sequence[str],
                  candidates: Sequence[str | None]) -> list[float | None]:
    """Ask the judge about each (question, reference, candidate); 1.0/0.0, None when the call failed.

    Uses lvr.llm's async OpenAI-compatible client (concurrency, retries, timeouts).
    """
    if not settings.model:
        raise ValueError("open-ended accuracy needs a judge: set reward.judge.model (and reward.judge.base_url)")
    cfg = BackendConfig.from_env(kind="openai", model=settings.model, base_url=settings.base_url,
                                 api_key=settings.api_key, timeout=settings.timeout,
                                 concurrency=settings.concurrency, max_retries=settings.max_retries,
                                 temperature=0.0, max_tokens=8)

    async def run() -> list[float | None]:
        backend = OpenAIBackend(cfg)

        async def one(q, ref, cand):
            if cand is None or not str(cand).strip():
                return 0.0
            msgs = [{"role": "user", "content": JUDGE_PROMPT.format(question=q, reference=ref, candidate=cand)}]
            try:
                res = await backend.chat(msgs, temperature=0.0, max_tokens=8)
            except BackendError:
                return None
            verdict = res.text.strip().upper()
            if verdict.startswith("INCORRECT"):
                return 0.0
            return 1.0 if verdict.startswith("CORRECT") else None

        try:
            return list(await asyncio.gather(*(one(q, r, c) for q, r, c in zip(questions, references, candidates))))
        finally:
            await backend.aclose()

    return run_coroutine(run())           # also from a notebook cell, where a loop already runs


@register_reward("open_accuracy")
def open_accuracy(completions: Sequence[str], answer: Sequence, question: Sequence[str] | None = None,
                  judge: JudgeSettings | None = None, **_: Any) -> list[float | None]:
    """LLM-judged accuracy of free-form answers (rows with a letter key are not applicable)."""
    n = len(completions)
    keys = _col({"answer": answer}, "answer", n)
    qs = _col({"question": question}, "question", n, "")
    rows = [i for i in range(n) if keys[i] is not None and not _is_letter_key(keys[i])]
    out: list[float | None] = [None] * n
    if rows:
        scores = judge_answers(judge or JudgeSettings(), [qs[i] for i in rows], [str(keys[i]) for i in rows],
                               [answer_span(completions[i]) for i in rows])
        for i, s in zip(rows, scores):
            out[i] = s
    return out


@register_reward("accuracy")
def accuracy(completions: Sequence[str], answer: Sequence, options: Sequence | None = None,
             question: Sequence[str] | None = None, judge: JudgeSettings | None = None,
             **kwargs: Any) -> list[float | None]:
    """Per row: MCQ letter match, numeric match, LLM judge (if configured) or normalised exact match."""
    n = len(completions)
    keys = _col({"answer": answer}, "answer", n)
    mcq = mcq_accuracy(completions, keys, options)
    num = numeric_accuracy(completions, keys)
    open_rows = [i for i in range(n) if mcq[i] is None and num[i] is None and keys[i] is not None]
    out: list[float | None] = [mcq[i] if mcq[i] is not None else num[i] for i in range(n)]
    if open_rows:
        sub = [completions[i] for i in open_rows]
        sub_keys = [keys[i] for i in open_rows]
        if judge is not None and judge.model:
            qs = _col({"question": question}, "question", n, "")
            scores = open_accuracy(sub, sub_keys, [qs[i] for i in open_rows], judge=judge)
        else:
            scores = exact_match(sub, sub_keys)
        for i, s in zip(open_rows, scores):
            out[i] = s
    return out


# ---------------------------------------------------------------------------- combining
@dataclass
class RewardOutput:
    total: list[float]
    components: dict[str, list[float | None]]

    def summary(self) -> dict[str, float]:
        """Mean and std of the total and of every component (over the rows where it applies)."""
        out = {"reward/mean": _mean(self.total), "reward/std": _std(self.total)}
        for name, vals in self.components.items():
            xs = [v for v in vals if v is not None]
            out[f"reward/{name}/mean"] = _mean(xs)
            out[f"reward/{name}/std"] = _std(xs)
        return out


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else float("nan")


def _std(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0 if xs else float("nan")
    m = _mean(xs)
    return float(math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)))


class RewardSet:
    """Several reward functions and their weights: total = Σ weight · component (None → 0).

    A function returning a dict contributes one component per key, each with the function's
    weight. A `judge` (JudgeSettings) is passed to every function as the `judge` keyword."""

    def __init__(self, functions: dict[str, float], *, judge: JudgeSettings | None = None,
                 extra_kwargs: dict | None = None):
        if not functions:
            raise ValueError("at least one reward function is needed")
        self.weights = dict(functions)
        self.fns = {name: get_reward(name) for name in functions}
        self.judge = judge
        self.extra_kwargs = dict(extra_kwargs or {})

    @classmethod
    def from_config(cls, weights: dict[str, float], judge: JudgeSettings | None = None) -> "RewardSet":
        return cls(weights, judge=judge)

    def __call__(self, completions: Sequence[str], **columns: Any) -> RewardOutput:
        n = len(completions)
        comps: dict[str, list[float | None]] = {}
        weight_of: dict[str, float] = {}
        for name, fn in self.fns.items():
            kwargs = dict(columns, **self.extra_kwargs)
            if self.judge is not None:
                kwargs.setdefault("judge", self.judge)
            try:
                res = fn(list(completions), **kwargs)
            except Exception as e:
                raise RuntimeError(f"reward function {name!r} failed: {type(e).__name__}: {e}") from e
            short = name.rsplit(":", 1)[-1]
            parts = res.items() if isinstance(res, dict) else [(short, res)]
            for comp, vals in parts:
                vals = list(vals)
                if len(vals) != n:
                    raise ValueError(f"reward function {name!r} returned {len(vals)} values for {n} completions")
                bad = [v for v in vals if v is not None and (not isinstance(v, (int, float)) or
                                                             not math.isfinite(float(v)))]
                if bad:
                    raise ValueError(f"reward function {name!r} returned non-finite/non-numeric values {bad[:3]}")
                comps[comp] = [None if v is None else float(v) for v in vals]
                weight_of[comp] = self.weights[name]
        total = [sum(weight_of[c] * (comps[c][i] or 0.0) for c in comps) for i in range(n)]
        return RewardOutput(total=total, components=comps)

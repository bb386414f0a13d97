"""Reasoning QA items from an event log: templates → drafts → balanced 4-option items.

    from lvr.synth.qa import generate_qa, solve
    items = generate_qa(log, QAConfig(), min_gap=10)   # dicts in the store's add_qa layout (no video_id)
    solve(item, log)                                   # the correct option text, recomputed from the log

Every item: category, question, options (4), answer (letter), reasoning (as if watching),
reasoning_raw (the paper's "From t1 to t2:" + bullets layout), start/end (the clips it needs),
meta {template, params, clips (>= 2 indices), evidence_times, answer_text, world_seed}.
The correct letters of a video are a shuffled, balanced deck (each letter n/4 times, the
remainder rotated by seed), so A-D are each ~25 % over any set of videos.
"""

from __future__ import annotations

import random

from . import qa_goal, qa_plot, qa_spatial, qa_temporal  # noqa: F401  (register the templates)
from .config import QAConfig
from .eventlog import EventLog
from .qa_core import TEMPLATES, Ctx, Draft, reasoning_raw, reasoning_watch

LETTERS = ("A", "B", "C", "D")
GENERATOR = "lvr.synth/1"


def templates_by_category() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, t in TEMPLATES.items():
        out.setdefault(t.category, []).append(name)
    return out


def _check_draft(d: Draft) -> str | None:
    opts = [d.answer, *(d.distractors or [])]
    if d.distractors is None or len(d.distractors) != 3:
        return "needs 3 distractors"
    if len({o.strip().lower() for o in opts}) != 4 or not all(o.strip() for o in opts):
        return f"options are not 4 distinct texts: {opts}"
    return None


def letter_deck(n: int, seed: int) -> list[str]:
    """n letters, each used n//4 times plus a rotated remainder, shuffled with the seed."""
    deck = list(LETTERS) * (n // 4) + [LETTERS[(seed + i) % 4] for i in range(n % 4)]
    random.Random(f"{seed}:letters").shuffle(deck)
    return deck


def drafts_for(log: EventLog, cfg: QAConfig, min_gap: float) -> list[Draft]:
    """Up to cfg.cap(minutes) drafts per template whose facts span >= cfg.min_clips clips."""
    per = cfg.cap(log.duration / 60.0)
    out: list[Draft] = []
    for name, tpl in TEMPLATES.items():
        if tpl.category not in cfg.categories:
            continue
        ctx = Ctx(log, random.Random(f"{log.seed}:{name}"), min_gap)
        questions: set[str] = set()
        n = 0
        for d in tpl.gen(ctx):
            problem = _check_draft(d)
            if problem:
                raise AssertionError(f"template {name} (seed {log.seed}): {problem}")
            clips = {log.clip_of(t) for t in d.evidence}
            if len(clips) < cfg.min_clips or d.question in questions:
                continue
            d.template, d.category = name, tpl.category
            questions.add(d.question)
            out.append(d)
            n += 1
            if n >= per:
                break
    return out


def generate_qa(log: EventLog, cfg: QAConfig | None = None, min_gap: float = 10.0) -> list[dict]:
    cfg = cfg or QAConfig()
    drafts = drafts_for(log, cfg, min_gap)
    deck = letter_deck(len(drafts), log.seed)
    items = []
    for i, (d, letter) in enumerate(zip(drafts, deck)):
        rng = random.Random(f"{log.seed}:{d.template}:{i}")
        options = list(d.distractors)
        rng.shuffle(options)
        k = LETTERS.index(letter)
        options.insert(k, d.answer)
        clips = sorted({log.clip_of(t) for t in d.evidence})
        items.append(
            {
                "category": d.category,
                "question": d.question,
                "options": options,
                "answer": letter,
                "reasoning": reasoning_watch(log, d.facts, d.conclusion, rng),
                "reasoning_raw": reasoning_raw(log, d.facts, d.conclusion),
                "start": log.clip_range(clips[0])[0],
                "end": log.clip_range(clips[-1])[1],
                "meta": {
                    "template": d.template,
                    "params": d.params,
                    "clips": clips,
                    "evidence_times": sorted(round(t, 2) for t in d.evidence),
                    "answer_text": d.answer,
                    "conclusion": d.conclusion,
                    "world_seed": log.seed,
                    "generator": GENERATOR,
                },
            }
        )
    return items


def solve(item: dict, log: EventLog) -> str:
    """The correct option text of an item, recomputed from the log with the item's template solver."""
    meta = item.get("meta") or {}
    name = meta.get("template")
    if name not in TEMPLATES:
        raise KeyError(f"item {item.get('id', '?')}: unknown synth template {name!r}")
    return TEMPLATES[name].solve(log, meta.get("params") or {})

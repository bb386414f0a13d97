"""The machinery every question template shares: drafts, facts, reasoning layouts, options.

A template is a generator `gen(ctx) -> Iterator[Draft]` plus a solver `solve(log, params) -> str`
(the correct option's text, recomputed from the event log alone; the oracle in baselines.py
calls it on a reloaded log). Register with `@template(name, category, solve)`.

Reasoning comes in the paper's two forms, built from the same facts:
  reasoning_raw   "From 00:10 to 00:20:" headers (one per clip or time range), "- " bullets,
                  then "Conclusion: …" — the layout `lvr.datagen.parsing` reads;
  reasoning       the same facts as prose "as if watching" (no timestamps, no step labels).

Distractors come from the same video and are drawn with the same distribution as correct
answers (`weighted_distractors`, `count_distractors`), so option wording alone says nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .eventlog import EventLog
from .phrases import event_text, fmt_time, ordinal, sentence

MIN_STAY = 4.0  # seconds: shorter visits are pass-throughs, never asked about
STABLE = 3.0  # seconds a state must hold around a reference moment
MAX_ORDINAL = 3  # "for the third time" at most
REF_TYPES = ("pick_up", "drop", "hand_over", "hide", "find", "open")


@dataclass
class Fact:
    t0: float
    text: str  # a present-tense clause, e.g. "the red robot picks up the green key"
    t1: float | None = None  # a time range fact (e.g. a stay); None: a moment


@dataclass
class Draft:
    template: str
    category: str
    question: str
    answer: str
    distractors: list[str]
    facts: list[Fact]
    conclusion: str
    params: dict
    evidence: list[float] = field(default_factory=list)  # times of the facts the answer needs


@dataclass
class Template:
    name: str
    category: str
    gen: Callable[[Ctx], Iterator[Draft]]
    solve: Callable[[EventLog, dict], str]
    until_end: bool = False  # the answer can change until the video ends (a final state, a count, a longest)


TEMPLATES: dict[str, Template] = {}


def template(name: str, category: str, solve: Callable[[EventLog, dict], str], zone: bool = False,
             until_end: bool = False):
    """Register a generator; `zone=True`: `solve` returns a zone name, the option reads "the <zone>";
    `until_end=True`: a watcher knows the answer only at the end (a final state, a count, a longest), not once
    the facts it needs have shown (lvr.synth.visibility's `to_evidence` reasoning stops there otherwise)."""

    def deco(fn):
        if name in TEMPLATES:
            raise ValueError(f"template {name!r} registered twice")
        TEMPLATES[name] = Template(
            name, category, fn, (lambda log, p: zone_option(solve(log, p))) if zone else solve, until_end
        )
        return fn

    return deco


def zone_option(zone: str) -> str:
    return f"the {zone}"


class Ctx:
    """What a template generator sees: the log, its own seeded rng and the difficulty knobs."""

    def __init__(self, log: EventLog, rng: random.Random, min_gap: float):
        self.log, self.rng, self.min_gap = log, rng, min_gap
        self._stays: dict[str, list[dict]] = {}
        self._phrase_index: dict[str, list[int]] = {}
        for e in log.events:
            if e["type"] in REF_TYPES or e["type"] == "collide":
                self._phrase_index.setdefault(past(log, e), []).append(e["id"])

    def stays(self, agent: str) -> list[dict]:
        if agent not in self._stays:
            self._stays[agent] = self.log.stays(agent, MIN_STAY)
        return self._stays[agent]

    def ref(self, ev: dict) -> str | None:
        """A unique past-tense reference to an event ("the red robot dropped the green key for the
        second time"), or None when it would need an ordinal beyond MAX_ORDINAL."""
        p = past(self.log, ev)
        ids = self._phrase_index.get(p, [ev["id"]])
        if len(ids) == 1:
            return p
        k = ids.index(ev["id"]) + 1
        return f"{p} for the {ordinal(k)} time" if k <= MAX_ORDINAL else None

    def stable_zone(self, agent: str, t: float) -> dict | None:
        """The stay of `agent` covering t when it began >= STABLE s before and lasts >= STABLE s after."""
        for s in self.log.stays(agent):
            if s["start"] <= t - STABLE and s["end"] >= t + STABLE:
                return s
        return None

    def shuffled(self, items: list) -> list:
        items = list(items)
        self.rng.shuffle(items)
        return items

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)


def past(log: EventLog, ev: dict) -> str:
    return event_text(log, ev, tense="past")


def present(log: EventLog, ev: dict, where: bool = True) -> str:
    return event_text(log, ev, tense="present", where=where)


# ---------------------------------------------------------------------- distractors
def weighted_distractors(
    answer: str, pool: dict[str, float], rng: random.Random, k: int = 3
) -> list[str] | None:
    """k distinct options from `pool` (text -> weight) other than `answer`, drawn without replacement
    with the given weights (use the answers' own distribution). None when the pool is too small."""
    cands = [(t, w) for t, w in pool.items() if t != answer and w > 0]
    if len(cands) < k:
        return None
    out = []
    for _ in range(k):
        total = sum(w for _, w in cands)
        r = rng.random() * total
        acc = 0.0
        for i, (t, w) in enumerate(cands):
            acc += w
            if r <= acc or i == len(cands) - 1:
                out.append(t)
                cands.pop(i)
                break
    return out


def uniform_distractors(answer: str, pool: list[str], rng: random.Random, k: int = 3) -> list[str] | None:
    return weighted_distractors(answer, {p: 1.0 for p in pool}, rng, k)


def zone_distractors(log: EventLog, zone: str, rng: random.Random) -> list[str]:
    return [zone_option(z) for z in uniform_distractors(zone, log.zone_names, rng)]


def zone_draft(ctx: Ctx, zone: str, question: str, facts: list[Fact], conclusion: str, params: dict,
               evidence: list[float]) -> Draft:
    """A draft whose answer is a zone ("the kitchen"), the distractors being the video's other zones."""
    return Draft("", "", question, zone_option(zone), zone_distractors(ctx.log, zone, ctx.rng), facts, conclusion,
                 params, evidence)


def count_distractors(n: int, lam: float, rng: random.Random, low: int = 2) -> list[str]:
    """Three other counts drawn like the answers are: from a Poisson(lam) truncated at `low`, where
    `lam` is estimated from the *other* candidates of the same video (leave-one-out), so neither
    the values nor the answer's rank among the four options give the answer away."""
    import math

    lam = max(float(lam), low + 0.5)
    hi = int(max(n, lam) * 2 + 12)
    pmf = {v: math.exp(v * math.log(lam) - lam - math.lgamma(v + 1)) + 1e-9 for v in range(low, hi)}
    return [str(v) for v in weighted_distractors(n, pmf, rng)]


# ---------------------------------------------------------------------- reasoning
def _fact_range(log: EventLog, f: Fact) -> tuple[float, float]:
    if f.t1 is not None:
        return f.t0, f.t1
    return log.clip_range(log.clip_of(f.t0))


def reasoning_raw(log: EventLog, facts: list[Fact], conclusion: str) -> str:
    """The caption-grounded layout: a "From t1 to t2:" header per time range, "- " bullets, Conclusion."""
    lines: list[str] = []
    last = None
    for f in sorted(facts, key=lambda f: (f.t0, f.t1 if f.t1 is not None else f.t0)):
        r = _fact_range(log, f)
        if r != last:
            lines.append(f"From {fmt_time(r[0])} to {fmt_time(r[1])}:")
            last = r
        lines.append(f"- {sentence(f.text)}")
    lines.append(f"Conclusion: {sentence(conclusion)}")
    return "\n".join(lines)


_SAME = ("Right after that,", "Then", "Soon after,", "Next,")
_LATER = ("Later,", "Some time later,", "After a while,", "Further on,", "Later on,")
_FIRST = ("First,", "At one point,", "I can see that", "Early on,")


def reasoning_watch(log: EventLog, facts: list[Fact], conclusion: str, rng: random.Random) -> str:
    """The same facts as prose, as if describing the video while watching it."""
    out = []
    prev = None
    for i, f in enumerate(sorted(facts, key=lambda f: (f.t0, f.t1 if f.t1 is not None else f.t0))):
        if i == 0:
            lead = rng.choice(_FIRST)
        elif prev is not None and log.clip_of(f.t0) == log.clip_of(prev.t0):
            lead = rng.choice(_SAME)
        else:
            lead = rng.choice(_LATER)
        out.append(sentence(f"{lead} {f.text}"))
        prev = f
    out.append(sentence(f"So {conclusion}"))
    return " ".join(out)

"""What the sampled frames of a synthetic video show: the ideal frame reader, and reasoning grounded in it.

    from lvr.synth.visibility import answerable, frame_times, frame_reasoning, item_answerable
    times = frame_times(video_path, 8)               # the times of the 8 frames a model is shown
    answerable(item_meta, log, times)                # True: every fact the answer needs is visible
    frame_reasoning(log, item_meta, times, conclusion)   # what those frames show of the item's entities
    check_claim(log, "red robot kitchen with green key", t)   # [("robot zone", True), ("carrying", False)]

A model shown N frames sees the world only at those N moments. An item (lvr.synth.qa: `meta.evidence_times`,
`meta.params`) needs one fact per evidence time e about a few entities (the robots and objects of the
events at e, or else those its params name). The ideal reader sees that fact when
  * a frame shows the state right after e: the nearest frame's snapshot of those entities (zone, what
    a robot holds, where an object is) equals the snapshot just after e; or
  * the frames around e show it happen: the last frame before e shows the state just before e, the first
    frame after e the state just after, and the two differ (a change seen, not guessed).
A hidden (or not yet appeared) object is not drawn (lvr.synth.render): a frame shows only that it is not there,
never where it was hidden, and a fact none of whose entities is drawn right after e is not seen.
An item is answerable at N frames when every evidence time is seen. The rule is fixed in advance and
looks only at the event log and the frame times, never at a model's answers: lvr.eval.ideal_reader scores
the "answerable at N frames" subset and the ceiling, and training drops items the frames cannot support
(`data.require_answerable`). `frame_reasoning` writes the chain of thought the same frames support: one
line per frame where the item's robots and objects change, stamped with the frame's time, then the
conclusion (the paper's reasoning is grounded in captions a VLM wrote while watching; this is its
stand-in, grounded in what the sampled frames show).
"""
from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path

from lvr.video.probe import probe_with_table
from lvr.video.sampling import SamplingSpec, plan_indices

from .eventlog import EventLog
from .phrases import fmt_time, sentence
from .qa import TEMPLATES

EPS = 0.01
FRAME_LINES = ("frames", "every_frame", "to_evidence")    # the layouts of `frame_reasoning`


def frame_times(video_path: str | Path, num_frames: int) -> list[float]:
    """The display times of the frames `SamplingSpec(num_frames=N)` picks from the whole video."""
    return list(_frame_times(str(video_path), int(num_frames)))


@lru_cache(maxsize=4096)
def _frame_times(video_path: str, num_frames: int) -> tuple[float, ...]:
    info, table = probe_with_table(video_path)
    idx = plan_indices(info, table, SamplingSpec(num_frames=num_frames))
    return tuple(float(table.times[i]) for i in idx)


def _ids(value, known: set[str]) -> set[str]:
    if isinstance(value, str):
        return {value} if value in known else set()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return set().union(*(_ids(v, known) for v in value)) if value else set()
    return set()


def _event_entities(ev: dict, known: set[str]) -> set[str]:
    return {ev[k] for k in ("agent", "object", "other") if ev.get(k) in known}


def entities_at(log, params: dict, t: float) -> set[str]:
    """The robots and objects the fact at time t is about: those of the events at t, else the params'."""
    known = set(log.agent_ids) | set(log.object_ids)
    at_t = [e for e in log.events if abs(e["t"] - t) <= EPS]
    named = _ids(params, known)
    for ev_id in params.get("events", []) if isinstance(params, dict) else []:
        if isinstance(ev_id, int) and 0 <= ev_id < len(log.events):
            named |= _event_entities(log.event(ev_id), known)
    from_events = set().union(*(_event_entities(e, known) for e in at_t)) if at_t else set()
    return (from_events & named) or from_events or named


def drawn(log, ent: str, t: float) -> bool:
    """Does a frame at t draw `ent`: every robot, and an object on the floor or carried (not hidden, not absent)."""
    return ent in log.agent_ids or log.object_state_at(ent, t)[0] in ("floor", "held")


def snapshot(log, entities: set[str], t: float) -> tuple:
    """What a frame at t shows of the entities: each robot's zone and load, each drawn object's place, and of an
    object not drawn only that it is not there."""
    out = []
    for ent in sorted(entities):
        if ent in log.agent_ids:
            out.append((ent, log.zone_at(ent, max(t, 0.0)), log.carrying_at(ent, t)))
        elif drawn(log, ent, t):
            out.append((ent, log.object_state_at(ent, t), log.object_zone_at(ent, max(t, 0.0))))
        else:
            out.append((ent, "not in view"))
    return tuple(out)


def showing_frame(log, entities: set[str], t: float, times: list[float]) -> float | None:
    """The frame among `times` (sorted) that shows the fact at t about `entities`: the nearest frame when it shows
    the state right after t, else the first frame after t when the frames around t show the change; None: unseen."""
    if not any(drawn(log, e, t + EPS) for e in entities):      # only hidden objects: nothing to read
        return None
    after = snapshot(log, entities, t + EPS)
    nearest = min(times, key=lambda f: abs(f - t))
    if snapshot(log, entities, nearest) == after:
        return nearest
    i = bisect_left(times, t)
    if i == 0 or i == len(times):
        return None
    before_frame, after_frame = snapshot(log, entities, times[i - 1]), snapshot(log, entities, times[i])
    changed = (before_frame != after_frame and after_frame == after
               and before_frame == snapshot(log, entities, t - EPS))
    return times[i] if changed else None


def seen(log, entities: set[str], t: float, times: list[float]) -> bool:
    """Is the fact at t about `entities` visible in frames at `times` (sorted)?"""
    if not entities or not times:
        return bool(times) and not entities
    return showing_frame(log, entities, t, times) is not None


def answerable(meta: dict, log, times: list[float]) -> bool:
    """Every evidence time of a synthetic item is seen in the frames at `times`."""
    params = meta.get("params") or {}
    evidence = meta.get("evidence_times") or []
    times = sorted(times)
    return bool(evidence) and all(seen(log, entities_at(log, params, t), t, times) for t in evidence)


@lru_cache(maxsize=512)
def event_log(video_path: str):
    """The event log beside a synthetic video (`x.mp4` → `x.events.json`), or None for a real video."""
    p = Path(video_path)
    log_path = p.with_name(p.stem + ".events.json")
    return EventLog.load(log_path) if log_path.is_file() else None


def item_answerable(item, num_frames: int) -> bool | None:
    """For a TrainItem-like object (video_path, meta): answerable at N frames; None if it has no event log."""
    log = event_log(str(item.video_path))
    if log is None or not (item.meta or {}).get("evidence_times"):
        return None
    return answerable(item.meta, log, frame_times(item.video_path, num_frames))


def item_entities(log, meta: dict) -> set[str]:
    """Every robot and object an item's evidence is about."""
    params = meta.get("params") or {}
    return set().union(*(entities_at(log, params, t) for t in meta.get("evidence_times") or [])) \
        if meta.get("evidence_times") else set()


def _short(log, ent: str) -> str:
    return log.name(ent).removeprefix("the ")


def _clause(log, ent: str, t: float, entities: set[str]) -> str | None:
    """"red robot kitchen with green key", "grey ring hall", "grey ring with red robot" (terse: every
    token is one the model must read off a frame, and eval generation stays short)."""
    if ent in log.agent_ids:
        held = log.carrying_at(ent, t)
        return f"{_short(log, ent)} {log.zone_at(ent, max(t, 0.0))}" + (f" with {_short(log, held)}" if held else "")
    state = log.object_state_at(ent, t)
    if state[0] == "held":                            # said with its carrier when the carrier is listed
        return None if state[1] in entities else f"{_short(log, ent)} with {_short(log, state[1])}"
    return f"{_short(log, ent)} {state[1]}" if state[0] == "floor" else None


def evidence_end(log, meta: dict, times: list[float]) -> float:
    """The frame a watcher can answer at: the last frame that shows one of the item's evidence facts; the last
    frame when its template's answer can change until the video ends (final states, counts, longests) or when
    some fact is not shown."""
    times = sorted(times)
    template = TEMPLATES.get(meta.get("template"))
    params, evidence = meta.get("params") or {}, meta.get("evidence_times") or []
    if template is None or template.until_end or not evidence:
        return times[-1]
    shown = [showing_frame(log, ents, t, times) if (ents := entities_at(log, params, t)) else None for t in evidence]
    return times[-1] if None in shown else max(shown)


def frame_reasoning(log, meta: dict, times: list[float], conclusion: str, lines: str = "frames") -> str:
    """What the frames show of the item's robots and objects, then "So <conclusion>.". `lines` (FRAME_LINES):
    frames, the first frame in full ("00:04: red robot kitchen with green key; grey ring hall."), then one line
    per frame where some of them changed, naming only those (a robot and what it holds change together);
    every_frame, one line per frame, in order, each naming all of them (a reader walks the frames instead of
    choosing them); to_evidence, every_frame's lines up to the frame that shows the last fact the answer needs
    (`evidence_end`), so the conclusion reads the line just written, the way a final state reads the last frame."""
    if lines not in FRAME_LINES:
        raise ValueError(f"frame_reasoning: lines={lines!r}, expected one of {FRAME_LINES}")
    entities = sorted(item_entities(log, meta), key=lambda e: (e not in log.agent_ids, e))
    ents, every = set(entities), lines != "frames"
    stop = evidence_end(log, meta, times) if lines == "to_evidence" else max(times)
    out, last = [], {}
    for t in sorted(t for t in times if t <= stop):
        view = {e: snapshot(log, {e}, t) for e in entities}
        changed = entities if every else [e for e in entities if view[e] != last.get(e)]
        if not changed:
            continue
        carriers = {st[1] for e in changed if e not in log.agent_ids and (st := log.object_state_at(e, t))[0] == "held"}
        named = [e for e in entities if e in changed or e in carriers]
        last = view
        clauses = [c for e in named if (c := _clause(log, e, t, ents))]
        out.append(f"{fmt_time(t)}: {'; '.join(clauses) or 'none of them in view'}.")
    out.append(sentence(f"So {conclusion}"))
    return "\n".join(out)


CLAIM_KINDS = ("robot zone", "carrying", "object place", "unknown")


def check_claim(log, clause: str, t: float) -> list[tuple[str, bool]]:
    """What one clause of a reasoning line claims about time t, each claim with whether it is true: a robot's
    clause ("red robot kitchen with green key") makes a zone claim and a carrying claim, an object's ("grey ring
    hall", "grey ring with red robot") a place claim (true only while the object is drawn there); a clause that
    names nothing of this world is one false "unknown" claim; "none of them in view" claims nothing. The
    inverse of `frame_reasoning`'s clauses: every clause it writes checks true."""
    clause = clause.strip().rstrip(".")
    if not clause or clause == "none of them in view":
        return []
    names = {_short(log, e): e for e in (*log.agent_ids, *log.object_ids)}
    ent = next((names[n] for n in sorted(names, key=len, reverse=True) if clause.startswith(n + " ")), None)
    if ent is None:
        return [("unknown", False)]
    if ent in log.agent_ids:
        zone, _, held = clause[len(_short(log, ent)) + 1:].partition(" with ")
        return [("robot zone", zone == log.zone_at(ent, max(t, 0.0))),
                ("carrying", held in names and names[held] == log.carrying_at(ent, t) if held
                 else log.carrying_at(ent, t) is None)]
    return [("object place", clause == _clause(log, ent, t, set()))]


_SO = re.compile(r"(?:^|[.!?]\s+)So (.+?)\s*$", re.S)


def item_conclusion(meta: dict, reasoning: str) -> str:
    """The item's conclusion: `meta.conclusion`, else the "So …" sentence that ends its reasoning."""
    if meta.get("conclusion"):
        return meta["conclusion"]
    m = _SO.search(reasoning or "")
    return m.group(1).rstrip(".") if m else ""


def grounded_reasoning(item, times: list[float], lines: str = "frames") -> str | None:
    """`frame_reasoning` for a TrainItem-like object (video_path, meta, reasoning); None without an event log."""
    log = event_log(str(item.video_path))
    if log is None or not (item.meta or {}).get("evidence_times"):
        return None
    return frame_reasoning(log, item.meta, times, item_conclusion(item.meta, item.reasoning), lines)

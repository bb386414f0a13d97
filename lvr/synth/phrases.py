"""Wording shared by captions and questions: event sentences, time stamps, ordinals, counts.

fmt_time(75)                        -> "01:15"   (lvr.video.timefmt, re-exported for the synth modules)
event_text(log, ev, tense="past")   -> "the red robot picked up the green key"
event_text(log, ev, where=True)     -> "the red robot picks up the green key in the garage"
ordinal(2), times_word(3)           -> "second", "3 times"
"""

from __future__ import annotations

# the QA layout's time stamps, re-exported for the synth modules (its one home is lvr.video.timefmt)
from lvr.video.timefmt import fmt_time as fmt_time


def cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def sentence(text: str) -> str:
    text = cap(text.strip())
    return text if text.endswith((".", "!", "?")) else text + "."


def ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")


def times_word(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


_PAST = {
    "pick_up": "picked up",
    "drop": "dropped",
    "hide": "hid",
    "find": "took",
    "open": "opened",
    "hand_over": "handed",
    "collide": "bumped into",
    "enter": "entered",
    "leave": "left",
}
_PRESENT = {
    "pick_up": "picks up",
    "drop": "drops",
    "hide": "hides",
    "find": "takes",
    "open": "opens",
    "hand_over": "hands",
    "collide": "bumps into",
    "enter": "enters",
    "leave": "leaves",
}


def event_text(log, ev: dict, tense: str = "present", where: bool = False) -> str:
    """One event as a clause, e.g. "the red robot drops the green key (in the hall)"."""
    verbs = _PAST if tense == "past" else _PRESENT
    typ = ev["type"]
    a = log.name(ev["agent"]) if ev.get("agent") else None
    o = log.name(ev["object"]) if ev.get("object") else None
    z = ev.get("zone")
    loc = f" in the {z}" if where and z else ""
    if typ in ("pick_up", "drop"):
        return f"{a} {verbs[typ]} {o}{loc}"
    if typ == "hide":
        return f"{a} {verbs[typ]} {o} in {ev['spot']}" + (f" in the {z}" if where else "")
    if typ == "find":
        return f"{a} {verbs[typ]} {o} out of {ev['spot']}" + (f" in the {z}" if where else "")
    if typ == "open":
        return f"{a} {verbs[typ]} the chest" + (f" with {o}" if o else "") + loc
    if typ == "hand_over":
        return f"{a} {verbs[typ]} {o} to {log.name(ev['other'])}{loc}"
    if typ == "collide":
        return f"{a} {verbs[typ]} {log.name(ev['other'])}{loc}"
    if typ in ("enter", "leave"):
        return f"{a} {verbs[typ]} the {z}"
    if typ == "appear":
        if ev.get("agent") and not o:
            return f"{a} {'was' if tense == 'past' else 'is'} in the {z}"
        if o == "the gold coin":
            return f"a gold coin {'appeared' if tense == 'past' else 'appears'} next to the chest"
        return f"{o} {'appeared' if tense == 'past' else 'appears'}{loc}"
    if typ == "disappear":
        return f"{o} {'disappeared' if tense == 'past' else 'disappears'} from view"
    raise ValueError(f"no wording for event type {typ!r} (event {ev.get('id')})")

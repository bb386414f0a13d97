"""Ground-truth clip captions: one varied, natural paragraph per 10 s clip of a synthetic video.

    from lvr.synth.captions import clip_captions
    clip_captions(log)   # [{"start": 0.0, "end": 10.0, "caption": "The red robot stands in the kitchen ..."}]

Each caption says what is visible when the clip starts (where every robot is, what it carries,
which objects lie where, whether the chest is open) and then what happens, in order, with the
wording drawn from several templates per event type (seeded, so the same log gives the same
captions). Zone changes of one robot at one moment become "moves from the garden into the hall".
"""

from __future__ import annotations

import random

from .eventlog import EventLog
from .phrases import cap, sentence

_PICK = ("{a} picks up {o}", "{a} grabs {o}", "{a} lifts {o} off the floor", "{a} takes {o}")
_DROP = ("{a} puts down {o}", "{a} drops {o}", "{a} sets {o} down", "{a} leaves {o} on the floor")
_GIVE = ("{a} hands {o} to {b}", "{a} gives {o} to {b}", "{a} passes {o} over to {b}")
_BUMP = ("{a} bumps into {b}", "{a} and {b} collide", "{a} runs into {b}")
_HIDE = (
    "{a} hides {o} in {s}, and it vanishes from view",
    "{a} tucks {o} away in {s}; it is no longer visible",
    "{a} stashes {o} in {s}",
)
_FIND = ("{a} takes {o} out of {s}", "{a} pulls {o} out of {s}", "{a} retrieves {o} from {s}")
_OPEN = ("{a} opens the chest with {o}", "{a} unlocks the chest using {o}")
_COIN = ("a gold coin appears next to the chest", "a shiny gold coin pops out beside the chest")
_MOVE = (
    "{a} moves from the {z1} into the {z2}",
    "{a} walks out of the {z1} and into the {z2}",
    "{a} crosses from the {z1} to the {z2}",
    "{a} heads into the {z2}",
)
_WHERE = ("{a} is in the {z}", "{a} stands in the {z}", "{a} can be seen in the {z}")
_HOLD = ("{a} is in the {z} carrying {o}", "{a} is in the {z}, holding {o}", "{a} carries {o} in the {z}")
_JOIN = ("Then", "After that,", "Next,", "Soon after,", "A moment later,")
_QUIET = (
    "Nothing else changes during these seconds.",
    "The robots keep to themselves for now.",
    "For a while nothing much happens.",
)


def _scene(log: EventLog, t: float, rng: random.Random, first: bool) -> list[str]:
    parts = []
    for a in log.agent_ids:
        z, held = log.zone_at(a, t), log.carrying_at(a, t)
        tpl = rng.choice(_HOLD if held else _WHERE)
        parts.append(tpl.format(a=log.name(a), z=z, o=log.name(held) if held else ""))
    out = []
    if first:
        names = log.zone_names
        out.append(
            f"The scene is a floor plan with {len(names)} rooms: the {', the '.join(names[:-1])} and the "
            f"{names[-1]}."
        )
    out.append(sentence(", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]))
    lying: dict[str, list[str]] = {}
    for o in log.object_ids:
        st = log.object_state_at(o, t)
        if st[0] == "floor":
            lying.setdefault(st[1], []).append(log.name(o))
    if lying:
        bits = [f"{' and '.join(v)} in the {z}" for z, v in lying.items()]
        lead = rng.choice(("On the floor:", "Lying around:", "Visible on the floor:"))
        out.append(sentence(f"{lead} {'; '.join(bits)}"))
    if log.layout.chest:
        z = log.layout.chest["zone"]
        out.append(
            f"The chest in the {z} is open."
            if log.chest_open_at(t)
            else rng.choice((f"A locked chest stands in the {z}.", f"The chest in the {z} is still closed."))
        )
    return out


def _clauses(log: EventLog, start: float, end: float, rng: random.Random) -> list[str]:
    evs = [e for e in log.events if start <= e["t"] < end and not (e["t"] == 0 and e["type"] == "appear")]
    out, skip = [], set()
    for i, e in enumerate(evs):
        if e["id"] in skip:
            continue
        typ, a = e["type"], log.name(e["agent"]) if e.get("agent") else ""
        o = log.name(e["object"]) if e.get("object") else ""
        if typ == "leave":
            nxt = next(
                (
                    x
                    for x in evs[i + 1 :]
                    if x["type"] == "enter" and x.get("agent") == e["agent"] and x["t"] == e["t"]
                ),
                None,
            )
            if nxt is not None:
                skip.add(nxt["id"])
                out.append(rng.choice(_MOVE).format(a=a, z1=e["zone"], z2=nxt["zone"]))
            else:
                out.append(f"{a} leaves the {e['zone']}")
        elif typ == "enter":
            out.append(f"{a} enters the {e['zone']}")
        elif typ == "pick_up":
            out.append(rng.choice(_PICK).format(a=a, o=o) + f" in the {e['zone']}")
        elif typ == "drop":
            out.append(rng.choice(_DROP).format(a=a, o=o) + f" in the {e['zone']}")
        elif typ == "hand_over":
            out.append(rng.choice(_GIVE).format(a=a, o=o, b=log.name(e["other"])))
        elif typ == "collide":
            out.append(rng.choice(_BUMP).format(a=a, b=log.name(e["other"])) + f" in the {e['zone']}")
        elif typ == "hide":
            out.append(rng.choice(_HIDE).format(a=a, o=o, s=e["spot"]))
        elif typ == "find":
            out.append(rng.choice(_FIND).format(a=a, o=o, s=e["spot"]))
        elif typ == "open":
            out.append(rng.choice(_OPEN).format(a=a, o=o or "a key"))
        elif typ == "appear" and e.get("object") == "gold-coin":
            out.append(rng.choice(_COIN))
    return out


def clip_caption(log: EventLog, i: int, rng: random.Random) -> str:
    start, end = log.clip_range(i)
    text = _scene(log, start, rng, first=(i == 0))
    clauses = _clauses(log, start, end, rng)
    if not clauses:
        text.append(rng.choice(_QUIET))
    for k in range(0, len(clauses), 2):
        pair = clauses[k : k + 2]
        body = (
            pair[0]
            if len(pair) == 1
            else f"{pair[0]}, and {pair[1]}"
            if rng.random() < 0.5
            else f"{pair[0]}; then {pair[1]}"
        )
        lead = "" if k == 0 else rng.choice(_JOIN) + " "
        text.append(sentence(lead + body) if lead else sentence(cap(body)))
    return " ".join(text)


def clip_captions(log: EventLog) -> list[dict]:
    rng = random.Random(f"{log.seed}:captions")
    return [
        {"start": s, "end": e, "caption": clip_caption(log, i, rng)} for i, (s, e) in enumerate(log.clips())
    ]

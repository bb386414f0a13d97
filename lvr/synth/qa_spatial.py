"""Spatial questions: where robots and objects were at a given moment, relative positions, places.

Templates: agent_zone_at, object_zone_at, carrying_at, relative_position, hide_place,
final_zone, pickup_zone_of.
Each "at a moment" question is anchored on another robot's action and asks about a state that
began in a different clip (so it must be remembered), and that holds for a few seconds around it.
"""

from __future__ import annotations

from .phrases import cap
from .qa_core import (
    STABLE,
    Ctx,
    Draft,
    Fact,
    present,
    template,
    uniform_distractors,
    weighted_distractors,
    zone_draft,
)

_DIRECTIONS = ("to its left", "to its right", "above it", "below it")


def _anchors(ctx: Ctx):
    """Reference events with a unique wording, in random order."""
    log = ctx.log
    for e in ctx.shuffled(
        [e for e in log.events if e["type"] in ("pick_up", "drop", "hand_over", "hide", "find", "open")]
    ):
        ref = ctx.ref(e)
        if ref is not None:
            yield e, ref


def _solve_agent_zone(log, p):
    return log.zone_at(p["agent"], log.event(p["event"])["t"])


@template("agent_zone_at", "spatial", _solve_agent_zone, zone=True)
def agent_zone_at(ctx: Ctx):
    log = ctx.log
    for e, ref in _anchors(ctx):
        for b in ctx.shuffled([a for a in log.agent_ids if a not in (e.get("agent"), e.get("other"))]):
            stay = ctx.stable_zone(b, e["t"])
            if stay is None or log.clip_of(stay["start"]) == log.clip_of(e["t"]):
                continue
            zone, nb = stay["zone"], log.name(b)
            q = ctx.pick(
                [
                    f"Which zone was {nb} in when {ref}?",
                    f"Where was {nb} at the moment {ref}?",
                    f"When {ref}, in which zone could {nb} be seen?",
                ]
            )
            facts = [
                Fact(stay["start"], f"{nb} walks into the {zone}"),
                Fact(e["t"], f"{present(log, e)}, while {nb} is still in the {zone}"),
            ]
            yield zone_draft(
                ctx, zone, q, facts,
                f"{nb} was in the {zone} when {ref}", {"agent": b, "event": e["id"]}, [stay["start"], e["t"]]
            )
            break


def _placed(log, obj, t):
    """The event that left `obj` lying where it is at t (drop or initial appear), if it is on the floor."""
    last = None
    for e in log.select(obj=obj, t1=t):
        last = e
    if (
        last is None
        or last["type"] not in ("drop", "appear")
        or (last["type"] == "appear" and last.get("agent"))
    ):
        return None
    return last


def _solve_object_zone(log, p):
    st = log.object_state_at(p["object"], log.event(p["event"])["t"])
    if st[0] != "floor":
        raise ValueError(f"{p['object']} is not on the floor at event {p['event']}")
    return st[1]


@template("object_zone_at", "spatial", _solve_object_zone, zone=True)
def object_zone_at(ctx: Ctx):
    log = ctx.log
    for e, ref in _anchors(ctx):
        for o in ctx.shuffled([o for o in log.object_ids if o != e.get("object")]):
            d = _placed(log, o, e["t"])
            nxt = log.select(obj=o, t0=e["t"])
            if (
                d is None
                or d["t"] > e["t"] - STABLE
                or (nxt and nxt[0]["t"] < e["t"] + STABLE)
                or log.clip_of(d["t"]) == log.clip_of(e["t"])
            ):
                continue
            zone, no = d["zone"], log.name(o)
            q = ctx.pick(
                [f"In which zone was {no} lying when {ref}?", f"Where was {no} at the moment {ref}?"]
            )
            facts = [
                Fact(d["t"], present(log, d)),
                Fact(e["t"], f"{present(log, e)}; {no} still lies in the {zone}"),
            ]
            yield zone_draft(
                ctx, zone, q, facts,
                f"{no} was lying in the {zone} when {ref}", {"object": o, "event": e["id"]}, [d["t"], e["t"]]
            )
            break


def _solve_carrying(log, p):
    return log.name(log.carrying_at(p["agent"], log.event(p["event"])["t"]))


def _carry_weights(log) -> dict[str, float]:
    """Seconds each object spends carried (outside the chest story): how often it is the answer."""
    w = {log.name(o): 0.0 for o in log.object_ids}
    for s in log.events:
        if s["type"] in ("pick_up", "find", "hand_over") and not _chest_carry(log, s):
            holder = s["other"] if s["type"] == "hand_over" else s["agent"]
            end = next(
                (
                    e
                    for e in log.select(obj=s["object"], t0=s["t"])
                    if e["id"] > s["id"]
                    and e["type"] in ("drop", "hide", "hand_over")
                    and e.get("agent") == holder
                ),
                None,
            )
            w[log.name(s["object"])] += (end["t"] if end else log.duration) - s["t"]
    return w


def _chest_carry(log, start) -> bool:
    return start.get("task") is not None and log.task(start["task"])["kind"] == "open_chest"


@template("carrying_at", "spatial", _solve_carrying)
def carrying_at(ctx: Ctx):
    log = ctx.log
    weights = _carry_weights(log)
    for e, ref in _anchors(ctx):
        for b in ctx.shuffled([a for a in log.agent_ids if a not in (e.get("agent"), e.get("other"))]):
            held = log.carrying_at(b, e["t"])
            start = log.carry_start_event(b, e["t"])
            if (
                held is None
                or start is None
                or start["t"] > e["t"] - STABLE
                or _chest_carry(log, start)
                or log.carrying_at(b, e["t"] + STABLE) != held
                or log.clip_of(start["t"]) == log.clip_of(e["t"])
            ):
                continue
            nb, answer = log.name(b), log.name(held)
            pool = {o: w + 1.0 for o, w in weights.items() if o != log.name(e.get("object") or b)}
            q = ctx.pick(
                [f"What was {nb} carrying when {ref}?", f"At the moment {ref}, what was {nb} holding?"]
            )
            facts = [
                Fact(start["t"], present(log, start)),
                Fact(e["t"], f"{present(log, e)}, while {nb} is still carrying {answer}"),
            ]
            yield Draft(
                "",
                "",
                q,
                answer,
                weighted_distractors(answer, pool, ctx.rng),
                facts,
                f"{nb} was carrying {answer} when {ref}",
                {"agent": b, "event": e["id"]},
                [start["t"], e["t"]],
            )
            break


def _direction(log, b, e) -> tuple[str, float]:
    bx, by = log.position_at(b, e["t"])
    dx, dy = bx - e["x"], by - e["y"]
    if abs(dx) >= abs(dy):
        return ("to its right" if dx > 0 else "to its left"), abs(dx) / max(abs(dy), 1e-6)
    return ("below it" if dy > 0 else "above it"), abs(dy) / max(abs(dx), 1e-6)


def _solve_relative(log, p):
    return _direction(log, p["agent"], log.event(p["event"]))[0]


@template("relative_position", "spatial", _solve_relative)
def relative_position(ctx: Ctx):
    log = ctx.log
    for e, ref in _anchors(ctx):
        if e["type"] == "open":
            continue
        for b in ctx.shuffled([a for a in log.agent_ids if a not in (e.get("agent"), e.get("other"))]):
            stay = ctx.stable_zone(b, e["t"])
            if stay is None or log.clip_of(stay["start"]) == log.clip_of(e["t"]):
                continue
            bx, by = log.position_at(b, e["t"])
            direction, ratio = _direction(log, b, e)
            if ratio < 2.0 or max(abs(bx - e["x"]), abs(by - e["y"])) < 0.15:
                continue
            na, nb = log.name(e["agent"]), log.name(b)
            q = ctx.pick(
                [
                    f"When {ref}, where on the screen was {nb} relative to {na}?",
                    f"At the moment {ref}, in which direction from {na} was {nb}?",
                ]
            )
            facts = [
                Fact(stay["start"], f"{nb} walks into the {stay['zone']} and stays there"),
                Fact(e["t"], f"{present(log, e)}; seen from {na}, {nb} is {direction} on the screen"),
            ]
            yield Draft(
                "",
                "",
                q,
                direction,
                [d for d in _DIRECTIONS if d != direction],
                facts,
                f"{nb} was {direction} on the screen, seen from {na}",
                {"agent": b, "event": e["id"]},
                [stay["start"], e["t"]],
            )
            break


def _spot_option(log, zone):
    return f"in {log.spot(zone)} in the {zone}"


def _solve_hide_place(log, p):
    return _spot_option(log, log.event(p["event"])["zone"])


@template("hide_place", "spatial", _solve_hide_place)
def hide_place(ctx: Ctx):
    log = ctx.log
    for h in ctx.shuffled(log.select("hide")):
        later = log.select(("find", "pick_up"), obj=h["object"], t0=h["t"])
        before = [e for e in log.select(("pick_up", "hand_over"), obj=h["object"], t1=h["t"])]
        other = later[0] if later else (before[-1] if before else None)
        if other is None or log.clip_of(other["t"]) == log.clip_of(h["t"]):
            continue
        o, name = log.name(h["object"]), log.name(h["agent"])
        hides = log.select("hide", obj=h["object"])
        when = "" if len(hides) == 1 else (" the first time" if hides[0]["id"] == h["id"] else None)
        if when is None:
            continue
        answer = _solve_hide_place(log, {"event": h["id"]})
        pool = [_spot_option(log, z) for z in log.zone_names]
        if later:
            q = ctx.pick(
                [
                    f"{cap(o)} vanished from view for a while{when}. Where had it been hidden?",
                    f"Where did {name} hide {o}{when}?",
                ]
            )
        else:
            q = ctx.pick(
                [f"Where did {name} hide {o}{when}?", f"Where did {o} end up after {name} hid it{when}?"]
            )
        facts = sorted(
            [Fact(h["t"], present(log, h)), Fact(other["t"], present(log, other))], key=lambda f: f.t0
        )
        yield Draft(
            "",
            "",
            q,
            answer,
            uniform_distractors(answer, pool, ctx.rng),
            facts,
            f"{o} was hidden {answer}",
            {"event": h["id"]},
            [h["t"], other["t"]],
        )


def _solve_final_zone(log, p):
    st = log.object_state_at(p["object"], log.duration)
    if st[0] not in ("floor", "hidden"):
        raise ValueError(f"{p['object']} is {st[0]} at the end")
    return st[1]


@template("final_zone", "spatial", _solve_final_zone, zone=True, until_end=True)
def final_zone(ctx: Ctx):
    log = ctx.log
    last_clip = log.n_clips - 1
    for o in ctx.shuffled(log.object_ids):
        evs = log.select(obj=o)
        if not evs:
            continue
        last = evs[-1]
        st = log.object_state_at(o, log.duration)
        if st[0] not in ("floor", "hidden") or log.clip_of(last["t"]) == last_clip:
            continue
        if last["type"] == "appear" and not last.get("agent") and len(evs) == 1:
            continue  # never moved: a question about it needs no memory of anything happening
        zone, no = st[1], log.name(o)
        if last["type"] == "disappear":
            last = log.select("hide", obj=o)[-1]
        q = ctx.pick(
            [
                f"At the end of the video, in which zone is {no}?",
                f"Where does {no} end up by the end?",
                f"In which zone is {no} when the video ends?",
            ]
        )
        facts = [
            Fact(last["t"], present(log, last)),
            Fact(log.clip_range(last_clip)[0], f"{no} has not moved since and is still in the {zone}"),
        ]
        if st[0] == "hidden":
            facts[1].text = f"nobody takes {no} out again, so it is still hidden in the {zone}"
        yield zone_draft(
            ctx, zone, q, facts,
            f"{no} ends up in the {zone}", {"object": o}, [last["t"], log.duration]
        )


def _solve_pickup_zone(log, p):
    return log.event(p["pick"])["zone"]


@template("pickup_zone_of", "spatial", _solve_pickup_zone, zone=True)
def pickup_zone_of(ctx: Ctx):
    log = ctx.log
    for task in ctx.shuffled(
        [t for t in log.tasks if t["kind"] in ("handover", "hide") and t["outcome"] == "done"]
    ):
        evs = [log.event(i) for i in task["events"]]
        pick = next(e for e in evs if e["type"] == "pick_up")
        end = next(e for e in evs if e["type"] in ("hand_over", "hide"))
        if log.clip_of(pick["t"]) == log.clip_of(end["t"]):
            continue
        a = log.name(task["agent"])
        if end["type"] == "hand_over":
            same = [
                t
                for t in log.tasks
                if t["kind"] == "handover"
                and t["agent"] == task["agent"]
                and t.get("other") == task["other"]
                and t["outcome"] == "done"
            ]
            later = f"later handed to {log.name(task['other'])}"
        else:
            same = [
                t
                for t in log.tasks
                if t["kind"] == "hide"
                and t["agent"] == task["agent"]
                and t.get("spot") == task["spot"]
                and t["outcome"] == "done"
            ]
            later = f"later hid in {end['spot']}"
        if len(same) != 1:
            continue
        zone = pick["zone"]
        q = ctx.pick(
            [
                f"In which zone did {a} pick up the object it {later}?",
                f"Where did {a} find the object that it {later}?",
            ]
        )
        facts = [Fact(pick["t"], present(log, pick)), Fact(end["t"], present(log, end))]
        yield zone_draft(
            ctx, zone, q, facts,
            f"{a} picked that object up in the {zone}", {"pick": pick["id"]}, [pick["t"], end["t"]]
        )

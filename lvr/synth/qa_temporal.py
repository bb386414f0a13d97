"""Temporal questions: order of events minutes apart, counts of visible events, durations.

Templates: order_first, order_last, pickup_order, count_pickups, count_collisions,
count_zone_drops, next_zone, longest_zone, carry_longest.
"""

from __future__ import annotations

import itertools

from .phrases import cap, times_word
from .qa_core import (
    MIN_STAY,
    Ctx,
    Draft,
    Fact,
    count_distractors,
    past,
    present,
    template,
    uniform_distractors,
    zone_draft,
)


# ---------------------------------------------------------------------- order of four events
def _solve_order(log, p):
    evs = [log.event(i) for i in p["events"]]
    pick = min if p["which"] == "first" else max
    return cap(past(log, pick(evs, key=lambda e: (e["t"], e["id"]))))


def _order(ctx: Ctx, which: str):
    log = ctx.log
    # four events of one type with unique wordings; not the coin or the chest opener's key, whose
    # place in the story would give the order away
    cands: dict[str, list] = {}
    for e in log.events:
        if (
            e["type"] in ("pick_up", "drop", "hand_over")
            and ctx.ref(e) == past(log, e)
            and e.get("object") != "gold-coin"
            and log.task(e["task"])["kind"] != "open_chest"
        ):
            cands.setdefault(e["type"], []).append(e)
    types = sorted(t for t, v in cands.items() if len(v) >= 4)
    questions = {
        "first": (
            "Which of these happened first?",
            "Which of the following events came earliest in the video?",
            "Of these four moments, which one happened before the other three?",
        ),
        "last": (
            "Which of these happened last?",
            "Which of the following events came latest in the video?",
            "Of these four moments, which one happened after the other three?",
        ),
    }[which]
    for _ in range(60):
        if not types:
            return
        evs = sorted(ctx.rng.sample(cands[ctx.pick(types)], 4), key=lambda e: (e["t"], e["id"]))
        gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(evs)]
        if min(gaps) < ctx.min_gap:
            continue
        ids = [e["id"] for e in ctx.shuffled(evs)]
        params = {"events": ids, "which": which}
        answer = _solve_order(log, params)
        facts = [Fact(e["t"], present(log, e)) for e in evs]
        conc = f"the {which} of these four events was: {answer[0].lower() + answer[1:]}"
        yield Draft(
            "",
            "",
            ctx.pick(list(questions)),
            answer,
            [cap(past(log, e)) for e in evs if cap(past(log, e)) != answer],
            facts,
            conc,
            params,
            [e["t"] for e in evs],
        )


@template("order_first", "temporal", _solve_order)
def order_first(ctx):
    yield from _order(ctx, "first")


@template("order_last", "temporal", _solve_order)
def order_last(ctx):
    yield from _order(ctx, "last")


# ---------------------------------------------------------------------- order of three pick-ups
def _first_pickups(log, agent):
    """First pick-up of each object by `agent` (not the key or coin, whose timing the story fixes)."""
    first: dict = {}
    for e in log.select("pick_up", agent=agent):
        first.setdefault(e["object"], e)
    return {
        o: e for o, e in first.items() if log.task(e["task"])["kind"] != "open_chest" and o != "gold-coin"
    }


def _order_text(log, objs):
    return f"{log.name(objs[0])}, then {log.name(objs[1])}, then {log.name(objs[2])}"


def _solve_pickup_order(log, p):
    first = _first_pickups(log, p["agent"])
    return cap(_order_text(log, sorted(p["objects"], key=lambda o: (first[o]["t"], first[o]["id"]))))


@template("pickup_order", "temporal", _solve_pickup_order)
def pickup_order(ctx: Ctx):
    log = ctx.log
    for a in ctx.shuffled(log.agent_ids):
        first = _first_pickups(log, a)
        if len(first) < 3:
            continue
        for _ in range(10):
            objs = ctx.rng.sample(sorted(first), 3)
            evs = sorted((first[o] for o in objs), key=lambda e: e["t"])
            if min(b["t"] - x["t"] for x, b in itertools.pairwise(evs)) < ctx.min_gap:
                continue
            listed = sorted(objs, key=log.name)
            params = {"agent": a, "objects": listed}
            answer = _solve_pickup_order(log, params)
            perms = [cap(_order_text(log, list(pm))) for pm in itertools.permutations(listed)]
            x, y, z = (log.name(o) for o in listed)
            q = ctx.pick(
                [
                    f"In what order did {log.name(a)} first pick up {x}, {y} and {z}?",
                    (
                        f"{cap(log.name(a))} picked up {x}, {y} and {z} at different times. "
                        f"In which order did it first pick them up?"
                    ),
                ]
            )
            facts = [Fact(e["t"], present(log, e)) for e in evs]
            yield Draft(
                "",
                "",
                q,
                answer,
                uniform_distractors(answer, perms, ctx.rng),
                facts,
                f"the order was {answer[0].lower() + answer[1:]}",
                params,
                [e["t"] for e in evs],
            )
            break


# ---------------------------------------------------------------------- counts
# Counts are asked about busy things (pick-ups of a robot, its collisions, drops in a zone) so the
# answers spread far above the lower bound of 2 and the 4-number windows say nothing by themselves.
def _count_events(log, p):
    if p["kind"] == "pickups":
        return log.select("pick_up", agent=p["agent"])
    if p["kind"] == "collisions":
        return [e for e in log.select("collide") if p["agent"] in (e["agent"], e["other"])]
    if p["kind"] == "zone_drops":
        return [e for e in log.select("drop") if e["zone"] == p["zone"]]
    raise ValueError(f"unknown count kind {p['kind']!r}")


def _solve_count(log, p):
    return str(len(_count_events(log, p)))


def _count_draft(ctx, params, q, what, others: list[dict]):
    """A count question; `others` are the params of the same question about the video's other
    robots/zones, whose counts set the distractor distribution."""
    log = ctx.log
    evs = _count_events(log, params)
    n = len(evs)
    if n < 2 or len({log.clip_of(e["t"]) for e in evs}) < 2 or n > 40:
        return None
    rest = [len(_count_events(log, p)) for p in others] or [n]
    lam = sum(rest) / len(rest)
    facts = [Fact(e["t"], present(log, e)) for e in evs]
    return Draft(
        "",
        "",
        q,
        _solve_count(log, params),
        count_distractors(n, lam, ctx.rng),
        facts,
        f"{what} {times_word(n)} in total, so the count is {n}",
        params,
        [e["t"] for e in evs],
    )


@template("count_pickups", "temporal", _solve_count, until_end=True)
def count_pickups(ctx: Ctx):
    log = ctx.log
    for a in ctx.shuffled(log.agent_ids):
        name = log.name(a)
        q = ctx.pick(
            [
                f"How many times did {name} pick up an object from the floor?",
                f"Over the whole video, how many times does {name} pick something up off the floor?",
                f"Count the pick-ups: how often did {name} lift an object from the floor?",
            ]
        )
        d = _count_draft(
            ctx,
            {"kind": "pickups", "agent": a},
            q,
            f"{name} picked something up",
            [{"kind": "pickups", "agent": b} for b in log.agent_ids if b != a],
        )
        if d:
            yield d


@template("count_collisions", "temporal", _solve_count, until_end=True)
def count_collisions(ctx: Ctx):
    log = ctx.log
    for a in ctx.shuffled(log.agent_ids):
        name = log.name(a)
        q = ctx.pick(
            [
                f"How many times did {name} bump into another robot?",
                f"How often did {name} collide with one of the other robots during the video?",
                f"Counting every collision with another robot, how many did {name} have?",
            ]
        )
        d = _count_draft(
            ctx,
            {"kind": "collisions", "agent": a},
            q,
            f"{name} bumped into another robot",
            [{"kind": "collisions", "agent": b} for b in log.agent_ids if b != a],
        )
        if d:
            yield d


@template("count_zone_drops", "temporal", _solve_count, until_end=True)
def count_zone_drops(ctx: Ctx):
    log = ctx.log
    for z in ctx.shuffled(log.zone_names):
        q = ctx.pick(
            [
                f"How many times did a robot put something down in the {z}?",
                f"Counting all robots, how many objects were dropped in the {z} over the video?",
            ]
        )
        d = _count_draft(
            ctx,
            {"kind": "zone_drops", "zone": z},
            q,
            f"something was dropped in the {z}",
            [{"kind": "zone_drops", "zone": y} for y in log.zone_names if y != z],
        )
        if d:
            yield d


# ---------------------------------------------------------------------- next zone after a pick-up
def _solve_next_zone(log, p):
    e = log.event(p["event"])
    here = log.zone_at(e["agent"], e["t"])
    for s in log.stays(e["agent"], MIN_STAY):
        if s["start"] > e["t"] and s["zone"] != here:
            return s["zone"]
    raise ValueError(f"event {e['id']}: the robot stays in the {here} until the end")


@template("next_zone", "temporal", _solve_next_zone, zone=True)
def next_zone(ctx: Ctx):
    log = ctx.log
    for e in ctx.shuffled(log.select("pick_up")):
        ref = ctx.ref(e)
        if ref is None:
            continue
        try:
            zone = _solve_next_zone(log, {"event": e["id"]})
        except ValueError:
            continue
        stay = next(s for s in log.stays(e["agent"], MIN_STAY) if s["start"] > e["t"] and s["zone"] == zone)
        if log.clip_of(stay["start"]) == log.clip_of(e["t"]):
            continue
        name = log.name(e["agent"])
        q = ctx.pick(
            [
                f"After {ref}, which zone did it go to next?",
                f"Right after {ref}, where did {name} head next?",
                f"Which zone did {name} move on to after {ref}?",
            ]
        )
        facts = [
            Fact(e["t"], present(log, e)),
            Fact(stay["start"], f"{name} walks into the {zone} and stays there"),
        ]
        yield zone_draft(
            ctx, zone, q, facts,
            f"the next zone {name} went to was the {zone}", {"event": e["id"]}, [e["t"], stay["start"]]
        )


# ---------------------------------------------------------------------- durations
def _solve_longest(log, p):
    totals = log.time_in_zones(p["agent"])
    return max(totals, key=lambda z: totals[z])


@template("longest_zone", "temporal", _solve_longest, zone=True, until_end=True)
def longest_zone(ctx: Ctx):
    log = ctx.log
    for a in ctx.shuffled(log.agent_ids):
        totals = log.time_in_zones(a)
        ranked = sorted(totals, key=lambda z: -totals[z])
        top, second = totals[ranked[0]], totals[ranked[1]]
        if top < 1.15 * second or top - second < 10:
            continue
        zone, name = ranked[0], log.name(a)
        stays = [s for s in log.stays(a, MIN_STAY) if s["zone"] in ranked[:2]]
        stays = sorted(sorted(stays, key=lambda s: s["start"] - s["end"])[:6], key=lambda s: s["start"])
        if len({log.clip_of(s["start"]) for s in stays}) < 2:
            continue
        facts = [
            Fact(
                s["start"],
                f"{name} stays in the {s['zone']} for about {round(s['end'] - s['start'])} seconds",
                s["end"],
            )
            for s in stays
        ]
        conc = (
            f"{name} spent about {round(top)} seconds in the {zone} in total, more than the "
            f"{round(second)} seconds in the {ranked[1]}, so the {zone} is where it spent the most time"
        )
        q = ctx.pick(
            [
                f"In which zone did {name} spend the most time?",
                f"Where did {name} spend most of its time over the whole video?",
            ]
        )
        yield zone_draft(ctx, zone, q, facts, conc, {"agent": a}, [s["start"] for s in stays])


def _carry_end(log, start):
    agent = start["other"] if start["type"] == "hand_over" else start["agent"]
    for e in log.select(obj=start["object"], t0=start["t"]):
        if e["id"] > start["id"] and e["type"] in ("drop", "hide", "hand_over") and e.get("agent") == agent:
            return e
    return None


def _carries(log):
    """(agent, object) -> [(start event, end event)] of every time that robot held that object, for
    pairs whose carries all ended and none belongs to the chest story."""
    out: dict[tuple, list] = {}
    for s in log.select(("pick_up", "find", "hand_over")):
        holder = s["other"] if s["type"] == "hand_over" else s["agent"]
        out.setdefault((holder, s["object"]), []).append((s, _carry_end(log, s)))
    return {
        k: v
        for k, v in out.items()
        if k[1] != "gold-coin"
        and all(e is not None and log.task(s["task"])["kind"] != "open_chest" for s, e in v)
    }


def _carry_text(log, agent, obj):
    return f"{cap(log.name(agent))} carrying {log.name(obj)}"


def _solve_carry_longest(log, p):
    spans = _carries(log)
    best = max(p["pairs"], key=lambda k: spans[tuple(k)][0][1]["t"] - spans[tuple(k)][0][0]["t"])
    return _carry_text(log, *best)


@template("carry_longest", "temporal", _solve_carry_longest, until_end=True)
def carry_longest(ctx: Ctx):
    log = ctx.log
    spans = {k: v[0] for k, v in _carries(log).items() if len(v) == 1}  # one carry per pair: unambiguous
    keys = sorted(spans)
    for _ in range(30):
        if len(keys) < 4:
            return
        pick = ctx.rng.sample(keys, 4)
        dur = {k: spans[k][1]["t"] - spans[k][0]["t"] for k in pick}
        ranked = sorted(pick, key=lambda k: -dur[k])
        if dur[ranked[0]] < 15 or dur[ranked[0]] < 1.5 * dur[ranked[1]]:  # clearly longest, even at low fps
            continue
        if len({log.clip_of(e["t"]) for e in spans[ranked[0]]}) < 2:
            continue
        params = {"pairs": [list(k) for k in sorted(pick)]}
        answer = _solve_carry_longest(log, params)
        q = ctx.pick(
            [
                "Which of these carries lasted the longest?",
                "Each of these robots carried the named object once. Which one held it for the longest time?",
            ]
        )
        facts = []
        for k in pick:
            s, e = spans[k]
            facts.append(
                Fact(
                    s["t"],
                    f"{present(log, s)}; {log.name(k[0])} then holds {log.name(k[1])} for "
                    f"about {round(dur[k])} seconds until it lets go of it",
                    e["t"],
                )
            )
        top = ranked[0]
        yield Draft(
            "",
            "",
            q,
            answer,
            [_carry_text(log, *k) for k in pick if k != top],
            facts,
            f"{log.name(top[0])} held {log.name(top[1])} the longest, about {round(dur[top])} seconds",
            params,
            [e["t"] for e in spans[top]],
        )

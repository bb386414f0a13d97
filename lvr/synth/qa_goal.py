"""Goal questions: why a robot did something, judged by what it did next (often minutes later).

Templates: why_pickup, delivery_destination, find_target, why_chase, why_spot.
The robots' intentions are the log's tasks; each answer is also visible as the task's outcome.
"""

from __future__ import annotations

from collections import Counter

from .phrases import cap, ordinal
from .qa_core import (
    Ctx,
    Draft,
    Fact,
    present,
    template,
    weighted_distractors,
    zone_draft,
)

_COMPLETES = {
    "deliver": "drop",
    "hide": "hide",
    "handover": "hand_over",
    "open_chest": "open",
    "find": "drop",
}


def _completion(log, task):
    typ = _COMPLETES.get(task["kind"])
    for i in task["events"]:
        e = log.event(i)
        if e["type"] == typ and e.get("agent") == task["agent"]:
            return e
    return None


def _purpose(log, task) -> str:
    k = task["kind"]
    if k == "deliver":
        return f"to take it to the {task['zone']}"
    if k == "hide":
        return f"to hide it in {log.spot(task['zone'])}"
    if k == "handover":
        return f"to give it to {log.name(task['other'])}"
    if k == "open_chest":
        return "to open the chest with it"
    raise ValueError(f"task {task['id']} ({k}) has no pick-up purpose")


def _purpose_pool(log, agent) -> dict[str, float]:
    """Every purpose a pick-up could have here, weighted like the answers (task-kind frequencies)."""
    freq = Counter(t["kind"] for t in log.tasks if t["kind"] in ("deliver", "hide", "handover", "open_chest"))
    pool: dict[str, float] = {}
    for z in log.zone_names:
        pool[f"to take it to the {z}"] = (freq["deliver"] + 1) / len(log.zone_names)
        pool[f"to hide it in {log.spot(z)}"] = (freq["hide"] + 1) / len(log.zone_names)
    others = [a for a in log.agent_ids if a != agent]
    for b in others:
        pool[f"to give it to {log.name(b)}"] = (freq["handover"] + 1) / len(others)
    if log.layout.chest:
        pool["to open the chest with it"] = freq["open_chest"] + 1
    return pool


def _solve_why_pickup(log, p):
    e = log.event(p["event"])
    return _purpose(log, log.task(e["task"]))


@template("why_pickup", "goal", _solve_why_pickup)
def why_pickup(ctx: Ctx):
    log = ctx.log
    for e in ctx.shuffled(log.select("pick_up")):
        task = log.task(e["task"]) if "task" in e else None
        if (
            task is None
            or task["kind"] not in ("deliver", "hide", "handover", "open_chest")
            or task["outcome"] != "done"
        ):
            continue
        c, ref = _completion(log, task), ctx.ref(e)
        if c is None or ref is None or log.clip_of(c["t"]) == log.clip_of(e["t"]):
            continue
        answer = _solve_why_pickup(log, {"event": e["id"]})
        name, o = log.name(e["agent"]), log.name(e["object"])
        q = ctx.pick(
            [
                f"Why did {name} pick up {o}" + (ref[len(f"{name} picked up {o}") :] or "") + "?",
                f"{cap(ref)}. What did it want to do with it?",
                f"What was {name}'s goal when it picked up {o}"
                + (ref[len(f"{name} picked up {o}") :] or "")
                + "?",
            ]
        )
        facts = [Fact(e["t"], present(log, e))]
        if task["kind"] == "open_chest":
            facts.append(
                Fact(c["t"] - 0.01, f"{name} carries {o} around for a long time and then walks to the chest")
            )
        facts.append(Fact(c["t"], present(log, c)))
        yield Draft(
            "",
            "",
            q,
            answer,
            weighted_distractors(answer, _purpose_pool(log, e["agent"]), ctx.rng),
            facts,
            f"{name} picked up {o} {answer}",
            {"event": e["id"]},
            [e["t"], c["t"]],
        )


def _solve_destination(log, p):
    e = log.event(p["event"])
    return _completion(log, log.task(e["task"]))["zone"]


@template("delivery_destination", "goal", _solve_destination, zone=True)
def delivery_destination(ctx: Ctx):
    log = ctx.log
    for e in ctx.shuffled(log.select(("pick_up", "find"))):
        task = log.task(e["task"]) if "task" in e else None
        if task is None or task["kind"] not in ("deliver", "find") or task["outcome"] != "done":
            continue
        c, ref = _completion(log, task), ctx.ref(e)
        if c is None or ref is None or log.clip_of(c["t"]) == log.clip_of(e["t"]):
            continue
        zone, name, o = c["zone"], log.name(e["agent"]), log.name(e["object"])
        act = ref[len(name) + 1 :]  # "picked up the green key (for the second time)"
        q = ctx.pick(
            [
                f"Where was {name} taking {o} when it {act}?",
                f"{cap(ref)}. Which zone was it bringing it to?",
                f"After {ref}, where did it mean to bring it?",
            ]
        )
        facts = [Fact(e["t"], present(log, e)), Fact(c["t"], present(log, c))]
        yield zone_draft(
            ctx, zone, q, facts,
            f"{name} was bringing {o} to the {zone}, where it put it down", {"event": e["id"]}, [e["t"], c["t"]]
        )


def _solve_find_target(log, p):
    return log.name(log.event(p["event"])["object"])


def _object_pool(log) -> list[str]:
    seen = {e["object"] for e in log.events if e.get("object")}
    return [log.name(o) for o in log.object_ids if o in seen]


def _object_weights(log, etype: str, eps: float = 0.25) -> dict[str, float]:
    """Objects weighted like the answers of questions about `etype` events: how often each object
    was involved here, plus `eps` (none for the coin, which exists only late and rarely is)."""
    w = {o: (0.0 if o == "the gold coin" else eps) for o in _object_pool(log)}
    for h in log.select(etype):
        w[log.name(h["object"])] += 1.0
    return w


def _hidden_weights(log) -> dict[str, float]:
    return _object_weights(log, "hide")


@template("find_target", "goal", _solve_find_target)
def find_target(ctx: Ctx):
    log = ctx.log
    for f in ctx.shuffled(log.select("find")):
        hides = [h for h in log.select("hide", obj=f["object"], t1=f["t"])]
        if not hides or log.clip_of(hides[-1]["t"]) == log.clip_of(f["t"]):
            continue
        h = hides[-1]
        name = log.name(f["agent"])
        visits = [x for x in log.select(("find", "hide"), agent=f["agent"]) if x["spot"] == f["spot"]]
        k = [x["id"] for x in visits].index(f["id"]) + 1
        when = "" if len(visits) == 1 else f" for the {ordinal(k)} time"
        answer = _solve_find_target(log, {"event": f["id"]})
        q = ctx.pick(
            [
                f"What was {name} looking for when it went to {f['spot']} in the {f['zone']}{when}?",
                f"{cap(name)} went to {f['spot']}{when}. Which object was it after?",
            ]
        )
        facts = [Fact(h["t"], present(log, h)), Fact(f["t"], present(log, f))]
        yield Draft(
            "",
            "",
            q,
            answer,
            weighted_distractors(answer, _hidden_weights(log), ctx.rng),
            facts,
            f"{name} went to {f['spot']} to get {answer}, which had been hidden there earlier",
            {"event": f["id"]},
            [h["t"], f["t"]],
        )


def _chases(log, agent, other):
    """Hand-overs in which `agent` brought something to `other`, in order of the pick-up."""
    out = []
    for t in log.tasks:
        if (
            t["agent"] == agent
            and t.get("other") == other
            and t["kind"] == "handover"
            and t["outcome"] == "done"
        ):
            pick = next(log.event(i) for i in t["events"] if log.event(i)["type"] == "pick_up")
            out.append((pick["t"], t))
    return [t for _, t in sorted(out, key=lambda x: (x[0], x[1]["id"]))]


def _solve_chase(log, p):
    return f"to hand it {log.name(_chases(log, p['agent'], p['other'])[p['k']]['object'])}"


@template("why_chase", "goal", _solve_chase)
def why_chase(ctx: Ctx):
    log = ctx.log
    pool = {f"to hand it {o}": w for o, w in _object_weights(log, "hand_over").items()}
    for a in ctx.shuffled(log.agent_ids):
        for b in ctx.shuffled([x for x in log.agent_ids if x != a]):
            chases = _chases(log, a, b)
            for k, task in enumerate(chases[:3]):
                pick = next(log.event(i) for i in task["events"] if log.event(i)["type"] == "pick_up")
                hand = next(log.event(i) for i in task["events"] if log.event(i)["type"] == "hand_over")
                if log.clip_of(pick["t"]) == log.clip_of(hand["t"]):
                    continue
                when = "" if len(chases) == 1 else f" for the {ordinal(k + 1)} time"
                answer = _solve_chase(log, {"agent": a, "other": b, "k": k})
                q = ctx.pick(
                    [
                        f"Why did {log.name(a)} walk up to {log.name(b)} while carrying something{when}?",
                        (
                            f"What was {log.name(a)} trying to do when it brought something over to "
                            f"{log.name(b)}{when}?"
                        ),
                    ]
                )
                facts = [
                    Fact(pick["t"], present(log, pick)),
                    Fact(hand["t"] - 0.01, f"{log.name(a)} walks up to {log.name(b)}, who waits for it"),
                    Fact(hand["t"], present(log, hand)),
                ]
                yield Draft(
                    "",
                    "",
                    q,
                    answer,
                    weighted_distractors(answer, pool, ctx.rng),
                    facts,
                    f"{log.name(a)} went after {log.name(b)} {answer}",
                    {"agent": a, "other": b, "k": k},
                    [pick["t"], hand["t"]],
                )


def _spot_visits(log, agent, zone):
    return [
        t
        for t in log.tasks
        if t["agent"] == agent
        and t["kind"] in ("hide", "find")
        and t["outcome"] == "done"
        and t["spot"] == zone
    ]


def _spot_answer(log, task):
    o = log.name(task["object"])
    return f"to hide {o} there" if task["kind"] == "hide" else f"to take {o} out of it"


def _solve_spot(log, p):
    return _spot_answer(log, _spot_visits(log, p["agent"], p["zone"])[p["k"]])


@template("why_spot", "goal", _solve_spot)
def why_spot(ctx: Ctx):
    log = ctx.log
    kinds = Counter(t["kind"] for t in log.tasks if t["kind"] in ("hide", "find"))
    objs = _hidden_weights(log)
    total = sum(objs.values())
    pool = {f"to hide {o} there": (kinds["hide"] + 1) * w / total for o, w in objs.items()}
    pool.update({f"to take {o} out of it": (kinds["find"] + 1) * w / total for o, w in objs.items()})
    for a in ctx.shuffled(log.agent_ids):
        for z in ctx.shuffled(log.zone_names):
            visits = _spot_visits(log, a, z)
            for k, task in enumerate(visits[:3]):
                evs = [log.event(i) for i in task["events"]]
                act = next(e for e in evs if e["type"] in ("hide", "find"))
                if task["kind"] == "hide":
                    before = next(e for e in evs if e["type"] == "pick_up")
                else:
                    hides = log.select("hide", obj=task["object"], t1=act["t"])
                    if not hides:
                        continue
                    before = hides[-1]
                if log.clip_of(before["t"]) == log.clip_of(act["t"]):
                    continue
                when = "" if len(visits) == 1 else f" for the {ordinal(k + 1)} time"
                answer = _spot_answer(log, task)
                q = ctx.pick(
                    [
                        f"Why did {log.name(a)} go to {log.spot(z)} in the {z}{when}?",
                        f"{cap(log.name(a))} walked over to {log.spot(z)}{when}. What for?",
                    ]
                )
                facts = [Fact(before["t"], present(log, before)), Fact(act["t"], present(log, act))]
                yield Draft(
                    "",
                    "",
                    q,
                    answer,
                    weighted_distractors(answer, pool, ctx.rng),
                    facts,
                    f"{log.name(a)} went to {log.spot(z)} {answer}",
                    {"agent": a, "zone": z, "k": k},
                    [before["t"], act["t"]],
                )

"""Plot questions: how stories of objects and robots unfold and end, who achieved what, turning points.

Templates: object_story, true_statement, chest_story, handover_outcome, find_story, agent_summary.
Wrong options are coherent rewrites of the true story (robots or zones swapped consistently,
jobs reordered) or true-looking statements checked false against the log, so their words are
the true option's words: only watching tells them apart.
"""

from __future__ import annotations

from .phrases import cap
from .qa_core import Ctx, Draft, Fact, present, template, uniform_distractors

_STORY = ("pick_up", "drop", "hand_over", "hide", "find")


# ---------------------------------------------------------------------- chains of steps
def _step(e):
    t = e["type"]
    if t == "hand_over":
        return ("give", e["agent"], e["other"])
    return ({"pick_up": "pick", "drop": "drop", "hide": "hide", "find": "find"}[t], e["agent"], e["zone"])


def _step_text(log, s):
    op, a, x = s
    A = log.name(a)
    if op == "give":
        return f"{A} gave it to {log.name(x)}"
    return {
        "pick": f"{A} picked it up in the {x}",
        "drop": f"{A} dropped it in the {x}",
        "hide": f"{A} hid it in {log.spot(x)}",
        "find": f"{A} took it out of {log.spot(x)}",
    }[op]


def _chain_text(log, steps):
    return cap(", then ".join(_step_text(log, s) for s in steps))


def _valid_chain(steps) -> bool:
    carrier, got_zone, floor_zone = None, None, None
    for op, a, x in steps:
        if op in ("pick", "find"):
            if carrier is not None or (floor_zone is not None and x != floor_zone):
                return False
            carrier, got_zone = a, x
        elif op in ("drop", "hide"):
            if carrier not in (None, a) or (op == "drop" and got_zone is not None and x == got_zone):
                return False
            carrier, got_zone, floor_zone = None, None, x
        elif op == "give":
            if a == x or carrier not in (None, a):
                return False
            carrier, got_zone = x, None
    return True


def _rename(steps, mapping: dict, agent: bool):
    out = []
    for op, a, x in steps:
        if agent:
            out.append((op, mapping.get(a, a), mapping.get(x, x) if op == "give" else x))
        else:
            out.append((op, a, x if op == "give" else mapping.get(x, x)))
    return out


def _factorial(log, steps, rng) -> list[list] | None:
    """Three coherent false chains forming a 2x2 design with the truth: robots renamed, zones renamed,
    and both. Every option then differs from two others in one factor, so no option is the
    "centre" of the four (the truth of a one-edit-per-distractor design would be)."""
    agents, zones = log.agent_ids, log.zone_names
    used_a = sorted({a for _, a, _ in steps} | {x for op, _, x in steps if op == "give"})
    used_z = sorted({x for op, _, x in steps if op != "give"})
    amaps = [{a: b, b: a} if b in used_a else {a: b} for a in used_a for b in agents if b != a]
    zmaps = [{z: w, w: z} if w in used_z else {z: w} for z in used_z for w in zones if w != z]
    pairs = [(am, zm) for am in amaps for zm in zmaps]
    rng.shuffle(pairs)
    for am, zm in pairs:
        a_only = _rename(steps, am, True)
        z_only = _rename(steps, zm, False)
        both = _rename(a_only, zm, False)
        cands = [a_only, z_only, both]
        if len({tuple(c) for c in cands + [steps]}) == 4 and all(_valid_chain(c) for c in cands):
            return cands
    return None


def _object_steps(log, obj):
    return [e for e in log.select(_STORY, obj=obj)]


def _solve_object_story(log, p):
    return _chain_text(log, [_step(e) for e in _object_steps(log, p["object"])[:3]])


@template("object_story", "plot", _solve_object_story)
def object_story(ctx: Ctx):
    log = ctx.log
    for o in ctx.shuffled(log.object_ids):
        evs = _object_steps(log, o)[:3]
        if len(evs) < 3 or len({log.clip_of(e["t"]) for e in evs}) < 2:
            continue
        steps = [_step(e) for e in evs]
        wrong = _factorial(log, steps, ctx.rng)
        if wrong is None:
            continue
        answer = _chain_text(log, steps)
        no = log.name(o)
        q = ctx.pick(
            [
                f"Which sequence describes the first three things that happened to {no}?",
                f"What happened to {no}, in order, from the first time someone touched it?",
                f"How did the story of {no} begin? Pick the right sequence.",
            ]
        )
        yield Draft(
            "",
            "",
            q,
            answer,
            [_chain_text(log, w) for w in wrong],
            [Fact(e["t"], present(log, e)) for e in evs],
            f"the first three things that happened to {no} were: {answer[0].lower() + answer[1:]}",
            {"object": o},
            [e["t"] for e in evs],
        )


# ---------------------------------------------------------------------- which statement is true
def _stmt_text(log, s):
    kind, a, o, x = s
    agent, obj = log.name(a), log.name(o)
    if kind == "dropped":
        return f"{agent} dropped {obj} in the {x}"
    if kind == "hid":
        return f"{agent} hid {obj} in {log.spot(x)}"
    if kind == "gave":
        return f"{agent} handed {obj} to {log.name(x)}"
    if kind == "found":
        return f"{agent} took {obj} out of {log.spot(x)}"
    raise ValueError(f"unknown statement kind {kind!r}")


_STMT_EVENT = {"dropped": "drop", "hid": "hide", "gave": "hand_over", "found": "find"}


def _stmt_events(log, s):
    kind, a, o, x = s
    key = "other" if kind == "gave" else "zone"
    return [e for e in log.select(_STMT_EVENT[kind], agent=a, obj=o) if e.get(key) == x]


def _solve_statement(log, p):
    true = [s for s in p["statements"] if _stmt_events(log, tuple(s))]
    if len(true) != 1:
        raise ValueError(f"{len(true)} of the statements are true, expected exactly one")
    return cap(_stmt_text(log, tuple(true[0])))


def _stmt_support(log, s):
    """Times of the facts proving a true statement: how the robot got the object, and the act."""
    e = _stmt_events(log, s)[0]
    if s[0] == "found":
        h = log.select("hide", obj=s[2], t1=e["t"])
        return ([h[-1]] if h else []) + [e]
    start = log.carry_start_event(s[1], e["t"] - 0.001)
    return ([start] if start else []) + [e]


@template("true_statement", "plot", _solve_statement, until_end=True)
def true_statement(ctx: Ctx):
    log = ctx.log
    true = []
    for e in log.events:
        if e["type"] in ("drop", "hide", "find") and e.get("agent"):
            kind = {"drop": "dropped", "hide": "hid", "find": "found"}[e["type"]]
            true.append((kind, e["agent"], e["object"], e["zone"]))
        elif e["type"] == "hand_over":
            true.append(("gave", e["agent"], e["object"], e["other"]))
    true = sorted(set(true))
    objs = [o for o in log.object_ids if any(s[2] == o for s in true)]

    def perturb(s):
        kind, a, o, x = s
        cands = [(kind, b, o, x) for b in log.agent_ids if b != a and (kind != "gave" or b != x)]
        cands += [(kind, a, p, x) for p in objs if p != o]
        if kind == "gave":
            cands += [(kind, a, o, b) for b in log.agent_ids if b not in (a, x)]
        else:
            cands += [(kind, a, o, z) for z in log.zone_names if z != x]
        return [c for c in cands if not _stmt_events(log, c)]

    for s in ctx.shuffled(true):
        support = _stmt_support(log, s)
        if len({log.clip_of(e["t"]) for e in support}) < 2:
            continue
        wrong: list = []
        for base in ctx.shuffled(true)[:12]:
            opts = [c for c in perturb(base) if c not in wrong]
            if opts:
                wrong.append(ctx.pick(opts))
            if len(wrong) == 3:
                break
        if len(wrong) < 3:
            continue
        statements = sorted([list(s)] + [list(w) for w in wrong])
        answer = _solve_statement(log, {"statements": statements})
        q = ctx.pick(
            [
                "Which of these statements about the video is true?",
                "Which of the following really happened?",
                "Only one of these things happened in the video. Which one?",
            ]
        )
        facts = [Fact(e["t"], present(log, e)) for e in support]
        yield Draft(
            "",
            "",
            q,
            answer,
            [cap(_stmt_text(log, tuple(w))) for w in wrong],
            facts,
            f"{answer[0].lower() + answer[1:]}, and none of the other three things happened",
            {"statements": statements},
            [e["t"] for e in support],
        )


# ---------------------------------------------------------------------- the chest (turning point)
def _chest_text(log, a, key, z1, z2):
    return cap(
        f"{log.name(a)} picked up {log.name(key)} in the {z1}, carried it around for a while, then opened "
        f"the chest in the {z2}"
    )


def _chest_parts(log, open_ev):
    task = log.task(open_ev["task"])
    pick = next(log.event(i) for i in task["events"] if log.event(i)["type"] == "pick_up")
    return pick, (open_ev["agent"], open_ev["object"], pick["zone"], open_ev["zone"])


def _solve_chest(log, p):
    return _chest_text(log, *_chest_parts(log, log.event(p["event"]))[1])


@template("chest_story", "plot", _solve_chest)
def chest_story(ctx: Ctx):
    log = ctx.log
    for op in log.select("open"):
        pick, (a, key, z1, z2) = _chest_parts(log, op)
        if log.clip_of(pick["t"]) == log.clip_of(op["t"]):
            continue
        answer = _solve_chest(log, {"event": op["id"]})
        b = ctx.pick([x for x in log.agent_ids if x != a])
        if ctx.rng.random() < 0.5:
            w = ctx.pick([z for z in log.zone_names if z != z1])
            alt = (key, w, z2)
        else:
            w = ctx.pick([z for z in log.zone_names if z != z2])
            alt = (key, z1, w)
        wrong = [_chest_text(log, b, key, z1, z2), _chest_text(log, a, *alt), _chest_text(log, b, *alt)]
        q = ctx.pick(
            ["How did the chest get opened?", "Which sequence of events led to the chest being opened?"]
        )
        facts = [
            Fact(pick["t"], present(log, pick)),
            Fact(op["t"] - 0.01, f"{log.name(a)} has been carrying {log.name(key)} around the rooms"),
            Fact(op["t"], present(log, op)),
        ]
        yield Draft(
            "",
            "",
            q,
            answer,
            wrong,
            facts,
            f"{answer[0].lower() + answer[1:]}",
            {"event": op["id"]},
            [pick["t"], op["t"]],
        )


# ---------------------------------------------------------------------- after a hand-over
def _after_handover(log, h):
    for e in log.select(("drop", "hide", "hand_over"), obj=h["object"], t0=h["t"]):
        if e["id"] > h["id"] and e.get("agent") == h["other"]:
            return e
    return None


def _outcome_text(zone):
    return f"It carried it to the {zone} and left it there"


def _solve_handover(log, p):
    e = _after_handover(log, log.event(p["event"]))
    if e is None or e["type"] != "drop":
        raise ValueError(f"hand-over {p['event']} is not followed by a drop")
    return _outcome_text(e["zone"])


@template("handover_outcome", "plot", _solve_handover)
def handover_outcome(ctx: Ctx):
    log = ctx.log
    for h in ctx.shuffled(log.select("hand_over")):
        d, ref = _after_handover(log, h), ctx.ref(h)
        if d is None or ref is None or d["type"] != "drop" or log.clip_of(d["t"]) == log.clip_of(h["t"]):
            continue
        answer, nb = _outcome_text(d["zone"]), log.name(h["other"])
        q = ctx.pick([f"After {ref}, what did {nb} do with it?", f"{cap(ref)}. What happened to it next?"])
        yield Draft(
            "",
            "",
            q,
            answer,
            [_outcome_text(z) for z in uniform_distractors(d["zone"], log.zone_names, ctx.rng)],
            [Fact(h["t"], present(log, h)), Fact(d["t"], present(log, d))],
            f"{nb} carried {log.name(h['object'])} to the {d['zone']} and left it there",
            {"event": h["id"]},
            [h["t"], d["t"]],
        )


# ---------------------------------------------------------------------- after something was hidden
def _found_text(log, agent, zone):
    return f"{cap(log.name(agent))} took it out later and brought it to the {zone}"


def _find_after(log, h):
    f = next(iter(log.select("find", obj=h["object"], t0=h["t"])), None)
    if f is None:
        return None, None
    d = next(
        (
            e
            for e in log.select(("drop", "hide", "hand_over"), obj=h["object"], t0=f["t"])
            if e.get("agent") == f["agent"]
        ),
        None,
    )
    return f, d


def _solve_find_story(log, p):
    f, d = _find_after(log, log.event(p["event"]))
    if f is None or d is None or d["type"] != "drop":
        raise ValueError(f"the object hidden by event {p['event']} was not found and dropped")
    return _found_text(log, f["agent"], d["zone"])


@template("find_story", "plot", _solve_find_story)
def find_story(ctx: Ctx):
    log = ctx.log
    for h in ctx.shuffled(log.select("hide")):
        ref = ctx.ref(h)
        f, d = _find_after(log, h)
        if ref is None or f is None or d is None or d["type"] != "drop":
            continue
        if len({log.clip_of(t) for t in (h["t"], f["t"], d["t"])}) < 2:
            continue
        answer = _solve_find_story(log, {"event": h["id"]})
        g = ctx.pick([a for a in log.agent_ids if a != f["agent"]])
        w = ctx.pick([z for z in log.zone_names if z not in (d["zone"], h["zone"])])
        wrong = [_found_text(log, g, d["zone"]), _found_text(log, f["agent"], w), _found_text(log, g, w)]
        q = ctx.pick([f"After {ref}, what became of it?", f"{cap(ref)}. What happened to it after that?"])
        facts = [Fact(h["t"], present(log, h)), Fact(f["t"], present(log, f)), Fact(d["t"], present(log, d))]
        yield Draft(
            "",
            "",
            q,
            answer,
            wrong,
            facts,
            answer[0].lower() + answer[1:],
            {"event": h["id"]},
            [h["t"], f["t"], d["t"]],
        )


# ---------------------------------------------------------------------- a robot's first three jobs
_JOB_KINDS = ("deliver", "hide", "handover", "open_chest", "find")


def _job(log, task):
    return (task["kind"], task["object"], task.get("zone") if task["kind"] != "handover" else task["other"])


def _job_text(log, j):
    kind, o, x = j
    obj = log.name(o)
    if kind == "deliver":
        return f"took {obj} to the {x}"
    if kind == "hide":
        return f"hid {obj} in {log.spot(x)}"
    if kind == "handover":
        return f"gave {obj} to {log.name(x)}"
    if kind == "open_chest":
        return f"opened the chest with {obj}"
    return f"took {obj} out of a hiding place and brought it to the {x}"


def _jobs_text(log, jobs):
    a, b, c = (_job_text(log, j) for j in jobs)
    return f"First it {a}, then it {b}, then it {c}"


_JOB_EVENT = {
    "deliver": "drop",
    "hide": "hide",
    "handover": "hand_over",
    "open_chest": "open",
    "find": "drop",
}


def _job_event(log, task):
    """The event that completes a job (the drop of a delivery, the opening of the chest, ...)."""
    return next(
        log.event(i)
        for i in task["events"]
        if log.event(i)["type"] == _JOB_EVENT[task["kind"]] and log.event(i).get("agent") == task["agent"]
    )


def _first_jobs(log, agent):
    done = [
        t for t in log.tasks if t["agent"] == agent and t["kind"] in _JOB_KINDS and t["outcome"] == "done"
    ]
    return sorted(done, key=lambda t: (t["end"], t["id"]))[:3]


def _solve_summary(log, p):
    return _jobs_text(log, [_job(log, t) for t in _first_jobs(log, p["agent"])])


@template("agent_summary", "plot", _solve_summary)
def agent_summary(ctx: Ctx):
    log = ctx.log
    for a in ctx.shuffled(log.agent_ids):
        tasks = _first_jobs(log, a)
        if len(tasks) < 3:
            continue
        finals = [_job_event(log, t) for t in tasks]
        ends = [e["t"] for e in finals]
        if len({log.clip_of(t) for t in ends}) < 2:
            continue
        jobs = [_job(log, t) for t in tasks]
        answer = _jobs_text(log, jobs)
        objs = {j[1] for j in jobs}
        other_objs = [
            o for o in log.object_ids if o not in objs and any(e.get("object") == o for e in log.events)
        ]
        # 2x2 design: two jobs swapped in order x one job's object or zone substituted
        i = ctx.rng.randrange(2)
        movable = [j for j in range(3) if jobs[j][0] != "open_chest"]  # the chest only opens with the key
        if not movable:
            continue
        k = ctx.pick(movable)
        kind, obj, x = jobs[k]
        subs = [(kind, p, x) for p in other_objs]
        if kind in ("deliver", "find", "hide"):
            subs += [(kind, obj, z) for z in log.zone_names if z != x]
        if not subs:
            continue
        changed = jobs[:k] + [ctx.pick(subs)] + jobs[k + 1 :]

        def swap(js, i=i):
            js = list(js)
            js[i], js[i + 1] = js[i + 1], js[i]
            return js

        wrong = [_jobs_text(log, swap(jobs)), _jobs_text(log, changed), _jobs_text(log, swap(changed))]
        if len(set(wrong + [answer])) < 4:
            continue
        name = log.name(a)
        q = ctx.pick(
            [
                f"Which summary matches the first three jobs {name} finished, in order?",
                f"What did {name} get done first in the video? Pick its first three jobs in order.",
            ]
        )
        facts = [Fact(e["t"], present(log, e)) for e in finals]
        yield Draft(
            "",
            "",
            q,
            answer,
            wrong,
            facts,
            f"{name}'s first three jobs were, in order: {answer[0].lower() + answer[1:]}",
            {"agent": a},
            ends,
        )

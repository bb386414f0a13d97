"""The story engine: robots pursue goals in the layout; every visible change becomes a logged event.

    from lvr.synth.simulate import simulate
    log = simulate(WorldConfig(seed=1, minutes=3))      # -> EventLog (see eventlog.py)

Time advances in ticks of 0.25 s. An idle robot picks its next task with seeded weights
among those feasible now:
  deliver   fetch a free object and carry it to another zone, drop it there
  hide      fetch an object and hide it in a zone's hiding spot (it disappears)
  find      go to a spot where something was hidden a while ago, take it out, carry it elsewhere
  handover  fetch an object and bring it to another robot, who waits for it and then delivers it
  follow    chase another robot for a few seconds (they bump into each other)
  avoid     run to the zone farthest from another robot
  visit     walk to another zone and look around
  open_chest  (once, when a chest exists) pick up the key, wander around with it for a minute or
            more, then open the chest: a gold coin appears. Cause and effect minutes apart.
Objects are reserved by the task that fetches them, so tasks rarely fail; when one does (a
handover that times out) the log says "abandoned". Events: appear, enter, leave, pick_up, drop,
hand_over, collide, hide, disappear, find, open. The same seed gives the same log.
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

from .config import WorldConfig
from .eventlog import EventLog
from .world import AGENT_RADIUS, make_layout

TICK = 0.25
TRACK_DT = 0.5
CONTACT_ON, CONTACT_OFF = 2 * AGENT_RADIUS * 0.8, 2 * AGENT_RADIUS * 1.15
HANDOVER_DIST, FOLLOW_DIST = 0.12, 0.07
WEIGHTS = {
    "deliver": 3.0,
    "hide": 1.3,
    "find": 2.5,
    "handover": 1.3,
    "follow": 0.8,
    "avoid": 0.5,
    "visit": 0.7,
    "open_chest": 6.0,
}


class _Agent:
    def __init__(self, spec: dict, x: float, y: float, zone: str):
        self.id, self.x, self.y, self.zone = spec["id"], x, y, zone
        self.carrying: str | None = None
        self.steps: list[tuple] = []
        self.step_t0 = 0.0
        self.task: dict | None = None
        self.idle_until = 0.0
        self.awaiting: str | None = None
        self.sub: tuple | None = None  # wander sub-target (x, y, seconds to linger)
        self.key_t = 0.0  # when the key was picked up (open_chest)
        self.last_obj: str | None = None  # the object of its previous task: not fetched again right away


class _Obj:
    def __init__(self, spec: dict, x: float, y: float, status: str):
        self.id, self.kind, self.x, self.y, self.status = spec["id"], spec["kind"], x, y, status
        self.holder: str | None = None
        self.spot: str | None = None
        self.reserved: int | None = None
        self.find_after = 0.0


class _Candidates(NamedTuple):
    """What an idle robot could act on now: free and findable objects, free hiding spots, the other
    robots, those that could receive a handover, and the chest's key (None without a chest)."""

    free: list[_Obj]
    hidden: list[_Obj]
    spots: list[str]
    others: list[_Agent]
    receivers: list[_Agent]
    key: _Obj | None


class Simulator:
    def __init__(self, cfg: WorldConfig):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.layout = make_layout(cfg, self.rng)
        self.duration = cfg.duration
        self.speed = 0.08 * math.sqrt(cfg.density)
        self.events: list[dict] = []
        self.tasks: list[dict] = []
        self.t = 0.0
        zones = self.layout.zones
        start_zones = self.rng.sample(zones, len(zones))
        self.agents = {}
        for i, spec in enumerate(self.layout.agents):
            z = start_zones[i % len(zones)]
            x, y = z.random_point(self.rng)
            self.agents[spec["id"]] = _Agent(spec, x, y, z.name)
        self.objs = {}
        for spec in self.layout.objects:
            if spec["kind"] == "coin":
                self.objs[spec["id"]] = _Obj(spec, 0.0, 0.0, "absent")
            else:
                x, y = self.rng.choice(zones).random_point(self.rng, margin=0.07)
                self.objs[spec["id"]] = _Obj(spec, x, y, "floor")
        chest = self.layout.chest
        self.chest_open = False
        self.chest_claimed = chest is None
        self.chest_after = self.rng.uniform(0.05, 0.25) * self.duration
        self.key_gap = min(90.0, 0.35 * self.duration) / math.sqrt(cfg.density)
        self.contacts: set[tuple[str, str]] = set()
        self.tracks = {a: [] for a in self.agents}
        for a in self.agents.values():
            a.idle_until = self.rng.uniform(0.5, 4.0)

    # ------------------------------------------------------------------ logging
    def emit(self, etype: str, x: float, y: float, **fields) -> dict:
        ev = {"id": len(self.events), "t": round(self.t, 2), "type": etype}
        ev.update({k: v for k, v in fields.items() if v is not None})
        ev["x"], ev["y"] = round(x, 3), round(y, 3)
        self.events.append(ev)
        if "task" in ev:
            self.tasks[ev["task"]]["events"].append(ev["id"])
        return ev

    def zone_of(self, x: float, y: float) -> str:
        return self.layout.zone_at(x, y)

    # ------------------------------------------------------------------ tasks
    def _new_task(self, a: _Agent, kind: str, steps: list[tuple], **fields) -> dict:
        task = {
            "id": len(self.tasks),
            "agent": a.id,
            "kind": kind,
            "start": round(self.t, 2),
            "end": None,
            "outcome": None,
            "events": [],
        }
        task.update({k: v for k, v in fields.items() if v is not None})
        self.tasks.append(task)
        a.task, a.steps, a.step_t0, a.sub = task, steps, self.t, None
        return task

    def _choose(self, a: _Agent) -> None:
        """Pick `a`'s next task with the seeded weights among those feasible now, and start it."""
        c = self._candidates(a)
        opts = self._feasible(c)
        kind = self.rng.choices(opts, weights=[WEIGHTS[k] for k in opts])[0]
        if kind == "open_chest":
            self._start_open_chest(a, c.key)
        elif kind in ("deliver", "hide", "handover"):
            self._start_fetch(a, kind, c)
        elif kind == "find":
            self._start_find(a, c.hidden)
        elif kind == "follow":
            self._start_follow(a, c.others)
        elif kind == "avoid":
            self._start_avoid(a, c.others)
        else:
            self._start_visit(a)

    def _candidates(self, a: _Agent) -> _Candidates:
        """What `a` could act on now (no random draws)."""
        free = [
            o for o in self.objs.values() if o.status == "floor" and o.reserved is None and o.id != a.last_obj
        ]
        hidden = [
            o
            for o in self.objs.values()
            if o.status == "hidden" and o.reserved is None and self.t >= o.find_after
        ]
        used_spots = {o.spot for o in self.objs.values() if o.status == "hidden"} | {
            t.get("spot") for t in self.tasks if t["outcome"] is None and t["kind"] == "hide"
        }
        spots = [z.name for z in self.layout.zones if z.name not in used_spots]
        others = [b for b in self.agents.values() if b is not a]
        receivers = [
            b
            for b in others
            if b.carrying is None
            and b.awaiting is None
            and not any(s[0] in ("pick", "retrieve", "handover") for s in b.steps)
        ]
        key = self.objs.get(self.layout.objects[0]["id"]) if self.layout.chest else None
        return _Candidates(free, hidden, spots, others, receivers, key)

    def _feasible(self, c: _Candidates) -> list[str]:
        """The task kinds these candidates allow, in the order whose weights `_choose` draws with."""
        opts = []
        if (
            not self.chest_claimed
            and self.t >= self.chest_after
            and c.key is not None
            and c.key.status == "floor"
            and c.key.reserved is None
        ):
            opts.append("open_chest")
        if c.free:
            opts.append("deliver")
            if c.spots:
                opts.append("hide")
            if c.receivers:
                opts.append("handover")
        if c.hidden:
            opts.append("find")
        opts += ["follow", "avoid", "visit"]
        return opts

    def _start_open_chest(self, a: _Agent, key: _Obj) -> None:
        """Pick up the key, wander with it for `key_gap` seconds, then open the chest."""
        self.chest_claimed = True
        key.reserved = len(self.tasks)
        ch = self.layout.chest
        steps = [
            ("goto_obj", key.id),
            ("pick", key.id),
            ("wander", self.key_gap),
            ("goto", *ch["approach_xy"]),
            ("open",),
            ("drop",),
        ]
        self._new_task(a, "open_chest", steps, object=key.id, zone=ch["zone"])

    def _start_fetch(self, a: _Agent, kind: str, c: _Candidates) -> None:
        """deliver / hide / handover: reserve a free object, fetch it, then take it where `kind` says."""
        rng = self.rng
        o = rng.choice(c.free)
        o.reserved = len(self.tasks)
        here = self.zone_of(o.x, o.y)
        fetch = [("goto_obj", o.id), ("pick", o.id)]
        if kind == "deliver":
            dest = rng.choice([z for z in self.layout.zones if z.name != here])
            self._new_task(
                a,
                kind,
                fetch + [("goto", *dest.random_point(rng)), ("drop",)],
                object=o.id,
                zone=dest.name,
            )
        elif kind == "hide":
            spot = rng.choice(c.spots)
            sx, sy = self.layout.spots[spot]
            self._new_task(
                a, kind, fetch + [("goto", sx, sy), ("hide", spot)], object=o.id, zone=spot, spot=spot
            )
        else:
            b = rng.choice(c.receivers)
            b.awaiting = a.id
            self._new_task(
                a,
                kind,
                fetch + [("goto_agent", b.id, HANDOVER_DIST, 60.0), ("handover", b.id)],
                object=o.id,
                other=b.id,
            )

    def _start_find(self, a: _Agent, hidden: list[_Obj]) -> None:
        """Go to a hiding spot, take the object out and carry it to another zone."""
        rng = self.rng
        o = rng.choice(hidden)
        o.reserved = len(self.tasks)
        sx, sy = self.layout.spots[o.spot]
        dest = rng.choice([z for z in self.layout.zones if z.name != o.spot])
        self._new_task(
            a,
            "find",
            [("goto", sx, sy), ("retrieve", o.id), ("goto", *dest.random_point(rng)), ("drop",)],
            object=o.id,
            spot=o.spot,
            zone=dest.name,
        )

    def _start_follow(self, a: _Agent, others: list[_Agent]) -> None:
        b = self.rng.choice(others)
        self._new_task(a, "follow", [("follow", b.id, self.rng.uniform(8.0, 14.0))], other=b.id)

    def _start_avoid(self, a: _Agent, others: list[_Agent]) -> None:
        """Run to the zone farthest from another robot and wait there."""
        rng = self.rng
        b = rng.choice(others)
        far = max(
            self.layout.zones,
            key=lambda z: (z.centre[0] - b.x) ** 2 + (z.centre[1] - b.y) ** 2 + rng.random() * 1e-3,
        )
        self._new_task(
            a,
            "avoid",
            [("goto", *far.random_point(rng)), ("wait", rng.uniform(2.0, 4.0))],
            other=b.id,
            zone=far.name,
        )

    def _start_visit(self, a: _Agent) -> None:
        rng = self.rng
        dest = rng.choice([z for z in self.layout.zones if z.name != a.zone])
        self._new_task(
            a,
            "visit",
            [("goto", *dest.random_point(rng)), ("wait", rng.uniform(2.0, 5.0))],
            zone=dest.name,
        )

    def _finish(self, a: _Agent, outcome: str) -> None:
        task = a.task
        a.last_obj = task.get("object")
        task["end"], task["outcome"] = round(self.t, 2), outcome
        if outcome != "done":
            if a.carrying is not None:
                self._drop(a)
            for o in self.objs.values():
                if o.reserved == task["id"]:
                    o.reserved = None
            for b in self.agents.values():
                if b.awaiting == a.id:
                    b.awaiting = None
        a.task, a.steps = None, []
        a.idle_until = self.t + self.rng.uniform(1.0, 4.0) / self.cfg.density

    # ------------------------------------------------------------------ actions
    def _move(self, a: _Agent, tx: float, ty: float, stop: float = 0.0) -> bool:
        dx, dy = tx - a.x, ty - a.y
        d = math.hypot(dx, dy)
        step = self.speed * TICK
        if d - stop <= step:
            if d > stop:
                k = (d - stop) / d
                a.x, a.y = a.x + dx * k, a.y + dy * k
            return True
        a.x, a.y = a.x + dx / d * step, a.y + dy / d * step
        return False

    def _drop(self, a: _Agent) -> None:
        o = self.objs[a.carrying]
        o.status, o.holder, o.x, o.y, o.reserved = "floor", None, a.x, a.y, None
        a.carrying = None
        self.emit(
            "drop", a.x, a.y, agent=a.id, object=o.id, zone=a.zone, task=a.task["id"] if a.task else None
        )

    def _step(self, a: _Agent) -> None:
        """Advance `a`'s current step by one tick (`_op_<step>` does it); move on when it is done."""
        if not a.steps:
            self._finish(a, "done")
            return
        s = a.steps[0]
        op = s[0]
        done = getattr(self, f"_op_{op}")(a, s, a.task["id"])
        if op == "pick":
            a.key_t = self.t
        if done and a.task is not None and a.steps and a.steps[0] is s:
            a.steps.pop(0)
            a.step_t0, a.sub = self.t, None
            if not a.steps:
                self._finish(a, "done")

    # ------------------------------------------------------------------ steps: one tick of (op, *args), True when done
    def _op_goto(self, a: _Agent, s: tuple, tid: int) -> bool:
        return self._move(a, s[1], s[2])

    def _op_goto_obj(self, a: _Agent, s: tuple, tid: int) -> bool:
        o = self.objs[s[1]]
        if o.status != "floor":
            self._finish(a, "abandoned")
            return False
        return self._move(a, o.x, o.y)

    def _op_pick(self, a: _Agent, s: tuple, tid: int) -> bool:
        o = self.objs[s[1]]
        o.status, o.holder = "held", a.id
        a.carrying = o.id
        self.emit("pick_up", a.x, a.y, agent=a.id, object=o.id, zone=a.zone, task=tid)
        return True

    def _op_drop(self, a: _Agent, s: tuple, tid: int) -> bool:
        self._drop(a)
        return True

    def _op_hide(self, a: _Agent, s: tuple, tid: int) -> bool:
        o = self.objs[a.carrying]
        o.status, o.holder, o.spot, o.reserved = "hidden", None, s[1], None
        o.find_after = self.t + self.rng.uniform(30.0, max(31.0, 0.3 * self.duration)) / self.cfg.density
        a.carrying = None
        spot = self.layout.zone(s[1]).spot
        self.emit("hide", a.x, a.y, agent=a.id, object=o.id, zone=a.zone, spot=spot, task=tid)
        self.emit("disappear", a.x, a.y, object=o.id, zone=a.zone, spot=spot, task=tid)
        return True

    def _op_retrieve(self, a: _Agent, s: tuple, tid: int) -> bool:
        o = self.objs[s[1]]
        spot = self.layout.zone(o.spot).spot
        o.status, o.holder, o.spot = "held", a.id, None
        a.carrying = o.id
        self.emit("find", a.x, a.y, agent=a.id, object=o.id, zone=a.zone, spot=spot, task=tid)
        self.emit("appear", a.x, a.y, object=o.id, zone=a.zone, agent=a.id, spot=spot, task=tid)
        return True

    def _op_wander(self, a: _Agent, s: tuple, tid: int) -> bool:
        """Roam from zone to zone, lingering a little at each, until `s[1]` seconds after the pick-up."""
        if self.t >= a.key_t + s[1]:
            return True
        if a.sub is None:
            z = self.rng.choice([z for z in self.layout.zones if z.name != a.zone])
            a.sub = (*z.random_point(self.rng), self.rng.uniform(1.0, 3.0))
        if self._move(a, a.sub[0], a.sub[1]):
            a.sub = (a.sub[0], a.sub[1], a.sub[2] - TICK) if a.sub[2] > 0 else None
        return False

    def _op_open(self, a: _Agent, s: tuple, tid: int) -> bool:
        self.chest_open = True
        ch = self.layout.chest
        self.emit("open", a.x, a.y, agent=a.id, object=a.carrying, zone=ch["zone"], task=tid)
        coin = self.objs["gold-coin"]
        coin.status, (coin.x, coin.y) = "floor", ch["coin_xy"]
        self.emit("appear", coin.x, coin.y, object=coin.id, zone=ch["zone"], task=tid)
        return True

    def _op_goto_agent(self, a: _Agent, s: tuple, tid: int) -> bool:
        b = self.agents[s[1]]
        if self.t - a.step_t0 > s[3]:
            self._finish(a, "abandoned")
            return False
        return self._move(a, b.x, b.y, stop=s[2])

    def _op_handover(self, a: _Agent, s: tuple, tid: int) -> bool:
        """Give the carried object to robot `s[1]`, which drops what it was doing and delivers it."""
        b, o = self.agents[s[1]], self.objs[a.carrying]
        if b.task is not None:
            self._finish(b, "interrupted")
        o.holder, b.carrying, a.carrying, b.awaiting = b.id, o.id, None, None
        self.emit("hand_over", a.x, a.y, agent=a.id, other=b.id, object=o.id, zone=a.zone, task=tid)
        dest = self.rng.choice([z for z in self.layout.zones if z.name != b.zone])
        self._new_task(
            b,
            "deliver",
            [("goto", *dest.random_point(self.rng)), ("drop",)],
            object=o.id,
            zone=dest.name,
            other=a.id,
            received=True,
        )
        return True

    def _op_wait(self, a: _Agent, s: tuple, tid: int) -> bool:
        return self.t - a.step_t0 >= s[1]

    def _op_follow(self, a: _Agent, s: tuple, tid: int) -> bool:
        b = self.agents[s[1]]
        self._move(a, b.x, b.y, stop=FOLLOW_DIST)
        return self.t - a.step_t0 >= s[2]

    def _update_zone(self, a: _Agent) -> None:
        z = self.zone_of(a.x, a.y)
        if z != a.zone and self.layout.zone(z).contains(a.x, a.y, inset=0.012):
            self.emit("leave", a.x, a.y, agent=a.id, zone=a.zone)
            a.zone = z
            self.emit("enter", a.x, a.y, agent=a.id, zone=z)

    def _collisions(self) -> None:
        ids = list(self.agents)
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                a, b = self.agents[ids[i]], self.agents[ids[j]]
                d = math.hypot(a.x - b.x, a.y - b.y)
                pair = (a.id, b.id)
                if pair not in self.contacts and d < CONTACT_ON:
                    self.contacts.add(pair)
                    self.emit(
                        "collide", (a.x + b.x) / 2, (a.y + b.y) / 2, agent=a.id, other=b.id, zone=a.zone
                    )
                elif pair in self.contacts and d > CONTACT_OFF:
                    self.contacts.discard(pair)

    # ------------------------------------------------------------------ run
    def run(self) -> EventLog:
        for a in self.agents.values():
            self.emit("appear", a.x, a.y, agent=a.id, zone=a.zone)
        for o in self.objs.values():
            if o.status == "floor":
                self.emit("appear", o.x, o.y, object=o.id, zone=self.zone_of(o.x, o.y))
        n_ticks = round(self.duration / TICK)
        every = round(TRACK_DT / TICK)
        for tick in range(n_ticks + 1):
            self.t = tick * TICK
            if tick:
                for a in self.agents.values():
                    if a.task is None:
                        if a.awaiting is None and self.t >= a.idle_until:
                            self._choose(a)
                    else:
                        self._step(a)
                    self._update_zone(a)
                self._collisions()
            if tick % every == 0:
                for a in self.agents.values():
                    self.tracks[a.id].append([round(a.x, 3), round(a.y, 3)])
        for task in self.tasks:
            if task["outcome"] is None:
                task["end"], task["outcome"] = round(self.duration, 2), "unfinished"
        return EventLog(
            seed=self.cfg.seed,
            duration=self.duration,
            clip_seconds=self.cfg.clip_seconds,
            layout=self.layout,
            events=self.events,
            tasks=self.tasks,
            tracks={"dt": TRACK_DT, "agents": self.tracks},
            config=_config_dict(self.cfg),
        )


def _config_dict(cfg: WorldConfig) -> dict:
    from dataclasses import asdict

    return asdict(cfg)


def simulate(cfg: WorldConfig) -> EventLog:
    """Run the world of `cfg` (its seed included) and return the event log."""
    return Simulator(cfg).run()

"""The ground-truth event log of one synthetic video, and the state queries built on it.

    log = simulate(WorldConfig(seed=1))           # or EventLog.load("media/x.events.json")
    log.save("x.events.json")                     # canonical JSON: same log, same bytes
    log.zone_at("red", 75.0)                      # "garage"
    log.carrying_at("red", 75.0)                  # "green-key" or None
    log.object_state_at("green-key", 75.0)        # ("held", "red"), ("floor", z), ("hidden", z), ("absent",)
    log.clip_of(75.0)                             # 7 (10 s clips)

Everything the captions and questions say is derived from this file alone (the oracle in
`baselines.py` answers from a reloaded copy), and the renderer draws the video from it, so
video, captions, questions and log cannot disagree. JSON layout:
  version, seed, duration, clip_seconds, config (the WorldConfig),
  zones [{name, rect, floor, spot, spot_xy}], agents [{id, name, colour, shape}],
  objects [{id, name, kind, colour}], chest {zone, x, y, approach_xy, coin_xy} | null,
  events [{id, t, type, agent?, object?, other?, zone?, spot?, task?, x, y}],
  tasks [{id, agent, kind, object?, zone?, other?, spot?, received?, start, end, outcome, events}],
  tracks {dt, agents: {agent id: [[x, y], ...]}}   (robot centres every dt seconds)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .world import Layout

VERSION = 1


def is_zone_event(e: dict, agent: str) -> bool:
    """True for the events that put `agent` in a zone: its initial appear and every enter."""
    return e.get("agent") == agent and (e["type"] == "enter" or (e["type"] == "appear" and "object" not in e))


CARRY_START = ("pick_up", "find")
CARRY_END = ("drop", "hide")


@dataclass
class EventLog:
    seed: int
    duration: float
    clip_seconds: float
    layout: Layout
    events: list[dict]
    tasks: list[dict]
    tracks: dict
    config: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ (de)serialise
    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "seed": self.seed,
            "duration": self.duration,
            "clip_seconds": self.clip_seconds,
            "config": self.config,
            **self.layout.to_json(),
            "events": self.events,
            "tasks": self.tasks,
            "tracks": self.tracks,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_text(self.dumps())
        tmp.replace(path)
        return path

    @classmethod
    def from_json(cls, data: dict, where: str = "event log") -> EventLog:
        if data.get("version") != VERSION:
            raise ValueError(
                f"{where}: unsupported event-log version {data.get('version')!r} (expected {VERSION})"
            )
        try:
            layout = Layout.from_json(data)
            return cls(
                int(data["seed"]),
                float(data["duration"]),
                float(data["clip_seconds"]),
                layout,
                list(data["events"]),
                list(data["tasks"]),
                dict(data["tracks"]),
                dict(data.get("config") or {}),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"{where}: malformed event log ({type(e).__name__}: {e})") from None

    @classmethod
    def load(cls, path: str | Path) -> EventLog:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"event log {path} does not exist") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"event log {path}: invalid JSON ({e})") from None
        return cls.from_json(data, where=f"event log {path}")

    # ------------------------------------------------------------------ names and clips
    def __post_init__(self) -> None:
        self._agents = {a["id"]: a for a in self.layout.agents}
        self._objects = {o["id"]: o for o in self.layout.objects}
        self._by_agent: dict[str, list[dict]] = {a: [] for a in self._agents}
        self._by_object: dict[str, list[dict]] = {o: [] for o in self._objects}
        for ev in self.events:
            for key in ("agent", "other"):
                if ev.get(key) in self._by_agent:
                    self._by_agent[ev[key]].append(ev)
            if ev.get("object") in self._by_object:
                self._by_object[ev["object"]].append(ev)

    @property
    def agent_ids(self) -> list[str]:
        return list(self._agents)

    @property
    def object_ids(self) -> list[str]:
        return list(self._objects)

    @property
    def zone_names(self) -> list[str]:
        return [z.name for z in self.layout.zones]

    def name(self, entity: str) -> str:
        """ "the red robot" / "the green key" for an agent or object id."""
        if entity in self._agents:
            return self._agents[entity]["name"]
        if entity in self._objects:
            return self._objects[entity]["name"]
        raise KeyError(f"no agent or object {entity!r} in the log of seed {self.seed}")

    def spot(self, zone: str) -> str:
        return self.layout.zone(zone).spot

    @property
    def n_clips(self) -> int:
        return max(1, math.ceil(self.duration / self.clip_seconds - 1e-9))

    def clip_of(self, t: float) -> int:
        return min(self.n_clips - 1, max(0, int(t // self.clip_seconds)))

    def clip_range(self, i: int) -> tuple[float, float]:
        return i * self.clip_seconds, min(self.duration, (i + 1) * self.clip_seconds)

    def clips(self) -> list[tuple[float, float]]:
        return [self.clip_range(i) for i in range(self.n_clips)]

    # ------------------------------------------------------------------ event selection
    def select(
        self,
        etype: str | tuple | None = None,
        agent: str | None = None,
        obj: str | None = None,
        t0: float | None = None,
        t1: float | None = None,
    ) -> list[dict]:
        """Events in time order matching every given filter (`agent` matches the acting robot only)."""
        pool = self._by_agent[agent] if agent else self._by_object[obj] if obj else self.events
        types = (etype,) if isinstance(etype, str) else etype
        return [
            e
            for e in pool
            if (types is None or e["type"] in types)
            and (agent is None or e.get("agent") == agent)
            and (obj is None or e.get("object") == obj)
            and (t0 is None or e["t"] >= t0)
            and (t1 is None or e["t"] <= t1)
        ]

    # ------------------------------------------------------------------ states
    def zone_at(self, agent: str, t: float) -> str:
        zone = None
        for e in self._by_agent[agent]:
            if e["t"] > t:
                break
            if is_zone_event(e, agent):
                zone = e["zone"]
        if zone is None:
            raise ValueError(f"robot {agent} has no position at t={t} in the log of seed {self.seed}")
        return zone

    def carrying_at(self, agent: str, t: float) -> str | None:
        held = None
        for e in self._by_agent[agent]:
            if e["t"] > t:
                break
            if e["type"] in CARRY_START and e.get("agent") == agent:
                held = e["object"]
            elif e["type"] in CARRY_END and e.get("agent") == agent:
                held = None
            elif e["type"] == "hand_over":
                held = None if e.get("agent") == agent else e["object"]
        return held

    def carry_start_event(self, agent: str, t: float) -> dict | None:
        """The pick_up/find/hand_over event by which `agent` got what it carries at t."""
        found = None
        for e in self._by_agent[agent]:
            if e["t"] > t:
                break
            if (e["type"] in CARRY_START and e.get("agent") == agent) or (
                e["type"] == "hand_over" and e.get("other") == agent
            ):
                found = e
            elif (
                e["type"] in CARRY_END
                and e.get("agent") == agent
                or (e["type"] == "hand_over" and e.get("agent") == agent)
            ):
                found = None
        return found

    def object_state_at(self, obj: str, t: float) -> tuple:
        state: tuple = ("absent",)
        for e in self._by_object[obj]:
            if e["t"] > t:
                break
            typ = e["type"]
            if typ == "appear":
                state = ("held", e["agent"]) if e.get("agent") else ("floor", e["zone"])
            elif typ == "pick_up":
                state = ("held", e["agent"])
            elif typ == "drop":
                state = ("floor", e["zone"])
            elif typ == "hand_over":
                state = ("held", e["other"])
            elif typ == "disappear":
                state = ("hidden", e["zone"])
        return state

    def object_zone_at(self, obj: str, t: float) -> str | None:
        """The zone an object is in at t (a carried object is where its carrier is)."""
        st = self.object_state_at(obj, t)
        if st[0] == "absent":
            return None
        return self.zone_at(st[1], t) if st[0] == "held" else st[1]

    def chest_open_at(self, t: float) -> bool:
        return any(e["type"] == "open" and e["t"] <= t for e in self.events)

    def position_at(self, agent: str, t: float) -> tuple[float, float]:
        pts, dt = self.tracks["agents"][agent], float(self.tracks["dt"])
        f = min(max(t / dt, 0.0), len(pts) - 1)
        i = math.floor(f)
        j = min(i + 1, len(pts) - 1)
        w = f - i
        return (pts[i][0] * (1 - w) + pts[j][0] * w, pts[i][1] * (1 - w) + pts[j][1] * w)

    def zone_intervals(self, agent: str) -> list[tuple[str, float, float]]:
        """(zone, start, end) stays of a robot, in order, covering the whole video."""
        out: list[list] = []
        for e in self._by_agent[agent]:
            if is_zone_event(e, agent):
                if out:
                    out[-1][2] = e["t"]
                out.append([e["zone"], e["t"], self.duration])
        return [tuple(x) for x in out]

    def stays(self, agent: str, min_seconds: float = 0.0) -> list[dict]:
        """Stays of a robot lasting >= `min_seconds`: {zone, start, end, event (id of the entering event)}."""
        out: list[dict] = []
        for e in self._by_agent[agent]:
            if is_zone_event(e, agent):
                if out:
                    out[-1]["end"] = e["t"]
                out.append({"zone": e["zone"], "start": e["t"], "end": self.duration, "event": e["id"]})
        return [s for s in out if s["end"] - s["start"] >= min_seconds]

    def time_in_zones(self, agent: str) -> dict[str, float]:
        totals = {z: 0.0 for z in self.zone_names}
        for z, s, e in self.zone_intervals(agent):
            totals[z] += e - s
        return totals

    def task(self, task_id: int) -> dict:
        return self.tasks[task_id]

    def event(self, event_id: int) -> dict:
        return self.events[event_id]

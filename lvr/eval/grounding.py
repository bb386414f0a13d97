"""Does the reasoning say what the frames show? Every timestamped line of a run's chains of thought
("00:35: red robot kitchen with white key; grey ring hall.") is split into claims, and each claim is checked against
the synthetic video's event log at the shown frame nearest that time (lvr.synth.visibility.check_claim).

    from lvr.eval.grounding import run_grounding, grounding_line
    g = run_grounding(ws, "recipe-grpo-f8-…")   # Grounding(claims={"robot zone": (ok, n), …}, items=…, lines=…)
    g.rate("robot zone")                         # share of robot-zone claims that are true
    grounding_line(g)                            # one line for people
    lvr eval grounding WS RUN [RUN …] [--json]   # the same from the command line

A reader of the frames states the zone a robot is in at each frame; a model that writes from the question's text
states zones at chance (about 1 in 4). Runs with another video's frames (`--videos shuffled`) are checked against
each item's own video, so they give that chance level for the same items. Only synthetic videos (with an event
log) count; a line without a time stamp is not a claim about a frame.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from lvr.synth.visibility import CLAIM_KINDS, check_claim, event_log, frame_times

from .ideal_reader import run_items

LINE = re.compile(r"^\s*(\d{1,2}):(\d\d):\s*(.+?)\s*$")


@dataclass(frozen=True)
class Grounding:
    run: str
    items: int                  # items whose reasoning was checked (synthetic videos)
    lines: int                  # timestamped reasoning lines
    claims: dict = field(default_factory=dict)      # kind → (true, total)

    def rate(self, kind: str) -> float | None:
        ok, n = self.claims.get(kind, (0, 0))
        return ok / n if n else None


def reasoning_claims(log, text: str, times: list[float]) -> list[tuple[str, bool]]:
    """(kind, true) for every claim of `text`'s timestamped lines, each read at the frame of `times` nearest its
    stamp."""
    out = []
    for line in (text or "").splitlines():
        m = LINE.match(line)
        if m and times:
            said = int(m[1]) * 60 + int(m[2])
            t = min(times, key=lambda f: abs(f - said))
            for clause in m[3].rstrip(".").split(";"):
                out += check_claim(log, clause, t)
    return out


def run_grounding(ws, run_id: str) -> Grounding | None:
    """Claims of an eval run's reasoning checked against each item's own video at the run's frame count; None when
    none of its items has an event log."""
    run = ws.get_eval_run(run_id)
    n_frames = int(run["frames"] or 16)
    counts, items, lines = Counter(), 0, 0
    for item, rec in run_items(ws, run_id):
        log = event_log(item.video_path)
        if log is None:
            continue
        items += 1
        text = rec.get("thinking") or rec.get("prediction") or ""
        lines += sum(bool(LINE.match(line)) for line in text.splitlines())
        for kind, ok in reasoning_claims(log, text, frame_times(item.video_path, n_frames)):
            counts[kind, True] += ok
            counts[kind, False] += 1
    if not items:
        return None
    return Grounding(run_id, items, lines, {k: (counts[k, True], counts[k, False]) for k in CLAIM_KINDS
                                            if counts[k, False]})


def grounding_line(g: Grounding | None) -> str:
    """'robot zone 96 % true (6763 of 7080), carrying 61 % (…), object place 30 % (…); 1022 name nothing here'."""
    if g is None:
        return "no reasoning about synthetic videos to check"
    parts = [f"{kind} {100 * ok / n:.0f} % true ({ok} of {n})" for kind, (ok, n) in g.claims.items()
             if kind != "unknown"]
    unknown = g.claims.get("unknown", (0, 0))[1]
    return (f"{g.run}: " + (", ".join(parts) or "no claims") + (f"; {unknown} name nothing in the video" if unknown
                                                                 else "") + f" ({g.items} items, {g.lines} lines)")

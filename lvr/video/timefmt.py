"""Times in a video as text: the one home of every mm:ss formatter.

    fmt_time(75.4)          -> "01:15"     (whole seconds; h:mm:ss from an hour: fmt_time(3725) -> "1:02:05")
    parse_time("01:15")     -> 75.0 ;  parse_time("1:02:05") -> 3725.0 ;  parse_time("00:01.5") -> 1.5
    fmt_time_tenths(75.44)  -> "01:15.4"   (display with tenths; minutes run on past an hour: "61:05.0")
    fmt_time_tenths(None)   -> "—"

`fmt_time` is the clock that prompts, QA reasoning ("From 00:10 to 00:20:"), synthetic questions and
the model's `{clock}` time tags write, so a question's time matches a frame's tag: its output is
part of stored data and trained models, do not change it. `TIME_RE` matches what it writes (and
fractional seconds). `fmt_time_tenths` is for people: frame captions, contact sheets, clip ranges.
"""
from __future__ import annotations

import re

TIME_RE = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_TIME = re.compile(rf"^{TIME_RE}$")
MISSING_TIME = "—"


def fmt_time(seconds: float) -> str:
    """Rounded to whole seconds: `mm:ss` under an hour, `h:mm:ss` from an hour on."""
    t = int(round(float(seconds)))
    if t >= 3600:
        return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}"
    return f"{t // 60:02d}:{t % 60:02d}"


def fmt_time_tenths(seconds: float | None) -> str:
    """`mm:ss.s` (minutes not wrapped into hours); "—" for None."""
    if seconds is None:
        return MISSING_TIME
    t = float(seconds)
    return f"{int(t // 60):02d}:{t % 60:04.1f}"


def parse_time(text: str) -> float:
    """Seconds of a `mm:ss`, `h:mm:ss` (optionally with fractional seconds) stamp; ValueError otherwise."""
    text = text.strip()
    if not _TIME.match(text):
        raise ValueError(f"not a time stamp (mm:ss or h:mm:ss): {text!r}")
    parts = text.split(":")
    secs = float(parts[-1])
    mins = int(parts[-2])
    hours = int(parts[0]) if len(parts) == 3 else 0
    if secs >= 60 or (len(parts) == 3 and mins >= 60):
        raise ValueError(f"not a valid time stamp: {text!r}")
    return hours * 3600 + mins * 60 + secs

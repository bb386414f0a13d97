"""Time stamps as the prompts write them: `mm:ss` under an hour, `h:mm:ss` above.

    fmt_time(75.4)      -> "01:15"
    fmt_time(3725)      -> "1:02:05"
    parse_time("01:15") -> 75.0 ;  parse_time("1:02:05") -> 3725.0
"""
from __future__ import annotations

import re

TIME_RE = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_TIME = re.compile(rf"^{TIME_RE}$")


def fmt_time(seconds: float) -> str:
    t = int(round(float(seconds)))
    if t >= 3600:
        return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}"
    return f"{t // 60:02d}:{t % 60:02d}"


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

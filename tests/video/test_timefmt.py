"""The one time formatter: the clock of prompts, QA layouts and model time tags, and the display variant."""
from __future__ import annotations

import re

import numpy as np
import pytest

from lvr.model.config import CompositeOptions
from lvr.synth.phrases import fmt_time as synth_fmt_time
from lvr.video.timefmt import TIME_RE, fmt_time, fmt_time_tenths, parse_time

SECONDS = [0, 0.4, 0.5, 1.5, 2.5, 34.6, 59.5, 75.4, 599.9, 3599.4, 3599.5, 3600, 3725, 7261.2, 36000]


def _old_clock(seconds: float) -> str:
    """The formula every copy used before they were merged (byte-identical outputs are the contract)."""
    t = int(round(float(seconds)))
    return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60:02d}:{t % 60:02d}"


@pytest.mark.parametrize("t", SECONDS)
def test_clock_matches_the_old_copies_and_parses_back(t):
    assert fmt_time(t) == _old_clock(t) == fmt_time(np.float32(t)) == fmt_time(str(t))
    assert abs(parse_time(fmt_time(t)) - round(t)) < 1e-9


@pytest.mark.parametrize("t", SECONDS)
def test_time_tags_and_question_times_agree(t):
    """A frame's `{clock}` tag is the time a question writes (synthetic and generated)."""
    tag = CompositeOptions(timestamp_format="{clock}").timestamp_tag(t)
    assert tag == fmt_time(t) == synth_fmt_time(t)


def test_examples_and_pattern():
    assert fmt_time(75.4) == "01:15" and fmt_time(3725) == "1:02:05"
    assert fmt_time_tenths(75.44) == "01:15.4" and fmt_time_tenths(3665) == "61:05.0"
    assert fmt_time_tenths(None) == "—" and fmt_time_tenths(0) == "00:00.0"
    assert all(re.fullmatch(TIME_RE, s) for s in ("01:15", "1:02:05", "00:01.5"))

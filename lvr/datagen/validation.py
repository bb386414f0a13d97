"""Checks a generated item must pass before it reaches the store.

    problems = item_problems(parsed, clips=ws.clips(vid), duration=95.0, min_ranges=2, min_clips=2)
    problems = rewrite_problems(prose, reasoning_raw, min_fact_overlap=0.25)
    # [] = accepted; otherwise short reasons, stored in gen_outputs.reason

Item: four non-empty distinct options; answer A–D; reasoning non-empty; the question does not
refer to captions/clips (same word list as below); no "all/none of the above"; the correct option is not quoted in the
question; time ranges are ordered and inside the video; the reasoning cites at least
`min_ranges` distinct ranges that together touch at least `min_clips` clips (when the video has
that many clips — otherwise the "needs several clips" check cannot be made and is skipped).
Rewrite: non-empty; never refers to its sources ("caption(s)", "transcript", "the description",
"the/this/first … clip", "clip 3", "the given text", "according to the summary" — plain words such
as "a paper clip" pass); no time stamps (a clock reading like "3:30" counts as one), "From … to"
headers or step labels; keeps at least `min_fact_overlap` of the raw reasoning's content words.
"""
from __future__ import annotations

import re

from lvr.datagen.parsing import ParsedItem
from lvr.video.timefmt import TIME_RE

CAPTION_WORDS = re.compile(
    r"\b(captions?|captioned|transcripts?|(?:the|this|these|each|given|provided) descriptions?|"
    r"(?:the|this|that|each|every|first|second|third|last|next|previous|later|earlier|another|one) clips?|"
    r"clips? \d+|the (?:given |provided )?text|according to the (?:text|summary))\b", re.I)
STEP_LABEL = re.compile(r"(^|\n)\s*(?:step\s*\d+|\d+[.)]\s|from\s+\S+\s+to\s+\S+\s*:)", re.I)
TIMESTAMP = re.compile(rf"\b{TIME_RE}\b")
ABOVE = re.compile(r"\b(all|none|both|neither) of (the )?(above|these|them)\b|\bboth [A-D] and [A-D]\b", re.I)
_STOP = set("""a an the and or but if then than that this these those there here of in on at to for from with by
as is are was were be been being it its it's he she they them his her their we you i me my our your not no so
do does did has have had will would can could should may might also very just into onto out up down over under
after before when while which who whom whose what where why how all any some each more most other such only own
same too s t about again further once both few nor off very video scene person people""".split())


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", s.lower()).split())


def content_words(text: str) -> set[str]:
    return {w for w in _norm(text).split() if len(w) > 2 and w not in _STOP and not w.isdigit()}


def item_problems(item: ParsedItem, *, clips: list[dict] | None = None, duration: float | None = None,
                  min_ranges: int = 2, min_clips: int = 2, tolerance: float = 2.0) -> list[str]:
    problems: list[str] = []
    q = item.question.strip()
    if len(q) < 10:
        problems.append("question is too short")
    if CAPTION_WORDS.search(q):
        problems.append("question mentions captions/clips instead of the video")
    opts = [o.strip() for o in item.options]
    if len(opts) != 4 or any(not o for o in opts):
        problems.append("needs exactly 4 non-empty options")
    elif len({_norm(o) for o in opts}) != 4:
        problems.append("options are not distinct")
    if any(ABOVE.search(o) for o in opts):
        problems.append("an option refers to other options (all/none/both of the above)")
    if item.answer not in "ABCD" or len(item.answer) != 1:
        problems.append(f"answer {item.answer!r} is not a letter A-D")
    elif len(opts) == 4:
        right = _norm(opts["ABCD".index(item.answer)])
        if len(right.split()) >= 3 and right in _norm(q):
            problems.append("the correct option is quoted in the question")
    if not any(b.strip() for r in item.ranges for b in r.bullets):
        problems.append("reasoning is empty")
    for r in item.ranges:
        if r.end < r.start:
            problems.append(f"time range {r.start:g}-{r.end:g} s ends before it starts")
        if duration is not None and (r.start > duration + tolerance or r.end > duration + tolerance):
            problems.append(f"time range {r.start:g}-{r.end:g} s lies past the end of the video ({duration:g} s)")
    distinct = {(round(r.start, 1), round(r.end, 1)) for r in item.ranges}
    if len(distinct) < min_ranges:
        problems.append(f"reasoning cites {len(distinct)} time range(s); at least {min_ranges} needed "
                        "(the question must need several moments)")
    if clips and len(clips) >= min_clips:
        touched = {c["idx"] for c in clips for r in item.ranges
                   if min(r.end, c["end"]) - max(r.start, c["start"]) > 1e-6
                   or (r.start == r.end and c["start"] <= r.start < c["end"])}
        if len(touched) < min_clips:
            problems.append(f"cited time ranges cover {len(touched)} clip(s); at least {min_clips} needed "
                            "(answerable from one clip)")
    return problems


def rewrite_problems(prose: str, reasoning_raw: str, *, min_fact_overlap: float = 0.25) -> list[str]:
    problems: list[str] = []
    text = prose.strip()
    if len(text) < 20:
        problems.append("rewrite is empty or too short")
        return problems
    m = CAPTION_WORDS.search(text)
    if m:
        problems.append(f"rewrite mentions {m.group(0)!r} (must read as if watching the video)")
    if TIMESTAMP.search(text):
        problems.append("rewrite keeps time stamps")
    if STEP_LABEL.search(text):
        problems.append("rewrite keeps step labels or time-range headers")
    raw_words = content_words(re.sub(rf"From\s+{TIME_RE}\s+to\s+{TIME_RE}\s*:?", " ", reasoning_raw))
    if raw_words:
        kept = len(raw_words & content_words(text)) / len(raw_words)
        if kept < min_fact_overlap:
            problems.append(f"rewrite keeps only {kept:.0%} of the reasoning's content words "
                            f"(at least {min_fact_overlap:.0%} needed: facts were dropped)")
    return problems

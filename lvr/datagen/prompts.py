"""The prompts of the data pipeline: clip captioning, one QA item per category, and the rewrite.

    from lvr.datagen import prompts
    prompts.CAPTION_PROMPT
    msgs = prompts.qa_messages("temporal", captions_block, index=0, per_category=4, duration=95.0)
    msgs = prompts.rewrite_messages(question, options, answer, reasoning_raw)

The QA prompt asks for ONE hard four-option question that needs several moments of the video,
its answer letter, and reasoning grouped by time range, in the fixed layout `ITEM_LAYOUT`
that `lvr.datagen.parsing.parse_item` reads with strict regular expressions. The rewrite prompt
turns that caption-grounded reasoning into a first-person "while watching" account, layout
`REWRITE_LAYOUT`, read by `parse_rewrite`. Keep prompts and parsers in step: the layout text
below is what the parsers expect, line for line.
"""
from __future__ import annotations

from lvr.video.timefmt import fmt_time

CAPTION_PROMPT = (
    "You are describing one short clip of a longer video so that someone who cannot see it can later "
    "reason about the whole video. Describe, in 3 to 6 sentences of plain prose: who or what is on "
    "screen and what they look like; where things are relative to each other (left/right, near/far, "
    "in front of/behind); what happens, in order, and how it changes from the first frame to the last; "
    "any visible text; and what the people seem to intend or feel. Say only what the frames show. "
    "No lists, no headings, no guesses about other parts of the video."
)

CATEGORY_BRIEFS = {
    "temporal": (
        "TEMPORAL reasoning: the order, timing, duration or causes of events. Ask about what happened "
        "before or after something, how a situation developed, how often something recurred, or which "
        "earlier event explains a later one. The answer must depend on combining events from different "
        "moments of the video."
    ),
    "goal": (
        "GOAL AND PURPOSE reasoning: why people or agents act as they do. Ask about the aim behind a "
        "sequence of actions, what someone was trying to achieve, or which intention best explains what "
        "they did across the video. The purpose must only become clear from several moments together."
    ),
    "spatial": (
        "SPATIAL reasoning: where things are and how positions change. Ask about where an object ended up, "
        "the route someone took, the relative position of things after several moves, or the layout of a "
        "place seen from different moments. Tracking must span more than one moment of the video."
    ),
    "plot": (
        "PLOT AND NARRATIVE reasoning: the story as a whole. Ask about how the situation at the end follows "
        "from the beginning, a turning point, the relationship between characters as it develops, or the "
        "best summary of the story. The answer must need the narrative of several moments."
    ),
}

ITEM_LAYOUT = """QUESTION: <one question, on one line>
A. <option>
B. <option>
C. <option>
D. <option>
ANSWER: <one letter: A, B, C or D>
REASONING:
From <mm:ss> to <mm:ss>:
- <a fact from the captions of this time range that matters for the answer>
- <another fact, or the inference you draw from it>
From <mm:ss> to <mm:ss>:
- <…>
CONCLUSION: <one sentence: why the answer letter is right and the others are not>"""

QA_SYSTEM = (
    "You write difficult multiple-choice questions about long videos for training video reasoning "
    "models. You only see time-stamped captions of consecutive clips of the video, but the question "
    "must be answerable by someone who watches the video. Think as long as you need, then reply in "
    "exactly the layout you are given, with nothing before or after it."
)

QA_TEMPLATE = """Below are the captions of the consecutive clips of one video ({duration}), in time order.

{captions}

Write ONE multiple-choice question of this kind:
{brief}

Rules:
1. The question must need facts from at least two different time ranges; it must NOT be answerable from any \
single clip.
2. It needs several reasoning steps; avoid questions whose answer is stated word for word in one caption.
3. Give exactly four options, all plausible and clearly different; exactly one is correct. Do not use "all of the \
above" or "none of the above".
4. Refer to the video itself ("in the video", "the man in the red coat"), never to "captions", "clips" or \
"descriptions".
5. In REASONING, group the supporting facts under one header per time range, copied from the caption time stamps \
("From 00:10 to 00:30:"), in time order, each fact a line starting with "- ". Cite at least {min_ranges} \
time ranges.
6. This is question {number} of {total} of this kind for this video: choose a different aspect of the video for \
each number.{avoid}

Reply in exactly this layout:
{layout}"""

REWRITE_LAYOUT = """REASONING:
<the reasoning as one or two paragraphs of plain prose>"""

REWRITE_SYSTEM = (
    "You edit reasoning traces. You receive a multiple-choice question about a video, its answer, and "
    "a reasoning written from captions of the video. Rewrite the reasoning as the thoughts of someone "
    "who is watching the video right now."
)

REWRITE_TEMPLATE = """Question: {question}
{options}
Correct answer: {answer}

Reasoning written from the captions:
{reasoning}

Rewrite this reasoning so it reads as if you are watching the video and thinking it through:
- keep every fact and every inference, in the same order, and reach the same answer ({answer});
- write in the first person ("I see…", "Then I notice…", "So…"), as flowing prose;
- never mention captions, descriptions, clips, text you were given, step numbers or headings;
- no time stamps and no "From … to …" headers; say "at the start", "later", "near the end" instead.

Reply in exactly this layout:
{layout}"""


def captions_block(clips: list[dict]) -> str:
    """`[mm:ss - mm:ss] caption` lines, one per captioned clip, in time order."""
    lines = []
    for c in sorted(clips, key=lambda c: c["start"]):
        text = " ".join(str(c.get("caption") or "").split())
        if text:
            lines.append(f"[{fmt_time(c['start'])} - {fmt_time(c['end'])}] {text}")
    return "\n".join(lines)


def qa_messages(category: str, captions: str, *, index: int = 0, per_category: int = 1,
                duration: float | None = None, min_ranges: int = 2, avoid: list[str] | None = None) -> list[dict]:
    """The generation request; `avoid` lists questions already written for this video and category."""
    if category not in CATEGORY_BRIEFS:
        raise ValueError(f"no prompt for category {category!r}; known: {', '.join(CATEGORY_BRIEFS)}")
    dur = f"{fmt_time(duration)} long" if duration else "length unknown"
    avoid_text = ""
    if avoid:
        avoid_text = ("\n7. These questions were already written for this video; ask about something else:\n"
                      + "\n".join(f"   * {' '.join(q.split())}" for q in avoid))
    user = QA_TEMPLATE.format(duration=dur, captions=captions, brief=CATEGORY_BRIEFS[category],
                              min_ranges=min_ranges, number=index + 1, total=max(per_category, index + 1),
                              layout=ITEM_LAYOUT, avoid=avoid_text)
    return [{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": user}]


def options_block(options: list[str]) -> str:
    return "\n".join(f"{letter}. {text}" for letter, text in zip("ABCD", options))


def rewrite_messages(question: str, options: list[str], answer: str, reasoning_raw: str) -> list[dict]:
    user = REWRITE_TEMPLATE.format(question=question, options=options_block(options), answer=answer,
                                   reasoning=reasoning_raw, layout=REWRITE_LAYOUT)
    return [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}]

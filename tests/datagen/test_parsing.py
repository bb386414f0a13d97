"""Strict parsing of the QA and rewrite layouts, and the validation rules."""
from __future__ import annotations

import pytest

from lvr.datagen import prompts
from lvr.datagen.parsing import ParseError, parse_item, parse_rewrite, render_item, strip_layout
from lvr.datagen.validation import item_problems, rewrite_problems
from lvr.video.timefmt import fmt_time, parse_time

GOOD = """QUESTION: Why does the woman stop at the market before going home?
A. To meet a friend
B. To buy oranges she later carries inside
C. To repair her bicycle
D. To feed the ducks
ANSWER: B
REASONING:
From 00:20 to 00:30:
- She buys three oranges at a market and puts them in her basket.
From 00:30 to 00:40:
- She carries the oranges into the house.
- So the stop was to buy them.
CONCLUSION: Only B links the purchase to what she carries inside."""

CLIPS = [{"idx": i, "start": 10.0 * i, "end": 10.0 * (i + 1)} for i in range(4)]


def test_parse_good_item():
    item = parse_item(GOOD)
    assert item.question.startswith("Why does the woman")
    assert item.options[1] == "To buy oranges she later carries inside"
    assert item.answer == "B"
    assert [(r.start, r.end) for r in item.ranges] == [(20.0, 30.0), (30.0, 40.0)]
    assert item.ranges[1].bullets == ["She carries the oranges into the house.", "So the stop was to buy them."]
    assert item.span() == (20.0, 40.0)
    assert item.conclusion.startswith("Only B")
    assert item.reasoning_raw().splitlines()[0] == "From 00:20 to 00:30:"
    assert item_problems(item, clips=CLIPS, duration=40.0) == []


def test_think_block_markdown_and_fences_are_tolerated():
    text = "<think>long private reasoning\nQUESTION: fake</think>\n```\n" + GOOD.replace(
        "QUESTION:", "**QUESTION:**").replace("ANSWER: B", "ANSWER: (B)") + "\n```"
    assert parse_item(text).answer == "B"


def test_roundtrip_render_parse():
    item = parse_item(GOOD)
    again = parse_item(render_item(item.question, item.options, item.answer, item.ranges, item.conclusion))
    assert again == item


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.replace("C. To repair her bicycle\n", ""), "expected option C"),
    (lambda t: t.replace("A. To meet", "B. To meet"), "expected option A"),
    (lambda t: t.replace("ANSWER: B", "ANSWER: E"), "ANSWER"),
    (lambda t: t.replace("REASONING:\n", ""), "REASONING"),
    (lambda t: t.replace("From 00:20 to 00:30:\n", ""), "bullet before any"),
    (lambda t: t.replace("- She carries", "She carries"), "expected a 'From mm:ss to mm:ss:' header"),
    (lambda t: t + "\nThanks for asking!", "unexpected text after CONCLUSION"),
    (lambda t: t.split("REASONING:")[0] + "REASONING:\n", "no 'From mm:ss to mm:ss:' time ranges"),
    (lambda t: t.replace("From 00:30 to 00:40:\n- She carries the oranges into the house.\n"
                         "- So the stop was to buy them.",
                         "From 00:30 to 00:40:"), "have no '- ' bullet"),
    (lambda t: t.replace("00:20", "00:75"), "not a valid time stamp"),
    (lambda t: "", "empty answer"),
])
def test_parse_errors_name_the_problem(mutate, message):
    with pytest.raises(ParseError, match=message):
        parse_item(mutate(GOOD))


def test_validation_rules():
    item = parse_item(GOOD)
    one_range = parse_item(GOOD.replace("From 00:30 to 00:40:\n", ""))
    assert any("at least 2 needed" in p for p in item_problems(one_range, clips=CLIPS))
    # two ranges inside ONE clip: answerable from one clip
    same_clip = parse_item(GOOD.replace("From 00:20 to 00:30:", "From 00:21 to 00:24:")
                           .replace("From 00:30 to 00:40:", "From 00:25 to 00:29:"))
    assert any("cover 1 clip" in p for p in item_problems(same_clip, clips=CLIPS))
    assert item_problems(same_clip, clips=CLIPS[:1]) == []          # one-clip video: not checkable
    dup = parse_item(GOOD.replace("D. To feed the ducks", "D. to meet a friend!"))
    assert "options are not distinct" in item_problems(dup)
    above = parse_item(GOOD.replace("D. To feed the ducks", "D. All of the above"))
    assert any("all/none/both" in p for p in item_problems(above))
    assert any("past the end" in p for p in item_problems(item, duration=25.0))
    meta = parse_item(GOOD.replace("Why does the woman stop", "According to the captions, why does the woman stop"))
    assert any("captions" in p for p in item_problems(meta))
    leak = parse_item(GOOD.replace("before going home?", "to buy oranges she later carries inside?"))
    assert any("quoted in the question" in p for p in item_problems(leak))


def test_rewrite_parse_and_checks():
    raw = parse_item(GOOD).reasoning_raw()
    good = ("I see her buy three oranges at a market and put them in her basket. Later she carries the oranges "
            "into the house, so the stop was to buy them.")
    assert parse_rewrite(f"<think>x</think>REASONING:\n{good}") == good
    assert parse_rewrite(f"REASONING: {good}") == good
    with pytest.raises(ParseError):
        parse_rewrite(good)
    with pytest.raises(ParseError):
        parse_rewrite("REASONING:\n   ")
    assert rewrite_problems(good, raw) == []
    assert any("mentions" in p
               for p in rewrite_problems("The captions say she buys oranges and carries them home.", raw))
    assert any("time stamps" in p for p in rewrite_problems("At 00:20 she buys oranges and carries them inside.", raw))
    assert any("step labels" in p for p in rewrite_problems("Step 1: she buys oranges.\nStep 2: she goes home.", raw))
    assert any("content words" in p for p in rewrite_problems("Something happens and then another thing occurs.", raw))


def test_strip_layout_removes_headers_bullets_and_times():
    text = strip_layout(parse_item(GOOD).reasoning_raw())
    assert "From" not in text and "00:" not in text and "- " not in text
    assert "oranges" in text


def test_prompts_carry_the_layout_and_captions():
    clips = [{"start": 0, "end": 10, "caption": "A man walks."}, {"start": 10, "end": 20, "caption": " A dog  runs. "}]
    block = prompts.captions_block(clips)
    assert block == "[00:00 - 00:10] A man walks.\n[00:10 - 00:20] A dog runs."
    for cat in ("temporal", "goal", "spatial", "plot"):
        msgs = prompts.qa_messages(cat, block, index=1, per_category=3, duration=20.0)
        user = msgs[1]["content"]
        assert prompts.ITEM_LAYOUT in user and block in user and "question 2 of 3" in user
    assert "already written" not in user
    user = prompts.qa_messages("goal", block, avoid=["Why does the man walk?"])[1]["content"]
    assert "already written for this video" in user and "* Why does the man walk?" in user
    assert user.index("already written") < user.index("Reply in exactly this layout")
    with pytest.raises(ValueError):
        prompts.qa_messages("emotion", block)
    rw = prompts.rewrite_messages("Q?", ["a", "b", "c", "d"], "C", "From 00:00 to 00:10:\n- x")
    assert "Correct answer: C" in rw[1]["content"] and "D. d" in rw[1]["content"]


def test_time_format():
    assert fmt_time(75.4) == "01:15" and fmt_time(3725) == "1:02:05"
    assert parse_time("01:15") == 75.0 and parse_time("1:02:05") == 3725.0 and parse_time("00:01.5") == 1.5
    for bad in ("1:75", "75", "a:bc"):
        with pytest.raises(ValueError):
            parse_time(bad)

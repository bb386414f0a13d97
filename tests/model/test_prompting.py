"""Prompt formatting and the tolerant-but-strict response parser (used by rewards and eval)."""
from __future__ import annotations

import pytest

from lvr.model.prompting import (
    SYSTEM_PROMPT_NO_THINK,
    SYSTEM_PROMPT_THINK,
    build_messages,
    extract_letter,
    format_mcq,
    format_target,
    parse_response,
)


def test_format_mcq_lists_lettered_options():
    text = format_mcq("  What happens first? ", ["the car stops", " a dog barks ", "rain", "snow"])
    assert text == "What happens first?\nA. the car stops\nB. a dog barks\nC. rain\nD. snow"
    assert format_mcq("Open question?") == "Open question?"


def test_build_messages_think_switch_and_video_item():
    msgs = build_messages("Q?", ["a", "b", "c", "d"], think=True)
    assert msgs[0] == {"role": "system", "content": SYSTEM_PROMPT_THINK}
    assert msgs[1]["content"][0] == {"type": "video"}
    assert "A. a" in msgs[1]["content"][1]["text"]
    no_think = build_messages("Q?", think=False, video=False, target="<answer>B</answer>")
    assert no_think[0]["content"] == SYSTEM_PROMPT_NO_THINK
    assert no_think[1]["content"] == [{"type": "text", "text": "Q?"}]
    assert no_think[-1] == {"role": "assistant", "content": "<answer>B</answer>"}


def test_format_target_roundtrips_through_parser():
    text = format_target("first the door opens", "C")
    p = parse_response(text)
    assert (p.thinking, p.answer, p.letter, p.format_ok) == ("first the door opens", "C", "C", True)
    assert parse_response(format_target(None, "A", think=False), think=False).format_ok


@pytest.mark.parametrize("answer, letter", [
    ("B", "B"), (" B ", "B"), ("(B)", "B"), ("B.", "B"), ("b", "B"), ("(b)", "B"), ("Answer: B", "B"),
    ("answer: b", "B"), ("The answer is (C)", "C"), ("B) the dog runs", "B"), ("D. Nothing happens", "D"),
    ("[A]", "A"), ("**B**", "B"), ("Option C", "C"), ("a dog runs", None), ("E", None), ("", None),
    ("none of them", None),
])
def test_extract_letter_variants(answer, letter):
    assert extract_letter(answer) == letter


def test_extract_letter_matches_option_text():
    opts = ["the car stops", "The dog runs!", "rain", "snow"]
    assert extract_letter("the dog runs", options=opts) == "B"
    assert extract_letter("E", options=opts + ["hail"]) == "E"  # 5 options allow E


@pytest.mark.parametrize("text, ok, letter, thinking", [
    ("<think>step</think><answer>B</answer>", True, "B", "step"),
    ("  <think>\n a \n</think>\n\n<answer> (c) </answer>\n", True, "C", "a"),
    ("<think>x</think>\n<answer>Answer: D</answer>", True, "D", "x"),
    ("<answer>B</answer>", False, "B", None),                              # thinking missing
    ("<think>x</think> B", False, "B", "x"),                                # answer tags missing
    ("<think>x</think><answer>B", False, "B", "x"),                         # unclosed answer
    ("<think>never closed, B", False, None, "never closed, B"),
    ("The answer is B", False, "B", None),                                  # no tags at all
    ("<think>a</think><answer>B</answer> trailing", False, "B", "a"),       # text after the answer
    ("<think>a</think><answer>B</answer><answer>C</answer>", False, "B", "a"),
    ("<think>a<think>b</think><answer>B</answer>", False, "B", "a<think>b"),
])
def test_parse_response_tags_and_format(text, ok, letter, thinking):
    p = parse_response(text)
    assert p.format_ok is ok, text
    assert p.letter == letter, text
    assert p.thinking == thinking, text


def test_parse_response_without_thinking_mode():
    assert parse_response("<answer> b </answer>", think=False).format_ok
    assert parse_response("<answer>b</answer>", think=False).letter == "B"
    assert not parse_response("<think>x</think><answer>B</answer>", think=False).format_ok
    assert not parse_response("", think=False).format_ok
    empty = parse_response("")
    assert (empty.answer, empty.letter, empty.format_ok) == (None, None, False)

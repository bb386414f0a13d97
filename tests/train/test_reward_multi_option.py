"""An answer that names several options ("A or B", "A B C D") earns no accuracy, in rewards and in
evaluation alike (both read the letter with `lvr.model.prompting.extract_letter`), while the
paper's leniencies (letter case, "(B)", "Answer: B", "B.", "B. option text", the option's text or
a near-copy of it) still count."""
from __future__ import annotations

import pytest

from lvr.eval.answerer import prediction_from_text
from lvr.eval.runner import _record
from lvr.model.prompting import extract_letter, named_letters, parse_response
from lvr.train.rewards import RewardSet, accuracy, mcq_accuracy, valid_option

OPTS = ["the kitchen", "A cat and a dog", "A and B together", "Plan B"]


def completion(answer: str) -> str:
    return f"<think>I watched it.</think>\n<answer>{answer}</answer>"


MULTI = ["B or C", "B C D A", "B, C", "B and C", "B & D", "B/C", "(B) or (C)", "B or c", "b or c",
         "(b) or (c)", "Both B and C", "The answer is B or C", "B) the cat, C) the dog", "B. C", "B and A",
         "B or C or D", "B, C, or D", "Answer: B or A"]


@pytest.mark.parametrize("answer", MULTI)
def test_naming_several_options_scores_zero_even_when_the_first_is_the_key(answer):
    text = completion(answer)
    assert mcq_accuracy([text], answer=["B"], options=[OPTS]) == [0.0]
    assert mcq_accuracy([text], answer=["B"]) == [0.0]  # no options column (4 letters assumed)
    assert accuracy([text], answer=["B"], options=[OPTS]) == [0.0]
    assert valid_option([text], answer=["B"], options=[OPTS]) == [0.0]  # not *an* option either
    assert parse_response(text, options=OPTS).letter is None


@pytest.mark.parametrize("answer", MULTI[:6])
def test_evaluation_applies_the_same_rule(answer):
    p = prediction_from_text(completion(answer), OPTS)
    assert p.letter is None and p.format_ok is True
    assert _record({"id": 1, "category": "x"}, p, "B")["correct"] == 0


@pytest.mark.parametrize("answer", [
    "B", "b", " b ", "(B)", "(b)", "[B]", "**B**", "B.", "B)", "B:", "Answer: B", "answer: b", "The answer is (b)",
    "Option B", "B. A cat and a dog", "B) A cat and a dog", "B: a cat and a dog", "B - A cat and a dog",
    "A cat and a dog", "a cat and a dog.", "B. A cat and a dog.",
])
def test_one_option_still_counts_however_it_is_written(answer):
    text = completion(answer)
    assert mcq_accuracy([text], answer=["B"], options=[OPTS]) == [1.0]
    assert valid_option([text], answer=["B"], options=[OPTS]) == [1.0]
    assert prediction_from_text(text, OPTS).letter == "B"


def test_letter_then_option_text_without_options_column():
    """GRPO's fallback scores without options: "B. A cat and a dog" is B ("A cat" is a word, not option A)."""
    assert mcq_accuracy([completion("B. A cat and a dog")], answer=["B"]) == [1.0]
    assert mcq_accuracy([completion("D. I think so")], answer=["D"]) == [1.0]
    assert extract_letter("D. A or B", 4) is None


def test_option_text_that_itself_names_letters():
    """An option whose text reads like several letters ("A and B together", "Plan B") is one option."""
    assert mcq_accuracy([completion("C. A and B together"), completion("A and B together")],
                        answer=["C", "C"], options=[OPTS, OPTS]) == [1.0, 1.0]  # answer_format "text"
    assert mcq_accuracy([completion("D. Plan B"), completion("Plan B")],
                        answer=["D", "D"], options=[OPTS, OPTS]) == [1.0, 1.0]
    assert mcq_accuracy([completion("C. A and B together")], answer=["C"]) == [0.0]  # no options: ambiguous


def test_near_copy_of_option_text_still_maps():
    opts = ["the red robot carried it to the hall", "the red robot carried it to the garden", "x", "y"]
    assert mcq_accuracy([completion("the red robot carried it to garden")], answer=["B"], options=[opts]) == [1.0]
    assert mcq_accuracy([completion("B. the red robot carried it to garden")], answer=["B"],
                        options=[opts]) == [1.0]


def test_reward_set_total_for_a_hedged_answer():
    rs = RewardSet({"accuracy": 0.9, "format": 0.1})
    out = rs([completion("B or C"), completion("B")], answer=["B", "B"], options=[OPTS, OPTS])
    assert out.components["accuracy"] == [0.0, 1.0]
    assert out.total == pytest.approx([0.1, 1.0])


@pytest.mark.parametrize("text, letters", [
    ("or B", {"B"}), ("B C D", {"B", "C", "D"}), ("(C)", {"C"}), ("C) the dog", {"C"}), ("A cat and a dog", set()),
    ("A or B", {"A", "B"}), ("I think so", set()), ("or c.", {"C"}), ("a dog", set()), ("E", set()),
    ("the U-boat", set()), ("D-shaped", set()),
])
def test_named_letters(text, letters):
    assert named_letters(text, "ABCD") == letters

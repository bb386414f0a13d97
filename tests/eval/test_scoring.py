"""Scoring model outputs: the shared parser's rules, and how a prediction becomes a record."""
from __future__ import annotations

from lvr.eval.answerer import Prediction, prediction_from_text
from lvr.eval.runner import _record
from lvr.model.prompting import parse_response

OPTIONS = ["to the kitchen", "to the garage", "to the garden", "to the hall"]
ITEM = {"id": 7, "category": "temporal"}


def test_well_formed_output():
    p = prediction_from_text("<think>It goes out back.</think>\n<answer>C</answer>", OPTIONS, tokens=12, latency=0.5)
    assert (p.thinking, p.letter, p.format_ok, p.tokens, p.latency) == ("It goes out back.", "C", True, 12, 0.5)
    rec = _record(ITEM, p, "C")
    assert rec["correct"] == 1 and rec["format_ok"] == 1 and rec["answer"] == "C"
    assert _record(ITEM, p, "B")["correct"] == 0


def test_lower_case_letter_counts_but_stays_well_formed():
    p = prediction_from_text("<think>x</think><answer>b</answer>", OPTIONS)
    assert p.letter == "B" and p.format_ok is True


def test_missing_tags_fail_format_but_letter_is_still_read():
    p = prediction_from_text("The answer is B", OPTIONS)
    assert p.format_ok is False and p.letter == "B"
    assert _record(ITEM, p, "B") | {} == _record(ITEM, p, "B")
    assert _record(ITEM, p, "B")["correct"] == 1 and _record(ITEM, p, "B")["format_ok"] == 0
    p = prediction_from_text("<think>unfinished reasoning", OPTIONS)
    assert p.format_ok is False and p.letter is None
    assert _record(ITEM, p, "A")["correct"] == 0


def test_two_answers_follow_the_parser_rule():
    text = "<think>hmm</think><answer>A</answer><answer>B</answer>"
    p = prediction_from_text(text, OPTIONS)
    ref = parse_response(text, options=OPTIONS)
    assert (p.letter, p.format_ok) == (ref.letter, ref.format_ok)
    # the parser's rule: the first <answer> span is scored, and a repeated tag breaks the format
    assert p.letter == "A" and p.format_ok is False
    assert _record(ITEM, p, "A")["correct"] == 1 and _record(ITEM, p, "A")["format_ok"] == 0
    assert _record(ITEM, p, "B")["correct"] == 0


def test_answer_given_as_option_text_maps_to_its_letter():
    p = prediction_from_text("<think>t</think><answer>to the garage</answer>", OPTIONS)
    assert p.letter == "B"


def test_unparseable_answer_keeps_the_raw_span():
    p = prediction_from_text("<think>t</think><answer>somewhere else</answer>", OPTIONS)
    rec = _record(ITEM, p, "A")
    assert p.letter is None and rec["answer"] == "somewhere else" and rec["correct"] == 0


def test_non_generative_prediction_has_no_format_flag():
    rec = _record(ITEM, Prediction(text="D", answer="D", letter="D"), "D")
    assert rec["format_ok"] is None and rec["correct"] == 1

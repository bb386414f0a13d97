"""Sanity baselines: the oracle reads every answer from the event log (100 %); answering without the
video (question and options only) or always the same letter stays near chance."""

from __future__ import annotations

import pytest

from lvr.synth.baselines import ConstantAnswerer, OracleAnswerer, TextOnlyAnswerer, accuracy, option_features


def test_oracle_answers_everything_from_the_saved_logs(small_ws):
    ws, _, summary = small_ws
    items = list(ws.iter_qa(source="synth-gt"))
    assert len(items) == summary["qa"] > 0
    assert accuracy(OracleAnswerer.from_workspace(ws), items) == 1.0


def test_oracle_refuses_an_item_whose_answer_is_not_an_option(corpus):
    item = dict(corpus["eval"][0])
    oracle = OracleAnswerer.from_logs(corpus["logs"])
    correct = oracle.predict([item])[0]
    item["options"] = [o + " (edited)" for o in item["options"]]
    assert correct in "ABCD"
    with pytest.raises(ValueError, match="not among the options"):
        oracle.predict([item])


def test_text_only_classifier_stays_near_chance_on_eval(corpus):
    model = TextOnlyAnswerer(max_iter=100).fit(corpus["sft"])
    train_acc, eval_acc = accuracy(model, corpus["sft"]), accuracy(model, corpus["eval"])
    assert train_acc > 0.30  # it does fit something: the check below has teeth
    assert eval_acc <= 0.35, eval_acc
    assert len(corpus["eval"]) >= 150


def test_workbench_naive_bayes_reference_stays_near_chance(corpus):
    from lvr.eval.reference import TextOnlyAnswerer as NaiveBayes

    nb = NaiveBayes().fit(corpus["sft"])
    preds = nb.answer_batch(corpus["eval"])
    acc = sum(p.letter == it["answer"] for p, it in zip(preds, corpus["eval"])) / len(corpus["eval"])
    assert acc <= 0.35, acc


@pytest.mark.parametrize("letter", "ABCD")
def test_always_the_same_letter_is_at_most_28_percent(corpus, letter):
    assert accuracy(ConstantAnswerer(letter), corpus["eval"]) <= 0.28
    assert accuracy(ConstantAnswerer(letter), corpus["sft"] + corpus["rl"] + corpus["eval"]) <= 0.28


def test_text_only_features_see_wording_artefacts():
    feats = option_features("How many times?", ["3", "10", "4", "5"], 1)
    assert "numrank:3" in feats and "pos:B" in feats and "o:10" in feats
    with pytest.raises(RuntimeError, match="not fitted"):
        TextOnlyAnswerer().predict([{"question": "q", "options": ["a", "b", "c", "d"]}])
    with pytest.raises(ValueError, match="no training items"):
        TextOnlyAnswerer().fit([])

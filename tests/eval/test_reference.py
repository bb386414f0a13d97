"""Reference answerers on a small synthetic-like eval split built through the store API."""
from __future__ import annotations

import pytest

from lvr.eval import EvalConfig, MostFrequentLetterAnswerer, RandomAnswerer, TextOnlyAnswerer, make_reference, run_eval

from .conftest import make_items


def _eval_items(ws):
    return list(ws.iter_qa(split="eval"))


def test_random_is_near_a_quarter_and_independent_of_batching(ws):
    ws.add_qa_many(make_items(400, "eval", seed=1))
    items = _eval_items(ws)
    a = RandomAnswerer(seed=0)
    whole = [p.letter for p in a.answer_batch(items, None)]
    pieces = [p.letter for s in range(0, 400, 7) for p in a.answer_batch(items[s:s + 7], None)]
    assert whole == pieces
    acc = sum(x == it["answer"] for x, it in zip(whole, items)) / len(items)
    assert 0.19 <= acc <= 0.31
    assert [p.letter for p in RandomAnswerer(seed=1).answer_batch(items, None)] != whole


def test_most_frequent_letter_scores_its_share(ws):
    ws.add_qa_many(make_items(300, "sft", seed=2, weights=(1, 4, 1, 1)))
    ws.add_qa_many(make_items(200, "eval", seed=3, weights=(1, 4, 1, 1)))
    a = MostFrequentLetterAnswerer.from_split(ws, "sft")
    assert a.letter == "B" and a.describe()["reference"] == "split 'sft'"
    items = _eval_items(ws)
    share = sum(it["answer"] == "B" for it in items) / len(items)
    res = run_eval(ws, a, EvalConfig(split="eval", frames=None, n_boot=200, figures=False))
    assert res.summary["overall"]["acc"] == pytest.approx(share)
    assert res.summary["best_constant"] == {"letter": "B", "acc": pytest.approx(share)}
    assert res.summary["letters"]["pred"]["B"] == len(items)


def test_text_only_exploits_option_wording_but_not_a_fair_split(ws):
    ws.add_qa_many(make_items(200, "sft", seed=4, artefact=True))
    ws.add_qa_many(make_items(100, "eval", seed=5, artefact=True))
    ws.add_qa_many(make_items(200, "rl", seed=6, artefact=False))
    a = TextOnlyAnswerer.from_split(ws, "sft")
    items = _eval_items(ws)
    acc = sum(p.letter == it["answer"] for p, it in zip(a.answer_batch(items, None), items)) / len(items)
    assert acc > 0.9
    fair = list(ws.iter_qa(split="rl"))
    acc_fair = sum(p.letter == it["answer"] for p, it in zip(a.answer_batch(fair, None), fair)) / len(fair)
    assert acc_fair < 0.4
    assert a.describe()["train_items"] == 200


def test_make_reference_falls_back_to_the_evaluated_items_and_says_so(ws):
    ws.add_qa_many(make_items(40, "eval", seed=7, weights=(0, 0, 1, 0)))
    items = _eval_items(ws)
    with pytest.raises(ValueError, match="no items in split 'sft'"):
        make_reference("most-frequent", ws)
    a = make_reference("most-frequent", ws, fallback_items=items)
    assert a.letter == "C" and "oracle" in a.reference
    t = make_reference("text-only", ws, fallback_items=items)
    assert "oracle" in t.describe()["reference"]
    with pytest.raises(ValueError, match="unknown reference answerer"):
        make_reference("always-b", ws)
    with pytest.raises(ValueError, match="no answer keys"):
        MostFrequentLetterAnswerer([])
    with pytest.raises(RuntimeError, match="not fitted"):
        TextOnlyAnswerer().answer_batch(items, None)

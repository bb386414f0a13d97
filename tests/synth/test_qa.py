"""Reasoning QA: templates per category, item layout, the two-clip rule, reasoning forms, letter balance
and the absence of wording shortcuts (length, option frequency)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from lvr.datagen.parsing import parse_item, render_item
from lvr.synth import QAConfig, generate_qa, solve, templates_by_category
from lvr.synth.qa import letter_deck


def test_at_least_five_templates_per_category():
    cats = templates_by_category()
    assert set(cats) == {"temporal", "goal", "spatial", "plot"}
    assert all(len(v) >= 5 for v in cats.values()), {k: len(v) for k, v in cats.items()}


def test_items_have_the_store_layout_and_need_two_clips(log3):
    items = generate_qa(log3)
    assert len(items) >= 50
    assert {it["category"] for it in items} == {"temporal", "goal", "spatial", "plot"}
    for it in items:
        assert len(it["options"]) == 4 and len({o.lower() for o in it["options"]}) == 4
        assert it["answer"] in "ABCD"
        assert it["options"]["ABCD".index(it["answer"])] == it["meta"]["answer_text"] == solve(it, log3)
        clips = it["meta"]["clips"]
        assert len(clips) >= 2 and clips == sorted({log3.clip_of(t) for t in it["meta"]["evidence_times"]})
        assert it["start"] == log3.clip_range(clips[0])[0] and it["end"] == log3.clip_range(clips[-1])[1]


def test_reasoning_raw_uses_the_paper_layout(log3):
    for it in generate_qa(log3):
        parsed = parse_item(
            render_item(it["question"], it["options"], it["answer"], []) + "\n" + it["reasoning_raw"]
        )
        assert len(parsed.ranges) >= 2 and all(r.bullets for r in parsed.ranges)
        assert parsed.conclusion


def test_reasoning_reads_as_if_watching_and_keeps_every_fact(log3):
    for it in generate_qa(log3):
        text = it["reasoning"]
        assert not re.search(r"\d{1,2}:\d{2}", text)
        assert not re.search(r"caption|step \d|^from |\bfrom \d", text, re.IGNORECASE)
        low = text.lower()
        for line in it["reasoning_raw"].splitlines():
            if line.startswith("- "):
                assert line[2:].rstrip(".").lower() in low, (line, text)


def test_per_template_cap_and_category_filter(log3):
    few = generate_qa(log3, QAConfig(per_template=1, categories=("plot",)))
    assert {it["category"] for it in few} == {"plot"}
    assert max(Counter(it["meta"]["template"] for it in few).values()) == 1


@pytest.mark.parametrize("n, seed", [(0, 0), (1, 3), (7, 1), (100, 5)])
def test_letter_deck_is_balanced(n, seed):
    deck = letter_deck(n, seed)
    counts = Counter(deck)
    assert len(deck) == n and (not deck or max(counts.values()) - min(counts.get(x, 0) for x in "ABCD") <= 1)


def test_letters_balanced_over_a_thousand_items(corpus):
    items = corpus["sft"] + corpus["rl"] + corpus["eval"]
    assert len(items) >= 1000
    counts = Counter(it["answer"] for it in items)
    for letter in "ABCD":
        assert abs(counts[letter] / len(items) - 0.25) <= 0.03, counts
    for split in ("sft", "rl", "eval"):
        c = Counter(it["answer"] for it in corpus[split])
        assert max(c.values()) / len(corpus[split]) <= 0.28, (split, c)


def test_correct_option_is_not_longest_or_most_frequent(corpus):
    items = corpus["sft"] + corpus["rl"] + corpus["eval"]
    longest = shortest = 0
    as_answer, shown = Counter(), Counter()
    for it in items:
        k = "ABCD".index(it["answer"])
        lens = [len(o) for o in it["options"]]
        longest += lens[k] == max(lens) and lens.count(max(lens)) == 1
        shortest += lens[k] == min(lens) and lens.count(min(lens)) == 1
        for i, o in enumerate(it["options"]):
            shown[o] += 1
            as_answer[o] += i == k
    assert longest / len(items) <= 0.30 and shortest / len(items) <= 0.30, (longest, shortest, len(items))
    # no option text that is shown often is the answer much more often than 1 time in 4
    frequent = [o for o, n in shown.items() if n >= 60]
    assert frequent
    worst = max(frequent, key=lambda o: as_answer[o] / shown[o])
    assert as_answer[worst] / shown[worst] <= 0.42, (worst, as_answer[worst], shown[worst])  # 3 sigma at n=60

"""Filters: MiniLM near-duplicate marking, answer-letter balancing with consistent references, difficulty marks."""
from __future__ import annotations

import numpy as np
import pytest

from lvr.datagen import balance_letters, mark_difficulty, mark_duplicates, permute_item, remap_letters
from lvr.datagen.dedup import SentenceEmbedder, minilm_dir, near_duplicates
from lvr.store.difficulty import difficulty_flag


def item(vid, question, answer="B", **kw):
    it = dict(video_id=vid, category="temporal", question=question, answer=answer, source="test",
              options=["The red car", "The blue bicycle", "The green bus", "The yellow taxi"],
              reasoning=f"First the bicycle passes, so option {answer} fits; ({answer}) is right.",
              reasoning_raw=f"From 00:00 to 00:10:\n- The bicycle passes.\nConclusion: answer {answer}.")
    it.update(kw)
    return it


@pytest.fixture
def two_videos(ws):
    a = ws.add_video("/x/a.mp4", sha256="a" * 64, duration=60, fps=30, n_frames=1800, width=8, height=8)
    b = ws.add_video("/x/b.mp4", sha256="b" * 64, duration=60, fps=30, n_frames=1800, width=8, height=8)
    return a, b


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder.shared()


def test_minilm_embeddings_are_normalised_and_meaningful(embedder):
    assert (minilm_dir() / "model.safetensors").is_file()
    e = embedder.encode(["A man rides a bicycle along the river.", "A person cycles beside a river.",
                         "The stock market fell sharply on Monday."])
    assert e.shape == (3, 384)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > 0.6 > e[0] @ e[2]


def test_near_duplicates_blockwise_matches_full():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(50, 8)).astype(np.float32)
    e[30] = e[4] + 0.01
    e[45] = e[30]
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    full = near_duplicates(e, 0.99)
    assert [(j, i) for j, i, _ in full] == [(30, 4), (45, 30)]
    assert near_duplicates(e, 0.99, block=7) == full


def test_dedup_marks_near_duplicates_within_a_video(ws, two_videos, embedder):
    a, b = two_videos
    ids = [ws.add_qa(item(a, "What does the woman buy at the market before she rides home?")),
           ws.add_qa(item(a, "Why does the man feed the ducks near the bridge?")),
           ws.add_qa(item(a, "What did the woman buy at the market before riding home?")),
           ws.add_qa(item(b, "What does the woman buy at the market before she rides home?"))]
    report = mark_duplicates(ws, threshold=0.9, embedder=embedder)
    assert [(j, i) for j, i, _ in report.marked] == [(ids[2], ids[0])]
    assert ws.get_qa(ids[2])["duplicate_of"] == ids[0] and ws.get_qa(ids[3])["duplicate_of"] is None
    rev = ws.revisions(ids[2])[-1]
    assert rev["action"] == "dedup" and rev["who"] == "dedup" and "cosine" in rev["comment"]
    assert mark_duplicates(ws, threshold=0.9, embedder=embedder).marked == []       # idempotent
    across = mark_duplicates(ws, threshold=0.9, scope="all", embedder=embedder)     # other video's copy
    assert [(j, i) for j, i, _ in across.marked] == [(ids[3], ids[0])]
    assert ws.query_qa(duplicate=False)[1] == 2                                     # marked, not deleted
    assert ws.stats()["qa"] == 4


def test_remap_letters_patterns():
    m = {"A": "C", "C": "A"}
    assert remap_letters("Option A beats (C); answer: C.", m) == "Option C beats (A); answer: A."
    assert remap_letters("options A and C are close, not C.", m) == "options C and A are close, not A."
    assert remap_letters("A. first\nC) third\n<answer>A</answer>", m) == "C. first\nA) third\n<answer>C</answer>"
    assert remap_letters("A dog sees a C-shaped hook.", m) == "A dog sees a C-shaped hook."


def test_permute_item_moves_options_and_references():
    it = item("v", "Which vehicle passes first?", answer="B", meta={"conclusion": "Only option B fits."})
    ch = permute_item(it, {"B": "D", "D": "B"})
    assert ch["answer"] == "D" and ch["options"][3] == "The blue bicycle" and ch["options"][1] == "The yellow taxi"
    assert ch["reasoning"] == "First the bicycle passes, so option D fits; (D) is right."
    assert ch["reasoning_raw"].endswith("Conclusion: answer D.")
    assert ch["meta"]["conclusion"] == "Only option D fits."
    assert ch["meta"]["letter_permutations"] == [{"B": "D", "D": "B"}]
    with pytest.raises(ValueError):
        permute_item(it, {"A": "B"})


def test_balance_letters_evens_out_a_biased_set(ws, two_videos):
    a, _ = two_videos
    for i in range(14):
        ws.add_qa(item(a, f"Question number {i} about the bicycle?", answer="B"))
    fixed = ws.add_qa(item(a, "Which is right?", answer="B",
                           options=["Red", "Both A and C", "Blue", "None of the above"]))
    report = balance_letters(ws, seed=3)
    assert report.before == {"A": 0, "B": 15, "C": 0, "D": 0}
    assert report.after == {"A": 4, "B": 4, "C": 4, "D": 3}
    assert report.fixed == [fixed] and ws.get_qa(fixed)["answer"] == "B"
    for it in ws.iter_qa():
        # the correct option's text never changes, only its letter, and every reference follows it
        assert it["options"][ord(it["answer"]) - 65] in ("The blue bicycle", "Both A and C")
        if it["id"] != fixed:
            assert f"option {it['answer']} fits; ({it['answer']})" in it["reasoning"]
            assert it["reasoning_raw"].endswith(f"answer {it['answer']}.")
    assert balance_letters(ws, seed=3).changed == []                 # already balanced
    moved = report.changed[0][0]
    assert ws.revisions(moved)[-1]["action"] == "balance"


def test_difficulty_marks(ws, two_videos):
    a, _ = two_videos
    ids = [ws.add_qa(item(a, f"Question {i} about the market?")) for i in range(4)]
    report = mark_difficulty(ws, {ids[0]: 1.0, ids[1]: 0.0, ids[2]: 0.4, 9999: 0.5}, k=10)
    assert report.always_right == [ids[0]] and report.always_wrong == [ids[1]] and report.missing == [9999]
    assert report.counts == {"always_right": 1, "always_wrong": 1, "informative": 1}
    it = ws.get_qa(ids[2])
    assert it["difficulty"] == 0.4 and it["meta"]["difficulty_flag"] == "informative"
    assert it["meta"]["difficulty_k"] == 10
    assert ws.get_qa(ids[0])["meta"]["difficulty_flag"] == "always_right"
    assert ws.get_qa(ids[3])["difficulty"] is None
    assert difficulty_flag(0.96, 10) == "always_right" and difficulty_flag(0.9, 10) == "informative"
    assert difficulty_flag(0.04, 10) == "always_wrong"
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        mark_difficulty(ws, {ids[0]: 1.5}, k=10)
    with pytest.raises(ValueError, match="k"):
        mark_difficulty(ws, {ids[0]: 0.5}, k=0)

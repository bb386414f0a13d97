"""Does a checkpoint read its video (lvr.eval.reading): its own-video evaluation paired with the same items shown
another video's frames, by qa_id, with the exact McNemar test; only runs that differ in the videos alone pair."""
from __future__ import annotations

import pytest

from lvr.eval.reading import preferred_checkpoint, reading_summary, video_readers, video_reading
from lvr.eval.stats import mcnemar_exact
from lvr.store import Workspace


def add_run(ws, ckpt, correct: list[int], *, videos=None, frames=8, mode="choice", status="succeeded", first_qa=1):
    selection = {"split": "eval", **({"videos": videos} if videos else {})}
    run = ws.add_eval_run(checkpoint=ckpt, split="eval", frames=frames,
                          config={"selection": selection, "answerer": {"answer_mode": mode}})
    ws.add_eval_items(run, [{"qa_id": first_qa + i, "category": "temporal", "correct": c}
                            for i, c in enumerate(correct)])
    ws.update_eval_run(run, status=status)
    return run


@pytest.fixture()
def ws(tmp_path):
    ws = Workspace.open(tmp_path / "ws", create=True)
    for name in ("reader", "guesser", "base"):
        (tmp_path / name).mkdir()
    yield ws
    ws.close()


def test_own_frames_against_another_videos_paired_by_item(ws, tmp_path):
    ckpt = ws.register_checkpoint(tmp_path / "reader", kind="lvr_composite", stage="sft")
    own = [1] * 14 + [0] * 6 + [1] * 2
    other = [0] * 14 + [0] * 6 + [1] * 2
    add_run(ws, ckpt, own[:-1])                                          # an older pair's own run
    own_run = add_run(ws, ckpt, own)
    add_run(ws, ckpt, other, videos="shuffled", frames=16)               # another frame count: not its pair
    add_run(ws, ckpt, [1] * 22, videos="shuffled", mode="free")           # another answer mode: not its pair
    add_run(ws, ckpt, [1] * 22, videos="shuffled", status="failed")       # unfinished: not its pair
    other_run = add_run(ws, ckpt, other + [1], videos="shuffled")         # one item more: only shared items count
    r = video_reading(ws, ckpt)
    assert (r.own_run, r.other_run, r.n, r.frames, r.split) == (own_run, other_run, 22, 8, "eval")
    assert (r.own_only, r.other_only) == (14, 0) and r.own == 16 / 22 and r.other == 2 / 22
    assert r.p == mcnemar_exact(14, 0) < 0.05 and r.reads
    line = reading_summary(r)
    assert "reads its video" in line and "72.7 %" in line and "9.1 %" in line and "22 eval items" in line


def test_no_pair_no_claim(ws, tmp_path):
    ckpt = ws.register_checkpoint(tmp_path / "guesser", kind="lvr_composite", stage="sft")
    add_run(ws, ckpt, [1, 0, 1])
    assert video_reading(ws, ckpt) is None
    assert "Not measured" in reading_summary(None) and "--videos shuffled" in reading_summary(None)
    add_run(ws, ckpt, [1, 0, 0], videos="shuffled")                     # 1 vs 0 discordant: not significant
    r = video_reading(ws, ckpt)
    assert r is not None and not r.reads and "no evidence it reads its video" in reading_summary(r)


def test_readers_are_listed_newest_first(ws, tmp_path):
    reader = ws.register_checkpoint(tmp_path / "reader", kind="lvr_composite", stage="sft")
    guesser = ws.register_checkpoint(tmp_path / "guesser", kind="lvr_composite", stage="grpo", parent=reader)
    ws.register_checkpoint(tmp_path / "base", kind="lvr_composite", stage="base")
    add_run(ws, reader, [1] * 12 + [0] * 8)
    add_run(ws, reader, [0] * 20, videos="shuffled")
    add_run(ws, guesser, [1] * 10 + [0] * 10)
    add_run(ws, guesser, [1] * 10 + [0] * 10, videos="shuffled")
    assert video_readers(ws) == [reader]


def test_the_preferred_checkpoint_reads_its_video_else_is_the_most_trained(tmp_path):
    ws = Workspace.open(tmp_path / "ws2", create=True)
    assert preferred_checkpoint(ws) is None
    for name in ("base", "sft1", "sft2", "grpo", "base2"):
        (tmp_path / name).mkdir()
    base = ws.register_checkpoint(tmp_path / "base", kind="lvr_composite", stage="base")
    assert preferred_checkpoint(ws) == base                                  # nothing trained yet
    ws.register_checkpoint(tmp_path / "sft1", kind="lvr_composite", stage="sft", parent=base)
    sft2 = ws.register_checkpoint(tmp_path / "sft2", kind="lvr_composite", stage="sft", parent=base)
    ws.register_checkpoint(tmp_path / "base2", kind="lvr_composite", stage="base")
    assert preferred_checkpoint(ws) == sft2                                  # the newest sft, never a newer base
    grpo = ws.register_checkpoint(tmp_path / "grpo", kind="lvr_composite", stage="grpo", parent=sft2)
    assert preferred_checkpoint(ws) == grpo
    add_run(ws, sft2, [1] * 12 + [0] * 8)                               # an evaluation shows sft2 reads its video
    add_run(ws, sft2, [0] * 20, videos="shuffled")
    assert preferred_checkpoint(ws) == sft2

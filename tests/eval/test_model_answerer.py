"""ModelAnswerer with a real tiny checkpoint on real H.264 videos from the store."""
from __future__ import annotations

import pytest

from lvr.eval import EvalConfig, ModelAnswerer, run_eval, run_sweep

from .conftest import make_items


@pytest.fixture
def answerer(tiny_checkpoint):
    a = ModelAnswerer(tiny_checkpoint, max_new_tokens=12)
    calls = []
    encode = a.model.encode_frames

    def counting(frames, *args, **kw):
        calls.append(frames.shape)
        return encode(frames, *args, **kw)

    a.model.encode_frames = counting
    a.encode_calls = calls
    return a


def test_each_video_is_sampled_and_encoded_once_per_batch(ws, video_ids, answerer):
    ws.add_qa_many(make_items(6, "eval", seed=1, video_ids=video_ids))      # 3 per video, interleaved by id
    res = run_eval(ws, answerer, EvalConfig(split="eval", frames=4, batch_size=3, n_boot=100, figures=False))
    # items are batched by video, so each video is decoded and encoded exactly once
    assert answerer.frames_sampled == 2 and len(answerer.encode_calls) == 2
    assert all(shape[0] == 4 for shape in answerer.encode_calls)            # 4 frames each
    rows = ws.eval_items(res.run_id)
    assert len(rows) == 6
    for r in rows:
        assert isinstance(r["prediction"], str) and 0 < r["tokens"] <= 12 and r["latency"] > 0
        assert r["format_ok"] in (0, 1) and r["correct"] in (0, 1)
    s = res.summary
    assert s["n_scored"] == 6 and s["format_ok_rate"] is not None and s["tokens"]["mean"] > 0
    assert ws.get_eval_run(res.run_id)["config"]["answerer"]["max_new_tokens"] == 12


def test_sweep_runs_one_run_per_frame_count_and_resumes(ws, video_ids, answerer):
    ws.add_qa_many(make_items(4, "eval", seed=2, video_ids=video_ids))
    res = run_sweep(ws, answerer, [4, 2], EvalConfig(split="eval", batch_size=4, n_boot=100))
    assert res.curve["frames"] == [2, 4] and len(res.run_ids) == 2
    runs = [ws.get_eval_run(r) for r in res.run_ids]
    assert [r["frames"] for r in runs] == [2, 4]
    assert {r["config"]["sweep"] for r in runs} == {res.sweep_id}
    assert all(len(ws.eval_items(r)) == 4 for r in res.run_ids)
    assert (ws.runs_dir / res.sweep_id / "frames.html").exists()
    sampled = answerer.frames_sampled
    again = run_sweep(ws, answerer, [2, 4], EvalConfig(split="eval", batch_size=4, n_boot=100),
                      sweep_id=res.sweep_id)
    assert again.run_ids == res.run_ids and answerer.frames_sampled == sampled   # nothing re-scored


def test_frame_cache_and_bad_arguments(ws, video_ids, tiny_checkpoint, tmp_path):
    ws.add_qa_many(make_items(2, "eval", seed=3, video_ids=video_ids))
    a = ModelAnswerer(tiny_checkpoint, max_new_tokens=4, frame_cache_dir=ws.frames_cache_dir)
    run_eval(ws, a, EvalConfig(split="eval", frames=3, n_boot=50, figures=False, references=()))
    assert any(ws.frames_cache_dir.rglob("*"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ModelAnswerer(tmp_path / "nope")
    with pytest.raises(ValueError, match="max_new_tokens"):
        ModelAnswerer(tiny_checkpoint, max_new_tokens=0)
    with pytest.raises(ValueError, match="no video to show"):
        a.answer_batch([{"id": 1, "question": "q", "options": list("abcd"), "video_path": None}], 4)


def test_shuffled_videos_show_each_item_another_videos_frames(ws, video_ids, answerer):
    """The no-video control: every item keeps its question but is shown the next video's frames."""
    ws.add_qa_many(make_items(6, "eval", seed=3, video_ids=video_ids))
    own_path = {v: str(ws.resolve(ws.get_video(v)["path"])) for v in video_ids}
    shown = []
    answer = answerer.answer_batch

    def recording(items, frames):
        shown.extend((it["video_id"], it["video_path"]) for it in items)
        return answer(items, frames)

    answerer.answer_batch = recording
    cfg = EvalConfig(split="eval", frames=2, batch_size=3, n_boot=50, figures=False, videos="shuffled")
    res = run_eval(ws, answerer, cfg, run_id="shuffled-run")
    a, b = sorted(video_ids)
    assert len(shown) == 6 and all(path == own_path[b if vid == a else a] for vid, path in shown)
    assert answerer.frames_sampled == 2 and res.summary["n_scored"] == 6
    assert ws.get_eval_run("shuffled-run")["config"]["selection"]["videos"] == "shuffled"
    with pytest.raises(ValueError, match="items"):            # the same run id cannot resume with own videos
        run_eval(ws, answerer, EvalConfig(split="eval", frames=2, n_boot=50, figures=False), run_id="shuffled-run")


def test_shuffled_videos_needs_two_videos_and_a_known_mode(ws, video_ids, answerer):
    ws.add_qa_many(make_items(2, "eval", seed=4, video_ids=video_ids[:1]))
    with pytest.raises(ValueError, match="at least 2 videos"):
        run_eval(ws, answerer, EvalConfig(split="eval", frames=2, figures=False, videos="shuffled"))
    with pytest.raises(ValueError, match="videos: must be one of"):
        EvalConfig(videos="random")


def test_choice_mode_answers_with_an_option_and_keeps_the_free_answer(ws, video_ids, tiny_checkpoint):
    # a random-init model writes no option; restricted to the options, every item still gets one of A-D
    ws.add_qa_many(make_items(4, "eval", seed=3, video_ids=video_ids))
    free = run_eval(ws, ModelAnswerer(tiny_checkpoint, max_new_tokens=8), EvalConfig(
        split="eval", frames=2, batch_size=4, n_boot=100, figures=False, references=()))
    choice = run_eval(ws, ModelAnswerer(tiny_checkpoint, max_new_tokens=8, answer_mode="choice"), EvalConfig(
        split="eval", frames=2, batch_size=4, n_boot=100, figures=False, references=()))
    rows_free, rows_choice = ws.eval_items(free.run_id), ws.eval_items(choice.run_id)
    assert all(r["answer"] in ("A", "B", "C", "D") for r in rows_choice)
    assert any(r["answer"] not in ("A", "B", "C", "D") for r in rows_free)
    # the same greedy generation: its text, thinking and format check are kept
    assert [(r["prediction"], r["thinking"], r["format_ok"]) for r in rows_choice] == \
           [(r["prediction"], r["thinking"], r["format_ok"]) for r in rows_free]
    assert ws.get_eval_run(choice.run_id)["config"]["answerer"]["answer_mode"] == "choice"
    with pytest.raises(ValueError, match="answer_mode"):
        ModelAnswerer(tiny_checkpoint, answer_mode="letters")

"""Importing a LongVideo-Reason-eval-style JSONL with real, missing and broken videos."""
from __future__ import annotations

import json
import shutil

import pytest

from lvr.eval import EvalConfig, ModelAnswerer, benchmark_report, run_eval
from lvr.eval.benchmark import BenchmarkRowError, VideoResolver, map_category, normalize_row, split_problem
from lvr.recipe.benchmark import import_benchmark

Q = "What is the primary intention behind the sequence (0:00:00-0:00:30)?"


def _problem(order="ABCD"):
    text = {"A": "To sell a car", "B": "To contrast two animals", "C": "To teach cooking", "D": "To show a city"}
    return Q + "\n" + "\n".join(f"{k}. {text[k]}" for k in order)


@pytest.fixture
def bench(tmp_path, clip_paths):
    videos = tmp_path / "videos"
    (videos / "longvideo_eval_subset0").mkdir(parents=True)     # what the archives really extract to
    shutil.copy(clip_paths[0], videos / "longvideo_eval_subset0" / "elephant.mp4")
    shutil.copy(clip_paths[1], videos / "longvideo_eval_subset0" / "market.mp4")
    (videos / "longvideo_eval_subset0" / "broken.mp4").write_text("not a video at all")
    rows = [
        {"problem_id": 0, "problem": _problem(), "data_type": "video", "problem_type": "goal",
         "videos": "longvila_videos/elephant.mp4", "answer": "<answer>B</answer>", "reasoning": "r"},
        {"problem_id": 1, "problem": _problem("DABC"), "problem_type": "Temporal",
         "videos": "longvila_videos/market.webm", "answer": "B"},                       # stem match, shuffled
        {"problem_id": 2, "problem": Q, "options": ["A. x1", "B. x2", "C. x3", "D. x4"],
         "category": "Plot and Narrative", "videos": ["longvila_videos/gone.mp4"], "answer": "(C)"},
        {"problem_id": 3, "problem": Q, "options": {"A": "y1", "B": "y2", "C": "y3", "D": "y4"},
         "problem_type": "Spatial", "videos": "broken.mp4", "answer": "<answer>B. y2</answer>"},
        {"problem_id": 4, "problem": "No options here", "problem_type": "goal", "videos": "x.mp4", "answer": "A"},
        {"problem_id": 5, "problem": _problem(), "problem_type": "cooking", "videos": "x.mp4", "answer": "A"},
        {"problem_id": 6, "problem": _problem(), "problem_type": "Goal and Purpose",
         "videos": "longvila_videos/elephant.mp4", "answer": "To contrast two animals"},
    ]
    jsonl = tmp_path / "test.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n{broken json\n")
    return jsonl, videos


def _pid(item) -> str:
    return str(item["meta"]["import"]["problem_id"])


def test_import_keeps_rows_with_missing_videos_and_reports_everything(ws, bench):
    jsonl, videos = bench
    rep = import_benchmark(ws, jsonl, videos, source="lvr-eval")
    assert rep.rows == 8 and rep.added == 6
    assert [pid for pid, _ in rep.missing_videos] == ["2", "5"] and "video not found" in rep.missing_videos[0][1]
    assert [pid for pid, _ in rep.undecodable_videos] == ["3"] and "unreadable" in rep.undecodable_videos[0][1]
    bad = dict(rep.bad_rows)
    assert set(bad) == {5, 9}             # line 8 is blank; line 6's unknown category is not a rejection
    assert "4 options" in bad[5] and "JSON" in bad[9]
    assert rep.categories == {"temporal": 1, "goal": 2, "spatial": 1, "plot": 1, "uncategorised": 1}
    assert rep.uncategorised == ["5"]
    assert rep.letters == {"A": 1, "B": 4, "C": 1, "D": 0, "none": 0}
    assert rep.best_constant == {"letter": "B", "acc": 4 / 6}
    text = rep.format_text()
    assert "always answering B scores 66.7 %" in text and "missing videos: 2" in text and f"{jsonl}:9" in text
    items = {_pid(it): it for it in ws.iter_qa(source="lvr-eval")}
    assert items["1"]["options"] == ["To sell a car", "To contrast two animals", "To teach cooking",
                                     "To show a city"]                    # shuffled lines put back in A-D order
    assert items["1"]["question"] == Q and items["1"]["answer"] == "B" and items["1"]["category"] == "temporal"
    assert items["0"]["video_id"] == items["6"]["video_id"] is not None       # one video, ingested once
    assert items["1"]["video_id"] is not None                                   # found by stem (.webm → .mp4)
    assert items["2"]["video_id"] is None and items["3"]["video_id"] is None
    assert items["3"]["options"][1] == "y2" and items["3"]["answer"] == "B" and items["6"]["answer"] == "B"
    assert items["2"]["category"] == "plot" and items["6"]["category"] == "goal"
    assert all(it["status"] == "approved" and it["split"] == "eval" for it in items.values())
    assert sorted(rep.qa_ids) == sorted(it["id"] for it in items.values())

    again = import_benchmark(ws, jsonl, videos, source="lvr-eval")
    assert again.added == 0 and again.already_present == 6 and again.rows == 8
    assert again.letters == rep.letters

    check = benchmark_report(ws, source="lvr-eval")
    assert check["n"] == 6 and check["letters"]["B"] == 4 and check["categories"]["uncategorised"] == 1
    assert sorted(str(p["problem_id"]) for p in check["video_problems"]) == ["2", "3", "5"]


def test_model_run_on_the_benchmark_skips_unusable_videos(ws, bench, tiny_checkpoint):
    jsonl, videos = bench
    import_benchmark(ws, jsonl, videos, source="lvr-eval")
    res = run_eval(ws, ModelAnswerer(tiny_checkpoint, max_new_tokens=4),
                   EvalConfig(split="eval", source="lvr-eval", frames=2, n_boot=50, figures=False))
    assert res.summary["n_items"] == 6 and res.summary["n_scored"] == 3
    reasons = sorted(s["reason"] for s in res.summary["skipped"]["items"])
    assert reasons[0].startswith("video not found") and reasons[-1].startswith("video unreadable")
    # the reference answerers are computed on the same 3 scored items
    assert res.summary["references"]["random"]["overall"]["n"] == 3


def test_row_normalisation_rules(tmp_path):
    from lvr.datagen.importer import row_to_item

    assert [map_category(x) for x in ("Temporal", "Goal and Purpose", "Spatial", "Plot & Narrative", "plot")] == \
        ["temporal", "goal", "spatial", "plot", "plot"]
    with pytest.raises(BenchmarkRowError):
        map_category("multiple choice")
    q, opts = split_problem("Which?\nA. one\nB. two\n   continued\nC. three\nD. four")
    assert q == "Which?" and opts[1] == "two continued"
    assert split_problem("Which?\nA. one\nB. two")[1] is None
    row = normalize_row({"problem": _problem("CDAB"), "problem_type": "multiple choice", "category": "Spatial",
                         "answer": "<answer>d</answer>", "video": "v.mp4"})
    item = row_to_item(row)
    assert item["category"] == "spatial" and item["answer"] == "D" and item["options"][3] == "To show a city"
    assert row["videos"] == "v.mp4"
    row = normalize_row({"problem": Q, "options": ["B. two", "D. four", "A. one", "C. three"],
                         "problem_type": "plot", "answer": "A. one"})
    assert row["options"] == ["one", "two", "three", "four"] and row["answer"] == "A"
    # what cannot be fixed is left for the importer to report
    bad = normalize_row({"problem": _problem(), "problem_type": "goal", "answer": "<answer>E</answer>"})
    with pytest.raises(ValueError, match="neither a letter"):
        row_to_item(bad)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "clip.mkv").write_bytes(b"x")
    r = VideoResolver(tmp_path)
    assert r.resolve("longvila_videos/clip.mp4") == tmp_path / "sub" / "clip.mkv"
    assert r.resolve("longvila_videos/none.mp4") is None and r.resolve(None) is None


def test_import_fails_fast_on_missing_inputs(ws, tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmark file"):
        import_benchmark(ws, tmp_path / "none.jsonl", tmp_path)
    (tmp_path / "t.jsonl").write_text("")
    with pytest.raises(FileNotFoundError, match="videos folder"):
        import_benchmark(ws, tmp_path / "t.jsonl", tmp_path / "novideos")

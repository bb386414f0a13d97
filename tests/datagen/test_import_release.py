"""`lvr import` and `lvr eval import` on rows written exactly as the LongVideo-Reason release writes them.

The release has no category column (`problem_type` is "multiple choice"), keeps the options in
`problem`, writes the key as `<answer>B</answer>` (sometimes `<answer>B.</answer>`), names videos
`longvila_videos/<id>.mp4` although they extract flat (some .webm/.mkv), has rows without options
and rows whose options carry the generator's deliberation, and a key skewed towards B.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lvr.cli import cli
from lvr.datagen.release import load_category_map, option_flags
from lvr.store import Workspace
from lvr.store.answer_key import key_skew

from .test_import_real_format import write_video

QUESTION = "What does the man do after he enters the kitchen?"
OPTIONS = ["opens the fridge", "sits down at the table", "washes his hands", "turns off the light"]


def release_row(pid: int, answer: str = "B", options: list[str] | None = OPTIONS, video: str | None = None,
                sft: bool = False) -> dict:
    """One row as released (key order and fields as in the release's jsonl)."""
    opts = "" if options is None else "\n" + "\n".join(f"{k}. {o}" for k, o in zip("ABCD", options))
    row = {"problem_id": pid, "problem": QUESTION + opts, "data_type": "video", "problem_type": "multiple choice",
           "videos": video or f"longvila_videos/vid{pid}.mp4", "answer": f"<answer>{answer}</answer>"}
    if sft:
        row = {**row, "reasoning": "<think>He walks in, then goes to the table.</think>"}
        row["answer"] = row.pop("answer")
    return row


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def flat_videos(tmp_path_factory) -> Path:
    """Videos extracted flat (not under longvila_videos/): one mp4, one webm, one mkv."""
    d = tmp_path_factory.mktemp("flat")
    write_video(d / "vid1.mp4", seed=1)
    write_video(d / "vid2.webm", codec="libvpx", seed=2)
    write_video(d / "vid3.mkv", seed=3)
    return d


def defects_file(tmp_path: Path) -> Path:
    """Six release rows: webm/mkv videos, `<answer>B.</answer>`, no options, leaked deliberation, a long option."""
    leak = ["opens the fridge", "sits down at the table",
            "washes his hands. Wait, let me reconsider the part where he looks at the sink. Hmm, maybe not",
            "turns off the light"]
    long_opt = [*OPTIONS[:3], "turns off the light " + "and then he thinks about what happened earlier " * 8]
    return write_rows(tmp_path / "longvideo_reason_eval.jsonl", [
        release_row(1, "B"),
        release_row(2, "B.", video="longvila_videos/vid2.mp4"),     # the file is vid2.webm, flat
        release_row(3, "C", video="longvila_videos/vid3.mp4"),      # the file is vid3.mkv, flat
        release_row(4, "A", options=None),                          # no options: rejected by row number
        release_row(5, "C", options=leak, video="longvila_videos/vid1.mp4"),
        release_row(6, "D", options=long_opt, video="longvila_videos/vid1.mp4"),
    ])


def test_lvr_import_takes_release_rows_with_their_defects(ws, tmp_path, flat_videos):
    path = defects_file(tmp_path)
    r = run("import", ws.root, path, "--videos", flat_videos, "--split", "eval", "--status", "approved")
    assert r.exit_code == 0, r.output
    assert "6 rows, 5 added, 0 already imported, 1 rejected, 0 with missing video; 3 videos ingested" in r.output
    assert f"ERROR {path} row 4: needs 4 options, found 0" in r.output
    assert "categories: temporal 0, goal 0, spatial 0, plot 0, uncategorised 5" in r.output
    assert "WARNING 5 row(s) name no known category" in r.output and "rows 1, 2, 3, 5, 6\n" in r.output
    assert "WARNING 2 row(s) flagged for review (imported, left pending):" in r.output
    assert f"FLAGGED {path} row 5: option C reads like the generator's deliberation ('Wait,'" in r.output
    assert f"FLAGGED {path} row 6: option D is 395 characters long" in r.output

    items = {it["meta"]["import"]["problem_id"]: it for it in Workspace.open(ws.root).iter_qa()}
    assert sorted(items) == [1, 2, 3, 5, 6]
    assert {k: it["category"] for k, it in items.items()} == dict.fromkeys(items, "uncategorised")
    assert items[2]["answer"] == "B" and items[1]["answer"] == "B" and items[3]["answer"] == "C"
    assert items[1]["options"] == OPTIONS and items[1]["question"] == QUESTION
    videos = {v["id"]: Path(v["path"]).name for v in ws.list_videos()}
    assert [videos[items[k]["video_id"]] for k in (1, 2, 3)] == ["vid1.mp4", "vid2.webm", "vid3.mkv"]
    for k in (5, 6):
        assert items[k]["status"] == "pending" and items[k]["meta"]["import"]["flags"]
    assert {items[k]["status"] for k in (1, 2, 3)} == {"approved"}
    assert "flags" not in items[1]["meta"]["import"] and items[1]["meta"]["import"]["category_from"] == "none"


def test_categories_file_names_the_categories_and_a_column_still_wins(ws, tmp_path):
    rows = [release_row(1, sft=True), release_row(2, "C", sft=True), release_row(3, "A"),
            {**release_row(4), "category": "spatial"}, {**release_row(5), "category": "Emotion"}]
    path = write_rows(tmp_path / "train.jsonl", rows)
    cmap = tmp_path / "categories.csv"
    cmap.write_text("problem_id,category\n1,Temporal\n2,goal and purpose\n4,P\n")
    r = run("import", ws.root, path, "--categories", cmap)
    assert r.exit_code == 0, r.output
    assert "categories: temporal 1, goal 1, spatial 1, plot 0, uncategorised 2 (2 from the categories file)" \
        in r.output
    assert "WARNING 2 row(s) name no known category" in r.output and "rows 3, 5; unknown values: 'Emotion' ×1" \
        in r.output
    cats = {it["meta"]["import"]["problem_id"]: it["category"] for it in Workspace.open(ws.root).iter_qa()}
    assert cats == {1: "temporal", 2: "goal", 3: "uncategorised", 4: "spatial", 5: "uncategorised"}
    sft = next(it for it in Workspace.open(ws.root).iter_qa() if it["meta"]["import"]["problem_id"] == 1)
    assert sft["reasoning"] == "He walks in, then goes to the table."
    assert sft["meta"]["import"]["category_from"] == "map"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"1": "temporal", "2": "cooking"}))
    r = CliRunner().invoke(cli, ["import", str(ws.root), str(path), "--categories", str(bad)])
    assert r.exit_code == 1 and "line 2: category 'cooking' of problem_id 2 is not one of" in r.output


def test_skewed_key_is_warned_about_with_the_letter_distribution(ws, tmp_path):
    keys = "B" * 44 + "C" * 30 + "A" * 15 + "D" * 11
    path = write_rows(tmp_path / "eval.jsonl", [release_row(i, k) for i, k in enumerate(keys, 1)])
    r = run("import", ws.root, path)
    assert r.exit_code == 0 and "100 rows, 100 added" in r.output
    assert ("WARNING answer key is skewed: A 15 (15.0 %), B 44 (44.0 %), C 30 (30.0 %), D 11 (11.0 %); "
            "always answering B scores 44.0 % (chance 25 %)") in r.output

    fair = write_rows(tmp_path / "fair.jsonl", [release_row(i, "ABCD"[i % 4]) for i in range(40)])
    r = run("import", ws.root, fair)
    assert "WARNING answer key" not in r.output and "key letters: A 10 (25.0 %)" in r.output


def test_lvr_eval_import_takes_release_rows_and_reports_them(ws, tmp_path, flat_videos):
    path = defects_file(tmp_path)
    cmap = tmp_path / "categories.json"
    cmap.write_text(json.dumps([{"problem_id": 1, "category": "temporal"}, {"problem_id": 3, "category": "S"}]))
    r = run("eval", "import", ws.root, path, flat_videos, "--categories", cmap)
    assert r.exit_code == 0, r.output
    assert "6 rows, 5 added, 0 already present, 1 bad rows" in r.output
    assert "categories: temporal 1, goal 0, spatial 1, plot 0, uncategorised 3" in r.output
    assert "WARNING 3 row(s) name no known category" in r.output and "problem_ids 2, 5, 6" in r.output
    assert "FLAGGED problem_id 5: option C reads like the generator's deliberation" in r.output
    assert "FLAGGED problem_id 6: option D is 395 characters long" in r.output
    assert "needs 4 options, found 0" in r.output and "missing videos" not in r.output
    items = {it["meta"]["import"]["problem_id"]: it for it in Workspace.open(ws.root).iter_qa()}
    assert items[2]["answer"] == "B" and items[2]["category"] == "uncategorised"
    assert {k: it["status"] for k, it in items.items()} == {1: "approved", 2: "approved", 3: "approved",
                                                           5: "pending", 6: "pending"}
    assert items[2]["video_id"] and items[3]["video_id"]

    keys = "B" * 44 + "C" * 30 + "A" * 15 + "D" * 11
    skewed = write_rows(tmp_path / "skewed.jsonl", [release_row(100 + i, k) for i, k in enumerate(keys)])
    r = run("eval", "import", ws.root, skewed, flat_videos, "--source", "skewed")
    assert "WARNING answer key is skewed: A 15 (15.0 %), B 44 (44.0 %)" in r.output
    assert "always answering B scores 44.0 % (chance 25 %)" in r.output


def test_uncategorised_items_evaluate_export_and_check(ws, tmp_path):
    rows = [release_row(i, "ABCD"[i % 4]) for i in range(12)]
    path = write_rows(tmp_path / "eval.jsonl", rows)
    assert run("import", ws.root, path, "--split", "eval").exit_code == 0
    r = run("eval", ws.root, "--answerer", "random", "--bootstrap", "50")
    assert r.exit_code == 0, r.output
    header = next(line for line in r.output.splitlines() if line.startswith("accuracy % (95 % CI)"))
    assert header.split()[-1] == "uncategorised"
    r = run("eval", "check", ws.root)
    assert "12 items; categories: temporal 0, goal 0, spatial 0, plot 0, uncategorised 12" in r.output
    out = tmp_path / "out.jsonl"
    r = run("export", ws.root, out)
    assert r.exit_code == 0 and "exported 12 item(s)" in r.output
    assert {json.loads(x)["category"] for x in out.read_text().splitlines()} == {"uncategorised"}


def test_option_flags_leave_ordinary_options_alone():
    assert option_flags(OPTIONS) == []
    assert option_flags(["He waits for the bus", "Let me go, she says", "a", "the hammer"]) == []
    assert option_flags([*OPTIONS[:3], "Let me re-check: the light was already off"])[0].startswith("option D")
    assert option_flags(["Hmm, the door", *OPTIONS[1:]])[0].startswith("option A reads like")


def test_key_skew_needs_more_than_chance():
    assert key_skew(list("BBBA"))["skewed"] is False                       # 75 % of 4 rows: chance
    big = key_skew(list("B" * 441 + "C" * 299 + "A" * 153 + "D" * 107))     # the released eval key
    assert big["skewed"] and big["letter"] == "B" and round(big["share"], 3) == 0.441
    assert key_skew([]) is None


def test_category_map_formats(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"problem_id": 7, "problem_type": "Plot and Narrative"}\n')
    assert load_category_map(tmp_path / "m.jsonl") == {"7": "plot"}
    (tmp_path / "m.csv").write_text("7,G\n8,spatial\n")
    assert load_category_map(tmp_path / "m.csv") == {"7": "goal", "8": "spatial"}
    (tmp_path / "h.csv").write_text("category,problem_id\ntemporal,9\n")
    assert load_category_map(tmp_path / "h.csv") == {"9": "temporal"}
    with pytest.raises(ValueError, match="no problem_id"):
        (tmp_path / "e.json").write_text("{}")
        load_category_map(tmp_path / "e.json")

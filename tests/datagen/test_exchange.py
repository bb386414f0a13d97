"""Export/import of LongVideo-Reason rows: JSONL and datasets round trips, external files, the validator."""
from __future__ import annotations

import json

import pytest

from lvr.datagen import export_items, import_file, normalize_category
from lvr.datagen.export import export_rows
from lvr.datagen.schema_check import EXPORT_SCHEMA, check_rows, validate
from lvr.ingest import ingest
from lvr.store import Workspace

from .conftest import make_mp4


@pytest.fixture
def source_ws(ws, video_files):
    """Items of every kind: splits, statuses, a missing start/end, a duplicate, a difficulty, meta."""
    rep = ingest(ws, video_files)
    v1, v2 = rep.added
    base = dict(options=["Left", "Right", "Up", "Down"], reasoning="I watch it go right.",
                reasoning_raw="From 00:00 to 00:10:\n- It moves right.")
    ids = [
        ws.add_qa({**base, "video_id": v1, "category": "spatial", "question": "Where does the square go?",
                   "answer": "B", "split": "sft", "status": "approved", "start": 0.0, "end": 10.0, "source": "openai:m",
                   "meta": {"gen_key": "k1", "ranges": [[0, 5], [5, 10]]}}),
        ws.add_qa({**base, "video_id": v2, "category": "plot", "question": "How does the clip end — “quietly”?",
                   "answer": "D", "split": "rl", "status": "pending", "source": "openai:m"}),
        ws.add_qa({**base, "video_id": v2, "category": "goal", "question": "Why does the colour change?",
                   "answer": "A", "split": "eval", "status": "rejected", "source": "human", "start": 3.5, "end": 20.0}),
    ]
    dup = ws.add_qa({**base, "video_id": v1, "category": "temporal", "question": "Where does the square go next?",
                     "answer": "C", "split": "sft", "status": "draft", "source": "openai:m"})
    item = ws.get_qa(dup)
    ws.update_qa(dup, {"duplicate_of": ids[0], "difficulty": 0.3, "reject_reason": None},
                 expected_version=item["version"], who="t")
    return ws


def comparable(rows):
    """Rows with workspace-local ids replaced by their position, so two workspaces can be compared."""
    pos = {r["qa_id"]: i for i, r in enumerate(rows)}
    return [{**r, "qa_id": None, "duplicate_of": pos.get(r["duplicate_of"], r["duplicate_of"])} for r in rows]


def test_export_rows_follow_the_schema(source_ws, tmp_path):
    out = tmp_path / "all.jsonl"
    assert export_items(source_ws, out) == 4
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert check_rows(rows, EXPORT_SCHEMA, where=str(out)) == 4
    r = rows[0]
    assert r["problem"] == "Where does the square go?\nA. Left\nB. Right\nC. Up\nD. Down"
    assert r["options"] == ["A. Left", "B. Right", "C. Up", "D. Down"]
    assert r["answer"] == "<answer>B</answer>" and r["data_type"] == "video" and r["problem_type"] == "multiple choice"
    assert r["videos"].endswith("one.mp4") and r["problem_id"] == r["qa_id"]
    assert json.loads(r["meta"]) == {"gen_key": "k1", "ranges": [[0, 5], [5, 10]]}
    sft = export_rows(source_ws, split="sft", statuses=["approved", "pending", "draft"], exclude_duplicates=True)
    assert [x["question"] for x in sft] == ["Where does the square go?"]
    rel = export_rows(source_ws, split="rl", video_root=out.parent / "videos")
    assert rel[0]["videos"] == "two.mp4"


def test_jsonl_round_trip_is_lossless(source_ws, tmp_path):
    first = tmp_path / "a.jsonl"
    export_items(source_ws, first)
    other = Workspace.open(tmp_path / "other", create=True)
    report = import_file(other, first)
    assert (report.added, report.errors, report.missing_videos) == (4, [], [])
    assert report.videos_ingested == 2
    second = tmp_path / "b.jsonl"
    export_items(other, second)
    a = [json.loads(x) for x in first.read_text().splitlines()]
    b = [json.loads(x) for x in second.read_text().splitlines()]
    assert comparable(a) == comparable(b)
    again = import_file(other, first)                       # importing the same file twice adds nothing
    assert (again.added, again.already_imported) == (0, 4)
    assert other.stats()["qa"] == 4


def test_hf_datasets_round_trip(source_ws, tmp_path):
    from datasets import load_from_disk

    out = tmp_path / "hf"
    assert export_items(source_ws, out, fmt="hf") == 4
    ds = load_from_disk(str(out))
    assert len(ds) == 4 and ds[0]["answer"] == "<answer>B</answer>" and ds[0]["options"][0] == "A. Left"
    other = Workspace.open(tmp_path / "other", create=True)
    assert import_file(other, out).added == 4
    a, b = export_rows(source_ws), export_rows(other)
    assert comparable(a) == comparable(b)
    with pytest.raises(FileExistsError):
        export_items(source_ws, out, fmt="hf")


EXTERNAL = [
    {"problem_id": 101,
     "problem": "What happens first?\nA. A box opens\nB. A dog barks\nC. Rain falls\nD. A bell rings",
     "data_type": "video", "problem_type": "multiple choice",
     "options": ["A. A box opens", "B. A dog barks", "C. Rain falls", "D. A bell rings"],
     "reasoning": "<think>I see a dog bark before anything else.</think>", "videos": "clip_a.mp4",
     "answer": "<answer>B</answer>", "category": "Temporal"},
    {"problem_id": "x-7", "problem": "Why does she leave?\nOptions:\n(A) hungry\n(B) late\n(C) bored\n(D) cold",
     "videos": "gone.mp4", "answer": "late", "question_type": "Goal and Purpose", "reasoning": "She checks her watch."},
    {"problem_id": 103, "problem": "Where is the cat?\nA. Sofa\nB. Roof\nC. Garden\nD. Car", "videos": "sub/clip_a.mp4",
     "answer": "C", "category": "Plot & Narrative"},
    {"problem_id": 104, "problem": "Only three?\nA. x\nB. y\nC. z", "videos": "clip_a.mp4", "answer": "A",
     "category": "Spatial"},
    {"problem_id": 105, "problem": "Which feeling?\nA. joy\nB. fear\nC. anger\nD. calm", "videos": "clip_a.mp4",
     "answer": "A", "category": "Emotion"},
]


def test_external_file_with_missing_videos(ws, tmp_path):
    vids = tmp_path / "ext_videos"
    vids.mkdir()
    make_mp4(vids / "clip_a.mp4", 6.0, seed=5)
    path = tmp_path / "ext.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in EXTERNAL) + "\n{not json\n")
    report = import_file(ws, path, videos_dir=vids, split="eval")
    assert report.rows == 6 and report.added == 4 and report.videos_ingested == 1
    errs = dict(report.errors)
    assert "needs 4 options, found 3" in errs[4] and 5 not in errs     # an unknown category is not a rejection
    assert report.uncategorised == [5] and report.unknown_categories == {"Emotion": 1}
    assert "not valid JSON" in errs[6]
    assert report.missing_videos == [(2, f"video not found: gone.mp4 under {vids}")]
    items = {it["meta"]["import"]["problem_id"]: it for it in ws.iter_qa()}
    first, second, third = items[101], items["x-7"], items[103]
    assert first["category"] == "temporal" and first["answer"] == "B" and first["question"] == "What happens first?"
    assert first["reasoning"] == "I see a dog bark before anything else." and first["split"] == "eval"
    assert first["video_id"] is not None and third["video_id"] == first["video_id"]   # found by file name
    assert third["category"] == "plot" and third["answer"] == "C"
    assert second["video_id"] is None and second["meta"]["import"]["note"].startswith("video not found")
    assert second["category"] == "goal" and second["answer"] == "B" and second["options"][1] == "late"
    assert second["question"] == "Why does she leave?" and second["status"] == "pending"
    assert second["source"] == "import:ext.jsonl"
    failed = ws.gen_outputs(task="import", ok=False)
    assert len(failed) == 2 and all("ext.jsonl row" in r["reason"] for r in failed)
    assert items[105]["category"] == "uncategorised" and items[105]["meta"]["import"]["category_raw"] == "Emotion"
    # the missing video's path survives an export
    row = [r for r in export_rows(ws) if r["problem_id"] == "x-7"][0]
    assert row["videos"] == "gone.mp4" and row["video_id"] is None


@pytest.mark.parametrize("name, expected", [
    ("Temporal", "temporal"), ("Goal and Purpose", "goal"), ("goal & purpose", "goal"), ("Spatial", "spatial"),
    ("Plot and Narrative", "plot"), ("Plot_and_Narrative", "plot"), ("plot", "plot"), ("Emotion", None), (3, None),
])
def test_category_names(name, expected):
    assert normalize_category(name) == expected


def test_validator():
    schema = {"type": "object", "required": ["a", "b"], "additionalProperties": False,
              "properties": {"a": {"type": "array", "minItems": 2, "items": {"type": "string", "pattern": "^x"}},
                             "b": {"type": ["integer", "null"], "minimum": 0}, "c": {"enum": ["p", "q"]}}}
    assert validate({"a": ["x1", "x2"], "b": None}, schema) == []
    errs = validate({"a": ["x1", "y"], "b": -1, "c": "r", "d": 1}, schema)
    assert "$.a[1]: 'y' does not match '^x'" in errs
    assert "$.b: -1 is below the minimum 0" in errs
    assert any(e.startswith("$.c: 'r' is not one of") for e in errs) and "$: unexpected field 'd'" in errs
    assert validate({"a": ["x"]}, schema) == ["$: missing required field 'b'",
                                              "$.a: expected at least 2 item(s), got 1"]
    assert validate({"a": "x", "b": True}, schema)[0].startswith("$.a: expected array")
    with pytest.raises(ValueError, match="rows.jsonl: row 2"):
        check_rows([{"a": ["x", "x"], "b": 1}, {"a": []}], schema, where="rows.jsonl")


def test_reads_json_lists_and_dataset_dicts(ws, tmp_path):
    from datasets import Dataset, DatasetDict

    rows = [{"problem": f"Question {i}?\nA. a\nB. b\nC. c\nD. d", "answer": "ABCD"[i], "category": "Spatial",
             "videos": ""} for i in range(4)]
    (tmp_path / "rows.json").write_text(json.dumps(rows[:2]))
    DatasetDict({"val": Dataset.from_list(rows[2:3]), "test": Dataset.from_list(rows[3:])}).save_to_disk(
        str(tmp_path / "dd"))
    assert import_file(ws, tmp_path / "rows.json").added == 2
    report = import_file(ws, tmp_path / "dd")
    assert report.added == 2 and report.missing_videos == [(1, "row names no video"), (2, "row names no video")]
    assert sorted(it["answer"] for it in ws.iter_qa()) == ["A", "B", "C", "D"]

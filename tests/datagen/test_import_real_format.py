"""`lvr import` reads the published LongVideo-Reason-eval file as it is.

The real file names the category in `problem_type`, embeds the options in `problem` (sometimes
in shuffled letter order), writes answers as "<answer>B</answer>", "B. text" or "b", and its
rows say `longvila_videos/<name>.mp4` while the archives extract to
`longvideo_eval_subset<N>/` folders, some videos as .webm/.mkv. Videos here are made with PyAV.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lvr.cli import cli
from lvr.datagen.importer import import_file, parse_answer, row_to_item, split_options

OPTS = {"A": "He feeds the ducks", "B": "He repairs the bicycle", "C": "He buys oranges", "D": "He leaves the park"}


def write_video(path: Path, codec: str = "libx264", seconds: float = 4.0, fps: int = 8, seed: int = 0) -> Path:
    """A small video (container from the suffix: .mp4/.mkv with H.264, .webm with VP8)."""
    import av

    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 255, size=(int(seconds) + 1, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            img = np.empty((48, 64, 3), np.uint8)
            img[:] = colours[i // fps]
            img[20:28, (i * 3) % 56:(i * 3) % 56 + 8] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def problem(order: str = "ABCD", question: str = "What does the man do after the rain starts?") -> str:
    return question + "\n" + "\n".join(f"{k}. {OPTS[k]}" for k in order)


def real_row(pid: int, **kw) -> dict:
    """A row shaped like the published file."""
    row = {"problem_id": pid, "problem": problem(), "data_type": "video", "problem_type": "Temporal",
           "reasoning": "<think>The rain starts, then he goes to the market.</think>",
           "videos": f"longvila_videos/video{pid}.mp4", "answer": "<answer>C</answer>"}
    row.update(kw)
    return row


@pytest.fixture
def eval_layout(tmp_path):
    """Videos as the archives extract them: subset folders, one .webm and one .mkv under other stems."""
    vids = tmp_path / "longvila_videos"
    write_video(vids / "longvideo_eval_subset0" / "video1.mp4", seed=1)
    write_video(vids / "longvideo_eval_subset1" / "video2.webm", codec="libvpx", seed=2)
    write_video(vids / "longvideo_eval_subset1" / "deeper" / "video3.mkv", seed=3)
    return vids


def test_cli_imports_the_published_file_as_it_is(ws, tmp_path, eval_layout):
    rows = [
        real_row(1),                                                                     # found in subset0
        real_row(2, problem=problem("DABC"), problem_type="Goal and Purpose", answer="B. He repairs the bicycle"),
        real_row(3, problem_type="Spatial", answer="b"),                                 # .mkv, two folders down
        real_row(4, problem_type="Plot and Narrative", answer="<answer>D</answer>"),      # video not shipped
        real_row(5, problem_type="Temporal", videos="longvila_videos/video1.mp4",
                 answer="<answer>A. He feeds the ducks</answer>"),
    ]
    path = tmp_path / "longvideo_reason_eval.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    r = CliRunner().invoke(cli, ["import", str(ws.root), str(path), "--videos", str(eval_layout), "--split", "eval"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "5 rows, 5 added" in r.output and "0 rejected, 1 with missing video; 3 videos ingested" in r.output
    assert f"MISSING VIDEO {path} row 4: video not found: longvila_videos/video4.mp4 under {eval_layout}" in r.output

    items = {it["meta"]["import"]["problem_id"]: it for it in ws.iter_qa()}
    assert {k: v["category"] for k, v in items.items()} == {1: "temporal", 2: "goal", 3: "spatial", 4: "plot",
                                                            5: "temporal"}
    assert {k: v["answer"] for k, v in items.items()} == {1: "C", 2: "B", 3: "B", 4: "D", 5: "A"}
    for it in items.values():
        assert it["options"] == [OPTS[k] for k in "ABCD"]
        assert it["question"] == "What does the man do after the rain starts?" and it["split"] == "eval"
    assert items[1]["reasoning"] == "The rain starts, then he goes to the market."
    videos = {v["id"]: Path(v["path"]).name for v in ws.list_videos()}
    assert videos[items[1]["video_id"]] == "video1.mp4" and items[5]["video_id"] == items[1]["video_id"]
    assert videos[items[2]["video_id"]] == "video2.webm" and videos[items[3]["video_id"]] == "video3.mkv"
    assert items[4]["video_id"] is None and items[4]["meta"]["import"]["note"].startswith("video not found")
    assert items[4]["meta"]["import"]["video"] == "longvila_videos/video4.mp4"

    again = import_file(ws, path, videos_dir=eval_layout)
    assert again.added == 0 and again.already_imported == 5


def test_shuffled_option_lines_are_put_in_letter_order():
    question, options, why = split_options(problem("DABC"))
    assert why is None and question.startswith("What does the man do") and options == [OPTS[k] for k in "ABCD"]
    item = row_to_item(real_row(1, problem=problem("CDBA"), answer="<answer>B</answer>"))
    assert item["options"][1] == OPTS["B"] and item["answer"] == "B"           # the key still points at "B. …"

    wrapped = ("Why does he stop?\nOptions:\n(C) because the\nroad is closed\n(A) to rest\n"
               "(D) to call home\n(B) the light is red")
    question, options, why = split_options(wrapped)
    assert question == "Why does he stop?"
    assert options == ["to rest", "the light is red", "because the road is closed", "to call home"]


@pytest.mark.parametrize("text, cause", [
    (problem("ABC"), "needs 4 options, found 3"),
    (problem("ABCB"), "option B is listed twice"),
    (problem() + "\nE. He sings", "found an option E"),
])
def test_bad_option_blocks_are_refused_with_the_cause(text, cause):
    with pytest.raises(ValueError, match=cause):
        row_to_item(real_row(1, problem=text, answer="A"))


@pytest.mark.parametrize("raw, letter", [
    ("B", "B"), ("b", "B"), ("(b)", "B"), ("B.", "B"), ("<answer>B</answer>", "B"), ("<answer> b </answer>", "B"),
    ("B. He repairs the bicycle", "B"), ("<answer>B. He repairs the bicycle</answer>", "B"), ("B) whatever", "B"),
    ("Answer: C", "C"), ("The answer is (d)", "D"), ("he feeds the ducks", "A"),
    ("<answer>He buys oranges.</answer>", "C"),
])
def test_answer_forms(raw, letter):
    assert parse_answer(raw, [OPTS[k] for k in "ABCD"]) == letter


def test_contradictory_or_unknown_answers_are_refused():
    opts = [OPTS[k] for k in "ABCD"]
    with pytest.raises(ValueError, match="names option B but its text is option C's"):
        parse_answer("B. He buys oranges", opts)
    for raw in ("E", "<answer>maybe</answer>", "a dog"):
        with pytest.raises(ValueError, match="neither a letter A-D nor one of the options"):
            parse_answer(raw, opts)


def test_category_comes_from_problem_type_or_our_column():
    assert row_to_item(real_row(1, problem_type="Goal and Purpose"))["category"] == "goal"
    assert row_to_item(real_row(1, problem_type="Plot and Narrative"))["category"] == "plot"
    # an exported row: problem_type is Video-R1's "multiple choice", the category is ours
    assert row_to_item(real_row(1, problem_type="multiple choice", category="spatial"))["category"] == "spatial"
    # a category we do not know is stored as uncategorised (lvr.datagen.release), not refused
    assert row_to_item(real_row(1, problem_type="Cooking"))["category"] == "uncategorised"


def test_options_column_in_any_letter_order_or_as_an_object():
    shuffled = [f"{k}. {OPTS[k]}" for k in "CADB"]
    item = row_to_item(real_row(1, problem="What does he do?", options=shuffled, answer="C"))
    assert item["options"] == [OPTS[k] for k in "ABCD"] and item["question"] == "What does he do?"
    item = row_to_item(real_row(1, problem="What does he do?", options={k: OPTS[k] for k in "DCBA"}, answer="d"))
    assert item["options"] == [OPTS[k] for k in "ABCD"] and item["answer"] == "D"

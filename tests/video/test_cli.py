"""lvr probe / thumbnail / contact-sheet through click (registered on a fresh group)."""
from __future__ import annotations

import io
import json

import click
import pytest
from click.testing import CliRunner
from PIL import Image

from lvr.cli.video_cmds import register


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("lvr")
    register(group)
    return group


def test_probe_json_and_batch_errors(cli, long_gop, broken_files):
    r = CliRunner().invoke(cli, ["probe", "--json", str(long_gop), str(broken_files["text"])])
    assert r.exit_code == 1
    info = json.loads(r.stdout.strip())
    assert info["n_frames"] == 300 and info["keyframe_indices"] == [0, 250]
    assert f"error: {broken_files['text']}: not a readable video container" in r.stderr


def test_probe_text(cli, short_gop):
    r = CliRunner().invoke(cli, ["probe", str(short_gop)])
    assert r.exit_code == 0, r.output
    assert "10.00s 30.000fps 300 frames 128x96 h264/yuv420p keyframes=10 gop~30" in r.stdout


def test_thumbnail_and_contact_sheet(cli, short_gop, tmp_path):
    out = tmp_path / "t.jpg"
    r = CliRunner().invoke(cli, ["thumbnail", str(short_gop), "--at", "3", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert Image.open(io.BytesIO(out.read_bytes())).size == (128, 96)
    sheet = tmp_path / "s.jpg"
    r = CliRunner().invoke(cli, ["contact-sheet", str(short_gop), "-n", "4", "--cols", "2",
                                 "--tile-width", "64", "-o", str(sheet)])
    assert r.exit_code == 0, r.output
    assert Image.open(sheet).size == (128, 96)
    r = CliRunner().invoke(cli, ["thumbnail", str(short_gop), "--at", "99", "-o", str(out)])
    assert r.exit_code != 0 and "outside the video" in r.output

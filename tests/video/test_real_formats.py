"""Formats real users bring: a VP9 .webm that decord cannot open (written live, without a
duration, as browsers' MediaRecorder does), and phone videos whose pictures are stored sideways
with a display matrix (or, in older Matroska files, a `rotate` tag).

Every file is written here with PyAV (libvpx-vp9 / libx264; no ffmpeg binary needed). The frames
as *shown* are a numbered pattern (`lvr.video.encode`) plus a red marker on the left edge just
under the number band, so an upright frame reads its own index and has the marker at the left.
The coded pictures are derived from the shown ones by inverting the display matrix with the
formula FFmpeg documents (shown (x', y') = (a·x + c·y, b·x + d·y) + translation), independently
of `lvr.video.orient`; for pure rotations decord 0.6's own auto-rotation is a second witness.
"""
from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import decord
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from lvr.video import FrameCache, SamplingSpec, cached_sample, contact_sheet, probe, sample_frames, thumbnail
from lvr.video.encode import numbered_frames, read_frame_number
from lvr.video.errors import VideoError
from lvr.video.probe import probe_with_table
from lvr.video.readers import decode_exact_decord, decode_exact_pyav, decode_keyframes_pyav

N, FPS, GOP = 45, 30, 15
SHOWN_H, SHOWN_W = 128, 96  # portrait, as shown
BAND = 2 * (SHOWN_W // 8)  # rows of the number band
MARK = (slice(BAND + 4, BAND + 20), slice(0, 16))  # red marker, left edge
MIRROR = (slice(BAND + 4, BAND + 20), slice(SHOWN_W - 16, SHOWN_W))
TOL = 4  # max |difference| between two readers of one file (same codec, libswscale versions differ)

ONE = 1 << 16  # 1.0 in a display matrix (16.16 fixed point)
MATRICES = {  # name -> (a, b, c, d): what a phone or editor writes
    "cw90": (0, ONE, -ONE, 0),      # phone held upright: the legacy `rotate=90` tag
    "180": (-ONE, 0, 0, -ONE),
    "ccw90": (0, -ONE, ONE, 0),     # `rotate=270`
    "transpose": (0, ONE, ONE, 0),  # a quarter turn and a mirror (front cameras, editors)
}


def shown_frames(n: int = N) -> list[np.ndarray]:
    out = []
    for f in numbered_frames(n, SHOWN_H, SHOWN_W):
        f[BAND:BAND + 24] = 0
        f[MARK] = (255, 0, 0)
        out.append(f)
    return out


def ffmpeg_map(img: np.ndarray, abcd, inverse: bool = False) -> np.ndarray:
    """Apply a right-angle display matrix to a coded [H, W, 3] picture, pixel by pixel; with
    `inverse`, `img` is the shown picture and the coded one that maps onto it is returned."""
    a, b, c, d = (v // ONE for v in abcd)
    h, w = img.shape[:2]
    coded_hw = (h, w) if not inverse or a != 0 else (w, h)  # a quarter turn swaps the sides
    ys, xs = np.mgrid[0:coded_hw[0], 0:coded_hw[1]]
    xo, yo = a * xs + c * ys, b * xs + d * ys  # where coded pixel (xs, ys) is shown
    xo, yo = xo - xo.min(), yo - yo.min()
    if inverse:
        out = np.empty((*coded_hw, 3), img.dtype)
        out[ys, xs] = img[yo, xo]
    else:
        out = np.empty((yo.max() + 1, xo.max() + 1, 3), img.dtype)
        out[yo, xo] = img[ys, xs]
    return out


def write(path: Path, pictures, codec: str = "libx264", *, matrix=None, tag: str | None = None,
          fmt: str | None = None, container_options: dict | None = None) -> Path:
    h, w = pictures[0].shape[:2]
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as c:
        s = c.add_stream(codec, rate=FPS)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            s.options = {"g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "bf": "0",
                         "preset": "ultrafast", "crf": "18"}
        else:
            s.options = {"g": str(GOP), "deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
        if matrix is not None:
            if not hasattr(s, "set_display_matrix"):
                pytest.skip("this PyAV cannot write a display matrix")
            a, b, cc, d = matrix
            s.set_display_matrix([a, b, 0, cc, d, 0, 0, 0, 1 << 30])
        if tag is not None:
            s.metadata["rotate"] = tag
        for pic in pictures:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(pic), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("formats")
    shown = shown_frames()
    out = {
        # live=1: no duration, no cues (a MediaRecorder / streamed recording); decord refuses it
        "webm_live": write(d / "recorded.webm", shown, "libvpx-vp9", fmt="webm",
                           container_options={"live": "1"}),
        "webm": write(d / "plain.webm", shown, "libvpx-vp9", fmt="webm"),
        # Matroska `rotate` tag (older ffmpeg wrote it): clockwise degrees
        "tag_mkv": write(d / "tagged.mkv", [np.rot90(f, 1) for f in shown], tag="90"),
    }
    for name, m in MATRICES.items():
        out[name] = write(d / f"phone_{name}.mp4", [ffmpeg_map(f, m, inverse=True) for f in shown], matrix=m)
    return out


def assert_upright(frames: np.ndarray, indices: list[int]) -> None:
    assert frames.shape == (len(indices), SHOWN_H, SHOWN_W, 3)
    assert [read_frame_number(f) for f in frames] == list(indices)
    for f in frames:
        mark, mirror = f[MARK].astype(int), f[MIRROR].astype(int)
        assert mark[..., 0].mean() > 180 and mark[..., 1:].mean() < 70, "red marker not at the left"
        assert mirror[..., 0].mean() < 70, "red marker on the right: the frame is mirrored"


def assert_close(a: np.ndarray, b: np.ndarray, tol: int = TOL) -> None:
    assert a.shape == b.shape
    assert int(np.abs(a.astype(int) - b.astype(int)).max()) <= tol


# ---- VP9 / webm ------------------------------------------------------------------------------

def test_decord_cannot_open_live_webm_but_sampling_falls_back_to_pyav(files):
    path = files["webm_live"]
    with pytest.raises(decord.DECORDError, match="Failed to measure duration/frame-count"):
        decord.VideoReader(str(path))  # the bug's cause
    info = probe(path)
    assert (info.codec, info.n_frames, info.width, info.height) == ("vp9", N, SHOWN_W, SHOWN_H)
    assert info.duration == pytest.approx(N / FPS, abs=1e-3)
    spec = SamplingSpec(num_frames=9)
    by_reader = {r: sample_frames(path, spec, reader=r) for r in ("auto", "decord", "pyav")}
    for s in by_reader.values():
        assert s.source == "pyav"  # says who really decoded it
        assert s.indices == by_reader["pyav"].indices and s.timestamps == by_reader["pyav"].timestamps
        assert_upright(s.frames, s.indices)
        assert np.array_equal(s.frames, by_reader["pyav"].frames)
    info, table = probe_with_table(path)
    assert np.array_equal(decode_exact_decord(path, info, table, [5, 1]), decode_exact_pyav(path, info, table, [5, 1]))


def test_webm_same_frames_from_decord_and_pyav(files):
    """Where decord can read a VP9 webm, the PyAV fallback gives the same frames at the same indices."""
    path = files["webm"]
    spec = SamplingSpec(num_frames=11)
    d = sample_frames(path, spec, reader="decord")
    p = sample_frames(path, spec, reader="pyav")
    live = sample_frames(files["webm_live"], spec)
    assert (d.source, p.source) == ("decord", "pyav")
    assert d.indices == p.indices == live.indices and d.timestamps == p.timestamps == live.timestamps
    assert_upright(d.frames, d.indices)
    assert_close(d.frames, p.frames)
    assert_close(live.frames, p.frames)  # same pictures, other muxer settings
    assert d.timestamps == pytest.approx(decord.VideoReader(str(path)).get_frame_timestamp(d.indices)[:, 0], abs=1e-3)


# ---- display rotation ------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*MATRICES, "tag_mkv"])
def test_probe_reports_the_shown_size(files, name):
    info = probe(files[name])
    assert (info.width, info.height) == (SHOWN_W, SHOWN_H)
    expect = {"cw90": (90, False), "180": (180, False), "ccw90": (270, False), "transpose": (90, True),
              "tag_mkv": (90, False)}[name]
    assert (info.rotation, info.mirrored) == expect
    assert info.coded_size == ((SHOWN_W, SHOWN_H) if expect[0] == 180 else (SHOWN_H, SHOWN_W))
    assert info.to_dict()["rotation"] == expect[0]


@pytest.mark.parametrize("name", [*MATRICES, "tag_mkv"])
def test_every_reader_and_mode_gives_upright_identical_frames(files, name):
    path = files[name]
    exact = {r: sample_frames(path, SamplingSpec(num_frames=10), reader=r) for r in ("auto", "decord", "pyav")}
    for s in exact.values():
        assert_upright(s.frames, s.indices)
        assert np.array_equal(s.frames, exact["pyav"].frames)
    key = sample_frames(path, SamplingSpec(mode="keyframe", num_frames=10))
    assert key.indices == [0, 15, 30]
    assert_upright(key.frames, key.indices)
    info, table = probe_with_table(path)
    assert np.array_equal(key.frames, decode_exact_pyav(path, info, table, key.indices))
    assert np.array_equal(key.frames, decode_keyframes_pyav(path, info, table, key.indices))
    first, want = exact["pyav"].frames[0].astype(int), shown_frames(exact["pyav"].indices[0] + 1)[-1]
    assert np.abs(first - want).mean() < 8  # the picture that was encoded (lossy coding)


@pytest.mark.parametrize("name", ["cw90", "180", "ccw90", "tag_mkv"])
def test_rotation_agrees_with_decords_own_autorotation(files, name):
    """decord 0.6 turns pure rotations itself (as the ffmpeg tool does): a second, independent witness."""
    path = files[name]
    s = sample_frames(path, SamplingSpec(num_frames=5), reader="pyav")
    raw = decord.VideoReader(str(path)).get_batch(s.indices).asnumpy()
    assert_close(raw, s.frames)


def test_mirrored_matrix_follows_ffmpegs_formula(files):
    """decord ignores mirroring; the frames must follow the display matrix formula itself."""
    path = files["transpose"]
    s = sample_frames(path, SamplingSpec(num_frames=3), reader="decord")
    with av.open(str(path)) as c:
        coded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    for frame, i in zip(s.frames, s.indices):
        assert np.array_equal(frame, ffmpeg_map(coded[i], MATRICES["transpose"]))


def test_non_right_angle_matrix_is_refused(tmp_path):
    c45 = int(ONE * 0.7071)
    path = write(tmp_path / "tilted.mp4", shown_frames(3), matrix=(c45, c45, -c45, c45))
    with pytest.raises(VideoError, match="tilted.mp4: unsupported display orientation: .*45.0 degrees"):
        probe(path)


# ---- cache, thumbnails, ingest ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["webm_live", "cw90"])
def test_frame_cache_thumbnails_and_contact_sheet(tmp_path, files, name):
    path = files[name]
    cache = FrameCache(tmp_path / "frames")
    for spec in (SamplingSpec(num_frames=6), SamplingSpec(mode="keyframe", num_frames=3)):
        first = cached_sample(path, spec, cache)
        again = cached_sample(path, spec, cache)
        assert first.source != "cache" and again.source == "cache"
        assert np.array_equal(np.asarray(again.frames), first.frames)
        assert_upright(np.asarray(again.frames), again.indices)
    thumb = thumbnail(path, t=20.5 / FPS, as_array=True)  # webm times are whole milliseconds
    assert_upright(thumb[None], [20])
    sheet = Image.open(io.BytesIO(contact_sheet(path, n=3, cols=3, tile_width=48, label=False)))
    assert sheet.size == (3 * 48, 64)  # portrait tiles: 48 x round(48 * 128 / 96)


def test_lvr_ingest_accepts_both(tmp_path, files):
    from lvr.cli import cli
    from lvr.store import Workspace

    ws_dir = tmp_path / "ws"
    out = CliRunner().invoke(cli, ["ingest", str(ws_dir), str(files["webm_live"]), str(files["cw90"]), "--strict"])
    assert out.exit_code == 0, out.output
    assert "added 2, already present 0, failed 0" in out.output
    ws = Workspace.open(ws_dir)
    videos = {v["filename"]: v for v in ws.list_videos()}
    assert set(videos) == {"recorded.webm", "phone_cw90.mp4"}
    for v in videos.values():
        assert (v["width"], v["height"], v["n_frames"]) == (SHOWN_W, SHOWN_H, N)
        clips = [(c["start"], c["end"]) for c in ws.clips(v["id"])]
        assert clips == [(0, pytest.approx(N / FPS, abs=1e-3))]  # 1.5 s: one clip
        assert_upright(thumbnail(ws.video_path(v["id"]), t=0.0, as_array=True)[None], [0])


def test_timestamps_match_between_fallback_and_table(files):
    """The PyAV fallback reports the frame table's timestamps for the same indices decord would use."""
    for name in ("webm_live", "cw90"):
        info, table = probe_with_table(files[name])
        s = sample_frames(files[name], SamplingSpec(num_frames=4))
        assert s.timestamps == [float(table.times[i]) for i in s.indices]
        assert s.timestamps == pytest.approx([float(Fraction(i, FPS)) for i in s.indices], abs=1e-3)


class _Entry:
    def __init__(self, name: str, raw: bytes):
        self.type, self._raw = type("T", (), {"name": name})(), raw

    def __bytes__(self) -> bytes:
        return self._raw


def test_display_matrix_is_read_from_both_side_data_apis():
    """PyAV up to 18.1.0 iterates side-data entries, 18.1.1 a mapping of their types: both give the matrix."""
    from lvr.video.orient import display_matrix_of
    matrix = [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]                     # a quarter turn
    entry = _Entry("DISPLAYMATRIX", np.array(matrix, dtype="<i4").tobytes())
    old = type("Frame", (), {"side_data": [entry]})()
    new = type("Frame", (), {"side_data": {entry.type: entry}})()
    assert display_matrix_of(old) == display_matrix_of(new) == matrix

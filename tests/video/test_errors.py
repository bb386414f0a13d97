"""Bad files raise VideoError naming the file and the cause; nothing wrong is ever returned."""
from __future__ import annotations

import dataclasses

import pytest

from lvr.video import SamplingSpec, VideoError, probe, sample_frames, thumbnail
from lvr.video.probe import probe_with_table
from lvr.video.readers import decode_exact_decord, decode_exact_pyav, decode_keyframes_pyav

CAUSES = {
    "empty": "file is empty \\(0 bytes\\)",
    "text": "not a readable video container",
    "truncated": "not a readable video container",  # the index (moov) at the end is gone
    "truncated_faststart": "truncated: the container declares 300 frames but only \\d+ are present",
    "corrupt_header": "not a readable video container",
}


@pytest.mark.parametrize("kind", sorted(CAUSES))
@pytest.mark.parametrize("call", ["probe", "exact-decord", "exact-pyav", "keyframe", "thumbnail"])
def test_broken_files_raise_video_error(broken_files, kind, call):
    path = broken_files[kind]
    with pytest.raises(VideoError, match=CAUSES[kind]) as e:
        if call == "probe":
            probe(path)
        elif call == "thumbnail":
            thumbnail(path, 0.0)
        else:
            mode, _, reader = call.partition("-")
            sample_frames(path, SamplingSpec(mode=mode, num_frames=4), reader=reader or "auto")
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith(f"{path}: ") and e.value.path == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="nope.mp4: file not found"):
        probe(tmp_path / "nope.mp4")


def test_still_image_is_not_a_video(tmp_path):
    from PIL import Image
    p = tmp_path / "photo.mp4"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(p, format="JPEG")
    with pytest.raises(VideoError, match="photo.mp4: not a video: the file is a still image"):
        probe(p)


@pytest.mark.parametrize("reader", ["decord", "pyav"])
def test_corrupt_coded_data_fails_loudly(corrupt_middle, reader):
    probe(corrupt_middle)  # the container and its index are intact
    with pytest.raises(VideoError, match="corrupt_middle.mp4: decoding failed \\(corrupt data\\?\\)"):
        sample_frames(corrupt_middle, SamplingSpec(num_frames=300), reader=reader)


@pytest.mark.parametrize("decode", [decode_exact_decord, decode_exact_pyav, decode_keyframes_pyav])
def test_frames_of_wrong_size_are_refused(short_gop, decode):
    info, table = probe_with_table(short_gop)
    wrong = dataclasses.replace(info, width=info.width + 2)
    with pytest.raises(VideoError, match="short_gop.mp4: .*expected .*refusing frames of the wrong size"):
        decode(short_gop, wrong, table, [0, 30])


@pytest.mark.parametrize("decode", [decode_exact_decord, decode_exact_pyav])
def test_index_past_the_end_is_an_error_not_a_clamp(short_gop, decode):
    info, table = probe_with_table(short_gop)
    with pytest.raises(VideoError, match="frame index 300 is out of range: the video has 300 frames"):
        decode(short_gop, info, table, [5, 300])


def test_keyframe_decoder_refuses_non_keyframes(short_gop):
    info, table = probe_with_table(short_gop)
    with pytest.raises(VideoError, match="frame 31 is not a keyframe"):
        decode_keyframes_pyav(short_gop, info, table, [30, 31])

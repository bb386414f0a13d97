"""FrameCache / cached_sample: round trip, hits do not decode, atomic files, damaged entries."""
from __future__ import annotations

import json

import numpy as np
import pytest

import lvr.video.cache as cache_mod
from lvr.video import FrameCache, SamplingSpec, cached_sample, content_hash, sample_frames


def test_round_trip_identical(tmp_path, short_gop):
    cache = FrameCache(tmp_path / "frames")
    spec = SamplingSpec(mode="keyframe", num_frames=5, resize=(48, 64))
    first = cached_sample(short_gop, spec, cache)
    assert first.source == "pyav-keyframe"
    again = cached_sample(short_gop, spec, cache)
    assert again.source == "cache"
    assert isinstance(again.frames, np.memmap) and not again.frames.flags.writeable
    assert np.array_equal(np.asarray(again.frames), first.frames)
    assert again.frames.dtype == np.uint8 and again.frames.shape == first.frames.shape
    assert (again.indices, again.timestamps, again.requested_times) == \
        (first.indices, first.timestamps, first.requested_times)
    fresh = sample_frames(short_gop, spec)
    assert np.array_equal(np.asarray(again.frames), fresh.frames)


def test_hit_does_not_decode(tmp_path, long_gop, monkeypatch):
    cache = FrameCache(tmp_path)
    spec = SamplingSpec(num_frames=8)
    sha = content_hash(long_gop)
    cached_sample(long_gop, spec, cache, sha=sha)

    def no_decoding(*a, **k):
        raise AssertionError("a cache hit must not decode")
    monkeypatch.setattr(cache_mod, "sample_frames", no_decoding)
    hit = cached_sample(long_gop, spec, cache, sha=sha)
    assert hit.source == "cache" and len(hit) == 8
    with pytest.raises(AssertionError, match="must not decode"):  # another spec is a miss
        cached_sample(long_gop, SamplingSpec(num_frames=9), cache, sha=sha)


def test_layout_and_atomic_files(tmp_path, long_gop):
    cache = FrameCache(tmp_path)
    sha = content_hash(long_gop)
    spec = SamplingSpec(num_frames=4)
    npy = cache.put(sha, spec, sample_frames(long_gop, spec))
    assert npy.parent == tmp_path / sha[:2] / sha and npy.suffix == ".npy"
    meta = json.loads(npy.with_suffix(".json").read_text())
    assert meta["key"] == spec.key() and meta["sha256"] == sha and meta["shape"] == [4, 96, 128, 3]
    assert meta["indices"] == [37, 112, 187, 262]
    assert sorted(p.name for p in npy.parent.iterdir()) == sorted([npy.name, npy.with_suffix(".json").name])
    assert np.load(npy).shape == (4, 96, 128, 3)  # a plain .npy, loadable without us
    assert cache.has(sha, spec) and cache.size_bytes() > 4 * 96 * 128 * 3
    assert cache.drop(sha) == 1 and not cache.has(sha, spec)


def stored_entry(root, video):
    """A cache under `root` holding one 4-frame entry of `video`: (cache, sha, spec, .npy path, sidecar path)."""
    cache, sha, spec = FrameCache(root), content_hash(video), SamplingSpec(num_frames=4)
    npy = cache.put(sha, spec, sample_frames(video, spec))
    return cache, sha, spec, npy, npy.with_suffix(".json")


def test_damaged_entries_are_misses_and_rewritten(tmp_path, long_gop):
    cache, sha, spec, npy, meta_path = stored_entry(tmp_path, long_gop)
    meta_path.write_text("{not json")
    assert cache.get(sha, spec) is None
    assert cached_sample(long_gop, spec, cache, sha=sha).source == "decord"  # decoded and rewritten
    assert cache.get(sha, spec) is not None
    np.save(npy, np.zeros((3, 96, 128, 3), np.uint8))  # frames no longer match the sidecar
    assert cache.get(sha, spec) is None
    npy.unlink()
    assert cache.get(sha, spec) is None


def test_frames_of_another_video_are_never_served(tmp_path, long_gop, short_gop):
    cache = FrameCache(tmp_path)
    spec = SamplingSpec(num_frames=4)
    a = cached_sample(long_gop, spec, cache)
    b = cached_sample(short_gop, spec, cache)
    assert b.source != "cache"  # different content hash, different entry
    assert not np.array_equal(a.frames, b.frames)


def test_put_validates(tmp_path, long_gop):
    cache = FrameCache(tmp_path)
    s = sample_frames(long_gop, SamplingSpec(num_frames=2))
    s.indices = [1]
    with pytest.raises(ValueError, match="differ in length"):
        cache.put(content_hash(long_gop), SamplingSpec(num_frames=2), s)
    with pytest.raises(ValueError, match="lowercase hex digest"):
        cache.get("../../etc", SamplingSpec(num_frames=2))


def test_entries_decoded_before_frames_were_upright_are_misses(tmp_path, long_gop):
    """Format 1 stored frames as coded (a rotated phone video sideways); such an entry is decoded again, not served."""
    cache, sha, spec, _, meta_path = stored_entry(tmp_path, long_gop)
    meta = json.loads(meta_path.read_text())
    assert meta["format"] == cache_mod.FORMAT == 2
    meta_path.write_text(json.dumps({**meta, "format": 1}))
    assert cache.get(sha, spec) is None
    assert cached_sample(long_gop, spec, cache, sha=sha).source != "cache"        # decoded again and rewritten
    assert cache.get(sha, spec) is not None


def test_two_formats_keep_their_own_entries(tmp_path, long_gop, monkeypatch):
    """A process of an older version (format 1, entries named without a number) and one of this version share a
    workspace: neither reads nor overwrites the other's entry, so neither decodes the video again and again."""
    cache, sha, spec, npy, meta_path = stored_entry(tmp_path, long_gop)
    assert npy.name.endswith(f".f{cache_mod.FORMAT}.npy") and meta_path.name.endswith(f".f{cache_mod.FORMAT}.json")
    monkeypatch.setattr(cache_mod, "FORMAT", 99)            # the other version
    assert cache.get(sha, spec) is None
    other = cache.put(sha, spec, sample_frames(long_gop, spec))
    assert other != npy and cache.get(sha, spec) is not None
    monkeypatch.setattr(cache_mod, "FORMAT", 2)
    assert cache.get(sha, spec) is not None and npy.is_file() and other.is_file()   # both still there
    assert cache.drop(sha) == 1 and not npy.parent.exists()                       # drop takes every format

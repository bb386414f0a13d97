"""On-disk cache of decoded frames, keyed by (video content hash, sampling spec).

    from lvr.video import FrameCache, SamplingSpec, cached_sample
    cache = FrameCache(workspace.root / "cache" / "frames")
    s = cached_sample("movie.mp4", SamplingSpec(num_frames=64), cache, sha=known_sha256)
    s.source   # "cache" on a hit (nothing decoded), else the reader that decoded it

Layout: ``root/<sha[:2]>/<sha>/<h>.f<FORMAT>.npy`` (plain uncompressed .npy, loaded memory-mapped,
so a hit costs a file open, not a read of every pixel) plus ``<h>.f<FORMAT>.json`` next to it
holding the spec key, indices, timestamps and shape; ``<h>`` is the first 20 hex digits of
sha1(spec.key()). The format number is in the name, so processes of two versions sharing a
workspace (a recipe upgraded mid-run) each keep their own entries instead of overwriting each
other's; files of other formats (and of formats 1-2, named without it) are never read, and
`drop` removes them with the rest. Both files are written to a temporary name in the same folder and renamed
into place (atomic on POSIX); the JSON goes last, so an entry counts only when both exist and
agree. A damaged entry (bad JSON, shape mismatch, other key) is a miss and is rewritten.
Frames returned from a hit are a read-only memory map; copy them to modify.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from lvr.video.probe import content_hash
from lvr.video.sampling import SampledFrames, SamplingSpec, sample_frames

# 2: frames are upright (lvr.video.orient applies a file's display rotation and mirroring). Entries of format 1 were
# decoded before that, as stored, so a phone video's were sideways: they are misses now and get decoded again.
FORMAT = 2


class FrameCache:
    """Decoded frames on disk under `root` (created on first write)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _paths(self, sha: str, spec: SamplingSpec) -> tuple[Path, Path]:
        if len(sha) < 8 or not all(c in "0123456789abcdef" for c in sha):
            raise ValueError(f"FrameCache: sha must be a lowercase hex digest, got {sha!r}")
        h = hashlib.sha1(spec.key().encode()).hexdigest()[:20]
        folder = self.root / sha[:2] / sha
        return folder / f"{h}.f{FORMAT}.npy", folder / f"{h}.f{FORMAT}.json"

    def get(self, sha: str, spec: SamplingSpec, *, mmap: bool = True) -> SampledFrames | None:
        """The cached frames, or None on a miss (or a damaged entry)."""
        npy, meta_path = self._paths(sha, spec)
        try:
            meta = json.loads(meta_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if meta.get("format") != FORMAT or meta.get("key") != spec.key() or meta.get("sha256") != sha:
            return None
        try:
            frames = np.load(npy, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            return None
        if list(frames.shape) != meta.get("shape") or frames.dtype != np.uint8 \
                or len(meta.get("indices", ())) != frames.shape[0]:
            return None
        return SampledFrames(frames=frames, indices=[int(i) for i in meta["indices"]],
                             timestamps=[float(t) for t in meta["timestamps"]],
                             requested_times=[float(t) for t in meta.get("requested_times", [])],
                             source="cache")

    def put(self, sha: str, spec: SamplingSpec, sampled: SampledFrames) -> Path:
        """Store `sampled` atomically; returns the .npy path."""
        frames = np.ascontiguousarray(sampled.frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"FrameCache.put: frames must be uint8 [N,H,W,3], got {frames.dtype} "
                             f"{frames.shape}")
        if frames.shape[0] != len(sampled.indices) or len(sampled.indices) != len(sampled.timestamps):
            raise ValueError("FrameCache.put: frames, indices and timestamps differ in length")
        npy, meta_path = self._paths(sha, spec)
        npy.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "key": spec.key(), "spec": spec.to_dict(), "sha256": sha,
                "shape": list(frames.shape), "indices": [int(i) for i in sampled.indices],
                "timestamps": [float(t) for t in sampled.timestamps],
                "requested_times": [float(t) for t in sampled.requested_times],
                "decoded_by": sampled.source}
        _atomic_write(npy, lambda f: np.save(f, frames, allow_pickle=False))
        _atomic_write(meta_path, lambda f: f.write(json.dumps(meta).encode()))
        return npy

    def has(self, sha: str, spec: SamplingSpec) -> bool:
        return self.get(sha, spec) is not None

    def drop(self, sha: str) -> int:
        """Delete every entry of one video; returns how many entries were removed."""
        folder = self.root / sha[:2] / sha
        if not folder.is_dir():
            return 0
        n = len(list(folder.glob(f"*.f{FORMAT}.json")))
        shutil.rmtree(folder)
        return n

    def size_bytes(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def cached_sample(path: str | os.PathLike, spec: SamplingSpec, cache: FrameCache, *,
                  sha: str | None = None, reader: str = "auto") -> SampledFrames:
    """`sample_frames` through `cache`. Pass `sha` (the stored content hash) to skip hashing the file."""
    sha = sha or content_hash(path)
    hit = cache.get(sha, spec)
    if hit is not None:
        return hit
    sampled = sample_frames(path, spec, reader=reader)
    cache.put(sha, spec, sampled)
    return sampled

"""lvr.video: open, probe, sample, segment and cache video frames.

    from lvr.video import probe, content_hash, SamplingSpec, sample_frames, FrameCache, cached_sample
    info = probe("movie.mp4")                               # VideoInfo (duration, fps, n_frames, keyframes…)
    s = sample_frames("movie.mp4", SamplingSpec(num_frames=64))               # exact frames (decord)
    s = sample_frames("movie.mp4", SamplingSpec(mode="keyframe", num_frames=64))  # keyframes only, fast
    s = cached_sample("movie.mp4", spec, FrameCache(ws.root / "cache/frames"), sha=video["sha256"])
    clip_segments(info.duration)                            # [(0, 10), (10, 20), …] for captioning

Modules: probe (VideoInfo, frame table, content hash), sampling (SamplingSpec, sample_frames),
readers (decord / PyAV exact decoders, PyAV keyframe decoder), orient (display rotation of
phone videos: frames come out upright), cache (FrameCache), clips
(clip_segments), thumbs (thumbnail, contact_sheet), encode (H.264 writer + numbered test
pattern), errors (VideoError). Every unreadable-file problem raises VideoError (a ValueError)
naming the file and the cause.
"""
from lvr.video.cache import FrameCache, cached_sample
from lvr.video.clips import clip_segments
from lvr.video.errors import VideoError
from lvr.video.probe import VideoInfo, clear_probe_cache, content_hash, probe
from lvr.video.sampling import SampledFrames, SamplingSpec, plan_indices, sample_frames
from lvr.video.thumbs import contact_sheet, thumbnail

__all__ = [
    "FrameCache", "SampledFrames", "SamplingSpec", "VideoError", "VideoInfo", "cached_sample",
    "clear_probe_cache", "clip_segments", "contact_sheet", "content_hash", "plan_indices", "probe",
    "sample_frames", "thumbnail",
]

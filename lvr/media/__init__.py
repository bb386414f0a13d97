"""lvr.media: the frames of a video as the rest of LVR asks for them (spec, frame cache, workspace videos).

    from lvr.media import frame_spec, video_frames, workspace_frames
    spec = frame_spec(16)                                            # 16 uniform exact frames
    s = workspace_frames(ws, ws.get_video(video_id), spec)           # through the workspace frame cache
    s = video_frames("clip.mp4", frame_spec(8, start=10, end=20))    # decoded, not cached
    s = video_frames(path, spec, cache_dir=ws.frames_cache_dir, sha=sha256)

Modules: frames (frame_spec, video_frames, workspace_frames). Built on `lvr.video` (decoding,
`SamplingSpec`, `FrameCache`); may import lvr.video, lvr.store, lvr.model and lvr.config only.
"""
from lvr.media.frames import frame_spec, video_frames, workspace_frames

__all__ = ["frame_spec", "video_frames", "workspace_frames"]

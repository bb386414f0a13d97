"""The captioning job: every clip of every video → N frames → one caption, stored with its captioner.

    from lvr.datagen import caption_clips, BackendConfig, CaptionConfig
    report = caption_clips(ws, BackendConfig.from_env(kind="openai", model="gpt-4o"), CaptionConfig(frames=8))
    print(report.summary())

Mirrored by `lvr caption WS --backend openai|local|ground-truth --model M --frames N --concurrency C`.

Each clip is one unit of work with the key `<video>/<clip idx>/<start>-<end>/<captioner>`; a unit
is done when `gen_outputs` holds a successful `caption` row with that key, written in the same
transaction as the caption itself (`ws.set_caption`, which keeps the old caption in history).
So a killed run, started again, captions only the rest; a different captioner (or changed clip
boundaries) is new work. Every answer, good or failed, is kept in `gen_outputs` with its reason,
tokens, latency and attempts. Frames are decoded in worker threads (`decode_workers` at once);
a video that cannot be decoded fails its clips with the decoder's message and the job goes on.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from lvr.datagen.backends import make_captioner
from lvr.datagen.config import BackendConfig, CaptionConfig
from lvr.datagen.parsing import clean_output
from lvr.datagen.prompts import CAPTION_PROMPT
from lvr.datagen.protocols import BackendError, Captioner, CaptionRequest, GenResult
from lvr.datagen.runner import JobReport, JobTracker, run_pool
from lvr.llm.sync import run_coroutine
from lvr.media import frame_spec, video_frames
from lvr.store import Workspace
from lvr.video import VideoError

TASK = "caption"


def clip_key(clip: dict, captioner: str) -> str:
    return f"{clip['video_id']}/{clip['idx']}/{clip['start']:.3f}-{clip['end']:.3f}/{captioner}"


def caption_units(ws: Workspace, captioner: str, config: CaptionConfig) -> tuple[list[dict], int]:
    """(clips still to caption, number already done) for this captioner."""
    video_ids = list(config.videos) if config.videos else [v["id"] for v in ws.list_videos()]
    for vid in video_ids:
        ws.get_video(vid)  # KeyError naming the unknown id
    done = set() if config.overwrite else ws.done_keys(TASK)
    todo, already = [], 0
    for vid in video_ids:
        for clip in ws.clips(vid):
            if clip_key(clip, captioner) in done:
                already += 1
            else:
                todo.append(clip)
    return todo, already


async def caption_clips_async(ws: Workspace, captioner: Captioner, config: CaptionConfig, *,
                              job_config: dict | None = None,
                              progress: Callable[[JobReport], None] | None = None) -> JobReport:
    prompt = config.prompt or CAPTION_PROMPT
    todo, already = caption_units(ws, captioner.name, config)
    tracker = JobTracker.start(ws, "caption", {"captioner": captioner.name, **(job_config or {})},
                               total=len(todo), already_done=already, progress=progress)
    decode_sem = asyncio.Semaphore(config.decode_workers)
    paths: dict[str, str] = {}

    def log(clip: dict, key: str, ok: bool, raw: str | None, reason: str | None, res: GenResult | None,
            attempts: int | None = None, latency: float | None = None) -> None:
        backend, _, model = captioner.name.partition(":")
        acct = res.accounting() if res else {"backend": backend, "model": model or None, "attempts": attempts,
                                              "latency": latency}
        ws.add_gen_output(task=TASK, key=key, ok=ok, raw=raw, reason=reason, job_id=tracker.job_id,
                          video_id=clip["video_id"], clip_id=clip["id"], prompt=prompt, **acct)

    async def work(clip: dict) -> None:
        key = clip_key(clip, captioner.name)
        req = CaptionRequest(video_id=clip["video_id"], clip_id=clip["id"], clip_idx=clip["idx"],
                             start=clip["start"], end=clip["end"], prompt=prompt)
        if captioner.needs_frames:
            vid = clip["video_id"]
            if vid not in paths:
                paths[vid] = str(ws.video_path(vid))
            req.video_path = paths[vid]
            spec = frame_spec(config.frames, start=clip["start"], end=clip["end"])
            try:
                async with decode_sem:
                    sampled = await asyncio.to_thread(video_frames, req.video_path, spec)
            except (VideoError, OSError) as e:
                reason = f"video: {e}"
                log(clip, key, False, None, reason, None)
                tracker.record(key, False, reason)
                return
            req.frames, req.timestamps = sampled.frames, [float(t) for t in sampled.timestamps]
        tracker.note(f"{key}: captioning with {captioner.name}")
        try:
            res = await captioner.caption(req)
        except BackendError as e:
            log(clip, key, False, e.raw, f"backend: {e.reason}", None, e.attempts, e.latency)
            tracker.record(key, False, f"backend: {e.reason}")
            return
        tracker.account(res.prompt_tokens, res.completion_tokens)
        text = " ".join(clean_output(res.text).split())
        if not text:
            log(clip, key, False, res.text, "empty caption", res)
            tracker.record(key, False, "empty caption")
            return
        with ws.transaction():
            if not config.overwrite and key in _done_now(ws, key):
                return  # another process finished this clip meanwhile
            ws.set_caption(clip["id"], text, captioner=captioner.name, prompt=prompt, who=tracker.job_id)
            log(clip, key, True, res.text, None, res)
        tracker.record(key, True)

    try:
        await run_pool(todo, work, config.concurrency)
    except (asyncio.CancelledError, KeyboardInterrupt):
        tracker.finish("cancelled")
        raise
    except Exception as e:
        tracker.finish("failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        await captioner.aclose()
    return tracker.finish("succeeded")


def _done_now(ws: Workspace, key: str) -> set[str]:
    return {r["key"] for r in ws.query("SELECT key FROM gen_outputs WHERE task = ? AND key = ? AND ok = 1",
                                       (TASK, key))}


def caption_clips(ws: Workspace, backend: BackendConfig, config: CaptionConfig | None = None, *,
                  factory: str | None = None, progress: Callable[[JobReport], None] | None = None) -> JobReport:
    """Caption every clip not yet captioned by this captioner (see module docstring)."""
    config = config or CaptionConfig()
    captioner = make_captioner(backend, ws, factory)
    job_config = {"backend": backend.public(), "caption": {k: v for k, v in vars(config).items()}}
    return run_coroutine(caption_clips_async(ws, captioner, config, job_config=job_config, progress=progress))

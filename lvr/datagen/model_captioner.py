"""A local clip captioner built on our own video-language models: `lvr caption --backend local`.

    lvr caption WS --backend local --model ws/checkpoints/sft-1 --frames 8 --max-tokens 256
    lvr caption WS --backend local --model sft-1          # a checkpoint id registered in WS

    from lvr.model.captioner import LocalVLMCaptioner
    cap = LocalVLMCaptioner("ws/checkpoints/sft-1", max_new_tokens=256)
    res = await cap.caption(CaptionRequest(..., frames=uint8 [N, H, W, 3], timestamps=[...]))

`make_captioner(config, ws)` is the hook `lvr.datagen.backends` loads for `--backend local`
(`LOCAL_CAPTIONER_HOOK`): `config.model` is a checkpoint folder (anything `load_model` reads:
lvr_composite or qwen2_5_vl, type from its lvr_config.json) or the id/path of a checkpoint
registered in the workspace. The model is loaded there, before the job starts, so a bad
checkpoint fails at once with the folder and file named.

Each clip: its sampled frames and timestamps (decoded by the captioning job) + the job's
caption prompt as the user turn, a describing system prompt, thinking off →
`lvr.model.generation.generate_stream` (greedy when `config.temperature` is 0, else sampled;
at most `config.max_tokens` new tokens; stopped after `config.timeout` seconds). Generation runs
in a worker thread so the event loop keeps decoding frames for the next clips; one clip is
generated at a time (an asyncio lock queues requests without holding threads, a threading lock
guards the model against other event loops/threads). `<answer>` tags and think blocks, if the
model writes them, are removed. The captioner is stored as `local:<checkpoint folder name>`;
token counts: the prompt's length (video tokens included) and the caption re-tokenised.
"""
from __future__ import annotations

import asyncio
import queue
import re
import threading
import time
from pathlib import Path
from typing import Any

from lvr.datagen.local_backend import SMOLLM2_ALIASES
from lvr.datagen.protocols import CaptionRequest
from lvr.llm import BackendConfig, BackendError, GenResult
from lvr.model import load_model
from lvr.model.checkpoint import CheckpointError, validate_checkpoint
from lvr.model.generation import generate_stream, prompt_inputs

CAPTION_SYSTEM_PROMPT = (
    "You are a helpful assistant that watches short video clips and describes exactly what they show, "
    "in plain prose."
)
_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.S)
_ANSWER_TAGS = re.compile(r"</?answer>")


def strip_tags(text: str) -> str:
    """The caption without think blocks and without `<answer>`/`</answer>` tags."""
    return _ANSWER_TAGS.sub("", _THINK_BLOCK.sub("", text)).strip()


class LocalVLMCaptioner:
    """Captions clips with a checkpoint of `lvr.model` (the `Captioner` protocol of lvr.datagen)."""

    needs_frames = True
    backend = "local"

    def __init__(self, checkpoint_dir: str | Path, *, max_new_tokens: int = 256, temperature: float = 0.0,
                 timeout: float = 120.0, device: str | None = None, model: Any = None):
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.checkpoint_dir = Path(checkpoint_dir)
        self.model_name = self.checkpoint_dir.name
        self.name = f"{self.backend}:{self.model_name}"
        self.max_new_tokens, self.temperature, self.timeout = int(max_new_tokens), float(temperature), float(timeout)
        self.device = device
        self._model = model
        self._model_lock = threading.Lock()
        self._queue: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    # ------------------------------------------------------------------ model
    def load(self):
        """The model, loaded on first use (CheckpointError naming the folder/file if it cannot be)."""
        if self._model is None:
            self._model = load_model(self.checkpoint_dir, device=self.device)
        return self._model

    def caption_frames(self, frames, timestamps, prompt: str) -> tuple[str, int, int, str]:
        """(caption, prompt tokens, completion tokens, finish reason) for one clip; blocking."""
        with self._model_lock:
            model = self.load()
            inputs = prompt_inputs(model, frames, prompt, None, timestamps=timestamps or None, think=False,
                                   system=CAPTION_SYSTEM_PROMPT)
            deadline = time.monotonic() + self.timeout
            stream = generate_stream(model, inputs=inputs, think=False, max_new_tokens=self.max_new_tokens,
                                     temperature=self.temperature, top_p=0.95 if self.temperature > 0 else 1.0,
                                     timeout=self.timeout)
            pieces: list[str] = []
            text, finish = None, "stop"
            try:
                for ev in stream:
                    if ev.kind == "done":
                        text = ev.text
                        break
                    pieces.append(ev.text)
                    if time.monotonic() > deadline:
                        finish = "time"
                        break
            except queue.Empty:     # no new text within the time limit (the streamer's wait)
                finish = "time"
            finally:
                stream.close()      # stops the generation thread if we left early
            if text is None:
                text = "".join(pieces)
            caption = strip_tags(text)
            n_out = len(model.tokenizer.encode(text, add_special_tokens=False)) if text else 0
            if finish == "stop" and n_out >= self.max_new_tokens:
                finish = "length"
            return caption, int(inputs.seq_len), n_out, finish

    # ------------------------------------------------------------------ Captioner protocol
    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue[0] is not loop:   # an asyncio.Lock belongs to one event loop
            self._queue = (loop, asyncio.Lock())
        return self._queue[1]

    async def caption(self, req: CaptionRequest) -> GenResult:
        if req.frames is None or len(req.frames) == 0:
            raise BackendError(f"clip {req.clip_idx} of video {req.video_id}: no frames to caption")
        t0 = time.perf_counter()
        async with self._async_lock():
            try:
                text, n_in, n_out, finish = await asyncio.to_thread(self.caption_frames, req.frames,
                                                                    list(req.timestamps), req.prompt)
            except (RuntimeError, ValueError, TypeError, OSError) as e:
                raise BackendError(f"local captioning failed: {type(e).__name__}: {e}",
                                   latency=time.perf_counter() - t0) from e
        return GenResult(text=text, backend=self.backend, model=self.model_name, prompt_tokens=n_in,
                         completion_tokens=n_out, latency=time.perf_counter() - t0, attempts=1, finish_reason=finish)

    async def aclose(self) -> None:
        """Drop the model (a later caption() loads it again)."""
        with self._model_lock:
            self._model = None


def resolve_checkpoint(model: str, ws=None) -> Path:
    """A checkpoint folder from `--model`: a folder path, a checkpoint id registered in `ws`, or `latest:<stage>`
    (the newest registered checkpoint of that stage, as the Train tab and `lvr train` name them)."""
    if model.lower() in SMOLLM2_ALIASES:
        raise ValueError(f"local captioner: {model!r} is a text-only model (it can generate QA items with the local "
                         "text backend, not watch video); caption with a video checkpoint: an id, latest:sft, or a "
                         "checkpoint folder")
    if ws is not None and model.startswith("latest:"):
        rows = ws.list_checkpoints(stage=model.split(":", 1)[1])
        if not rows:
            raise FileNotFoundError(f"local captioner: --model {model!r}: the workspace has no checkpoint of stage "
                                    f"{model.split(':', 1)[1]!r} yet")
        return Path(rows[-1]["abspath"])
    p = Path(model).expanduser()
    if p.is_dir():
        return p
    if ws is not None:
        try:
            return Path(ws.get_checkpoint(model)["abspath"])
        except KeyError:
            pass
    where = " nor a checkpoint registered in the workspace" if ws is not None else ""
    raise FileNotFoundError(f"local captioner: --model {model!r} is not a checkpoint folder{where} "
                            "(a video-language checkpoint with lvr_config.json, e.g. from `lvr model init-tiny`)")


SYNTH_SOURCES = ("synth",)


def training_domain(ws, model: str) -> str:
    """What a workspace checkpoint learned to describe: `random init` (a base never trained), `synthetic
    world` (every sft/rl video of the workspace comes from lvr.synth), `real video`, or `mixed`."""
    folder = resolve_checkpoint(model, ws).resolve()
    row = next((c for c in ws.list_checkpoints() if Path(c["abspath"]).resolve() == folder), None)
    if row is not None and row["stage"] not in ("sft", "grpo", "caption"):
        return "random init"
    sources = {v["source"] for v in ws.list_videos() if v.get("split") in ("sft", "rl")}
    if not sources:
        return "unknown"
    synth = {s in SYNTH_SOURCES for s in sources}
    return "synthetic world" if synth == {True} else "real video" if synth == {False} else "mixed"


def domain_warning(ws, model: str, video_ids: list[str] | None = None) -> str | None:
    """A warning when a checkpoint trained on the synthetic world (or never trained) is asked to caption real
    videos (any video not made by lvr.synth among `video_ids`, or among all videos); None when it fits."""
    domain = training_domain(ws, model)
    videos = [v for v in ws.list_videos() if not video_ids or v["id"] in video_ids]
    real = [v for v in videos if v["source"] not in SYNTH_SOURCES]
    if not real or domain not in ("synthetic world", "random init"):
        return None
    return (f"checkpoint {model!r} was trained on: {domain}; {len(real)} of the videos to caption are real videos "
            f"(e.g. {real[0]['filename']}), and its captions of them will describe {domain} content, not what "
            "they show")


def make_captioner(config: BackendConfig, ws=None) -> LocalVLMCaptioner:
    """The `--backend local` captioner (lvr.datagen.backends.LOCAL_CAPTIONER_HOOK); loads the model now."""
    if not config.model:
        raise ValueError("local captioning needs --model: a video-language checkpoint folder or checkpoint id")
    folder = resolve_checkpoint(config.model, ws)
    try:
        validate_checkpoint(folder)
        cap = LocalVLMCaptioner(folder, max_new_tokens=config.max_tokens, temperature=config.temperature,
                                timeout=config.timeout, device=config.device)
        cap.load()
    except CheckpointError as e:
        raise ValueError(f"local captioner: {e}") from e
    return cap

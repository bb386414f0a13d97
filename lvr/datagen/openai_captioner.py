"""Caption a clip with an OpenAI-compatible vision model: its frames as JPEG data URLs in one user message.

    cap = OpenAICaptioner(BackendConfig.from_env(kind="openai", model="gpt-4o-mini"))
    res = await cap.caption(CaptionRequest(…, frames=frames, timestamps=[0.0, 1.25, …]))
    await cap.aclose()

The request goes through lvr.llm's client (`OpenAIBackend`: concurrency, retries, accounting);
this module only writes the message (the prompt, the clip's time span and frame times as the
prompts write them, lvr.video.timefmt) and encodes the frames (lvr.datagen.images).
"""
from __future__ import annotations

import asyncio

from lvr.datagen.images import jpeg_data_url
from lvr.datagen.protocols import CaptionRequest
from lvr.llm import BackendConfig, BackendError, GenResult, OpenAIBackend
from lvr.video.timefmt import fmt_time


class OpenAICaptioner:
    """Caption a clip by sending its frames as JPEG data URLs to an OpenAI-compatible vision model."""

    needs_frames = True

    def __init__(self, config: BackendConfig, *, backend: OpenAIBackend | None = None,
                 jpeg_encoder: str = "pil"):
        self.llm = backend or OpenAIBackend(config)
        self.config = config
        self.name = f"openai:{config.model}"
        self.jpeg_encoder = jpeg_encoder

    def messages(self, req: CaptionRequest) -> list[dict]:
        if req.frames is None or len(req.frames) == 0:
            raise BackendError(f"clip {req.clip_id}: no frames to caption")
        times = ", ".join(fmt_time(t) for t in req.timestamps) if req.timestamps else "evenly spaced"
        text = (f"{req.prompt}\n\nThe clip runs from {fmt_time(req.start)} to {fmt_time(req.end)}; "
                f"the {len(req.frames)} frames below are at {times}.")
        content: list[dict] = [{"type": "text", "text": text}]
        for frame in req.frames:
            url = jpeg_data_url(frame, self.config.image_max_side, self.config.jpeg_quality, self.jpeg_encoder)
            content.append({"type": "image_url", "image_url": {"url": url}})
        return [{"role": "user", "content": content}]

    async def caption(self, req: CaptionRequest) -> GenResult:
        # JPEG encoding is CPU work: keep it off the event loop
        messages = await asyncio.to_thread(self.messages, req)
        return await self.llm.chat(messages)

    async def aclose(self) -> None:
        await self.llm.aclose()

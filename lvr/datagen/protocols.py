"""What a data-generation backend is: requests, results, errors, and the two protocols.

A *text backend* (`TextBackend`) answers chat requests: the QA-generation and rewrite calls.
A *captioner* (`Captioner`) turns a clip's frames into a caption. Both are async and report
per-request accounting (tokens, latency, attempts) in a `GenResult`.

    class MyCaptioner:                       # e.g. a VLM from lvr.model, plugged in later
        name = "local:my-vlm"                # stored as the clip's captioner
        needs_frames = True
        async def caption(self, req: CaptionRequest) -> GenResult: ...
        async def aclose(self) -> None: ...

    from lvr.datagen.backends import register_captioner
    register_captioner("my-vlm", lambda config, ws: MyCaptioner())   # then `lvr caption --backend my-vlm`

Errors: a backend raises `BackendError` (after its own retries) with a short `reason` that the
jobs store in `gen_outputs.reason`; nothing else should escape a backend call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class GenResult:
    """One model answer and what it cost."""

    text: str
    backend: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency: float = 0.0              # seconds, from the first attempt to the answer (retries included)
    attempts: int = 1
    finish_reason: str | None = None

    def accounting(self) -> dict:
        return {"backend": self.backend, "model": self.model, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "latency": round(self.latency, 4),
                "attempts": self.attempts}


class BackendError(RuntimeError):
    """A request that failed for good (retries exhausted, or not retryable)."""

    def __init__(self, reason: str, *, attempts: int = 1, latency: float = 0.0, status: int | None = None,
                 retryable: bool = False, raw: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
        self.latency = latency
        self.status = status
        self.retryable = retryable
        self.raw = raw


@dataclass
class GenRequest:
    """A chat request plus the context of the unit of work it belongs to.

    `messages` are OpenAI-style chat messages. The context fields let backends that do not
    read prompts (ground truth) find their answer; HTTP/local backends ignore them.
    """

    messages: list[dict]
    task: str = "qa"                  # qa | rewrite | judge
    key: str | None = None
    video_id: str | None = None
    category: str | None = None
    index: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    context: dict = field(default_factory=dict)

    def prompt_text(self) -> str:
        """The request as plain text (for storing in gen_outputs.prompt)."""
        parts = []
        for m in self.messages:
            content = m.get("content")
            if isinstance(content, list):
                content = "\n".join(c.get("text", f"<{c.get('type')}>") for c in content)
            parts.append(f"[{m.get('role')}]\n{content}")
        return "\n\n".join(parts)


@dataclass
class CaptionRequest:
    """One clip to caption. `frames` is uint8 [N,H,W,3] (None for captioners that do not need frames)."""

    video_id: str
    clip_id: int
    clip_idx: int
    start: float
    end: float
    prompt: str
    frames: np.ndarray | None = None
    timestamps: list[float] = field(default_factory=list)
    video_path: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TextBackend(Protocol):
    backend: str                      # "openai" | "local" | "ground-truth"
    model: str

    async def generate(self, req: GenRequest) -> GenResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Captioner(Protocol):
    name: str                         # "<backend>:<model>", stored as clips.captioner
    needs_frames: bool

    async def caption(self, req: CaptionRequest) -> GenResult: ...

    async def aclose(self) -> None: ...

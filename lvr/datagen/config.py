"""Typed configurations of data generation: which backend, and how the caption/generate jobs run.

    from lvr.datagen.config import BackendConfig, CaptionConfig, GenerateConfig
    backend = BackendConfig.from_env(kind="openai", model="gpt-4o-mini")   # URL/key from the environment
    gen = GenerateConfig(categories=("temporal", "plot"), per_category=4, concurrency=16)

`BackendConfig` (and its environment variables LVR_LLM_BASE_URL / LVR_LLM_API_KEY / LVR_LLM_MODEL)
lives in lvr.llm.config, next to the client that reads it; it is re-exported here.

Every config checks itself on construction (lvr.config.check_fields: types, choices, bounds of its
`option`s) and raises lvr.config.ConfigError, a ValueError, naming the bad field.
"""
from __future__ import annotations

from dataclasses import dataclass

from lvr.config import ConfigError, check_fields, option
from lvr.llm.config import BACKEND_KINDS, MISSING_BASE_URL, OPENAI_BASE_URL, BackendConfig
from lvr.store import CATEGORIES, SPLITS

__all__ = ["BACKEND_KINDS", "MISSING_BASE_URL", "OPENAI_BASE_URL", "BackendConfig", "CaptionConfig", "GenerateConfig"]


@dataclass
class CaptionConfig:
    """The captioning job: N frames of every clip → one caption per clip."""

    frames: int = option(8, "frames sampled (exactly) from each clip", ge=1)
    videos: tuple[str, ...] | None = option(None, "only these video ids (none: every video in the workspace)")
    concurrency: int = option(8, "clips in flight", ge=1)
    decode_workers: int = option(2, "threads decoding frames at once (CPU-bound)", ge=1)
    overwrite: bool = option(False, "caption again clips this captioner already did")
    prompt: str | None = option(None, "captioning prompt (none: prompts.CAPTION_PROMPT)")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class GenerateConfig:
    """The QA-generation job: per video × category × index, one item (generate + rewrite)."""

    categories: tuple[str, ...] = option(CATEGORIES, "QA categories (a tuple, or comma-separated text)",
                                         choices=CATEGORIES)
    per_category: int = option(1, "items per category per video", ge=1)
    videos: tuple[str, ...] | None = option(None, "only these video ids (none: every video with captions)")
    concurrency: int = option(8, "work units in flight", ge=1)
    attempts: int = option(2, "generation (and rewrite) tries per unit within one run", ge=1)
    rewrite: bool = option(True, "rewrite caption reasoning as if watching (a second LLM call)")
    min_ranges: int = option(2, "reasoning must cite at least this many time ranges", ge=1)
    min_clips: int = option(2, "… covering at least this many clips (when the video has them)", ge=1)
    min_fact_overlap: float = option(0.25, "the rewrite keeps at least this share of the content words",
                                     ge=0, le=1)
    split: str | None = option(None, "split given to new items", choices=SPLITS)
    temperature: float | None = option(None, "sampling temperature (none: the backend's)")
    max_tokens: int | None = option(None, "completion token limit per call (none: the backend's)")

    def __post_init__(self) -> None:
        if isinstance(self.categories, str):
            self.categories = tuple(c.strip() for c in self.categories.split(",") if c.strip())
        check_fields(self)
        if not self.categories:
            raise ConfigError(f"GenerateConfig.categories: needs at least one of {', '.join(CATEGORIES)}")

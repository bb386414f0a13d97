"""Typed configs of the synthetic world and of `lvr synth` (fail fast, naming the bad field).

    from lvr.synth.config import WorldConfig, QAConfig, SynthConfig
    world = WorldConfig(seed=3, minutes=3, fps=4, size=224, difficulty="medium")
    cfg = SynthConfig(videos=20, seed=0, world=world, workers=2)

`difficulty` (easy | medium | hard) fills the knobs left at None: number of zones, agents and
objects, and the minimum gap between events that a question compares (easy questions compare
events far apart in time, hard ones events close together and among more look-alikes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import dataclass

from lvr.config import ConfigError, check_fields, option

DIFFICULTY = {
    # rooms, robots, movable objects, and the min seconds between events a question compares
    "easy": {"n_zones": 4, "n_agents": 2, "n_objects": 4, "min_gap": 20.0},
    "medium": {"n_zones": 4, "n_agents": 3, "n_objects": 6, "min_gap": 10.0},
    "hard": {"n_zones": 6, "n_agents": 4, "n_objects": 8, "min_gap": 5.0},
}


def derive_seed(seed: int, index: int) -> int:
    """The seed of video `index` of a corpus seeded `seed` (stable across Python versions)."""
    return int.from_bytes(hashlib.sha256(f"lvr-synth:{seed}:{index}".encode()).digest()[:4], "big")


@dataclass
class WorldConfig:
    """One video's world: duration, rendering and how busy/hard the story is."""

    seed: int = option(0, "random seed of the world (same seed, same video, log and QA)")
    minutes: float = option(3.0, "duration in minutes", ge=1.0, le=60.0)
    fps: float = option(4.0, "frames per second of the rendered video", gt=0.0, le=60.0)
    size: int = option(224, "frame width and height in pixels (even)", ge=64, le=1024)
    difficulty: str = option("medium", "preset for the knobs left empty", choices=tuple(DIFFICULTY))
    n_zones: int | None = option(None, "zones (4 or 6; None: from difficulty)", choices=(4, 6))
    n_agents: int | None = option(None, "robots (2-4; None: from difficulty)", ge=2, le=4)
    n_objects: int | None = option(None, "movable objects besides the chest's coin (3-8)", ge=3, le=8)
    min_gap: float | None = option(None, "min seconds between events a question compares", ge=0.0)
    density: float = option(1.0, "event density: >1 shorter pauses and faster robots", ge=0.25, le=4.0)
    chest: bool = option(True, "a locked chest that a key opens (a long-range cause and effect)")
    clip_seconds: float = option(10.0, "length of a ground-truth caption clip", ge=2.0, le=60.0)
    gop_seconds: float = option(2.0, "seconds between keyframes in the mp4", gt=0.0, le=60.0)
    crf: int = option(23, "x264 constant rate factor (quality)", ge=0, le=51)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.size % 2:
            raise ConfigError(f"WorldConfig.size: must be even for H.264 yuv420p, got {self.size}")
        preset = DIFFICULTY[self.difficulty]
        for key, value in preset.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if self.n_objects + 1 > 9:  # +1: the coin; 9 sprites at most
            raise ConfigError(f"WorldConfig.n_objects: at most 8, got {self.n_objects}")

    @property
    def duration(self) -> float:
        return float(self.minutes) * 60.0

    @property
    def n_frames(self) -> int:
        return max(1, round(self.duration * self.fps))


@dataclass
class QAConfig:
    """How many questions per template, and which categories."""

    per_template: int | None = option(None, "max items per template per video (None: 3 + 1 per 10 min)", ge=1)
    categories: tuple = option(("temporal", "goal", "spatial", "plot"), "categories to generate")
    min_clips: int = option(2, "an answer must need facts from at least this many clips", ge=1)

    def __post_init__(self) -> None:
        check_fields(self)
        self.categories = tuple(self.categories)
        bad = [c for c in self.categories if c not in ("temporal", "goal", "spatial", "plot")]
        if bad or not self.categories:
            raise ConfigError(f"QAConfig.categories: unknown {bad} (use temporal, goal, spatial, plot)")

    def cap(self, minutes: float) -> int:
        return self.per_template if self.per_template is not None else 3 + int(minutes // 10)


@dataclass
class SynthConfig:
    """A corpus: N videos from one seed, rendered in parallel and registered in a workspace."""

    videos: int = option(20, "number of videos", ge=1, le=100000)
    seed: int = option(0, "corpus seed; video i gets derive_seed(seed, i)")
    world: WorldConfig = option(WorldConfig, "settings of every video's world (its seed is replaced)")
    max_minutes: float | None = option(None, "each video's length drawn (from its seed) between world.minutes and "
                                       "this; null: every video lasts world.minutes", gt=0)
    qa: QAConfig = option(QAConfig, "question generation")
    workers: int = option(2, "rendering processes", ge=1, le=256)
    split_fractions: tuple = option((0.6, 0.3, 0.1), "fractions of videos for sft, rl, eval")
    status: str = option(
        "pending", "review status of the generated QA items", choices=("pending", "draft", "approved")
    )
    ground_truth_in_meta: bool = option(
        True, "also store captions and QA in the video's meta (what the datagen ground-truth backend reads)"
    )
    progress: bool = option(True, "show a tqdm progress bar")

    def __post_init__(self) -> None:
        check_fields(self)
        fr = tuple(float(x) for x in self.split_fractions)
        if len(fr) != 3 or any(x < 0 for x in fr) or abs(sum(fr) - 1.0) > 1e-6:
            raise ConfigError(
                f"SynthConfig.split_fractions: need three fractions >= 0 (sft, rl, eval) summing "
                f"to 1, got {self.split_fractions!r}"
            )
        self.split_fractions = fr

    def world_for(self, index: int) -> WorldConfig:
        seed = derive_seed(self.seed, index)
        if self.max_minutes is None:
            return dataclasses.replace(self.world, seed=seed)
        minutes = round(random.Random(seed).uniform(self.world.minutes, self.max_minutes), 2)
        return dataclasses.replace(self.world, seed=seed, minutes=minutes)

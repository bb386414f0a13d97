"""Training data from the workspace store: QA items, their frames, and a resumable sampler.

    items = load_items(ws, split="sft", statuses=["approved", "pending"])
    sampler = EpochSampler(len(items), seed=0)
    idx = sampler.take(8)                   # global batch (crosses epoch boundaries, reshuffles)
    mine = shard(idx, rank, world)          # this rank's contiguous slice
    frames = VideoFrames(ws, num_frames=8)(items[0])   # SampledFrames via the workspace frame cache
    sampler.state_dict() / load_state_dict(...)        # exact data position for resume

Every item carries its explicit `qa_id` and `video_id`; nothing downstream relies on the
position of a row in a batch.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from lvr.media import frame_spec, video_frames
from lvr.store import Workspace
from lvr.synth.visibility import FRAME_LINES, grounded_reasoning, item_answerable
from lvr.video import SampledFrames, SamplingSpec, VideoError


@dataclass(frozen=True)
class TrainItem:
    """One question on one video, as training sees it."""

    qa_id: int
    video_id: str
    video_path: str
    sha256: str
    category: str
    question: str
    options: tuple[str, ...]
    answer: str
    reasoning: str
    start: float | None = None
    end: float | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def columns(self) -> dict:
        """The reward-function columns of this item."""
        return {"qa_id": self.qa_id, "video_id": self.video_id, "category": self.category,
                "question": self.question, "options": list(self.options), "answer": self.answer}


class DataError(ValueError):
    """No usable training data, or an item that cannot be used (names the QA id and the cause)."""


def load_items(ws: Workspace, *, split: str | None, statuses: Sequence[str], categories: Sequence[str] | None = None,
               max_items: int | None = None, require_reasoning: bool = False,
               exclude_flags: Sequence[str] = ()) -> list[TrainItem]:
    """Items of `split` whose status is in `statuses`, ordered by id.

    Items without a video, or whose video file is missing, are skipped with one printed line
    naming them (the run goes on with the rest).
    Items whose `meta.difficulty_flag` is in `exclude_flags` are left out (see lvr.train.difficulty)."""
    videos: dict[str, dict] = {}
    out: list[TrainItem] = []
    skipped: list[str] = []
    for row in ws.iter_qa(status=list(statuses), split=split, category=list(categories) if categories else None):
        vid = row.get("video_id")
        if not vid:
            skipped.append(f"QA {row['id']}: no video")
            continue
        if vid not in videos:
            try:
                videos[vid] = ws.get_video(vid)
            except KeyError:
                skipped.append(f"QA {row['id']}: video {vid} is not in the workspace")
                continue
        if exclude_flags and (row.get("meta") or {}).get("difficulty_flag") in exclude_flags:
            continue
        if require_reasoning and not (row.get("reasoning") or "").strip():
            skipped.append(f"QA {row['id']}: empty reasoning")
            continue
        v = videos[vid]
        path = ws.video_path(vid)
        if not Path(path).is_file():
            skipped.append(f"QA {row['id']}: video file {path} is missing")
            continue
        out.append(TrainItem(
            qa_id=int(row["id"]), video_id=vid, video_path=str(path), sha256=v["sha256"],
            category=row["category"], question=row["question"], options=tuple(row["options"]),
            answer=row["answer"], reasoning=row.get("reasoning") or "", start=row.get("start"),
            end=row.get("end"), meta=row.get("meta") or {}))
        if max_items and len(out) >= max_items:
            break
    if skipped:
        print(f"[data] skipped {len(skipped)} item(s): " + "; ".join(skipped[:5]) +
              (" …" if len(skipped) > 5 else ""), flush=True)
    return out


def item_reasoning(item: TrainItem, timestamps, source: str) -> str:
    """The reasoning an SFT target uses: the item's own (`item`), or what the sampled frames at `timestamps`
    show of it (one of lvr.synth.visibility.FRAME_LINES, the layouts of grounded_reasoning: `frames`, a line per
    frame where something changed; `every_frame`, a line per frame; `to_evidence`, a line per frame up to the one
    that shows the last fact needed; the item's own without an event log)."""
    if source in FRAME_LINES:
        grounded = grounded_reasoning(item, [float(t) for t in timestamps], lines=source)
        if grounded is not None:
            return grounded
    return item.reasoning


def keep_answerable(items: list[TrainItem], num_frames: int) -> list[TrainItem]:
    """The items an ideal reader of `num_frames` uniformly sampled frames can answer
    (lvr.synth.visibility; a rule fixed in advance, never a model's score). Items without an event
    log (real videos) are kept. Prints how many were dropped."""
    kept = [it for it in items if item_answerable(it, num_frames) is not False]
    print(f"[data] require_answerable: kept {len(kept)} of {len(items)} item(s) that {num_frames} frames can "
          f"answer ({len(items) - len(kept)} dropped)", flush=True)
    return kept


class EpochSampler:
    """Deterministic order over `n` items: a fresh permutation each epoch (seeded by seed + epoch).

    `take(k)` returns the next k indices, wrapping into the next epoch. The state is just
    (epoch, position), the same on every rank, so saving it gives an exact resume.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True):
        if n < 1:
            raise DataError("no training items (check the split, statuses and categories in the config)")
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch, self.pos = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def take(self, k: int) -> list[int]:
        out: list[int] = []
        while len(out) < k:
            if self.pos >= self.n:
                self.epoch += 1
                self.pos = 0
                self._order = self._permutation(self.epoch)
            step = min(k - len(out), self.n - self.pos)
            out += self._order[self.pos:self.pos + step]
            self.pos += step
        return out

    @property
    def progress_epochs(self) -> float:
        return self.epoch + self.pos / self.n

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "n": self.n, "seed": self.seed, "shuffle": self.shuffle}

    def load_state_dict(self, state: dict) -> None:
        if state.get("n") != self.n:
            print(f"[data] warning: the data set had {state.get('n')} items when the checkpoint was saved, "
                  f"now {self.n}; resuming at the same epoch and position anyway", flush=True)
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._permutation(self.epoch)


def shard(indices: Sequence[int], rank: int, world: int) -> list[int]:
    """Rank `rank`'s contiguous share of a global batch (len must divide by `world`)."""
    if len(indices) % world:
        raise ValueError(f"global batch of {len(indices)} does not split over {world} ranks")
    per = len(indices) // world
    return list(indices[rank * per:(rank + 1) * per])


class MixedFrames:
    """Frame-count augmentation: `for_step(step)` gives a VideoFrames-like callable that samples each item
    with a frame count drawn from `choices`, seeded by (seed, step, qa id) so a resumed run repeats it.
    `require_answerable`: an item draws only among the counts whose frames can answer it (lvr.synth.visibility)."""

    def __init__(self, ws: Workspace, *, choices: Sequence[int], seed: int = 0, require_answerable: bool = False,
                 **kwargs):
        self.choices = sorted(set(int(n) for n in choices))
        self.seed = seed
        self.require_answerable = require_answerable
        self.by_n = {n: VideoFrames(ws, num_frames=n, **kwargs) for n in self.choices}
        self._allowed: dict[int, list[int]] = {}          # qa id → its counts (fixed: computed once per item)

    def choices_for(self, item: TrainItem) -> list[int]:
        if not self.require_answerable:
            return self.choices
        if item.qa_id not in self._allowed:
            self._allowed[item.qa_id] = ([n for n in self.choices if item_answerable(item, n) is not False]
                                         or self.choices[-1:])
        return self._allowed[item.qa_id]

    def count(self, step: int, item: TrainItem) -> int:
        choices = self.choices_for(item)
        return choices[random.Random(f"{self.seed}:{step}:{item.qa_id}").randrange(len(choices))]

    def for_step(self, step: int):
        return lambda item: self.by_n[self.count(step, item)](item)


class VideoFrames:
    """Frames of an item's video (uniform `num_frames`, optionally only the question's clip range),
    decoded once and kept in the workspace frame cache."""

    def __init__(self, ws: Workspace, *, num_frames: int, mode: str = "exact",
                 resize: Sequence[int] | None = None, use_clip_range: bool = False):
        self.ws = ws
        self.num_frames, self.mode = num_frames, mode
        self.resize = tuple(resize) if resize else None
        self.use_clip_range = use_clip_range

    def spec(self, item: TrainItem) -> SamplingSpec:
        start = end = None
        if self.use_clip_range and item.start is not None and item.end is not None and item.end > item.start:
            start, end = float(item.start), float(item.end)
        return frame_spec(self.num_frames, mode=self.mode, resize=self.resize, start=start, end=end,
                          max_frames=max(self.num_frames, 1))

    def key(self, item: TrainItem) -> str:
        """Identity of the frames an item gets (same video + same spec → same frames)."""
        return f"{item.sha256}:{self.spec(item).key()}"

    def __call__(self, item: TrainItem) -> SampledFrames:
        if not Path(item.video_path).exists():
            raise DataError(f"QA {item.qa_id}: video file {item.video_path} (video {item.video_id}) does not exist")
        try:
            return video_frames(item.video_path, self.spec(item), cache_dir=self.ws.frames_cache_dir,
                                sha=item.sha256)
        except VideoError as e:
            raise DataError(f"QA {item.qa_id}: cannot read frames of video {item.video_id}: {e}") from e

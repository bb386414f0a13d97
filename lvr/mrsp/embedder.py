"""The trainer's video embeddings: one `VideoEmbedder` interface, two implementations.

    emb = CachedVideoEmbedder(model, VideoFrames(ws, num_frames=64), cache_dir=ws.embeds_cache_dir, sp=sp)
    emb.new_step()
    ve = emb(item)                      # .key, .embeds (no graph), .layout, .source
    ve = emb.encode(item, grad=True)    # the policy passes' embeddings (the same encoding, with graph)
    emb.stats()                         # embeds/hits, memo_hits, disk_hits, misses, encode_s, …

    emb = StepVideoEmbedder(model, VideoFrames(ws, num_frames=8))   # frames → encode_frames, memoised per step

`VideoEmbedder` (a Protocol) is what the GRPO trainer types against: `new_step()`, `emb(item)`
(no autograd), `encode(item, grad)`, `weights_updated()`, `retain_graph`, `stats()`; `key` =
"<video sha256>:<sampling spec key>". `StepVideoEmbedder` is the plain one (one encoding per
video per step, a fresh encoding for every `encode(grad=True)`); `CachedVideoEmbedder` is MR-SP's:
- one encoding per video per step, shared by the rollouts, the old / reference / policy
  passes and the backward (the rollout's prompt embeddings ARE the tensors the log-probs use);
- with a frozen vision tower + projector (`persistent="auto"` checks requires_grad) the
  embeddings persist in `cache_dir` (safetensors, keyed by content hash, sampling spec and a
  hash of the frozen weights), so later steps and epochs neither decode nor encode;
- with `sp` of size S > 1, a miss is encoded Stage-1 parallel (each rank 1/S of the frames,
  uneven all-gather), and the SP ranks agree on hit/miss collectively;
- when the encoder trains, `grad_mode="retain"` hands the graph-carrying embeddings to every
  policy micro-batch (backward with `retain_graph=True`), and `grad_mode="recompute"` encodes
  again with grad for each policy micro-batch (what ZeRO-3 needs: its partitioned weights cannot
  serve a second backward through a kept graph); the rollouts and no-grad passes still share the
  one cached encoding. After an optimizer step (`weights_updated()`, or in-place parameter
  updates seen automatically) the kept encoding is stale and the next `encode(grad=True)`
  encodes again.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from .cache import EmbeddingCache, encoder_trainable, encoder_weights_hash, vision_modules
from .encode import encode_frames_sp
from .groups import SPGroup, all_agree

GRAD_MODES = ("retain", "recompute")


@dataclass
class VideoEmbeddings:
    key: str
    embeds: torch.Tensor            # [n_tokens, d_lm]
    layout: object                  # lvr.model.VideoLayout
    source: str = "computed"        # "memo" | "disk" | "computed"


@runtime_checkable
class VideoEmbedder(Protocol):
    """What the trainer asks of a video embedder (see module doc)."""

    def new_step(self) -> None:
        """Start a step: forget the previous step's encodings."""

    def __call__(self, item) -> VideoEmbeddings:
        """The step's embeddings of `item`'s video, without autograd (rollouts, old/ref passes, prompts)."""

    def encode(self, item, grad: bool = False) -> VideoEmbeddings:
        """Like `__call__`; with `grad`, embeddings that carry the encoder's graph (policy passes)."""

    def weights_updated(self) -> None:
        """Call after an optimizer step: encodings made with the old weights are stale."""

    @property
    def retain_graph(self) -> bool:
        """Whether the policy backward must keep the graph (micro-batches share one encoding)."""

    def stats(self, reset: bool = True) -> dict:
        """Counters: embeds/hits, embeds/misses, …"""


class StepVideoEmbedder:
    """A `VideoEmbedder`: frames → model.encode_frames, memoised per step by (video, frame spec)."""

    retain_graph = False   # every encode(grad=True) is a fresh graph

    def __init__(self, model, frames):
        self.model = model
        self.frames = frames
        self.memo: dict[str, VideoEmbeddings] = {}
        self.hits = 0
        self.misses = 0

    def new_step(self) -> None:
        self.memo.clear()

    def weights_updated(self) -> None:
        """Nothing kept across an optimizer step but the memo, which `new_step` clears."""

    def encode(self, item, grad: bool = False) -> VideoEmbeddings:
        """Encode without the memo (with autograd when `grad`)."""
        sampled = self.frames(item)
        frames = sampled.frames
        with (nullcontext() if grad else torch.no_grad()):
            embeds = self.model.encode_frames(frames)
        layout = self.model.video_layout(len(frames), tuple(frames.shape[1:3]), sampled.timestamps)
        return VideoEmbeddings(self.frames.key(item), embeds, layout)

    def __call__(self, item) -> VideoEmbeddings:
        key = self.frames.key(item)
        hit = self.memo.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        ve = self.encode(item, grad=False)
        self.memo[key] = ve
        return ve

    def stats(self, reset: bool = True) -> dict:
        out = {"embeds/hits": self.hits, "embeds/misses": self.misses}
        if reset:
            self.hits = self.misses = 0
        return out


class CachedVideoEmbedder:
    """MR-SP's `VideoEmbedder`: the embedding cache + Stage-1 parallel encoding (see module doc)."""

    def __init__(self, model, frames, *, cache_dir=None, sp: SPGroup | None = None, persistent: str | bool = "auto",
                 grad_mode: str = "retain", reuse: bool = True):
        if grad_mode not in GRAD_MODES:
            raise ValueError(f"grad_mode must be one of {GRAD_MODES}, got {grad_mode!r}")
        self.model, self.frames = model, frames
        self.sp = sp or SPGroup.single()
        self.grad_mode = grad_mode
        self.reuse = reuse   # False: encode on every call (the no-cache baseline)
        self.trainable = encoder_trainable(model)
        if persistent == "auto":
            persistent = cache_dir is not None and not self.trainable
        if persistent and self.trainable:
            raise ValueError("a persistent embedding cache needs a frozen vision tower and projector "
                             "(trainable.vision_tower / trainable.projector are on)")
        if persistent and cache_dir is None:
            raise ValueError("persistent embedding cache: no cache_dir given")
        self._version = 0                 # bumped by weights_updated(): graph-carrying entries go stale
        self._entry_version: dict[tuple[str, str], tuple[int, int]] = {}
        self.cache = EmbeddingCache(cache_dir if persistent else None,
                                    weights_hash=encoder_weights_hash(model) if persistent else None,
                                    agree=lambda flag: all_agree(flag, self.sp), writer=self.sp.rank == 0)

    # ------------------------------------------------------------------ the VideoEmbedder interface
    def new_step(self) -> None:
        self.cache.new_step()
        self._entry_version.clear()

    def weights_updated(self) -> None:
        """Call after an optimizer step: a trainable encoder's kept graph (and its values) are stale,
        so the next `encode(grad=True)` encodes again with the new weights. Frozen: nothing to do."""
        if self.trainable:
            self._version += 1

    def _param_versions(self) -> int:
        """Sum of the encoder parameters' in-place version counters (catches updates not announced
        through `weights_updated`, e.g. a plain optimizer)."""
        return sum(p._version for _, mod in vision_modules(self.model) for p in mod.parameters())

    def key(self, item) -> str:
        return self.frames.key(item)

    def _compute(self, item):
        if self.trainable:   # which encoder weights this encoding saw
            self._entry_version[(item.sha256, self.frames.spec(item).key())] = (self._version, self._param_versions())
        sampled = self.frames(item)
        frames = sampled.frames
        with torch.set_grad_enabled(self.trainable):
            embeds = encode_frames_sp(self.model, frames, self.sp)
        ts = [float(t) for t in sampled.timestamps] if sampled.timestamps is not None else None
        meta = {"num_frames": int(len(frames)), "frame_size": [int(frames.shape[1]), int(frames.shape[2])],
                "timestamps": ts}
        return embeds, meta

    def _entry(self, item):
        if not self.reuse:
            self.cache.new_step()
        spec_key = self.frames.spec(item).key()
        persist = getattr(self.frames, "persistent", None)     # a frame source may keep items off the disk
        return self.cache.get(item.sha256, spec_key, lambda: self._compute(item), device=self.model.device,
                              persist=persist(item) if persist else True)

    def _layout(self, meta: dict):
        return self.model.video_layout(meta["num_frames"], tuple(meta["frame_size"]), meta.get("timestamps"))

    def __call__(self, item) -> VideoEmbeddings:
        """The step's embeddings of `item`'s video, without autograd (rollouts, old/ref passes, prompts)."""
        e = self._entry(item)
        return VideoEmbeddings(self.key(item), e.embeds.detach(), self._layout(e.meta), e.source)

    def encode(self, item, grad: bool = False) -> VideoEmbeddings:
        """Like `__call__`; with `grad` and a trainable encoder, the graph-carrying embeddings: the step's
        one encoding (retain), encoded again only once the encoder's weights changed (`weights_updated()`,
        or an in-place update seen on the parameters), or a fresh encoding per call (recompute)."""
        if not (grad and self.trainable):
            return self(item)
        if self.grad_mode == "recompute":      # a fresh graph per call (ZeRO-3 cannot re-run a kept one)
            embeds, meta = self._compute(item)
            return VideoEmbeddings(self.key(item), embeds, self._layout(meta), "computed")
        key = (item.sha256, self.frames.spec(item).key())
        if key in self.cache.memo and self._entry_version.get(key) != (self._version, self._param_versions()):
            self.cache.forget(*key)            # the encoder changed since this encoding: encode again
        ve = self(item)
        ve.embeds = self.cache.memo[key].embeds
        return ve

    @property
    def retain_graph(self) -> bool:
        """Whether the policy backward must keep the graph (several micro-batches share one encoding)."""
        return self.trainable and self.grad_mode == "retain"

    def stats(self, reset: bool = True) -> dict:
        return self.cache.stats(reset)

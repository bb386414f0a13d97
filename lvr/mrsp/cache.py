"""The video-embedding cache: once per video per step in memory, persistent on disk when frozen.

    cache = EmbeddingCache(ws.embeds_cache_dir, weights_hash=encoder_weights_hash(model))  # frozen tower
    cache = EmbeddingCache(None, weights_hash=None)                                        # trainable tower
    e = cache.get(sha256, spec_key, compute)   # compute() -> (embeds [n_tok, d], meta dict)
    e.embeds, e.meta, e.source                 # source: "memo" | "disk" | "computed"
    cache.new_step()                           # forget the in-step memo (and any kept graph)
    cache.stats()                              # {"embeds/hits", "embeds/memo_hits", "embeds/disk_hits", …}

Two levels:
- In-step memo, keyed by (video content hash, sampling spec key): the G rollouts, the old /
  reference / policy log-prob passes and the backward all take the same tensor. When the
  encoder trains, the memo keeps the autograd graph (computed once with grad): consumers take
  `embeds.detach()` for no-grad passes and `embeds` itself for the policy passes, whose
  backward then runs with `retain_graph=True` until `new_step()`.
- On disk (only when `weights_hash` is given, i.e. the vision tower and projector are frozen):
  `root/<sha[:2]>/<sha>/<h>.safetensors` with h = sha1(spec key | weights hash)[:20]; the
  safetensors metadata repeats the spec key and the weights hash (checked on read) and carries
  the caller's `meta` (e.g. the layout: frames, frame size, timestamps). A different weights
  hash or sampling spec is a different file, so changed weights or sampling never read stale
  embeddings. Files are written to a temporary name and renamed (atomic); a damaged file is a
  miss and is rewritten.

`encoder_weights_hash(model)` hashes the frozen modules' state_dict tensors (names, shapes,
dtypes, bytes) plus the preprocessing options. `CachedVideoEmbedder` (lvr.mrsp.embedder) wires
this cache, Stage-1 parallel encoding and a frame sampler into the trainer's `video_embeddings`.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

FORMAT = "1"


# ---------------------------------------------------------------------------------------- hashing
def vision_modules(model) -> list[tuple[str, nn.Module]]:
    """The modules that turn frames into video embeddings (vision tower + projector)."""
    if hasattr(model, "vision_tower") and hasattr(model, "projector"):
        return [("vision_tower", model.vision_tower), ("projector", model.projector)]
    hf = getattr(model, "hf", None)
    visual = getattr(getattr(hf, "model", None), "visual", None)
    if visual is not None:
        return [("visual", visual)]
    raise ValueError(f"don't know the vision modules of {type(model).__name__} (expected vision_tower + projector, "
                     "or a Qwen2.5-VL `hf.model.visual`)")


def encoder_trainable(model) -> bool:
    """True if any parameter of the vision tower or projector requires grad."""
    return any(p.requires_grad for _, m in vision_modules(model) for p in m.parameters())


def weights_hash(modules: list[tuple[str, nn.Module]], extra: str = "") -> str:
    """sha256 over the modules' state_dict tensors (name, dtype, shape, bytes) and `extra`."""
    h = hashlib.sha256()
    h.update(f"lvr-embeds-{FORMAT}|{extra}".encode())
    for prefix, module in modules:
        for name, t in sorted(module.state_dict().items()):
            t = t.detach()
            if getattr(t, "ds_shape", None) is not None and t.numel() == 0:
                raise ValueError(f"{prefix}.{name} is ZeRO-3 partitioned: gather it before hashing the encoder")
            h.update(f"{prefix}.{name}|{t.dtype}|{tuple(t.shape)}".encode())
            h.update(t.cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def encoder_weights_hash(model) -> str:
    """The cache's weights key for `model`: vision modules' tensors + preprocessing options."""
    opts = getattr(model, "options", None)
    extra = {"model_type": getattr(model, "model_type", type(model).__name__)}
    if opts is not None and hasattr(opts, "to_dict"):
        extra["options"] = opts.to_dict()
    proj = getattr(getattr(model, "projector", None), "config", None)
    if proj is not None and hasattr(proj, "to_dict"):      # same weights, other pooling (frame_merge): other tokens
        extra["projector"] = proj.to_dict()
    return weights_hash(vision_modules(model), json.dumps(extra, sort_keys=True, default=str))


# ---------------------------------------------------------------------------------------- disk
class DiskEmbedCache:
    """safetensors files of video embeddings under `root` (see module doc for the layout)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, content_hash: str, spec_key: str, weights_key: str) -> Path:
        if len(content_hash) < 8 or not all(c in "0123456789abcdef" for c in content_hash):
            raise ValueError(f"embedding cache: content hash must be a lowercase hex digest, got {content_hash!r}")
        h = hashlib.sha1(f"{spec_key}|{weights_key}".encode()).hexdigest()[:20]
        return self.root / content_hash[:2] / content_hash / f"{h}.safetensors"

    def get(self, content_hash: str, spec_key: str, weights_key: str,
            device=None) -> tuple[torch.Tensor, dict] | None:
        from safetensors import safe_open

        p = self.path(content_hash, spec_key, weights_key)
        if not p.is_file():
            return None
        try:
            with safe_open(str(p), framework="pt", device="cpu") as f:
                meta = f.metadata() or {}
                if (meta.get("format") != FORMAT or meta.get("spec_key") != spec_key
                        or meta.get("weights_hash") != weights_key or meta.get("content_hash") != content_hash):
                    return None
                embeds = f.get_tensor("embeds")
            user = json.loads(meta.get("meta", "{}"))
        except Exception:  # a damaged entry is a miss (it is rewritten)
            return None
        return (embeds.to(device) if device is not None else embeds), user

    def put(self, content_hash: str, spec_key: str, weights_key: str, embeds: torch.Tensor,
            meta: dict | None = None) -> Path:
        from safetensors.torch import save_file

        p = self.path(content_hash, spec_key, weights_key)
        p.parent.mkdir(parents=True, exist_ok=True)
        md = {"format": FORMAT, "content_hash": content_hash, "spec_key": spec_key, "weights_hash": weights_key,
              "meta": json.dumps(meta or {}, sort_keys=True)}
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=p.parent)
        os.close(fd)
        try:
            save_file({"embeds": embeds.detach().to("cpu").contiguous()}, tmp, metadata=md)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return p

    def entries(self) -> list[Path]:
        return sorted(self.root.glob("*/*/*.safetensors")) if self.root.is_dir() else []

    def prune(self, keep_weights_key: str) -> int:
        """Delete entries made with other encoder weights; returns how many were removed."""
        from safetensors import safe_open

        removed = 0
        for p in self.entries():
            try:
                with safe_open(str(p), framework="pt", device="cpu") as f:
                    stale = (f.metadata() or {}).get("weights_hash") != keep_weights_key
            except Exception:
                stale = True
            if stale:
                p.unlink(missing_ok=True)
                removed += 1
        return removed


# ---------------------------------------------------------------------------------------- the cache
@dataclass
class CachedEmbeds:
    embeds: torch.Tensor            # [n_tokens, d] (with the autograd graph when the encoder trains)
    meta: dict
    source: str                     # "memo" | "disk" | "computed"


@dataclass
class CacheStats:
    memo_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    encode_s: float = 0.0
    load_s: float = 0.0

    def as_metrics(self) -> dict:
        return {"embeds/hits": self.memo_hits + self.disk_hits, "embeds/memo_hits": self.memo_hits,
                "embeds/disk_hits": self.disk_hits, "embeds/misses": self.misses,
                "embeds/encode_s": self.encode_s, "embeds/load_s": self.load_s}


class EmbeddingCache:
    """In-step memo + optional persistent disk level (see module doc).

    `weights_hash` None disables the disk level (use it when the encoder trains). `agree` is an
    optional collective `fn(bool) -> bool` (all ranks of an SP group must take the same
    hit/miss branch, because a miss runs a collective encode); `writer` says whether this rank
    writes new disk entries (one rank per SP group).
    """

    def __init__(self, root: str | os.PathLike | None = None, *, weights_hash: str | None = None,
                 agree: Callable[[bool], bool] | None = None, writer: bool = True):
        if weights_hash is not None and root is None:
            raise ValueError("EmbeddingCache: a weights hash (persistent cache) needs a root folder")
        self.disk = DiskEmbedCache(root) if (root is not None and weights_hash is not None) else None
        self.weights_hash = weights_hash
        self.agree = agree or (lambda flag: flag)
        self.writer = writer
        self.memo: dict[tuple[str, str], CachedEmbeds] = {}
        self.counters = CacheStats()

    @property
    def persistent(self) -> bool:
        return self.disk is not None

    def new_step(self) -> None:
        """Drop the in-step memo (and with it any autograd graph it kept)."""
        self.memo.clear()

    def get(self, content_hash: str, spec_key: str, compute: Callable[[], tuple[torch.Tensor, dict]],
            *, device=None, persist: bool = True) -> CachedEmbeds:
        """The step's entry of (content_hash, spec_key): memo, else disk, else `compute()` (written to disk when
        the cache is persistent and `persist`; an item asked only once, such as a fresh world, skips the disk)."""
        key = (content_hash, spec_key)
        disk = self.disk if persist else None
        hit = self.memo.get(key)
        if hit is not None:
            self.counters.memo_hits += 1
            return CachedEmbeds(hit.embeds, hit.meta, "memo")
        loaded = None
        if disk is not None:
            t0 = time.perf_counter()
            loaded = disk.get(content_hash, spec_key, self.weights_hash, device=device)
            self.counters.load_s += time.perf_counter() - t0
        if self.agree(loaded is not None) and loaded is not None:
            self.counters.disk_hits += 1
            entry = CachedEmbeds(loaded[0], loaded[1], "disk")
        else:
            t0 = time.perf_counter()
            embeds, meta = compute()
            self.counters.encode_s += time.perf_counter() - t0
            self.counters.misses += 1
            if disk is not None:
                if self.writer:
                    disk.put(content_hash, spec_key, self.weights_hash, embeds, meta)
                # every rank of the group took this branch (the miss was agreed): wait until the file is
                # written, else a rank that runs ahead misses it on its next look-up and encodes again
                self.agree(True)
            entry = CachedEmbeds(embeds, dict(meta), "computed")
        self.memo[key] = entry
        return entry

    def forget(self, content_hash: str, spec_key: str) -> None:
        """Drop one video from the in-step memo (e.g. its encoder weights changed)."""
        self.memo.pop((content_hash, spec_key), None)

    def stats(self, reset: bool = True) -> dict:
        out = self.counters.as_metrics()
        out["embeds/persistent"] = int(self.persistent)
        if reset:
            self.counters = CacheStats()
        return out

"""The embedding cache: on-disk entries and their keys, the in-step memo, the trainer-facing
CachedVideoEmbedder on real videos, and a GRPO-style step whose loss and gradients do not
change with caching (frozen encoder: memo + disk; trainable projector: retain and recompute)."""
from __future__ import annotations

import copy

import pytest
import torch

from lvr.mrsp.cache import (
    DiskEmbedCache,
    EmbeddingCache,
    encoder_trainable,
    encoder_weights_hash,
    weights_hash,
)
from lvr.mrsp.embedder import CachedVideoEmbedder

SHA = "ab" * 32


def test_disk_entry_roundtrip_and_key_checks(tmp_path):
    d = DiskEmbedCache(tmp_path)
    x = torch.randn(12, 8)
    p = d.put(SHA, "spec-A", "w1", x, {"num_frames": 3})
    assert p.suffix == ".safetensors" and p.parent.name == SHA and p.parent.parent.name == SHA[:2]
    got, meta = d.get(SHA, "spec-A", "w1")
    assert torch.equal(got, x) and meta == {"num_frames": 3}
    assert d.get(SHA, "spec-B", "w1") is None            # other sampling → other entry
    assert d.get(SHA, "spec-A", "w2") is None            # other encoder weights → other entry
    p.write_bytes(b"not a safetensors file")             # damaged → a miss, not an error
    assert d.get(SHA, "spec-A", "w1") is None
    d.put(SHA, "spec-A", "w1", x)
    d.put(SHA, "spec-A", "w2", x)
    assert len(d.entries()) == 2 and d.prune("w2") == 1 and len(d.entries()) == 1
    with pytest.raises(ValueError, match="hex digest"):
        d.path("not-a-hash", "s", "w")


def test_weights_hash_follows_the_tensors():
    m = torch.nn.Linear(4, 3)
    h1 = weights_hash([("m", m)])
    assert h1 == weights_hash([("m", m)])
    with torch.no_grad():
        m.weight[0, 0] += 1e-3
    assert weights_hash([("m", m)]) != h1
    assert weights_hash([("m", m)], extra="other preprocessing") != weights_hash([("m", m)])


def test_memo_then_disk_then_invalidation(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return torch.full((4, 2), float(len(calls))), {"n": len(calls)}

    c = EmbeddingCache(tmp_path, weights_hash="w1")
    a = c.get(SHA, "spec", compute)
    b = c.get(SHA, "spec", compute)
    assert (a.source, b.source, len(calls)) == ("computed", "memo", 1) and b.embeds is a.embeds
    c.new_step()
    d = c.get(SHA, "spec", compute)
    assert d.source == "disk" and len(calls) == 1 and torch.equal(d.embeds, a.embeds) and d.meta == {"n": 1}
    assert c.stats() == {"embeds/hits": 2, "embeds/memo_hits": 1, "embeds/disk_hits": 1, "embeds/misses": 1,
                         "embeds/encode_s": pytest.approx(c.counters.encode_s, abs=10),
                         "embeds/load_s": pytest.approx(0, abs=10), "embeds/persistent": 1}
    changed = EmbeddingCache(tmp_path, weights_hash="w2")          # new encoder weights
    assert changed.get(SHA, "spec", compute).source == "computed" and len(calls) == 2
    assert c.get(SHA, "other-spec", compute).source == "computed"  # new sampling
    step_only = EmbeddingCache(None)                               # trainable encoder: memo only
    assert not step_only.persistent
    with pytest.raises(ValueError, match="needs a root"):
        EmbeddingCache(None, weights_hash="w")


def test_an_item_kept_off_the_disk_is_memoised_but_never_written_or_read(tmp_path):
    c = EmbeddingCache(tmp_path, weights_hash="w1")
    calls = []

    def compute():
        calls.append(1)
        return torch.ones(2, 2), {}

    first = c.get(SHA, "spec", compute, persist=False)
    again = c.get(SHA, "spec", compute, persist=False)
    assert (first.source, again.source, len(calls)) == ("computed", "memo", 1)
    assert not list(tmp_path.rglob("*.safetensors"))
    c.new_step()
    assert c.get(SHA, "spec", compute).source == "computed" and len(list(tmp_path.rglob("*.safetensors"))) == 1
    c.new_step()
    assert c.get(SHA, "spec", compute, persist=False).source == "computed" and len(calls) == 3   # disk not read


# ------------------------------------------------------------------------------------ real videos
@pytest.fixture(scope="module")
def video_items(tmp_path_factory):
    """A workspace with two real H.264 videos and one TrainItem on each."""
    from lvr.store import Workspace
    from lvr.train.data import TrainItem
    from lvr.video import content_hash, probe
    from lvr.video.encode import numbered_frames, write_video

    root = tmp_path_factory.mktemp("mrsp_ws")
    ws = Workspace.open(root / "ws", create=True)
    items = []
    for v in range(2):
        path = write_video(root / f"v{v}.mp4", numbered_frames(24, 96, 128, start=100 * v), fps=8, gop=8)
        info, sha = probe(path), content_hash(path)
        vid = ws.add_video(path, sha256=sha, duration=info.duration, fps=info.fps, n_frames=info.n_frames,
                           width=info.width, height=info.height)
        items.append(TrainItem(qa_id=10 + v, video_id=vid, video_path=str(ws.video_path(vid)), sha256=sha,
                               category="temporal", question=f"What happens in video {v}?",
                               options=("a", "b", "c", "d"), answer="A", reasoning=""))
    return ws, items


class CountingFrames:
    """lvr.train.data.VideoFrames that counts how often frames are actually sampled."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def spec(self, item):
        return self.inner.spec(item)

    def key(self, item):
        return self.inner.key(item)

    def __call__(self, item):
        self.calls += 1
        return self.inner(item)


def frozen_model(tiny):
    m = copy.deepcopy(tiny)
    for name, p in m.named_parameters():
        p.requires_grad_(not (name.startswith("vision_tower.") or name.startswith("projector.")))
    return m


def test_embedder_persists_frozen_embeddings_and_skips_decoding(video_items, tiny_composite, tmp_path):
    from lvr.train.data import VideoFrames

    ws, items = video_items
    m = frozen_model(tiny_composite)
    assert not encoder_trainable(m)
    frames = CountingFrames(VideoFrames(ws, num_frames=4))
    emb = CachedVideoEmbedder(m, frames, cache_dir=tmp_path / "embeds")
    assert emb.cache.persistent
    ve = emb(items[0])
    s = frames.inner(items[0])
    with torch.no_grad():
        expect = m.encode_frames(s.frames)
    assert torch.equal(ve.embeds, expect) and ve.key == frames.key(items[0])
    assert ve.layout == m.video_layout(4, s.frames.shape[1:3], s.timestamps)
    assert emb(items[0]).source == "memo"
    emb.new_step()
    again = CachedVideoEmbedder(m, frames, cache_dir=tmp_path / "embeds")      # a later run / epoch
    hit = again(items[0])
    assert hit.source == "disk" and torch.equal(hit.embeds, expect) and hit.layout == ve.layout
    assert frames.calls == 1                                                 # no decode on a disk hit
    with torch.no_grad():                                                    # changed weights: never stale
        m.projector.fc2.bias += 0.5
    fresh = CachedVideoEmbedder(m, frames, cache_dir=tmp_path / "embeds")
    miss = fresh(items[0])
    assert miss.source == "computed" and not torch.allclose(miss.embeds, expect)
    other = CachedVideoEmbedder(m, CountingFrames(VideoFrames(ws, num_frames=6)), cache_dir=tmp_path / "embeds")
    assert other(items[0]).source == "computed"                              # changed sampling: new entry


def test_persistent_cache_refuses_a_trainable_encoder(video_items, tiny_composite, tmp_path):
    from lvr.train.data import VideoFrames

    ws, _ = video_items
    m = copy.deepcopy(tiny_composite)
    for p in m.parameters():
        p.requires_grad_(True)
    with pytest.raises(ValueError, match="frozen vision tower"):
        CachedVideoEmbedder(m, VideoFrames(ws, num_frames=4), cache_dir=tmp_path, persistent=True)
    auto = CachedVideoEmbedder(m, VideoFrames(ws, num_frames=4), cache_dir=tmp_path)
    assert not auto.cache.persistent


def grpo_like_step(model, emb, items, *, G=2, micro=2, seed=0):
    """Rollout passes (G per prompt) → old log-probs → policy micro-batches with backward, all
    fetching embeddings through `emb` as the GRPO trainer does; returns (loss, grads)."""
    from lvr.train.sequences import build_batch, build_prompt, sequence_logprobs

    model.zero_grad(set_to_none=True)
    emb.new_step()
    prompts, videos, by_key = {}, {}, {}
    for item in items:
        for _ in range(G):                       # each rollout sees the video's embeddings
            ve = emb(item)
        prompts[item.qa_id] = build_prompt(model, item, ve, think=True)
        videos[ve.key] = ve.embeds
        by_key[ve.key] = item
    g = torch.Generator().manual_seed(seed)
    rows = [(it.qa_id, torch.randint(10, 900, (3 + 2 * k,), generator=g).tolist()) for it in items for k in range(G)]
    adv = torch.tensor([1.0, -1.0] * len(items))
    batches = [rows[i:i + micro] for i in range(0, len(rows), micro)]
    with torch.no_grad():
        old = []
        for mb in batches:   # each pass asks for the embeddings (the baseline re-encodes here)
            ref = {k: emb(by_key[k]).embeds for k in {prompts[q].video_key for q, _ in mb}}
            b = build_batch(model, [r for _, r in mb], [q for q, _ in mb], prompts, ref)
            old.append(sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                                         response_ids=b.response_ids, attention_mask=b.attention_mask).logps)
    total = 0.0
    for j, mb in enumerate(batches):
        keys = {prompts[q].video_key for q, _ in mb}
        pol = {k: emb.encode(by_key[k], grad=True).embeds for k in keys}
        b = build_batch(model, [r for _, r in mb], [q for q, _ in mb], prompts, pol)
        lp = sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                               response_ids=b.response_ids, attention_mask=b.attention_mask).logps
        ratio = torch.exp(lp - old[j])
        m = b.response_mask.float()
        loss = -((ratio * adv[j * micro:(j + 1) * micro, None] * m).sum(-1) / m.sum(-1)).sum() / len(rows)
        loss.backward(retain_graph=getattr(emb, "retain_graph", False))
        total += float(loss.detach())
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return total, grads


def _close(a: dict, b: dict, atol=1e-6) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol) for k in a)


@pytest.fixture(params=["grid", "pooled"])
def composite(request, tiny_composite):
    """The tiny composite with pool² video tokens per frame, and with one (projector frame_merge linear)."""
    if request.param == "grid":
        return tiny_composite
    m = copy.deepcopy(tiny_composite)
    m.projector.set_frame_merge("linear")
    torch.nn.init.normal_(m.projector.merge.weight, std=0.02)
    return m


def test_weights_hash_tells_pooled_frames_from_grid_frames(tiny_composite):
    m = copy.deepcopy(tiny_composite)
    m.projector.set_frame_merge("mean")
    assert m.tokens_per_frame == 1 and tiny_composite.tokens_per_frame > 1
    assert encoder_weights_hash(m) != encoder_weights_hash(tiny_composite)     # same tensors, other video tokens


def test_cached_step_equals_uncached_step_frozen_encoder(video_items, composite, tmp_path):
    from lvr.train.data import VideoFrames

    ws, items = video_items
    m = frozen_model(composite)
    m.eval()
    base_frames = CountingFrames(VideoFrames(ws, num_frames=4))
    baseline = CachedVideoEmbedder(m, base_frames, reuse=False)               # re-encode every pass
    loss0, g0 = grpo_like_step(m, baseline, items)
    # every pass encodes: G rollouts per prompt + the old and the policy pass of each micro-batch (one video each)
    assert baseline.stats()["embeds/misses"] == len(items) * 2 + 2 * 2
    cached = CachedVideoEmbedder(m, VideoFrames(ws, num_frames=4), cache_dir=tmp_path / "e")
    loss1, g1 = grpo_like_step(m, cached, items)
    st = cached.stats()
    assert st["embeds/misses"] == len(items) and st["embeds/hits"] == len(items) * 2 + 2 * 2 - len(items)
    loss2, g2 = grpo_like_step(m, cached, items)                               # next step: from disk
    assert cached.stats()["embeds/disk_hits"] == len(items)
    assert loss0 == pytest.approx(loss1, abs=1e-6) and loss0 == pytest.approx(loss2, abs=1e-6)
    assert _close(g0, g1) and _close(g0, g2)
    assert not any(k.startswith(("vision_tower.", "projector.")) for k in g0)


def test_cached_step_equals_uncached_step_trainable_projector(video_items, composite):
    from lvr.train.data import VideoFrames

    ws, items = video_items
    m = copy.deepcopy(composite)
    m.eval()
    for name, p in m.named_parameters():
        p.requires_grad_(not name.startswith("vision_tower."))
    frames = VideoFrames(ws, num_frames=4)
    loss0, g0 = grpo_like_step(m, CachedVideoEmbedder(m, frames, reuse=False), items)
    retain = CachedVideoEmbedder(m, frames, grad_mode="retain")
    assert retain.retain_graph and not retain.cache.persistent
    loss1, g1 = grpo_like_step(m, retain, items)
    assert retain.stats()["embeds/misses"] == len(items)                       # one encoding per video per step
    loss2, g2 = grpo_like_step(m, CachedVideoEmbedder(m, frames, grad_mode="recompute"), items)
    with pytest.raises(ValueError, match="grad_mode must be one of"):
        CachedVideoEmbedder(m, frames, grad_mode="bridge")
    assert any(k.startswith("projector.") for k in g0)
    assert loss0 == pytest.approx(loss1, abs=1e-6) and loss0 == pytest.approx(loss2, abs=1e-6)
    assert _close(g0, g1) and _close(g0, g2)


def test_qwen_weights_hash_covers_the_visual_merger(tiny_qwen):
    m = copy.deepcopy(tiny_qwen)
    h = encoder_weights_hash(m)
    with torch.no_grad():
        next(m.hf.model.visual.merger.parameters()).add_(1.0)
    assert encoder_weights_hash(m) != h
    assert len(h) == 64


def test_trainable_encoder_reencodes_after_an_optimizer_step(video_items, tiny_composite):
    """The kept graph serves the step's micro-batches; after the weights change it is stale."""
    from lvr.train.data import VideoFrames

    ws, items = video_items
    m = copy.deepcopy(tiny_composite)
    for name, p in m.named_parameters():
        p.requires_grad_(name.startswith("projector."))
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.5)
    frames = VideoFrames(ws, num_frames=4)
    for mode in ("retain", "recompute"):
        emb = CachedVideoEmbedder(m, frames, grad_mode=mode)
        emb.new_step()
        first = emb.encode(items[0], grad=True).embeds
        assert first.requires_grad and emb.retain_graph == (mode == "retain")
        again = emb.encode(items[0], grad=True).embeds
        assert (again is first) == (mode == "retain")            # retain: one encoding per step
        first.sum().backward(retain_graph=True)
        opt.step()                                               # in-place update, noticed automatically
        after = emb.encode(items[0], grad=True).embeds
        assert after is not first and not torch.allclose(after, first)
        after.sum().backward()                                   # a fresh graph: no stale-version error
        emb.weights_updated()                                    # the explicit signal works too
        assert emb.encode(items[0], grad=True).embeds is not after
        assert not emb(items[0]).embeds.requires_grad            # rollouts / no-grad passes: detached
        opt.zero_grad()

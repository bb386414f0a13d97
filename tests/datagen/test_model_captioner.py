"""The local VLM captioner (`lvr caption --backend local --model CKPT`) on tiny random-init checkpoints.

Random weights write arbitrary text, so the tests check what the pipeline stores and how the
captioner behaves (protocol, serialised generation off the event loop, errors, time cap), not
what the captions say.
"""
from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lvr.cli import cli
from lvr.datagen.model_captioner import LocalVLMCaptioner, make_captioner, strip_tags
from lvr.datagen.prompts import CAPTION_PROMPT
from lvr.datagen.protocols import BackendError, Captioner, CaptionRequest
from lvr.ingest import ingest_file
from lvr.model import init_tiny
from lvr.store import Workspace
from tests.model.conftest import make_frames, write_video


@pytest.fixture(scope="module")
def tiny_ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("captioner_ckpts")
    return {kind: (init_tiny(root / f"tiny-{kind}", kind=kind, seed=3), root / f"tiny-{kind}")
            for kind in ("composite", "qwen2_5_vl")}


@pytest.fixture
def video_ws(tmp_path):
    """A workspace holding one 20 s PyAV video cut into two 10 s clips."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    path = write_video(tmp_path / "walk.mp4", n_frames=160, size=(48, 64), fps=8)
    vid, new = ingest_file(ws, path)
    assert new and len(ws.clips(vid)) == 2
    yield ws, vid
    ws.close()


def _request(n_frames: int = 4, idx: int = 0) -> CaptionRequest:
    return CaptionRequest(video_id="v", clip_id=idx + 1, clip_idx=idx, start=10.0 * idx, end=10.0 * idx + 10,
                          prompt=CAPTION_PROMPT, frames=make_frames(n_frames, 48, 64, seed=idx),
                          timestamps=[10.0 * idx + 2.5 * i for i in range(n_frames)])


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_lvr_caption_local_stores_captions_then_keeps_history(video_ws, tiny_ckpts):
    ws, vid = video_ws
    _, ckpt = tiny_ckpts["composite"]
    r = run("caption", ws.root, "--backend", "local", "--model", ckpt, "--frames", 4, "--max-tokens", 12,
            "--temperature", 0, "--concurrency", 2)
    assert r.exit_code == 0, r.output
    assert "2 done, 0 failed" in r.output
    clips = ws.clips(vid)
    first = [c["caption"] for c in clips]
    assert all(c and c.strip() for c in first)
    assert {c["captioner"] for c in clips} == {"local:tiny-composite"}
    assert [row["prompt"] for row in ws.query("SELECT prompt FROM clips WHERE video_id = ?", (vid,))] == \
        [CAPTION_PROMPT] * 2
    outs = ws.gen_outputs(task="caption", ok=True)
    assert len(outs) == 2
    assert all(o["backend"] == "local" and o["model"] == "tiny-composite" for o in outs)
    assert all(o["prompt_tokens"] > 4 and o["completion_tokens"] >= 1 for o in outs)
    assert all(ws.caption_history(c["id"]) == [] for c in clips)

    r = run("caption", ws.root, "--backend", "local", "--model", ckpt, "--max-tokens", 12)   # resumable: nothing left
    assert r.exit_code == 0 and "0 done, 0 failed, 2 already done before" in r.output
    assert [c["caption"] for c in ws.clips(vid)] == first

    ckpt_id = ws.register_checkpoint(ckpt, kind="lvr_composite", stage="base")       # --model by checkpoint id
    r = run("caption", ws.root, "--backend", "local", "--model", ckpt_id, "--frames", 4, "--max-tokens", 12,
            "--temperature", 0, "--overwrite")
    assert r.exit_code == 0 and "2 done, 0 failed" in r.output, r.output
    for clip, old in zip(ws.clips(vid), first):
        hist = ws.caption_history(clip["id"])
        assert len(hist) == 1
        assert hist[0]["caption"] == old and hist[0]["captioner"] == "local:tiny-composite"
        assert hist[0]["prompt"] == CAPTION_PROMPT
        assert clip["caption"] == old            # greedy decoding: the same checkpoint writes the same caption
    assert len(ws.gen_outputs(task="caption", ok=True)) == 4


@pytest.mark.parametrize("kind", ["composite", "qwen2_5_vl"])
def test_captioner_follows_the_protocol_for_both_adapters(tiny_ckpts, kind):
    model, ckpt = tiny_ckpts[kind]
    cap = LocalVLMCaptioner(ckpt, model=model, max_new_tokens=10)
    assert isinstance(cap, Captioner) and cap.needs_frames and cap.name == f"local:{ckpt.name}"
    res = asyncio.run(cap.caption(_request()))
    assert res.text.strip() and res.backend == "local" and res.model == ckpt.name
    assert res.prompt_tokens > 4 and res.completion_tokens >= 1 and res.finish_reason in ("stop", "length")
    assert asyncio.run(cap.caption(_request())).text == res.text       # greedy, and the lock works in a new loop
    asyncio.run(cap.aclose())
    assert cap._model is None
    assert asyncio.run(cap.caption(_request())).text == res.text       # reloaded from the folder after aclose


def test_generation_is_serialised_and_leaves_the_event_loop_free(tiny_ckpts):
    model, ckpt = tiny_ckpts["composite"]
    cap = LocalVLMCaptioner(ckpt, model=model, max_new_tokens=24)
    active, peak, threads = [0], [0], set()
    guard = threading.Lock()
    inner = cap.caption_frames

    def watched(*args):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            threads.add(threading.get_ident())
        try:
            time.sleep(0.05)                 # make overlaps visible if the lock did not hold
            return inner(*args)
        finally:
            with guard:
                active[0] -= 1

    cap.caption_frames = watched

    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.create_task(ticker())
        results = await asyncio.gather(*(cap.caption(_request(idx=i)) for i in range(3)))
        done.set()
        await t
        return results, ticks

    results, ticks = asyncio.run(main())
    assert len(results) == 3 and all(r.text.strip() for r in results)
    assert peak[0] == 1                                   # one clip generated at a time
    assert threading.get_ident() not in threads           # … in worker threads
    assert ticks >= 10                                    # while the event loop kept running


def test_errors_are_clear(tiny_ckpts, tmp_path, video_ws):
    from lvr.datagen import BackendConfig

    ws, _ = video_ws
    model, ckpt = tiny_ckpts["composite"]
    cap = LocalVLMCaptioner(ckpt, model=model)
    with pytest.raises(BackendError, match="no frames"):
        asyncio.run(cap.caption(CaptionRequest(video_id="v", clip_id=1, clip_idx=0, start=0, end=1, prompt="x")))

    with pytest.raises(FileNotFoundError, match="not a checkpoint folder nor a checkpoint registered"):
        make_captioner(BackendConfig(kind="local", model=str(tmp_path / "nowhere")), ws)
    broken = tmp_path / "broken"
    shutil.copytree(ckpt, broken)
    (broken / "lvr_config.json").unlink()
    with pytest.raises(ValueError, match=r"local captioner: checkpoint .*broken.*lvr_config.json"):
        make_captioner(BackendConfig(kind="local", model=str(broken)), ws)
    r = CliRunner().invoke(cli, ["caption", str(ws.root), "--backend", "local", "--model", str(broken)])
    assert r.exit_code != 0 and "lvr_config.json" in r.output and "Traceback" not in r.output

    slow = LocalVLMCaptioner(ckpt, model=model, max_new_tokens=2000, timeout=0.05, temperature=1.0)
    t0 = time.perf_counter()
    res = asyncio.run(slow.caption(_request()))
    assert res.finish_reason == "time" and time.perf_counter() - t0 < 5


def test_strip_tags():
    assert strip_tags("<think>hmm</think><answer>A dog runs.</answer>") == "A dog runs."
    assert strip_tags("A cat sits.") == "A cat sits."


def test_caption_model_names_like_every_tab(tiny_ckpts, video_ws):
    """latest:<stage> names a registered checkpoint as in the Train tab; a text-only model is refused by name."""
    from lvr.datagen.model_captioner import resolve_checkpoint

    ws, _ = video_ws
    _, ckpt = tiny_ckpts["composite"]
    with pytest.raises(FileNotFoundError, match="no checkpoint of stage 'sft' yet"):
        resolve_checkpoint("latest:sft", ws)
    ws.register_checkpoint(ckpt, kind="lvr_composite", stage="sft")
    assert resolve_checkpoint("latest:sft", ws).resolve() == Path(ckpt).resolve()
    with pytest.raises(ValueError, match="'smollm2' is a text-only model.*latest:sft"):
        resolve_checkpoint("smollm2", ws)


def test_captioning_real_video_with_a_synthetic_world_model_is_warned(tiny_ckpts, video_ws):
    """The local captioner says what its checkpoint was trained on, and warns before captioning real video."""
    from lvr.datagen.model_captioner import domain_warning, training_domain
    from workbench.generate import JobRequest, caption_warning

    ws, vid = video_ws
    _, ckpt = tiny_ckpts["composite"]
    base = ws.register_checkpoint(ckpt, kind="lvr_composite", stage="base")
    assert training_domain(ws, base) == "random init"
    sft_dir = Path(ckpt).parent / "sft-copy"
    shutil.copytree(ckpt, sft_dir)
    sft = ws.register_checkpoint(sft_dir, kind="lvr_composite", stage="sft")
    ws.conn.execute("UPDATE videos SET split = 'sft', source = 'synth'")
    assert training_domain(ws, sft) == "synthetic world" and domain_warning(ws, sft) is None   # synth on synth
    ws.conn.execute("UPDATE videos SET source = 'upload'")
    assert training_domain(ws, sft) == "real video" and domain_warning(ws, sft) is None
    synth_vid = ws.conn.execute("SELECT id FROM videos").fetchone()[0]
    ws.conn.execute("UPDATE videos SET source = 'synth', split = 'sft'")
    real = ingest_file(ws, write_video(Path(ckpt).parent / "phone.mp4", n_frames=40, size=(48, 64), fps=8))[0]
    warning = domain_warning(ws, sft, [real])
    assert warning and "trained on: synthetic world" in warning and "phone.mp4" in warning
    assert domain_warning(ws, sft, [synth_vid]) is None
    req = JobRequest(kind="caption", backend="local", model=sft, videos=[real])
    assert caption_warning(ws, req) == warning
    assert caption_warning(ws, JobRequest(kind="caption", backend="openai", model="x", videos=[real])) is None

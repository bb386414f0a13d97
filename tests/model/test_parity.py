"""`lvr model check` / lvr.train.parity on every adapter: the ids, positions, video embeddings and frames
the rollout engines are fed equal what the training forward (SFT and GRPO) uses; and the check catches
the two known peer defects when they are injected (rollouts on subsampled frames, Long-RL's
`max_frames_vllm`; rollout prompts without the outer vision start/end tokens, ms-swift #9668)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

from lvr.cli import cli
from lvr.model import build_tiny, load_model
from lvr.train.parity import all_passed, check_parity, format_table

from .conftest import make_frames
from .vila_checkpoint import write_vila_checkpoint

ROWS = ["frames", "video tokens", "token ids", "positions", "video embeddings", "prompt embeddings",
        "greedy tokens", "vLLM prompt", "SP split"]


@pytest.fixture(scope="module")
def tiny_qwen3():
    return build_tiny("qwen3_vl", seed=0)


@pytest.fixture(scope="module")
def vila_model(tmp_path_factory):
    d = write_vila_checkpoint(tmp_path_factory.mktemp("vila") / "ckpt")
    r = CliRunner().invoke(cli, ["model", "adopt", str(d)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return load_model(d)


def _check(model, n=6, size=(60, 80)):
    rows = check_parity(model, make_frames(n, *size), [0.5 * i for i in range(n)])
    return {r.name: r for r in rows}, rows


@pytest.mark.parametrize("which", ["composite", "qwen2_5_vl", "vila", "qwen3_vl"])
def test_every_adapter_passes(which, tiny_composite, tiny_qwen, vila_model, tiny_qwen3):
    model = {"composite": tiny_composite, "qwen2_5_vl": tiny_qwen, "vila": vila_model, "qwen3_vl": tiny_qwen3}[which]
    flags = [p.requires_grad for p in model.parameters()]
    by_name, rows = _check(model)
    assert [r.name for r in rows] == ROWS
    assert all_passed(rows), format_table(rows)
    applicable_vllm = which in ("composite", "vila")            # flat prompt embeddings: 1-D positions only
    assert by_name["vLLM prompt"].passed is (True if applicable_vllm else None)
    assert all(r.passed for r in rows if r.name != "vLLM prompt")
    assert [p.requires_grad for p in model.parameters()] == flags   # the check leaves the model as it was


class Subsampled:
    """A frame source that hands the rollout side every other frame (the peer defect to catch)."""

    def __init__(self, inner):
        self.inner = inner

    def spec(self, item):
        return self.inner.spec(item)

    def key(self, item):
        return self.inner.key(item)

    def __call__(self, item):
        s = self.inner(item)
        return replace(s, frames=s.frames[::2], indices=s.indices[::2], timestamps=s.timestamps[::2])


def test_rollouts_on_subsampled_frames_fail(tiny_composite, monkeypatch):
    from lvr.mrsp.embedder import CachedVideoEmbedder

    orig = CachedVideoEmbedder.__init__
    monkeypatch.setattr(CachedVideoEmbedder, "__init__",
                        lambda self, model, frames, **kw: orig(self, model, Subsampled(frames), **kw))
    by_name, rows = _check(tiny_composite)
    assert not all_passed(rows)
    assert by_name["frames"].passed is False and "6 → 6 → 3" in by_name["frames"].detail
    assert by_name["video tokens"].passed is False and by_name["token ids"].passed is False


def test_rollout_prompt_without_the_vision_wrapper_fails(tiny_qwen3, monkeypatch):
    """ms-swift #9668: a rollout prompt that lost the outer <|vision_start|>/<|vision_end|> (2 tokens)."""
    from lvr.train import sequences

    orig = sequences.build_prompt
    c = tiny_qwen3.hf.config

    def dropped(model, item, ve, **kw):
        e = orig(model, item, ve, **kw)
        ids = e.input_ids.tolist()
        keep = torch.ones(len(ids), dtype=torch.bool)
        keep[ids.index(c.vision_start_token_id)] = False
        keep[len(ids) - 1 - ids[::-1].index(c.vision_end_token_id)] = False
        return replace(e, input_ids=e.input_ids[keep], position_ids=e.position_ids[..., keep],
                       inputs_embeds=e.inputs_embeds[keep])

    monkeypatch.setattr(sequences, "build_prompt", dropped)
    by_name, rows = _check(tiny_qwen3)
    assert by_name["token ids"].passed is False and by_name["positions"].passed is False
    assert by_name["video tokens"].passed is True          # same video tokens, different prompt: still caught


@pytest.mark.parametrize("kind", ["composite", "qwen3_vl"])
def test_cli_prints_a_table_and_passes(kind, tmp_path):
    d = tmp_path / kind
    r = CliRunner().invoke(cli, ["model", "init-tiny", str(d), "--kind", kind], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["model", "check", str(d), "--frames", "4", "--size", "64x64"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[-1].startswith("PASS")
    for name in ROWS:
        assert any(line.startswith(name) for line in lines), (name, r.output)

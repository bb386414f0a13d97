"""`data.frame_lookback`: SFT switches frame look-back on (lvr.model.lookback) and saves it with its checkpoint
(with `data.frame_walk`, the decoder writes the frame tags in order); GRPO then rolls out (answering by choice),
scores and trains with it on MR-SP (2 processes, sp_size 2, embedding cache); vLLM and a model without one-token
clock tags refuse it, naming why."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from lvr.config import ConfigError
from lvr.model import load_model
from lvr.store import Workspace
from lvr.train.configs import DataConfig
from lvr.train.metrics import read_metrics
from lvr.train.run import set_saved_options

from .conftest import ROOT, torchrun


@pytest.fixture(scope="module")
def clock_model(tmp_path_factory, tiny_model):
    """The tiny composite with one-token clock tags ("00:01"), as the recipe's models have."""
    model = load_model(tiny_model)
    model.use_clock_tags(120)
    out = tmp_path_factory.mktemp("clock") / "tiny-clock"
    model.save(out)
    return out


def sft(model, ws, out, *extra):
    args = [sys.executable, "-m", "lvr.train.sft", f"model={model}", f"workspace={ws}", f"output_dir={out}",
            "max_steps=2", "save_every=2", "micro_batch_size=2", "data.num_frames=4", "data.max_items=4",
            "data.eval_split=null", "data.statuses=[approved, pending]", *extra]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_sft_then_grpo_look_back_at_the_frames_they_name(tmp_path, train_ws, clock_model):
    with sqlite3.connect(train_ws / "lvr.db") as db:    # reasoning lines stamped with the frames' clock tags
        db.execute("UPDATE qa SET reasoning = '00:00: the first colour.' || char(10) || '00:02: the next one.' "
                   "|| char(10) || 'So it is the one asked.'")
    res = sft(clock_model, train_ws, tmp_path / "sft", "data.frame_lookback=true", "data.frame_walk=true",
              "name=sft-lookback")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    ws = Workspace.open(train_ws)
    ckpt = ws.list_checkpoints(stage="sft")[-1]["abspath"]
    saved = json.loads(open(f"{ckpt}/lvr_config.json").read())
    assert saved["frame_lookback"] is True and saved["frame_walk"] is True
    assert load_model(ckpt).frame_lookback and not load_model(clock_model).frame_lookback
    torchrun(["-m", "lvr.train.grpo", f"model={ckpt}", f"workspace={train_ws}", f"output_dir={tmp_path / 'grpo'}",
              "max_steps=1", "save_every=1", "prompts_per_step=1", "micro_batch_size=4",
              "rollout.num_generations=4", "rollout.max_new_tokens=16", "rollout.temperature=1.5",
              "data.num_frames=4", "mrsp.sp_size=2", "mrsp.embed_cache=disk", "trainable.projector=false",
              "optim.lr=1e-3", "rollout.answer=choice", "name=grpo-lookback"],
             timeout=300)
    rows = read_metrics(tmp_path / "grpo" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1] and rows[0]["loss"] is not None
    assert 0.0 <= rows[0]["answer/chosen"] <= 1.0         # rollout.answer=choice ran on the gathered samples
    grpo = ws.list_checkpoints(stage="grpo")[-1]["abspath"]
    assert load_model(grpo).frame_lookback and load_model(grpo).frame_walk     # inherited, saved again
    ws.close()


def test_a_model_without_clock_tags_fails_fast(tmp_path, train_ws, tiny_model):
    res = sft(tiny_model, train_ws, tmp_path / "sft", "data.frame_lookback=true")
    assert res.returncode != 0
    assert "data.frame_lookback: frame_lookback needs timestamp_text" in res.stderr


def test_frame_walk_is_set_after_look_back_and_fails_fast_without_it(clock_model):
    model = load_model(clock_model)
    set_saved_options(model, DataConfig(frame_lookback=True, frame_walk=True))
    assert model.frame_lookback and model.frame_walk
    with pytest.raises(ConfigError, match="data.frame_walk: .*frame_walk needs frame_lookback"):
        set_saved_options(load_model(clock_model), DataConfig(frame_walk=True))


def test_vllm_rollouts_refuse_frame_lookback(clock_model):
    from lvr.mrsp.vllm_rollout import VLLMRollout

    model = load_model(clock_model)
    model.set_frame_lookback(True)
    with pytest.raises(ValueError, match="use rollout.backend=transformers"):
        VLLMRollout(model)

"""CoT-SFT's replay of the base video-LM stage (`replay.items`): fresh-world look-ups in every micro-batch."""
import os
import subprocess

import pytest

from lvr.config import ConfigError, load_config
from lvr.model import load_model
from lvr.synth.fresh import HELD_OUT_SEEDS, TRAIN_SEEDS
from lvr.train.configs import ReplayConfig, SFTConfig
from lvr.train.lookups import REPLAY_SEEDS, LookupReplay
from lvr.train.metrics import read_metrics

from .conftest import PY, ROOT


def test_replay_draws_fresh_worlds_deterministically(tiny_model):
    cfg = ReplayConfig(items=3, frames=[1, 2, 4], kinds=["time", "last", "count"])
    a, b = LookupReplay(load_model(tiny_model), cfg, seed=0), LookupReplay(load_model(tiny_model), cfg, seed=0)
    first, again = a.items(5), b.items(5)
    assert [(q.seed, q.frames, q.question, q.options) for q in first] == \
        [(q.seed, q.frames, q.question, q.options) for q in again]            # a resumed run replays the same
    seeds = {q.seed for i in range(40) for q in a.items(i)}
    assert len(seeds) == 120                                                  # a world per question
    assert TRAIN_SEEDS < REPLAY_SEEDS <= min(seeds) and max(seeds) < HELD_OUT_SEEDS
    assert {len(a.items(i)[0].frames) for i in range(40)} == {1, 2, 4}        # counts drawn from the list
    assert {q.kind for i in range(40) for q in a.items(i)} == {"time", "last", "count"}
    loss, ok = a.forward(0)
    assert loss.requires_grad and loss.item() > 0 and ok.shape == (3,)


def test_replay_config_fails_fast():
    with pytest.raises(ConfigError, match="replay.frames"):
        load_config(SFTConfig, None, ["model=x", "replay.items=2", "replay.frames=[]"])
    with pytest.raises(ConfigError, match="replay.minutes"):
        load_config(SFTConfig, None, ["model=x", "replay.items=2", "replay.minutes=[2.0,1.0]"])


def _sft(tiny_model, ws, out, *extra):
    cmd = [PY, "-m", "lvr.train.sft", f"model={tiny_model}", f"workspace={ws}", f"output_dir={out}", "max_steps=4",
           "save_every=2", "micro_batch_size=1", "data.num_frames=2", "data.max_items=2", "data.shuffle=false",
           "data.eval_split=null", "optim.lr=2e-3", "replay.items=2", "replay.frames=[1,2]",
           "replay.minutes=[1.0,1.0]", "export_every_save=false", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-4000:]
    return read_metrics(out / "metrics.jsonl")


def test_sft_with_replay_trains_on_both_and_resumes_exactly(tmp_path, train_ws, tiny_model):
    rows = _sft(tiny_model, train_ws, tmp_path / "a", "name=replay-a")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(r["replay_loss"] > 0 for r in rows) and rows[-1]["replay_loss"] < rows[0]["replay_loss"]
    resumed = _sft(tiny_model, train_ws, tmp_path / "b", f"resume={tmp_path / 'a'}/state/step-0000002",
                   "name=replay-b")
    assert [r["step"] for r in resumed] == [3, 4]
    for key in ("loss", "replay_loss"):
        assert [r[key] for r in resumed] == pytest.approx([r[key] for r in rows[2:]], rel=1e-5, abs=1e-6)

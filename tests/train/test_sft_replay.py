"""CoT-SFT's replay of the base video-LM stage (`replay.items`): fresh-world look-ups in every micro-batch."""
import os
import subprocess

import pytest
import torch

from lvr.config import ConfigError, load_config
from lvr.model import load_model
from lvr.synth.fresh import HELD_OUT_SEEDS, TRAIN_SEEDS, WorldSpec, world_items
from lvr.synth.phrases import fmt_time
from lvr.synth.qa import solve
from lvr.synth.visibility import answerable
from lvr.train.configs import ReplayConfig, SFTConfig
from lvr.train.lookups import QA_SEEDS, REPLAY_SEEDS, LookupReplay, lookup_messages
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


def test_world_items_are_corpus_questions_the_frames_answer():
    items = [it for seed in range(TRAIN_SEEDS, TRAIN_SEEDS + 12) for it in world_items(seed, WorldSpec(), 8, 3)]
    assert len(items) >= 12 and len({it.category for it in items}) >= 3
    for it in items:
        assert answerable(it.meta, it.log, list(it.times))                     # the ideal reader's rule
        assert it.options[ord(it.answer) - 65] == solve({"meta": it.meta}, it.log)   # keyed right
        lines = it.reasoning.splitlines()
        assert lines[-1].startswith("So ") and all(ln[:5] in {fmt_time(t) for t in it.times} for ln in lines[:-1])
    again = [it for seed in range(TRAIN_SEEDS, TRAIN_SEEDS + 12) for it in world_items(seed, WorldSpec(), 8, 3)]
    assert again == items


def test_replay_adds_fresh_questions_with_their_reasoning(tiny_model):
    cfg = ReplayConfig(items=2, qa_items=3, qa_frames=[4, 8])
    a, b = LookupReplay(load_model(tiny_model), cfg, seed=0), LookupReplay(load_model(tiny_model), cfg, seed=0)
    assert a.qa_items(7) == b.qa_items(7)                                    # a resumed run replays the same
    seeds = [it.seed for i in range(20) for it in a.qa_items(i)]
    assert len(seeds) == len(set(seeds)) == 60                               # a world per question
    assert QA_SEEDS <= min(seeds) and max(seeds) < HELD_OUT_SEEDS and QA_SEEDS > REPLAY_SEEDS + 10 ** 8
    assert {len(a.qa_items(i)[0].frames) for i in range(20)} == {4, 8}
    target = lookup_messages(a.qa_items(0)[0], "chat", "text")[-1]["content"]
    assert target.startswith("<think>") and "So " in target and target.endswith("</answer>")
    loss, ok = a.forward(0)
    assert loss.requires_grad and loss.item() > 0 and ok.shape == (5,)        # 2 look-ups + 3 questions



def test_replay_questions_walk_every_frame_with_every_frame_reasoning(tiny_model):
    cfg = ReplayConfig(items=0, qa_items=2, qa_frames=[8])
    model = load_model(tiny_model)
    changed, walked = LookupReplay(model, cfg, seed=0), LookupReplay(model, cfg, seed=0, lines="every_frame")
    for a, b in zip(changed.qa_items(3), walked.qa_items(3)):
        assert (a.seed, a.question, a.answer) == (b.seed, b.question, b.answer)    # same worlds and questions
        lines = b.reasoning.splitlines()
        assert [ln[:5] for ln in lines[:-1]] == [fmt_time(t) for t in sorted(b.times)]   # a line per frame
        assert lines[-1] == a.reasoning.splitlines()[-1]                         # the same conclusion

def test_replay_config_fails_fast():
    with pytest.raises(ConfigError, match="replay.frames"):
        load_config(SFTConfig, None, ["model=x", "replay.items=2", "replay.frames=[]"])
    with pytest.raises(ConfigError, match="replay.qa_frames"):
        load_config(SFTConfig, None, ["model=x", "replay.qa_items=2", "replay.qa_frames=[0]"])
    with pytest.raises(ConfigError, match="replay.text_frames"):
        load_config(SFTConfig, None, ["model=x", "replay.text_items=2", "replay.text_frames=[]"])
    with pytest.raises(ConfigError, match="replay.minutes"):
        load_config(SFTConfig, None, ["model=x", "replay.items=2", "replay.minutes=[2.0,1.0]"])


def _sft(tiny_model, ws, out, *extra):
    cmd = [PY, "-m", "lvr.train.sft", f"model={tiny_model}", f"workspace={ws}", f"output_dir={out}", "max_steps=4",
           "save_every=2", "micro_batch_size=1", "data.num_frames=2", "data.max_items=2", "data.shuffle=false",
           "data.eval_split=null", "optim.lr=2e-3", "replay.items=2", "replay.frames=[1,2]",
           "replay.minutes=[1.0,1.0]", "replay.qa_items=1", "replay.qa_frames=[4]", "replay.text_items=2",
           "replay.text_frames=[8]", "export_every_save=false", *extra]
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


def test_replay_places_frames_as_replay_placement_says(tiny_model):
    from lvr.synth.fresh import frame_indices
    cfg = ReplayConfig(items=2, qa_items=2, frames=[4], qa_frames=[8], placement="centre")
    replay = LookupReplay(load_model(tiny_model), cfg, seed=0)
    for q in [*replay.items(0), *replay.qa_items(0)]:
        log_duration = q.log.duration
        assert list(q.frames) == frame_indices(None, log_duration, len(q.frames), 4.0, "centre")


def test_replay_weights_the_answer_of_its_reasoning_items(tiny_model):
    cfg = ReplayConfig(items=0, qa_items=2, qa_frames=[4])
    model = load_model(tiny_model)
    plain, weighted = LookupReplay(model, cfg, seed=0), LookupReplay(model, cfg, seed=0, answer_weight=5.0)
    assert weighted.batches.answer_id is not None
    with torch.no_grad():
        a, b = plain.forward(0)[0], weighted.forward(0)[0]
    assert not torch.isclose(a, b)                                # same items, the answer counts 5 times

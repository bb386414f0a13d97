"""MR-SP with 2 gloo processes: Stage-1 sharded encoding and Stage-2 SP=2 log-probs/gradients equal
the one-rank computation (fp32; tolerances below), and the sequence split is exact token for token.

Runs tests/mrsp/dist_checks.py under `torch.distributed.run --nproc_per_node=2` once (~10 s) and
checks its JSON report.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable

ATOL_EMBEDS = 1e-6      # Stage 1: same kernels on the same frames
ATOL_LOGPS = 1e-5       # Stage 2: fp32 log-probs
RTOL_GRADS = 1e-5       # gradients: |Δ| ≤ RTOL_GRADS · max(1, largest |gradient|)

pytestmark = pytest.mark.dist


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dist") / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
           str(ROOT / "tests" / "mrsp" / "dist_checks.py"), str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (f"dist_checks failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                                  f"{proc.stderr[-6000:]}")
    return json.loads(out.read_text())


def _grads_ok(pair) -> bool:
    diff, scale = pair
    return diff <= RTOL_GRADS * max(1.0, scale)


@pytest.mark.parametrize("name", ["stage1_composite_7", "stage1_composite_1", "stage1_pooled_7", "stage1_qwen_5",
                                  "stage1_qwen3_5"])
def test_stage1_sharded_encoding_equals_single_rank(report, name):
    r = report[name]
    assert r["shape_equal"]
    assert r["embeds"] <= ATOL_EMBEDS, r
    # replicated loss (grad_reduce="none") and partial losses (grad_reduce="sum"): encoder gradients
    # summed over the SP group equal the one-rank gradients
    assert _grads_ok(r["grad_none"]), r
    assert _grads_ok(r["grad_sum"]), r


@pytest.mark.parametrize("name", ["stage2_composite", "stage2_pooled", "stage2_qwen", "stage2_qwen3"])
def test_stage2_sp2_logprobs_and_grads_equal_sp1(report, name):
    r = report[name]
    assert r["logps"] <= ATOL_LOGPS, r
    assert r["loss"] <= ATOL_LOGPS, r
    assert _grads_ok(r["grads"]), r
    assert r["vision_grads"][1] > 0, "the vision tower must receive gradients through Stage 1 + Stage 2"
    assert _grads_ok(r["vision_grads"]), r


@pytest.mark.parametrize("name", ["stage2_composite", "stage2_pooled", "stage2_qwen", "stage2_qwen3"])
def test_split_is_exact_with_text_after_the_video(report, name):
    s = report[name]["split"]
    assert s["ids_equal"] and s["pos_equal"]
    assert s["seq_len"] % 2 == 1, "an odd length exercises the SP padding"
    assert s["text_after_video"] > 20
    assert all(n > 0 for n in s["video_tokens_per_rank"]), "the video should straddle the shard boundary"


def test_cached_embedder_over_the_sp_group(report):
    r = report["embedder_sp"]
    assert r["sources"] == ["computed", "disk"]      # Stage-1 encode on a miss, then both ranks read the file
    assert r["embeds"] <= ATOL_EMBEDS and r["disk_equal"]
    assert r["decodes"] == 1 and r["files"] == 1      # one writer per SP group


def test_sp_group_splits_rollouts_and_shares_them(report):
    r = report["sp_rollout"]
    assert r["same_on_all_ranks"]
    assert [tuple(x) for x in r["ids"]] == [(7, "g7", k) for k in range(3)] + [(3, "g3", k) for k in range(3)]
    assert r["distinct"] > 1

"""lvr.mrsp.ulysses equals DeepSpeed's own Ulysses `DistributedAttention` (and unsharded attention):
outputs and q/k/v gradients, GQA heads, 2 gloo processes on CPU (~8 s).

DeepSpeed's layer is kept as a cross-check rather than used: it wraps a local attention module,
while lvr plugs into transformers' AttentionInterface with its own padding mask and SKIP_MASKS
(see lvr/mrsp/ulysses.py); the exchange itself must be the same, and this says it is.
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

pytestmark = pytest.mark.dist


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lvr_ulysses_equals_deepspeed_distributed_attention(tmp_path):
    import deepspeed  # noqa: F401  (the train extra installs it; a missing DeepSpeed must fail, not skip)
    out = tmp_path / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
           str(ROOT / "tests" / "mrsp" / "deepspeed_ulysses_check.py"), str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(out.read_text())
    assert r["out_scale"] > 0.1 and r["grad_scale"] > 0.1, r            # the comparison is not of zeros
    for key in ("out_lvr_vs_deepspeed", "grad_lvr_vs_deepspeed", "out_lvr_vs_full", "grad_lvr_vs_full",
                "out_deepspeed_vs_full"):
        assert r[key] <= 1e-6, (key, r)

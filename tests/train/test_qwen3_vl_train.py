"""Qwen3-VL trains through the same engine: its parts (DeepStack mergers count as projector) and one SFT step."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lvr.model import init_tiny
from lvr.store import Workspace
from lvr.train.engine import model_parts

ROOT = Path(__file__).resolve().parents[2]


def test_qwen3_vl_parts_and_one_sft_step(tmp_path, train_ws):
    ws = Workspace.open(train_ws)
    model = init_tiny(tmp_path / "q3", kind="qwen3_vl", workspace=ws)
    ws.close()
    parts = model_parts(model)
    assert all(parts[p] for p in ("llm", "projector", "vision_tower"))
    assert any("deepstack_merger_list" in n for n, _ in parts["projector"])
    res = subprocess.run([sys.executable, "-m", "lvr.train.sft", f"model={tmp_path / 'q3'}", f"workspace={train_ws}",
                          f"output_dir={tmp_path / 'run'}", "max_steps=1", "micro_batch_size=1", "data.num_frames=2",
                          "data.max_items=1", "data.eval_split=null", "trainable.projector=true"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "step 1/1" in res.stdout + res.stderr

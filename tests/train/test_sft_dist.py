"""CoT-SFT under a 2-process torchrun (gloo, DeepSpeed ZeRO-2): learning, checkpoints, exact resume."""
import json

import pytest
import torch
from safetensors.torch import load_file

from lvr.store import Workspace
from lvr.train.metrics import read_metrics

from .conftest import torchrun

pytestmark = [pytest.mark.dist, pytest.mark.slow]


def _args(tiny_model, ws, out, *extra):
    return ["-m", "lvr.train.sft", "model=" + str(tiny_model), f"workspace={ws}", f"output_dir={out}",
            "max_steps=4", "save_every=2", "micro_batch_size=1", "grad_accum=1", "data.num_frames=4",
            "data.max_items=2", "data.shuffle=false", "data.eval_split=null", "optim.lr=2e-3",
            "deepspeed.zero_stage=2", "name=sft-test", *extra]


def test_sft_learns_checkpoints_and_resumes_exactly(tmp_path, train_ws, tiny_model):
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    torchrun(_args(tiny_model, train_ws, run_a))
    rows = read_metrics(run_a / "metrics.jsonl")
    losses = [r["loss"] for r in rows]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(losses))) and all(b < a for a, b in zip(losses, losses[1:])), losses
    assert all(r["grad_norm"] > 0 and r["tokens"] > 0 for r in rows)

    ws = Workspace.open(train_ws)
    ckpts = ws.list_checkpoints(stage="sft")
    assert [c["step"] for c in ckpts] == [2, 4]
    base = ws.get_checkpoint(ckpts[0]["parent"])
    assert base["stage"] == "base" and ws.checkpoint_lineage(ckpts[1]["id"])[0]["id"] == base["id"]
    assert ckpts[1]["metrics"]["loss"] == pytest.approx(losses[3])
    new, old = (load_file(f"{d}/llm/model.safetensors") for d in (ckpts[1]["abspath"], tiny_model))
    assert any(not torch.equal(new[k], old[k]) for k in old)                     # the LM trained
    vis_new, vis_old = (load_file(f"{d}/vision_tower/model.safetensors") for d in (ckpts[1]["abspath"], tiny_model))
    assert all(torch.equal(vis_new[k], vis_old[k]) for k in vis_old)             # the frozen tower did not
    assert not list(ws.checkpoints_dir.glob("sft-test/.*tmp*"))                   # no half-written dirs
    assert json.loads((run_a / "state" / "resume.json").read_text())["step"] == 4

    # resume from the step-2 state into a new run: steps 3 and 4 repeat the uninterrupted run exactly
    torchrun(_args(tiny_model, train_ws, run_b, f"resume={run_a}/state/step-0000002", "name=sft-resumed"))
    resumed = read_metrics(run_b / "metrics.jsonl")
    assert [r["step"] for r in resumed] == [3, 4]
    assert [r["loss"] for r in resumed] == pytest.approx(losses[2:], rel=1e-6, abs=1e-7)
    ws.close()

"""`lvr train` as tracked jobs: metrics rows, kill, `lvr jobs WS resume JOB` continues from the checkpoint."""
import re
import time

import pytest
import yaml
from click.testing import CliRunner

from lvr.cli import cli
from lvr.jobs import cancel, read_log, read_metrics, refresh
from lvr.store import Workspace


def test_cli_validates_config_before_launching(tmp_path, base_ws):
    runner = CliRunner()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"model": "m", "optim": {"lr": "fast"}}))
    res = runner.invoke(cli, ["train", "sft", str(cfg), f"workspace={base_ws}"])
    assert res.exit_code == 2 and "config: optim.lr: expected float, got 'fast'" in res.output
    res = runner.invoke(cli, ["train", "grpo", str(cfg), "--workspace", str(base_ws), "optim.lr=1e-5", "rollout.G=8"])
    assert res.exit_code == 2 and "unknown key rollout.G" in res.output
    assert not Workspace.open(base_ws).list_jobs()
    res = runner.invoke(cli, ["train", "keys", "grpo"])
    assert res.exit_code == 0 and "rollout.num_generations (int, default 8, >= 2): G: samples per prompt" in res.output


@pytest.mark.slow
def test_killed_job_resumes_from_its_last_checkpoint(tmp_path, train_ws, tiny_model):
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": str(tiny_model), "max_steps": 40, "save_every": 3, "export_every_save": False,
        "data": {"num_frames": 4, "max_items": 2, "eval_split": None}, "optim": {"lr": 1e-3}}))
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "sft", str(cfg), f"workspace={train_ws}", "--detach"])
    assert res.exit_code == 0, res.output
    job = re.search(r"launched sft job (\S+)", res.output).group(1)
    ws = Workspace.open(train_ws)
    state = ws.resolve(ws.get_job(job)["run_dir"]) / "state" / "resume.json"
    deadline = time.time() + 90
    while not state.exists() and time.time() < deadline:
        assert refresh(ws, job)["status"] in ("queued", "running"), read_log(ws, job)
        time.sleep(0.05)
    assert cancel(ws, job)["status"] == "cancelled"
    saved = yaml.safe_load(state.read_text())["step"]
    rows = read_metrics(ws, job)
    assert rows and rows[0]["step"] == 1 and 3 <= saved < 40

    res = runner.invoke(cli, ["jobs", str(train_ws), "resume", job, "--wait"])
    assert res.exit_code == 0, res.output
    new = re.search(r"as (\S+):", res.output).group(1)
    row = refresh(ws, new)
    assert row["status"] == "succeeded", read_log(ws, new)
    assert row["config"]["resumed_from"] == job
    assert f"(step {saved})" in read_log(ws, new)
    steps = [r["step"] for r in read_metrics(ws, new)]
    assert steps == list(range(saved + 1, 41))
    final = ws.list_checkpoints(stage="sft")[-1]
    assert final["step"] == 40 and final["job_id"] == new
    assert f"checkpoints/{job}/step-0000040" in final["path"]          # same folder as the killed job
    ws.close()

"""Jobs as real subprocesses: success with metrics, failure, cancel, dead detection, relaunch, following the
log, a caller-named run folder, and the one (torchrun) command line."""
import os
import signal
import sys
import time

import pytest

from lvr.jobs import cancel, follow, is_alive, launch, python_command, read_log, read_metrics, refresh, relaunch
from lvr.store import Workspace

WORKER = """
import sys, time
from lvr.jobs import JobContext
ctx = JobContext.from_env()
steps = int(sys.argv[1]); pause = float(sys.argv[2]); code = int(sys.argv[3]) if len(sys.argv) > 3 else 0
for i in range(steps):
    ctx.progress(i + 1, steps, f"step {i + 1}")
    ctx.log_metrics({"step": i, "loss": 1.0 / (i + 1), "extra": sys.argv[4:]})
    print("did step", i, flush=True)
    time.sleep(pause)
sys.exit(code)
"""


@pytest.fixture
def ws(tmp_path):
    return Workspace.open(tmp_path / "ws", create=True)


def wait_status(ws, job, statuses, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        row = refresh(ws, job)
        if row["status"] in statuses:
            return row
        time.sleep(0.1)
    raise AssertionError(f"job {job} stuck in {refresh(ws, job)['status']}\n{read_log(ws, job)}")


def test_job_succeeds_with_progress_metrics_and_log(ws):
    job = launch(ws, "demo", ["-c", WORKER, "3", "0"], config={"what": "test"}, wait=True)
    row = wait_status(ws, job, {"succeeded"})
    assert (row["progress"], row["total"], row["message"]) == (3, 3, "step 3")
    assert [m["loss"] for m in read_metrics(ws, job)] == pytest.approx([1.0, 0.5, 1 / 3])
    assert "did step 2" in read_log(ws, job)
    assert (ws.resolve(row["run_dir"]) / "config.yaml").read_text().strip() == "what: test"


def test_failing_job_records_error_with_log_tail(ws):
    job = launch(ws, "demo", ["-c", WORKER, "1", "0", "3"], wait=True)
    row = wait_status(ws, job, {"failed"})
    assert "exit status 3" in row["error"] and "did step 0" in row["error"]


def test_cancel_stops_the_process_group(ws):
    job = launch(ws, "demo", ["-c", WORKER, "1000", "0.05"])
    wait_status(ws, job, {"running"})
    while not read_metrics(ws, job):
        time.sleep(0.05)
    pid = ws.get_job(job)["pid"]
    row = cancel(ws, job)
    assert row["status"] == "cancelled"
    assert not is_alive(pid)
    n = len(read_metrics(ws, job))
    time.sleep(0.3)
    assert len(read_metrics(ws, job)) == n  # nothing is still writing


def test_killed_supervisor_is_detected_dead_and_can_be_relaunched(ws):
    job = launch(ws, "demo", ["-c", WORKER, "1000", "0.05"])
    wait_status(ws, job, {"running"})
    pid = ws.get_job(job)["pid"]
    os.killpg(pid, signal.SIGKILL)  # like an OOM kill or a machine reboot: no exit status recorded
    row = wait_status(ws, job, {"dead"})
    assert "disappeared" in row["error"]
    # relaunch with the same command and the original arguments plus new ones
    # (the worker's 4th arg is the exit code: replace the endless run with a short one)
    ws.update_job(job, config={"_args": ["-c", WORKER, "2", "0", "0"], "_nproc": 1})
    new = relaunch(ws, job, extra_args=["resume=true"], wait=True)
    assert wait_status(ws, new, {"succeeded"})["config"]["resumed_from"] == job
    assert read_metrics(ws, new)[0]["extra"] == ["resume=true"]


def test_cli_lists_and_shows_jobs(ws):
    from click.testing import CliRunner

    from lvr.cli import cli

    job = launch(ws, "demo", ["-c", WORKER, "1", "0"], wait=True)
    wait_status(ws, job, {"succeeded"})
    out = CliRunner().invoke(cli, ["jobs", str(ws.root)])
    assert out.exit_code == 0 and job in out.output and "succeeded" in out.output
    out = CliRunner().invoke(cli, ["jobs", str(ws.root), "show", job])
    assert '"metrics_rows": 1' in out.output


def test_python_command_is_python_or_torchrun():
    assert python_command(1, ["-m", "lvr.train.sft", "c.yaml"]) == [sys.executable, "-m", "lvr.train.sft", "c.yaml"]
    assert python_command(2, ["-m", "lvr.train.grpo", "c.yaml"]) == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "lvr.train.grpo",
        "c.yaml"]


def test_follow_streams_new_lines_into_a_named_run_folder(ws, tmp_path):
    run_dir = tmp_path / "ws" / "runs" / "named-run"
    run_dir.mkdir(parents=True)
    (run_dir / "log.txt").write_text("an earlier attempt\n")
    start = (run_dir / "log.txt").stat().st_size
    job = launch(ws, "demo", ["-c", WORKER, "3", "0.05"], run_dir=run_dir)
    lines: list[str] = []
    row = follow(ws, job, lines.append, start=start, poll=0.05)
    assert row["status"] == "succeeded" and ws.resolve(row["run_dir"]) == run_dir
    assert [x for x in lines if x.startswith("did step")] == ["did step 0", "did step 1", "did step 2"]
    assert "an earlier attempt" not in lines and (run_dir / "metrics.jsonl").is_file()

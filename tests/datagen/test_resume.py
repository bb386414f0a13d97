"""Kill `lvr generate` mid-run (SIGKILL, a real subprocess), run it again: the rest is done, nothing twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from lvr.store import Workspace

from .conftest import add_captioned_video

CLI = [sys.executable, "-c", "from lvr.cli import main; main()"]


def run_generate(ws_root, base_url, **popen):
    env = {**os.environ, "LVR_LLM_BASE_URL": base_url, "LVR_LLM_API_KEY": "sk-test"}
    env.pop("LVR_JOB_ID", None)
    cmd = [*CLI, "generate", str(ws_root), "--backend", "openai", "--model", "mock", "--per-category", "3",
           "--concurrency", "2", "--max-retries", "1"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_kill_and_resume_finishes_without_duplicates(ws, mock_llm):
    for n in range(2):
        add_captioned_video(ws, n)
    all_keys = {f"{v['id']}/{c}/{i}" for v in ws.list_videos() for c in ("temporal", "goal", "spatial", "plot")
                for i in range(3)}
    mock_llm.latency = 0.12
    proc = run_generate(ws.root, mock_llm.base_url)
    watcher = Workspace.open(ws.root)
    deadline = time.time() + 60
    while watcher.stats()["qa"] < 4:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the first run made no progress"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    at_kill = watcher.stats()["qa"]
    assert 4 <= at_kill < len(all_keys)
    killed_job = watcher.list_jobs(kind="generate")[0]
    assert killed_job["status"] == "running"              # nobody could record the kill

    second = run_generate(ws.root, mock_llm.base_url)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert f"{at_kill} already done before" in out and "0 failed" in out

    keys = Counter(json.loads(r["meta"])["gen_key"] for r in watcher.query("SELECT meta FROM qa"))
    assert set(keys) == all_keys and max(keys.values()) == 1          # every unit once
    assert watcher.done_keys("qa") == all_keys
    ok_qa = watcher.query("SELECT key, count(*) AS n FROM gen_outputs WHERE task='qa' AND ok=1 GROUP BY key")
    assert len(ok_qa) == len(all_keys) and all(r["n"] == 1 for r in ok_qa)
    jobs = {j["id"]: j for j in watcher.list_jobs(kind="generate")}
    assert jobs[killed_job["id"]]["status"] == "dead"
    finished = [j for j in jobs.values() if j["id"] != killed_job["id"]][0]
    assert finished["status"] == "succeeded" and finished["progress"] == finished["total"] == len(all_keys) - at_kill
    watcher.close()


def test_sigterm_cancels_cleanly(ws, mock_llm):
    add_captioned_video(ws, 0)
    mock_llm.latency = 0.1
    proc = run_generate(ws.root, mock_llm.base_url)
    watcher = Workspace.open(ws.root)
    deadline = time.time() + 60
    while watcher.stats()["qa"] < 2:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    job = watcher.list_jobs(kind="generate")[0]
    assert job["status"] == "cancelled" and job["finished_at"]
    keys = [json.loads(r["meta"])["gen_key"] for r in watcher.query("SELECT meta FROM qa")]
    assert len(keys) == len(set(keys)) == len(watcher.done_keys("qa")) >= 2
    watcher.close()

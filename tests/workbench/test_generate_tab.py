"""The Generate tab through gradio_client: real caption / generate / filter jobs (`python -m lvr.cli …` under
lvr.jobs) against the loopback OpenAI-compatible mock server, live status, failures with reasons, cancel.

    .venv/bin/pytest tests/workbench/test_generate_tab.py
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from gradio_client import Client

from lvr.datagen.mock_server import MockLLMServer
from lvr.jobs import cancel, is_alive
from tests.workbench.conftest import serve
from workbench.generate import JobRequest, job_args
from workbench.generate_tab import build_generate_tab

DONE = ("**succeeded**", "**partial", "**failed**", "**cancelled**", "**dead**")


@pytest.fixture(scope="module")
def env(module_ws):
    with MockLLMServer(latency=0.02) as fast, MockLLMServer(latency=3.0) as slow, \
            serve(module_ws, build_generate_tab, "Generate") as url:
        yield dict(ws=module_ws, client=Client(url, verbose=False), url=fast.base_url, slow=slow.base_url)
    for job in module_ws.list_jobs():
        cancel(module_ws, job["id"])


def start(client, kind="caption", backend="openai", base_url="", model="mock", api_key="", concurrency=4, frames=2,
          overwrite=False, categories=("temporal", "plot"), per_category=1, attempts=2, rewrite=True, split="",
          videos=(), dedup=False, threshold=0.9, balance=False):
    out = client.predict(kind, backend, base_url, model, api_key, concurrency, frames, overwrite, list(categories),
                         per_category, attempts, rewrite, split, list(videos), dedup, threshold, balance,
                         api_name="/start_job")
    return out[0], out[1]


def wait(client, job, timeout=60, until=DONE):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, bar, log, failures, _ = client.predict(job, api_name="/job_status")
        if any(s in status for s in until):
            return status, bar, log, failures
        time.sleep(0.3)
    raise AssertionError(f"job {job} not done in {timeout} s: {status}\n{log}")


def test_python_m_lvr_cli_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "lvr.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Usage: lvr" in out.stdout and "caption" in out.stdout


def test_job_arguments_are_the_cli(module_ws):
    args = job_args(module_ws, JobRequest(kind="generate", model="m", base_url="http://h/v1", categories=["goal"],
                                          per_category=3, rewrite=False, split="rl", videos=["v1"]))
    assert args[:4] == ["-m", "lvr.cli", "generate", str(module_ws.root)]
    joined = " ".join(args)
    assert "--categories goal --per-category 3" in joined and "--no-rewrite" in joined and "--split rl" in joined
    assert "--base-url http://h/v1" in joined and "--video v1" in joined
    args = job_args(module_ws, JobRequest(kind="filter", dedup=False, balance_letters=True))
    assert args[4:] == ["--balance-letters"]


def test_caption_then_generate_jobs(env):
    c, ws = env["client"], env["ws"]
    vid = ws.list_videos()[0]["id"]
    job, msg = start(c, base_url=env["url"], api_key="sk-secret", overwrite=True, videos=[vid])
    assert job.startswith("caption-") and job in msg
    status, bar, log, failures = wait(c, job)
    assert "**succeeded**" in status and "4/4 units" in bar and "lvr.cli caption" in log
    assert failures["data"] == []
    assert all(cl["captioner"] and "mock" in cl["captioner"] for cl in ws.clips(vid))
    cfg = ws.get_job(job)["config"]
    assert "sk-secret" not in str(cfg) and cfg["started_by"] == "local"      # the key only went to the env
    n_before = ws.query_qa(video_id=vid)[1]
    job, _ = start(c, kind="generate", base_url=env["url"], videos=[vid], categories=["temporal", "plot"], split="rl",
                   rewrite=False)
    status, bar, _, _ = wait(c, job)
    assert "**succeeded**" in status and "2/2 units" in bar
    new = [q for q in ws.query_qa(video_id=vid, page_size=100)[0]][n_before:]
    assert {q["category"] for q in new} == {"temporal", "plot"} and {q["split"] for q in new} == {"rl"}


def test_failures_are_listed_with_reasons(env):
    c, ws = env["client"], env["ws"]
    vid = ws.list_videos()[1]["id"]
    job, _ = start(c, base_url=env["url"], model="mock+reject", overwrite=True, videos=[vid])
    status, _, _, failures = wait(c, job)
    assert "4 failed unit(s)" in status
    rows = [dict(zip(failures["headers"], r)) for r in failures["data"]]
    assert len(rows) == 4 and all("HTTP 400" in r["reason"] and r["task"] == "caption" for r in rows)
    every = c.predict("", api_name="/job_failures")
    assert len(every) >= 4 and any("HTTP 400" in r[7] for r in every)


def test_cancel_a_running_job(env):
    c, ws = env["client"], env["ws"]
    job, _ = start(c, base_url=env["slow"], concurrency=1, overwrite=True, videos=[ws.list_videos()[2]["id"]])
    wait(c, job, until=("**running**",))
    status = c.predict(job, api_name="/cancel_job")[0]
    assert "**cancelled**" in status
    deadline = time.time() + 15
    while is_alive(ws.get_job(job)["pid"]) and time.time() < deadline:
        time.sleep(0.2)
    assert not is_alive(ws.get_job(job)["pid"]) and ws.get_job(job)["status"] == "cancelled"


def test_filter_job_and_validation(env):
    c = env["client"]
    job, _ = start(c, kind="filter", balance=True, dedup=False)
    status, _, log, _ = wait(c, job)
    assert "**succeeded**" in status and "lvr.cli filter" in log
    with pytest.raises(Exception, match="model is required"):
        start(c, model="")
    with pytest.raises(Exception, match="categories"):
        start(c, kind="generate", categories=[])
    with pytest.raises(Exception, match="at least one of"):
        start(c, kind="filter", dedup=False, balance=False)
    with pytest.raises(Exception, match="base URL must start with http"):
        start(c, base_url="localhost:8000")
    n_jobs = len(env["ws"].list_jobs())
    with pytest.raises(Exception, match="needs a base URL: fill in 'base URL'.*https://api.openai.com/v1"):
        start(c, base_url="")                          # never the public OpenAI host by default
    with pytest.raises(Exception, match="'concurrency' must be 1 or more, got 0"):
        start(c, base_url=env["url"], concurrency=0)   # the message names the field
    with pytest.raises(Exception, match="'items per category per video' must be 1 or more"):
        start(c, kind="generate", base_url=env["url"], per_category=0)
    assert len(env["ws"].list_jobs()) == n_jobs        # nothing was launched


def test_local_text_generation_is_not_offered_in_the_app():
    import gradio as gr

    with pytest.raises(gr.Error, match="not offered here: unconstrained, SmolLM2-135M wrote 0 valid items"):
        JobRequest(kind="generate", backend="local", model="smollm2", categories=["goal"]).check()
    JobRequest(kind="generate", backend="ground-truth", categories=["goal"]).check()

"""Jobs tell the truth (issue 22): a generation job whose every unit fails ends `failed` (in the store, under
`lvr.jobs` too, and in the Generate tab), one where some fail ends `partial` with the count, progress shows
within seconds, and an empty base URL is refused before any request is made.

A tiny loopback HTTP server answers every chat completion with garbage and counts the requests.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lvr.datagen import BackendConfig, GenerateConfig, generate_qa
from lvr.datagen.runner import JobTracker, final_status
from lvr.jobs import refresh
from workbench.generate import JobRequest, job_view, jobs_frame, start_job


class GarbageLLM:
    """An OpenAI-compatible endpoint whose every answer is word soup (`requests` counts the calls)."""

    def __init__(self):
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                outer.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"id": "x", "object": "chat.completion", "model": "garbage",
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                       "role": "assistant", "content": "bring bring bring 575box150 eats m"}}],
                                   "usage": {"prompt_tokens": 5, "completion_tokens": 7}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def garbage():
    with GarbageLLM() as srv:
        yield srv


def test_all_units_failing_ends_failed(captioned_ws, garbage):
    ws = captioned_ws
    report = generate_qa(ws, BackendConfig(kind="openai", model="junk", base_url=garbage.base_url),
                         GenerateConfig(categories=("temporal", "plot"), attempts=1))
    assert (report.succeeded, report.failed, report.status) == (0, 4, "failed")
    job = ws.get_job(report.job_id)
    assert job["status"] == "failed" and "all 4 unit(s) failed" in job["error"] and "parse:" in job["error"]
    assert garbage.requests == 4 and ws.stats()["qa"] == 0


def test_some_units_failing_ends_partial_with_the_count(ws):
    assert final_status(3, 0) == "succeeded" and final_status(0, 2) == "failed" and final_status(3, 2) == "partial"
    tracker = JobTracker.start(ws, "generate", {}, total=3, already_done=0)
    tracker.record("u1", True)
    tracker.record("u2", False, "parse: no QUESTION line")
    tracker.record("u3", True)
    report = tracker.finish()
    job = ws.get_job(report.job_id)
    assert report.status == job["status"] == "partial"
    assert "partial (1 failed)" in job["message"] and "2 done, 1 failed" in job["message"]
    view = job_view(ws, report.job_id)
    assert "**partial: finished, some units failed**" in view["status"] and view["finished"]
    assert jobs_frame(ws).iloc[0]["status"] == "partial"


def test_supervised_generate_job_whose_units_all_fail_ends_failed(captioned_ws, garbage):
    """Under lvr.jobs (what the Generate tab launches): the CLI exits 1 and the supervisor reads the unit report."""
    ws = captioned_ws
    req = JobRequest(kind="generate", backend="openai", base_url=garbage.base_url, model="junk",
                     categories=["goal"], attempts=1, concurrency=2)
    job_id = start_job(ws, req)
    deadline = time.time() + 90
    seen_progress_at = None
    t0 = time.time()
    while time.time() < deadline:
        job = refresh(ws, job_id)
        if seen_progress_at is None and job["total"]:
            seen_progress_at = time.time() - t0
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert job["status"] == "failed", job
    assert "all 2 unit(s) failed" in (job["error"] or "")
    assert seen_progress_at is not None and seen_progress_at < 30
    view = job_view(ws, job_id)
    assert "**failed**" in view["status"] and len(view["failures"]) == 2
    assert all(r.startswith("parse:") for r in view["failures"]["reason"])


def test_progress_notes_show_before_a_unit_finishes(ws):
    tracker = JobTracker.start(ws, "generate", {}, total=2, already_done=0)
    tracker._last_write = 0.0
    tracker.note("video0:temporal:0: qa call to smollm2")
    job = ws.get_job(tracker.job_id)
    assert job["message"].startswith("0 done, 0 failed of 2 · video0:temporal:0: qa call")


def test_empty_base_url_is_refused_before_any_request(captioned_ws, garbage, monkeypatch):
    monkeypatch.delenv("LVR_LLM_BASE_URL", raising=False)
    for url in ("", "  ", None):
        with pytest.raises(ValueError, match="needs a base URL"):
            generate_qa(captioned_ws, BackendConfig(kind="openai", model="junk", base_url=url))
    with pytest.raises(ValueError, match="needs a base URL"):
        BackendConfig.from_env(kind="openai", model="junk")          # no silent api.openai.com default
    assert garbage.requests == 0 and captioned_ws.list_jobs() == []
    explicit = BackendConfig(kind="openai", model="gpt-4o-mini", base_url="https://api.openai.com/v1")
    assert explicit.base_url == "https://api.openai.com/v1"          # naming OpenAI still works
    monkeypatch.setenv("LVR_LLM_BASE_URL", garbage.base_url)
    assert BackendConfig.from_env(kind="openai", model="junk").base_url == garbage.base_url

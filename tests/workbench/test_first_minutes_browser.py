"""A visitor's first minutes in a 1440×900 browser (issue 22): an empty workspace says what to do next, and a
generation job whose every unit fails reads `failed` in the Generate tab, with each unit's reason listed.

    .venv/bin/pytest tests/workbench/test_first_minutes_browser.py -m browser
"""
from __future__ import annotations

import time

import pytest
from gradio_client import Client

from lvr.store import Workspace
from tests.datagen.conftest import add_captioned_video
from tests.datagen.test_job_truth import GarbageLLM
from tests.workbench.conftest import serve

from .live import offline_page

pytestmark = pytest.mark.browser


def test_an_empty_workspace_says_what_to_do_next(tmp_path):
    ws = Workspace.open(tmp_path / "empty", create=True)
    with serve(ws, full_app=True) as url, offline_page(url, viewport=(1440, 900)) as page:
        page.wait_for_selector("#app-empty")
        assert page.is_visible("#app-build-demo")
        assert "This workspace is empty" in page.inner_text("#app-empty")
        page.get_by_role("tab", name="Review").click()
        headers = [h.strip() for h in page.locator("th").all_inner_texts() if h.strip()]
        assert headers and not any(h in ("1", "2", "3") for h in headers), headers
    ws.close()


def test_a_job_whose_units_all_fail_reads_failed_with_its_reasons(tmp_path):
    ws = Workspace.open(tmp_path / "ws", create=True)
    add_captioned_video(ws, 0)
    with GarbageLLM() as garbage, serve(ws, full_app=True) as url:
        job, _ = Client(url, verbose=False).predict(
            "generate", "openai", garbage.base_url, "junk", "", 1, 8, False, ["goal"], 1, 1, False, "", [], True,
            0.9, False, api_name="/start_job")[:2]
        deadline = time.time() + 120
        while ws.get_job(job)["status"] in ("queued", "running") and time.time() < deadline:
            time.sleep(0.3)
        with offline_page(url, viewport=(1440, 900)) as page:
            page.get_by_role("tab", name="Generate").click()
            page.fill("#generate-job input, #generate-job textarea", job)
            page.press("#generate-job input, #generate-job textarea", "Enter")
            page.wait_for_function(f"() => document.body.innerText.includes('{job}') && "
                                   "document.body.innerText.includes('parse:')")
            text = page.inner_text("body")
            assert f"job `{job}`" in text or job in text
            assert "failed" in text and "parse:" in text
    assert ws.get_job(job)["status"] == "failed"
    ws.close()

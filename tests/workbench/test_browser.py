"""The whole app in headless Chromium (Playwright, Debian's /usr/bin/chromium): sign in, open each tab,
play a video with caption subtitles and seek to a clip, approve an item with the keyboard, edit one,
run a caption job; screenshots (videos.png, review.png, generate.png; the demo flow test adds train.png,
chat.png, evaluate.png) go to a temp folder, or to docs/screenshots/ with LVR_UPDATE_SCREENSHOTS=1
(`make screenshots`).

    .venv/bin/pytest tests/workbench/test_browser.py -m browser

The workspace is a small lvr.synth corpus (3 robot-world videos x 2 min, ground-truth captions and
pending QA items), like the demo workspace. Requests leaving the loopback server (web fonts) are
refused so pages render at once, offline.
"""
from __future__ import annotations

import pytest

from lvr.datagen.mock_server import MockLLMServer
from lvr.store import Workspace
from lvr.synth import SynthConfig, WorldConfig, synth_workspace
from tests.workbench.conftest import serve

from .live import SHOTS, offline_page

pytestmark = pytest.mark.browser

USER = ("alice", "pw-alice")


@pytest.fixture(scope="module")
def synth_ws(tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("browser") / "ws", create=True)
    synth_workspace(ws, SynthConfig(videos=3, seed=0, world=WorldConfig(minutes=2), workers=2, progress=False))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def page(synth_ws):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with MockLLMServer(latency=0.05) as llm, serve(synth_ws, full_app=True, auth=[USER]) as url, \
            offline_page(url, timeout_ms=20_000) as pg:
        pg.fill("input[type=text]", USER[0])
        pg.fill("input[type=password]", USER[1])
        pg.click("button:has-text('Login')")
        pg.wait_for_selector("#videos-table [data-testid=cell-0-1]")
        pg.llm_url = llm.base_url
        yield pg


def test_videos_tab_plays_with_subtitles_and_seeks_to_a_clip(page, synth_ws):
    page.click("#videos-table [data-testid=cell-0-1]")
    page.wait_for_function("() => { const v = document.querySelector('#videos-player video');"
                           " return v && v.readyState >= 2 && v.querySelector('track'); }")
    page.click("#videos-clips [data-testid=cell-2-4]")             # the third clip: 20–30 s
    page.wait_for_function("() => Math.abs(document.querySelector('#videos-player video').currentTime - 20) < 0.5")
    track = page.evaluate("() => { const v = document.querySelector('#videos-player video');"
                          " return [v.textTracks.length, v.textTracks[0].mode]; }")
    assert track == [1, "showing"]
    vid = page.input_value("#videos-id input")
    assert page.input_value("#videos-caption textarea") == synth_ws.clips(vid)[2]["caption"]
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / "videos.png"), full_page=True)


def test_review_tab_keyboard_approve_and_edit(page, synth_ws):
    ws = synth_ws
    page.get_by_role("tab", name="Review").click()
    page.wait_for_function("() => document.querySelector('#review-question textarea').value.length > 0")
    first = int(page.input_value("#review-id input"))
    start = ws.get_qa(first)["start"]                             # the clip plays from the item's range
    page.wait_for_function(f"() => {{ const v = document.querySelector('#review-player video');"
                           f" return v && v.readyState >= 1 && Math.abs(v.currentTime - {start}) < 0.5; }}")
    page.locator("#review-header").click()                       # focus outside any textbox
    page.keyboard.press("Alt+2")                                  # answer B
    page.keyboard.press("Alt+a")                                  # approve → next item
    page.wait_for_function(f"() => document.querySelector('#review-id input').value !== '{first}'")
    item = ws.get_qa(first)
    assert item["status"] == "approved" and item["updated_by"] == "alice" and item["answer"] == "B"
    assert "approved by alice" in page.inner_text("#review-banner")
    second = int(page.input_value("#review-id input"))
    assert second > first
    start = ws.get_qa(second)["start"]
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('#review-player video').currentTime - {start}) < 0.5")
    page.fill("#review-question textarea", "Which room did the robot carry the cup to?")
    page.keyboard.press("Alt+s")                                  # save the edit as a draft
    page.wait_for_function("() => document.querySelector('#review-banner').innerText.includes('draft')")
    edited = ws.get_qa(second)
    assert edited["question"] == "Which room did the robot carry the cup to?"
    assert edited["status"] == "draft" and edited["updated_by"] == "alice"
    assert "<ins>" in page.inner_html("#review-history")
    page.keyboard.press("Alt+r")                                  # empty reason: the cursor goes to the box
    assert page.evaluate("() => document.activeElement.closest('#review-reason') !== null")
    assert ws.get_qa(second)["status"] == "draft"
    page.keyboard.press("Escape")
    page.locator("#review-header").click()
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / "review.png"), full_page=True)


def test_generate_tab_runs_a_caption_job(page):
    page.get_by_role("tab", name="Generate").click()
    page.get_by_label("base URL").fill(page.llm_url)
    page.get_by_label("model", exact=True).fill("mock")
    page.click("#generate-start")
    page.wait_for_function("() => document.body.innerText.includes('succeeded')", timeout=60_000)
    assert page.input_value("#generate-job input").startswith("caption-")
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / "generate.png"), full_page=True)

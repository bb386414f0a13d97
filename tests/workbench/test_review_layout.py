"""The Review tab as an annotator meets it in a 1440×900 browser window (issue 22), without --auth:
verdict controls in view with an item open, errors beside the buttons, a keyboard-only approve, the
annotator's name asked once and remembered by the browser, queue columns that fit, an empty filter that
empties the form.

    .venv/bin/pytest tests/workbench/test_review_layout.py -m browser
"""
from __future__ import annotations

import pytest

from tests.workbench.conftest import serve

from .live import SHOTS, offline_page

pytestmark = pytest.mark.browser

W, H = 1440, 900


def in_view(page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not rendered"
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= W and box["y"] + box["height"] <= H, \
        f"{selector} at {box} is outside the {W}×{H} viewport"
    return box


@pytest.fixture(scope="module")
def app(module_ws):
    with serve(module_ws, full_app=True) as url:
        yield url, module_ws


def open_review(page) -> int:
    page.get_by_role("tab", name="Review").click()
    page.wait_for_function("() => document.querySelector('#review-question textarea').value.length > 0")
    return int(page.input_value("#review-id input"))


def test_review_at_1440x900_keeps_item_and_verdicts_in_view(app):
    url, ws = app
    SHOTS.mkdir(parents=True, exist_ok=True)
    with offline_page(url, viewport=(W, H)) as page:
        first = open_review(page)
        for sel in ("#review-approve", "#review-reject", "#review-draft", "#review-reason", "#review-question",
                    "#review-option-A", "#review-option-D", "#review-answer"):
            in_view(page, sel)
        page.screenshot(path=str(SHOTS / "review.png"))
        # the queue's columns fit its box: no sideways scrolling, ids on one line
        fit = page.evaluate("""() => { const t = document.querySelector('#review-queue table');
            const w = t.closest('.table-wrap') || t.parentElement;
            const id = document.querySelector('#review-queue [data-testid=cell-0-0]');
            return [w.scrollWidth - w.clientWidth, id ? id.getBoundingClientRect().height : 0]; }""")
        assert fit[0] <= 2 and 0 < fit[1] < 48, fit
        # asked once: the name signs the verdict, and the browser remembers it after a reload
        assert page.locator("#review-annotator-note").is_visible()
        page.fill("#review-annotator input, #review-annotator textarea", "Dana")
        page.locator("#review-header").click()
        # a refused verdict is told in the action bar, in view, and the form keeps its fields
        page.click("#review-reject")
        page.wait_for_function("() => document.querySelector('#review-banner').innerText.includes('give a reason')")
        in_view(page, "#review-banner")
        assert page.input_value("#review-question textarea") and int(page.input_value("#review-id input")) == first
        page.keyboard.press("Alt+2")
        page.keyboard.press("Alt+a")                                  # keyboard only: approve → next item
        page.wait_for_function(f"() => document.querySelector('#review-id input').value !== '{first}'")
        item = ws.get_qa(first)
        assert item["status"] == "approved" and item["updated_by"] == "Dana" and item["answer"] == "B"
        page.reload()
        page.get_by_role("tab", name="Review").click()
        page.wait_for_function("() => { const b = document.querySelector('#review-annotator input, "
                               "#review-annotator textarea'); return b && b.value === 'Dana'; }")
        assert not page.locator("#review-annotator-note").is_visible()


def test_a_filter_with_no_match_empties_the_form(app):
    url, _ = app
    with offline_page(url, viewport=(W, H)) as page:
        open_review(page)
        page.fill("#review-annotator input, #review-annotator textarea", "Eve")
        page.get_by_label("search question / options / reasoning").fill("zzzz-nothing-matches")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_function("() => document.querySelector('#review-question textarea').value === ''")
        assert "0 item(s) match" in page.inner_text("#review-summary")
        assert page.input_value("#review-option-A textarea, #review-option-A input") == ""
        assert "no item matches" in page.inner_text("#review-banner")

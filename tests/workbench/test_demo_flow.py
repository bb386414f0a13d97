"""Issue 10's acceptance, from the app alone on CPU: launch an SFT on the demo workspace, watch its curves,
chat with the new checkpoint and see its reasoning, evaluate it and the base model, compare the two.

    .venv/bin/pytest tests/workbench/test_demo_flow.py -m browser      # ~2-3 min on 2 cores

The real app (`python app.py`, as `make app` runs it) is started as a subprocess on a free loopback
port with the demo workspace in a temporary folder (LVR_DEMO_WORKSPACE), so its first start builds
the corpus, the review round and the tiny base model; --no-demo-sft leaves the training to the
browser. Headless Chromium (Playwright, Debian's /usr/bin/chromium) then drives the Train, Chat and
Evaluate tabs; what the pages show is checked against the workspace's store. Every job the app
started is cancelled at the end.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lvr.eval import compare_runs
from lvr.jobs import cancel, refresh
from lvr.store import Workspace

from .live import SHOTS, offline_page, require_chromium, start_app, stop_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SFT_STEPS = 200          # greedy answers of the tiny model carry <think> text from ~200 steps on
EVAL_LIMIT = 8
EVAL_FRAMES = "4"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(url, workspace folder) of `python app.py` on a fresh demo workspace; stopped (and its jobs cancelled) after."""
    require_chromium()
    root = tmp_path_factory.mktemp("demo-flow") / "demo"
    proc, url, seconds = start_app(root, root.parent / "app.log", "--no-demo-sft", timeout=150)
    try:
        print(f"first start of the demo app: HTTP after {seconds:.1f} s")
        yield url, root
    finally:
        stop_app(proc)
        if (root / "lvr.db").exists():
            with Workspace.open(root) as ws:
                for job in ws.list_jobs():
                    if refresh(ws, job["id"])["status"] in ("queued", "running"):
                        cancel(ws, job["id"])


@pytest.fixture(scope="module")
def page(app):
    url, _ = app
    with offline_page(url) as pg:
        pg.get_by_role("tab", name="Train").wait_for()
        yield pg


def pick(page, label: str, text: str) -> None:
    """Choose the option containing `text` in the dropdown labelled `label`."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option").filter(has_text=text).first.click()


def plot_traces(page, label: str) -> dict[str, int]:
    """{trace name: number of points} of the plotly figure whose block's label contains `label`."""
    return page.evaluate("""(label) => {
        const gd = [...document.querySelectorAll('.js-plotly-plot')].find(
            p => (p.closest('.block') || p).innerText.includes(label));
        const out = {};
        for (const t of (gd && gd.data) || []) out[t.name] = (t.x || []).length;
        return out;
    }""", label)


def launch_eval(page, ws: Workspace, answerer: str, trained_frames: int | None = None) -> str:
    """Launch an eval job for `answerer` from the Evaluate tab, wait for it; returns its run id."""
    pick(page, "checkpoint or reference answerer", answerer)
    if trained_frames:              # picking a trained checkpoint fills in the frames it was trained with
        page.wait_for_function(f"() => [...document.querySelectorAll('label')].some(l => l.innerText.includes("
                               f"'frames (8,16,32') && l.parentElement.querySelector('textarea, input').value"
                               f" === '{trained_frames}')")
    page.get_by_label("frames (8,16,32 → sweep)").fill(EVAL_FRAMES)
    page.get_by_label("limit (first N items, 0 = all)").fill(str(EVAL_LIMIT))
    before = page.get_by_label("job id (Enter to watch another job)").input_value()
    page.get_by_role("button", name="Launch eval job").click()
    page.wait_for_function("(b) => { const e = [...document.querySelectorAll('label')].find("
                           "l => l.innerText.includes('job id (Enter')); const i = e && e.parentElement"
                           ".querySelector('input, textarea'); return i && i.value && i.value !== b; }", arg=before)
    job = page.get_by_label("job id (Enter to watch another job)").input_value()
    page.wait_for_function(f"() => document.body.innerText.includes('job {job} succeeded')", timeout=120_000)
    (run,) = [r["id"] for r in ws.list_eval_runs() if r["job_id"] == job]
    assert f"runs: {run}" in page.inner_text("body")
    return run


def test_sft_chat_eval_compare_from_the_app(app, page):
    _, root = app
    t0 = time.monotonic()
    ws = Workspace.open(root)
    base = next(c for c in ws.list_checkpoints() if c["stage"] == "base")

    # --- Train tab: launch a short SFT from the tiny recipe and watch its curves grow
    page.get_by_role("tab", name="Train").click()
    assert page.get_by_label("recipe (configs/*/sft|grpo.yaml or a YAML path)").input_value() == "configs/tiny/sft.yaml"
    page.get_by_label("steps", exact=True).fill(str(SFT_STEPS))
    page.get_by_role("button", name="Launch training job").click()
    page.wait_for_function("() => document.body.innerText.includes('launched sft job')")
    job_id = re.search(r"launched sft job (sft-[\w-]+)", page.inner_text("body")).group(1)
    job = ws.get_job(job_id)
    assert job["kind"] == "sft" and job["config"]["max_steps"] == SFT_STEPS and job["config"]["model"]
    assert job["config"]["_args"][:3] == ["-m", "lvr.train.sft", str(ROOT / "configs/tiny/sft.yaml")]
    frames = job["config"]["data"]["num_frames"]                     # the recipe's (4)
    page.wait_for_function(f"() => document.body.innerText.includes('{job_id} (sft, 1 process(es)) running')",
                           timeout=60_000)
    seen: list[int] = []
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:            # the curves while it runs, then the finished job
        traces = plot_traces(page, "training curves")
        if traces.get("loss"):
            seen.append(traces["loss"])
        if f"job {job_id} (sft, 1 process(es)) succeeded" in page.inner_text("body"):
            break
        page.wait_for_timeout(1000)
    else:
        raise AssertionError(f"job {job_id} did not finish: {refresh(ws, job_id)['status']}")
    assert len(seen) >= 2 and seen[0] < seen[-1], f"the loss curve did not grow while the job ran: {seen}"
    traces = plot_traces(page, "training curves")
    assert traces["loss"] == SFT_STEPS and {"lr", "grad_norm"} <= set(traces)
    made = ws.list_checkpoints(stage="sft")                         # one per save_every of the recipe
    assert {c["job_id"] for c in made} == {job_id} and {c["parent"] for c in made} == {base["id"]}
    sft = next(c for c in made if c["step"] == SFT_STEPS)
    assert f"checkpoints: {', '.join(c['id'] for c in made)}" in page.inner_text("body")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "train.png"), full_page=True)

    print(f"[{time.monotonic() - t0:.0f} s] trained")

    # --- Chat tab: the new checkpoint answers a training question, its reasoning in a collapsible block
    item = ws.query_qa(split="sft", status="approved", page_size=1)[0][0]
    page.get_by_role("tab", name="Chat").click()
    pick(page, "checkpoint", sft["id"])
    page.wait_for_function(f"() => document.body.innerText.includes("
                           f"'{sft['id']} was trained on {frames} frames per video')")
    pick(page, "workspace video", item["video_id"])
    page.get_by_label("question").fill(item["question"])
    for letter, option in zip("ABCD", item["options"]):
        page.get_by_label(f"option {letter} (optional)").fill(option)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_function(f"() => document.body.innerText.includes('{sft['id']} answered')", timeout=60_000)
    try:
        page.wait_for_selector(".thought-group", timeout=5_000)
    except PlaywrightTimeout:
        raise AssertionError("no reasoning block; the answer was "
                             f"{page.locator('[data-testid=bot]').last.inner_text()!r}") from None
    assert page.locator(".thought-group").count() == 1
    thought = page.locator(".thought-group").last
    # open while the model thinks, folded to its title once the answer is there; a click unfolds it
    page.wait_for_function("() => document.querySelector('.thought-group').innerText.trim() === 'Reasoning'")
    thought.locator(".title").click()
    page.wait_for_function("() => document.querySelector('.thought-group').innerText.trim().length > 40")
    reasoning = thought.inner_text().strip()[len("Reasoning"):].strip()
    assert len(reasoning.split()) >= 5, reasoning
    page.screenshot(path=str(SHOTS / "chat.png"), full_page=True)
    page.get_by_text("Save this exchange as a QA item for review").click()      # the save form has it too
    assert page.get_by_label("reasoning (the model's thinking; edit before saving)").input_value().strip() == reasoning
    assert page.get_by_label("source", exact=True).input_value() == f"chat:{sft['id']}"

    print(f"[{time.monotonic() - t0:.0f} s] chatted")

    # --- Evaluate tab: the new checkpoint and the base on the eval split, then compare them
    page.get_by_role("tab", name="Evaluate").click()
    run_base = launch_eval(page, ws, base["id"])
    run_sft = launch_eval(page, ws, sft["id"], trained_frames=frames)
    print(f"[{time.monotonic() - t0:.0f} s] evaluated")
    page.get_by_role("button", name="↻ Refresh runs").click()
    runs_label = "runs (the first is the baseline of comparisons and flip filters)"
    runs_box = page.get_by_label(runs_label)
    for run in (run_base, run_sft):                                  # the base first: the baseline
        runs_box.click()
        runs_box.fill(run)
        runs_box.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Compare runs").click()
    page.wait_for_function(f"() => {{ const t = [...document.querySelectorAll('.block')].find(b => b.innerText"
                           f".includes('deltas and McNemar')); return t && t.innerText.includes('{run_sft}'); }}")
    rows = page.evaluate("""() => {
        const block = [...document.querySelectorAll('.block')].filter(b => b.innerText.includes('deltas and McNemar')
                                                                             && b.querySelector('table')).pop();
        return [...block.querySelectorAll('[role=row].virtual-row')].map(
            tr => [...tr.querySelectorAll('[role=gridcell]')].map(td => td.innerText.trim()));
    }""")
    cmp = compare_runs(ws, [run_base, run_sft])
    overall = cmp["pairs"][0]["groups"]["overall"]
    assert cmp["pairs"][0]["run"] == run_sft and overall["n"] == EVAL_LIMIT
    row = next(r for r in rows if r[:2] == [run_sft, "overall"])
    shown = [float(x) for x in row[2:6]]              # n, base %, run %, Δ points
    want = [EVAL_LIMIT, 100 * overall["base_acc"], 100 * overall["acc"], 100 * overall["delta"]]
    assert shown == pytest.approx(want, abs=0.051), (row, overall)
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(g => (g.closest('.block')"
                           " || g).innerText.includes('deltas vs baseline') && (g.data || []).length > 0)")
    page.screenshot(path=str(SHOTS / "evaluate.png"), full_page=True)
    for run, ckpt in ((run_base, base["id"]), (run_sft, sft["id"])):
        r = ws.get_eval_run(run)
        assert r["checkpoint"] == ckpt and r["status"] == "succeeded" and r["summary"]["overall"]["n"] == EVAL_LIMIT
    ws.close()

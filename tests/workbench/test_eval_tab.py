"""The Evaluate tab, driven through gradio_client against a real workspace, real runs and a real eval job.

    .venv/bin/pytest tests/workbench/test_eval_tab.py

The module fixture builds a workspace through the store API (a tiny PyAV video ingested with
lvr.ingest, 12 eval items with clip ranges), scores two reference-answerer runs and a two-point
frames sweep with lvr.eval directly, and launches the tab in-process (prevent_thread_lock=True).
"""
from __future__ import annotations

import json
import time

import av
import gradio as gr
import numpy as np
import pytest
from gradio_client import Client

from lvr.eval import EvalConfig, RandomAnswerer, compare_runs, run_eval, run_sweep
from lvr.eval.answerer import letter_prediction
from lvr.eval.plots import category_bars, run_label
from lvr.ingest import ingest
from lvr.jobs import cancel, is_alive
from lvr.store import CATEGORIES, Workspace
from workbench.eval import item_detail, item_rows, pick_item
from workbench.eval_tab import build_eval_tab

N_ITEMS = 12


def write_tiny_video(path, n=30, fps=10, size=(64, 48)):
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n):
            img = np.full((size[1], size[0], 3), (8 * i) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


class MostlyRight:
    """A test answerer (right unless qa_id % 3 == 0), so it disagrees with a random one both ways."""

    name, needs_video = "mostly-right", False

    def answer_batch(self, items, frames=None):
        return [letter_prediction(it["answer"] if it["id"] % 3 else "ABCD"["ABCD".index(it["answer"]) - 1])
                for it in items]

    def describe(self):
        return {"answerer": self.name}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaltab")
    ws = Workspace.open(root / "ws", create=True)
    report = ingest(ws, [write_tiny_video(root / "tiny.mp4")], split="eval")
    assert report.ok, report.errors
    vid = report.added[0]
    ws.add_qa_many([dict(video_id=vid, category=CATEGORIES[i % 4], question=f"What happens in scene {i}?",
                         options=[f"option {i}-{k}" for k in "ABCD"], answer="ABCD"[i % 4],
                         reasoning=f"Scene {i} shows it.", split="eval", status="approved", source="test",
                         start=float(i % 3), end=float(i % 3) + 1.0) for i in range(N_ITEMS)])
    cfg = EvalConfig(split="eval", frames=None, n_boot=200)
    run_a = run_eval(ws, RandomAnswerer(0), cfg).run_id
    run_b = run_eval(ws, MostlyRight(), cfg).run_id
    sweep = run_sweep(ws, RandomAnswerer(2), [1, 2], EvalConfig(split="eval", n_boot=200)).sweep_id
    with gr.Blocks() as demo:
        with gr.Tab("Evaluate"):
            build_eval_tab(ws)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    client = Client(demo.local_url, verbose=False)
    yield dict(ws=ws, a=run_a, b=run_b, sweep=sweep, client=client, video=vid)
    demo.close()
    ws.close()


def flips(ws, a, b):
    ca = {r["qa_id"]: r["correct"] for r in ws.eval_items(a)}
    cb = {r["qa_id"]: r["correct"] for r in ws.eval_items(b)}
    return {q for q in ca if ca[q] != cb[q]}, {q for q in ca if ca[q] and not cb[q]}


def test_runs_list_and_refresh(env):
    table, picked, sweeps, who = env["client"].predict(api_name="/eval_refresh")
    ids = [row[0] for row in table["data"]]
    assert {env["a"], env["b"]} <= set(ids) and len(ids) == 4
    row = table["data"][ids.index(env["a"])]
    assert row[1:3] == ["succeeded", "random"] and row[6] == N_ITEMS and row[7].count("[") == 1
    assert [s for s in sweeps["choices"] if env["sweep"] in s] and "ref:random" in str(who["choices"])
    api = set(env["client"].view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/eval_launch", "/eval_job_status", "/eval_cancel", "/eval_bars", "/eval_compare", "/eval_sweep",
            "/eval_items", "/eval_pick_item", "/eval_item", "/eval_refresh", "/eval_tab_opened",
            "/eval_watch"} <= api


def test_bars_figure_is_the_lvr_eval_figure(env):
    ws, a, b = env["ws"], env["a"], env["b"]
    plot = env["client"].predict([a, b], api_name="/eval_bars")
    fig = json.loads(plot["plot"])
    runs = [ws.get_eval_run(a), ws.get_eval_run(b)]
    want = json.loads(category_bars([(f"{run_label(r)} · {r['id']}", r["summary"]) for r in runs]).to_json())
    assert [t["name"] for t in fig["data"]] == [t["name"] for t in want["data"]] == [
        f"random · {a}", f"mostly-right · {b}"]
    for got, exp in zip(fig["data"], want["data"]):
        assert got["y"] == exp["y"] and got["error_y"]["array"] == exp["error_y"]["array"]
    one = json.loads(env["client"].predict([a], api_name="/eval_bars")["plot"])
    assert any(t["name"].startswith("ref: ") for t in one["data"])   # a single run shows its references


def test_comparison_table_matches_compare_runs(env):
    ws, a, b = env["ws"], env["a"], env["b"]
    plot, table = env["client"].predict([a, b], api_name="/eval_compare")
    cmp = compare_runs(ws, [a, b])
    assert table["headers"][-1] == "McNemar p" and len(table["data"]) == 5
    rows = {r[1]: r for r in table["data"]}
    for g in ("overall", *CATEGORIES):
        d = cmp["pairs"][0]["groups"][g]
        assert rows[g][0] == b and rows[g][2] == d["n"]
        assert (rows[g][8], rows[g][9]) == (d["b"], d["c"])
        assert rows[g][10] == pytest.approx(d["p"], rel=1e-3)
    assert json.loads(plot["plot"])["data"][0]["name"] == f"{b} − {a}"
    with pytest.raises(Exception, match="at least 2 runs"):
        env["client"].predict([a], api_name="/eval_compare")


def test_sweep_curve(env):
    plot, text = env["client"].predict(env["sweep"], api_name="/eval_sweep")
    fig = json.loads(plot["plot"])
    overall = [t for t in fig["data"] if t.get("name") == "overall"][0]
    assert overall["x"] == [1, 2] and env["sweep"] in text


def test_item_browser_filters_flipped_and_category(env):
    ws, a, b, client = env["ws"], env["a"], env["b"], env["client"]
    flipped, right_to_wrong = flips(ws, a, b)
    assert flipped and flipped != right_to_wrong   # the two random seeds disagree both ways
    every = client.predict([a, b], "all", "all", api_name="/eval_items")
    assert every["headers"] == ["qa_id", "category", "question", "video range", "key", a, b]
    assert len(every["data"]) == N_ITEMS
    assert every["data"][0][3] == f"{env['video']} 0.0–1.0 s"
    got = client.predict([a, b], "all", "flipped", api_name="/eval_items")
    assert {r[0] for r in got["data"]} == flipped
    for r in got["data"]:
        assert r[5][0] != r[6][0] and r[5][2:] in "ABCD" and r[5][0] in "✓✗"
    rw = client.predict([a, b], "all", "right→wrong", api_name="/eval_items")
    assert {r[0] for r in rw["data"]} == right_to_wrong and all(r[5][0] == "✓" for r in rw["data"])
    goal = client.predict([a, b], "goal", "all", api_name="/eval_items")
    assert goal["data"] and {r[1] for r in goal["data"]} == {"goal"}
    with pytest.raises(Exception, match="select two runs"):
        client.predict([a], "all", "flipped", api_name="/eval_items")
    assert item_rows(ws, [a, b], "all", "flipped")["qa_id"].tolist() == sorted(flipped)


def test_item_detail_side_by_side_and_clip_start(env):
    ws, a, b, client = env["ws"], env["a"], env["b"], env["client"]
    qa = ws.query_qa(split="eval", page_size=100)[0][5]          # start 2.0, key "B"
    md, video, side = client.predict(qa["id"], [a, b], api_name="/eval_item")
    assert qa["question"] in md and "option 5-B  ← key" in md and "2.0–3.0 s" in md
    assert video["value"].endswith(".mp4") and video["playback_position"] == 2.0   # seeks to the clip
    assert side["headers"] == ["field", a, b]
    assert [r[0] for r in side["data"]] == ["answer", "correct", "format ok", "thinking", "output"]
    recs = {rid: next(r for r in ws.eval_items(rid) if r["qa_id"] == qa["id"]) for rid in (a, b)}
    assert side["data"][0][1:] == [recs[a]["answer"], recs[b]["answer"]]
    _, vid, _ = item_detail(ws, qa["id"], [a])
    assert isinstance(vid, gr.Video) and vid.playback_position == 2.0
    assert pick_item(gr.SelectData(None, {"index": [0, 1], "value": "x", "row_value": [qa["id"], "goal"]})) \
        == qa["id"]


def test_launch_eval_job_and_poll_until_it_succeeds(env):
    ws, client = env["ws"], env["client"]
    job, status, _ = client.predict("ref:random", "eval", "", 5, api_name="/eval_launch")
    assert job.startswith("eval-") and job in status
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            md, log, _, _ = client.predict(job, api_name="/eval_job_status")
            if any(s in md for s in ("succeeded", "failed", "dead", "cancelled")):
                break
            time.sleep(0.5)
        assert "**succeeded**" in md, md + "\n" + log
    finally:
        cancel(ws, job)
    runs = [r for r in ws.list_eval_runs() if r["job_id"] == job]
    assert len(runs) == 1 and runs[0]["status"] == "succeeded" and runs[0]["summary"]["n_scored"] == 5
    assert runs[0]["id"] in md and ws.get_job(job)["config"]["limit"] == 5
    with pytest.raises(Exception, match="frames"):
        client.predict("ref:random", "eval", "8,x", None, api_name="/eval_launch")


def test_launch_with_another_videos_frames_is_recorded_on_the_job(env):
    ws, client = env["ws"], env["client"]
    job, status, _ = client.predict("ref:random", "eval", "", 2, True, api_name="/eval_launch")
    try:
        assert "reference answerers do not watch the video anyway" in status
        assert ws.get_job(job)["config"]["videos"] == "shuffled"
    finally:
        cancel(ws, job)


def test_cancel_stops_a_launched_job(env):
    ws, client = env["ws"], env["client"]
    job, _, _ = client.predict("ref:random", "eval", "", None, api_name="/eval_launch")
    md, _, _ = client.predict(job, api_name="/eval_cancel")   # within ms of launch: the job is still starting
    row = ws.get_job(job)
    assert row["status"] == "cancelled" and "**cancelled**" in md and not is_alive(row["pid"])
    assert not [r for r in ws.list_eval_runs() if r["job_id"] == job and r["status"] == "succeeded"]

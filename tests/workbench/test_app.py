"""`build_app` assembles every tab, installs the Review shortcuts, and names the annotator endpoints.

    .venv/bin/pytest tests/workbench/test_app.py
"""
from __future__ import annotations

from gradio_client import Client

from lvr.recipe import demo as demo_ws
from lvr.recipe.demo import demo_corpus_config, ensure_demo_workspace
from lvr.synth import SynthConfig, WorldConfig
from tests.workbench.conftest import serve
from workbench.app import TABS, available_tabs, build_app
from workbench.identity import LOCAL_USER, username
from workbench.shortcuts import ANSWER_ELEM, KEYBOARD_JS, REASON_ELEM, SHORTCUTS, SHORTCUTS_MD

ENDPOINTS = {"/list_videos", "/video_detail", "/clip_detail", "/save_caption", "/ingest", "/start_job", "/job_status",
             "/cancel_job", "/job_failures", "/review_queue", "/review_load", "/review_next", "/review_prev",
             "/review_approve", "/review_reject", "/review_save", "/bulk_status", "/review_progress",
             "/review_history"}


def test_app_has_the_tabs_shortcuts_and_endpoints(module_ws):
    labels = [label for label, _ in available_tabs()]
    assert labels[:3] == ["Videos", "Generate", "Review"] and set(labels) <= {t[0] for t in TABS}
    demo = build_app(module_ws)
    cfg = demo.get_config_file()
    elem_ids = {c.get("props", {}).get("elem_id") for c in cfg["components"]}
    for _, _, _, elem in SHORTCUTS:                       # every shortcut has its button in the page
        assert elem in elem_ids and f'"{elem}"' in KEYBOARD_JS
    assert {ANSWER_ELEM, REASON_ELEM} <= elem_ids
    assert any(dep.get("js") == KEYBOARD_JS for dep in cfg["dependencies"])
    tabs = [c["props"].get("label") for c in cfg["components"] if c.get("type") == "tabitem"]
    assert tabs[:3] == ["Videos", "Generate", "Review"]
    assert "Alt+A" in SHORTCUTS_MD and "Alt+1 … Alt+4" in SHORTCUTS_MD
    with serve(module_ws, full_app=True) as url:
        named = Client(url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert ENDPOINTS <= set(named), ENDPOINTS - set(named)


def test_username_and_demo_workspace(tmp_path, monkeypatch):
    class Req:
        username = "ann"

    assert username(Req()) == "ann" and username(None) == LOCAL_USER
    ws = ensure_demo_workspace(tmp_path / "empty", build=False)
    assert (tmp_path / "empty" / "lvr.db").exists() and ws.list_videos() == []
    tiny = SynthConfig(videos=1, seed=0, world=WorldConfig(minutes=1, fps=2, size=96), workers=1, progress=False)
    monkeypatch.setattr(demo_ws, "demo_corpus_config", lambda: tiny)
    ws = ensure_demo_workspace(tmp_path / "demo")
    (video,) = ws.list_videos()
    assert video["source"] == "synth" and video["n_captioned"] == video["n_clips"] == 6 and video["n_qa"] > 0
    again = ensure_demo_workspace(tmp_path / "demo")             # not built twice
    assert len(again.list_videos()) == 1
    assert demo_corpus_config().videos == 6 and demo_corpus_config().world.minutes == 2


def test_annotator_name_without_auth():
    class Req:
        username = "ann"

    assert username(Req(), "mallory") == "ann"                          # signed in: the login signs
    assert username(None, "  Dana \n Q ") == "Dana Q" and username(None, "") == LOCAL_USER
    assert username(None, "x" * 100) == "x" * 40


def test_first_start_help_and_demo_flag(capsys):
    import pytest

    from workbench.launch import build_parser, main

    help_text = build_parser().format_help()
    assert "--demo" in help_text and "LVR_DEMO_WORKSPACE" in help_text and "LVR_LLM_BASE_URL" in help_text
    args = build_parser().parse_args(["--workspace", "x", "--demo"])
    assert args.demo and str(args.workspace) == "x"
    with pytest.raises(SystemExit, match="contradict"):
        main(["--workspace", "x", "--demo", "--no-demo"])


def test_empty_workspace_offers_the_demo(tmp_path, monkeypatch):
    from lvr.store import Workspace

    ws = Workspace.open(tmp_path / "new", create=True)
    demo = build_app(ws)
    cfg = demo.get_config_file()
    box = next(c for c in cfg["components"] if c.get("props", {}).get("elem_id") == "app-empty")
    assert box["props"]["visible"] is True
    texts = " ".join(str(c.get("props", {}).get("value", "")) for c in cfg["components"])
    assert "This workspace is empty" in texts and "--demo" in texts
    assert any(c.get("type") == "timer" for c in cfg["components"])     # header counts refresh on their own
    tiny = SynthConfig(videos=1, seed=0, world=WorldConfig(minutes=1, fps=2, size=96), workers=1, progress=False)
    monkeypatch.setattr(demo_ws, "demo_corpus_config", lambda: tiny)
    with serve(ws, full_app=True) as url:
        msg, stats = Client(url, verbose=False).predict(api_name="/build_demo")    # (the box hides itself)
    assert "demo built" in msg and "1 videos" in stats
    assert len(ws.list_videos()) == 1

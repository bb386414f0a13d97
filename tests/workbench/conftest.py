"""Fixtures for the annotator-side workbench tests (Videos, Generate, Review tabs).

Videos are rendered once per session (tests/workbench/corpus.py); each module gets its own
workspace built from them (real ingest, captions, QA items). `serve` launches a tab in-process
(prevent_thread_lock=True) on a free loopback port, like `python app.py` does (queue with 4
workers, the workspace as allowed path, optional auth), and closes it afterwards.
"""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import gradio as gr
import pytest

from lvr.store import Workspace
from tests.workbench.corpus import build_corpus
from workbench.serving import allowed_paths, blocked_paths

USERS = [("alice", "pw-alice"), ("bob", "pw-bob"), ("carol", "pw-carol")]
# the Review tab's form outputs (see workbench/review_tab.py) and the queue filters "pending or draft, any"
FORM = ["id", "version", "header", "player", "context", "category", "question", "A", "B", "C", "D", "answer",
        "reasoning", "reason", "history", "banner"]
ANY6 = [["pending", "draft"], "any", "any", "any", "any", ""]


def form(out) -> dict:
    """A Review endpoint's outputs by name."""
    return dict(zip(FORM, out))


def fields(f: dict, **changes) -> list:
    """The editable inputs of /review_save (the first ten of /review_approve and /review_reject)."""
    f = {**f, **changes}
    return [f["id"], f["version"], f["category"], f["question"], f["A"], f["B"], f["C"], f["D"], f["answer"],
            f["reasoning"]]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """A workspace with the rendered corpus, built once; modules copy it."""
    root = tmp_path_factory.mktemp("wb-corpus")
    ws = Workspace.open(root / "ws", create=True)
    build_corpus(ws, root / "videos", n_videos=3, seconds=40)
    ws.close()
    return root / "ws"


def copy_workspace(rendered: Path, dest: Path) -> Workspace:
    shutil.copytree(rendered, dest)
    return Workspace.open(dest)


@pytest.fixture(scope="module")
def module_ws(rendered, tmp_path_factory) -> Workspace:
    ws = copy_workspace(rendered, tmp_path_factory.mktemp("wb") / "ws")
    yield ws
    ws.close()


@contextlib.contextmanager
def serve(ws: Workspace, builder=None, label: str = "Tab", auth=None, full_app: bool = False):
    """Launch one tab (or the whole app) on ws; yields the local URL."""
    if full_app:
        from workbench.app import build_app

        demo = build_app(ws)
    else:
        with gr.Blocks() as demo:
            with gr.Tab(label):
                builder(ws)
    demo.queue(default_concurrency_limit=4)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, auth=auth, show_error=True,
                allowed_paths=allowed_paths(ws), blocked_paths=blocked_paths(ws))
    try:
        yield demo.local_url
    finally:
        demo.close()

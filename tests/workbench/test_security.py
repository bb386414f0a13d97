"""The app as an attacker meets it: real HTTP against the whole workbench on loopback.

    .venv/bin/pytest tests/workbench/test_security.py

Each test is one hole that was open (issue 19): uploaded code imported while validating a training
form, the workspace database and the files beside a linked video served by `/gradio_api/file=`, any
server path read as a recipe (its existence and keys echoed back), and a bind check fooled by
`--host ""` with GRADIO_SERVER_NAME=0.0.0.0, and the server's LLM API key sent to a visitor's endpoint.
"""
from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from lvr.ingest import ingest
from lvr.jobs import cancel, read_log
from lvr.video.encode import numbered_frames, write_video
from tests.workbench.conftest import serve
from tests.workbench.test_train_tab import form
from workbench.launch import bind_host, is_loopback
from workbench.serving import allowed_paths

ROOT = Path(__file__).resolve().parents[2]
EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('pwned')\ndef fn(completions, **kw):\n    return [1.0]\n"


@pytest.fixture(scope="module")
def app(module_ws, tmp_path_factory):
    """The whole app on a workspace with one video linked from a 'home folder' holding a secret."""
    home = tmp_path_factory.mktemp("home")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    (home / "notes.txt").write_text("secret notes")
    linked = write_video(home / "holiday.mp4", numbered_frames(20, 64, 96), fps=10, gop=10)
    ingest(module_ws, [linked])
    with serve(module_ws, full_app=True) as url:
        yield dict(ws=module_ws, url=url, home=home, linked=linked, client=Client(url, verbose=False))


def upload(url: str, path: Path) -> str:
    """POST a file to Gradio's upload route as any visitor can; → the server-side path."""
    with path.open("rb") as f:
        r = httpx.post(url + "gradio_api/upload", files={"files": (path.name, f)}, timeout=30)
    r.raise_for_status()
    return r.json()[0]


def fetch(url: str, path: str | Path) -> int:
    return httpx.get(f"{url}gradio_api/file={path}", timeout=30).status_code


def test_uploaded_reward_code_is_never_imported(app, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.py"
    evil.write_text(EVIL.format(marker=str(marker)))
    remote = upload(app["url"], evil)
    extra = f'reward.functions={{"{remote}:fn": 1.0}}'
    verdict, resolved = app["client"].predict(*form("grpo", "configs/tiny/grpo.yaml", extra=extra),
                                              api_name="/train_validate")
    assert verdict.startswith("✗") and "rewards/ folder" in verdict and resolved == ""
    with pytest.raises(Exception, match="rewards/ folder"):
        app["client"].predict(*form("grpo", "configs/tiny/grpo.yaml", extra=extra), api_name="/train_launch")
    assert not marker.exists() and not app["ws"].list_jobs()


def test_operator_reward_file_is_accepted_but_not_imported_by_validation(app, tmp_path):
    marker = tmp_path / "imported"
    rewards = app["ws"].root / "rewards"
    rewards.mkdir(exist_ok=True)
    (rewards / "mine.py").write_text(EVIL.format(marker=str(marker)))
    extra = f'reward.functions={{"{rewards / "mine.py"}:fn": 1.0}}'
    verdict, _ = app["client"].predict(*form("grpo", "configs/tiny/grpo.yaml", extra=extra),
                                       api_name="/train_validate")
    assert verdict.startswith("✓ valid"), verdict
    assert not marker.exists()


@pytest.mark.parametrize("extra", ["reward.judge.base_url=http://attacker.example/v1",
                                   "reward.judge.api_key_env=AWS_SECRET_ACCESS_KEY",
                                   'deepspeed.extra={"tensorboard": {"enabled": true}}',
                                   "workspace=/tmp", "output_dir=/tmp/elsewhere", "model=/etc"])
def test_operator_only_keys_and_outside_paths_are_refused(app, extra):
    verdict, resolved = app["client"].predict(*form("grpo", "configs/tiny/grpo.yaml", extra=extra),
                                              api_name="/train_validate")
    assert verdict.startswith("✗") and resolved == "", verdict


def test_database_and_files_beside_linked_videos_are_not_served(app):
    url, ws, home = app["url"], app["ws"], app["home"]
    for name in ("lvr.db", "lvr.db-wal", "lvr.db-shm"):
        assert (ws.root / name).exists() or name != "lvr.db"
        assert fetch(url, ws.root / name) == 403, name
    assert fetch(url, home / ".ssh" / "id_rsa") == 403
    assert fetch(url, home / "notes.txt") == 403
    assert fetch(url, ws.root / "demo.json") == 403
    assert str(ws.root) not in allowed_paths(ws) and str(home) not in allowed_paths(ws)
    # what the UI shows still plays: the linked video through the Videos tab
    vid = next(v["id"] for v in ws.list_videos() if v["filename"] == "holiday.mp4")
    player = app["client"].predict(vid, api_name="/video_detail")[1]
    assert Path(player["value"]).read_bytes() == app["linked"].read_bytes()     # downloaded by the client


@pytest.mark.parametrize("recipe", ["/etc/passwd", "/no/such/file.yaml", "{secret}", "../../{secret}",
                                    "configs/../pyproject.toml"])
def test_recipes_only_from_configs_and_the_workspace(app, tmp_path, recipe):
    secret = tmp_path / "aws.yaml"
    secret.write_text("aws_secret_access_key: AKIA-SECRET\n")
    recipe = recipe.format(secret=secret)
    for api in ("/train_recipe", "/train_validate"):
        args = ("sft", recipe) if api == "/train_recipe" else form("sft", recipe)
        try:
            out = app["client"].predict(*args, api_name=api)
            message = str(out[0])
        except Exception as e:          # gr.Error → the client raises with the message
            message = str(e)
        assert "pick a YAML under the project's configs/" in message, message
        assert "aws_secret" not in message and "does not exist" not in message and "root:" not in message


def test_bind_host_follows_gradio_and_names_must_resolve_to_loopback(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    assert bind_host("") == "0.0.0.0" and bind_host(None) == "0.0.0.0" and bind_host("127.0.0.1") == "127.0.0.1"
    monkeypatch.delenv("GRADIO_SERVER_NAME")
    assert bind_host("") == "127.0.0.1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not any(is_loopback(h) for h in ("", "0.0.0.0", "::", "10.1.2.3", "no-such-host.invalid"))


def test_empty_host_with_gradio_server_name_is_refused_without_auth(tmp_path):
    env = {**os.environ, "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run([sys.executable, "app.py", "--workspace", str(tmp_path / "ws"), "--host", "",
                           "--port", "7999"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "refusing to bind '0.0.0.0'" in proc.stderr, proc.stderr[-2000:]


@pytest.fixture
def capture_server():
    """A loopback 'LLM endpoint' that records the Authorization header of every request (and fails it)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            seen.append(self.headers.get("Authorization") or "")
            self.send_response(500)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1", seen
    srv.shutdown()


def test_a_visitors_endpoint_never_receives_the_servers_api_key(app, capture_server, monkeypatch):
    url, seen = capture_server
    monkeypatch.setenv("LVR_LLM_API_KEY", "server-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "server-secret-2")
    monkeypatch.delenv("LVR_LLM_BASE_URL", raising=False)
    job, _ = app["client"].predict("caption", "openai", url, "m", "", 1, 1, True, ["temporal"], 1, 1, True, "",
                                   [], True, 0.9, False, api_name="/start_job")[:2]
    try:
        deadline = time.time() + 120
        while not seen and time.time() < deadline:
            time.sleep(0.5)
    finally:
        cancel(app["ws"], job)
    assert seen, "the caption job never called the endpoint"
    assert not any("server-secret" in h for h in seen), seen


def test_the_page_never_shows_the_servers_folders(app):
    """The header names the workspace, not where it lives on the server (a visitor learns no home folder)."""
    ws = app["ws"]
    for route in ("", "config"):
        text = httpx.get(app["url"] + route, timeout=30).text
        assert str(ws.root.resolve()) not in text and str(ws.root) not in text, route
    assert f"Workspace `{ws.root.name}`" in httpx.get(app["url"] + "config", timeout=30).text


def _server_folders(app) -> list[str]:
    return [str(app["ws"].root.resolve()), str(ROOT), str(Path.home())]


def test_a_valid_training_form_answers_without_the_servers_folders(app):
    """The equivalent command and the resolved YAML name `<workspace>` and project-relative paths."""
    verdict, resolved = app["client"].predict(*form("grpo", "configs/tiny/grpo.yaml"), api_name="/train_validate")
    assert verdict.startswith("✓ valid"), verdict
    assert "workspace=<workspace>" in verdict and "configs/tiny/grpo.yaml" in verdict
    assert "workspace: <workspace>" in resolved
    for folder in _server_folders(app):
        assert folder not in verdict and folder not in resolved, folder


def test_a_jobs_log_is_shown_without_the_servers_folders(app):
    """A job's log and error name the interpreter and the workspace by absolute path; the Eval tab shows
    them without."""
    job = app["client"].predict("ref:random", "eval", "", 2, api_name="/eval_launch")[0]
    deadline, md, tail = time.time() + 120, "", ""
    while time.time() < deadline and not any(f"**{s}**" in md for s in ("succeeded", "failed", "dead")):
        time.sleep(1)
        md, tail = app["client"].predict(job, api_name="/eval_job_status")[:2]
    assert "**failed**" in md or "**succeeded**" in md, (md, tail)    # this workspace has no eval items
    raw = read_log(app["ws"], job)
    assert str(app["ws"].root.resolve()) in raw                  # what the server wrote …
    assert "<workspace>" in tail
    for folder in _server_folders(app):                          # … is not what a visitor reads
        assert folder not in tail and folder not in md, folder


@pytest.mark.parametrize("job", ["../../etc/passwd", "x' OR 1=1 --"])
def test_an_unknown_job_is_refused_without_the_servers_folders(app, job):
    """A made-up job id is refused by name; the refusal does not say where the workspace lives."""
    for api in ("/eval_job_status", "/train_poll"):
        with pytest.raises(Exception) as err:
            app["client"].predict(job, api_name=api)
        assert "no job" in str(err.value), str(err.value)
        for folder in _server_folders(app):
            assert folder not in str(err.value), (api, folder)

"""A live workbench for the end-to-end tests: `python app.py` as a real process, and an offline browser.

    proc, url, seconds = start_app(root, log_path, "--no-demo-sft")   # seconds until it answered HTTP
    stop_app(proc)
    with offline_page(url) as page: ...       # headless Debian chromium; requests off loopback are aborted
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where the browser tests save their screenshots: docs/screenshots (the README's pictures of each tab) only
# with LVR_UPDATE_SCREENSHOTS=1 (`make screenshots`), so a plain test run leaves the checkout clean.
SHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("LVR_UPDATE_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / "lvr-test-screenshots")
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`make sysdeps`)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(root: Path, log: Path, *args: str, timeout: float = 300) -> tuple[subprocess.Popen, str, float]:
    """`python app.py` on the demo workspace `root`: (process, url, seconds until it answered HTTP)."""
    port = free_port()
    env = {**os.environ, "LVR_DEMO_WORKSPACE": str(root), "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    url = f"http://127.0.0.1:{port}/"
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited ({proc.returncode}): {Path(log).read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return proc, url, time.monotonic() - t0
        except OSError:
            if time.monotonic() - t0 > timeout:
                stop_app(proc)
                raise AssertionError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.25)


def stop_app(proc: subprocess.Popen) -> None:
    """Ctrl-C, as a user would; killed if it does not stop within 15 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def offline_page(url: str, timeout_ms: int = 30_000, viewport: tuple[int, int] = (1440, 1000)):
    """A page of a fresh headless chromium profile that may only reach `url`'s server (`viewport`: w, h)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
                                                   viewport={"width": viewport[0], "height": viewport[1]})
        ctx.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url.rstrip("/"))
                  else route.abort())
        page = ctx.new_page()
        page.set_default_timeout(timeout_ms)
        page.goto(url)
        try:
            yield page
        finally:
            ctx.close()

"""Benchmark QA generation throughput vs. concurrency against a loopback OpenAI-compatible server.

    .venv/bin/python bench/datagen.py                 # 200 ms per answer; c=1 (16 items), 8 (128), 64 (512)
    .venv/bin/python bench/datagen.py --latency 0.1 --scale 0.5

The mock server (`python -m lvr.datagen.mock_server`) runs in its own process, so its threads do
not compete with the client for the GIL; every answer waits `--latency` seconds. Each item is
the full pipeline unit: generation call, strict parse + validation, rewrite call + checks, and
one SQLite transaction storing the item with its two raw outputs (so 2 calls per item; the
sequential ideal is 1 / (2 × latency) items/s). Each concurrency level runs on a fresh workspace
of captioned videos (16 items per video). Prints ONE JSON line: items/s per concurrency, the
ratio of 64-way to sequential, and whether the target (>= 40x) holds. Takes < 1 min.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvr.datagen import BackendConfig, GenerateConfig, generate_qa  # noqa: E402
from lvr.store import Workspace  # noqa: E402

CAPTIONS = [
    "A woman in a green coat unlocks a red bicycle next to a bakery.",
    "She rides along a river path, passing a man who feeds ducks.",
    "At a market she buys three oranges for the basket on her bicycle.",
    "She reaches a small house and carries the oranges inside.",
]
TARGET = 40.0


def make_workspace(root: Path, n_videos: int) -> Workspace:
    ws = Workspace.open(root, create=True)
    for v in range(n_videos):
        vid = ws.add_video(f"/bench/video{v}.mp4", sha256=f"{v:08d}".ljust(64, "0"), duration=40.0, fps=30.0,
                           n_frames=1200, width=640, height=360)
        for i, cid in enumerate(ws.set_clips(vid, [(10.0 * i, 10.0 * (i + 1)) for i in range(4)])):
            ws.set_caption(cid, f"{CAPTIONS[i]} (video {v}, part {i})", captioner="bench")
    return ws


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "lvr.datagen.mock_server", "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True, cwd=str(Path(__file__).resolve().parents[1]))
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"mock server did not start: {line!r}")
    return proc, line.split("listening on ", 1)[1]


def run_level(tmp: Path, base_url: str, concurrency: int, items: int) -> dict:
    per_video = 16                      # 4 categories x 4 per category
    ws = make_workspace(tmp / f"c{concurrency}", max(1, items // per_video))
    backend = BackendConfig(kind="openai", model="mock", base_url=base_url, concurrency=concurrency, timeout=30.0)
    t0 = time.perf_counter()
    report = generate_qa(ws, backend, GenerateConfig(per_category=4, concurrency=concurrency))
    wall = time.perf_counter() - t0
    stored = ws.stats()["qa"]
    ws.close()
    if report.failed or stored != report.succeeded:
        raise RuntimeError(f"c={concurrency}: {report.failed} failed, {stored} stored: {report.failures[:3]}")
    return {"items": report.succeeded, "calls": report.calls, "seconds": round(wall, 3),
            "items_per_s": round(report.succeeded / wall, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description="QA generation throughput vs concurrency (loopback mock LLM)")
    p.add_argument("--latency", type=float, default=0.2, help="seconds per mock answer")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the item counts (16/128/512)")
    a = p.parse_args()
    levels = {1: 16, 8: 128, 64: 512}
    levels = {c: max(16, int(round(n * a.scale / 16)) * 16) for c, n in levels.items()}
    server, url = start_server(a.latency)
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="lvr-bench-datagen-") as tmp:
            results = {c: run_level(Path(tmp), url, c, n) for c, n in levels.items()}
    finally:
        server.terminate()
        server.wait(timeout=10)
    rates = {str(c): r["items_per_s"] for c, r in results.items()}
    ratio = results[64]["items_per_s"] / results[1]["items_per_s"]
    print(json.dumps({
        "bench": "datagen", "latency_s": a.latency, "calls_per_item": 2,
        "items": {str(c): r["items"] for c, r in results.items()},
        "seconds": {str(c): r["seconds"] for c, r in results.items()},
        "items_per_s": rates,
        "ideal_sequential_items_per_s": round(1 / (2 * a.latency), 2),
        "ratio_8_vs_1": round(results[8]["items_per_s"] / results[1]["items_per_s"], 2),
        "ratio_64_vs_1": round(ratio, 2), "target_ratio_64_vs_1": TARGET, "ok": ratio >= TARGET,
        "total_s": round(time.perf_counter() - t0, 1),
    }))


if __name__ == "__main__":
    main()

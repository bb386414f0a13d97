"""Benchmark the synthetic-world renderer and the whole `lvr synth` corpus build.

    .venv/bin/python bench/synth.py            # 224x224 frames/s + 20 videos x 3 min on 2 workers
    .venv/bin/python bench/synth.py --quick    # 4 videos x 1 min

Measures, on one core, for a 3-minute medium-difficulty world at 4 fps:
  render          numpy drawing of every frame (no encoding)            frames/s
  encode          libx264 (one thread) on the same, pre-drawn frames     frames/s  (the baseline)
  render+encode   what a worker does per video                          frames/s
then times `synth_workspace` (simulate, render, captions, QA, registration) for the corpus.
Prints ONE JSON line with the figures, the ratio render/encode (drawing must not be the
bottleneck) and whether the targets hold: render >= 100 frames/s at 224x224, corpus <= 300 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvr.store import Workspace
from lvr.synth import SynthConfig, WorldConfig, simulate, synth_workspace
from lvr.synth.render import Renderer, encode_mp4


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4 videos x 1 minute instead of 20 x 3")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    size, fps = 224, 4.0
    log = simulate(WorldConfig(seed=1, minutes=3))
    renderer = Renderer(log, size)
    n = int(log.duration * fps)

    def render_only():
        for _ in renderer.frames(fps, n):
            pass

    frames = list(renderer.frames(fps, n))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.mp4"
        t_render = best_of(render_only, args.repeat)
        t_encode = best_of(lambda: encode_mp4(out, iter(frames), fps, size, gop=8), args.repeat)
        t_both = best_of(lambda: encode_mp4(out, renderer.frames(fps, n), fps, size, gop=8), args.repeat)
        videos, minutes = (4, 1.0) if args.quick else (20, 3.0)
        cfg = SynthConfig(
            videos=videos,
            seed=0,
            workers=args.workers,
            progress=False,
            world=WorldConfig(minutes=minutes, fps=fps, size=size),
        )
        t = time.perf_counter()
        summary = synth_workspace(Workspace.open(Path(tmp) / "ws", create=True), cfg)
        t_corpus = time.perf_counter() - t
    render_fps, encode_fps, both_fps = n / t_render, n / t_encode, n / t_both
    print(
        json.dumps(
            {
                "bench": "synth",
                "size": f"{size}x{size}",
                "frames": n,
                "render_fps": round(render_fps),
                "encode_fps_baseline": round(encode_fps),
                "render_encode_fps": round(both_fps),
                "render_over_encode": round(render_fps / encode_fps, 2),
                "corpus": f"{videos} videos x {minutes:g} min",
                "workers": args.workers,
                "corpus_seconds": round(t_corpus, 1),
                "qa_items": summary["qa"],
                "targets": {
                    "render_fps>=100": render_fps >= 100,
                    "corpus_seconds<=300": t_corpus <= 300,
                    "qa_items>=1000": summary["qa"] >= 1000 if not args.quick else None,
                },
            }
        )
    )


if __name__ == "__main__":
    main()

"""Fixtures for lvr.synth tests: simulated logs, an in-memory QA corpus split by video, and a
small real workspace built by `synth_workspace` (rendered H.264 videos, SQLite store)."""

from __future__ import annotations

import pytest

from lvr.store import Workspace
from lvr.synth import (
    QAConfig,
    SynthConfig,
    WorldConfig,
    assign_splits,
    derive_seed,
    generate_qa,
    simulate,
    synth_workspace,
)


@pytest.fixture(scope="session")
def log3():
    """A 3-minute medium-difficulty world."""
    return simulate(WorldConfig(seed=7, minutes=3))


@pytest.fixture(scope="session")
def corpus():
    """QA items of 40 simulated 3-minute videos (no rendering), split 60/30/10 by video like `lvr synth`."""
    n = 40
    splits = assign_splits(n, (0.6, 0.3, 0.1), seed=0)
    out = {"sft": [], "rl": [], "eval": [], "logs": {}}
    for i in range(n):
        log = simulate(WorldConfig(seed=derive_seed(0, i), minutes=3))
        out["logs"][f"v{i}"] = log
        for k, it in enumerate(generate_qa(log, QAConfig())):
            out[splits[i]].append({**it, "video_id": f"v{i}", "id": f"v{i}-{k}"})
    return out


@pytest.fixture(scope="session")
def small_ws(tmp_path_factory):
    """5 one-minute videos at 2 fps, 96x96, rendered by 2 worker processes into a real workspace."""
    root = tmp_path_factory.mktemp("synth_ws")
    ws = Workspace.open(root, create=True)
    cfg = SynthConfig(
        videos=5, seed=3, workers=2, progress=False, world=WorldConfig(minutes=1, fps=2, size=96)
    )
    return ws, cfg, synth_workspace(ws, cfg)

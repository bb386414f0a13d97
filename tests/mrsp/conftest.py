"""Fixtures for lvr.mrsp tests: tiny random-init models (built offline once per session) and frames."""
from __future__ import annotations

import numpy as np
import pytest


def make_frames(n: int, h: int = 56, w: int = 56, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (n, h, w, 3)).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_composite():
    from lvr.model import build_tiny

    return build_tiny("composite", seed=0)


@pytest.fixture(scope="session")
def tiny_qwen():
    from lvr.model import build_tiny

    return build_tiny("qwen2_5_vl", seed=0)

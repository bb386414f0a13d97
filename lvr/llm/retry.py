"""Retry policy for model calls: exponential backoff with jitter, honouring Retry-After.

    policy = RetryPolicy(max_retries=5, base=0.5, cap=30)
    policy.delay(attempt=1)                       # ~0.25–0.5 s, then ~0.5–1, ~1–2, … up to the cap
    policy.delay(attempt=2, retry_after=3.0)      # the server asked: 3 s (+ up to 10 % jitter)
    retry_after_seconds(response.headers)         # Retry-After (seconds or HTTP date) / retry-after-ms

Retryable: HTTP 408, 409, 429 and 5xx, timeouts and connection errors. Other 4xx fail at once.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Mapping

RETRY_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or 500 <= status <= 599


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, from `retry-after-ms` or `Retry-After`; None if absent/invalid."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0
    rng: random.Random | None = None

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Sleep before retry number `attempt` (1 = first retry)."""
        rnd = (self.rng or random).random()
        if retry_after is not None:
            wait = min(retry_after, self.max_retry_after)
            return wait + 0.1 * wait * rnd
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return ceiling / 2 + (ceiling / 2) * rnd   # "equal jitter": never less than half the ceiling

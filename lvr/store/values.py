"""How the store writes values into SQLite: timestamps and JSON text.

    now()                 # '2026-01-01T10:00:00.123+00:00' (UTC, milliseconds)
    dumps({"b": 1})       # JSON with sorted keys, non-ASCII kept as is

Shared by `Workspace` and its mixins (qa.py, runs.py, videos.py); imports nothing from them.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)

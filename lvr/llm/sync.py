"""Run a coroutine to completion from synchronous code, also inside a running event loop.

    from lvr.llm.sync import run_coroutine
    report = run_coroutine(generate_qa_async(ws, cfg))    # a script, a Jupyter cell, an async Gradio handler

Used by the sync entry points of lvr.datagen's jobs and by lvr.train's LLM judge.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable


def run_coroutine(coro: Awaitable[Any]) -> Any:
    """Run `coro` to completion from synchronous code, also where an event loop is already running
    (a Jupyter cell, an async Gradio handler), where `asyncio.run` refuses: the coroutine then runs on
    its own loop in a worker thread while the caller waits. Exceptions propagate unchanged."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="lvr-run-coroutine", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]

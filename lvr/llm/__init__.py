"""lvr.llm: talking to a language model over an OpenAI-compatible API, for every layer that needs one.

    from lvr.llm import BackendConfig, OpenAIBackend, run_coroutine
    cfg = BackendConfig.from_env(kind="openai", model="gpt-4o-mini", concurrency=16)   # LVR_LLM_BASE_URL / _API_KEY

    async def ask() -> str:
        async with OpenAIBackend(cfg) as llm:
            return (await llm.chat([{"role": "user", "content": "hi"}], temperature=0.0)).text

    text = run_coroutine(ask())          # from a script, also inside a running event loop (notebook, Gradio)

Modules: config (BackendConfig: address, key, limits, retries; read from LVR_LLM_* env), calls
(GenRequest, GenResult, BackendError), client (OpenAIBackend over httpx: concurrency lanes,
timeouts, retries, token accounting), retry (backoff with jitter, Retry-After), sync
(run_coroutine). Users: lvr.datagen (caption/generate jobs; prompts and parsing stay there) and
lvr.train.rewards (the LLM judge of open-ended answers). Imports nothing else from lvr.
"""
from lvr.llm.calls import BackendError, GenRequest, GenResult
from lvr.llm.client import OpenAIBackend
from lvr.llm.config import BACKEND_KINDS, MISSING_BASE_URL, BackendConfig
from lvr.llm.retry import RetryPolicy, is_retryable_status, retry_after_seconds
from lvr.llm.sync import run_coroutine

__all__ = [
    "BACKEND_KINDS", "MISSING_BASE_URL", "BackendConfig", "BackendError", "GenRequest", "GenResult",
    "OpenAIBackend", "RetryPolicy", "is_retryable_status", "retry_after_seconds", "run_coroutine",
]

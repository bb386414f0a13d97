"""OpenAI-compatible chat-completions client over httpx: concurrency, timeouts, retries, accounting.

    from lvr.llm import BackendConfig, OpenAIBackend
    cfg = BackendConfig.from_env(kind="openai", model="gpt-4o-mini", concurrency=16)
    llm = OpenAIBackend(cfg)
    res = await llm.chat([{"role": "user", "content": "hi"}], temperature=0.0)   # or llm.generate(GenRequest(…))
    await llm.aclose()

Works with any server speaking `POST {base_url}/chat/completions` (OpenAI, vLLM, SGLang,
llama.cpp server, Ollama's /v1). At most `concurrency` requests are in flight (an
asyncio.Semaphore; spread over small httpx pools, see `_ensure`); each request has a timeout;
429/5xx/timeouts/connection errors are retried with exponential backoff + jitter (a server's
Retry-After wins, lvr.llm.retry). The `GenResult` carries the prompt/completion token counts from
`usage`, the latency and the number of attempts; a request that fails for good raises `BackendError`.
Used by lvr.datagen (text backend "openai", and its vision captioner) and lvr.train's LLM judge.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from lvr.llm.calls import BackendError, GenRequest, GenResult
from lvr.llm.config import MISSING_BASE_URL, BackendConfig
from lvr.llm.retry import RetryPolicy, is_retryable_status, retry_after_seconds

LANE_SIZE = 8   # connections per httpx client (see OpenAIBackend._ensure)


class OpenAIBackend:
    """Text generation through an OpenAI-compatible server."""

    backend = "openai"

    def __init__(self, config: BackendConfig, *, transport: httpx.AsyncBaseTransport | None = None):
        if config.kind != "openai":
            raise ValueError(f"OpenAIBackend needs a config of kind 'openai', got {config.kind!r}")
        self.config = config
        self.model = config.model
        if not config.base_url:        # never a default host: BackendConfig refuses this already
            raise ValueError(MISSING_BASE_URL)
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.policy = RetryPolicy(config.max_retries, config.backoff_base, config.backoff_max, config.max_retry_after)
        self._transport = transport
        self._clients: list[httpx.AsyncClient] = []
        self._sizes: list[int] = []
        self._busy: list[int] = []
        self._sem: asyncio.Semaphore | None = None
        self.requests_sent = 0

    # ------------------------------------------------------------------ plumbing
    def _ensure(self) -> asyncio.Semaphore:
        """Lazily build the semaphore and the lanes: httpx clients of at most LANE_SIZE connections.

        httpcore's connection pool scans every connection on each request and response, so one pool of
        64 connections spends most of its time bookkeeping; several small pools keep that cost flat.
        Under the semaphore (`concurrency` permits) a request takes the lane with the most free
        connections, so it never waits inside a pool.
        """
        if self._sem is None:
            headers = {"Content-Type": "application/json"}
            if self.config.api_key:
                headers["Authorization"] = f"Bearer {self.config.api_key}"
            n = self.config.concurrency
            self._sizes = [min(LANE_SIZE, n - i) for i in range(0, n, LANE_SIZE)]
            timeout = httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout))
            self._clients = [
                httpx.AsyncClient(headers=headers, transport=self._transport, timeout=timeout,
                                  limits=httpx.Limits(max_connections=size, max_keepalive_connections=size))
                for size in self._sizes
            ]
            self._busy = [0] * len(self._sizes)
            self._sem = asyncio.Semaphore(n)
        return self._sem

    async def _post(self, body: dict) -> httpx.Response:
        async with self._ensure():
            lane = max(range(len(self._sizes)), key=lambda i: self._sizes[i] - self._busy[i])
            self._busy[lane] += 1
            self.requests_sent += 1
            try:
                return await self._clients[lane].post(self.url, json=body)
            finally:
                self._busy[lane] -= 1

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients, self._sizes, self._busy = [], [], []
        self._sem = None

    async def __aenter__(self) -> "OpenAIBackend":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def _body(self, messages: list[dict], temperature: float | None, max_tokens: int | None) -> dict:
        body: dict[str, Any] = {
            "model": self.model, "messages": messages,
            "temperature": self.config.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
        }
        body.update(self.config.extra_body)
        return body

    # ------------------------------------------------------------------ the call
    async def chat(self, messages: list[dict], *, temperature: float | None = None,
                   max_tokens: int | None = None) -> GenResult:
        """POST one chat completion, retrying transient failures. Raises BackendError."""
        body = self._body(messages, temperature, max_tokens)
        t0 = time.perf_counter()
        last = "no attempt made"
        status: int | None = None
        attempts = 0
        for attempt in range(1, self.config.max_retries + 2):
            attempts = attempt
            retry_after = None
            try:
                resp = await self._post(body)
            except httpx.TimeoutException as e:
                last, status = f"timeout after {self.config.timeout:g} s ({type(e).__name__})", None
            except httpx.TransportError as e:
                last, status = f"connection error: {type(e).__name__}: {e}", None
            else:
                status = resp.status_code
                if resp.status_code == 200:
                    return self._result(resp, attempts, time.perf_counter() - t0)
                detail = resp.text[:300].strip().replace("\n", " ")
                last = f"HTTP {resp.status_code}: {detail}" if detail else f"HTTP {resp.status_code}"
                if not is_retryable_status(resp.status_code):
                    raise BackendError(last, attempts=attempts, latency=time.perf_counter() - t0,
                                       status=status, retryable=False, raw=resp.text)
                retry_after = retry_after_seconds(resp.headers)
            if attempt > self.config.max_retries:
                break
            await asyncio.sleep(self.policy.delay(attempt, retry_after))
        raise BackendError(f"{last} (gave up after {attempts} attempts)", attempts=attempts,
                           latency=time.perf_counter() - t0, status=status, retryable=True)

    def _result(self, resp: httpx.Response, attempts: int, latency: float) -> GenResult:
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as e:
            raise BackendError(f"malformed response: {type(e).__name__}: {str(e)[:120]}", attempts=attempts,
                               latency=latency, status=resp.status_code, raw=resp.text[:20_000]) from None
        if not isinstance(text, str):
            raise BackendError(f"malformed response: message content is {type(text).__name__}, not text",
                               attempts=attempts, latency=latency, status=resp.status_code, raw=resp.text[:20_000])
        usage = data.get("usage") or {}
        return GenResult(
            text=text, backend=self.backend, model=str(data.get("model") or self.model),
            prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
            latency=latency, attempts=attempts, finish_reason=choice.get("finish_reason"),
        )

    async def generate(self, req: GenRequest) -> GenResult:
        return await self.chat(req.messages, temperature=req.temperature, max_tokens=req.max_tokens)

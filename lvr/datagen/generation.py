"""The QA-generation job: clip captions → one reasoning item per (video, category, index).

    from lvr.datagen import generate_qa, BackendConfig, GenerateConfig
    report = generate_qa(ws, BackendConfig.from_env(kind="openai", model="deepseek-r1"),
                         GenerateConfig(categories=("temporal", "goal"), per_category=4, concurrency=16))

Mirrored by `lvr generate WS --backend … --categories … --per-category K`.

One unit of work = one item, key `<video>/<category>/<index>`:
  1. prompt = all clip captions of the video in time order + the category's brief (prompts.py),
     plus the questions already stored for that video and category (ask something else);
  2. the answer is parsed (parsing.parse_item) and validated (validation.item_problems);
     a bad answer is kept in gen_outputs (task "qa", ok=0, with the reason) and the unit is
     tried again, up to `attempts` times in this run;
  3. the rewrite call turns the caption-grounded reasoning into "as if watching" reasoning
     (task "rewrite"; checked by validation.rewrite_problems, retried the same way);
  4. the item goes to the store (status "pending", source "<backend>:<model>", reasoning_raw +
     reasoning, start/end spanning the cited ranges, the ranges in meta) in ONE transaction with
     the successful "qa" and "rewrite" rows. That row is the unit's done-marker, so killing the
     process at any point and running again finishes the rest without duplicates.
Units that failed every attempt stay visible (`failures()`, `lvr generate WS --failures`) and are
tried again by the next run.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from lvr.datagen.backends import make_text_backend, source_name
from lvr.datagen.config import GenerateConfig
from lvr.datagen.parsing import ParsedItem, ParseError, parse_item, parse_rewrite, strip_layout
from lvr.datagen.prompts import captions_block, qa_messages, rewrite_messages
from lvr.datagen.protocols import TextBackend
from lvr.datagen.runner import JobReport, JobTracker, run_pool
from lvr.datagen.validation import item_problems, rewrite_problems
from lvr.llm import BackendConfig, BackendError, GenRequest, GenResult, run_coroutine
from lvr.store import Workspace

TASK, REWRITE_TASK = "qa", "rewrite"


def unit_key(video_id: str, category: str, index: int) -> str:
    return f"{video_id}/{category}/{index}"


@dataclass
class Unit:
    video_id: str
    category: str
    index: int

    @property
    def key(self) -> str:
        return unit_key(self.video_id, self.category, self.index)


def generation_units(ws: Workspace, config: GenerateConfig) -> tuple[list[Unit], int, list[str]]:
    """(units to do, units already done, videos skipped because they have no captions)."""
    if config.videos:
        video_ids = list(config.videos)
        for vid in video_ids:
            ws.get_video(vid)
    else:
        video_ids = [v["id"] for v in ws.list_videos()]
    done = ws.done_keys(TASK)
    todo, already, skipped = [], 0, []
    for vid in video_ids:
        if not any((c.get("caption") or "").strip() for c in ws.clips(vid)):
            skipped.append(vid)
            continue
        for cat in config.categories:
            for i in range(config.per_category):
                u = Unit(vid, cat, i)
                if u.key in done:
                    already += 1
                else:
                    todo.append(u)
    # interleave videos so early results cover many videos
    todo.sort(key=lambda u: (u.index, config.categories.index(u.category), video_ids.index(u.video_id)))
    return todo, already, skipped


class _Generator:
    def __init__(self, ws: Workspace, llm: TextBackend, config: GenerateConfig, tracker: JobTracker):
        self.ws, self.llm, self.config, self.tracker = ws, llm, config, tracker
        self.source = source_name(llm)
        self._videos: dict[str, tuple[dict, list[dict], str]] = {}

    def video(self, vid: str) -> tuple[dict, list[dict], str]:
        if vid not in self._videos:
            clips = [c for c in self.ws.clips(vid)]
            self._videos[vid] = (self.ws.get_video(vid), clips, captions_block(clips))
        return self._videos[vid]

    def log(self, task: str, unit: Unit, ok: bool, raw: str | None, reason: str | None, prompt: str,
            res: GenResult | None = None, err: BackendError | None = None, qa_id: int | None = None) -> None:
        if res is not None:
            acct = res.accounting()
        else:
            acct = {"backend": self.llm.backend, "model": self.llm.model,
                    "attempts": err.attempts if err else None, "latency": err.latency if err else None}
        self.ws.add_gen_output(task=task, key=unit.key, ok=ok, raw=raw, reason=reason, job_id=self.tracker.job_id,
                               video_id=unit.video_id, category=unit.category, prompt=prompt, qa_id=qa_id, **acct)

    async def call(self, task: str, unit: Unit, messages: list[dict]) -> tuple[GenResult | None, str]:
        """(result, prompt text) — or (None, failure reason) when the backend gave up (already logged)."""
        req = GenRequest(messages=messages, task=task, key=unit.key, video_id=unit.video_id, category=unit.category,
                         index=unit.index, temperature=self.config.temperature, max_tokens=self.config.max_tokens)
        prompt = req.prompt_text()
        self.tracker.note(f"{unit.key}: {task} call to {self.llm.model or self.llm.backend}")
        try:
            res = await self.llm.generate(req)
        except BackendError as e:
            self.log(task, unit, False, e.raw, f"backend: {e.reason}", prompt, err=e)
            return None, f"backend: {e.reason}"
        self.tracker.account(res.prompt_tokens, res.completion_tokens)
        return res, prompt

    async def generate_item(self, unit: Unit) -> tuple[ParsedItem, GenResult, str] | str:
        video, clips, captions = self.video(unit.video_id)
        avoid = [r["question"] for r in self.ws.query(
            "SELECT question FROM qa WHERE video_id = ? AND category = ? ORDER BY id LIMIT 20",
            (unit.video_id, unit.category))]
        messages = qa_messages(unit.category, captions, index=unit.index, per_category=self.config.per_category,
                               duration=video.get("duration"), min_ranges=self.config.min_ranges, avoid=avoid)
        reason = "no attempt"
        for _ in range(self.config.attempts):
            res, prompt = await self.call(TASK, unit, messages)
            if res is None:   # the backend gave up after its own retries: `prompt` holds the reason
                return prompt
            try:
                item = parse_item(res.text)
            except ParseError as e:
                reason = f"parse: {e.reason}"
                self.log(TASK, unit, False, res.text, reason, prompt, res)
                continue
            problems = item_problems(item, clips=clips, duration=video.get("duration"),
                                     min_ranges=self.config.min_ranges, min_clips=self.config.min_clips)
            if problems:
                reason = "invalid: " + "; ".join(problems)
                self.log(TASK, unit, False, res.text, reason, prompt, res)
                continue
            return item, res, prompt
        return reason

    async def rewrite(self, unit: Unit, item: ParsedItem) -> tuple[str, GenResult | None, str] | str:
        raw = item.reasoning_raw()
        if not self.config.rewrite:
            return strip_layout(raw), None, ""
        messages = rewrite_messages(item.question, item.options, item.answer, raw)
        reason = "no attempt"
        for _ in range(self.config.attempts):
            res, prompt = await self.call(REWRITE_TASK, unit, messages)
            if res is None:   # `prompt` holds the backend's reason
                return "rewrite " + prompt
            try:
                prose = parse_rewrite(res.text)
            except ParseError as e:
                reason = f"rewrite parse: {e.reason}"
                self.log(REWRITE_TASK, unit, False, res.text, reason, prompt, res)
                continue
            problems = rewrite_problems(prose, raw, min_fact_overlap=self.config.min_fact_overlap)
            if problems:
                reason = "rewrite invalid: " + "; ".join(problems)
                self.log(REWRITE_TASK, unit, False, res.text, reason, prompt, res)
                continue
            return prose, res, prompt
        return reason

    async def work(self, unit: Unit) -> None:
        got = await self.generate_item(unit)
        if isinstance(got, str):
            self.tracker.record(unit.key, False, got)
            return
        item, res, prompt = got
        rw = await self.rewrite(unit, item)
        if isinstance(rw, str):
            # the item itself was fine: keep its answer visible as a failure of this unit
            self.log(TASK, unit, False, res.text, f"rewrite failed: {rw}", prompt, res)
            self.tracker.record(unit.key, False, rw)
            return
        prose, rw_res, rw_prompt = rw
        self.store(unit, item, res, prompt, prose, rw_res, rw_prompt)

    def store(self, unit: Unit, item: ParsedItem, res: GenResult, prompt: str, prose: str,
              rw_res: GenResult | None, rw_prompt: str) -> None:
        video, clips, _ = self.video(unit.video_id)
        start, end = item.span()
        meta = {"gen_key": unit.key, "job_id": self.tracker.job_id, "index": unit.index,
                "ranges": [[r.start, r.end] for r in item.ranges],
                "captioners": sorted({c["captioner"] for c in clips if c.get("captioner")}),
                "rewrite": "llm" if rw_res is not None else "none"}
        if item.conclusion:
            meta["conclusion"] = item.conclusion
        with self.ws.transaction():
            if self.ws.scalar("SELECT 1 FROM gen_outputs WHERE task = ? AND key = ? AND ok = 1",
                              (TASK, unit.key)):
                return  # finished by a concurrent run in the meantime: no duplicate
            qa_id = self.ws.add_qa({
                "video_id": unit.video_id, "category": unit.category, "question": item.question,
                "options": item.options, "answer": item.answer, "reasoning": prose,
                "reasoning_raw": item.reasoning_raw(), "status": "pending", "source": self.source,
                "split": self.config.split, "start": start, "end": end, "meta": meta,
            }, who=self.tracker.job_id)
            if rw_res is not None:
                self.log(REWRITE_TASK, unit, True, rw_res.text, None, rw_prompt, rw_res, qa_id=qa_id)
            self.log(TASK, unit, True, res.text, None, prompt, res, qa_id=qa_id)
        self.tracker.record(unit.key, True)


async def generate_qa_async(ws: Workspace, llm: TextBackend, config: GenerateConfig, *,
                            job_config: dict | None = None,
                            progress: Callable[[JobReport], None] | None = None) -> JobReport:
    todo, already, skipped = generation_units(ws, config)
    tracker = JobTracker.start(ws, "generate", {"source": source_name(llm), **(job_config or {})},
                               total=len(todo), already_done=already, progress=progress)
    tracker.report.extra["videos_without_captions"] = skipped
    gen = _Generator(ws, llm, config, tracker)
    try:
        await run_pool(todo, gen.work, config.concurrency)
    except (asyncio.CancelledError, KeyboardInterrupt):
        tracker.finish("cancelled")
        raise
    except Exception as e:
        tracker.finish("failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        await llm.aclose()
    return tracker.finish("succeeded")


def generate_qa(ws: Workspace, backend: BackendConfig, config: GenerateConfig | None = None, *,
                factory: str | None = None, progress: Callable[[JobReport], None] | None = None) -> JobReport:
    """Generate the items not yet done (see module docstring); returns the job's report."""
    config = config or GenerateConfig()
    llm = make_text_backend(backend, ws, factory)
    job_config = {"backend": backend.public(), "generate": {k: v for k, v in vars(config).items()}}
    return run_coroutine(generate_qa_async(ws, llm, config, job_config=job_config, progress=progress))


def failures(ws: Workspace, *, tasks: tuple[str, ...] = (TASK, REWRITE_TASK), job_id: str | None = None,
             pending_only: bool = True, limit: int = 200) -> list[dict]:
    """Failed outputs of `tasks` (newest first). `pending_only` hides units that later succeeded.

    `tasks` defaults to generation (qa, rewrite); pass ("caption",) for captioning, ("import",) for imports.
    """
    rows = []
    for t in tasks:
        rows += ws.gen_outputs(task=t, ok=False, job_id=job_id, limit=limit)
    if pending_only:
        done = {t: ws.done_keys(t) for t in {*tasks, TASK}}
        done[REWRITE_TASK] = done.get(TASK, set()) | done.get(REWRITE_TASK, set())
        rows = [r for r in rows if r["key"] not in done.get(r["task"], set())]
    rows.sort(key=lambda r: r["id"], reverse=True)
    return rows[:limit]

"""Chat tab handlers: the frames a checkpoint sees, one streamed exchange, comparing two checkpoints, saving a QA item.

    sampled = load_frames(ws, video_id, None, 8)      # 8 uniform exact frames (workspace frame cache)
    for history, *rest in send(ws, pool, ckpt_id, video_id, None, 8, True, 0.0, 128, 0, "Why?", "a", "b", "c", "d",
                               []): ...                # streamed chat updates, then the save-form values
    gallery, info = frames_view(ws, video_id, None, 8)
    save_qa(ws, video_id, None, "Why?", "a", "b", "c", "d", "B", "thinking…", "temporal", "pending",
            "chat:" + ckpt_id, 8)                      # → status line

An `Exchange` collects the streamed model output (thinking, answer, text outside the tags) and
renders it for a `gr.Chatbot` with `reasoning_tags` ("<think>…</think>", then "**Answer: B — option
text**"). Models come from `workbench.model_pool`. The Gradio wiring is in `chat_tab.py`.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import gradio as gr
from PIL import Image

from lvr.eval.reading import preferred_checkpoint, reading_summary, video_reading
from lvr.ingest import ingest_file
from lvr.media import frame_spec, video_frames, workspace_frames
from lvr.model import CheckpointError, extract_letter, format_mcq
from lvr.store import CATEGORIES
from lvr.store.qa import text_length_problem
from lvr.video import SampledFrames, VideoError
from lvr.video.timefmt import fmt_time_tenths
from workbench.identity import username
from workbench.model_pool import ModelPool, registered_checkpoint
from workbench.train import trained_frames

LETTERS = "ABCD"
THINK_TAGS = [("<think>", "</think>")]
FRAMES_MIN, FRAMES_MAX = 4, 64
SAVE_STATUSES = ["pending", "draft"]
THUMB_SIDE = 192


# ---------------------------------------------------------------------- choices and inputs
def checkpoint_choices(ws) -> list[tuple[str, str]]:
    """(label, id) per registered checkpoint, newest first; the label shows stage, step and lineage."""
    out = []
    for c in reversed(ws.list_checkpoints()):
        chain = " → ".join(r["stage"] for r in ws.checkpoint_lineage(c["id"]))
        step = f" step {c['step']}" if c.get("step") is not None else ""
        out.append((f"{c['id']} · {c['stage']}{step} · {chain}", c["id"]))
    return out


def reading_line(ws, ckpt_id: str | None) -> str:
    """Whether `ckpt_id` reads its video: its own-video evaluation against another video's frames (lvr.eval.reading)."""
    found = registered_checkpoint(ws, ckpt_id)
    return reading_summary(video_reading(ws, found)) if found else ""


def known_checkpoint(ws, ckpt_id: str | None) -> str | None:
    """The registered checkpoint `ckpt_id` names (id, latest:<stage>, or its folder; checkpoints made after the app
    started included), else an error that names no server path."""
    if not ckpt_id:
        return None
    found = registered_checkpoint(ws, ckpt_id)
    if found is None:
        raise gr.Error(f"checkpoint: no checkpoint {ckpt_id!r} in this workspace (an id, latest:sft, or a "
                       "registered checkpoint's folder; ↻ refresh lists)")
    return found


def no_paths(text: str) -> str:
    """`text` with every absolute file path cut to its file name (server paths never reach a visitor)."""
    return re.sub(r"(?:[A-Za-z]:)?(?:[/\\][^\s'\"/\\:]+)+[/\\]([^\s'\"/\\:]+)", r"\1", str(text))


def frames_for(ws, ckpt_id: str | None, default: int | None = None) -> int | None:
    """The frame count to ask `ckpt_id` with: what it was trained on (clamped to the slider), else `default`."""
    n = trained_frames(ws, ckpt_id)
    return default if n is None else max(FRAMES_MIN, min(FRAMES_MAX, n))


def pick_frames(ws, ckpt_id: str | None):
    """Slider update when a checkpoint is picked: its training frame count (the value left alone when unknown)."""
    n = frames_for(ws, ckpt_id)
    if n is None:
        return gr.Slider(info=f"{ckpt_id}: not trained by a job of this workspace (frame count unknown)")
    return gr.Slider(value=n, info=f"{ckpt_id} was trained on {n} frames per video")


def followed_checkpoint(ws, current: str | None, user_picked: bool) -> str | None:
    """The checkpoint a refresh switches to: the best trained one until the visitor picks one (None: keep it)."""
    top = preferred_checkpoint(ws)
    return None if user_picked or not top or top == current else top


def video_choices(ws) -> list[tuple[str, str]]:
    return [(f"{v['filename']} · {v['duration'] or 0:.0f} s · {v['id']}", v["id"]) for v in ws.list_videos()]


def _options(*opts: str | None) -> list[str]:
    return [o.strip() for o in opts if o and o.strip()]


def _upload_path(upload) -> str | None:
    return str(upload) if upload else None      # gr.Video hands the handler a file path


def load_frames(ws, video_id: str | None, upload, n_frames: float) -> SampledFrames:
    """The frames the model sees: `n_frames` uniform exact frames (workspace videos via the frame cache)."""
    n = int(n_frames or 0)
    if not FRAMES_MIN <= n <= FRAMES_MAX:
        raise gr.Error(f"frames must be between {FRAMES_MIN} and {FRAMES_MAX}, got {n_frames!r}")
    spec = frame_spec(n)
    path = _upload_path(upload)
    try:
        if path:
            return video_frames(path, spec)
        if not video_id:
            raise gr.Error("pick a workspace video or upload one")
        try:
            video = ws.get_video(video_id)
        except KeyError:
            raise gr.Error(f"workspace video: no video {video_id!r} in this workspace (↻ refresh lists)") from None
        return workspace_frames(ws, video, spec)
    except VideoError as e:
        what = "the uploaded video" if path else "the video"
        raise gr.Error(f"cannot read {what}: {no_paths(e)} (upload an .mp4, .webm or .mov file)") from None


def gallery_items(sampled: SampledFrames, max_side: int = THUMB_SIDE) -> list[tuple[Image.Image, str]]:
    """One (thumbnail, "#k · mm:ss.s") per frame the model saw."""
    out = []
    for k, (frame, ts) in enumerate(zip(sampled.frames, sampled.timestamps)):
        img = Image.fromarray(frame)
        img.thumbnail((max_side, max_side))
        out.append((img, f"#{k + 1} · {fmt_time_tenths(ts)}"))
    return out


def _checkpoint_dir(ws, ckpt_id: str | None) -> str:
    if not ckpt_id:
        raise gr.Error("checkpoint: pick one")
    return ws.get_checkpoint(known_checkpoint(ws, ckpt_id))["abspath"]


# ---------------------------------------------------------------------- one streamed exchange
class Exchange:
    """The growing model output of one question: thinking, answer and any text outside the tags."""

    def __init__(self, options: list[str], think: bool):
        self.options, self.think = options, think
        self.thinking = self.answer = self.text = self.full = ""
        self.done, self.seconds, self.footer = False, 0.0, ""
        self.option_probs: list[float] | None = None   # the options' shares after this reasoning (lvr.model.choice)

    def feed(self, kind: str, text: str) -> None:
        if kind == "thinking":
            self.thinking += text
        elif kind == "answer":
            self.answer += text
        elif kind == "text":
            self.text += text
        elif kind == "done":
            self.done, self.full = True, text

    @property
    def letter(self) -> str | None:
        return extract_letter(self.answer, len(self.options) or 4, self.options or None) if self.answer else None

    def answer_line(self) -> str:
        if not self.done:
            return f"Answer: {self.answer.strip()}" if self.answer else ""
        letter = self.letter
        if letter:
            i = LETTERS.index(letter)
            opt = f" — {self.options[i]}" if i < len(self.options) else ""
            return f"**Answer: {letter}{opt}**"
        if self.answer.strip():
            return f"**Answer: {self.answer.strip()}**"
        return "_No answer: the model stopped without an `<answer>` tag._"

    def choice_line(self) -> str:
        """The option the model finds likeliest after its reasoning, with each option's share (what eval's
        `--answer-mode choice` scores); empty without four options."""
        if not self.option_probs:
            return ""
        best = max(range(len(self.option_probs)), key=self.option_probs.__getitem__)
        shares = " · ".join(f"{LETTERS[i]} {p:.0%}" for i, p in enumerate(self.option_probs))
        return (f"Likeliest option after this reasoning: **{LETTERS[best]} — {self.options[best]}** "
                f"({shares})")

    def render(self) -> str:
        """Chat text: `<think>…</think>` (left open while the model still thinks) then the answer."""
        parts = []
        if self.thinking.strip():
            closed = self.done or self.answer or self.text.strip()
            parts.append(f"<think>{self.thinking.strip()}" + ("</think>" if closed else ""))
        for piece in (self.text.strip(), self.answer_line(), self.choice_line(), self.footer):
            if piece:
                parts.append(piece)
        return "\n\n".join(parts) or "…"


def stream_exchange(pool: ModelPool, ckpt_dir: str, ckpt_id: str, sampled: SampledFrames, question: str,
                    options: list[str], think: bool, temperature: float, max_tokens: float, seed: float | None):
    """Yield the same `Exchange` after every streamed event (the last one has `done` set)."""
    ex = Exchange(options, think)
    t0 = time.monotonic()
    try:
        sampling = float(temperature or 0)
        events = pool.stream(ckpt_dir, sampled.frames, question, options or None,
                             timestamps=sampled.timestamps, think=bool(think), max_new_tokens=int(max_tokens),
                             temperature=sampling, top_p=0.95 if sampling > 0 else 1.0,
                             seed=None if seed is None else int(seed))
        for ev in events:
            ex.feed(ev.kind, ev.text)
            if ev.kind != "done":
                yield ex
        ex.seconds = time.monotonic() - t0           # the stream has ended, so the model slot is free again
        if len(options) == len(LETTERS) and ex.done:
            ex.option_probs = pool.option_probabilities(ckpt_dir, sampled.frames, question, options, ex.full,
                                                        timestamps=sampled.timestamps, think=bool(think))
        ex.footer = f"_{ckpt_id} · {len(sampled)} frames · thinking {'on' if think else 'off'} · {ex.seconds:.1f} s_"
        yield ex
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise gr.Error(f"checkpoint {ckpt_id}: {e}") from None


def _asked(question: str | None, *opts: str | None) -> tuple[str, list[str]]:
    """The question and its non-empty options, refused when empty or when the store's length rule refuses them."""
    if not question or not question.strip():
        raise gr.Error("type a question")
    question, options = question.strip(), _options(*opts)
    too_long = text_length_problem(question, options)
    if too_long:
        raise gr.Error(too_long)
    return question, options


# ---------------------------------------------------------------------- handlers
def send(ws, pool, ckpt_id, video_id, upload, n_frames, think, temperature, max_tokens, seed, question,
         opt_a, opt_b, opt_c, opt_d, history):
    """Stream one answer into the chat; at the end fill the save form (answer, reasoning, source)."""
    question, options = _asked(question, opt_a, opt_b, opt_c, opt_d)
    ckpt_dir = _checkpoint_dir(ws, ckpt_id)
    ckpt_id = known_checkpoint(ws, ckpt_id)         # latest:sft or a folder → its id
    sampled = load_frames(ws, video_id, upload, n_frames)
    history = list(history or []) + [{"role": "user", "content": format_mcq(question, options)},
                                     {"role": "assistant", "content": "…"}]
    skip, gallery = gr.skip(), gallery_items(sampled)
    info = frames_info(sampled)
    yield history, gallery, skip, skip, skip, f"{ckpt_id} is watching {len(sampled)} frames…", info
    ex = None
    for ex in stream_exchange(pool, ckpt_dir, ckpt_id, sampled, question, options, think, temperature,
                              max_tokens, seed):
        history[-1] = {"role": "assistant", "content": ex.render()}
        if not ex.done:
            yield history, skip, skip, skip, skip, skip, skip
    letter = ex.letter if ex else None
    status = f"{ckpt_id} answered {letter or '(no letter)'} in {ex.seconds:.1f} s" if ex else "no output"
    yield (history, gallery, letter, ex.thinking.strip() if ex else "", f"chat:{ckpt_id}", status, info)


def compare(ws, pool, ckpt_b, ckpt_a, video_id, upload, n_frames, think, temperature, max_tokens, seed, question,
            opt_a, opt_b, opt_c, opt_d):
    """The same question to two checkpoints, one after the other (same frames, same seed)."""
    question, options = _asked(question, opt_a, opt_b, opt_c, opt_d)
    dirs = [_checkpoint_dir(ws, ckpt_a), _checkpoint_dir(ws, ckpt_b)]
    ckpt_a, ckpt_b = known_checkpoint(ws, ckpt_a), known_checkpoint(ws, ckpt_b)
    sampled = load_frames(ws, video_id, upload, n_frames)
    user = {"role": "user", "content": format_mcq(question, options)}
    chats: list[list[dict]] = [[user, {"role": "assistant", "content": "…"}], [user, {"role": "assistant",
                                                                                    "content": "(waiting)"}]]
    skip, gallery = gr.skip(), gallery_items(sampled)
    yield chats[0], chats[1], gallery, "comparing…"
    letters = []
    for side, (ckpt_id, ckpt_dir) in enumerate(zip((ckpt_a, ckpt_b), dirs)):
        ex = None
        for ex in stream_exchange(pool, ckpt_dir, ckpt_id, sampled, question, options, think, temperature,
                                  max_tokens, seed):
            chats[side] = [user, {"role": "assistant", "content": ex.render()}]
            yield (chats[0], skip, skip, skip) if side == 0 else (skip, chats[1], skip, skip)
        letters.append((ex.letter if ex else None) or "—")
    verdict = "agree" if letters[0] == letters[1] else "disagree"
    yield chats[0], chats[1], gallery, f"{ckpt_a}: {letters[0]} · {ckpt_b}: {letters[1]} ({verdict})"


def frames_view(ws, video_id, upload, n_frames):
    if not video_id and not _upload_path(upload):
        return [], "pick a workspace video or upload one"
    sampled = load_frames(ws, video_id, upload, n_frames)
    return gallery_items(sampled), frames_info(sampled)


def frames_info(sampled: SampledFrames) -> str:
    """"8 frames (00:01.2 – 00:58.0), 112×112": the line under the gallery."""
    ts = sampled.timestamps
    span = f"{fmt_time_tenths(ts[0])} – {fmt_time_tenths(ts[-1])}" if len(sampled) else ""
    h, w = sampled.frames.shape[1:3]
    return f"{len(sampled)} frames ({span}), {w}×{h}"


def save_qa(ws, video_id, upload, question, opt_a, opt_b, opt_c, opt_d, answer, reasoning, category, status,
            source, n_frames, request: gr.Request | None = None) -> str:
    """Store the exchange as a new QA item (pending/draft) for review; returns a status line."""
    who = username(request)
    question, options = _asked(question, opt_a, opt_b, opt_c, opt_d)
    if len(options) != 4:
        raise gr.Error(f"a QA item needs 4 options, got {len(options)} (fill the four option boxes)")
    if answer not in LETTERS:
        raise gr.Error("pick the correct answer letter (A–D)")
    if category not in CATEGORIES:
        raise gr.Error(f"pick a category ({', '.join(CATEGORIES)})")
    if status not in SAVE_STATUSES:
        raise gr.Error(f"status must be one of {SAVE_STATUSES}")
    if not source or not source.startswith("chat:"):
        raise gr.Error("ask a checkpoint first: the item records which checkpoint answered")
    known_checkpoint(ws, source.strip()[5:])     # provenance names a checkpoint of this workspace, nothing else
    path = _upload_path(upload)
    if path:
        try:
            video_id, _ = ingest_file(ws, Path(path), copy=True, source="chat-upload")
        except (VideoError, OSError, ValueError) as e:
            raise gr.Error(f"cannot add the uploaded video to the workspace: {no_paths(e)}") from None
    if not video_id:
        raise gr.Error("pick a workspace video or upload one")
    item = dict(video_id=video_id, category=category, question=question, options=options, answer=answer,
                reasoning=(reasoning or "").strip(), status=status, source=source.strip(),
                meta={"chat": {"checkpoint": source.strip()[5:], "frames": int(n_frames or 0), "by": who}})
    try:
        qa_id = ws.add_qa(item, who=who)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return f"Saved QA item #{qa_id} ({status}, {category}, answer {answer}) from {source} as {who}"

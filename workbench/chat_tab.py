"""The Chat tab: ask a checkpoint about a video, watch it think, compare two checkpoints, save a QA item.

    with gr.Tab("Chat"):
        build_chat_tab(ws)          # optional: pool=ModelPool(...) (default: the app-wide pool)

The answer streams into a `gr.Chatbot(reasoning_tags=[("<think>", "</think>")])`, so the model's
thinking shows as a collapsible "Reasoning" block and the answer is highlighted
("**Answer: B — option text**"). The gallery shows the frames the model saw, captioned with their
timestamps. Models come from `workbench.model_pool` (LRU of loaded checkpoints, one generation
at a time; the events are in Gradio's concurrency group "model", limit 1). Every handler has a
`chat_*` api_name, so `gradio_client` can drive the tab (inputs in the order shown):

    common = (ckpt_id, video_id, None, 8, True, 0.0, 128, 0, "Why?", "opt A", "opt B", "opt C", "opt D")
    client.predict(*common, [], api_name="/chat_send")   # → chatbot, gallery, answer, reasoning, source, status
    client.predict(other_ckpt_id, *common, api_name="/chat_compare")  # → chatbot A, chatbot B, gallery, status
    client.predict(video_id, None, 8, api_name="/chat_frames")           # → gallery, info
    client.predict(video_id, None, "Why?", "a", "b", "c", "d", "B", "thinking…", "temporal", "pending",
                   "chat:" + ckpt_id, 8, api_name="/chat_save_qa")   # → status
    client.predict(api_name="/chat_refresh")     # → checkpoint, compare-with, video dropdowns

Picking a checkpoint sets the frames slider to what it was trained on (its training job's
`data.num_frames`, `/chat_pick_checkpoint`); the tiny demo models answer well only at that count.
The third input is an uploaded video (`handle_file("clip.mp4")`); it takes precedence over the
workspace video, and saving an item ingests it into the workspace first. Sampling (temperature
> 0) uses top_p 0.95 and the given seed; a comparison gives both checkpoints the same seed.
"""
from __future__ import annotations

import re
import time
from functools import partial
from pathlib import Path

import gradio as gr
from gradio.context import Context
from PIL import Image

from lvr.ingest import ingest_file
from lvr.model import CheckpointError, extract_letter, format_mcq
from lvr.store import CATEGORIES
from lvr.video import FrameCache, SampledFrames, SamplingSpec, VideoError, cached_sample, sample_frames
from workbench.identity import username
from workbench.model_pool import CONCURRENCY_ID, ModelPool, default_pool, registered_checkpoint
from workbench.train_tab import trained_frames

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


# Which checkpoint Chat opens on: the newest of the most trained stage (GRPO, then SFT, then any other
# trained stage); the random-init base model only when nothing was trained.
STAGE_RANK = {"grpo": 0, "sft": 1}


def best_checkpoint(ws) -> str | None:
    """The id of the best trained checkpoint (newest GRPO, else newest SFT, else newest non-base), else the newest."""
    ckpts = list(reversed(ws.list_checkpoints()))          # newest first
    if not ckpts:
        return None
    trained = [c for c in ckpts if c["stage"] != "base"]
    if not trained:
        return ckpts[0]["id"]
    return min(trained, key=lambda c: STAGE_RANK.get(c["stage"], 2))["id"]   # min is stable: newest of a rank


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
    spec = SamplingSpec(mode="exact", num_frames=n)
    path = _upload_path(upload)
    try:
        if path:
            return sample_frames(path, spec)
        if not video_id:
            raise gr.Error("pick a workspace video or upload one")
        try:
            video = ws.get_video(video_id)
        except KeyError:
            raise gr.Error(f"workspace video: no video {video_id!r} in this workspace (↻ refresh lists)") from None
        cache = FrameCache(ws.frames_cache_dir)
        return cached_sample(ws.video_path(video_id), spec, cache, sha=video["sha256"])
    except VideoError as e:
        what = "the uploaded video" if path else "the video"
        raise gr.Error(f"cannot read {what}: {no_paths(e)} (upload an .mp4, .webm or .mov file)") from None


def fmt_time(t: float) -> str:
    return f"{int(t // 60):02d}:{t % 60:04.1f}"


def gallery_items(sampled: SampledFrames, max_side: int = THUMB_SIDE) -> list[tuple[Image.Image, str]]:
    """One (thumbnail, "#k · mm:ss.s") per frame the model saw."""
    out = []
    for k, (frame, ts) in enumerate(zip(sampled.frames, sampled.timestamps)):
        img = Image.fromarray(frame)
        img.thumbnail((max_side, max_side))
        out.append((img, f"#{k + 1} · {fmt_time(ts)}"))
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
        self.thinking = self.answer = self.text = ""
        self.done, self.seconds, self.footer = False, 0.0, ""

    def feed(self, kind: str, text: str) -> None:
        if kind == "thinking":
            self.thinking += text
        elif kind == "answer":
            self.answer += text
        elif kind == "text":
            self.text += text
        elif kind == "done":
            self.done = True

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

    def render(self) -> str:
        """Chat text: `<think>…</think>` (left open while the model still thinks) then the answer."""
        parts = []
        if self.thinking.strip():
            closed = self.done or self.answer or self.text.strip()
            parts.append(f"<think>{self.thinking.strip()}" + ("</think>" if closed else ""))
        for piece in (self.text.strip(), self.answer_line(), self.footer):
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
            if ev.kind == "done":
                ex.seconds = time.monotonic() - t0
                ex.footer = (f"_{ckpt_id} · {len(sampled)} frames · thinking {'on' if think else 'off'} · "
                             f"{ex.seconds:.1f} s_")
            yield ex
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise gr.Error(f"checkpoint {ckpt_id}: {e}") from None


def _question(question: str | None) -> str:
    if not question or not question.strip():
        raise gr.Error("type a question")
    return question.strip()


# ---------------------------------------------------------------------- handlers
def send(ws, pool, ckpt_id, video_id, upload, n_frames, think, temperature, max_tokens, seed, question,
         opt_a, opt_b, opt_c, opt_d, history):
    """Stream one answer into the chat; at the end fill the save form (answer, reasoning, source)."""
    question, options = _question(question), _options(opt_a, opt_b, opt_c, opt_d)
    ckpt_dir = _checkpoint_dir(ws, ckpt_id)
    ckpt_id = known_checkpoint(ws, ckpt_id)         # latest:sft or a folder → its id
    sampled = load_frames(ws, video_id, upload, n_frames)
    history = list(history or []) + [{"role": "user", "content": format_mcq(question, options)},
                                     {"role": "assistant", "content": "…"}]
    skip, gallery = gr.skip(), gallery_items(sampled)
    yield history, gallery, skip, skip, skip, f"{ckpt_id} is watching {len(sampled)} frames…"
    ex = None
    for ex in stream_exchange(pool, ckpt_dir, ckpt_id, sampled, question, options, think, temperature,
                              max_tokens, seed):
        history[-1] = {"role": "assistant", "content": ex.render()}
        if not ex.done:
            yield history, skip, skip, skip, skip, skip
    letter = ex.letter if ex else None
    status = f"{ckpt_id} answered {letter or '(no letter)'} in {ex.seconds:.1f} s" if ex else "no output"
    yield (history, gallery, letter, ex.thinking.strip() if ex else "", f"chat:{ckpt_id}", status)


def compare(ws, pool, ckpt_b, ckpt_a, video_id, upload, n_frames, think, temperature, max_tokens, seed, question,
            opt_a, opt_b, opt_c, opt_d):
    """The same question to two checkpoints, one after the other (same frames, same seed)."""
    question, options = _question(question), _options(opt_a, opt_b, opt_c, opt_d)
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
    span = f"{fmt_time(sampled.timestamps[0])} – {fmt_time(sampled.timestamps[-1])}" if len(sampled) else ""
    h, w = sampled.frames.shape[1:3]
    return gallery_items(sampled), f"{len(sampled)} frames ({span}), {w}×{h}"


def save_qa(ws, video_id, upload, question, opt_a, opt_b, opt_c, opt_d, answer, reasoning, category, status,
            source, n_frames, request: gr.Request | None = None) -> str:
    """Store the exchange as a new QA item (pending/draft) for review; returns a status line."""
    who = username(request)
    question, options = _question(question), _options(opt_a, opt_b, opt_c, opt_d)
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
    path = _upload_path(upload)
    if path:
        try:
            video_id, _ = ingest_file(ws, Path(path), copy=True, source="chat-upload")
        except (VideoError, OSError, ValueError) as e:
            raise gr.Error(f"cannot add the uploaded video to the workspace: {e}") from None
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


# ---------------------------------------------------------------------- layout
def build_chat_tab(ws, pool: ModelPool | None = None) -> None:
    """Create the Chat tab's components and events inside the enclosing Blocks/Tab context."""
    pool = pool or default_pool()
    ckpts = checkpoint_choices(ws)
    best = best_checkpoint(ws)
    other = next((c for _, c in ckpts if c != best), None)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            # any registered checkpoint is accepted, also one made after the app started (checked in the handlers)
            ckpt = gr.Dropdown(ckpts, value=best, label="checkpoint", allow_custom_value=True,
                               elem_id="chat-checkpoint")
            ckpt_b = gr.Dropdown(ckpts, value=other, label="compare with", allow_custom_value=True)
            video = gr.Dropdown(video_choices(ws), label="workspace video")
            upload = gr.Video(label="…or upload a video (used instead)", sources=["upload"], height=180)
            refresh_btn = gr.Button("↻ refresh lists", size="sm")
            n0 = frames_for(ws, best)
            n_frames = gr.Slider(FRAMES_MIN, FRAMES_MAX, value=n0 or 16, step=1, label="frames",
                                 info=f"{best} was trained on {n0} frames per video" if n0 else None)
            think = gr.Checkbox(True, label="think (<think> reasoning before the answer)")
            temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="temperature (0 = greedy)")
            max_tokens = gr.Slider(8, 2048, value=512, step=1, label="max new tokens")
            seed = gr.Number(0, precision=0, label="seed (sampling)")
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="chat", reasoning_tags=THINK_TAGS, height=420, buttons=["copy"],
                                 elem_id="chat-chatbot")
            question = gr.Textbox(label="question", placeholder="What does the chef do after the oven beeps?")
            with gr.Row():
                opts = [gr.Textbox(label=f"option {c} (optional)", scale=1) for c in LETTERS]
            with gr.Row():
                send_btn = gr.Button("Ask", variant="primary")
                cmp_btn = gr.Button("Compare the two checkpoints")
                frames_btn = gr.Button("Show frames")
                clear_btn = gr.Button("Clear chat")
            status_md = gr.Markdown()
            gallery = gr.Gallery(label="frames the model sees", columns=8, height=200, object_fit="contain")
            frames_md = gr.Markdown()
    with gr.Accordion("Side by side", open=False):
        cmp_status = gr.Markdown()
        with gr.Row():
            chat_a = gr.Chatbot(label="checkpoint", reasoning_tags=THINK_TAGS, height=380)
            chat_b = gr.Chatbot(label="compare with", reasoning_tags=THINK_TAGS, height=380)
    with gr.Accordion("Save this exchange as a QA item for review", open=False):
        with gr.Row():
            answer = gr.Dropdown(list(LETTERS), label="correct answer")
            category = gr.Dropdown(list(CATEGORIES), value=CATEGORIES[0], label="category")
            save_status = gr.Radio(SAVE_STATUSES, value="pending", label="status")
            source = gr.Textbox(label="source", interactive=False)
        reasoning = gr.Textbox(label="reasoning (the model's thinking; edit before saving)", lines=4)
        save_btn = gr.Button("Save QA item")
        saved_md = gr.Markdown()

    common = [video, upload, n_frames, think, temperature, max_tokens, seed, question, *opts]
    model_events = dict(concurrency_id=CONCURRENCY_ID, concurrency_limit=1)
    gr.on([send_btn.click, question.submit], partial(send, ws, pool), [ckpt, *common, chatbot],
          [chatbot, gallery, answer, reasoning, source, status_md], api_name="chat_send", **model_events)
    cmp_btn.click(partial(compare, ws, pool), [ckpt_b, ckpt, *common], [chat_a, chat_b, gallery, cmp_status],
                  api_name="chat_compare", **model_events)
    gr.on([frames_btn.click, video.input, upload.upload, n_frames.release], partial(frames_view, ws),
          [video, upload, n_frames], [gallery, frames_md], api_name="chat_frames")
    save_btn.click(partial(save_qa, ws), [video, upload, question, *opts, answer, reasoning, category,
                                          save_status, source, n_frames], saved_md, api_name="chat_save_qa")
    clear_btn.click(lambda: ([], "", None, "", ""), None, [chatbot, status_md, answer, reasoning, source],
                    api_name="chat_clear")

    picked = gr.State(False)         # the visitor chose a checkpoint: opening the tab keeps it

    def lists(current=None, user_picked=False):
        """Fresh choices; until the visitor picks one, the checkpoint follows the best trained one (and its frames)."""
        cs, vs = checkpoint_choices(ws), video_choices(ws)
        top = best_checkpoint(ws)
        if user_picked or not top or top == current:
            return gr.Dropdown(choices=cs), gr.Dropdown(choices=cs), gr.Dropdown(choices=vs), gr.skip()
        return (gr.Dropdown(choices=cs, value=top), gr.Dropdown(choices=cs), gr.Dropdown(choices=vs),
                pick_frames(ws, top))

    def on_pick(ckpt_id):
        known_checkpoint(ws, ckpt_id)
        return pick_frames(ws, ckpt_id), True

    ckpt.input(on_pick, ckpt, [n_frames, picked], api_name="chat_pick_checkpoint")
    refresh_btn.click(lists, [ckpt, picked], [ckpt, ckpt_b, video, n_frames], api_name="chat_refresh")
    if isinstance(Context.block, gr.Tab):  # refresh the lists whenever the enclosing tab is opened
        Context.block.select(lists, [ckpt, picked], [ckpt, ckpt_b, video, n_frames], api_name="chat_tab_opened")

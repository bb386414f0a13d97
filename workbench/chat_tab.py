"""The Chat tab: ask a checkpoint about a video, watch it think, compare two checkpoints, save a QA item.

    with gr.Tab("Chat"):
        build_chat_tab(ws)          # optional: pool=ModelPool(...) (default: the app-wide pool)

The answer streams into a `gr.Chatbot(reasoning_tags=[("<think>", "</think>")])`, so the model's
thinking shows as a collapsible "Reasoning" block and the answer is highlighted
("**Answer: B — option text**"). The gallery shows the frames the model saw, captioned with their
timestamps. Models come from `workbench.model_pool` (LRU of loaded checkpoints, one generation
at a time; the events are in Gradio's concurrency group "model", limit 1). Handlers live in
`workbench/chat.py`; every one has a `chat_*` api_name, so `gradio_client` can drive the tab
(inputs in the order shown):

    common = (ckpt_id, video_id, None, 8, True, 0.0, 128, 0, "Why?", "opt A", "opt B", "opt C", "opt D")
    client.predict(*common, [], api_name="/chat_send")   # → chatbot, gallery, answer, reasoning, source, status, info
    client.predict(other_ckpt_id, *common, api_name="/chat_compare")  # → chatbot A, chatbot B, gallery, status
    client.predict(video_id, None, 8, api_name="/chat_frames")           # → gallery, info
    client.predict(video_id, None, "Why?", "a", "b", "c", "d", "B", "thinking…", "temporal", "pending",
                   "chat:" + ckpt_id, 8, api_name="/chat_save_qa")   # → status
    client.predict(api_name="/chat_refresh")     # → checkpoint, compare-with, video dropdowns

Picking a checkpoint sets the frames slider to what it was trained on (its training job's
`data.num_frames`, `/chat_pick_checkpoint`); the tiny demo models answer well only at that count.
Under the checkpoint a line says whether it reads its video (`/chat_reading`, lvr.eval.reading: its
evaluation with its own frames against another video's, exact McNemar), and the tab opens on a
checkpoint that does when an evaluation showed one.
The third input is an uploaded video (`handle_file("clip.mp4")`); it takes precedence over the
workspace video, and saving an item ingests it into the workspace first. Sampling (temperature
> 0) uses top_p 0.95 and the given seed; a comparison gives both checkpoints the same seed.
"""
from __future__ import annotations

from functools import partial

import gradio as gr
from gradio.context import Context

from lvr.store import CATEGORIES
from lvr.store.qa import OPTION_MAX_CHARS, QUESTION_MAX_CHARS
from workbench.model_pool import CONCURRENCY_ID, ModelPool, default_pool

from . import chat


def build_chat_tab(ws, pool: ModelPool | None = None) -> None:
    """Create the Chat tab's components and events inside the enclosing Blocks/Tab context."""
    pool = pool or default_pool()
    ckpts = chat.checkpoint_choices(ws)
    best = chat.preferred_checkpoint(ws)
    other = next((c for _, c in ckpts if c != best), None)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            # any registered checkpoint is accepted, also one made after the app started (checked in the handlers)
            ckpt = gr.Dropdown(ckpts, value=best, label="checkpoint", allow_custom_value=True,
                               elem_id="chat-checkpoint")
            reading_md = gr.Markdown(chat.reading_line(ws, best), elem_id="chat-reading")
            ckpt_b = gr.Dropdown(ckpts, value=other, label="compare with", allow_custom_value=True)
            video = gr.Dropdown(chat.video_choices(ws), label="workspace video")
            upload = gr.Video(label="…or upload a video (used instead)", sources=["upload"], height=180)
            refresh_btn = gr.Button("↻ refresh lists", size="sm")
            n0 = chat.frames_for(ws, best)
            n_frames = gr.Slider(chat.FRAMES_MIN, chat.FRAMES_MAX, value=n0 or 16, step=1, label="frames",
                                 info=f"{best} was trained on {n0} frames per video" if n0 else None)
            think = gr.Checkbox(True, label="think (<think> reasoning before the answer)")
            temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="temperature (0 = greedy)")
            max_tokens = gr.Slider(8, 2048, value=512, step=1, label="max new tokens")
            seed = gr.Number(0, precision=0, label="seed (sampling)")
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="chat", reasoning_tags=chat.THINK_TAGS, height=420, buttons=["copy"],
                                 elem_id="chat-chatbot")
            question = gr.Textbox(label="question", placeholder="What does the chef do after the oven beeps?",
                                  max_lines=4,                          # a long question scrolls; Ask stays in view
                                  max_length=QUESTION_MAX_CHARS)        # the store's rule, also checked on Ask
            with gr.Row():
                opts = [gr.Textbox(label=f"option {c} (optional)", scale=1, max_lines=2, max_length=OPTION_MAX_CHARS)
                        for c in chat.LETTERS]
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
            chat_a = gr.Chatbot(label="checkpoint", reasoning_tags=chat.THINK_TAGS, height=380)
            chat_b = gr.Chatbot(label="compare with", reasoning_tags=chat.THINK_TAGS, height=380)
    with gr.Accordion("Save this exchange as a QA item for review", open=False):
        with gr.Row():
            answer = gr.Dropdown(list(chat.LETTERS), label="correct answer")
            category = gr.Dropdown(list(CATEGORIES), value=CATEGORIES[0], label="category")
            save_status = gr.Radio(chat.SAVE_STATUSES, value="pending", label="status")
            source = gr.Textbox(label="source", interactive=False)
        reasoning = gr.Textbox(label="reasoning (the model's thinking; edit before saving)", lines=4)
        save_btn = gr.Button("Save QA item")
        saved_md = gr.Markdown()

    common = [video, upload, n_frames, think, temperature, max_tokens, seed, question, *opts]
    model_events = dict(concurrency_id=CONCURRENCY_ID, concurrency_limit=1)
    gr.on([send_btn.click, question.submit], partial(chat.send, ws, pool), [ckpt, *common, chatbot],
          [chatbot, gallery, answer, reasoning, source, status_md, frames_md], api_name="chat_send", **model_events)
    cmp_btn.click(partial(chat.compare, ws, pool), [ckpt_b, ckpt, *common], [chat_a, chat_b, gallery, cmp_status],
                  api_name="chat_compare", **model_events)
    gr.on([frames_btn.click, video.input, upload.upload, n_frames.release], partial(chat.frames_view, ws),
          [video, upload, n_frames], [gallery, frames_md], api_name="chat_frames")
    save_btn.click(partial(chat.save_qa, ws), [video, upload, question, *opts, answer, reasoning, category,
                                          save_status, source, n_frames], saved_md, api_name="chat_save_qa")
    clear_btn.click(lambda: ([], "", None, "", ""), None, [chatbot, status_md, answer, reasoning, source],
                    api_name="chat_clear")

    picked = gr.State(False)         # the visitor chose a checkpoint: opening the tab keeps it

    def lists(current=None, user_picked=False):
        """Fresh choices; until the visitor picks one, the checkpoint follows the best trained one (and its frames)."""
        cs, vs = chat.checkpoint_choices(ws), chat.video_choices(ws)
        top = chat.followed_checkpoint(ws, current, user_picked)
        if top is None:
            return gr.Dropdown(choices=cs), gr.Dropdown(choices=cs), gr.Dropdown(choices=vs), gr.skip()
        return (gr.Dropdown(choices=cs, value=top), gr.Dropdown(choices=cs), gr.Dropdown(choices=vs),
                chat.pick_frames(ws, top))

    def on_pick(ckpt_id):
        chat.known_checkpoint(ws, ckpt_id)
        return chat.pick_frames(ws, ckpt_id), True

    ckpt.input(on_pick, ckpt, [n_frames, picked], api_name="chat_pick_checkpoint")
    ckpt.change(partial(chat.reading_line, ws), ckpt, reading_md, api_name="chat_reading")
    refresh_btn.click(lists, [ckpt, picked], [ckpt, ckpt_b, video, n_frames], api_name="chat_refresh")
    if isinstance(Context.block, gr.Tab):  # refresh the lists whenever the enclosing tab is opened
        Context.block.select(lists, [ckpt, picked], [ckpt, ckpt_b, video, n_frames], api_name="chat_tab_opened")

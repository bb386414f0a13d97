"""The Chat tab, driven through gradio_client against a real workspace and real tiny checkpoints.

    .venv/bin/pytest tests/workbench/test_chat_tab.py

The module fixture builds a workspace: a PyAV video ingested with lvr.ingest, a random-init tiny
composite registered as "base" and the same model fine-tuned on one question about that video
(`overfit` from tests/model/conftest.py) registered as "sft" (parent: base), so the sft checkpoint
really answers `<think>…</think><answer>B</answer>`. The tab is launched alone in-process.
"""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client, handle_file

from lvr.ingest import ingest
from lvr.model import init_tiny, load_model
from lvr.store import Workspace
from lvr.store.qa import OPTION_MAX_CHARS, QUESTION_MAX_CHARS
from lvr.video import SamplingSpec, sample_frames
from lvr.video.timefmt import fmt_time_tenths
from tests.eval.test_reading import add_run
from tests.model.conftest import OPTIONS, QUESTION, TARGET_ANSWER, TARGET_THINKING, overfit, write_video
from workbench.chat import Exchange
from workbench.chat_tab import build_chat_tab
from workbench.model_pool import ModelBusyError, ModelPool

N = 8  # frames the sft checkpoint was trained on


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("chattab")
    ws = Workspace.open(root / "ws", create=True)
    report = ingest(ws, [write_video(root / "square.mp4")])
    assert report.ok, report.errors
    vid = report.added[0]
    base_dir, sft_dir = ws.checkpoints_dir / "base", ws.checkpoints_dir / "sft"
    init_tiny(base_dir, "composite", seed=1)
    model = load_model(base_dir)
    s = sample_frames(ws.video_path(vid), SamplingSpec(mode="exact", num_frames=N))
    losses = overfit(model, s.frames, s.timestamps)
    assert losses[-1] < 0.05, f"fine-tuning failed: {losses[0]:.3f} → {losses[-1]:.3f}"
    model.save(sft_dir)
    base = ws.register_checkpoint(base_dir, kind="lvr_composite", stage="base")
    sft = ws.register_checkpoint(sft_dir, kind="lvr_composite", stage="sft", parent=base, step=len(losses))
    pool = ModelPool(capacity=2)
    with gr.Blocks() as demo:
        with gr.Tab("Chat"):
            build_chat_tab(ws, pool=pool)
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    client = Client(demo.local_url, verbose=False)
    yield dict(ws=ws, client=client, vid=vid, base=base, sft=sft, pool=pool, root=root, frames=s, steps=len(losses))
    demo.close()
    ws.close()


def common(e, ckpt=None, video=True, upload=None, n=N, think=True, max_tokens=80):
    return (ckpt or e["sft"], e["vid"] if video else None, upload, n, think, 0.0, max_tokens, 0, QUESTION, *OPTIONS)


def texts(chat):
    """(metadata title or None, text) per message of a Chatbot value read through gradio_client."""
    out = []
    for m in chat:
        parts = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        text = "".join(p.get("text", "") for p in parts if p.get("type") == "text")
        out.append(((m.get("metadata") or {}).get("title"), m["role"], text, (m.get("metadata") or {}).get("status")))
    return out


def test_api_names_and_dropdown_labels(env):
    api = set(env["client"].view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/chat_send", "/chat_compare", "/chat_frames", "/chat_save_qa", "/chat_refresh", "/chat_clear",
            "/chat_tab_opened"} <= api
    ckpt, _, video, _ = env["client"].predict(api_name="/chat_refresh")
    labels = dict((v, lab) for lab, v in ckpt["choices"])
    assert labels == {env["sft"]: f"{env['sft']} · sft step {env['steps']} · base → sft",   # newest first
                      env["base"]: f"{env['base']} · base · base"}
    assert [v for _, v in ckpt["choices"]] == [env["sft"], env["base"]]
    assert [v for _, v in video["choices"]] == [env["vid"]]


def test_text_boxes_stop_typing_at_the_stores_length_rule_and_stay_short(env):
    """The served Chat form caps the question and options where Ask (and the store) would refuse them, and a long
    question scrolls inside its box instead of pushing Ask below the fold."""
    props = {c["props"].get("label"): c["props"]
             for c in env["client"].config["components"] if c.get("type") == "textbox"}
    assert props["question"]["max_length"] == QUESTION_MAX_CHARS and props["question"]["max_lines"] == 4
    options = [props[f"option {x} (optional)"] for x in "ABCD"]
    assert [p["max_length"] for p in options] == [OPTION_MAX_CHARS] * 4 and {p["max_lines"] for p in options} == {2}


def test_send_streams_thinking_then_highlighted_answer(env):
    job = env["client"].submit(*common(env), [], api_name="/chat_send")
    chat, gallery, answer, reasoning, source, status, frames_line = job.result(timeout=120)
    msgs = texts(chat)
    assert msgs[0][:2] == (None, "user") and QUESTION in msgs[0][2] and f"B. {OPTIONS[1]}" in msgs[0][2]
    think = [m for m in msgs if m[0] == "Reasoning"]
    assert len(think) == 1 and think[0][1] == "assistant" and think[0][2] == TARGET_THINKING and think[0][3] == "done"
    prose = [m[2] for m in msgs[1:] if m[0] is None]
    assert prose and prose[0].startswith(f"**Answer: {TARGET_ANSWER} — {OPTIONS[1]}**")
    assert f"{env['sft']} · {N} frames · thinking on" in prose[0] and "<think>" not in prose[0]
    # what eval's answer_mode choice scores: the likeliest of the four options after this reasoning
    assert f"Likeliest option after this reasoning: **B — {OPTIONS[1]}** (A " in prose[0]
    assert (answer, reasoning, source) == (TARGET_ANSWER, TARGET_THINKING, f"chat:{env['sft']}")
    assert status.startswith(f"{env['sft']} answered B")
    # the frames the model saw, captioned with their timestamps
    assert [g["caption"] for g in gallery] == [f"#{k + 1} · {fmt_time_tenths(t)}" for k, t in
                                                enumerate(env["frames"].timestamps)]
    assert frames_line.startswith(f"{N} frames (")       # the line under the gallery says what the model saw
    # streamed in increments: some intermediate chat had the reasoning still open ("pending")
    partial = [texts(o[0]) for o in job.outputs()[:-1] if isinstance(o[0], list) and len(o[0]) > 1]
    assert any(m[0] == "Reasoning" and m[3] == "pending" for chat_ in partial for m in chat_)
    # a second question is appended to the history it is given
    chat2, *_ = env["client"].predict(*common(env), chat, api_name="/chat_send")
    assert len(texts(chat2)) == 2 * len(msgs)
    # options past the store's length rule are refused before any model runs (each option is scored)
    with pytest.raises(Exception, match="option A is 11,999 characters"):
        env["client"].predict(*common(env)[:-4], "word " * 2400, *OPTIONS[1:], [], api_name="/chat_send")


def test_frames_gallery_for_workspace_and_uploaded_video(env):
    gallery, info = env["client"].predict(env["vid"], None, 6, api_name="/chat_frames")
    want = sample_frames(env["ws"].video_path(env["vid"]), SamplingSpec(mode="exact", num_frames=6)).timestamps
    assert [g["caption"] for g in gallery] == [f"#{k + 1} · {fmt_time_tenths(t)}" for k, t in enumerate(want)]
    assert info.startswith("6 frames") and all(Path(g["image"]).is_file() for g in gallery)
    other = write_video(env["root"] / "other.mp4", n_frames=40)
    gallery, info = env["client"].predict(None, handle_file(str(other)), 4, api_name="/chat_frames")
    assert len(gallery) == 4 and gallery[-1]["caption"].startswith("#4 · 00:0")
    with pytest.raises(Exception, match="minimum value 4"):
        env["client"].predict(env["vid"], None, 2, api_name="/chat_frames")


def test_compare_two_checkpoints_on_the_same_question(env):
    chat_a, chat_b, gallery, status = env["client"].predict(env["base"], *common(env, max_tokens=24),
                                                           api_name="/chat_compare")
    a, b = texts(chat_a), texts(chat_b)
    assert a[0][2] == b[0][2] and QUESTION in a[0][2]
    assert any(m[0] == "Reasoning" and m[2] == TARGET_THINKING for m in a)
    assert any(m[2].startswith(f"**Answer: B — {OPTIONS[1]}**") for m in a)
    assert len(b) >= 2 and f"{env['base']} · {N} frames" in b[-1][2]   # random base: gibberish, but its own
    assert len(gallery) == N and status.startswith(f"{env['sft']}: B · {env['base']}: ")
    assert set(env["pool"].loaded()) == {env["ws"].get_checkpoint(c)["abspath"] for c in (env["base"], env["sft"])}


def test_save_exchange_as_qa_item(env):
    ws, c = env["ws"], env["client"]
    msg = c.predict(env["vid"], None, QUESTION, *OPTIONS, "B", TARGET_THINKING, "temporal", "pending",
                    f"chat:{env['sft']}", N, api_name="/chat_save_qa")
    qa_id = int(msg.split("#")[1].split(" ")[0])
    row = ws.get_qa(qa_id)
    assert {k: row[k] for k in ("video_id", "category", "question", "options", "answer", "reasoning", "status",
                                "source", "updated_by")} == dict(
        video_id=env["vid"], category="temporal", question=QUESTION, options=OPTIONS, answer="B",
        reasoning=TARGET_THINKING, status="pending", source=f"chat:{env['sft']}", updated_by="local")
    assert row["meta"]["chat"] == {"checkpoint": env["sft"], "frames": N, "by": "local"}
    # an uploaded video is ingested into the workspace first; draft status is kept
    up = write_video(env["root"] / "upload.mp4", n_frames=32)
    msg = c.predict(None, handle_file(str(up)), "Where does the square go?", "left", "right", "up",
                    "down", "B", "", "spatial", "draft", f"chat:{env['base']}", 4, api_name="/chat_save_qa")
    row = ws.get_qa(int(msg.split("#")[1].split(" ")[0]))
    assert row["status"] == "draft" and row["video_id"] not in (None, env["vid"])
    assert ws.get_video(row["video_id"])["source"] == "chat-upload"
    with pytest.raises(Exception, match="needs 4 options"):
        c.predict(env["vid"], None, QUESTION, "a", "b", "", "", "A", "", "goal", "pending", f"chat:{env['sft']}",
                  N, api_name="/chat_save_qa")
    with pytest.raises(Exception, match="ask a checkpoint first"):
        c.predict(env["vid"], None, QUESTION, *OPTIONS, "A", "", "goal", "pending", "", N, api_name="/chat_save_qa")
    with pytest.raises(Exception, match="no checkpoint '../../etc' in this workspace"):     # spoofed provenance
        c.predict(env["vid"], None, QUESTION, *OPTIONS, "A", "", "goal", "pending", "chat:../../etc", N,
                  api_name="/chat_save_qa")
    bad = env["root"] / "evil.mp4"                      # an upload that is not a video: refused, no server path
    bad.write_bytes(b"#!/bin/sh\necho hi\n")
    with pytest.raises(Exception, match="cannot add the uploaded video") as err:
        c.predict(None, handle_file(str(bad)), QUESTION, *OPTIONS, "A", "", "goal", "pending", f"chat:{env['sft']}",
                  N, api_name="/chat_save_qa")
    assert "/tmp" not in str(err.value) and "evil.mp4" in str(err.value)
    with pytest.raises(Exception, match="option D is 11,999 characters"):        # the store's length rule
        c.predict(env["vid"], None, QUESTION, *OPTIONS[:3], "word " * 2400, "A", "", "goal", "pending",
                  f"chat:{env['sft']}", N, api_name="/chat_save_qa")


def test_exchange_render_without_thinking_and_without_answer():
    ex = Exchange(["x", "y", "z", "w"], think=False)
    ex.feed("answer", "(C)")
    assert ex.render() == "Answer: (C)"
    ex.feed("done", "<answer>(C)</answer>")
    assert ex.render() == "**Answer: C — z**" and ex.letter == "C"
    ex = Exchange([], think=True)
    ex.feed("thinking", "hmm")
    assert ex.render() == "<think>hmm"                     # still thinking: the block stays open
    ex.feed("done", "<think>hmm")
    assert ex.render() == "<think>hmm</think>\n\n_No answer: the model stopped without an `<answer>` tag._"


def test_model_pool_lru_reload_and_single_slot(env, tmp_path):
    src = env["ws"].get_checkpoint(env["base"])["abspath"]
    dirs = [shutil.copytree(src, tmp_path / f"c{i}") for i in range(3)]
    pool = ModelPool(capacity=2, wait_s=0.2)
    m0 = pool.get(dirs[0])
    pool.get(dirs[1])
    assert pool.get(dirs[0]) is m0 and (pool.loads, pool.hits) == (2, 1)
    pool.get(dirs[2])                                        # evicts c1, the least recently used
    assert pool.loaded() == [str(dirs[0].resolve()), str(dirs[2].resolve())] and pool.loads == 3
    (dirs[0] / "lvr_config.json").touch()                   # a rewritten checkpoint is reloaded
    time.sleep(0.01)
    assert pool.get(dirs[0]) is not m0 and len(pool.loaded()) == 2
    # one generation at a time: a second caller waits for the slot, then gives up with a clear error
    held, release = threading.Event(), threading.Event()

    def hold():
        with pool.slot():
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    with pytest.raises(ModelBusyError, match="busy"):
        next(pool.stream(dirs[0], env["frames"].frames, QUESTION, OPTIONS, timestamps=env["frames"].timestamps,
                         max_new_tokens=4))
    release.set()
    t.join()
    events = list(pool.stream(dirs[0], env["frames"].frames, QUESTION, OPTIONS, timestamps=env["frames"].timestamps,
                              max_new_tokens=4))
    assert events[-1].kind == "done" and pool._slot.acquire(blocking=False)   # the slot was released
    pool._slot.release()


def test_the_checkpoint_line_says_whether_it_reads_its_video(env):
    ws, c = env["ws"], env["client"]
    assert "Not measured" in c.predict(env["sft"], api_name="/chat_reading")
    runs = [add_run(ws, env["sft"], [1] * 9 + [0] * 3), add_run(ws, env["sft"], [0] * 9 + [1] * 3, videos="shuffled")]
    try:
        line = c.predict(env["sft"], api_name="/chat_reading")
        assert "reads its video" in line and "75.0 %" in line and "25.0 %" in line and "12 eval items" in line
        assert c.predict("nope", api_name="/chat_reading") == ""
    finally:
        for run in runs:
            ws.conn.execute("DELETE FROM eval_runs WHERE id = ?", (run,))
        ws.conn.commit()


def test_checkpoint_made_after_start_is_accepted_and_becomes_the_default(env):
    ws, c = env["ws"], env["client"]
    late_dir = ws.checkpoints_dir / "late-grpo"
    shutil.copytree(ws.get_checkpoint(env["sft"])["abspath"], late_dir)
    late = ws.register_checkpoint(late_dir, kind="lvr_composite", stage="grpo", parent=env["sft"])
    try:
        chat, *_ = c.predict(*common(env, ckpt=late, max_tokens=8), [], api_name="/chat_send")   # not in the
        assert any(late in m[2] for m in texts(chat))                   # choices the tab was built with
        ckpt, _, _, frames = c.predict(env["sft"], api_name="/chat_refresh")   # not picked by hand: follows the best
        assert ckpt["value"] == late and late in [v for _, v in ckpt["choices"]]
        with pytest.raises(Exception, match="no checkpoint 'nope' in this workspace") as err:
            c.predict(*common(env, ckpt="nope"), [], api_name="/chat_send")
        assert str(ws.root) not in str(err.value)
    finally:
        ws.conn.execute("DELETE FROM checkpoints WHERE id = ?", (late,))
        ws.conn.commit()


def test_bad_upload_error_names_no_server_path(env, tmp_path):
    bogus = tmp_path / "notavideo.mp4"
    bogus.write_text("this is not a video")
    with pytest.raises(Exception, match="cannot read the uploaded video") as err:
        env["client"].predict(None, handle_file(str(bogus)), 4, api_name="/chat_frames")
    msg = str(err.value)
    assert "notavideo" in msg and "/tmp" not in msg and str(tmp_path) not in msg and "gradio" not in msg


@pytest.mark.browser
def test_browser_chat_opens_on_the_trained_checkpoint_with_readable_reasoning(env):
    """1440×900, the app's CSS: a newer untrained base does not become the default; the reasoning reads at the
    answer's text size and colour."""
    from tests.workbench.live import offline_page
    from workbench.app import CSS

    ws = env["ws"]
    late_dir = ws.checkpoints_dir / "late-base"
    shutil.copytree(ws.get_checkpoint(env["base"])["abspath"], late_dir)
    late = ws.register_checkpoint(late_dir, kind="lvr_composite", stage="base")
    try:
        with gr.Blocks() as demo:
            gr.HTML(f"<style>{CSS}</style>", padding=False)
            with gr.Tab("Chat"):
                build_chat_tab(ws, pool=env["pool"])
        demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
        try:
            with offline_page(demo.local_url, viewport=(1440, 900)) as page:
                assert page.input_value("#chat-checkpoint input").startswith(env["sft"])
                page.get_by_label("workspace video", exact=True).click()
                page.get_by_role("option").first.click()
                page.get_by_placeholder("What does the chef").fill(QUESTION)
                for letter, text in zip("ABCD", OPTIONS):
                    page.get_by_label(f"option {letter} (optional)").fill(text)
                frames = page.get_by_label("number input for frames")     # what the sft model was tuned on
                frames.fill(str(N))
                frames.press("Enter")
                page.get_by_role("button", name="Ask", exact=True).click()
                page.wait_for_function("() => document.querySelector('#chat-chatbot').innerText.includes('Answer:')",
                                       timeout=120_000)
                page.locator("#chat-chatbot").get_by_text("Reasoning", exact=True).first.click()
                page.wait_for_function("() => document.querySelector("
                                       "'#chat-chatbot .thought-group .message-content p')")
                sizes = page.evaluate("""() => {
                    const style = (p) => { const s = getComputedStyle(p); return [s.fontSize, s.color, s.opacity]; };
                    const thought = document.querySelector('#chat-chatbot .thought-group .message-content p');
                    const rest = [...document.querySelectorAll('#chat-chatbot .message-content p')]
                        .filter(p => !p.closest('.thought-group'));
                    return [style(thought), style(rest[rest.length - 1])]; }""")
                assert sizes[0][:2] == sizes[1][:2] and float(sizes[0][2]) == 1.0, sizes
                page.get_by_placeholder("What does the chef").fill("Where is the red robot? " * 166)   # ~4,000
                page.evaluate("() => window.scrollTo(0, 0)")
                ask = page.get_by_role("button", name="Ask", exact=True).bounding_box()
                assert ask["y"] + ask["height"] <= 900, ask          # a long question scrolls inside its box
        finally:
            demo.close()
    finally:
        ws.conn.execute("DELETE FROM checkpoints WHERE id = ?", (late,))
        ws.conn.commit()

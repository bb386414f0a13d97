"""The offline byte-level BPE tokenizer, the ChatML rendering and its Jinja twin, SFT labels."""
from __future__ import annotations

import pytest

from lvr.model import build_messages, format_target
from lvr.model.chat_format import render_chat
from lvr.model.tokenizer import REASONING_TAGS, train_tiny_tokenizer, workspace_texts


@pytest.fixture(scope="module")
def tok():
    return train_tiny_tokenizer("composite", vocab_size=3000)


def test_special_and_reasoning_tokens_are_single_ids(tok):
    for t in ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<video>", *REASONING_TAGS):
        ids = tok.encode(t, add_special_tokens=False)
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids[0]) == t, t
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert 500 < len(tok) <= 3000
    # reasoning tags survive skip_special_tokens (they are added, not special); control tokens do not
    ids = tok.encode("<|im_start|><think>x</think><answer>B</answer><|im_end|>", add_special_tokens=False)
    assert tok.decode(ids, skip_special_tokens=True) == "<think>x</think><answer>B</answer>"


def test_qwen_kind_has_vision_tokens():
    qtok = train_tiny_tokenizer("qwen2_5_vl", vocab_size=1000)
    for t in ("<|vision_start|>", "<|vision_end|>", "<|video_pad|>", "<|image_pad|>"):
        assert len(qtok.encode(t, add_special_tokens=False)) == 1


def test_byte_level_roundtrip_of_unseen_text(tok):
    text = "Ünïcode ✓ 12:34 — ok\n\ttabs"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_save_reload_keeps_ids_and_chat_template(tok, tmp_path):
    from transformers import AutoTokenizer

    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    sample = "<|im_start|>user\n<video>What happens?<|im_end|>\n<think>"
    assert again.encode(sample, add_special_tokens=False) == tok.encode(sample, add_special_tokens=False)
    assert again.chat_template == tok.chat_template
    assert again.padding_side == "left"


def test_jinja_template_renders_like_render_chat(tok):
    msgs = build_messages("Why?", ["a", "b", "c", "d"], target=format_target("because", "B"))
    for gen_prompt, messages in ((False, msgs), (True, msgs[:2])):
        ours, _ = render_chat(messages, video_markup="<video>", add_generation_prompt=gen_prompt)
        theirs = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen_prompt)
        assert ours == theirs


def test_assistant_spans_cover_content_and_end_token():
    msgs = build_messages("Q?", video=False, target="<answer>B</answer>")
    text, spans = render_chat(msgs, video_markup="<video>")
    assert len(spans) == 1
    s, e = spans[0]
    assert text[s:e] == "<answer>B</answer><|im_end|>"
    with pytest.raises(ValueError, match="role"):
        render_chat([{"role": "robot", "content": "x"}], video_markup="<video>")
    with pytest.raises(ValueError, match="item 0"):
        render_chat([{"role": "user", "content": [{"type": "audio"}]}], video_markup="<video>")


def test_labels_only_on_assistant_tokens(tiny_composite):
    model = tiny_composite
    msgs = build_messages("Q?", video=False, target=format_target("think here", "C"))
    inputs = model.build_inputs(msgs, train=True)
    labels = inputs.labels[0].tolist()
    ids = inputs.input_ids[0].tolist()
    trained = [i for i, lab in zip(ids, labels) if lab != -100]
    assert all(lab in (-100, i) for i, lab in zip(ids, labels))
    assert model.tokenizer.decode(trained) == format_target("think here", "C") + "<|im_end|>"
    with pytest.raises(ValueError, match="assistant"):
        model.build_inputs(msgs[:2], train=True)


def test_workspace_texts_feed_the_tokenizer(tmp_path):
    from lvr.store import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    vid = ws.add_video(tmp_path / "v.mp4", sha256="ab" * 32, duration=20.0, fps=10.0, n_frames=200,
                       width=64, height=48)
    (clip, _) = ws.set_clips(vid, [(0.0, 10.0), (10.0, 20.0)])
    ws.set_caption(clip, "A zebrafinch perches on the xylophone.", captioner="test")
    ws.add_qa({"video_id": vid, "category": "temporal", "question": "When does the zebrafinch sing?",
               "options": ["early", "late", "never", "twice"], "answer": "A",
               "reasoning": "The zebrafinch sings at first."})
    texts = workspace_texts(ws)
    assert any("zebrafinch perches" in t for t in texts)
    assert any("When does the zebrafinch sing?" in t and "A. early" in t for t in texts)
    tok = train_tiny_tokenizer("composite", extra_texts=texts * 20, vocab_size=3000)
    assert len(tok.encode(" zebrafinch", add_special_tokens=False)) == 1

"""Streaming (thinking → answer, stop at </answer>) and batched generation."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import torch

from lvr.model import format_target, generate_batch, generate_stream, load_model, prompt_inputs
from lvr.model.generation import StreamEvent, _Tagger

from .conftest import OPTIONS, QUESTION, TARGET_ANSWER, TARGET_THINKING, make_frames


def _feed(chunks):
    tagger = _Tagger()
    events = [ev for c in chunks for ev in tagger.feed(c)] + tagger.finish()
    return events, tagger


def test_tagger_handles_tags_split_across_chunks():
    events, tagger = _feed(["<thi", "nk>first ", "step</th", "ink>\n<ans", "wer>B</", "answer> ignored"])
    assert events == [StreamEvent("thinking", "first "), StreamEvent("thinking", "step"),
                      StreamEvent("answer", "B")]
    assert tagger.done and tagger.text == "<think>first step</think>\n<answer>B</answer>"


def test_tagger_text_outside_tags_and_no_think_mode():
    events, _ = _feed(["Sure. ", "<answer>C", "</answer>"])
    assert events == [StreamEvent("text", "Sure. "), StreamEvent("answer", "C")]
    events, tagger = _feed(["a < b and c <", "d"])                 # '<' that never becomes a tag
    assert "".join(e.text for e in events) == "a < b and c <d" and not tagger.done


@pytest.fixture(scope="module")
def trained(trained_checkpoint):
    return load_model(trained_checkpoint)


@pytest.fixture(scope="module")
def trained_frames(pyav_video):
    from lvr.video import SamplingSpec, sample_frames

    return sample_frames(pyav_video, SamplingSpec(mode="exact", num_frames=8))


def test_stream_yields_thinking_then_answer_and_stops(trained, trained_frames):
    events = list(generate_stream(trained, trained_frames.frames, QUESTION, OPTIONS,
                                  timestamps=trained_frames.timestamps, max_new_tokens=80))
    kinds = [e.kind for e in events]
    assert kinds[-1] == "done" and "answer" in kinds and "thinking" in kinds
    assert max(i for i, k in enumerate(kinds) if k == "thinking") < kinds.index("answer")
    assert len([k for k in kinds if k == "thinking"]) > 3  # streamed in increments, not one blob
    thinking = "".join(e.text for e in events if e.kind == "thinking")
    answer = "".join(e.text for e in events if e.kind == "answer")
    assert thinking.strip() == TARGET_THINKING and answer == TARGET_ANSWER
    # the model was trained to continue after </answer>; the stream stops there
    assert events[-1].text == format_target(TARGET_THINKING, TARGET_ANSWER)
    assert all("more words" not in e.text for e in events)


def test_generate_batch_texts_and_token_counts(trained, trained_frames):
    f, ts = trained_frames.frames, trained_frames.timestamps
    prompts = [prompt_inputs(trained, f, QUESTION, OPTIONS, timestamps=ts),
               prompt_inputs(trained, f[:3], "Unrelated short question?", timestamps=ts[:3])]
    gens = generate_batch(trained, prompts, max_new_tokens=60)
    target = format_target(TARGET_THINKING, TARGET_ANSWER)
    assert gens[0].text == target and gens[0].stop_reason == "answer"
    assert gens[0].n_tokens == len(trained.tokenizer.encode(target, add_special_tokens=False))
    assert gens[0].parsed.letter == "B" and gens[0].parsed.format_ok
    assert len(gens) == 2 and gens[1].n_tokens == len(gens[1].token_ids) <= 60


def test_batch_greedy_equals_one_by_one(tiny_qwen, tiny_composite):
    for model in (tiny_composite, tiny_qwen):
        prompts = [prompt_inputs(model, make_frames(2, seed=4), "Short?", timestamps=[0, 1]),
                   prompt_inputs(model, make_frames(4, seed=5), "A longer question here?", ["a", "b", "c", "d"],
                                 timestamps=[0, 1, 2, 3])]
        together = generate_batch(model, prompts, max_new_tokens=10, stop_at_answer=False)
        alone = [generate_batch(model, [p], max_new_tokens=10, stop_at_answer=False)[0] for p in prompts]
        assert [g.token_ids for g in together] == [g.token_ids for g in alone]
        assert all(g.stop_reason in ("length", "eos") for g in together)


def test_sampling_is_seeded(tiny_composite):
    p = prompt_inputs(tiny_composite, make_frames(2), "Q?", timestamps=[0, 1])
    run = lambda seed: generate_batch(tiny_composite, [p], max_new_tokens=12, temperature=1.0, top_p=0.9,  # noqa
                                      seed=seed)[0].token_ids
    assert run(3) == run(3)
    assert run(3) != run(4) or run(3) != run(5)


def test_closing_the_stream_stops_generation(tiny_composite):
    stream = generate_stream(tiny_composite, make_frames(2), "Q?", timestamps=[0, 1], max_new_tokens=5000)
    next(stream)
    stream.close()
    deadline = time.time() + 10
    while any(t.name == "lvr-generate" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "lvr-generate" for t in threading.enumerate())


def test_errors_in_the_generation_thread_reach_the_caller(tiny_composite):
    p = prompt_inputs(tiny_composite, None, "Q?")
    bad = replace(p, inputs_embeds=torch.zeros(1, p.seq_len, 7))  # wrong hidden size
    with pytest.raises(RuntimeError):
        list(generate_stream(tiny_composite, inputs=bad, max_new_tokens=5))
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate_batch(tiny_composite, [p], max_new_tokens=0)

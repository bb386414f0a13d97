"""Frame look-back (lvr.model.lookback): a frame tag in the model's answer is followed by that frame again, the same
in SFT targets, in scoring (response_logprobs), in GRPO's batches and in generation."""
from __future__ import annotations

import copy

import pytest
import torch

from lvr.config import ConfigError
from lvr.model import collate, prompt_inputs
from lvr.model.base import IGNORE_INDEX
from lvr.model.lookback import expanded_embeds, frame_slots, look_back_targets
from lvr.model.prompting import build_messages

from .conftest import make_frames

TIMES = [(0.0, 1.0, 12.0), (3.0, 7.0, 30.0)]


@pytest.fixture(scope="module")
def looking(tiny_composite):
    model = copy.deepcopy(tiny_composite).eval()
    model.use_clock_tags(120)
    model.set_frame_lookback(True)
    return model


def tag_id(model, text: str) -> int:
    return model.tokenizer.convert_tokens_to_ids(text)


def prompts(model):
    return [prompt_inputs(model, make_frames(3, seed=k), "Where is the red robot at 00:07?", ["a", "b", "c", "d"],
                          timestamps=list(ts)) for k, ts in enumerate(TIMES)]


def test_a_target_line_is_written_after_the_frame_it_names(looking):
    frames = make_frames(3)
    target = "<think>\n00:01: red robot hall.\n00:07: nothing.\n00:12: red robot kitchen.\n</think>\n<answer>a</answer>"
    messages = build_messages("Where is the red robot at 00:01?", ["a", "b", "c", "d"], target=target)
    row = looking.prepare(frames, messages, timestamps=list(TIMES[0]), train=True)
    ids, labels, emb = row.input_ids[0], row.labels[0], row.inputs_embeds[0]
    start = int((labels != IGNORE_INDEX).float().argmax())
    prompt_frames = frame_slots(looking, ids, emb, end=start)
    assert sorted(looking.tokenizer.convert_ids_to_tokens(list(prompt_frames))) == ["00:00", "00:01", "00:12"]
    per, vid = looking.tokens_per_frame, looking.video_token_id
    for tag in ("00:01", "00:12"):                                      # a frame's tag: its frame follows again
        at = start + ids[start:].tolist().index(tag_id(looking, tag))
        assert ids[at + 1:at + 1 + per].tolist() == [vid] * per and ids[at + 1 + per] != vid
        torch.testing.assert_close(emb[at + 1:at + 1 + per], prompt_frames[tag_id(looking, tag)])
        assert (labels[at + 1:at + 1 + per] == IGNORE_INDEX).all() and labels[at] == tag_id(looking, tag)
    at = start + ids[start:].tolist().index(tag_id(looking, "00:07"))  # no frame at 00:07: nothing follows
    assert ids[at + 1] != vid
    assert ids[:start].tolist().count(tag_id(looking, "00:01")) == 2   # the question's "00:01" and the frame's tag
    plain = copy.deepcopy(looking)
    plain.set_frame_lookback(False)
    base = plain.prepare(frames, messages, timestamps=list(TIMES[0]), train=True)
    assert labels[labels != IGNORE_INDEX].tolist() == base.labels[0][base.labels[0] != IGNORE_INDEX].tolist()
    assert row.seq_len == base.seq_len + 2 * per


def test_scoring_a_response_equals_the_training_row(looking):
    frames = make_frames(3)
    target = "<think>\n00:01: red robot hall.\n00:12: red robot kitchen.\n</think>\n<answer>a</answer>"
    messages = build_messages("Where is the red robot?", ["a", "b", "c", "d"], target=target)
    row = looking.prepare(frames, messages, timestamps=list(TIMES[0]), train=True)
    prompt = prompt_inputs(looking, frames, "Where is the red robot?", ["a", "b", "c", "d"],
                           timestamps=list(TIMES[0]))
    response = looking.tokenizer.encode(target, add_special_tokens=False)
    with torch.no_grad():
        scored = looking.response_logprobs(prompt, torch.tensor([response]))[0]
        logits = looking.lm_forward(row.inputs_embeds, row.position_ids, row.attention_mask)[0].float()
    at = (row.labels[0] != IGNORE_INDEX).nonzero().squeeze(1)
    want = torch.log_softmax(logits[at - 1], -1).gather(-1, row.labels[0, at, None]).squeeze(-1)
    assert len(at) == len(response) + 1                                 # + the chat's end-of-turn token
    torch.testing.assert_close(scored, want[:len(response)], atol=1e-5, rtol=1e-5)


def test_a_row_with_nothing_to_write_keeps_its_video(looking):
    """A row without a labelled token (nothing written) is left as it is, its frames' embeddings included."""
    row = looking.prepare(make_frames(3), build_messages("Where is the red robot?", ["a", "b", "c", "d"]),
                          timestamps=list(TIMES[0]))
    labels = torch.full_like(row.input_ids, IGNORE_INDEX)
    ids, emb, lab = look_back_targets(looking, row.input_ids, row.inputs_embeds, labels)
    assert ids is row.input_ids and lab is labels
    torch.testing.assert_close(emb, row.inputs_embeds)


def eager_tags(model):
    """A copy whose LM head strongly prefers the frames' clock tags, so greedy answers write tags often."""
    m = copy.deepcopy(model)
    head = m.causal_lm.get_output_embeddings().weight
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for ts in TIMES:
            for t in ts:
                head[tag_id(m, m.options.timestamp_tag(t))] = 6 * torch.randn(head.shape[1], generator=g)
    return m


def test_generation_sees_what_training_and_scoring_see(looking):
    """Greedy look-back generation, batched and row by row, writes each token as the argmax of the teacher-forced
    logits over the expanded sequence, a clock tag of no frame of its own replaced by its nearest frame's: the cache
    path equals the plain forward, and every tag written is one of the row's frames."""
    from lvr.model.lookback import clock_tag_seconds, nearest_frame_tags

    model = eager_tags(looking)
    rows = prompts(model)
    batch = collate(rows, padding_side="left", pad_token_id=model.tokenizer.pad_token_id or 0)
    with torch.no_grad():
        together = model.generate_ids(batch, max_new_tokens=24, do_sample=False)
        alone = [model.generate_ids(r, max_new_tokens=24, do_sample=False)[0] for r in rows]
    looked, snapped = [], 0
    for r, row in enumerate(rows):
        ids = alone[r].tolist()
        assert together[r, :len(ids)].tolist() == ids
        frames = frame_slots(model, row.input_ids[0], row.inputs_embeds[0])
        looked.append(sum(t in frames for t in ids[:-1]))
        with torch.no_grad():
            emb, where = expanded_embeds(model, ids, frames)
            x = torch.cat([row.inputs_embeds[0], emb])[None]
            logits = model.lm_forward(x, torch.arange(x.shape[1])[None], None)[0]
        p = row.seq_len
        snap = nearest_frame_tags(clock_tag_seconds(model.tokenizer), frames)
        greedy = logits[torch.tensor(where) + p - 1].argmax(-1).tolist()
        assert [snap.get(t, t) for t in greedy] == ids
        assert not set(ids) & set(snap)
        snapped += sum(t in snap for t in greedy)
    assert min(looked) >= 1, looked                         # the look-back path ran, in both rows
    assert snapped >= 1                                     # and a time between frames was snapped to one


def test_a_time_between_frames_means_the_nearest_frame(looking):
    from lvr.model.lookback import clock_tag_seconds, nearest_frame_tags

    seconds = clock_tag_seconds(looking.tokenizer)
    tag = {s: t for t, s in seconds.items()}
    assert seconds[tag_id(looking, "01:05")] == 65 and len(seconds) == 121
    snap = nearest_frame_tags(seconds, [tag[3], tag[7], tag[30]])
    assert [snap[tag[s]] for s in (0, 4, 5, 6, 18, 19, 120)] == [tag[s] for s in (3, 3, 3, 7, 7, 30, 30)]
    assert tag[7] not in snap and nearest_frame_tags(seconds, []) == {}


def test_walking_writes_each_rows_frames_in_time_order(looking):
    """With frame_walk, whatever clock tags a row samples, it writes its own frames' tags in time order (the last
    frame once all are written), batched as row by row."""
    from lvr.model.lookback import clock_tag_seconds

    model = eager_tags(looking)
    model.set_frame_walk(True)
    seconds = clock_tag_seconds(model.tokenizer)
    rows = prompts(model)
    batch = collate(rows, padding_side="left", pad_token_id=model.tokenizer.pad_token_id or 0)
    with torch.no_grad():
        together = model.generate_ids(batch, max_new_tokens=24, do_sample=False)
        alone = [model.generate_ids(r, max_new_tokens=24, do_sample=False)[0] for r in rows]
    for r, row in enumerate(rows):
        ids = alone[r].tolist()
        assert together[r, :len(ids)].tolist() == ids
        order = sorted(frame_slots(model, row.input_ids[0], row.inputs_embeds[0]), key=seconds.get)
        tags = [t for t in ids if t in seconds]
        assert len(tags) >= 2 and tags == (order + [order[-1]] * len(tags))[:len(tags)], (tags, order)


def test_walking_needs_look_back(tiny_composite):
    model = copy.deepcopy(tiny_composite)
    model.use_clock_tags(60)
    with pytest.raises(ConfigError, match="frame_walk needs frame_lookback"):
        model.set_frame_walk(True)
    model.set_frame_lookback(True)
    model.set_frame_walk(True)
    assert model.frame_walk and model.options.frame_walk


def test_look_back_needs_one_token_clock_tags(tiny_composite):
    model = copy.deepcopy(tiny_composite)
    with pytest.raises(ConfigError, match="frame_lookback needs timestamp_text"):
        model.set_frame_lookback(True)                          # "<t=1.5s>" tags: several tokens, shared ">"
    model.use_clock_tags(60)
    model.set_frame_lookback(True)
    assert model.frame_lookback and model.options.frame_lookback


def test_grpo_batches_score_responses_as_the_model_does(looking):
    """lvr.train.sequences.build_batch + sequence_logprobs (GRPO's old, reference and policy passes) give the
    same per-token log-probs as response_logprobs, responses of different lengths and tags in one batch."""
    from lvr.train.sequences import PromptEntry, build_batch, sequence_logprobs

    model, tok = eager_tags(looking), looking.tokenizer
    rows = prompts(model)
    responses = [tok.encode(text, add_special_tokens=False) for text in
                 ("<think>\n00:01: red robot hall.\n00:12: garden.\n</think>", "00:30: no tags of mine 00:01")]
    entries, videos = {}, {}
    for k, row in enumerate(rows):
        with torch.no_grad():
            videos[f"v{k}"] = model.encode_frames(make_frames(3, seed=k))
        entries[k] = PromptEntry(k, f"v{k}", row.input_ids[0], row.position_ids[0], row.inputs_embeds[0])
    with torch.no_grad():
        b = build_batch(model, responses, [0, 1], entries, videos, pad_id=tok.pad_token_id or 0)
        lp = sequence_logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                               response_ids=b.response_ids, attention_mask=b.attention_mask).logps
    assert b.response_mask.sum(1).tolist() == [len(r) for r in responses]
    assert b.response_ids.shape[1] == len(responses[0]) + 2 * looking.tokens_per_frame    # two frames looked at
    for k, r in enumerate(responses):
        with torch.no_grad():
            want = model.response_logprobs(rows[k], torch.tensor([r]))[0]
        torch.testing.assert_close(lp[k][b.response_mask[k].bool()], want, atol=1e-5, rtol=1e-5)


def test_streaming_writes_what_a_batch_writes(looking):
    """The Chat tab streams through the same look-back loop: its text is the batch generation's."""
    from lvr.model import generate_batch, generate_stream

    model = eager_tags(looking)
    row = prompts(model)[0]
    streamed = [ev for ev in generate_stream(model, inputs=row, max_new_tokens=12)]
    batch = generate_batch(model, [row], max_new_tokens=12)[0]
    assert streamed[-1].kind == "done"
    assert streamed[-1].text == batch.text != ""

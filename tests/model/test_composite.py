"""Composite model (vision tower → pooling MLP → causal LM): encoding, inputs, positions, equality.

Tolerances: float32 on CPU. Paths that do the same arithmetic in a different batch layout
(frames split into parts, padded batches) are compared with atol 1e-5; identical arithmetic
(input_ids vs inputs_embeds of the same embedding rows) must match exactly up to 1e-6.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lvr.model import CompositeVideoLM, build_messages, build_tiny, collate, format_target, prompt_inputs

from .conftest import make_frames

ATOL = 1e-5


@pytest.mark.parametrize("vision", ["siglip", "clip"])
def test_split_encoding_equals_whole(vision, tiny_composite):
    model = tiny_composite if vision == "siglip" else build_tiny("composite", vision="clip", llm="llama")
    frames = make_frames(7)
    with torch.no_grad():
        whole = model.encode_frames(frames)
        parts = torch.cat([model.encode_frames(frames[:3]), model.encode_frames(frames[3:4]),
                           model.encode_frames(frames[4:])])
        chunked = model.encode_frames(frames, batch_size=2)
    assert whole.shape == (7 * model.tokens_per_frame, model.hidden_size)
    torch.testing.assert_close(parts, whole, atol=ATOL, rtol=0)
    torch.testing.assert_close(chunked, whole, atol=ATOL, rtol=0)


def test_tokens_per_frame_follow_the_pool_size():
    from transformers import Qwen2Config, SiglipVisionConfig

    from lvr.model import CompositeOptions

    vis = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                             image_size=84, patch_size=14, vision_use_head=False)
    lm = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                     num_attention_heads=2, num_key_value_heads=1)
    for k in (1, 3, 6):
        m = CompositeVideoLM.from_configs(vis, lm, {"pool_size": k}, CompositeOptions())
        assert m.tokens_per_frame == k * k
        assert m.encode_frames(make_frames(2, 30, 40)).shape == (2 * k * k, 32)
    with pytest.raises(ValueError, match="pool_size"):
        CompositeVideoLM.from_configs(vis, lm, {"pool_size": 7}, CompositeOptions())


def test_frame_merge_makes_one_token_per_frame_that_starts_as_the_mean_and_survives_a_save(tiny_composite, tmp_path):
    import copy

    from lvr.model import load_model

    frames = make_frames(3)
    grid = tiny_composite.encode_frames(frames)                        # [3 * pool², d]
    m = copy.deepcopy(tiny_composite)
    m.projector.set_frame_merge("mean")
    mean = m.encode_frames(frames)
    assert m.tokens_per_frame == 1 and mean.shape == (3, grid.shape[1])
    assert torch.allclose(mean, grid.view(3, -1, grid.shape[1]).mean(1), atol=1e-6)
    m.projector.set_frame_merge("linear")                              # a new layer, initialised to the mean
    assert torch.allclose(m.encode_frames(frames), mean, atol=1e-5)
    torch.nn.init.normal_(m.projector.merge.weight, std=0.05)          # trained: keeps where each token was
    trained = m.encode_frames(frames)
    assert not torch.allclose(trained, mean, atol=1e-3)
    m.save(tmp_path / "ckpt")
    back = load_model(tmp_path / "ckpt")
    assert back.projector.config.frame_merge == "linear" and back.tokens_per_frame == 1
    assert torch.allclose(back.encode_frames(frames), trained, atol=1e-6)
    with pytest.raises(Exception, match="frame_merge"):
        back.projector.config.__class__(**{**back.projector.config.to_dict(), "frame_merge": "max"})


def test_inputs_embeds_path_equals_input_ids_path_text_only(tiny_composite):
    model = tiny_composite
    inputs = model.build_inputs(build_messages("Which event happens first?", ["a", "b", "c", "d"], video=False))
    with torch.no_grad():
        native = model.llm(input_ids=inputs.input_ids).logits
        ours = model.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)
        torch.testing.assert_close(ours, native, atol=1e-6, rtol=0)
        g_native = model.llm.generate(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                      max_new_tokens=12, do_sample=False, eos_token_id=None,
                                      pad_token_id=model.tokenizer.pad_token_id)[:, inputs.seq_len:]
        g_ours = model.generate_ids(inputs, max_new_tokens=12, do_sample=False, eos_token_id=None)
    assert g_ours.tolist() == g_native.tolist()
    assert len(set(g_ours[0].tolist())) > 1  # the tiny model is not degenerate


def test_video_placeholder_expansion_with_timestamp_text(tiny_composite):
    model = tiny_composite
    frames, ts = make_frames(3), [0.0, 1.5, 12.0]
    inputs = prompt_inputs(model, frames, "What happens?", timestamps=ts)
    ids = inputs.input_ids[0].tolist()
    vid = model.video_token_id
    assert ids.count(vid) == 3 * model.tokens_per_frame
    text = model.tokenizer.decode(ids)
    assert text.count("<t=0.0s>") == 1 and "<t=1.5s>" in text and "<t=12.0s>" in text
    assert text.index("<t=1.5s>") < text.index("<t=12.0s>") < text.index("What happens?")
    # the video embeddings sit exactly at the placeholder positions, in order
    with torch.no_grad():
        embeds = model.encode_frames(frames)
    torch.testing.assert_close(inputs.inputs_embeds[0][inputs.input_ids[0] == vid], embeds)
    with pytest.raises(ValueError, match="timestamps"):
        prompt_inputs(model, frames, "What happens?")
    torch.testing.assert_close(inputs.position_ids, torch.arange(inputs.seq_len).unsqueeze(0))


def test_build_inputs_errors_are_clear(tiny_composite):
    model = tiny_composite
    embeds = torch.zeros(2 * model.tokens_per_frame, model.hidden_size)
    layout = model.video_layout(2, timestamps=[0, 1])
    with pytest.raises(ValueError, match="no video_embeds"):
        model.build_inputs(build_messages("q"))
    with pytest.raises(ValueError, match="exactly one video placeholder"):
        model.build_inputs(build_messages("q", video=False), embeds, layout=layout)
    with pytest.raises(ValueError, match="expects 3 video tokens|layout expects"):
        model.build_inputs(build_messages("q"), embeds[:3], layout=layout)
    with pytest.raises(ValueError, match="shape"):
        model.encode_frames(np.zeros((2, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        model.encode_frames(np.zeros((2, 8, 8, 3), dtype=np.float32))


def test_generate_with_video_embeds_matches_stepwise_greedy(tiny_composite):
    """generate(inputs_embeds=…) equals a hand-written greedy loop of full forward passes."""
    model = tiny_composite
    inputs = prompt_inputs(model, make_frames(4), "Why?", ["a", "b", "c", "d"], timestamps=[0, 1, 2, 3])
    with torch.no_grad():
        gen = model.generate_ids(inputs, max_new_tokens=8, do_sample=False, eos_token_id=None)[0].tolist()
        embeds, pos, out = inputs.inputs_embeds, inputs.position_ids, []
        for _ in range(8):
            nxt = model.lm_forward(embeds, pos, None)[0, -1].argmax().item()
            out.append(nxt)
            embeds = torch.cat([embeds, model.input_embeddings(torch.tensor([[nxt]]))], 1)
            pos = torch.cat([pos, pos[:, -1:] + 1], 1)
    assert gen == out


def test_left_padded_batch_equals_single_rows(tiny_composite):
    model = tiny_composite
    a = prompt_inputs(model, make_frames(2, seed=1), "Short?", timestamps=[0, 1])
    b = prompt_inputs(model, make_frames(5, seed=2), "A much longer question about the video?",
                      ["x", "y", "z", "w"], timestamps=[0, 1, 2, 3, 4])
    batch = collate([a, b], padding_side="left", pad_token_id=model.tokenizer.pad_token_id)
    assert batch.inputs_embeds.shape[0] == 2 and batch.attention_mask[0, 0] == 0
    with torch.no_grad():
        logits = model.lm_forward(batch.inputs_embeds, batch.position_ids, batch.attention_mask)
        for row, single in enumerate((a, b)):
            ref = model.lm_forward(single.inputs_embeds, single.position_ids, single.attention_mask)
            torch.testing.assert_close(logits[row, -single.seq_len:], ref[0], atol=ATOL, rtol=0)


def test_response_logprobs_match_generation_scores(tiny_composite):
    model = tiny_composite
    inputs = prompt_inputs(model, make_frames(3), "What?", timestamps=[0, 1, 2])
    with torch.no_grad():
        out = model.causal_lm.generate(inputs_embeds=inputs.inputs_embeds, attention_mask=inputs.attention_mask,
                                       position_ids=inputs.position_ids, max_new_tokens=6, do_sample=False,
                                       eos_token_id=None, output_scores=True, return_dict_in_generate=True,
                                       pad_token_id=model.tokenizer.pad_token_id)
        ids = out.sequences
        expected = torch.stack([torch.log_softmax(s.float(), -1)[0, t] for s, t in zip(out.scores, ids[0])])
        got = model.response_logprobs(inputs, ids)
    torch.testing.assert_close(got[0], expected, atol=ATOL, rtol=0)


def test_training_labels_align_with_video_inputs(tiny_composite):
    model = tiny_composite
    msgs = build_messages("q", ["a", "b", "c", "d"], target=format_target("r", "A"))
    inputs = model.prepare(make_frames(2), msgs, timestamps=[0, 1], train=True)
    vid_positions = inputs.input_ids[0] == model.video_token_id
    assert (inputs.labels[0][vid_positions] == -100).all()
    assert inputs.labels.shape == inputs.input_ids.shape
    inputs.inputs_embeds.sum().backward()  # video embeddings stay in the autograd graph
    assert model.projector.fc2.weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_timestamp_format_fails_fast_on_a_field_it_cannot_fill():
    from lvr.model.config import CompositeOptions, ConfigError

    assert CompositeOptions(timestamp_format="<t={clock}>").timestamp_tag(75.4) == "<t=01:15>"
    assert CompositeOptions().timestamp_tag(75.4) == "<t=75.4s>"
    with pytest.raises(ConfigError, match="does not format"):
        CompositeOptions(timestamp_format="<t={minutes}>")


def test_stamped_frames_carry_their_tag_embedding_in_every_splice(tiny_composite):
    """stamp_frames: each video token = its projector token + the embedding of its frame's (last) tag token, the
    same in build_inputs (SFT, eval, rollouts) and in GRPO's batch builder (lvr.train.sequences.build_batch)."""
    import copy
    import dataclasses

    from lvr.config import ConfigError
    from lvr.train.sequences import PromptEntry, build_batch

    stamped = copy.deepcopy(tiny_composite)
    stamped.stamp_frame_times()
    frames, ts = make_frames(3), [0.0, 1.5, 12.0]
    plain, inputs = (prompt_inputs(m, frames, "What happens?", timestamps=ts) for m in (tiny_composite, stamped))
    ids = inputs.input_ids[0]
    slots = ids == stamped.video_token_id
    before = [int(torch.nonzero(~slots[:p]).max()) for p in torch.nonzero(slots).flatten().tolist()]
    tags = stamped.input_embeddings(ids[before])
    assert len(set(before)) == 3 and stamped.tokenizer.decode(ids[sorted(set(before))]) == ">>>"   # a frame's tag
    torch.testing.assert_close(inputs.inputs_embeds[0][slots], plain.inputs_embeds[0][slots] + tags)
    torch.testing.assert_close(inputs.inputs_embeds[0][~slots], plain.inputs_embeds[0][~slots])

    with torch.no_grad():
        video = stamped.encode_frames(frames)
        entry = PromptEntry(7, "v", ids, inputs.position_ids[0], inputs.inputs_embeds[0])
        batch = build_batch(stamped, [[5, 6]], [7], {7: entry}, {"v": video})
    torch.testing.assert_close(batch.inputs_embeds[0, :len(ids)], inputs.inputs_embeds[0])
    untagged = copy.deepcopy(tiny_composite)
    untagged.options = dataclasses.replace(untagged.options, timestamp_text=False)
    with pytest.raises(ConfigError, match="timestamp_text"):
        untagged.stamp_frame_times()


def test_hidden_frame_tags_leave_the_time_only_on_the_frames(tiny_composite):
    """hide_frame_tags: the frames stay stamped, their tag tokens are blanked, every other token is untouched."""
    import copy

    from lvr.config import ConfigError
    from lvr.model.config import CompositeOptions

    stamped, hidden = copy.deepcopy(tiny_composite), copy.deepcopy(tiny_composite)
    stamped.stamp_frame_times()
    hidden.stamp_frame_times(hide_tags=True)
    frames, ts = make_frames(3), [0.0, 1.5, 12.0]
    a, b = (prompt_inputs(m, frames, "What happens at 00:01?", timestamps=ts) for m in (stamped, hidden))
    ids = b.input_ids[0]
    slots = ids == hidden.video_token_id
    tags = sorted({int(torch.nonzero(~slots[:p]).max()) for p in torch.nonzero(slots).flatten().tolist()})
    assert len(tags) == 3 and not b.inputs_embeds[0][tags].any()
    rest = torch.ones_like(slots)
    rest[tags] = False
    torch.testing.assert_close(b.inputs_embeds[0][rest], a.inputs_embeds[0][rest])     # frames keep their stamp
    with pytest.raises(ConfigError, match="hide_frame_tags needs stamp_frames"):
        CompositeOptions(timestamp_text=True, hide_frame_tags=True)


def test_sinusoidal_clock_tags_make_near_times_alike(tiny_composite):
    import copy

    model = copy.deepcopy(tiny_composite)
    assert model.use_clock_tags(120, init="sinusoid") == 121
    emb = model.input_embeddings(torch.tensor(model.tokenizer.convert_tokens_to_ids(["00:30", "00:31", "00:40",
                                                                                      "01:30"])))
    sim = torch.nn.functional.cosine_similarity(emb[:1], emb[1:])
    assert sim[0] > sim[1] > sim[2]                     # 1 s apart > 10 s apart > 60 s apart
    norm = tiny_composite.input_embeddings.weight.norm(dim=-1).mean()
    torch.testing.assert_close(emb.norm(dim=-1), norm.expand(4), rtol=2e-2, atol=0)   # the vocabulary's scale
    assert model.use_clock_tags(120, init="sinusoid") == 0                      # again: same tokens, no growth
    with pytest.raises(ValueError, match="init"):
        model.use_clock_tags(120, init="fourier")

"""Qwen3-VL adapter: patchify like Qwen3-VL's video processor, DeepStack features, "<t seconds>" text
timestamps inside the chat template's vision wrapper, M-RoPE from `get_rope_index` in every path.

References come from transformers 5.19's own qwen3_vl code: the video processor's `smart_resize`
and `patchify`, `Qwen3VLProcessor.replace_video_token` (the text a video expands into) and the
model's native pixel path (`pixel_values_videos` → vision tower → DeepStack → LM).
Tolerances (float32, CPU): same arithmetic in another batch layout → atol 1e-5.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lvr.model import build_messages, load_model, prompt_inputs
from lvr.model.qwen3_vl import qwen3_smart_resize

from .conftest import make_frames

ATOL = 1e-5


@pytest.fixture(scope="module")
def qwen3():
    from lvr.model import build_tiny

    return build_tiny("qwen3_vl", seed=0)


def test_smart_resize_matches_the_video_processor_per_frame():
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize as ref

    for h, w in [(60, 80), (360, 640), (720, 1280), (32, 32), (20, 900), (1080, 1920), (240, 320)]:
        for lo, hi in [(4 * 32 * 32, 448 * 448), (32 * 32, 64 * 64), (128 * 32 * 32, 768 * 32 * 32)]:
            for n in (2, 8):   # the processor's budget is per video: n frames share n × the per-frame bounds
                assert qwen3_smart_resize(h, w, 32, lo, hi) == tuple(ref(n, h, w, 2, 32, lo * n, hi * n)), (h, w)


def test_patchify_matches_the_video_processor_layout(qwen3):
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    frames = make_frames(5, 60, 80)
    ours, grid = qwen3.patchify(frames)
    x = qwen3.preprocess(frames)[:5]                       # the processor pads the odd frame itself
    ref, gt, gh, gw = Qwen3VLVideoProcessor.patchify(None, x[None], 16, 2, 2)
    assert grid == (gt, gh, gw) == (3, 4, 4) and ours.shape == (3 * 16, 3 * 2 * 16 * 16)
    torch.testing.assert_close(ours, ref[0], atol=0, rtol=0)
    assert qwen3.video_layout(5, (60, 80)).grid_thw == grid


def test_encoding_pairs_alone_equals_the_whole_video_with_deepstack(qwen3):
    frames = make_frames(7)
    d, k = qwen3.lm_hidden_size, qwen3.deepstack_layers
    with torch.no_grad():
        whole = qwen3.encode_frames(frames)
        parts = torch.cat([qwen3.encode_frames(frames[:2]), qwen3.encode_frames(frames[2:6]),
                           qwen3.encode_frames(frames[6:])])
        pixels, grid = qwen3.patchify(frames)
        native = qwen3.hf.model.get_video_features(pixels, torch.tensor([grid]))
    assert k == 2 and whole.shape == (4 * qwen3.tokens_per_group((60, 80)), (1 + k) * d)
    torch.testing.assert_close(parts, whole, atol=ATOL, rtol=0)
    torch.testing.assert_close(whole[:, :d], native.pooler_output[0], atol=ATOL, rtol=0)
    for i, level in enumerate(native.deepstack_features):
        torch.testing.assert_close(whole[:, (1 + i) * d:(2 + i) * d], level[0], atol=ATOL, rtol=0)


def processor_text(model, layout, fps: float) -> str:
    """The chat template's video markup after Qwen3VLProcessor.replace_video_token (transformers' own code)."""
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor
    from transformers.video_utils import VideoMetadata

    proc = SimpleNamespace(video_processor=SimpleNamespace(merge_size=2, temporal_patch_size=2),
                           vision_start_token="<|vision_start|>", vision_end_token="<|vision_end|>",
                           video_token="<|video_pad|>")
    proc._calculate_timestamps = lambda *a: Qwen3VLProcessor._calculate_timestamps(proc, *a)
    meta = VideoMetadata(total_num_frames=layout.num_frames, fps=fps, frames_indices=list(range(layout.num_frames)))
    inputs = {"video_grid_thw": torch.tensor([layout.grid_thw]), "video_metadata": [meta]}
    return model.video_markup.replace(model.video_token, Qwen3VLProcessor.replace_video_token(proc, inputs, 0))


@pytest.mark.parametrize("n", [6, 5])
def test_video_expands_like_the_processor_keeping_the_vision_wrapper(qwen3, n):
    """ms-swift #9668 / vLLM #46817: the outer <|vision_start|>…<|vision_end|> of the chat template stays,
    and each pair gets its "<t seconds>" and its own wrapper — in the ids every path uses."""
    fps = 2.0
    ts = [i / fps for i in range(n)]
    inputs = prompt_inputs(qwen3, make_frames(n), "What happens first?", ["a", "b", "c", "d"], timestamps=ts)
    layout = inputs.layouts[0]
    want = qwen3.tokenizer.encode(processor_text(qwen3, layout, fps), add_special_tokens=False)
    ids = inputs.input_ids[0].tolist()
    c = qwen3.hf.config
    start = ids.index(c.vision_start_token_id)
    end = len(ids) - ids[::-1].index(c.vision_end_token_id)
    assert ids[start:end] == want
    assert ids.count(c.vision_start_token_id) == ids.count(c.vision_end_token_id) == layout.num_groups + 1
    assert "<0.2 seconds>" in qwen3.tokenizer.decode(ids) or n < 2


def _native_kwargs(model, inputs, frames):
    pixels, grid = model.patchify(frames)
    return dict(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask, pixel_values_videos=pixels,
                video_grid_thw=torch.tensor([grid]),
                mm_token_type_ids=(inputs.input_ids == model.video_token_id).int() * 2)


def test_pixel_path_equals_embeds_path_logits_and_greedy(qwen3):
    frames = make_frames(6)
    inputs = prompt_inputs(qwen3, frames, "What happens first?", ["a", "b", "c", "d"],
                           timestamps=[0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    native_kwargs = _native_kwargs(qwen3, inputs, frames)
    d = qwen3.lm_hidden_size
    with torch.no_grad():
        native = qwen3.hf(**native_kwargs).logits
        ours = qwen3.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)
        no_deepstack = qwen3.lm_forward(inputs.inputs_embeds[..., :d], inputs.position_ids, inputs.attention_mask)
        pos, _ = qwen3.hf.model.get_rope_index(inputs.input_ids, native_kwargs["mm_token_type_ids"],
                                               video_grid_thw=native_kwargs["video_grid_thw"])
        g_native = qwen3.hf.generate(**native_kwargs, max_new_tokens=8, do_sample=False,
                                     pad_token_id=qwen3.tokenizer.pad_token_id)[:, inputs.seq_len:]
        g_ours = qwen3.generate_ids(inputs, max_new_tokens=8, do_sample=False)
    assert torch.equal(pos, inputs.position_ids)
    torch.testing.assert_close(ours, native, atol=ATOL, rtol=0)
    assert float((no_deepstack - native).abs().max()) > 1e-3, "the DeepStack features must reach the LM"
    assert g_ours[0].tolist() == g_native[0, :g_ours.shape[1]].tolist()


def test_response_logprobs_equal_full_forward(qwen3):
    frames = make_frames(4)
    prompt = prompt_inputs(qwen3, frames, "Which comes first?", ["x", "y", "z", "w"], timestamps=[0, 1, 2, 3])
    resp = torch.tensor([[30, 40, 50]])
    with torch.no_grad():
        lp = qwen3.response_logprobs(prompt, resp)
        full = torch.cat([prompt.inputs_embeds, qwen3.input_embeddings(resp)], 1)
        ids = torch.cat([prompt.input_ids, resp], 1)
        pos = qwen3.build_position_ids(ids, torch.ones_like(ids), prompt.layouts)
        logits = qwen3.lm_forward(full, pos, torch.ones_like(ids))
    p = prompt.seq_len
    ref = torch.log_softmax(logits[0, p - 1:p + 2], -1).gather(-1, resp[0].view(-1, 1)).view(1, -1)
    torch.testing.assert_close(lp, ref, atol=ATOL, rtol=0)


def test_save_adopt_load_roundtrip(qwen3, tmp_path):
    from click.testing import CliRunner

    from lvr.cli import cli

    out = qwen3.save(tmp_path / "q3")
    (out / "lvr_config.json").unlink()               # a plain HF Qwen3-VL folder
    r = CliRunner().invoke(cli, ["model", "adopt", str(out)], catch_exceptions=False)
    assert r.exit_code == 0 and "qwen3_vl" in r.output, r.output
    loaded = load_model(out)
    assert type(loaded).__name__ == "Qwen3VideoLM"
    frames = make_frames(2)
    msgs = build_messages("Q?", ["a", "b", "c", "d"])
    with torch.no_grad():
        a = qwen3.prepare(frames, msgs, timestamps=[0, 1])
        b = loaded.prepare(frames, msgs, timestamps=[0, 1])
        la = qwen3.lm_forward(a.inputs_embeds, a.position_ids, a.attention_mask)
        lb = loaded.lm_forward(b.inputs_embeds, b.position_ids, b.attention_mask)
    torch.testing.assert_close(la, lb, atol=ATOL, rtol=0)


def test_no_timestamps_use_the_default_fps(qwen3):
    layout = qwen3.video_layout(4, (64, 64))
    assert qwen3.group_times(layout) == [0.25, 1.25]        # frames 0.5 s apart at 2 fps, pair means
    np.testing.assert_allclose(qwen3.group_times(qwen3.video_layout(3, (64, 64), [0, 2, 4])), [1.0, 4.0])


def test_adopt_chat_and_eval_run_on_a_qwen3_vl_folder(qwen3, tmp_path):
    """`lvr model adopt` a Qwen3-VL folder, then `lvr chat` and `lvr eval run` on it (as for every adapter)."""
    from click.testing import CliRunner

    from lvr.cli import cli
    from lvr.ingest import ingest_file
    from lvr.store import Workspace
    from lvr.video.encode import numbered_frames, write_video

    from ..eval.conftest import make_items

    folder = tmp_path / "q3"
    qwen3.save(folder)
    (folder / "lvr_config.json").unlink()                  # a plain HF folder, as downloaded
    runner = CliRunner()
    r = runner.invoke(cli, ["model", "adopt", str(folder)], catch_exceptions=False)
    assert r.exit_code == 0 and (folder / "lvr_config.json").exists(), r.output
    ws = Workspace.open(tmp_path / "ws", create=True)
    paths = [write_video(tmp_path / f"v{i}.mp4", numbered_frames(30, 48, 64, start=10 * i), fps=10, gop=10)
             for i in range(2)]
    vids = [ingest_file(ws, p, split="eval")[0] for p in paths]
    ws.add_qa_many(make_items(4, "eval", seed=2, video_ids=vids))
    ws.close()
    options = ["the kitchen", "the hall", "the garden", "the garage"]
    r = runner.invoke(cli, ["chat", str(tmp_path / "ws"), "Where is the red robot?", "--checkpoint", str(folder),
                            "--video", vids[0], "--frames", "2", "--max-new-tokens", "8",
                            *sum((["--option", o] for o in options), [])], catch_exceptions=False)
    assert r.exit_code == 0 and "qwen3_vl" in r.output and "format_ok=" in r.output, r.output
    r = runner.invoke(cli, ["eval", "run", str(tmp_path / "ws"), "--checkpoint", str(folder), "--frames", "2",
                            "--max-new-tokens", "6", "--bootstrap", "50"], catch_exceptions=False)
    assert r.exit_code == 0 and "accuracy" in r.output, r.output

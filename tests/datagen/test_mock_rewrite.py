"""Generating against the bundled mock server works with the rewrite on (no `--no-rewrite` needed).

The mock's captions say when they happen ("Across 8 frames from 00:00 to 00:10, …"); its rewrites
must retell the events without those time stamps, as a real model does, or the "as if watching"
check (`validation.rewrite_problems`) rejects every item.
"""
from __future__ import annotations

from click.testing import CliRunner

from lvr.cli import cli
from lvr.datagen import mock_server as mock
from lvr.datagen.validation import rewrite_problems


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def test_generate_against_the_mock_keeps_the_rewrite(ws, mock_llm, video_files):
    env = {"LVR_LLM_BASE_URL": mock_llm.base_url}
    assert run("ingest", ws.root, *video_files).exit_code == 0
    r = run("caption", ws.root, "--backend", "openai", "--model", "mock", "--frames", "2", env=env)
    assert r.exit_code == 0 and "5 done, 0 failed" in r.output, r.output
    assert all(c["caption"].startswith("Across 2 frames from ") for v in ws.list_videos() for c in ws.clips(v["id"]))

    r = run("generate", ws.root, "--backend", "openai", "--model", "mock", "--attempts", "1", env=env)
    assert r.exit_code == 0, r.output
    assert "8 done, 0 failed" in r.output, r.output                 # 2 videos × 4 categories
    assert not [x for x in ws.gen_outputs(ok=False, limit=100) if "rewrite" in (x["reason"] or "")]
    items = list(ws.iter_qa())
    assert len(items) == 8
    for it in items:
        assert it["reasoning"].startswith("While watching") and it["meta"]["rewrite"] == "llm"
        assert rewrite_problems(it["reasoning"], it["reasoning_raw"]) == []
        assert "00:" not in it["question"] and "00:" not in it["reasoning"]


def test_retell_drops_the_time_stamps_but_keeps_the_event():
    cap = "Across 8 frames from 00:00 to 00:10, a man opens the door at 00:04 and leaves."
    assert mock.retell(cap) == "a man opens the door and leaves."
    assert mock.retell("She waters the pot every morning.") == "She waters the pot every morning."
    prompt = ("Reasoning written from the captions:\nFrom 00:00 to 00:10:\n- " + cap +
              "\nCONCLUSION: Only option B fits.\nRewrite this reasoning")
    prose = mock.answer_rewrite(prompt, set()).split("REASONING:\n", 1)[1]
    assert rewrite_problems(prose, "From 00:00 to 00:10:\n- " + cap + "\nCONCLUSION: Only option B fits.") == []
    leaked = mock.answer_rewrite(prompt, {"leak"}).split("REASONING:\n", 1)[1]
    assert rewrite_problems(leaked, cap)                           # the `leak` flag still breaks the check

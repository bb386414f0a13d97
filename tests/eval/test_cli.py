"""`lvr eval …` through click's CliRunner on a real workspace (and a tiny real checkpoint)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lvr.cli import cli

from .conftest import make_items


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def filled(ws):
    ws.add_qa_many(make_items(40, "sft", seed=1, weights=(1, 3, 1, 1)))
    ws.add_qa_many(make_items(24, "eval", seed=2, weights=(1, 3, 1, 1)))
    return ws


def _ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_reference_answerers_compare_show_and_list(runner, filled):
    root = str(filled.root)
    out = _ok(runner.invoke(cli, ["eval", root, "--answerer", "random", "--bootstrap", "200"]))
    assert "accuracy % (95 % CI)" in out and "ref most-frequent" in out and "ref text-only" in out
    assert "letters key" in out and "figure: " in out
    out2 = _ok(runner.invoke(cli, ["eval", "run", root, "--answerer", "most-frequent", "--bootstrap", "200",
                                   "--json"]))
    summary = json.loads(out2[out2.index("{"):])
    assert summary["overall"]["n"] == 24 and summary["letters"]["pred"]["B"] == 24
    runs = [r["id"] for r in filled.list_eval_runs()]
    assert len(runs) == 2

    out = _ok(runner.invoke(cli, ["eval", "compare", root, *runs, "--bootstrap", "200"]))
    assert "McNemar p" in out and "right → wrong" in out and "deltas.html" in out
    out = _ok(runner.invoke(cli, ["eval", "show", root, runs[0]]))
    assert runs[0] in out and "ref random" in out
    out = _ok(runner.invoke(cli, ["eval", "list", root]))
    assert all(r in out for r in runs)
    out = _ok(runner.invoke(cli, ["eval", "check", root]))
    assert "24 items" in out and "always answering" in out


def test_usage_errors(runner, filled):
    root = str(filled.root)
    r = runner.invoke(cli, ["eval", root])
    assert r.exit_code == 2 and "exactly one of --checkpoint or --answerer" in r.output
    r = runner.invoke(cli, ["eval", root, "--answerer", "random", "--frames", "8"])
    assert r.exit_code == 2 and "do not watch the video" in r.output
    r = runner.invoke(cli, ["eval", root, "--checkpoint", "no-such-ckpt"])
    assert r.exit_code == 1 and "'no-such-ckpt' is neither a checkpoint id of the workspace nor a directory" in r.output
    r = runner.invoke(cli, ["eval", root, "--answerer", "random", "--split", "rl"])
    assert r.exit_code == 1 and "no QA items" in r.output
    r = runner.invoke(cli, ["eval", "show", root, "eval-none"])
    assert r.exit_code == 1 and "no eval run or sweep" in r.output


def test_checkpoint_run_and_frames_sweep(runner, ws, video_ids, tiny_checkpoint):
    ws.add_qa_many(make_items(4, "eval", seed=3, video_ids=video_ids))
    ckpt = ws.register_checkpoint(tiny_checkpoint, kind="composite", stage="sft")
    root = str(ws.root)
    out = _ok(runner.invoke(cli, ["eval", root, "--checkpoint", ckpt, "--frames", "2", "--max-new-tokens", "6",
                                  "--bootstrap", "100"]))
    assert f"{ckpt}  answerer=model  frames=2" in out and "format ok" in out
    out = _ok(runner.invoke(cli, ["eval", root, "--checkpoint", "latest:sft", "--frames", "2", "--max-new-tokens", "6",
                                  "--bootstrap", "100", "--no-references"]))
    assert f"{ckpt}  answerer=model  frames=2" in out                    # latest:<stage> names the same one
    r = runner.invoke(cli, ["eval", root, "--checkpoint", "latest:grpo"])
    assert r.exit_code == 1 and "no checkpoint of stage 'grpo'" in r.output
    out = _ok(runner.invoke(cli, ["eval", root, "--checkpoint", str(tiny_checkpoint), "--frames", "2,4",
                                  "--max-new-tokens", "6", "--bootstrap", "100", "--no-references"]))
    assert "sweep sweep-" in out and "frames.html" in out
    sweep_id = out.split("sweep ")[-1].split()[0]
    out = _ok(runner.invoke(cli, ["eval", "show", root, sweep_id]))
    assert out.startswith(f"sweep {sweep_id}") and "\n4 " in out


def test_an_unregistered_folder_is_evaluated_and_stays_unregistered(runner, ws, video_ids, tiny_checkpoint, tmp_path):
    """Evaluation only reads a model: a plain folder is recorded by its path, not added to the checkpoints
    (training registers one as a base, lvr.model.resolve_model)."""
    import shutil

    ws.add_qa_many(make_items(2, "eval", seed=4, video_ids=video_ids))
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "outside-model")
    before = ws.list_checkpoints()
    _ok(runner.invoke(cli, ["eval", str(ws.root), "--checkpoint", str(folder), "--frames", "2", "--max-new-tokens",
                            "4", "--bootstrap", "100", "--no-references", "--run-id", "eval-folder"]))
    assert ws.list_checkpoints() == before
    assert ws.get_eval_run("eval-folder")["checkpoint"] == str(folder.resolve())


def test_import_command(runner, tmp_path, clip_paths):
    (tmp_path / "videos").mkdir()
    rows = [{"problem_id": 1, "problem": "Why?\nA. a\nB. b\nC. c\nD. d", "problem_type": "goal",
             "videos": "longvila_videos/missing.mp4", "answer": "<answer>B</answer>"}]
    (tmp_path / "t.jsonl").write_text(json.dumps(rows[0]) + "\n")
    out = _ok(runner.invoke(cli, ["eval", "import", str(tmp_path / "ws2"), str(tmp_path / "t.jsonl"),
                                  str(tmp_path / "videos")]))
    assert "1 added" in out and "missing videos: 1" in out and "always answering B scores 100.0 %" in out


def test_runs_as_a_tracked_job(filled):
    """`python -m lvr.eval` launched by lvr.jobs: the run links the job, progress and metrics reach the store."""
    from lvr.jobs.manager import launch, read_metrics

    job = launch(filled, "eval", ["-m", "lvr.eval", "run", str(filled.root), "--answerer", "text-only",
                                  "--run-id", "eval-job", "--bootstrap", "100", "--no-figures"], wait=True)
    row = filled.get_job(job)
    assert row["status"] == "succeeded", (filled.resolve(row["log_path"])).read_text()
    run = filled.get_eval_run("eval-job")
    assert run["job_id"] == job and run["status"] == "succeeded"
    assert row["progress"] == row["total"] == 24
    metrics = read_metrics(filled, job)
    assert metrics[-1]["run_id"] == "eval-job" and metrics[-1]["acc"] == run["summary"]["overall"]["acc"]

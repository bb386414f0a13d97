"""The demo workspace `make app` opens: corpus, review round, base model, quick SFT job — each made once.

    .venv/bin/pytest tests/workbench/test_demo_workspace.py                 # ~1 min
    .venv/bin/pytest tests/workbench/test_demo_workspace.py -m slow -s      # + the real `python app.py` twice

The fast tests build the demo steps of lvr/recipe/demo.py on a small lvr.synth corpus (3 one-minute
videos) in-process, and start the demo SFT job (as the Train tab starts jobs) with a 2-step
override. The slow test runs the real entry point as a subprocess on the real demo configuration
and times it until the server answers HTTP on loopback, first and second start.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lvr.jobs import cancel, is_alive, refresh
from lvr.recipe import demo
from lvr.recipe.demo import demo_state, ensure_demo_workspace
from lvr.store import Workspace
from lvr.synth import SynthConfig, WorldConfig
from workbench import app
from workbench.app import DEMO_SFT_OVERRIDES, start_demo_training
from workbench.train import FORM, ROOT, check_config, current_job, trained_frames

from .live import start_app, stop_app

SMALL = SynthConfig(videos=3, seed=0, world=WorldConfig(minutes=1, fps=2, size=96), workers=1, progress=False)
QUICK = ("max_steps=2", "save_every=0", "eval_every=0", "data.max_items=2", "data.eval_split=null")


def _forbid(what: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} ran again")
    return fail


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A demo workspace built on the small corpus; the first attempt is interrupted after the corpus."""
    root = tmp_path_factory.mktemp("demo-ws") / "demo"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo, "demo_corpus_config", lambda: SMALL)
        real_review = demo.demo_review
        mp.setattr(demo, "demo_review", _forbid("(interrupting) the review"))
        with pytest.raises(AssertionError, match="interrupting"):
            ensure_demo_workspace(root)
        assert set(demo_state(Workspace.open(root))) == {"corpus"}
        import lvr.synth

        mp.setattr(lvr.synth, "synth_workspace", _forbid("lvr.synth"))   # resuming does not re-render
        mp.setattr(demo, "demo_review", real_review)
        ensure_demo_workspace(root).close()
    return root


def test_demo_workspace_has_splits_review_and_base_checkpoint(built):
    ws = Workspace.open(built)
    state = demo_state(ws)
    assert set(state) == {"corpus", "review", "base", "base_seconds"} and state["corpus"]["videos"] == 3
    assert sorted(v["split"] for v in ws.list_videos()) == ["eval", "rl", "sft"]
    items = list(ws.iter_qa())
    by = {s: [q for q in items if q["status"] == s] for s in ("approved", "rejected", "pending")}
    review = state["review"]
    assert {s: len(v) for s, v in by.items()} == {s: review[s] for s in by} and len(items) == sum(map(len, by.values()))
    assert by["approved"] and by["pending"]
    assert not [q for q in items if q["split"] == "eval" and q["status"] == "pending"]   # the eval split is curated
    assert review["duplicates"] == sum(q["duplicate_of"] is not None for q in items)
    for q in by["rejected"]:               # rejected = a near-duplicate the reviewer reached, the reason names it
        assert q["duplicate_of"] is not None and q["reject_reason"] == f"near-duplicate of #{q['duplicate_of']}"
        assert ws.revisions(q["id"])[-1]["who"] == demo.DEMO_REVIEWER
    assert not [q for q in by["approved"] if q["duplicate_of"] is not None]
    for split, share in demo.DEMO_REVIEWED.items():   # of each video the first share of its items was reviewed
        for v in ws.list_videos():
            mine = [q for q in items if q["video_id"] == v["id"] and q["split"] == split]
            decided = [q["status"] != "pending" for q in mine]
            assert decided == [k < round(share * len(mine)) for k in range(len(mine))]
    base = ws.get_checkpoint(state["base"])
    assert base["stage"] == "base" and base["kind"] == "lvr_composite" and base["parent"] is None
    assert (Path(base["abspath"]) / "lvr_config.json").is_file()
    assert Path(base["abspath"]) == ws.checkpoints_dir / "tiny-lvr_composite"


def test_second_build_changes_nothing(built, monkeypatch):
    ws = Workspace.open(built)
    before = (demo_state(ws), ws.list_checkpoints(), ws.scalar("SELECT count(*) FROM qa_revisions"),
              sorted((p.name, p.stat().st_mtime_ns) for p in ws.checkpoints_dir.rglob("*") if p.is_file()))
    import lvr.synth
    import lvr.train.checkpoints

    monkeypatch.setattr(lvr.synth, "synth_workspace", _forbid("lvr.synth"))
    monkeypatch.setattr(demo, "demo_review", _forbid("the review"))
    monkeypatch.setattr(lvr.train.checkpoints, "resolve_model", _forbid("the base model build"))
    again = ensure_demo_workspace(built)
    after = (demo_state(again), again.list_checkpoints(), again.scalar("SELECT count(*) FROM qa_revisions"),
             sorted((p.name, p.stat().st_mtime_ns) for p in again.checkpoints_dir.rglob("*") if p.is_file()))
    assert after == before


def test_an_older_demo_workspace_keeps_its_videos_and_review(built, tmp_path, monkeypatch):
    root = shutil.copytree(built, tmp_path / "demo")
    (root / "demo.json").unlink()                      # as made by a version before demo.json
    ws = Workspace.open(root)
    base = ws.list_checkpoints()
    import lvr.synth

    monkeypatch.setattr(lvr.synth, "synth_workspace", _forbid("lvr.synth"))
    monkeypatch.setattr(demo, "demo_review", _forbid("the review"))   # items were reviewed: not again
    state = demo_state(ensure_demo_workspace(root))
    assert state["review"] == {"skipped": "the workspace has reviewed items"} and state["corpus"]["videos"] == 3
    assert ws.list_checkpoints() == base and state["base"] == base[0]["id"]


def test_the_real_demo_overrides_validate_as_a_one_process_sft():
    ws = SimpleNamespace(root=Path("/tmp/ws"))           # only its folder goes into the overrides
    path, overrides, cfg, nproc = check_config(ws, "sft", app.DEMO_RECIPE, 1, "\n".join(DEMO_SFT_OVERRIDES),
                                               *[None] * len(FORM))
    assert path == ROOT / "configs" / "tiny" / "sft.yaml" and nproc == 1
    assert cfg.max_steps == 300 and cfg.save_every == 0 and cfg.model == demo.DEMO_BASE
    assert overrides[-1] == "workspace=/tmp/ws"


def _wait(ws, job_id: str, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := refresh(ws, job_id))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"{job_id} still {job['status']} after {timeout:.0f} s"
        time.sleep(0.5)
    return job


def test_demo_sft_job_is_launched_once_and_gives_a_checkpoint(built, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "DEMO_SFT_OVERRIDES", QUICK)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    ws = Workspace.open(shutil.copytree(built, tmp_path / "demo"))
    base = demo_state(ws)["base"]
    job_id = start_demo_training(ws)
    job = ws.get_job(job_id)
    try:
        environ = Path(f"/proc/{job['pid']}/environ").read_bytes().split(b"\0")
        assert b"OMP_NUM_THREADS=1" in environ        # the supervisor and its child train on one thread
    except FileNotFoundError:
        pass                                           # already finished: nothing left to inspect
    assert job["kind"] == "sft" and job["config"]["model"] == base and job["config"]["max_steps"] == 2
    assert job["config"]["_args"] == ["-m", "lvr.train.sft", str(ROOT / app.DEMO_RECIPE), f"model={base}", *QUICK,
                                      f"workspace={ws.root}"]
    assert demo_state(ws)["sft_job"] == job_id
    if refresh(ws, job_id)["status"] in ("queued", "running"):
        assert current_job(ws) == job_id                     # the Train tab opens on it
        assert start_demo_training(ws) == job_id             # a restart meanwhile launches nothing
    assert _wait(ws, job_id)["status"] == "succeeded", ws.get_job(job_id)["error"]
    (sft,) = ws.list_checkpoints(stage="sft")
    assert sft["job_id"] == job_id and sft["parent"] == base and sft["step"] == 2
    assert trained_frames(ws, sft["id"]) == 4 and trained_frames(ws, base) is None   # Chat/Evaluate frame default
    assert current_job(ws) is None
    assert start_demo_training(ws) is None and [j["id"] for j in ws.list_jobs()] == [job_id]


def test_a_demo_job_that_ended_without_checkpoint_is_not_relaunched(built, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(app, "DEMO_SFT_OVERRIDES", ("max_steps=500", *QUICK[1:]))
    ws = Workspace.open(shutil.copytree(built, tmp_path / "demo"))
    job_id = start_demo_training(ws)
    assert cancel(ws, job_id)["status"] == "cancelled"
    deadline = time.monotonic() + 30
    while is_alive(ws.get_job(job_id)["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert start_demo_training(ws) is None and [j["id"] for j in ws.list_jobs()] == [job_id]
    assert f"the demo SFT job {job_id} ended cancelled without a checkpoint" in capsys.readouterr().out
    assert not ws.list_checkpoints(stage="sft")


# ---------------------------------------------------------------------- the real entry point, timed
def _start(root: Path, log: Path) -> tuple[subprocess.Popen, float]:
    """`python app.py` on the demo workspace `root`; (process, seconds until it answered HTTP)."""
    proc, _, seconds = start_app(root, log)
    return proc, seconds




@pytest.mark.slow
def test_app_first_and_second_start(tmp_path):
    root = tmp_path / "demo"
    proc, first = _start(root, tmp_path / "first.log")
    try:
        ws = Workspace.open(root)
        state = demo_state(ws)
        job = refresh(ws, state["sft_job"])
        assert job["status"] in ("queued", "running") and current_job(ws) == job["id"]
        assert state["corpus"]["videos"] == 6 and state["review"]["rejected"] > 0
        assert state["review"]["approved"] > 0 and state["review"]["pending"] > 0
    finally:
        stop_app(proc)
    assert refresh(ws, job["id"])["status"] in ("running", "succeeded")  # the job outlives the app
    cancel(ws, job["id"])                                                # (no need to train it here)
    revisions = ws.scalar("SELECT count(*) FROM qa_revisions")
    saved = (root / "demo.json").read_text()
    proc, second = _start(root, tmp_path / "second.log")
    stop_app(proc)
    print(f"python app.py → HTTP on loopback: first start {first:.1f} s, second start {second:.1f} s; "
          f"demo steps {json.loads(saved)}")
    assert (root / "demo.json").read_text() == saved and ws.scalar("SELECT count(*) FROM qa_revisions") == revisions
    assert [j["id"] for j in ws.list_jobs()] == [job["id"]]              # a cancelled demo job is not relaunched
    log = (tmp_path / "second.log").read_text()
    assert "building" not in log and "review round" not in log
    assert first < 120 and second < 120

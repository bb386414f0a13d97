"""The Train tab, driven through gradio_client against a real workspace and real tiny SFT jobs.

    .venv/bin/pytest tests/workbench/test_train_tab.py

The module fixture builds the training test workspace (tests/train/conftest.py: PyAV colour videos,
QA items in sft/rl/eval) and launches the tab in-process (prevent_thread_lock=True). The job tests
start real `python -m lvr.train.sft` subprocesses from configs/tiny/sft.yaml (the tiny model is
built into the workspace by the first job) and cancel whatever they started.
"""
from __future__ import annotations

import json
import os
import time

import gradio as gr
import pytest
import yaml
from gradio_client import Client

from lvr.jobs import cancel, is_alive, read_metrics, refresh
from lvr.store import Workspace
from tests.train.conftest import build_workspace
from workbench.train import FORM, ROOT, job_metrics, pick_checkpoint, recipe_choices
from workbench.train_tab import build_train_tab

FAST = {"model": "tiny:lvr_composite", "max_steps": 3, "data.num_frames": 2, "optim.lr": "3e-3",
        "rollout.num_generations": 4, "loss.beta": 0.01, "loss.type": "grpo", "rollout.backend": "transformers",
        "mrsp.sp_size": 1, "mrsp.embed_cache": "auto"}
FAST_EXTRA = "data.max_items=2\ndata.eval_split=null\nsave_every=0"


def form(stage="sft", recipe="configs/tiny/sft.yaml", nproc=1, extra=FAST_EXTRA, **fields):
    """Positional inputs of /train_validate and /train_launch, fields given by their config key."""
    values = {**FAST, **{k.replace("__", "."): v for k, v in fields.items()}}
    return [stage, recipe, nproc, extra, *[values[key] for key, _, _ in FORM]]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = build_workspace(tmp_path_factory.mktemp("traintab") / "ws", n_videos=2)
    ws = Workspace.open(root)
    with gr.Blocks() as demo:
        with gr.Tab("Train"):
            build_train_tab(ws)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    client = Client(demo.local_url, verbose=False)
    yield dict(ws=ws, client=client)
    for job in ws.list_jobs():
        cancel(ws, job["id"])
    demo.close()
    ws.close()


def poll_until(client, job, done=lambda md, fig: any(f"**{s}**" in md for s in
                                                        ("succeeded", "failed", "cancelled", "dead")), timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        md, log, plot, _, table = client.predict(job, api_name="/train_poll")
        fig = json.loads(plot["plot"])
        if done(md, fig):
            return md, log, fig, table
        time.sleep(0.3)
    raise AssertionError(f"job {job} did not get there in {timeout} s:\n{md}\n{log}")


def trace(fig, name):
    return next((t for t in fig["data"] if t.get("name") == name), None)


def test_recipes_fill_the_form_and_endpoints_exist(env):
    client = env["client"]
    assert {"configs/tiny/sft.yaml", "configs/tiny/grpo.yaml", "configs/composite_7b/grpo.yaml",
            "configs/qwen2_5_vl_7b/sft.yaml"} <= set(recipe_choices())
    out = client.predict("sft", "configs/qwen2_5_vl_7b/grpo.yaml", api_name="/train_recipe")
    stage, text, fields = out[0], out[1], dict(zip([k for k, _, _ in FORM], out[2:]))
    assert stage == "grpo" and "num_generations: 8" in text
    assert fields["rollout.num_generations"]["value"] == 8 and fields["data.num_frames"]["value"] == 512
    assert fields["optim.lr"]["value"] == "1e-06" and fields["loss.type"]["value"] == "grpo"
    assert fields["rollout.backend"]["visible"] is True and fields["model"]["value"] == "latest:sft"
    out = client.predict("grpo", "configs/tiny/sft.yaml", api_name="/train_recipe")
    fields = dict(zip([k for k, _, _ in FORM], out[2:]))
    assert out[0] == "sft" and fields["rollout.num_generations"]["visible"] is False   # GRPO-only keys hidden
    assert fields["max_steps"]["value"] == 60 and fields["model"]["value"] == "tiny:lvr_composite"
    assert client.predict("grpo", "configs/tiny/sft.yaml", api_name="/train_stage") == "configs/tiny/grpo.yaml"
    api = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/train_recipe", "/train_stage", "/train_validate", "/train_launch", "/train_poll", "/train_watch",
            "/train_cancel", "/train_resume", "/train_refresh", "/train_pick_checkpoint",
            "/train_tab_opened"} <= api


def test_bad_values_are_reported_before_anything_launches(env):
    ws, client = env["ws"], env["client"]
    verdict, resolved = client.predict(*form(optim__lr="fast"), api_name="/train_validate")
    assert verdict.startswith("✗ config: optim.lr: expected float, got 'fast' (from override optim.lr=fast)")
    assert resolved == ""
    with pytest.raises(Exception, match=r"data.num_frames: must be >= 1, got 0"):
        client.predict(*form(data__num_frames=0), api_name="/train_launch")
    with pytest.raises(Exception, match=r"unknown key rollout.G \(from override rollout.G=8\)"):
        client.predict(*form("grpo", "configs/tiny/grpo.yaml", extra="rollout.G=8"), api_name="/train_launch")
    with pytest.raises(Exception, match="processes must be a whole number >= 1"):
        client.predict(*form(nproc=0), api_name="/train_launch")
    assert not ws.list_jobs()

    verdict, resolved = client.predict(*form("grpo", "configs/tiny/grpo.yaml", nproc=2, extra="save_every=5",
                                             loss__type="dapo", loss__beta=0, rollout__num_generations=6,
                                             mrsp__sp_size=2, mrsp__embed_cache="disk", rollout__backend="vllm",
                                             model="latest:sft"), api_name="/train_validate")
    cfg = yaml.safe_load(resolved)
    assert verdict.startswith("✓ valid") and "lvr train grpo" in verdict and "--nproc 2" in verdict
    assert (cfg["loss"]["type"], cfg["loss"]["beta"], cfg["rollout"]["num_generations"]) == ("dapo", 0.0, 6)
    assert cfg["save_every"] == 5 and cfg["data"]["num_frames"] == 2 and cfg["workspace"] == "<workspace>"
    assert cfg["optim"]["lr"] == 3e-3 and cfg["max_steps"] == 3
    assert (cfg["mrsp"]["sp_size"], cfg["mrsp"]["embed_cache"], cfg["rollout"]["backend"]) == (2, "disk", "vllm")


@pytest.mark.slow
def test_launch_sft_then_grpo_curves_log_and_checkpoint_lineage(env):
    ws, client = env["ws"], env["client"]
    job_dd, md, _ = client.predict(*form(), api_name="/train_launch")
    job = job_dd["value"]
    assert job.startswith("sft-") and job in md
    args = ws.get_job(job)["config"]["_args"]      # the same command `lvr train sft` runs
    assert args[:3] == ["-m", "lvr.train.sft", str(ROOT / "configs/tiny/sft.yaml")]
    assert args[3:] == ["model=tiny:lvr_composite", "max_steps=3", "data.num_frames=2", "optim.lr=3e-3",
                        "data.max_items=2", "data.eval_split=null", "save_every=0", f"workspace={ws.root}"]
    md, log, fig, table = poll_until(client, job)
    assert "**succeeded**" in md, md + log
    rows = read_metrics(ws, job)
    loss = trace(fig, "loss")
    assert loss["x"] == [1, 2, 3] and loss["y"] == pytest.approx([r["loss"] for r in rows])
    assert trace(fig, "lr") and trace(fig, "time/step") and trace(fig, "grad_norm")
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles[:2] == ["loss", "step time split (s)"] and "reward (mean, per component)" not in titles
    assert "[sft] step 3/3" in log and "succeeded" in log

    sft = ws.list_checkpoints(stage="sft")[-1]
    base = ws.get_checkpoint(sft["parent"])
    assert base["stage"] == "base" and sft["job_id"] == job and f"`{sft['id']}`" in md
    head = table["headers"]
    row = dict(zip(head, next(r for r in table["data"] if r[0] == sft["id"])))
    assert (row["stage"], row["step"], row["parent"], row["job"]) == ("sft", 3, base["id"], job)
    assert row["lineage"] == f"{base['id']} (base) → {sft['id']} (sft @3)" and row["metrics"].startswith("loss=")
    _, model_dd, refreshed, _ = client.predict(api_name="/train_refresh")
    assert sft["id"] in str(model_dd["choices"]) and refreshed["data"][0][0] == sft["id"]
    assert pick_checkpoint(gr.SelectData(None, {"index": [0, 4], "value": "x", "row_value": [sft["id"], "sft"]})) \
        == sft["id"]

    # GRPO from that checkpoint: reward per component, KL, lengths, step-time split, cache hit rate; base → SFT → GRPO
    job_dd, _, _ = client.predict(*form("grpo", "configs/tiny/grpo.yaml", model=sft["id"], max_steps=2,
                                        extra="data.max_items=2\nprompts_per_step=2\nrollout.max_new_tokens=12\n"
                                              "loss.overlong_buffer=8"), api_name="/train_launch")
    grpo_job = job_dd["value"]
    md, log, fig, table = poll_until(client, grpo_job)
    assert "**succeeded**" in md, md + log
    for name in ("reward/mean", "reward/accuracy/mean", "reward/format/mean", "accuracy", "kl",
                 "response/length_mean", "time/rollout", "time/update", "embeds/hit_rate"):
        assert trace(fig, name)["x"] == [1, 2], name
    assert trace(fig, "time/rollout")["stackgroup"] == "time" and "stackgroup" not in trace(fig, "time/step")
    rows = read_metrics(ws, grpo_job)
    assert trace(fig, "embeds/hit_rate")["y"] == pytest.approx(
        [r["embeds/hits"] / (r["embeds/hits"] + r["embeds/misses"]) for r in rows])
    grpo = ws.list_checkpoints(stage="grpo")[-1]
    row = dict(zip(table["headers"], table["data"][0]))
    assert row["id"] == grpo["id"] and row["parent"] == sft["id"] and row["lineage"] == (
        f"{base['id']} (base) → {sft['id']} (sft @3) → {grpo['id']} (grpo @2)")


@pytest.mark.slow
def test_watch_running_job_cancel_and_resume(env):
    ws, client = env["ws"], env["client"]
    job_dd, _, _ = client.predict(*form(max_steps=100000, extra="data.max_items=2\ndata.eval_split=null\n"
                                        "save_every=2\nexport_every_save=false"), api_name="/train_launch")
    job = job_dd["value"]
    try:
        state = ws.resolve(ws.get_job(job)["run_dir"]) / "state" / "resume.json"
        md, _, fig, _ = poll_until(client, job, lambda md, fig: state.exists() and trace(fig, "loss"))
        assert "**running**" in md, md
        seen = len(trace(fig, "loss")["x"])
        md, _, fig, _ = poll_until(client, job, lambda md, fig: len((trace(fig, "loss") or {"x": []})["x"]) > seen)
        assert "**running**" in md                           # the curve grows while the job runs
        md, log, _, _, _ = client.predict(job, api_name="/train_cancel")
        row = refresh(ws, job)
        assert row["status"] == "cancelled" and "**cancelled**" in md and not is_alive(row["pid"])
        saved = yaml.safe_load(state.read_text())["step"]

        new_dd, verdict, _ = client.predict(job, api_name="/train_resume")
        new = new_dd["value"]
        assert new != job and f"resumed `{job}` as `{new}`" in verdict
        cfg = ws.get_job(new)["config"]
        assert cfg["resumed_from"] == job and cfg["_args"][-1] == "resume=true"
        md, log, fig, _ = poll_until(client, new, lambda md, fig: read_metrics(ws, new) or "**failed**" in md)
        assert f"resumes `{job}`" in md and "**failed**" not in md, log
        assert read_metrics(ws, new)[0]["step"] == saved + 1
        steps = [r["step"] for r in job_metrics(ws, new)]  # the curve continues the killed job's
        assert steps == list(range(1, len(steps) + 1)) and len(steps) > saved
        assert trace(fig, "loss")["x"][0] == 1
        client.predict(new, api_name="/train_cancel")
        assert refresh(ws, new)["status"] == "cancelled"
        with pytest.raises(Exception, match="pick a training job"):
            client.predict("", api_name="/train_resume")
    finally:
        for j in ws.list_jobs():
            cancel(ws, j["id"])


def test_refresh_and_tab_open_follow_the_running_job(env):
    ws, client = env["ws"], env["client"]
    job = ws.add_job("sft", {})                       # a job started after the tab was built (by another tab,
    ws.update_job(job, status="running", pid=os.getpid())   # the CLI, the demo): alive, so it stays running
    try:
        job_dd, _, _, timer = client.predict(None, api_name="/train_refresh")
        assert job_dd["value"] == job and (f"{job} · running", job) in [tuple(c) for c in job_dd["choices"]]
        assert timer["active"] is True                 # and its curves are polled
    finally:
        ws.update_job(job, status="cancelled")

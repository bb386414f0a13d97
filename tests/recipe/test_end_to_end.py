"""The whole recipe (configs/tiny/recipe-videolm.yaml: every stage there is, the base video LM included) on a tiny
corpus with very few steps: every stage runs once (GRPO as a 2-process
torchrun with MR-SP sp_size 2 and the disk embedding cache; both training stages as tracked jobs), results.json
and the report are written, and a second run skips every stage; a changed sweep re-runs only the sweep."""
import json
import re

import pytest

from lvr.recipe import load_recipe, run_recipe, write_report
from lvr.store import Workspace

from .test_config import VIDEOLM_RECIPE as RECIPE

pytestmark = [pytest.mark.slow, pytest.mark.dist]

TINY = ["data.videos=4", "data.split_fractions=[0.25,0.25,0.5]", "data.workers=1", "model.vocab_size=600",
        "perception.steps=20", "perception.worlds=2",
        "videolm.steps=4", "videolm.batch_size=4", "videolm.eval_every=2", "videolm.eval_items=8",
        "videolm.frames=[1,2]", "videolm.warmup_steps=1", "videolm.stamp_frames=true", "videolm.clock_init=sinusoid",
        "videolm.hide_frame_tags=true",
        "sft.set.max_steps=4", "sft.set.log_every=1", "sft.set.micro_batch_size=2", "sft.set.save_every=2",
        "sft.set.eval_every=0",
        "sft.set.data.eval_max_items=2", "sft.set.replay.items=2", "sft.set.replay.qa_items=1", "grpo.set.max_steps=2",
        "grpo.set.save_every=0",
        "grpo.set.prompts_per_step=2", "grpo.set.micro_batch_size=4", "grpo.set.rollout.max_new_tokens=12",
        "eval.limit=null", "eval.sweep_frames=[1,2]", "eval.frames=2", "eval.max_new_tokens=12", "eval.n_boot=200",
        "eval.batch_size=6"]


def test_recipe_runs_end_to_end_then_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ws = tmp_path / "ws"
    lines: list[str] = []
    cfg = load_recipe(RECIPE, [f"workspace={ws}", *TINY])
    res = run_recipe(cfg, echo=lines.append)

    saved = json.loads((ws / "recipe" / "results.json").read_text())
    assert saved["verdict"] == json.loads(json.dumps(res["verdict"]))
    systems = res["eval"]["systems"]
    # the base video LM is the base later stages are compared with (answer only); the random-init LM is not scored
    assert set(systems) == {"videolm", "sft", "grpo", "grpo-shuffled", "random", "most-frequent", "text-only"}
    v = res["videolm"]
    assert v["steps"] == 4 and v["items"] == 16 and set(v["final"]) == {"1", "2"} and len(v["curve"]) == 2
    n = systems["grpo"]["overall"]["n"]
    for s in systems.values():
        assert s["overall"]["n"] == n and 0 <= s["overall"]["acc"] <= 1
        assert set(s["categories"]) >= {"temporal", "goal", "spatial", "plot"}
    pairs = {(p["new"], p["base"]) for p in res["significance"]}
    assert {("videolm", "text-only"), ("sft", "videolm"), ("grpo", "sft"), ("grpo", "grpo-shuffled"),
            ("2 frames", "1 frames")} <= pairs
    assert res["verdict"]["videolm_vs_text_only"]["n"] == res["verdict"]["sft_vs_videolm"]["n"] == n
    for p in res["significance"]:
        assert p["n_common"] == n and 0 <= p["groups"]["overall"]["p"] <= 1
    # the no-video control: the final model, every item shown the other eval video's frames
    control = res["eval"]["systems"]["grpo-shuffled"]
    assert control["kind"] == "control" and control["checkpoint"] == systems["grpo"]["checkpoint"]
    assert res["verdict"]["own_vs_shuffled"]["n"] == n
    assert res["sweep"]["frames"] == [1, 2] and len(res["sweep"]["runs"]) == 2
    at_eval = Workspace.open(ws).get_eval_run(res["sweep"]["runs"][1])     # the eval run stands for 2 frames
    assert at_eval["config"]["adopted_from"] == systems["grpo"]["run"]
    # GRPO ran under torchrun with 2 processes, sp_size 2 and the disk embedding cache
    grpo = res["training"]["grpo"]
    assert grpo["nproc"] == 2 and grpo["config"]["mrsp"]["sp_size"] == 2
    assert grpo["config"]["mrsp"]["embed_cache"] == "disk"
    assert [r["step"] for r in grpo["curve"]] == [1, 2]
    assert grpo["curve"][1]["embeds/disk_hits"] >= 1    # step 2 reused step 1's video embeddings from disk
    assert "(sp_size 2)" in (ws / grpo["run_dir"] / "log.txt").read_text()
    # the training stages ran as tracked jobs (lvr.jobs), in the recipe's run folders
    jobs = {j["kind"]: j for j in Workspace.open(ws).list_jobs()}
    assert sorted(jobs) == ["grpo", "sft"] and all(j["status"] == "succeeded" for j in jobs.values())
    assert jobs["grpo"]["run_dir"] == grpo["run_dir"] and jobs["grpo"]["config"]["_nproc"] == 2
    assert len(res["training"]["sft"]["curve"]) == 4
    assert all(r["replay_loss"] > 0 for r in res["training"]["sft"]["curve"])    # the base stage's look-ups replayed
    for stage in ("sft", "grpo"):    # frames stamped with their sinusoidal clock tags from the base video LM on
        final = ws / res["training"][stage]["checkpoint"]
        saved = json.loads((final / "lvr_config.json").read_text())
        assert saved["stamp_frames"] is True and saved["hide_frame_tags"] is True
    kept = res["training"]["sft"]["answerable"]             # the answerable-items rule, as its log line said
    assert kept["frames"] == 16 and 0 < kept["kept"] <= kept["items"]
    assert res["timings"]["total"] > 0 and all(r["ran"] for r in res["invocation"]["stages"])
    assert any(line.startswith("held-out accuracy") for line in lines)

    # a second run skips everything (and gives the same numbers)
    lines2: list[str] = []
    res2 = run_recipe(load_recipe(RECIPE, [f"workspace={ws}", *TINY]), echo=lines2.append)
    ran = [r["stage"] for r in res2["invocation"]["stages"] if r["ran"]]
    assert ran == ["compare"] and len(Workspace.open(ws).list_jobs()) == 2
    assert res2["eval"]["systems"] == res["eval"]["systems"] and res2["timings"] == res["timings"]

    # a new sweep re-runs only the sweep
    res3 = run_recipe(load_recipe(RECIPE, [f"workspace={ws}", *TINY, "eval.sweep_frames=[1,3]"]),
                      echo=lambda s: None)
    assert [r["stage"] for r in res3["invocation"]["stages"] if r["ran"]] == ["sweep", "compare"]
    assert res3["sweep"]["frames"] == [1, 3]

    out = write_report(ws, tmp_path / "doc" / "results.md", png=False)
    text = out["report"].read_text()
    assert "## Held-out accuracy by category" in text and "## Significance" in text
    assert "## Base video LM" in text and "| base video LM |" in text
    assert "| CoT-SFT + GRPO, another video's frames |" in text and "Uses the video (final model" in text
    acc = 100 * res3["eval"]["systems"]["grpo"]["overall"]["acc"]
    assert re.search(rf"\| CoT-SFT \+ GRPO \| {acc:.1f} \[", text)

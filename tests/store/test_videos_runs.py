"""Videos, clips and caption history; jobs, checkpoints with lineage, eval runs, generation log."""
import pytest


def test_video_dedup_by_content_hash(ws, video_id):
    again = ws.add_video("/elsewhere/copy.mp4", sha256="0123456789abcdef" * 4, duration=30, fps=30, n_frames=900,
                         width=64, height=48)
    assert again == video_id and ws.scalar("SELECT count(*) FROM videos") == 1


def test_clips_keep_captions_when_boundaries_unchanged_and_history_kept(ws, video_id):
    ids = ws.set_clips(video_id, [(0, 10), (10, 20), (20, 30)])
    ws.set_caption(ids[0], "first caption", captioner="vlm-a", prompt="describe")
    ws.set_caption(ids[0], "better caption", captioner="vlm-b", who="alice")
    assert ws.set_clips(video_id, [(0, 10), (10, 20), (20, 30)]) == ids
    clip = ws.get_clip(ids[0])
    assert (clip["caption"], clip["captioner"], clip["updated_by"]) == ("better caption", "vlm-b", "alice")
    (old,) = ws.caption_history(ids[0])
    assert (old["caption"], old["captioner"], old["prompt"], old["replaced_by"]) == (
        "first caption", "vlm-a", "describe", "alice")
    ids2 = ws.set_clips(video_id, [(0, 15), (15, 30)])
    assert len(ws.clips(video_id)) == 2 and ids2[0] != ids[0]
    v = ws.list_videos()[0]
    assert (v["n_clips"], v["n_captioned"]) == (2, 0)


def test_jobs_and_checkpoint_lineage(ws):
    job = ws.add_job("sft", {"lr": 1e-4})
    assert (ws.root / ws.get_job(job)["run_dir"]).is_dir()
    ws.update_job(job, status="running", pid=123)
    with pytest.raises(ValueError, match="job status"):
        ws.update_job(job, status="exploded")
    base = ws.register_checkpoint(ws.checkpoints_dir / "base", kind="lvr_composite", stage="base")
    sft = ws.register_checkpoint(ws.checkpoints_dir / "sft", kind="lvr_composite", stage="sft", parent=base,
                                 step=100, metrics={"loss": 0.5}, job_id=job)
    grpo = ws.register_checkpoint(ws.checkpoints_dir / "grpo", kind="lvr_composite", stage="grpo", parent=sft)
    assert ws.register_checkpoint(ws.checkpoints_dir / "sft", kind="x", stage="sft") == sft  # idempotent
    assert [c["stage"] for c in ws.checkpoint_lineage(grpo)] == ["base", "sft", "grpo"]
    assert ws.get_checkpoint(sft)["metrics"] == {"loss": 0.5}
    assert ws.get_checkpoint(sft)["path"] == "checkpoints/sft"  # stored relative: the folder can move


def test_eval_items_upsert_and_gen_outputs(ws):
    run = ws.add_eval_run(checkpoint=None, split="eval", frames=16, answerer="random")
    ws.add_eval_items(run, [{"qa_id": 1, "correct": 0}, {"qa_id": 2, "correct": 1}])
    ws.add_eval_items(run, [{"qa_id": 1, "correct": 1}])
    assert [(i["qa_id"], i["correct"]) for i in ws.eval_items(run)] == [(1, 1), (2, 1)]
    ws.update_eval_run(run, status="done", summary={"overall": 1.0})
    assert ws.get_eval_run(run)["summary"] == {"overall": 1.0}
    ws.add_gen_output(task="qa", key="v1:temporal:0", ok=False, raw="garbage", reason="no ANSWER line")
    ws.add_gen_output(task="qa", key="v1:goal:0", ok=True, raw="fine")
    assert ws.done_keys("qa") == {"v1:goal:0"}
    assert ws.gen_outputs(ok=False)[0]["reason"] == "no ANSWER line"

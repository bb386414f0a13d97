"""The Videos tab through gradio_client: list/search/filter, detail with WebVTT subtitles, clip seek,
caption edits with history and conflict refusal, ingest of uploads with per-file errors.

    .venv/bin/pytest tests/workbench/test_videos_tab.py
"""
from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from lvr.video.encode import numbered_frames, write_video
from tests.workbench.conftest import USERS, serve
from workbench.subtitles import captions_vtt, cue_text, vtt_time
from workbench.videos import caption_history_html, video_rows
from workbench.videos_tab import build_videos_tab


@pytest.fixture(scope="module")
def env(module_ws):
    with serve(module_ws, build_videos_tab, "Videos", auth=USERS) as url:
        yield dict(ws=module_ws, alice=Client(url, auth=USERS[0], verbose=False),
                   bob=Client(url, auth=USERS[1], verbose=False))


def rows(table: dict) -> list[dict]:
    return [dict(zip(table["headers"], r)) for r in table["data"]]


def test_vtt_helpers():
    assert vtt_time(0) == "00:00:00.000" and vtt_time(3725.5) == "01:02:05.500"
    assert cue_text("a --> b\n\n  c ") == "a → b\nc"
    doc = captions_vtt([{"idx": 0, "start": 0, "end": 10, "caption": "hello"},
                        {"idx": 1, "start": 10, "end": 20, "caption": None}])
    assert doc.startswith("WEBVTT\n") and "00:00:00.000 --> 00:00:09.999\nhello" in doc and "clip-1" not in doc
    long = "The first sentence is here. " * 8                      # 224 characters: two cues over the clip
    doc = captions_vtt([{"idx": 3, "start": 30, "end": 40, "caption": long}], max_chars=120)
    assert "clip-3.1\n00:00:30.000 --> 00:00:34.999\n" in doc and "clip-3.2\n00:00:35.000 --> 00:00:39.999\n" in doc
    assert doc.count("The first sentence is here.") == 8


def test_list_search_and_filters(env):
    c, ws = env["alice"], env["ws"]
    allv = rows(c.predict("", "any", "any", "any", api_name="/list_videos"))
    assert len(allv) == 3 and all(r["captioned clips"] == "4/4" and r["pending"] == 8 for r in allv)
    assert {r["file"] for r in allv} == {"kitchen_tour_1.mp4", "garden_tour_2.mp4", "garage_tour_3.mp4"}
    # search reaches caption text (FTS) and file names
    hits = rows(c.predict("studio", "any", "any", "any", api_name="/list_videos"))
    assert {r["file"] for r in hits} == {"garden_tour_2.mp4", "garage_tour_3.mp4"}
    assert [r["file"] for r in rows(c.predict("kitchen_tour", "any", "any", "any", api_name="/list_videos"))] == \
        ["kitchen_tour_1.mp4"]
    assert len(rows(c.predict("", "rl", "any", "any", api_name="/list_videos"))) == 1
    assert rows(c.predict("", "any", "not captioned", "any", api_name="/list_videos")) == []
    assert len(rows(c.predict("", "any", "any", "has pending", api_name="/list_videos"))) == 3
    assert rows(c.predict("", "any", "any", "fully reviewed", api_name="/list_videos")) == []
    # the plain handler agrees with the endpoint
    assert len(video_rows(ws, "studio")) == 2


def test_video_detail_player_subtitles_and_counts(env):
    c, ws = env["alice"], env["ws"]
    vid = ws.list_videos()[0]["id"]
    out = c.predict(vid, api_name="/video_detail")
    video_id, player, info, counts, clips, sheet = out[:6]
    assert video_id == vid and "kitchen_tour_1.mp4" in info and "4/4 clips captioned" in info
    assert player["value"].endswith(".mp4") and player["playback_position"] == 0.0
    vtt = Path(player["subtitles"]).read_text()
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == 4 and "kitchen" in vtt
    assert (ws.root / "cache" / "subtitles" / f"{vid}.vtt").exists()
    by_cat = {r["category"]: r for r in rows(counts)}
    assert by_cat["temporal"]["pending"] == 2 and by_cat["total"]["total"] == 8
    assert [r["start"] for r in rows(clips)] == [0.0, 10.0, 20.0, 30.0]
    assert Path(sheet).stat().st_size > 1000
    with pytest.raises(Exception, match="no video 'nope'"):
        c.predict("nope", api_name="/video_detail")


def test_clip_seek_caption_edit_history_and_conflict(env):
    alice, bob, ws = env["alice"], env["bob"], env["ws"]
    vid = ws.list_videos()[1]["id"]
    clip = ws.clips(vid)[2]
    cid, label, caption, base, history, player = alice.predict(clip["id"], api_name="/clip_detail")
    assert cid == clip["id"] and "20.0–30.0 s" in label and caption == base == clip["caption"]
    assert player["playback_position"] == 20.0          # the player seeks to the clip
    msg, new_base, hist, clips, player = alice.predict(clip["id"], "A boy kicks the ball across the hallway.", base,
                                                        api_name="/save_caption")
    assert "saved by alice" in msg and new_base == "A boy kicks the ball across the hallway."
    assert "by <b>alice</b>" in hist and "<ins>" in hist and "<del>" in hist
    assert player["playback_position"] == 20.0 and "A boy kicks" in Path(player["subtitles"]).read_text()
    stored = ws.get_clip(clip["id"])
    assert stored["updated_by"] == "alice" and stored["captioner"] == "human"
    assert ws.caption_history(clip["id"])[-1]["caption"] == clip["caption"]   # the old caption is kept
    # bob still has the caption he loaded before alice saved: refused, names alice, nothing written
    with pytest.raises(Exception, match="was changed by alice"):
        bob.predict(clip["id"], "Bob's version", base, api_name="/save_caption")
    assert ws.get_clip(clip["id"])["caption"] == new_base
    # after reloading, bob's edit goes through, and the history shows both authors
    _, _, _, bob_base, _, _ = bob.predict(clip["id"], api_name="/clip_detail")
    msg = bob.predict(clip["id"], "Bob's version of the hallway scene.", bob_base, api_name="/save_caption")[0]
    assert "saved by bob" in msg
    html = caption_history_html(ws, clip["id"])
    assert html.index("by <b>bob</b>") < html.index("by <b>alice</b>")   # newest first
    with pytest.raises(Exception, match="caption is empty"):
        bob.predict(clip["id"], "  ", None, api_name="/save_caption")


def test_ingest_uploads_reports_each_file(env, tmp_path):
    c, ws = env["alice"], env["ws"]
    good = write_video(tmp_path / "new_scene.mp4", numbered_frames(100, 96, 128), fps=10, gop=10)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video at all")
    existing = ws.video_path(ws.list_videos()[0]["id"])
    report = c.predict([handle_file(str(good)), handle_file(str(broken)), handle_file(str(existing))], "eval", 4,
                       api_name="/ingest")
    by_file = {r["file"]: r for r in rows(report)}
    assert by_file["new_scene.mp4"]["result"] == "added" and "2 clips" in by_file["new_scene.mp4"]["detail"]
    assert by_file["broken.mp4"]["result"] == "error" and "broken.mp4" in by_file["broken.mp4"]["detail"]
    assert "/tmp/gradio" not in by_file["broken.mp4"]["detail"]
    assert by_file[existing.name]["result"] == "duplicate"
    new = ws.get_video(by_file["new_scene.mp4"]["video"])
    assert new["split"] == "eval" and ws.resolve(new["path"]).parent == ws.media_dir
    assert len(ws.list_videos()) == 4
    with pytest.raises(Exception, match="choose one or more video files"):
        c.predict([], "none", 10, api_name="/ingest")

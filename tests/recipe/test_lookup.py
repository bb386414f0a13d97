"""The look-up probe (lvr.recipe.lookup): questions a frame answers, and training the LM on them."""
import torch

from lvr.recipe.lookup import (
    LOOKUP_KINDS,
    STATE_KINDS,
    lookup_accuracy,
    lookup_items,
    state_items,
    train_lookup,
)
from lvr.recipe.stages import build_model
from lvr.synth.eventlog import EventLog
from lvr.train.data import VideoFrames

from .test_stages import _recipe


def test_questions_follow_the_event_log_at_each_sampled_frame(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    items = lookup_items(r.ws, splits=("sft", "rl", "eval"), num_frames=4)
    assert {x.kind for x in items} == set(LOOKUP_KINDS)
    frames = VideoFrames(r.ws, num_frames=4)
    by_video = {}
    for x in items:
        by_video.setdefault(x.item.video_id, []).append(x)
    assert len(by_video) == 3
    for group in by_video.values():
        it = group[0].item
        log = EventLog.load(it.video_path.removesuffix(".mp4") + ".events.json")
        times = [float(t) for t in frames(it).timestamps]
        robots = [x for x in group if x.kind == "robot"]
        assert len(robots) == len(log.agent_ids) * len(times)
        for x, (t, a) in zip(robots, [(t, a) for t in times for a in log.agent_ids]):
            assert x.item.question.startswith(f"Where is the {a} robot at ")
            assert x.item.answer == f"the {log.zone_at(a, t)}"
    single = lookup_items(r.ws, splits=("sft",), num_frames=4, single=True)
    one = VideoFrames(r.ws, num_frames=1, use_clip_range=True)
    for x in single[:: max(1, len(single) // 5)]:
        s = one(x.item)
        assert len(s.frames) == 1 and abs(float(s.timestamps[0]) - (x.item.start + 0.2)) <= 0.25


def test_training_changes_the_lm_and_projector_only_and_reports_per_kind(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    model = build_model(r.cfg.model, r.ws)
    items = lookup_items(r.ws, splits=("sft", "rl", "eval"), num_frames=2, single=True)
    tower = {k: v.clone() for k, v in model.vision_tower.state_dict().items()}
    lm = {k: v.clone() for k, v in model.causal_lm.state_dict().items()}
    lines = []
    rep = train_lookup(model, r.ws, items, items[:12], num_frames=2, single=True, steps=3, batch_size=4,
                       log=lines.append)
    assert rep["frames"] == 1 and rep["steps"] == 3 and rep["test_items"] == 12
    assert set(rep["after"]) <= {*LOOKUP_KINDS, "all"} and "all" in rep["after"]
    assert all(0.0 <= v <= 1.0 for v in rep["after"].values()) and lines[-1].startswith("[lookup] step 3/3")
    assert all(torch.equal(v, model.vision_tower.state_dict()[k]) for k, v in tower.items())
    assert any(not torch.equal(v, model.causal_lm.state_dict()[k]) for k, v in lm.items())
    assert lookup_accuracy(model, items[:4], VideoFrames(r.ws, num_frames=1, use_clip_range=True))["all"] >= 0


def test_clock_time_tokens_make_the_tag_and_the_question_time_one_shared_token(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    model = build_model(r.cfg.model, r.ws)
    layout = model.video_layout(2, timestamps=[34.6, 3725.2])
    before = model._expand_video(layout)
    assert len(before) > 2 * model.tokens_per_frame + 2          # "<t=34.6s>" is several tokens
    n_vocab = model.causal_lm.get_input_embeddings().weight.shape[0]
    added = model.use_clock_tags(3725)
    assert added > 0 and model.causal_lm.get_input_embeddings().weight.shape[0] == n_vocab + added
    ids = model._expand_video(layout)
    vid = model.video_token_id
    assert ids == ([model.tokenizer.convert_tokens_to_ids("00:35")] + [vid] * model.tokens_per_frame
                   + [model.tokenizer.convert_tokens_to_ids("1:02:05")] + [vid] * model.tokens_per_frame)
    q = model.tokenizer.encode("Where is the red robot at 00:35?", add_special_tokens=False)
    assert ids[0] in q                                            # the question's time is the tag's token
    assert model.options.timestamp_tag(34.6) == "00:35"


def test_state_questions_need_no_frame_chosen_and_follow_the_event_log(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    items = state_items(r.ws, splits=("sft", "rl", "eval"), num_frames=4)
    frames = VideoFrames(r.ws, num_frames=4)
    by_video = {}
    for x in items:
        by_video.setdefault(x.item.video_id, []).append(x)
    assert len(by_video) == 3 and {x.kind for x in items} == set(STATE_KINDS)
    for group in by_video.values():
        it = group[0].item
        log = EventLog.load(it.video_path.removesuffix(".mp4") + ".events.json")
        last = float(frames(it).timestamps[-1])
        assert len(group) == 2 * len(log.agent_ids)
        for a in log.agent_ids:
            most = next(x for x in group if x.kind == "most_time" and f" {a} robot" in x.item.question)
            seconds = {}
            for k in range(int(log.duration * 2)):
                z = log.zone_at(a, k / 2 + 0.25)
                seconds[z] = seconds.get(z, 0) + 0.5
            assert most.item.answer == f"the {max(seconds, key=seconds.get)}"
            at_end = next(x for x in group if x.kind == "last_frame" and f" {a} robot" in x.item.question)
            assert at_end.item.answer == f"the {log.zone_at(a, last)}" and not at_end.item.options

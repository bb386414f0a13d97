"""The base video-LM stage (lvr.recipe.videolm): fresh-world questions, the chat inputs, one-token frames, training."""
import itertools
from dataclasses import replace

import pytest
import torch

from lvr.model.prompting import LETTERS
from lvr.recipe.config import VideoLMStage
from lvr.recipe.fresh_lookup import HELD_OUT_SEEDS, TRAIN_SEEDS, WorldSpec, fresh_world
from lvr.recipe.fresh_lookup_tower import base_without_workspace
from lvr.recipe.videolm import (
    VIDEOLM_KINDS,
    VideoLMTrainer,
    baselines,
    held_out_questions,
    question_stream,
    world_questions,
)
from lvr.synth.phrases import fmt_time

SPEC = WorldSpec(minutes=(1.0, 1.5), kinds=("robot", "carrying", "object"))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = base_without_workspace(SPEC, vocab_size=400)
    m.projector.set_frame_merge("linear")
    m.use_clock_tags(130)
    m.set_answer_format("text")
    return m


def _zone(log, robot, t):
    return f"the {log.zone_at(robot, t)}"


def test_every_kind_answers_what_the_sampled_frames_show():
    seen = set()
    for seed in range(TRAIN_SEEDS, TRAIN_SEEDS + 30):
        for q in world_questions(seed, SPEC, 4, count=3):
            log, key = fresh_world(seed, SPEC), q.answer_option
            seen.add(q.kind)
            assert len(q.options) == 4 and len(set(q.options)) == 4 and q.answer in LETTERS[:4]
            assert len({round(t) for t in q.times}) == 4 and q.times == tuple(i / SPEC.fps for i in q.frames)
            robot = q.question.split(" robot")[0].rsplit("the ", 1)[1] if " robot" in q.question else None
            if q.kind == "time":
                k = [fmt_time(t) for t in q.times].index(q.question.rsplit(" at ", 1)[1].rstrip("?"))
                assert key == _zone(log, robot, q.times[k])
            elif q.kind == "first":
                assert key == _zone(log, robot, q.times[0])
            elif q.kind == "last":
                assert key == _zone(log, robot, q.times[-1])
            elif q.kind == "last_object":
                obj = q.question.removeprefix("Where is the ").removesuffix(" in the last frame?").replace(" ", "-")
                state = log.object_state_at(obj, q.times[-1])
                assert key == (f"the {state[1]}" if state[0] == "floor" else f"with the {state[1]} robot")
            elif q.kind == "most":
                zones = [_zone(log, robot, t) for t in q.times]
                assert zones.count(key) > max(zones.count(z) for z in set(zones) - {key})
            elif q.kind == "count":
                zone = q.question.split(" in ")[-1].rstrip("?")
                assert key == str(sum(_zone(log, robot, t) == zone for t in q.times))
            assert key in q.per_frame or q.kind in ("most", "count")
    assert seen == set(VIDEOLM_KINDS)


def test_training_and_held_out_worlds_are_disjoint_fresh_seeds():
    stream = question_stream(SPEC, lambda: 2, VIDEOLM_KINDS, start=TRAIN_SEEDS, items_per_world=2)
    train = list(itertools.islice(stream, 20))
    assert len({q.seed for q in train}) == 10 and max(q.seed for q in train) < HELD_OUT_SEEDS
    held = held_out_questions(SPEC, (1, 2), 6, VIDEOLM_KINDS)
    assert [q.seed for q in held[1]] == [q.seed for q in held[2]] == list(range(HELD_OUT_SEEDS, HELD_OUT_SEEDS + 6))
    b = baselines(held[2])
    assert 0 < b["most_frequent"] <= 1 and 0 <= b["random_frame"] <= 1


def test_inputs_are_the_chat_format_with_one_token_per_frame_and_the_answer_as_target(model):
    trainer = VideoLMTrainer(model, VideoLMStage(steps=1), spec=SPEC)
    q = world_questions(TRAIN_SEEDS + 3, SPEC, 4, kinds=("time",))[0]
    inputs = trainer.inputs([q])
    ids = inputs.input_ids[0].tolist()
    assert ids.count(model.video_token_id) == 4                          # one video token per frame
    tags = [model.tokenizer.convert_tokens_to_ids(fmt_time(t)) for t in q.times]
    at = [i for i, t in enumerate(ids) if t == model.video_token_id]
    assert [ids[i - 1] for i in at] == tags                              # each frame follows its one-token clock tag
    asked = q.question.rsplit(" at ", 1)[1].rstrip("?")
    assert model.tokenizer.convert_tokens_to_ids(asked) in ids[max(at):]  # the question's time is the same token
    target = model.tokenizer.decode([t for t in inputs.labels[0].tolist() if t != -100])
    assert target.strip().startswith(f"<answer>{q.answer_option}</answer>")


def test_a_few_steps_lower_the_loss_and_report_a_curve(model):
    cfg = VideoLMStage(steps=30, batch_size=8, lr=3e-3, warmup_steps=5, frames=[1, 2], eval_every=15,
                       eval_items=16, minutes=[1.0, 1.5])
    trainer = VideoLMTrainer(model, cfg, spec=SPEC)
    items = held_out_questions(SPEC, (1,), 16, VIDEOLM_KINDS)[1]
    with torch.no_grad():
        before = float(trainer.forward(items)[0])
    report = trainer.train(log=lambda s: None)
    with torch.no_grad():
        after = float(trainer.forward(items)[0])
    assert report["steps"] == 30 and report["items"] == 240 and [r["step"] for r in report["curve"]] == [15, 30]
    assert after < before
    assert set(report["final"]) == {"1", "2"} and report["cache"]["misses"] > 0
    assert not any(p.requires_grad for p in model.vision_tower.parameters())
    assert report["held_out_seeds"][0] == HELD_OUT_SEEDS and report["train_seeds"][0] == TRAIN_SEEDS


@pytest.mark.parametrize("accs, moves", [
    ([0.5, 0.81], True),                   # reached advance_at
    ([0.5, 0.6], False),                   # still rising, too few checks for a plateau
    ([0.5, 0.6, 0.61, 0.615], True),       # two checks without a 2-point gain over the best before them
    ([0.5, 0.6, 0.61, 0.63], False),       # rising again
])
def test_the_curriculum_moves_on_at_advance_at_or_a_plateau(model, accs, moves):
    trainer = VideoLMTrainer(model, VideoLMStage(advance_at=0.8, patience=2, min_gain=0.02), spec=SPEC)
    curve = [{"frames": 1, "acc": {"1": 0.9}}] + [{"frames": 2, "acc": {"2": a}} for a in accs]
    assert trainer._advance(curve, 2) is moves


def test_the_shared_system_prompt_runs_once_with_the_same_loss_and_gradients(model):
    items = [x for k in range(3) for x in world_questions(TRAIN_SEEDS + 50 + k, SPEC, 2 + k % 2, count=2)]
    plain = VideoLMTrainer(model, VideoLMStage(steps=1), seed=0, spec=SPEC, share_prefix=False)
    shared = VideoLMTrainer(model, VideoLMStage(steps=1), seed=0, spec=SPEC)
    out = []
    for tr in (plain, shared):
        for xs in (items[:2], items[2:4]):                      # one frame count per call, as in training
            model.zero_grad()
            loss, ok = tr.forward(xs)
            loss.backward()
            grads = [p.grad.clone() for p in model.llm.parameters() if p.grad is not None]
            out.append((loss.item(), ok.tolist(), grads))
    half = len(out) // 2
    for (l1, ok1, g1), (l2, ok2, g2) in zip(out[:half], out[half:]):
        assert l1 == pytest.approx(l2, rel=1e-5) and ok1 == ok2 and len(g1) == len(g2) > 0
        assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(g1, g2))
    model.zero_grad()


def test_corpus_questions_join_each_step_answer_only_and_are_scored_with_own_and_other_frames(model):
    from lvr.recipe.videolm import QA_WORLD_SEEDS, answer_only_items, held_out_qa
    from lvr.synth.fresh import world_items

    q = next(x for s in range(QA_WORLD_SEEDS, QA_WORLD_SEEDS + 50) for x in answer_only_items(s, SPEC, 8))
    full = next(x for x in world_items(q.seed, SPEC, 8) if x.question == q.question)
    assert q.reasoning == "" and full.reasoning and q.kind == f"qa-{q.category}"
    trainer = VideoLMTrainer(model, VideoLMStage(steps=1), spec=SPEC)
    target = model.tokenizer.decode([t for t in trainer.inputs([q]).labels[0].tolist() if t != -100])
    assert target.strip().startswith(f"<answer>{q.answer_option}</answer>")          # the answer alone, no <think>
    held = held_out_qa(SPEC, (8,), 6)[8]
    assert len({x.seed for x in held}) == 6 and min(x.seed for x in held) >= HELD_OUT_SEEDS

    cfg = VideoLMStage(steps=4, batch_size=8, frames=[1, 2], eval_every=2, eval_items=8, minutes=[1.0, 1.5],
                       advance_at=1.0, qa_share=0.5, qa_frames=[8], qa_start=0)
    report = VideoLMTrainer(model, cfg, spec=SPEC).train(log=lambda s: None)
    assert report["items"] == 32 and report["worlds"] == 4 and report["qa"]["items"] == 16  # half of each step
    first, end = report["qa"]["train_seeds"]
    assert first == QA_WORLD_SEEDS and QA_WORLD_SEEDS < end < HELD_OUT_SEEDS
    for row in [*(r["qa"] for r in report["curve"]), report["qa"]["final"]]:
        assert set(row) == {"8"} and set(row["8"]) == {"own", "other_frames"}
        assert all(0 <= v <= 1 for v in row["8"].values())

    later = VideoLMTrainer(model, replace(cfg, qa_start=1), spec=SPEC).train(log=lambda s: None)
    assert later["qa"]["items"] == 0 and later["worlds"] == 8           # the curriculum never left one frame


def test_the_stage_draws_its_worlds_frames_where_videolm_placement_says(model):
    from lvr.synth.fresh import frame_indices
    trainer = VideoLMTrainer(model, VideoLMStage(placement="centre", minutes=[1.0, 1.5]))
    assert trainer.spec.placement == "centre"
    for q in itertools.islice(question_stream(trainer.spec, 4, ("time", "last"), start=TRAIN_SEEDS,
                                              items_per_world=2), 6):
        assert list(q.frames) == frame_indices(None, q.log.duration, 4, trainer.spec.fps, "centre")

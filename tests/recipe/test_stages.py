"""Stage skipping and resume on a real (small) workspace: data and base stages, a changed setting."""
import json

import pytest

from lvr.recipe import load_recipe
from lvr.recipe.stages import Recipe, build_model

from .test_config import RECIPE

SMALL = ["data.videos=3", "data.workers=1", "model.vocab_size=400", "perception.steps=0"]


def _recipe(tmp_path, *extra):
    lines = []
    cfg = load_recipe(RECIPE, [f"workspace={tmp_path / 'ws'}", *SMALL, *extra])
    return Recipe(cfg, echo=lines.append), lines


def test_data_and_base_run_once_then_skip(tmp_path):
    r, lines = _recipe(tmp_path)
    summary = r.data()
    assert summary["videos"] == 3 and set(summary["qa_by_split"]) == {"sft", "rl", "eval"}
    base = r.base()
    assert (base / "lvr_config.json").is_file()
    assert r.ws.get_checkpoint(r.ws.relativize(base))["stage"] == "base"
    state = json.loads((r.dir / "state.json").read_text())
    assert set(state["stages"]) == {"data", "base"} and state["stages"]["base"]["parameters"] > 0
    n_qa, mtime = r.ws.scalar("SELECT count(*) FROM qa"), (base / "lvr_config.json").stat().st_mtime_ns

    again, lines2 = _recipe(tmp_path)
    assert again.data() == summary
    assert again.base() == base
    assert [row["ran"] for row in again.log.rows] == [False, False]
    assert any("skipped" in x for x in lines2)
    assert again.ws.scalar("SELECT count(*) FROM qa") == n_qa
    assert (base / "lvr_config.json").stat().st_mtime_ns == mtime


def test_a_changed_model_setting_rebuilds_only_the_model(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    first = r.base()
    r2, _ = _recipe(tmp_path, "model.pool_size=1")
    r2.data()
    second = r2.base()
    assert second != first and first.is_dir()
    assert [row["ran"] for row in r2.log.rows] == [False, True]
    from lvr.model import load_model

    assert load_model(second).tokens_per_frame == 1 and load_model(first).tokens_per_frame == 4


def test_another_corpus_in_the_same_workspace_is_refused(tmp_path):
    r, _ = _recipe(tmp_path)
    r.data()
    r2, _ = _recipe(tmp_path, "data.seed=5")
    with pytest.raises(RuntimeError, match="other data settings"):
        r2.data()


def test_tokenizer_never_sees_the_held_out_texts(tmp_path):
    """A made-up word repeated in eval items stays out of the vocabulary; in sft items it gets in."""
    r, _ = _recipe(tmp_path, "model.vocab_size=3000")
    r.data()
    word = "qzxjvk"

    def add(split: str) -> None:
        r.ws.add_qa_many([{"category": "plot", "question": f"{word} {word} {word}?", "options": [word] * 4,
                           "answer": "A", "reasoning": f"{word} " * 20, "split": split, "source": "test",
                           "status": "pending"} for _ in range(50)])

    def pieces() -> set[str]:
        vocab = build_model(r.cfg.model, r.ws).tokenizer.get_vocab()
        return {t.lstrip("\u0120") for t in vocab if word[:4] in t.lstrip("\u0120")}

    add("eval")
    assert not pieces()
    add("sft")
    assert pieces()


def test_letter_tags_rewrite_options_and_reasoning_through_the_store(tmp_path):
    from lvr.recipe.stages import add_letter_tags

    r, _ = _recipe(tmp_path)
    r.data()
    before = {q["id"]: q for q in r.ws.iter_qa()}
    assert add_letter_tags(r.ws) == len(before)
    assert add_letter_tags(r.ws) == 0                       # idempotent
    for q in r.ws.iter_qa():
        old = before[q["id"]]
        assert q["options"] == [f"{o} ({L})" for o, L in zip(old["options"], "ABCD")]
        key = q["options"]["ABCD".index(q["answer"])]
        assert q["reasoning"] == f"{old['reasoning']} The answer is {key}."
        assert q["answer"] == old["answer"] and q["version"] == old["version"] + 1
    rev = r.ws.revisions(next(iter(before)))
    assert rev[-1]["who"] == "recipe" and "letter tags" in (rev[-1]["comment"] or "")


def test_data_stage_applies_letter_tags_when_asked(tmp_path):
    r, _ = _recipe(tmp_path, "data.letter_tags=true")
    s = r.data()
    assert s["letter_tags"] == s["qa"]
    q = next(r.ws.iter_qa(split="eval"))
    assert q["options"][2].endswith(" (C)") and q["reasoning"].endswith(f"({q['answer']}).")


def test_going_back_to_a_finished_setting_reports_that_output_again(tmp_path):
    """The state's row for a stage follows the output in use: after another setting ran, the first one's row
    (its times, its folder) comes back when that setting is run again and skipped."""
    r, _ = _recipe(tmp_path)
    r.data()
    first = r.base()
    row = dict(r.state["stages"]["base"])
    r2, _ = _recipe(tmp_path, "model.pool_size=1")
    r2.data()
    r2.base()
    assert r2.state["stages"]["base"]["key"] != row["key"]
    r3, _ = _recipe(tmp_path)
    r3.data()
    assert r3.base() == first and [x["ran"] for x in r3.log.rows] == [False, False]
    assert r3.state["stages"]["base"] == row
    assert json.loads((r3.dir / "state.json").read_text())["stages"]["base"] == row


def test_options_added_later_leave_the_keys_of_earlier_outputs_alone():
    """A new option at its default does not rename a stage trained before it existed; set, it does."""
    from lvr.config import to_dict
    from lvr.recipe.stages import TRAIN_LATER_DEFAULTS, VIDEOLM_LATER_DEFAULTS, _without_later_defaults
    from lvr.train.configs import ReplayConfig

    before = {"max_steps": 600, "replay": {k: v for k, v in to_dict(ReplayConfig(qa_items=8)).items()
                                           if k not in ("placement", "text_items", "text_frames")}}
    now = {**before, "replay": to_dict(ReplayConfig(qa_items=8)), "answer_weight": 1.0,
           "fresh": {"share": 0.0, "minutes": [1.0, 2.0], "size": 112, "placement": "jitter"}}
    assert _without_later_defaults(now, TRAIN_LATER_DEFAULTS) == _without_later_defaults(before, TRAIN_LATER_DEFAULTS)
    assert _without_later_defaults(before, TRAIN_LATER_DEFAULTS) == before                 # replay is set: kept
    moved = {**now, "replay": {**now["replay"], "placement": "centre", "text_items": 24}, "answer_weight": 5.0}
    kept = _without_later_defaults(moved, TRAIN_LATER_DEFAULTS)
    assert kept["replay"]["placement"] == "centre" and kept["answer_weight"] == 5.0
    assert kept["replay"]["text_items"] == 24 and "text_frames" not in kept["replay"]
    off = {**now, "replay": to_dict(ReplayConfig())}
    assert "replay" not in _without_later_defaults(off, TRAIN_LATER_DEFAULTS)               # a group at its default
    assert _without_later_defaults({"steps": 9, "placement": "jitter"}, VIDEOLM_LATER_DEFAULTS) == {"steps": 9}
    data = {"reasoning": "frames", "frame_lookback": True}
    assert _without_later_defaults({"data": {**data, "frame_walk": None}}, TRAIN_LATER_DEFAULTS) == {"data": data}
    assert _without_later_defaults({"data": {**data, "frame_walk": True}}, TRAIN_LATER_DEFAULTS)["data"]["frame_walk"]


def test_stage_checkpoints_reads_what_each_stage_left(tmp_path):
    """Benchmarks find the recipe's models through state.json: a model stage's `path`, a training stage's
    `checkpoint`; stages not run are left out."""
    import json

    from lvr.recipe.stages import stage_checkpoints

    assert stage_checkpoints(tmp_path) == {}                                               # no recipe run
    (tmp_path / "recipe").mkdir()
    (tmp_path / "recipe" / "state.json").write_text(json.dumps({"stages": {
        "data": {"videos": 4}, "videolm": {"path": "checkpoints/recipe-videolm-1"},
        "sft": {"checkpoint": "checkpoints/recipe-sft-2/step-0000600"}}}))
    assert stage_checkpoints(tmp_path) == {"videolm": tmp_path / "checkpoints/recipe-videolm-1",
                                           "sft": tmp_path / "checkpoints/recipe-sft-2/step-0000600"}
    assert stage_checkpoints(tmp_path, ("sft", "grpo")) == {"sft": tmp_path / "checkpoints/recipe-sft-2/step-0000600"}

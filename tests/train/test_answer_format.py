"""`data.answer_format: text`: SFT targets hold the option's text, the checkpoint remembers it, and
prompts, the eval parser and the MCQ reward follow it (a tiny model cannot look a letter up by
position; see docs/results-v1.md)."""
import json
import os
import subprocess
import sys

import pytest

from lvr.config import ConfigError, load_config
from lvr.model import load_model
from lvr.model.config import CompositeOptions
from lvr.model.config import ConfigError as ModelConfigError
from lvr.model.prompting import answer_text, build_messages, extract_letter, system_prompt
from lvr.store import Workspace
from lvr.train.configs import SFTConfig
from lvr.train.data import VideoFrames, load_items
from lvr.train.rewards import mcq_accuracy
from lvr.train.sft import sft_inputs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOT = ["The red robot picked it up in the kitchen, then the red robot dropped it in the hall",
        "The blue robot picked it up in the kitchen, then the blue robot dropped it in the hall",
        "The red robot picked it up in the garden, then the red robot dropped it in the garage",
        "The blue robot picked it up in the garden, then the blue robot dropped it in the garage"]


def test_system_prompt_and_target_follow_the_format():
    assert "only the letter" in system_prompt(True, "letter")
    assert "text of the correct option" in system_prompt(True, "text")
    assert "<think>" not in system_prompt(False, "text").split("for example")[1]
    msgs = build_messages("Where?", ["the hall", "the garage"], answer_format="text")
    assert msgs[0]["content"] == system_prompt(True, "text")
    assert answer_text("B", ["the hall", "the garage"], "text") == "the garage"
    assert answer_text("B", ["the hall", "the garage"], "letter") == "B"
    assert answer_text("a dog", None, "text") == "a dog"                     # open-ended: unchanged
    with pytest.raises(ValueError, match="not the letter"):
        answer_text("C", ["the hall", "the garage"], "text")
    with pytest.raises(ValueError, match="answer_format"):
        system_prompt(True, "number")


@pytest.mark.parametrize("answer, letter", [
    ("the garage", "B"), ("The Garage.", "B"), ("B", "B"), ("3", "C"), ("2", None),
    (PLOT[2].lower(), "C"),
    ("The red robot picked it up in the garden, then the red robot dropped it in the garag", "C"),   # near-copy
    ("the red robot picked it up", None),                                     # too little of any option
])
def test_option_text_and_near_copies_map_to_letters(answer, letter):
    opts = ["the hall", "the garage", "3", "the kitchen"] if len(answer) < 30 else PLOT
    assert extract_letter(answer, options=opts) == letter


def test_a_text_equally_close_to_two_options_maps_to_none():
    opts = ["the red robot dropped it in the hall", "the red robot dropped it in the yard", "x", "y"]
    assert extract_letter("the red robot dropped it in the", options=opts) is None


def test_mcq_reward_scores_option_text():
    texts = ["<think>x</think><answer>the garage</answer>", "<think>x</think><answer>the hall</answer>"]
    opts = [["the hall", "the garage", "3", "the kitchen"]] * 2
    assert mcq_accuracy(texts, answer=["B", "B"], options=opts) == [1.0, 0.0]


def test_bad_answer_format_fails_fast():
    with pytest.raises(ConfigError, match="answer_format"):
        load_config(SFTConfig, None, ["workspace=x", "model=tiny:lvr_composite", "data.answer_format=number"])
    with pytest.raises(ModelConfigError, match="answer_format"):
        CompositeOptions(answer_format="number")


def test_sft_targets_in_text_format(train_ws, tiny_model):
    model = load_model(tiny_model)
    ws = Workspace.open(train_ws)
    item = load_items(ws, split="sft", statuses=["approved"])[0]
    frames = VideoFrames(ws, num_frames=2)
    key_text = item.options["ABCD".index(item.answer)]
    for fmt, expected in (("letter", item.answer), ("text", key_text)):
        model.set_answer_format(fmt)
        inputs = sft_inputs(model, [item], frames, think=True, encoder_grad=False, max_length=None)
        labels = inputs.labels[0][inputs.labels[0] >= 0]
        target = model.tokenizer.decode(labels.tolist())
        assert f"<answer>{expected}</answer>" in target.replace(" </answer>", "</answer>"), target
        prompt = model.tokenizer.decode(inputs.input_ids[0].tolist())
        assert system_prompt(True, fmt) in prompt
    ws.close()


@pytest.mark.slow
def test_sft_run_saves_the_format_with_its_checkpoint(tmp_path, train_ws, tiny_model):
    args = [sys.executable, "-m", "lvr.train.sft", f"model={tiny_model}", f"workspace={train_ws}",
            f"output_dir={tmp_path / 'run'}", "max_steps=2", "save_every=2", "micro_batch_size=1",
            "data.num_frames=2", "data.max_items=2", "data.eval_split=null", "data.answer_format=text",
            "name=sft-text"]
    res = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    ws = Workspace.open(train_ws)
    ckpt = ws.list_checkpoints(stage="sft")[-1]["abspath"]
    ws.close()
    assert json.loads(open(f"{ckpt}/lvr_config.json").read())["answer_format"] == "text"
    assert load_model(ckpt).answer_format == "text"
    assert load_model(tiny_model).answer_format == "letter"                 # the base is untouched

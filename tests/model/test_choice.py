"""Answers restricted to the options (lvr.model.choice): the prefix rule, batch == one-by-one scores, and a
trained model's choice after its own reasoning, also when its generation was cut off before <answer>."""
from __future__ import annotations

import pytest
import torch

from lvr.model import generate_batch, load_model, prompt_inputs
from lvr.model.choice import answer_prefix, answers_by_choice, choose_options, option_scores

from .conftest import OPTIONS, QUESTION, TARGET_THINKING


def test_answer_prefix_keeps_reasoning_and_closes_what_was_cut():
    assert answer_prefix("<think>\nx\n</think>\n<answer>the hall</answer>") == "<think>\nx\n</think>\n<answer>"
    assert answer_prefix("<think>\nthe red robot is") == "<think>\nthe red robot is\n</think>\n<answer>"
    assert answer_prefix("<think>\nx\n</think>  ") == "<think>\nx\n</think>\n<answer>"
    assert answer_prefix("", think=False) == "<answer>"
    assert answer_prefix("the hall", think=False) == "the hall\n<answer>"


@pytest.fixture(scope="module")
def trained(trained_checkpoint):
    return load_model(trained_checkpoint)


@pytest.fixture(scope="module")
def prompt(trained, pyav_video):
    from lvr.video import SamplingSpec, sample_frames

    s = sample_frames(pyav_video, SamplingSpec(mode="exact", num_frames=8))
    return prompt_inputs(trained, s.frames, QUESTION, OPTIONS, timestamps=s.timestamps)


def test_scores_in_one_batch_equal_scores_one_by_one(trained, prompt):
    # candidates of different token lengths share one right-padded batch: padding must not change a score
    prefix = f"<think>\n{TARGET_THINKING}\n</think>\n<answer>"
    candidates = ["B", "The dog runs to the kitchen", "A boat sails away from the harbour", "C"]
    together = option_scores(trained, prompt, prefix, candidates)
    alone = [option_scores(trained, prompt, prefix, [c])[0] for c in candidates]
    assert together == pytest.approx(alone, abs=1e-4)
    assert all(s < 0 for s in together)


def test_trained_model_chooses_its_answer_even_when_cut_off(trained, prompt):
    full, cut = generate_batch(trained, [prompt], max_new_tokens=80)[0], generate_batch(trained, [prompt],
                                                                                       max_new_tokens=6)[0]
    assert "<answer>" in full.text and "<answer>" not in cut.text
    picks = choose_options(trained, [prompt, prompt], [full, cut], [OPTIONS, OPTIONS], answer_format="letter")
    assert picks == [1, 1]                                   # the overfitted answer is B
    # the pick is the argmax of the options' scores after the model's own reasoning
    scores = option_scores(trained, prompt, answer_prefix(full.text), list("ABCD"))
    assert max(range(4), key=scores.__getitem__) == 1 and torch.tensor(scores).softmax(0)[1] > 0.5


def test_rollouts_answer_with_the_option_their_reasoning_makes_likeliest(trained, prompt):
    """GRPO's rollout.answer=choice: a written answer is replaced by the likeliest option (the pick equals
    option_scores' argmax), ids and text agree, and a rollout that never wrote <answer> is left alone (the format
    reward still asks for one)."""
    wrong = f"<think>\n{TARGET_THINKING}\n</think>\n<answer>D</answer>"
    cut = f"<think>\n{TARGET_THINKING}"
    other = "<think>\nthe cat sleeps\n</think>\n<answer>"
    picked = answers_by_choice(trained, prompt, [wrong, cut, other], OPTIONS, answer_format="letter")
    assert picked[0][0] == f"<think>\n{TARGET_THINKING}\n</think>\n<answer>B</answer>"   # the overfitted answer
    assert picked[1] is None
    scores = option_scores(trained, prompt, other, list("ABCD"))
    assert picked[2][0] == other + "ABCD"[max(range(4), key=scores.__getitem__)] + "</answer>"
    for text, ids in (picked[0], picked[2]):
        assert trained.tokenizer.decode(ids, skip_special_tokens=True) == text

"""Look-up batches (lvr.train.lookups): the three ways a fresh-world look-up is asked, and its answer-only labels."""
import pytest

from lvr.model import build_tiny
from lvr.model.chat_format import render_chat
from lvr.synth.fresh import WorldSpec, world_questions
from lvr.train.lookups import LAYOUTS, LookupBatches, lookup_messages


@pytest.fixture(scope="module")
def question():
    return world_questions(2**32 + 7, WorldSpec(minutes=(1.0, 1.0)), 2, kinds=("time",))[0]


def _text(messages):
    return render_chat(messages, video_markup="<video>", add_generation_prompt=False)[0]


def test_layouts_order_the_video_question_and_options(question):
    chat, open_, first = (_text(lookup_messages(question, x, "text")) for x in LAYOUTS)
    answer = question.answer_option
    for text in (chat, open_, first):
        assert text.rstrip().endswith(f"<answer>{answer}</answer><|im_end|>") and question.question in text
    assert chat.index("<video>") < chat.index(question.question) < chat.index("A. ")
    assert "A. " not in open_ and open_.index("<video>") < open_.index(question.question)
    assert first.index(question.question) < first.index("D. ") < first.index("<video>")


def test_batches_label_only_the_answer_in_every_layout(question):
    model = build_tiny("composite", seed=0)
    model.set_answer_format("text")
    for layout in LAYOUTS:
        inputs = LookupBatches(model, WorldSpec(), layout=layout).inputs([question])
        labelled = model.tokenizer.decode(inputs.labels[0][inputs.labels[0] != -100])
        assert labelled.startswith("<answer>") and question.answer_option in labelled
    with pytest.raises(ValueError, match="layout"):
        LookupBatches(model, WorldSpec(), layout="sideways")

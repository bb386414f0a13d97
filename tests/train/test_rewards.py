"""Reward functions: format/accuracy edge cases, numeric, weighted sum, user functions, LLM judge."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from lvr.train.rewards import (
    JudgeSettings,
    RewardSet,
    accuracy,
    format_reward,
    get_reward,
    mcq_accuracy,
    numeric_accuracy,
    open_accuracy,
    valid_option,
)

OPTS = ["red", "green", "blue", "yellow"]


@pytest.mark.parametrize("text, fmt, acc", [
    ("<think>it was green</think><answer>B</answer>", 1.0, 1.0),
    ("<think>\nit was green\n</think>\n<answer>B</answer>\n", 1.0, 1.0),      # whitespace allowed
    ("<think>x</think> <answer>(B)</answer>", 1.0, 1.0),                       # "(B)"
    ("<think>x</think><answer>b</answer>", 1.0, 1.0),                          # lower case
    ("<think>x</think><answer>Answer: B</answer>", 1.0, 1.0),
    ("<think>x</think><answer>B. green</answer>", 1.0, 1.0),
    ("<think>x</think><answer>green</answer>", 1.0, 1.0),                      # the option's text
    ("<think>x</think><answer>C</answer>", 1.0, 0.0),                          # wrong
    ("<answer>B</answer>", 0.0, 1.0),                                          # missing think: format 0
    ("<think>x</think>B", 0.0, 1.0),                                           # missing answer tags
    ("The answer is B", 0.0, 1.0),                                             # no tags at all
    ("<think>x</think><answer>B</answer> I hope that helps", 0.0, 1.0),        # extra text after
    ("Sure! <think>x</think><answer>B</answer>", 0.0, 1.0),                    # extra text before
    ("<think>x</think><answer>A</answer><answer>B</answer>", 0.0, 0.0),        # two answers: no credit
    ("<think>x<think>y</think><answer>B</answer>", 0.0, 1.0),                  # nested tag
    ("<think>unfinished reasoning", 0.0, 0.0),                                 # truncated
    ("", 0.0, 0.0),
])
def test_format_and_mcq_accuracy(text, fmt, acc):
    assert format_reward([text]) == [fmt]
    assert mcq_accuracy([text], answer=["B"], options=[OPTS]) == [acc]


def test_numeric_and_dispatch():
    comps = ["<think>t</think><answer>42</answer>", "<think>t</think><answer>about 3.14 s</answer>",
             "<think>t</think><answer>1,000</answer>", "<think>t</think><answer>7</answer>",
             "<think>t</think><answer>The Kitchen.</answer>", "<think>t</think><answer>B</answer>"]
    keys = ["42", "3.1416", "1000", "8", "the kitchen", "B"]
    assert numeric_accuracy(comps, answer=keys) == [1.0, 1.0, 1.0, 0.0, None, None]
    assert mcq_accuracy(comps, answer=keys) == [None] * 5 + [1.0]
    # accuracy: MCQ for letter keys, numeric for numbers, normalised exact match for the rest (no judge)
    assert accuracy(comps, answer=keys, options=[None] * 6) == [1.0, 1.0, 1.0, 0.0, 1.0, 1.0]


def test_weighted_sum_components_and_none():
    rs = RewardSet({"accuracy": 0.9, "format": 0.1})
    out = rs(["<think>a</think><answer>B</answer>", "<answer>B</answer>", "<think>a</think><answer>C</answer>"],
             answer=["B", "B", "B"], options=[OPTS] * 3)
    assert out.total == pytest.approx([1.0, 0.9, 0.1])
    assert out.components == {"accuracy": [1.0, 1.0, 0.0], "format": [1.0, 0.0, 1.0]}
    s = out.summary()
    assert s["reward/mean"] == pytest.approx(2.0 / 3) and s["reward/format/mean"] == pytest.approx(2 / 3)
    # None (not applicable) counts 0 in the total
    out = RewardSet({"mcq_accuracy": 1.0, "format": 0.5})(["<think>a</think><answer>7</answer>"], answer=["7"])
    assert out.components["mcq_accuracy"] == [None] and out.total == [0.5]


def test_user_function_from_file_and_errors(tmp_path):
    f = tmp_path / "my_rewards.py"
    f.write_text("def length_bonus(completions, **kw):\n    return [min(len(c), 10) / 10 for c in completions]\n"
                 "def two(completions, answer, **kw):\n"
                 "    return {'a': [1.0] * len(completions), 'b': [0.5 if x == 'B' else 0.0 for x in answer]}\n"
                 "def bad(completions, **kw):\n    return [float('nan')] * len(completions)\n")
    out = RewardSet({f"{f}:length_bonus": 2.0, f"{f}:two": 1.0})(["12345", "1234567890abc"], answer=["B", "C"])
    assert out.components == {"length_bonus": [0.5, 1.0], "a": [1.0, 1.0], "b": [0.5, 0.0]}
    assert out.total == pytest.approx([2.5, 3.0])
    with pytest.raises(ValueError, match="non-finite"):
        RewardSet({f"{f}:bad": 1.0})(["x"], answer=["B"])
    with pytest.raises(ValueError, match="has no function 'nope'"):
        get_reward(f"{f}:nope")
    with pytest.raises(ValueError, match="unknown reward function 'foo'; built-in: accuracy"):
        get_reward("foo")


class _Judge(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"]
        _Judge.requests.append(body)
        cand = prompt.split("Candidate answer:")[1].strip()
        ref = prompt.split("Reference answer:")[1].split("\n")[0].strip()
        verdict = "CORRECT" if cand.lower().rstrip(".") in ref.lower() else "INCORRECT"
        data = json.dumps({"model": body["model"], "choices": [{"message": {"content": verdict},
                                                               "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test_open_ended_accuracy_through_a_judge_server():
    server = HTTPServer(("127.0.0.1", 0), _Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        judge = JudgeSettings(base_url=f"http://127.0.0.1:{server.server_port}/v1", model="judge-1", api_key="k")
        comps = ["<think>t</think><answer>a red ball.</answer>", "<think>t</think><answer>a cube</answer>",
                 "<think>t</think><answer>B</answer>", "<think>t</think>"]
        keys = ["He throws a red ball", "a sphere", "B", "anything"]
        assert open_accuracy(comps, answer=keys, question=["q"] * 4, judge=judge) == [1.0, 0.0, None, 0.0]
        assert len(_Judge.requests) == 2 and _Judge.requests[0]["model"] == "judge-1"
        out = RewardSet({"accuracy": 0.9, "format": 0.1}, judge=judge)(comps, answer=keys, question=["q"] * 4,
                                                                       options=[None, None, OPTS, None])
        assert out.components["accuracy"] == [1.0, 0.0, 1.0, 0.0]
    finally:
        server.shutdown()
    with pytest.raises(ValueError, match="needs a judge"):
        open_accuracy(["<answer>x</answer>"], answer=["y"], judge=JudgeSettings())


def test_valid_option_credits_any_option_right_or_wrong():
    long_opts = ["the red robot dropped it in the hall", "the blue robot dropped it in the hall",
                 "the red robot hid it in the bush", "nobody touched it"]
    comps = ["<think>x</think><answer>C</answer>",                                # a wrong letter: valid
             "<think>x</think><answer>the red robot dropped it in the hal</answer>",  # near-copy of A
             "<think>x</think><answer>the green robot ate it</answer>",           # no option
             "<think>x</think>",                                                  # no answer at all
             "<think>x</think><answer>7</answer>"]                                # not a multiple-choice row
    keys, opts = ["A", "A", "A", "A", "7"], [long_opts] * 4 + [None]
    assert valid_option(comps, keys, opts) == [1.0, 1.0, 0.0, 0.0, None]
    out = RewardSet({"accuracy": 0.8, "valid_option": 0.2})(comps[:3], answer=keys[:3], options=opts[:3])
    assert out.total == pytest.approx([0.2, 1.0, 0.0])
    assert get_reward("valid_option") is valid_option

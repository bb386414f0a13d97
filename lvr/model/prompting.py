"""Prompts and response parsing for the `<think>…</think><answer>…</answer>` format.

    from lvr.model.prompting import build_messages, format_target, parse_response
    msgs = build_messages("What happens first?", ["a", "b", "c", "d"], think=True)
    msgs = build_messages(..., answer_format="text")   # ask for the option's text instead of its letter
    parse_response("<think>…</think><answer>(B)</answer>").letter   # -> "B"

`build_messages` gives chat messages with a `{"type": "video"}` item where the video tokens go;
the adapters' `build_inputs` renders them. `parse_response` is used by rewards and evaluation:
it is tolerant about how the letter is written ("(B)", "B.", "b", "Answer: B", "B) text") but
refuses an answer that names several options ("A or B", "A B C D", "A and C": no letter, so
rewards and evaluation score it wrong), and it is strict about the tags: `format_ok` is true
only when the whole output is `<think>…</think>\\s*<answer>…</answer>` (or `<answer>…</answer>`
when thinking is off).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

LETTERS = "ABCDEFGHIJ"

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
REASONING_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

_INTRO = "You are a helpful assistant that watches videos and answers questions about them. "
_THINK_RULE = ("First think about the question step by step, describing what you see in the video, inside "
               "<think> </think> tags. Then give the final answer inside <answer> </answer> tags. ")
_NO_THINK_RULE = "Give the final answer directly inside <answer> </answer> tags, without any reasoning. "
_MCQ_RULE = {
    "letter": ("For a multiple-choice question the answer is only the letter of the correct option, "
               "for example {example}<answer>B</answer>."),
    "text": ("For a multiple-choice question the answer is the text of the correct option, copied exactly, "
             "for example {example}<answer>the kitchen</answer>."),
}
ANSWER_FORMATS = tuple(_MCQ_RULE)
SYSTEM_PROMPT_THINK = _INTRO + _THINK_RULE + _MCQ_RULE["letter"].format(example="<think>reasoning here</think>")
SYSTEM_PROMPT_NO_THINK = _INTRO + _NO_THINK_RULE + _MCQ_RULE["letter"].format(example="")


def system_prompt(think: bool = True, answer_format: str = "letter") -> str:
    """The system prompt for a reasoning (`think`) or direct model answering MCQs as letters or option text."""
    if answer_format not in _MCQ_RULE:
        raise ValueError(f"answer_format must be one of {list(ANSWER_FORMATS)}, got {answer_format!r}")
    rule = _MCQ_RULE[answer_format].format(example="<think>reasoning here</think>" if think else "")
    return _INTRO + (_THINK_RULE if think else _NO_THINK_RULE) + rule


def answer_text(answer: str, options: Sequence[str] | None, answer_format: str = "letter") -> str:
    """What goes in <answer> for a key `answer` (a letter when there are options): the letter itself, or
    with answer_format "text" the keyed option's text. Open-ended answers are returned unchanged."""
    answer = answer.strip()
    if answer_format == "letter" or not options:
        return answer
    if answer_format != "text":
        raise ValueError(f"answer_format must be one of {list(ANSWER_FORMATS)}, got {answer_format!r}")
    if len(answer) != 1 or answer.upper() not in LETTERS[:len(options)]:
        raise ValueError(f"answer {answer!r} is not the letter of one of {len(options)} options")
    return str(options[LETTERS.index(answer.upper())]).strip()


def format_mcq(question: str, options: Sequence[str] | None = None) -> str:
    """The question followed by one "A. option" line per option (no options: the question alone)."""
    question = question.strip()
    if not options:
        return question
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options are supported, got {len(options)}")
    lines = [question] + [f"{LETTERS[i]}. {str(opt).strip()}" for i, opt in enumerate(options)]
    return "\n".join(lines)


def format_target(reasoning: str | None, answer: str, think: bool = True) -> str:
    """The assistant turn used as the SFT target: `<think>\\n…\\n</think>\\n<answer>X</answer>`."""
    answer = answer.strip()
    if not think:
        return f"{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"
    return f"{THINK_OPEN}\n{(reasoning or '').strip()}\n{THINK_CLOSE}\n{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def build_messages(question: str, options: Sequence[str] | None = None, *, think: bool = True,
                   video: bool = True, target: str | None = None, system: str | None = None,
                   answer_format: str = "letter") -> list[dict]:
    """Chat messages for one video question; `target` (the assistant text) is appended when given.
    The system prompt (unless `system` is given) asks for `answer_format` answers."""
    content: list[dict] = []
    if video:
        content.append({"type": "video"})
    content.append({"type": "text", "text": format_mcq(question, options)})
    messages = [
        {"role": "system", "content": system if system is not None else system_prompt(think, answer_format)},
        {"role": "user", "content": content},
    ]
    if target is not None:
        messages.append({"role": "assistant", "content": target})
    return messages


@dataclass(frozen=True)
class Parsed:
    """What `parse_response` found. `answer` is the answer span (or the best fallback text)."""

    thinking: str | None
    answer: str | None
    letter: str | None
    format_ok: bool


_FULL_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*$", re.DOTALL)
_FULL_NO_THINK = re.compile(r"^\s*<answer>(.*?)</answer>\s*$", re.DOTALL)
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_PREFIX = re.compile(
    r"^(?:(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|option|choice)(?:\s+is)?\s*[:：\-]?\s*)+", re.IGNORECASE)


def extract_letter(answer: str | None, n_options: int = 4, options: Sequence[str] | None = None) -> str | None:
    """The option letter in an answer string, or None.

    Accepts "B", "b", "(B)", "B.", "B)", "B: text", "B. text", "Answer: B", "The answer is (b)";
    a lowercase letter counts only when it stands alone (so "a dog" is not "A"). With `options`,
    an answer equal to an option's text (case/punctuation-insensitive) maps to that option first,
    and an answer that is not a letter maps to the option it nearly copies (see `closest_option`).
    An answer that names more than one option is None: "A or B", "A B C D", "A and C", "A) x, B) y"
    (see `named_letters`); text after the letter that is an option's text is not searched, so
    "B. A cat and a dog" is B.
    """
    if answer is None:
        return None
    valid = LETTERS[:max(1, min(n_options if not options else len(options), len(LETTERS)))]
    text = answer.strip().strip("*_`\"' ")
    text = _PREFIX.sub("", text).strip()
    norm = _normalise(text)
    if options and norm:
        for i, opt in enumerate(options):
            if norm == _normalise(str(opt)):
                return LETTERS[i]
    m = re.fullmatch(r"[\(\[]?([A-Za-z])[\)\]]?[.:]?", text)
    if m and m.group(1).upper() in valid:
        return m.group(1).upper()
    m = re.match(r"^[\(\[]?([A-Z])(?:[\)\]][.:]?|[.:])?(?=\s|$)", text)
    if m and m.group(1) in valid:
        return _sole_option(m.group(1), text[m.end():], valid, options)
    m = re.match(r"^[\(\[]([a-z])[\)\]]", text)
    if m and m.group(1).upper() in valid:
        return _sole_option(m.group(1).upper(), text[m.end():], valid, options)
    if options:
        i = closest_option(text, options)
        return None if i is None else LETTERS[i]
    return None


def _sole_option(letter: str, rest: str, valid: str, options: Sequence[str] | None) -> str | None:
    """`letter`, unless the text after it names another option (then None)."""
    rest = rest.strip()
    if not rest:
        return letter
    if options and (_normalise(rest) in {_normalise(str(o)) for o in options}
                    or closest_option(rest, options) is not None):
        return letter  # "B. <an option's text>": the text is not searched for letters
    return None if named_letters(rest, valid) - {letter} else letter


_UPPER_REF = re.compile(r"(?<![\w'\-])([A-Z])(?![\w'\-])")
_WORD_AFTER = re.compile(r"\s+(?!(?:or|and|nor|vs|versus)\b)[a-z]")
_LOWER_REF = re.compile(r"\b(?:or|and|nor|vs\.?|versus)\s+[\(\[]?([a-z])[\)\]]?(?=\s*(?:$|[.,;:!?]))")


def named_letters(text: str, valid: str = LETTERS[:4]) -> set[str]:
    """The option letters (of `valid`) that `text` names: capital letters standing alone ("or B",
    "B C D", "(C)", "B)") and lowercase ones after "or"/"and" ("A or b"). "A" and "I" followed by
    a word ("A cat", "I think") are English words, not options."""
    found = set()
    for m in _UPPER_REF.finditer(text):
        c = m.group(1)
        if c in valid and not (c in "AI" and _WORD_AFTER.match(text, m.end())):
            found.add(c)
    found.update(m.group(1).upper() for m in _LOWER_REF.finditer(text) if m.group(1).upper() in valid)
    return found


def closest_option(text: str, options: Sequence[str], min_ratio: float = 0.8) -> int | None:
    """Index of the option `text` nearly copies, or None.

    Word-level similarity (difflib ratio over normalised words) must reach `min_ratio` and be
    strictly the best: "the red robot dropped it in the hal" maps to "… in the hall", but a text
    equally close to two options, or close to none, maps to nothing. Short answers (one or two
    words) must match exactly, so "2" is never read as "3".
    """
    from difflib import SequenceMatcher

    words = _normalise(text).split()
    if len(words) < 3:
        return None
    scores = [SequenceMatcher(None, words, _normalise(str(o)).split(), autojunk=False).ratio() for o in options]
    best = max(range(len(scores)), key=scores.__getitem__)
    if scores[best] < min_ratio or sum(1 for x in scores if x == scores[best]) > 1:
        return None
    return best


def _normalise(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def parse_response(text: str, *, think: bool = True, n_options: int = 4,
                   options: Sequence[str] | None = None) -> Parsed:
    """Split a model output into thinking, answer and option letter, and check the format.

    `think=False` expects `<answer>…</answer>` alone. Missing or unbalanced tags make
    `format_ok` false; the answer is then taken from whatever follows `</think>` (or the whole
    text) so accuracy can still be scored separately from format.
    """
    text = text or ""
    full = (_FULL_THINK if think else _FULL_NO_THINK).match(text)
    # A nested or repeated tag means the model did not follow the format (lenient parse below).
    single = all(text.count(tag) == 1 for tag in (REASONING_TAGS if think else (ANSWER_OPEN, ANSWER_CLOSE)))
    if full and single:
        thinking = full.group(1).strip() if think else None
        answer = full.group(2 if think else 1).strip()
        return Parsed(thinking, answer, extract_letter(answer, n_options, options), True)
    tm = _THINK.search(text)
    thinking = tm.group(1).strip() if tm else None
    am = _ANSWER.search(text)
    if am:
        answer = am.group(1).strip()
    else:
        tail = text.split(THINK_CLOSE, 1)[1] if THINK_CLOSE in text else ("" if tm else text)
        tail = tail.replace(ANSWER_OPEN, "").replace(ANSWER_CLOSE, "").strip()
        answer = tail or None
    return Parsed(thinking, answer, extract_letter(answer, n_options, options), False)

"""Strict parsers for the two model answers of QA generation (layouts in `lvr.datagen.prompts`).

    item = parse_item(text)          # ParsedItem(question, options, answer, ranges, conclusion)
    item.reasoning_raw()             # the reasoning back in canonical layout
    item.span()                      # (first start, last end) of the cited time ranges
    prose = parse_rewrite(text)      # the "as if watching" reasoning

Before parsing, `clean_output` drops a leading <think>…</think> block (reasoning models such
as DeepSeek-R1 emit one), Markdown bold/heading marks and code fences. Then every non-blank
line must match the layout, in order; anything else raises `ParseError` naming the line and
what was expected, so a malformed answer is rejected (and kept with its reason), never guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lvr.video.timefmt import TIME_RE, fmt_time, parse_time

_THINK = re.compile(r"^\s*<think>.*?</think>", re.S)
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*$")
_QUESTION = re.compile(r"^QUESTION:\s*(.+)$", re.I)
_OPTION = re.compile(r"^\(?([A-D])[.):]\s+(.+)$")
_ANSWER = re.compile(r"^ANSWER:\s*\(?([A-D])\)?(?:[.):]?\s.*)?\.?$", re.I)
_REASONING = re.compile(r"^REASONING:\s*$", re.I)
_REASONING_INLINE = re.compile(r"^REASONING:\s*(.*)$", re.I)
_HEADER = re.compile(rf"^From\s+({TIME_RE})\s+to\s+({TIME_RE})\s*:?$", re.I)
_BULLET = re.compile(r"^[-*•]\s+(.+)$")
_CONCLUSION = re.compile(r"^CONCLUSION:\s*(.+)$", re.I)


class ParseError(ValueError):
    """A model answer that does not follow the layout; `reason` says where and why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class TimeRange:
    start: float
    end: float
    bullets: list[str] = field(default_factory=list)


@dataclass
class ParsedItem:
    question: str
    options: list[str]
    answer: str
    ranges: list[TimeRange]
    conclusion: str | None = None

    def reasoning_raw(self) -> str:
        lines = []
        for r in self.ranges:
            lines.append(f"From {fmt_time(r.start)} to {fmt_time(r.end)}:")
            lines += [f"- {b}" for b in r.bullets]
        if self.conclusion:
            lines.append(f"Conclusion: {self.conclusion}")
        return "\n".join(lines)

    def span(self) -> tuple[float, float]:
        return min(r.start for r in self.ranges), max(r.end for r in self.ranges)


def clean_output(text: str) -> str:
    """The answer without a leading think block, code fences, Markdown bold or heading marks."""
    text = _THINK.sub("", text or "")
    if "</think>" in text and "<think>" not in text:  # servers that strip the opening tag
        text = text.split("</think>", 1)[1]
    out = []
    for line in text.splitlines():
        if _FENCE.match(line):
            continue
        line = line.replace("**", "").replace("__", "")
        line = re.sub(r"^\s*#{1,6}\s+", "", line)
        out.append(line.strip())
    return "\n".join(out).strip()


def _lines(text: str) -> list[tuple[int, str]]:
    return [(i + 1, ln) for i, ln in enumerate(clean_output(text).splitlines()) if ln.strip()]


def parse_item(text: str) -> ParsedItem:
    lines = _lines(text)
    if not lines:
        raise ParseError("empty answer")
    pos = 0

    def expect(rx: re.Pattern, what: str) -> re.Match:
        nonlocal pos
        if pos >= len(lines):
            raise ParseError(f"answer ended early: expected {what}")
        no, line = lines[pos]
        m = rx.match(line)
        if not m:
            raise ParseError(f"line {no}: expected {what}, got {line[:80]!r}")
        pos += 1
        return m

    question = expect(_QUESTION, "'QUESTION: …'").group(1).strip()
    options = []
    for letter in "ABCD":
        m = expect(_OPTION, f"option '{letter}. …'")
        if m.group(1) != letter:
            raise ParseError(f"line {lines[pos - 1][0]}: expected option {letter}, got option {m.group(1)}")
        options.append(m.group(2).strip())
    answer = expect(_ANSWER, "'ANSWER: <A-D>'").group(1).upper()
    expect(_REASONING, "'REASONING:' on its own line")
    ranges: list[TimeRange] = []
    conclusion = None
    while pos < len(lines):
        no, line = lines[pos]
        if (h := _HEADER.match(line)):
            try:
                start, end = parse_time(h.group(1)), parse_time(h.group(2))
            except ValueError as e:
                raise ParseError(f"line {no}: {e}") from None
            ranges.append(TimeRange(start, end))
        elif (b := _BULLET.match(line)):
            if not ranges:
                raise ParseError(f"line {no}: bullet before any 'From mm:ss to mm:ss:' header")
            ranges[-1].bullets.append(b.group(1).strip())
        elif (c := _CONCLUSION.match(line)):
            conclusion = c.group(1).strip()
            pos += 1
            break
        else:
            raise ParseError(f"line {no}: expected a 'From mm:ss to mm:ss:' header, a '- ' bullet or "
                             f"'CONCLUSION: …', got {line[:80]!r}")
        pos += 1
    if pos < len(lines):
        no, line = lines[pos]
        raise ParseError(f"line {no}: unexpected text after CONCLUSION: {line[:80]!r}")
    if not ranges:
        raise ParseError("REASONING has no 'From mm:ss to mm:ss:' time ranges")
    empty = [f"{fmt_time(r.start)}-{fmt_time(r.end)}" for r in ranges if not r.bullets]
    if empty:
        raise ParseError(f"time range(s) {', '.join(empty)} have no '- ' bullet")
    return ParsedItem(question, options, answer, ranges, conclusion)


def parse_rewrite(text: str) -> str:
    """The prose after 'REASONING:' (on the same line or the lines below); ParseError if missing/empty."""
    lines = clean_output(text).splitlines()
    for i, line in enumerate(lines):
        m = _REASONING_INLINE.match(line.strip())
        if m:
            body = "\n".join([m.group(1)] + lines[i + 1:]).strip()
            body = re.sub(r"\n{3,}", "\n\n", body)
            if not body:
                raise ParseError("the rewrite is empty after 'REASONING:'")
            return body
    raise ParseError("the rewrite has no 'REASONING:' label")


def render_item(question: str, options: list[str], answer: str, ranges: list[TimeRange],
                conclusion: str | None = None) -> str:
    """An item in the QA layout (what a well-behaved model answers)."""
    lines = [f"QUESTION: {question}", *(f"{letter}. {o}" for letter, o in zip("ABCD", options)), f"ANSWER: {answer}",
             "REASONING:"]
    for r in ranges:
        lines.append(f"From {fmt_time(r.start)} to {fmt_time(r.end)}:")
        lines += [f"- {b}" for b in r.bullets]
    if conclusion:
        lines.append(f"CONCLUSION: {conclusion}")
    return "\n".join(lines)


def strip_layout(reasoning_raw: str) -> str:
    """Caption-grounded reasoning without headers, bullets and time stamps (used when rewriting is off)."""
    out = []
    for line in reasoning_raw.splitlines():
        line = line.strip()
        if not line or _HEADER.match(line):
            continue
        line = _BULLET.sub(r"\1", line)
        line = re.sub(r"^Conclusion:\s*", "", line, flags=re.I)
        line = re.sub(rf"\s*\(?(?:from\s+)?{TIME_RE}(?:\s*(?:-|to)\s*{TIME_RE})?\)?", "", line, flags=re.I)
        out.append(line if line.endswith((".", "!", "?")) else line + ".")
    return " ".join(out)

"""Balance the correct-option letter across a set of items by permuting options.

    from lvr.datagen.balance import balance_letters, permute_item
    report = balance_letters(ws, split="rl", seed=0)        # `lvr filter WS --balance-letters`
    report.before, report.after                             # {"A": n, "B": n, …}
    changes = permute_item(item, {"A": "C", "C": "A"})      # swap A and C, references included
    remap_letters("Option B beats (C).", {"B": "C", "C": "B"})  # "Option C beats (B)."

Why: a benchmark whose key is mostly one letter rewards guessing that letter (always answering
"B" scores 44 % on LongVideo-Reason-eval). The balancer computes the target count per letter
(n/4, remainder to the first letters) and moves items of over-represented letters to
under-represented ones by swapping two options, which changes as little as possible. Every
reference to a letter in the reasoning ("option B", "options B and C", "(B)", "answer: B",
"<answer>B</answer>", "not B.", a line starting "B." or "B)") is rewritten with the same permutation, in
`reasoning`, `reasoning_raw` and `meta["conclusion"]`. Items whose options refer to other options
("all of the above", "both A and B") are never permuted. Each change is an `update_qa` with a
revision; items edited meanwhile are skipped and reported.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lvr.store import LETTERS, StaleEditError, Workspace

_LIST = r"\(?[A-D]\)?(?:\s*(?:,|/|&|\band\b|\bor\b)\s*\(?[A-D]\)?)*"
_KEYWORD_REF = re.compile(r"\b(?i:options?|choices?|answers?|letters?)(?:\s+(?i:is|was|would be))?\s*[:=]?\s*"
                          rf"{_LIST}(?![\w])")
_PAREN_REF = re.compile(r"\(([A-D])\)")
_TAG_REF = re.compile(r"<answer>\s*([A-D])\s*</answer>")
_CONTRAST_REF = re.compile(r"\b((?i:not|than|over|versus|vs\.?|unlike)\s+\(?)([A-D])(?=\)?\s*(?:[.,;:!?]|$))", re.M)
_LINE_REF = re.compile(r"(?m)^(\s*)([A-D])([.)])(?=\s)")
_LETTER = re.compile(r"(?<![\w])([A-D])(?![\w])")
_SELF_REF = re.compile(r"\b(all|none|both|neither) of (the )?(above|these|them)\b"
                       r"|(?<![\w])[A-D](?:\s+(?:and|or)\s+)[A-D](?![\w])",
                       re.I)


def remap_letters(text: str, mapping: dict[str, str]) -> str:
    """`text` with every letter reference mapped at once (A→B and B→A swap, they do not chain)."""
    if not text or not mapping:
        return text
    # map to placeholders first, so a letter rewritten by one pattern is never rewritten again
    marks = {letter: f"\x00{i}\x00" for i, letter in enumerate(LETTERS)}
    to = {k: marks[v] for k, v in mapping.items()}

    def one(letter: str) -> str:
        return to.get(letter, letter)

    text = _KEYWORD_REF.sub(lambda m: _LETTER.sub(lambda x: one(x.group(1)), m.group(0)), text)
    text = _PAREN_REF.sub(lambda m: f"({one(m.group(1))})", text)
    text = _TAG_REF.sub(lambda m: f"<answer>{one(m.group(1))}</answer>", text)
    text = _CONTRAST_REF.sub(lambda m: f"{m.group(1)}{one(m.group(2))}", text)
    text = _LINE_REF.sub(lambda m: f"{m.group(1)}{one(m.group(2))}{m.group(3)}", text)
    for letter, mark in marks.items():
        text = text.replace(mark, letter)
    return text


def permutable(item: dict) -> bool:
    return not any(_SELF_REF.search(o) for o in item["options"])


def permute_item(item: dict, mapping: dict[str, str]) -> dict:
    """The changes that move option X to position mapping[X] (a permutation of A–D) consistently."""
    full = {letter: mapping.get(letter, letter) for letter in LETTERS}
    if sorted(full.values()) != list(LETTERS):
        raise ValueError(f"not a permutation of A-D: {mapping}")
    options = [""] * 4
    for old, new in full.items():
        options[LETTERS.index(new)] = item["options"][LETTERS.index(old)]
    changes: dict[str, Any] = {
        "options": options, "answer": full[item["answer"]],
        "reasoning": remap_letters(item.get("reasoning") or "", full),
        "reasoning_raw": remap_letters(item.get("reasoning_raw") or "", full),
    }
    meta = dict(item.get("meta") or {})
    if meta.get("conclusion"):
        meta["conclusion"] = remap_letters(meta["conclusion"], full)
    perms = list(meta.get("letter_permutations") or [])
    perms.append({k: v for k, v in full.items() if k != v})
    meta["letter_permutations"] = perms
    changes["meta"] = meta
    return changes


@dataclass
class BalanceReport:
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    changed: list[tuple[int, str, str]] = field(default_factory=list)   # (qa_id, old letter, new letter)
    fixed: list[int] = field(default_factory=list)                      # not permutable
    stale: list[int] = field(default_factory=list)

    def summary(self) -> str:
        fmt = lambda c: " ".join(f"{letter}:{c.get(letter, 0)}" for letter in LETTERS)  # noqa: E731
        return (f"balance: {len(self.changed)} items permuted; before {fmt(self.before)}; after {fmt(self.after)}"
                + (f"; {len(self.fixed)} not permutable" if self.fixed else "")
                + (f"; {len(self.stale)} skipped (edited meanwhile)" if self.stale else ""))


def targets(n: int) -> dict[str, int]:
    return {letter: n // 4 + (1 if i < n % 4 else 0) for i, letter in enumerate(LETTERS)}


def balance_letters(ws: Workspace, *, seed: int = 0, who: str = "balance", **filters: Any) -> BalanceReport:
    """Permute options of the items matching `filters` so each answer letter has ~n/4 items."""
    items = list(ws.iter_qa(**filters))
    counts = Counter(it["answer"] for it in items)
    report = BalanceReport(before={letter: counts.get(letter, 0) for letter in LETTERS})
    want = targets(len(items))
    rng = random.Random(seed)
    order = items[:]
    rng.shuffle(order)
    for it in order:
        x = it["answer"]
        if counts[x] <= want[x]:
            continue
        if not permutable(it):
            report.fixed.append(it["id"])
            continue
        deficit = [letter for letter in LETTERS if counts[letter] < want[letter]]
        if not deficit:
            break
        y = rng.choice(deficit)
        try:
            ws.update_qa(it["id"], permute_item(it, {x: y, y: x}), expected_version=it["version"], who=who,
                         action="balance", comment=f"answer {x} → {y} (options {x} and {y} swapped)")
        except StaleEditError:
            report.stale.append(it["id"])
            continue
        counts[x] -= 1
        counts[y] += 1
        report.changed.append((it["id"], x, y))
    report.after = {letter: counts.get(letter, 0) for letter in LETTERS}
    return report

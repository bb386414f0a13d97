"""The LongVideo-Reason release's quirks: categories from elsewhere, leaked deliberation.

    from lvr.datagen.release import load_category_map, pick_category, option_flags
    cmap = load_category_map("categories.csv")          # `--categories FILE` of `lvr import` / `lvr eval import`
    category, how, unknown = pick_category(row, cmap)   # ("goal", "column" | "map", None), ("uncategorised", …)
    option_flags(["opens the door", "Wait, let me reconsider …", …])   # ["option B reads like …"]
    # a skewed key (always "B" scores 44 %) is checked by lvr.store.answer_key.key_skew

The released rows have no category column (`problem_type` is "multiple choice"), so a row's
category is, in this order: a category column that names a known category (`category`,
`problem_type`, … as `lvr.store.categories.CATEGORY_FIELDS`); the `--categories` file's entry for its
`problem_id`; else `uncategorised` (stored, counted and warned about; never a rejection). A
category value we do not know ("Emotion") is kept in `meta["import"]["category_raw"]`.

The categories file maps problem_id → category: a JSON object {"12": "temporal", …}, a JSON
list or JSONL of objects with `problem_id` and `category` (or another category column), or a CSV
with a header naming those two columns (or two columns without a header). Categories are
written as ours, as the paper's names ("Goal and Purpose") or as their initials (T/G/S/P); an
unknown one refuses the file, naming its line.

Defects of some released rows that are imported but flagged for review (`option_flags`): an
option that carries the generator's deliberation ("Wait, let me reconsider…", "Hmm,", "Let me
re-check") or is absurdly long (over 300 characters, or 150+ and five times its siblings).
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from lvr.store import ITEM_CATEGORIES, LETTERS, UNCATEGORISED
from lvr.store.categories import CATEGORY_FIELDS, category_name, normalize_category

_PROBLEM_TYPES = {"multiple choice", "open ended", "openended", "free form", "numerical", "regression", "ocr",
                  "math", "video", "image", "text"}   # Video-R1 style `problem_type`/`type` values, not categories
_DELIBERATION = re.compile(
    r"\bwait\s*(?:[,!…]|\.\.\.|a (?:moment|second|minute)\b)|\bhmm+\b|\blet me (?:re-?check|reconsider|re-?think|"
    r"re-?read|re-?evaluate|double[- ]check|verify|check again|look again|think)\b|\bre-?check(?:ing)?\b|"
    r"\bon second thought\b|\bbut wait\b|\bactually,|\bi need to (?:check|verify|re)", re.I)
LONG_OPTION_CHARS = 300        # an option longer than this is flagged whatever its siblings
LONG_OPTION_RATIO = (150, 5.0)  # … or at least 150 characters and 5× the median of the other options


def _map_rows(path: Path, text: str) -> list[tuple[int, Any, Any]]:
    """(line, problem_id, category) of every entry of a categories file."""

    def pair(i: int, obj: Any) -> tuple[int, Any, Any]:
        if not isinstance(obj, dict) or "problem_id" not in obj:
            raise ValueError(f"{path} entry {i}: expected an object with problem_id and category, got {obj!r:.80}")
        return i, obj["problem_id"], next((obj[f] for f in CATEGORY_FIELDS if category_name(obj.get(f))),
                                          obj.get("category"))

    stripped = text.lstrip()
    if path.suffix.lower() in (".json", ".jsonl") or stripped[:1] in "{[":
        if stripped.startswith("{") and path.suffix.lower() != ".jsonl":
            data = json.loads(text)
            if "problem_id" not in data:
                return [(i, k, v) for i, (k, v) in enumerate(data.items(), 1)]
            return [pair(1, data)]
        if stripped.startswith("["):
            return [pair(i, obj) for i, obj in enumerate(json.loads(text), 1)]
        return [pair(i, json.loads(line)) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    head = [c.strip().lower() for c in rows[0]] if rows else []
    if "problem_id" in head:
        cat_col = next((head.index(c) for c in ("category", "problem_type", "question_type", "type") if c in head),
                       None)
        if cat_col is None:
            raise ValueError(f"{path}: the header names no category column (category, problem_type, type)")
        pid_col = head.index("problem_id")
        return [(i, r[pid_col], r[cat_col] if len(r) > cat_col else None) for i, r in enumerate(rows[1:], 2)]
    return [(i, r[0], r[1] if len(r) > 1 else None) for i, r in enumerate(rows, 1)]


def load_category_map(path: str | Path) -> dict[str, str]:
    """problem_id (as text) → category from a JSON/JSONL/CSV file (see the module docstring); ValueError if bad."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: categories file does not exist")
    try:
        entries = _map_rows(path, path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    out: dict[str, str] = {}
    for line, pid, raw in entries:
        cat = category_name(raw)
        if cat is None:
            raise ValueError(f"{path} line {line}: category {raw!r} of problem_id {pid} is not one of "
                             f"{', '.join(ITEM_CATEGORIES)} (or Temporal / Goal and Purpose / … or T/G/S/P)")
        out[str(pid).strip()] = cat
    if not out:
        raise ValueError(f"{path}: no problem_id → category entries")
    return out


def pick_category(row: dict, category_map: dict[str, str] | None = None) -> tuple[str, str, str | None]:
    """(category, how, unknown): how is "column", "map" or "none" (then the category is `uncategorised`).

    `unknown` is the value of a category column that names no known category ("Emotion"), so the
    report can say which values were passed over; a problem type ("multiple choice") is not one.
    """
    found = next((c for c in (normalize_category(row.get(f)) for f in CATEGORY_FIELDS) if c), None)
    if found is not None:
        return found, "column", None
    unknown = next((str(row[f]) for f in CATEGORY_FIELDS if isinstance(row.get(f), str) and row[f].strip()
                    and _key(row[f]) not in _PROBLEM_TYPES), None)
    pid = row.get("problem_id")
    if category_map and pid is not None and str(pid).strip() in category_map:
        return category_map[str(pid).strip()], "map", unknown
    return UNCATEGORISED, "none", unknown


def _key(text: str) -> str:
    return re.sub(r"[^a-z]+", " ", text.lower()).strip()


def option_flags(options: list[str]) -> list[str]:
    """Why the options look broken (leaked deliberation, absurd length); [] for ordinary options."""
    flags = []
    lengths = [len(o) for o in options]
    for i, (letter, text) in enumerate(zip(LETTERS, options)):
        m = _DELIBERATION.search(text)
        if m:
            flags.append(f"option {letter} reads like the generator's deliberation ({m.group(0).strip()!r} in "
                         f"{text[:60]!r}…)")
            continue
        others = sorted(n for j, n in enumerate(lengths) if j != i)
        median = others[len(others) // 2] if others else 0
        if len(text) > LONG_OPTION_CHARS or (len(text) >= LONG_OPTION_RATIO[0]
                                             and len(text) >= LONG_OPTION_RATIO[1] * max(median, 1)):
            flags.append(f"option {letter} is {len(text)} characters long (the others about {median})")
    return flags

"""Importing a LongVideo-Reason-eval-style benchmark for evaluation, and checking it.

    from lvr.eval.benchmark import VideoResolver, benchmark_report, normalize_row
    row = normalize_row(raw_row, VideoResolver("videos/"))   # a row as lvr.datagen.importer reads it
    benchmark_report(ws, source="longvideo-reason-eval")     # checks on what is stored

The import itself (`lvr eval import`, `lvr.recipe.benchmark.import_benchmark`) composes this
module's row adapter with the general store import, `lvr.datagen.importer.import_file` (row
checks, video ingest, provenance in `meta["import"]`, idempotent by file digest and row), and
fills this module's `ImportReport`; lvr.eval does not import lvr.datagen (they are peers).
This module has, for evaluation:

* an adapter for the published eval file's quirks, applied to each row before the import
  (rows keep their line numbers): the category in `problem_type` when it names one ("goal",
  "Temporal", …; the release's "multiple choice" does not, and its rows take their category from
  the `--categories` file or are stored as `uncategorised`, see lvr.datagen.release);
  options embedded in the problem as lines "A. …" in any letter order (sorted by letter;
  wrapped lines joined) or given as {"A": text}; answers such as "<answer>b</answer>",
  "B. text" or the option text (made the letter); and videos looked up as
  `videos_dir/<videos>`, then by file name anywhere under videos_dir (the archives extract to
  `longvideo_eval_subset<N>/` although rows say `longvila_videos/<name>`), then by stem with
  another extension (.webm/.mkv). Rows already imported under the same source and
  problem_id are skipped, wherever the videos now live;
* the report: rows, added, already present, bad rows (line and cause), missing and
  undecodable videos (rows kept, flagged, skipped by model runs), categories (with a warning
  for uncategorised rows), rows flagged for review (options with leaked deliberation or absurd
  length: imported as pending), key-letter distribution and the "always answer X" score, with a
  warning when the key is skewed (the published set scores 44 % with "B").
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lvr.ingest import VIDEO_SUFFIXES
from lvr.store import CATEGORIES, ITEM_CATEGORIES, UNCATEGORISED
from lvr.store.answer_key import skew_text
from lvr.store.categories import CATEGORY_FIELDS, normalize_category

from .answerer import LETTERS
from .runner import attach_videos
from .summary import best_constant, letter_counts

_OPTION_LINE = re.compile(r"^\s*[\(\[]?([A-D])[\)\]]?\s*[\.\):：]\s*(.+?)\s*$")
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_PREFIX = re.compile(r"^\s*[\(\[]?([A-D])[\)\]]?\s*[\.\):：]\s+")
_CATEGORY_WORDS = (("temporal", "temporal"), ("goal", "goal"), ("purpose", "goal"), ("spatial", "spatial"),
                   ("plot", "plot"), ("narrative", "plot"))


class BenchmarkRowError(ValueError):
    """A benchmark row that cannot be stored (the message says why)."""


def map_category(raw) -> str:
    """'Goal and Purpose' → goal, 'Plot & Narrative' → plot, 'temporal' → temporal, …"""
    text = str(raw or "").strip().lower()
    if text in CATEGORIES:
        return text
    for word, cat in _CATEGORY_WORDS:
        if word in text:
            return cat
    raise BenchmarkRowError(f"category {raw!r} is not one of temporal / goal / spatial / plot")


def split_problem(problem: str) -> tuple[str, list[str] | None]:
    """Question text and options A–D found as lines "A. …" in `problem` (None if not all four)."""
    question, found, last = [], {}, None
    for line in problem.splitlines():
        m = _OPTION_LINE.match(line)
        if m and m.group(1) not in found and (found or any(q.strip() for q in question)):
            last = m.group(1)
            found[last] = m.group(2)
        elif not found:
            question.append(line)
        elif line.strip():
            found[last] = f"{found[last]} {line.strip()}"  # an option wrapped onto the next line
    if set(found) != set(LETTERS):
        return problem.strip(), None
    return "\n".join(question).strip(), [found[k] for k in LETTERS]


def _answer_letter(raw, options: list[str]) -> str:
    # imported here: lvr.model loads torch, ~1.3 s more on `import lvr.eval` (~1.5 s), measured
    from lvr.model.prompting import extract_letter

    text = str(raw or "")
    m = _ANSWER_TAG.search(text)
    span = (m.group(1) if m else text).strip()
    letter = extract_letter(span, 4, options)
    if letter is None:
        raise BenchmarkRowError(f"answer {raw!r} is not an option letter A-D (or an option's text)")
    return letter


class VideoResolver:
    """Finds a row's video under `videos_dir` (as given, then by name, then by stem)."""

    def __init__(self, videos_dir: str | Path):
        self.root = Path(videos_dir)
        self._by_name: dict[str, Path] | None = None
        self._by_stem: dict[str, Path] | None = None

    def _index(self) -> None:
        self._by_name, self._by_stem = {}, {}
        if self.root.is_dir():
            for p in sorted(self.root.rglob("*")):
                if p.is_file():
                    self._by_name.setdefault(p.name, p)
                    if p.suffix.lower() in VIDEO_SUFFIXES:
                        self._by_stem.setdefault(p.stem, p)

    def resolve(self, ref: str | None) -> Path | None:
        if not ref:
            return None
        direct = Path(ref) if Path(ref).is_absolute() else self.root / ref
        if direct.is_file():
            return direct
        if self._by_name is None:
            self._index()
        name = Path(ref).name
        return self._by_name.get(name) or self._by_stem.get(Path(name).stem)


@dataclass
class ImportReport:
    source: str
    file: str = ""
    rows: int = 0
    added: int = 0
    already_present: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)            # (line, cause)
    missing_videos: list[tuple[str, str]] = field(default_factory=list)      # (problem_id, cause)
    undecodable_videos: list[tuple[str, str]] = field(default_factory=list)  # (problem_id, cause)
    categories: dict = field(default_factory=dict)
    letters: dict = field(default_factory=dict)
    best_constant: dict | None = None
    qa_ids: list[int] = field(default_factory=list)
    uncategorised: list[str] = field(default_factory=list)                   # problem_ids stored as uncategorised
    flagged: list[tuple[str, str]] = field(default_factory=list)             # (problem_id, why), left pending
    key_skew: dict | None = None                                             # lvr.store.answer_key.key_skew

    def to_dict(self) -> dict:
        return asdict(self)

    def format_text(self, max_list: int = 20) -> str:
        lines = [f"benchmark {self.source}: {self.rows} rows, {self.added} added, "
                 f"{self.already_present} already present, {len(self.bad_rows)} bad rows",
                 "categories: " + ", ".join(f"{k} {v}" for k, v in self.categories.items()),
                 "key letters: " + ", ".join(f"{k} {v}" for k, v in self.letters.items() if k != "none")]
        if self.best_constant:
            lines.append(f"always answering {self.best_constant['letter']} scores "
                         f"{100 * self.best_constant['acc']:.1f} % (chance 25 %)")
        lines += self._warnings(max_list)
        for title, rows in (("missing videos", self.missing_videos),
                            ("undecodable videos", self.undecodable_videos),
                            ("bad rows", [(f"{self.file}:{no}", cause) for no, cause in self.bad_rows])):
            if rows:
                lines.append(f"{title}: {len(rows)}")
                lines += ["  " + " | ".join(str(x) for x in r) for r in rows[:max_list]]
                if len(rows) > max_list:
                    lines.append(f"  … and {len(rows) - max_list} more")
        return "\n".join(lines)

    def _warnings(self, max_list: int) -> list[str]:
        lines = []
        if self.key_skew and self.key_skew["skewed"]:
            lines.append("WARNING answer key is skewed: " + skew_text(self.key_skew))
        if self.uncategorised:
            more = f" … and {len(self.uncategorised) - max_list} more" if len(self.uncategorised) > max_list else ""
            lines.append(f"WARNING {len(self.uncategorised)} row(s) name no known category (none in a category column, "
                         f"no --categories entry): stored as '{UNCATEGORISED}'; problem_ids "
                         + ", ".join(self.uncategorised[:max_list]) + more)
        if self.flagged:
            lines.append(f"WARNING {len(self.flagged)} row(s) flagged for review (imported, left pending):")
            lines += [f"  FLAGGED problem_id {pid}: {why}" for pid, why in self.flagged[:max_list]]
        return lines


def normalize_row(row: dict, resolver: VideoResolver | None = None) -> dict:
    """A copy of a benchmark row in the form `lvr.datagen.importer` reads (see the module docstring).

    Fields it cannot fix are left as they are, so the importer reports the row's problem.
    """
    row = dict(row)
    problem = str(row.get("problem") or "")
    raw = row.get("options")
    if isinstance(raw, dict):
        row["options"] = [str(raw.get(k) or raw.get(k.lower()) or "") for k in LETTERS]
    elif isinstance(raw, (list, tuple)) and len(raw) == 4:
        m = [_PREFIX.match(str(o)) for o in raw]
        if all(m) and sorted(x.group(1) for x in m) == list(LETTERS):   # "B. …" lines in another order
            row["options"] = [_PREFIX.sub("", str(o)).strip() for _, o in sorted(zip((x.group(1) for x in m), raw))]
    elif not raw and problem:
        question, opts = split_problem(problem)
        if opts is not None:
            row["problem"], row["options"] = question, opts
    if isinstance(row.get("options"), list) and len(row["options"]) == 4 and row.get("answer") is not None:
        try:
            row["answer"] = _answer_letter(row["answer"], [_PREFIX.sub("", str(o)) for o in row["options"]])
        except BenchmarkRowError:
            pass
    if not any(normalize_category(row.get(f)) for f in CATEGORY_FIELDS):
        for f in ("problem_type", *CATEGORY_FIELDS):
            try:
                row["category"] = map_category(row.get(f))
                break
            except BenchmarkRowError:
                continue
        else:  # nothing maps: name the unknown value so the importer's error shows it
            if not any(row.get(f) for f in CATEGORY_FIELDS) and row.get("problem_type"):
                row["category"] = row["problem_type"]
    video = row.get("videos", row.get("video", row.get("path")))
    if isinstance(video, (list, tuple)):
        video = video[0] if video else None
    if resolver is not None and video:
        found = resolver.resolve(str(video))
        row["videos"] = str(found.resolve()) if found else str(video)
    elif video and "videos" not in row:
        row["videos"] = str(video)
    return row


def benchmark_report(ws, *, source: str | None = None, split: str | None = "eval") -> dict:
    """Checks on stored benchmark items: counts per category, key letters, unusable videos."""
    items = list(ws.iter_qa(source=source, split=split, status=["pending", "draft", "approved"]))
    attach_videos(ws, items)
    keys = [it["answer"] for it in items]
    return {
        "source": source, "split": split, "n": len(items),
        "categories": {c: sum(1 for it in items if it["category"] == c) for c in ITEM_CATEGORIES},
        "letters": letter_counts(keys), "best_constant": best_constant(keys),
        "video_problems": [{"qa_id": it["id"],
                            "problem_id": ((it.get("meta") or {}).get("import") or {}).get("problem_id"),
                            "reason": it["video_problem"]} for it in items if it["video_problem"]],
    }

"""Import LongVideo-Reason-style rows (JSONL, a JSON list, or a `datasets` folder) into a workspace.

    from lvr.datagen.importer import import_file
    from lvr.datagen.release import load_category_map
    report = import_file(ws, "longvideo_reason_eval.jsonl", videos_dir="longvila_videos", split="eval",
                         category_map=load_category_map("categories.csv"))   # optional
    report.added, report.missing_videos, report.errors          # `lvr import WS FILE --videos DIR [--categories F]`
    report.notes()                                              # categories, flagged rows, key letters, warnings

Per row (the published LongVideo-Reason-eval file is read as it is):
* question: the `question` column, or `problem` without its option lines;
* options: `options` as a list ("A. text" or plain text; lettered lines in any order are put
  in A-D order) or a {"A": text, …} object, or else the option lines at the end of `problem`
  ("A. …", "(B) …", "C) …", after an optional "Options:" line; a line that is not an option
  continues the option above it). Those lines may come in any letter order ("D. …\nA. …\n…"):
  each option takes the place its letter names, so the answer key keeps pointing at it;
* answer: a letter ("B", "b", "(B)", "B."), "B. text", "Answer: B", `<answer>B</answer>` (any of
  these inside the tags), or the text of an option; "B. text" whose text is another option's is
  refused as contradictory;
* category: the first of `category`, `problem_type`, `question_type`, `task_type`, `type`, `class`,
  `question_category` whose value names one ("Temporal", "Goal and Purpose", "Spatial", "Plot and
  Narrative" or ours; the release's `problem_type: "multiple choice"` is passed over); else the
  `category_map` entry (`--categories FILE`) of its problem_id; else `uncategorised`, counted in
  the report (see lvr.datagen.release);
* reasoning: `reasoning` (or Video-R1's `process`) without <think> tags.
Our own columns (split, status, reasoning_raw, start, end, source, difficulty, duplicate_of,
reject_reason, meta) are taken when present, so an `lvr export` file comes back unchanged.

The `videos` path is looked up as given, under `videos_dir` (as given and by file name), next to
the file, then anywhere below `videos_dir` by file name and finally by file stem with another
video extension (the published archives extract to `longvideo_eval_subset<N>/` folders although
rows say `longvila_videos/<name>.mp4`, and some videos are .webm/.mkv). Found videos are ingested
(probed, hashed, deduplicated, cut into clips). A row whose video is missing or unreadable is
still imported, with video_id NULL and the reason in `meta["import"]["note"]`, and listed in
`report.missing_videos`. A row that cannot become an item (no 4 options, no answer) is reported
with its row number and skipped; the rest of the file goes on. A row whose options look broken
(the generator's deliberation leaked into one, or one absurdly long: `release.option_flags`) is
imported with status pending and its reasons in `meta["import"]["flags"]`, and listed in
`report.flagged`. `report.notes()` also gives the category counts and the key's letter
distribution, with a warning when always answering one letter beats chance clearly
(`lvr.store.answer_key.key_skew`). Importing the same file again adds nothing (each row's key
`<file sha>/<row>` is recorded in gen_outputs, task "import").
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from lvr.datagen.export import IMPORT_META
from lvr.datagen.release import option_flags, pick_category
from lvr.datagen.schema_check import IMPORT_SCHEMA, validate
from lvr.ingest import VIDEO_SUFFIXES, ingest_file
from lvr.store import ITEM_CATEGORIES, LETTERS, QA_STATUSES, SPLITS, UNCATEGORISED, Workspace, validate_qa
from lvr.store.answer_key import key_skew, skew_text
from lvr.video import VideoError

TASK = "import"
# an option line: "A. text", "(B) text", "C) text", "[D]: text"; letters past D are caught to be refused
_OPTION_LINE = re.compile(r"^\s*[\(\[]?([A-J])[\)\]]?\s*[.):：]\s*(.*?)\s*$")
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S | re.I)
_ANSWER_PREFIX = re.compile(
    r"^(?:(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|option|choice)(?:\s+is)?\s*[:：\-]?\s*)+", re.I)
_LONE_LETTER = re.compile(r"[\(\[]?([A-Da-d])[\)\]]?[.:]?")
_LETTER_AND_TEXT = re.compile(r"[\(\[]?([A-Da-d])[\)\]]?\s*[.):：]\s*(.+)|[\(\[]([A-Da-d])[\)\]]\s*(.+)", re.S)
_THINK = re.compile(r"</?think>", re.I)


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    added: int = 0
    already_imported: int = 0
    videos_ingested: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)           # (row, cause)
    missing_videos: list[tuple[int, str]] = field(default_factory=list)   # (row, path or cause)
    qa_ids: list[int] = field(default_factory=list)
    categories: Counter = field(default_factory=Counter)                  # of the added items
    categories_from_map: int = 0                                          # added items categorised by the map
    uncategorised: list[int] = field(default_factory=list)                # rows stored as uncategorised
    unknown_categories: Counter = field(default_factory=Counter)          # category values we do not know
    flagged: list[tuple[int, str]] = field(default_factory=list)          # (row, why), imported as pending
    letters: list[str] = field(default_factory=list)                      # answer keys of the added items

    def summary(self) -> str:
        return (f"import {self.file}: {self.rows} rows, {self.added} added, {self.already_imported} already imported, "
                f"{len(self.errors)} rejected, {len(self.missing_videos)} with missing video; "
                f"{self.videos_ingested} videos ingested")

    def notes(self, max_list: int = 20) -> list[str]:
        """Category counts, key letters and WARNING lines (uncategorised rows, flagged rows, a skewed key)."""
        if not self.added:
            return []
        cats = ", ".join(f"{c} {self.categories.get(c, 0)}" for c in ITEM_CATEGORIES)
        lines = [f"categories: {cats}" + (f" ({self.categories_from_map} from the categories file)"
                                          if self.categories_from_map else "")]
        if self.uncategorised:
            unknown = ", ".join(f"{v!r} ×{n}" for v, n in self.unknown_categories.most_common(10))
            lines.append(f"WARNING {len(self.uncategorised)} row(s) name no known category (none in a category column, "
                         f"no --categories entry for their problem_id): stored as '{UNCATEGORISED}'; rows "
                         + _row_list(self.uncategorised, max_list)
                         + (f"; unknown values: {unknown}" if unknown else ""))
        if self.flagged:
            lines.append(f"WARNING {len(self.flagged)} row(s) flagged for review (imported, left pending):")
            lines += [f"  FLAGGED {self.file} row {row}: {why}" for row, why in self.flagged[:max_list]]
        skew = key_skew(self.letters)
        if skew:
            lines.append(("WARNING answer key is skewed: " if skew["skewed"] else "key letters: ") + skew_text(skew))
        return lines


def _row_list(rows: list[int], limit: int) -> str:
    return ", ".join(map(str, rows[:limit])) + (f" … and {len(rows) - limit} more" if len(rows) > limit else "")


def read_rows(path: str | Path) -> Iterator[tuple[int, dict | str]]:
    """(row number, row) pairs; a line that is not a JSON object yields its error text instead."""
    path = Path(path)
    if path.is_dir():
        from datasets import DatasetDict, load_from_disk

        ds = load_from_disk(str(path))
        if isinstance(ds, DatasetDict):  # every split in order, rows numbered on across splits
            n = 0
            for name in ds.keys():
                for row in ds[name]:
                    n += 1
                    yield n, dict(row)
            return
        for i, row in enumerate(ds, 1):
            yield i, dict(row)
        return
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        for i, row in enumerate(json.loads(text), 1):
            yield i, row if isinstance(row, dict) else f"not a JSON object ({type(row).__name__})"
        return
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield i, f"not valid JSON: {e.msg} at column {e.colno}"
            continue
        yield i, row if isinstance(row, dict) else f"not a JSON object ({type(row).__name__})"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _norm_text(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


def split_options(problem: str) -> tuple[str, list[str] | None, str | None]:
    """(question, options in A-D order, None) from a problem ending in option lines, or (problem, None, why not).

    The option lines are read from the end up: a line that is not an option continues the option
    above it (wrapped text); reading stops once A, B, C and D have each been seen, and an
    "Options:"/"Choices:" line just above them is dropped. Any letter order is accepted; each text
    goes to the place its letter names.
    """
    lines = problem.strip().splitlines()
    found: dict[str, str] = {}
    pending: list[str] = []
    i = len(lines)
    while i > 0 and len(found) < 4:
        i -= 1
        m = _OPTION_LINE.match(lines[i])
        if m is None:
            if lines[i].strip():
                pending.insert(0, lines[i].strip())
            continue
        letter = m.group(1)
        if letter not in LETTERS:
            return problem.strip(), None, f"needs 4 options A-D, found an option {letter}"
        if letter in found:
            return problem.strip(), None, f"option {letter} is listed twice in the problem"
        found[letter] = " ".join([m.group(2), *pending]).strip()
        pending = []
    if len(found) < 4:
        return problem.strip(), None, (f"needs 4 options, found {len(found)} (no options column, and "
                                       f"{len(found)} option line(s) at the end of the problem)")
    question = lines[:i]
    while question and not question[-1].strip():
        question.pop()
    if question and question[-1].strip().lower().rstrip(":：") in ("options", "choices", "option", "choice"):
        question.pop()
    return "\n".join(question).strip(), [found[k] for k in LETTERS], None


def _options_column(raw: Any) -> list[str]:
    """The `options` column as texts in A-D order (lettered entries in any order are sorted by letter)."""
    if isinstance(raw, dict):
        missing = [k for k in LETTERS if k not in raw and k.lower() not in raw]
        if missing or len(raw) != 4:
            raise ValueError(f"options object must have the keys A, B, C, D, got {sorted(map(str, raw))}")
        return [str(raw.get(k, raw.get(k.lower()))).strip() for k in LETTERS]
    texts = [str(o) for o in raw]
    matches = [_OPTION_LINE.match(t) for t in texts]
    if all(matches) and len(texts) == 4:
        letters = [m.group(1) for m in matches]
        if sorted(letters) == list(LETTERS):
            by_letter = {m.group(1): m.group(2) for m in matches}
            return [by_letter[k] for k in LETTERS]
    return [m.group(2) if m and m.group(1) in LETTERS else t.strip() for m, t in zip(matches, texts)]


def parse_answer(raw: str, options: list[str]) -> str:
    """The answer letter A-D of `raw` (see the module docstring); ValueError saying why not."""
    m = _ANSWER_TAG.search(raw)
    text = (m.group(1) if m else raw).strip().strip("*_`\"' ")
    text = _ANSWER_PREFIX.sub("", text).strip()
    if (m := _LONE_LETTER.fullmatch(text)) is not None:
        return m.group(1).upper()
    norm = [_norm_text(o) for o in options]
    if _norm_text(text) and _norm_text(text) in norm:
        return LETTERS[norm.index(_norm_text(text))]
    if (m := _LETTER_AND_TEXT.fullmatch(text)) is not None:
        letter = (m.group(1) or m.group(3)).upper()
        rest = _norm_text(m.group(2) or m.group(4))
        mine = norm[LETTERS.index(letter)]
        if rest and rest != mine and rest in norm:
            raise ValueError(f"answer {raw[:60]!r} names option {letter} but its text is option "
                             f"{LETTERS[norm.index(rest)]}'s")
        return letter
    raise ValueError(f"answer {raw[:40]!r} is neither a letter A-D nor one of the options")


def row_to_item(row: dict, category_map: dict[str, str] | None = None) -> dict:
    """The QA fields of one row (no video resolution); ValueError naming the problem."""
    errs = validate({k: v for k, v in row.items() if k != "options" or not isinstance(v, dict)}, IMPORT_SCHEMA)
    if errs:
        raise ValueError("; ".join(errs[:3]))
    problem = row["problem"].strip()
    stripped, embedded, why = split_options(problem)
    question = (row.get("question") or stripped).strip()
    if row.get("options"):
        options = _options_column(row["options"])
    elif embedded is not None:
        options = embedded
    else:
        raise ValueError(why)
    if len(options) != 4:
        raise ValueError(f"needs 4 options, found {len(options)}")
    if any(not o for o in options):
        raise ValueError(f"option {LETTERS[[bool(o) for o in options].index(False)]} is empty")
    if not question:
        raise ValueError("the problem has no question text")
    answer = parse_answer(row["answer"], options)
    category, _how, _unknown = pick_category(row, category_map)
    meta = row.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            meta = {"meta_text": meta}
    reasoning = row.get("reasoning") if row.get("reasoning") is not None else row.get("process")
    return {
        "category": category, "question": question, "options": options, "answer": answer,
        "reasoning": _THINK.sub("", reasoning or "").strip(), "reasoning_raw": row.get("reasoning_raw") or "",
        "status": row.get("status") if row.get("status") in QA_STATUSES else None,
        "split": row.get("split") if row.get("split") in SPLITS else None,
        "source": row.get("source"), "start": row.get("start"), "end": row.get("end"),
        "difficulty": row.get("difficulty"), "reject_reason": row.get("reject_reason"),
        "meta": meta if isinstance(meta, dict) else {"meta_value": meta},
    }


class _VideoResolver:
    """Finds a row's video (see the module docstring for the search order) and ingests it once."""

    def __init__(self, ws: Workspace, videos_dir: Path | None, base_dir: Path, copy: bool):
        self.ws, self.videos_dir, self.base_dir, self.copy = ws, videos_dir, base_dir, copy
        self.cache: dict[str, tuple[str | None, str | None]] = {}
        self.ingested = 0
        self._by_name: dict[str, Path] | None = None
        self._by_stem: dict[str, Path] | None = None

    def candidates(self, value: str) -> list[Path]:
        p = Path(value).expanduser()
        out = [p] if p.is_absolute() else []
        if self.videos_dir is not None:
            if not p.is_absolute():
                out.append(self.videos_dir / p)
            out.append(self.videos_dir / p.name)
        if not p.is_absolute():
            out.append(self.base_dir / p)
        return out

    def _index(self) -> None:
        """File name → path and stem → path of every video below videos_dir (first in sorted order wins)."""
        self._by_name, self._by_stem = {}, {}
        if self.videos_dir is None:
            return
        for f in sorted(self.videos_dir.rglob("*")):
            if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES:
                self._by_name.setdefault(f.name, f)
                self._by_stem.setdefault(f.stem, f)

    def find(self, value: str) -> Path | None:
        found = next((c for c in self.candidates(value) if c.is_file()), None)
        if found is not None or self.videos_dir is None:
            return found
        if self._by_name is None:
            self._index()
        name = Path(value).name
        return self._by_name.get(name) or self._by_stem.get(Path(name).stem)

    def resolve(self, value: str) -> tuple[str | None, str | None]:
        """(video id, None) or (None, why it is missing)."""
        if value in self.cache:
            return self.cache[value]
        found = self.find(value)
        if found is None:
            where = f" under {self.videos_dir}" if self.videos_dir else ""
            result: tuple[str | None, str | None] = (None, f"video not found: {value}{where}")
        else:
            try:
                vid, new = ingest_file(self.ws, found, copy=self.copy, source="import")
                self.ingested += int(new)
                result = (vid, None)
            except (VideoError, OSError, ValueError) as e:
                result = (None, f"video unreadable: {e}")
        self.cache[value] = result
        return result


def _reject(ws: Workspace, report: ImportReport, path: Path, rowno: int, key: str, cause: str,
            row: dict | None = None) -> None:
    report.errors.append((rowno, cause))
    raw = json.dumps(row, default=str)[:20_000] if row is not None else None
    ws.add_gen_output(task=TASK, key=key, ok=False, raw=raw, reason=f"{path.name} row {rowno}: {cause}")


def _provenance(row: dict, rowno: int, path: Path, resolver: _VideoResolver,
                report: ImportReport) -> tuple[dict[str, Any], str | None]:
    """(meta["import"] of the row, video id or None); a missing video is noted and reported."""
    videos = row.get("videos")
    video_value = (videos[0] if videos else "") if isinstance(videos, list) else (videos or "")
    provenance: dict[str, Any] = {"file": path.name, "row": rowno, "problem_id": row.get("problem_id"),
                                  "video": video_value}
    vid, why = resolver.resolve(str(video_value)) if video_value else (None, "row names no video")
    if why:
        provenance["note"] = why
        report.missing_videos.append((rowno, why))
    return provenance, vid


def _prepare(rowno: int, item: dict, how: str, unknown: str | None, provenance: dict,
             report: ImportReport) -> None:
    """Category source and review flags into the provenance; a flagged item stays pending."""
    provenance["category_from"] = how
    if unknown is not None:
        provenance["category_raw"] = unknown
    flags = option_flags(item["options"])
    if flags:
        provenance["flags"] = flags
        item["status"] = "pending"
        report.flagged.append((rowno, "; ".join(flags)))
    item["meta"][IMPORT_META] = provenance


def _count(report: ImportReport, rowno: int, item: dict, how: str, qa_id: int) -> None:
    report.added += 1
    report.qa_ids.append(qa_id)
    report.categories[item["category"]] += 1
    report.letters.append(item["answer"])
    report.categories_from_map += how == "map"
    if item["category"] == UNCATEGORISED:
        report.uncategorised.append(rowno)
        if item["meta"][IMPORT_META].get("category_raw"):
            report.unknown_categories[item["meta"][IMPORT_META]["category_raw"]] += 1


def _check_args(path: Path, split: str | None, status: str | None, videos_dir) -> Path | None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if status is not None and status not in QA_STATUSES:
        raise ValueError(f"status must be one of {QA_STATUSES}, got {status!r}")
    vdir = Path(videos_dir).expanduser().resolve() if videos_dir else None
    if vdir is not None and not vdir.is_dir():
        raise FileNotFoundError(f"{vdir}: videos folder does not exist")
    return vdir


def import_file(ws: Workspace, path: str | Path, *, videos_dir: str | Path | None = None, split: str | None = None,
                status: str | None = None, source: str | None = None, copy: bool = False,
                category_map: dict[str, str] | None = None,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    path = Path(path)
    vdir = _check_args(path, split, status, videos_dir)
    report = ImportReport(file=str(path))
    digest = _file_digest(path)
    done = {k for k in ws.done_keys(TASK) if k.startswith(digest + "/")}
    resolver = _VideoResolver(ws, vdir, path.parent.resolve(), copy)
    id_map: dict[Any, int] = {}
    pending_dups: list[tuple[int, Any]] = []
    for rowno, row in read_rows(path):
        report.rows += 1
        if progress:
            progress(rowno)
        key = f"{digest}/{rowno}"
        if key in done:
            report.already_imported += 1
            continue
        if isinstance(row, str):
            _reject(ws, report, path, rowno, key, row)
            continue
        try:
            item = row_to_item(row, category_map)
        except ValueError as e:
            _reject(ws, report, path, rowno, key, str(e), row)
            continue
        provenance, vid = _provenance(row, rowno, path, resolver, report)
        item.update(video_id=vid, split=split or item["split"], status=status or item["status"] or "pending",
                    source=source or item["source"] or f"import:{path.name}")
        how, unknown = pick_category(row, category_map)[1:]
        _prepare(rowno, item, how, unknown, provenance, report)
        try:
            validate_qa(item, where="item")
        except ValueError as e:
            _reject(ws, report, path, rowno, key, str(e), row)
            continue
        dup = row.get("duplicate_of")
        if dup is not None and dup in id_map:
            item["duplicate_of"] = id_map[dup]
        with ws.transaction():
            qa_id = ws.add_qa(item, who="import")
            ws.add_gen_output(task=TASK, key=key, ok=True, raw=None, qa_id=qa_id, video_id=vid,
                              category=item["category"], backend="import", model=path.name)
        if dup is not None and dup not in id_map:
            pending_dups.append((qa_id, dup))
        if row.get("qa_id") is not None:
            id_map[row["qa_id"]] = qa_id
        _count(report, rowno, item, how, qa_id)
    _link_duplicates(ws, id_map, pending_dups)
    report.videos_ingested = resolver.ingested
    return report


def _link_duplicates(ws: Workspace, id_map: dict[Any, int], pending_dups: list[tuple[int, Any]]) -> None:
    """Duplicates that point to a later row of the file."""
    for qa_id, dup in pending_dups:
        if dup in id_map:
            item = ws.get_qa(qa_id)
            ws.update_qa(qa_id, {"duplicate_of": id_map[dup]}, expected_version=item["version"], who="import",
                         action="import")

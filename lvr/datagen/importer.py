"""Import LongVideo-Reason-style rows (JSONL, a JSON list, or a `datasets` folder) into a workspace.

    from lvr.datagen.importer import import_file
    report = import_file(ws, "longvideo_reason_eval.jsonl", videos_dir="longvila_videos", split="eval")
    report.added, report.missing_videos, report.errors          # `lvr import WS FILE --videos DIR`

Per row: the question is the `question` column, or `problem` without its trailing option lines;
options come from `options` ("A. text" or plain text) or from those lines; the answer from
`<answer>B</answer>`, a bare letter, or the text of an option; the category from `category` (or
`question_type`/`task_type`/`type`/`class`), mapping names such as "Temporal", "Goal and Purpose",
"Spatial", "Plot & Narrative"; `reasoning` (or Video-R1's `process`) without <think> tags.
Our own columns (split, status, reasoning_raw, start, end, source, difficulty, duplicate_of,
reject_reason, meta) are taken when present, so an `lvr export` file comes back unchanged.

The `videos` path is looked up as given, under `videos_dir` (also by file name alone) and next to
the file; found videos are ingested (probed, hashed, deduplicated, cut into clips). A row whose
video is missing or unreadable is still imported, with video_id NULL and the reason in
`meta["import"]["note"]`, and listed in `report.missing_videos`. A row that cannot become an item
(no 4 options, unknown category, no answer) is reported with its row number and skipped; the
rest of the file goes on. Importing the same file again adds nothing (each row's key
`<file sha>/<row>` is recorded in gen_outputs, task "import").
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from lvr.datagen.export import IMPORT_META
from lvr.datagen.schema_check import IMPORT_SCHEMA, validate
from lvr.store import CATEGORIES, LETTERS, QA_STATUSES, SPLITS, Workspace, validate_qa

TASK = "import"
CATEGORY_FIELDS = ("category", "question_type", "task_type", "type", "class", "question_category")
_OPTION_LINE = re.compile(r"^\s*\(?([A-D])[.):]\s*(.+?)\s*$")
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S | re.I)
_THINK = re.compile(r"</?think>", re.I)
_ALIASES = {
    "temporal": "temporal", "temporal reasoning": "temporal", "time": "temporal",
    "goal": "goal", "goal and purpose": "goal", "goal purpose": "goal", "purpose": "goal", "goal reasoning": "goal",
    "spatial": "spatial", "spatial reasoning": "spatial", "space": "spatial",
    "plot": "plot", "plot and narrative": "plot", "plot narrative": "plot", "narrative": "plot",
    "plot reasoning": "plot",
}


def normalize_category(name: Any) -> str | None:
    """"Goal and Purpose" / "goal & purpose" / "Plot_and_Narrative" → goal / plot; None if unknown."""
    if not isinstance(name, str):
        return None
    key = re.sub(r"[\s_\-/&]+", " ", name.strip().lower().replace("&", " and ")).strip()
    key = re.sub(r"\s+", " ", key)
    return _ALIASES.get(key) or (key if key in CATEGORIES else None)


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

    def summary(self) -> str:
        return (f"import {self.file}: {self.rows} rows, {self.added} added, {self.already_imported} already imported, "
                f"{len(self.errors)} rejected, {len(self.missing_videos)} with missing video; "
                f"{self.videos_ingested} videos ingested")


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


def row_to_item(row: dict) -> dict:
    """The QA fields of one row (no video resolution); ValueError naming the problem."""
    errs = validate(row, IMPORT_SCHEMA)
    if errs:
        raise ValueError("; ".join(errs[:3]))
    problem = row["problem"].strip()
    lines = problem.splitlines()
    trailing: list[tuple[str, str]] = []
    while lines and (m := _OPTION_LINE.match(lines[-1])):
        trailing.insert(0, (m.group(1), m.group(2)))
        lines.pop()
    if lines and lines[-1].strip().lower().rstrip(":") in ("options", "choices"):
        lines.pop()
    question = (row.get("question") or "\n".join(lines)).strip()
    if row.get("options"):
        options = []
        for o in row["options"]:
            m = _OPTION_LINE.match(o)
            options.append(m.group(2) if m else o.strip())
    else:
        options = [t for _, t in trailing]
    if len(options) != 4:
        raise ValueError(f"needs 4 options, found {len(options)}")
    if not question:
        raise ValueError("the problem has no question text")
    ans = row["answer"].strip()
    m = _ANSWER_TAG.search(ans)
    ans = (m.group(1) if m else ans).strip().strip("().").strip()
    if ans.upper() in LETTERS and len(ans) == 1:
        answer = ans.upper()
    else:
        low = [o.strip().lower() for o in options]
        if ans.lower() in low:
            answer = LETTERS[low.index(ans.lower())]
        else:
            raise ValueError(f"answer {row['answer'][:40]!r} is neither a letter A-D nor one of the options")
    cat_raw = next((row[f] for f in CATEGORY_FIELDS if row.get(f)), None)
    category = normalize_category(cat_raw)
    if category is None:
        raise ValueError(f"category {cat_raw!r} is not one of {', '.join(CATEGORIES)} "
                         "(or Temporal / Goal and Purpose / Spatial / Plot and Narrative)")
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
    def __init__(self, ws: Workspace, videos_dir: Path | None, base_dir: Path, copy: bool):
        self.ws, self.videos_dir, self.base_dir, self.copy = ws, videos_dir, base_dir, copy
        self.cache: dict[str, tuple[str | None, str | None]] = {}
        self.ingested = 0

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

    def resolve(self, value: str) -> tuple[str | None, str | None]:
        """(video id, None) or (None, why it is missing)."""
        if value in self.cache:
            return self.cache[value]
        from lvr.ingest import ingest_file
        from lvr.video import VideoError

        found = next((c for c in self.candidates(value) if c.is_file()), None)
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


def import_file(ws: Workspace, path: str | Path, *, videos_dir: str | Path | None = None, split: str | None = None,
                status: str | None = None, source: str | None = None, copy: bool = False,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if status is not None and status not in QA_STATUSES:
        raise ValueError(f"status must be one of {QA_STATUSES}, got {status!r}")
    vdir = Path(videos_dir).expanduser().resolve() if videos_dir else None
    if vdir is not None and not vdir.is_dir():
        raise FileNotFoundError(f"{vdir}: videos folder does not exist")
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
            report.errors.append((rowno, row))
            ws.add_gen_output(task=TASK, key=key, ok=False, raw=None, reason=f"{path.name} row {rowno}: {row}")
            continue
        try:
            item = row_to_item(row)
        except ValueError as e:
            report.errors.append((rowno, str(e)))
            ws.add_gen_output(task=TASK, key=key, ok=False, raw=json.dumps(row, default=str)[:20_000],
                              reason=f"{path.name} row {rowno}: {e}")
            continue
        videos = row.get("videos")
        video_value = (videos[0] if videos else "") if isinstance(videos, list) else (videos or "")
        provenance: dict[str, Any] = {"file": path.name, "row": rowno, "problem_id": row.get("problem_id"),
                                      "video": video_value}
        vid = None
        if video_value:
            vid, why = resolver.resolve(str(video_value))
            if why:
                provenance["note"] = why
                report.missing_videos.append((rowno, why))
        else:
            provenance["note"] = "row names no video"
            report.missing_videos.append((rowno, "row names no video"))
        item["meta"][IMPORT_META] = provenance
        item.update(video_id=vid, split=split or item["split"], status=status or item["status"] or "pending",
                    source=source or item["source"] or f"import:{path.name}")
        try:
            validate_qa(item, where="item")
        except ValueError as e:
            report.errors.append((rowno, str(e)))
            ws.add_gen_output(task=TASK, key=key, ok=False, raw=json.dumps(row, default=str)[:20_000],
                              reason=f"{path.name} row {rowno}: {e}")
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
        report.added += 1
        report.qa_ids.append(qa_id)
    for qa_id, dup in pending_dups:  # duplicates that point to a later row of the file
        if dup in id_map:
            item = ws.get_qa(qa_id)
            ws.update_qa(qa_id, {"duplicate_of": id_map[dup]}, expected_version=item["version"], who="import",
                         action="import")
    report.videos_ingested = resolver.ingested
    return report

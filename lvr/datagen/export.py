"""Export QA items as LongVideo-Reason rows: JSONL, or a Hugging Face `datasets` folder.

    from lvr.datagen.export import export_items, item_to_row
    n = export_items(ws, "out/sft.jsonl", split="sft")                 # `lvr export WS OUT --split sft`
    n = export_items(ws, "out/rl_hf", split="rl", fmt="hf")            # Dataset.save_to_disk

A row (validated against `schema_check.EXPORT_SCHEMA` before anything is written):

    problem_id     the item's id in the file it was imported from, else its qa id
    problem        the question, then one line per option ("A. …")
    data_type      "video"            problem_type  "multiple choice"
    options        ["A. …", "B. …", "C. …", "D. …"]
    reasoning      the "as if watching" reasoning
    videos         the video file (relative to `video_root` when given and inside it)
    answer         "<answer>B</answer>"
    + our columns: question, category, split, video_id, status, reasoning_raw, start, end, source,
      qa_id, difficulty, duplicate_of, reject_reason, meta (JSON text)

`lvr import` reads these rows back into an identical item (qa_id aside: it is the row id of the
workspace that exported it; the importer keeps the problem_id), so export → import → export
gives the same rows. The JSONL file is written to a temporary name and renamed at the end.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from lvr.datagen.schema_check import EXPORT_SCHEMA, validate
from lvr.store import LETTERS, Workspace

FORMATS = ("jsonl", "hf")
IMPORT_META = "import"   # meta key holding import provenance (file, row, problem_id, video)


def problem_text(question: str, options: list[str]) -> str:
    return question.strip() + "\n" + "\n".join(f"{letter}. {o}" for letter, o in zip(LETTERS, options))


def _video_field(ws: Workspace, item: dict, video_root: Path | None, cache: dict[str, str]) -> str:
    vid = item.get("video_id")
    if not vid:
        return str(((item.get("meta") or {}).get(IMPORT_META) or {}).get("video") or "")
    if vid not in cache:
        path = ws.video_path(vid).resolve()
        if video_root is not None:
            try:
                cache[vid] = str(path.relative_to(video_root))
            except ValueError:
                cache[vid] = str(path)
        else:
            cache[vid] = str(path)
    return cache[vid]


def item_to_row(ws: Workspace, item: dict, *, video_root: str | Path | None = None,
                _cache: dict[str, str] | None = None) -> dict:
    meta = dict(item.get("meta") or {})
    provenance = meta.pop(IMPORT_META, None) or {}
    root = Path(video_root).resolve() if video_root else None
    pid = provenance.get("problem_id")
    return {
        "problem_id": item["id"] if pid is None else pid,
        "problem": problem_text(item["question"], item["options"]),
        "data_type": "video",
        "problem_type": "multiple choice",
        "options": [f"{letter}. {o}" for letter, o in zip(LETTERS, item["options"])],
        "reasoning": item.get("reasoning") or "",
        "videos": _video_field(ws, item, root, {} if _cache is None else _cache),
        "answer": f"<answer>{item['answer']}</answer>",
        "question": item["question"],
        "category": item["category"],
        "split": item.get("split"),
        "video_id": item.get("video_id"),
        "status": item["status"],
        "reasoning_raw": item.get("reasoning_raw") or "",
        "start": item.get("start"),
        "end": item.get("end"),
        "source": item.get("source"),
        "qa_id": item["id"],
        "difficulty": item.get("difficulty"),
        "duplicate_of": item.get("duplicate_of"),
        "reject_reason": item.get("reject_reason"),
        "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True),
    }


def row_problems(row: dict) -> list[str]:
    """Schema errors plus the checks a schema cannot express (option order, answer letter)."""
    errs = validate(row, EXPORT_SCHEMA)
    if not errs:
        letters = [o[0] for o in row["options"]]
        if letters != list(LETTERS):
            errs.append(f"$.options: letters must be A, B, C, D in order, got {letters}")
        if not row["problem"].startswith(row["question"].strip()):
            errs.append("$.problem: does not start with the question")
    return errs


def select_items(ws: Workspace, *, split: str | None = None, statuses: Iterable[str] | None = None,
                 exclude_duplicates: bool = False, category: str | None = None, source: str | None = None):
    split_filter = None if split in (None, "all") else split
    return ws.iter_qa(split=split_filter, status=list(statuses) if statuses else None, category=category,
                      source=source, duplicate=False if exclude_duplicates else None)


def export_rows(ws: Workspace, *, video_root: str | Path | None = None, **selection: Any) -> list[dict]:
    cache: dict[str, str] = {}
    rows = []
    for n, item in enumerate(select_items(ws, **selection), 1):
        row = item_to_row(ws, item, video_root=video_root, _cache=cache)
        errs = row_problems(row)
        if errs:
            raise ValueError(f"QA item {item['id']} (row {n}) does not make a valid export row: " + "; ".join(errs[:5]))
        rows.append(row)
    return rows


def _hf_ready(rows: list[dict]) -> list[dict]:
    # Arrow wants one type per column: ids mixing numbers and text become text
    kinds = {type(r["problem_id"]) for r in rows}
    if len(kinds) > 1:
        rows = [{**r, "problem_id": str(r["problem_id"])} for r in rows]
    return rows


def export_items(ws: Workspace, out: str | Path, *, fmt: str = "jsonl", split: str | None = None,
                 statuses: Iterable[str] | None = None, exclude_duplicates: bool = False,
                 category: str | None = None, source: str | None = None,
                 video_root: str | Path | None = None) -> int:
    """Write the selected items to `out` (a .jsonl file, or a folder for fmt="hf"); returns the row count."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    rows = export_rows(ws, video_root=video_root, split=split, statuses=statuses,
                       exclude_duplicates=exclude_duplicates, category=category, source=source)
    out = Path(out)
    if fmt == "jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, out)
    else:
        from datasets import Dataset

        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out}: folder exists and is not empty; choose a new folder for the dataset")
        columns = list(EXPORT_SCHEMA["properties"])
        ready = _hf_ready(rows)
        ds = Dataset.from_dict({c: [r[c] for r in ready] for c in columns}) if ready else Dataset.from_dict(
            {c: [] for c in columns})
        ds.save_to_disk(str(out))
    return len(rows)

"""Import a LongVideo-Reason-eval-style benchmark for evaluation: lvr.eval's row adapter + lvr.datagen's importer.

    from lvr.recipe.benchmark import import_benchmark
    from lvr.datagen.release import load_category_map
    rep = import_benchmark(ws, "test.jsonl", "videos/", split="eval", source="longvideo-reason-eval",
                           category_map=load_category_map("categories.csv"))   # optional
    print(rep.format_text())      # counts, categories, key letters, warnings, missing videos, bad rows

Mirrored by `lvr eval import WS FILE VIDEOS [--categories F]`. Each row is put in the form the
general importer reads (`lvr.eval.benchmark.normalize_row`: categories, embedded options, answer
forms, videos found under `videos_dir`); rows whose problem_id is already stored under `source`
are skipped (their line is kept blank, so line numbers stay); the staged file goes through
`lvr.datagen.importer.import_file` (row checks, video ingest, provenance, idempotent); its report
becomes lvr.eval's `ImportReport` (key letters, the "always answer X" score, a skewed key).
The composition lives here because lvr.eval and lvr.datagen are peers that do not import each other.
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

from lvr.datagen.importer import ImportReport as RowImportReport
from lvr.datagen.importer import import_file, row_to_item
from lvr.eval.benchmark import ImportReport, VideoResolver, normalize_row
from lvr.eval.summary import best_constant, letter_counts
from lvr.store import ITEM_CATEGORIES
from lvr.store.answer_key import key_skew


def _stored_problem_ids(ws, source: str) -> set[str]:
    out = set()
    for r in ws.query("SELECT meta FROM qa WHERE source = ?", (source,)):
        meta = json.loads(r["meta"] or "{}")
        pid = (meta.get("import") or {}).get("problem_id", meta.get("problem_id"))
        if pid is not None:
            out.add(str(pid))
    return out


def _staged_lines(jsonl: Path, rep: ImportReport, present: set[str], resolver: VideoResolver,
                  category_map: dict[str, str] | None) -> tuple[list[str], list[str], Counter, dict[int, str]]:
    """The file's lines as the importer is to read them (rows normalised, a stored row blanked, a broken
    line as it is), and the answer keys, category counts and problem_ids (by line) of the rows."""
    out_lines, keys, cats, pids = [], [], Counter(), {}
    for no, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            out_lines.append(line)              # the importer reports it with its line number
            continue
        if not isinstance(row, dict):
            out_lines.append(line)
            continue
        pid = str(row.get("problem_id", row.get("id", f"line{no}")))
        pids[no] = pid
        if pid in present:                      # already in the store: keep the line number, skip the row
            rep.already_present += 1
            out_lines.append("")
            norm = normalize_row(row)
        else:
            norm = normalize_row(row, resolver)
            out_lines.append(json.dumps(norm, ensure_ascii=False))
        try:
            item = row_to_item(norm, category_map)
            keys.append(item["answer"])
            cats[item["category"]] += 1
        except ValueError:
            pass
    return out_lines, keys, cats, pids


def _fill_report(rep: ImportReport, res: RowImportReport, keys: list[str], cats: Counter,
                 pids: dict[int, str]) -> None:
    """The importer's report, by problem_id, plus the key and category checks of the file."""
    rep.rows = res.rows + rep.already_present
    rep.added = res.added
    rep.already_present += res.already_imported
    rep.qa_ids = list(res.qa_ids)
    rep.bad_rows = [(no, cause) for no, cause in res.errors]
    for no, why in res.missing_videos:
        target = rep.undecodable_videos if "unreadable" in why else rep.missing_videos
        target.append((pids.get(no, f"line{no}"), why))
    rep.categories = {c: cats.get(c, 0) for c in ITEM_CATEGORIES}
    rep.letters = letter_counts(keys)
    rep.best_constant = best_constant(keys)
    rep.key_skew = key_skew(keys)
    rep.uncategorised = [pids.get(no, f"line{no}") for no in res.uncategorised]
    rep.flagged = [(pids.get(no, f"line{no}"), why) for no, why in res.flagged]


def import_benchmark(ws, jsonl: str | Path, videos_dir: str | Path, *, split: str = "eval",
                     source: str = "longvideo-reason-eval", status: str = "approved", copy: bool = False,
                     category_map: dict[str, str] | None = None, progress=None) -> ImportReport:
    """Import a benchmark JSONL and its videos into `ws` through lvr.datagen's importer (see the module docstring)."""
    jsonl = Path(jsonl)
    if not jsonl.is_file():
        raise FileNotFoundError(f"benchmark file {jsonl} does not exist")
    if not Path(videos_dir).is_dir():
        raise FileNotFoundError(f"videos folder {videos_dir} does not exist")
    rep = ImportReport(source=source, file=str(jsonl))
    present = _stored_problem_ids(ws, source)
    out_lines, keys, cats, pids = _staged_lines(jsonl, rep, present, VideoResolver(videos_dir), category_map)
    with tempfile.TemporaryDirectory(prefix="lvr-bench-") as tmp:
        staged = Path(tmp) / jsonl.name
        staged.write_text("\n".join(out_lines) + "\n", encoding="utf-8")
        res = import_file(ws, staged, videos_dir=videos_dir, split=split, status=status, source=source, copy=copy,
                          category_map=category_map, progress=progress)
    _fill_report(rep, res, keys, cats, pids)
    return rep

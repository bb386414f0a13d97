"""Reasoning QA items: insert (bulk), read, review edits with revisions, queries and search.

Every change of an item goes through `update_qa`, which
  * refuses a stale write (`StaleEditError`) using optimistic concurrency on `qa.version`:
    the UPDATE only matches the version the editor loaded, inside an IMMEDIATE transaction;
  * writes a `qa_revisions` row (who, when, action, before, after, comment).
Review verdicts (`set_status`, `bulk_set_status`) follow the review rules of `check_verdict`
(a known status; a rejection gives a reason) and refuse anything else with `ReviewError`.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from .schema import ITEM_CATEGORIES, QA_STATUSES, SPLITS
from .values import dumps, now

LETTERS = ("A", "B", "C", "D")
EDITABLE = (
    "category", "question", "options", "answer", "reasoning", "reasoning_raw", "status", "split",
    "reject_reason", "difficulty", "duplicate_of", "meta", "start", "end", "source",
)
_JSON_FIELDS = ("options", "meta")


class StaleEditError(RuntimeError):
    """Raised when a QA item changed since the editor loaded it (someone else saved first)."""

    def __init__(self, qa_id: int, expected: int, actual: int | None, by: str | None = None, at: str | None = None):
        self.qa_id, self.expected, self.actual, self.by, self.at = qa_id, expected, actual, by, at
        if actual is None:
            msg = f"QA item {qa_id} no longer exists"
        else:
            who = f" by {by}" if by else ""
            when = f" at {at}" if at else ""
            msg = (f"QA item {qa_id} was changed{who}{when} (now version {actual}, you edited version "
                   f"{expected}); reload it and apply your change again — nothing was overwritten")
        super().__init__(msg)


class ReviewError(ValueError):
    """A review verdict the rules refuse (an unknown status, a rejection without a reason); nothing is written."""


REJECT_NEEDS_REASON = "give a reason for rejecting"


def check_verdict(status: str, reason: str | None) -> None:
    """The review rules: `status` is one of QA_STATUSES, and rejecting needs a (non-blank) reason."""
    if status not in QA_STATUSES:
        raise ReviewError(f"status {status!r} is not one of {', '.join(QA_STATUSES)}")
    if status == "rejected" and not (reason or "").strip():
        raise ReviewError(REJECT_NEEDS_REASON)


QUESTION_MAX_CHARS, OPTION_MAX_CHARS = 4000, 1000     # a paragraph of question, a sentence or two per option


def text_length_problem(question: str, options) -> str | None:
    """Why a question or an option is too long to ask or store (every model reads them, so the cost grows with
    them: the prompt, and each option scored after the reasoning), or None."""
    if len(question) > QUESTION_MAX_CHARS:
        return f"question is {len(question):,} characters (at most {QUESTION_MAX_CHARS:,})"
    for letter, opt in zip(LETTERS, options):
        if isinstance(opt, str) and len(opt) > OPTION_MAX_CHARS:
            return f"option {letter} is {len(opt):,} characters (at most {OPTION_MAX_CHARS:,})"
    return None


def validate_qa(item: dict, where: str = "item") -> None:
    """Check one QA item's fields; raise ValueError naming `where` and the problem."""
    def bad(msg: str) -> None:
        raise ValueError(f"{where}: {msg}")

    if item.get("category") not in ITEM_CATEGORIES:
        bad(f"category {item.get('category')!r} is not one of {', '.join(ITEM_CATEGORIES)}")
    if not str(item.get("question") or "").strip():
        bad("question is empty")
    opts = item.get("options")
    if not isinstance(opts, (list, tuple)) or len(opts) != 4 or not all(isinstance(o, str) and o.strip() for o in opts):
        bad(f"options must be a list of 4 non-empty strings, got {opts!r}")
    too_long = text_length_problem(str(item.get("question")), opts)
    if too_long:
        bad(too_long)
    if item.get("answer") not in LETTERS:
        bad(f"answer {item.get('answer')!r} is not a letter A-D")
    if item.get("status", "pending") not in QA_STATUSES:
        bad(f"status {item.get('status')!r} is not one of {', '.join(QA_STATUSES)}")
    if item.get("split") not in (None, *SPLITS):
        bad(f"split {item.get('split')!r} is not one of {', '.join(SPLITS)} or empty")


def decode_qa(row: dict) -> dict:
    for k in _JSON_FIELDS:
        if isinstance(row.get(k), str):
            row[k] = json.loads(row[k])
    return row


class QAMixin:
    # ------------------------------------------------------------------ insert
    def _qa_row(self, item: dict, ts: str, who: str) -> dict:
        return {
            "video_id": item.get("video_id"), "category": item["category"], "question": item["question"].strip(),
            "options": dumps(list(item["options"])), "answer": item["answer"],
            "reasoning": item.get("reasoning") or "", "reasoning_raw": item.get("reasoning_raw") or "",
            "status": item.get("status", "pending"), "source": item.get("source"), "split": item.get("split"),
            "start": item.get("start"), "end": item.get("end"), "difficulty": item.get("difficulty"),
            "duplicate_of": item.get("duplicate_of"), "reject_reason": item.get("reject_reason"),
            "meta": dumps(item.get("meta") or {}), "version": 1, "created_at": ts, "updated_at": ts,
            "updated_by": who,
        }

    def add_qa(self, item: dict, who: str = "system") -> int:
        validate_qa(item)
        row = self._qa_row(item, now(), who)
        cols = ", ".join(f'"{k}"' for k in row)
        with self.transaction():
            cur = self.conn.execute(f"INSERT INTO qa ({cols}) VALUES ({', '.join('?' * len(row))})",
                                    tuple(row.values()))
        return cur.lastrowid

    def add_qa_many(self, items: Iterable[dict], who: str = "system", batch_size: int = 10_000) -> int:
        """Insert many items in one transaction per batch (100k rows take a few seconds).

        All rows are validated first; one bad row raises before anything is written.
        """
        ts = now()
        rows = []
        for i, item in enumerate(items):
            validate_qa(item, where=f"item {i}")
            rows.append(self._qa_row(item, ts, who))
        if not rows:
            return 0
        cols = list(rows[0])
        sql = f"INSERT INTO qa ({', '.join(chr(34) + c + chr(34) for c in cols)}) VALUES ({', '.join('?' * len(cols))})"
        with self.transaction():
            for s in range(0, len(rows), batch_size):
                self.conn.executemany(sql, [tuple(r[c] for c in cols) for r in rows[s:s + batch_size]])
        return len(rows)

    # ------------------------------------------------------------------ read
    def get_qa(self, qa_id: int) -> dict:
        rows = self.query("SELECT * FROM qa WHERE id = ?", (qa_id,))
        if not rows:
            raise KeyError(f"no QA item {qa_id}")
        return decode_qa(rows[0])

    def _qa_where(self, status=None, category=None, video_id=None, source=None, split=None, text=None,
                  duplicate: bool | None = None, ids: Iterable[int] | None = None) -> tuple[str, list]:
        where, params = [], []
        for col, val in (("status", status), ("category", category), ("video_id", video_id),
                         ("source", source), ("split", split)):
            if val is None or val == "" or val == []:
                continue
            if isinstance(val, (list, tuple, set)):
                where.append(f"q.{col} IN ({', '.join('?' * len(val))})")
                params += list(val)
            else:
                where.append(f"q.{col} = ?")
                params.append(val)
        if duplicate is True:
            where.append("q.duplicate_of IS NOT NULL")
        elif duplicate is False:
            where.append("q.duplicate_of IS NULL")
        if ids is not None:
            ids = list(ids)
            where.append(f"q.id IN ({', '.join('?' * len(ids)) or 'NULL'})")
            params += ids
        if text:
            where.append("q.id IN (SELECT rowid FROM qa_fts WHERE qa_fts MATCH ?)")
            params.append(self.db.quote_fts(text))
        return ("WHERE " + " AND ".join(where)) if where else "", params

    def query_qa(self, status=None, category=None, video_id=None, source=None, split=None, text=None,
                 duplicate: bool | None = None, page: int = 1, page_size: int = 50,
                 order: str = "id") -> tuple[list[dict], int]:
        """One page of QA items matching every given filter, and the total count.

        A filter may be a value or a list of values; `text` is a full-text query over question,
        options and reasoning (any words, porter-stemmed).
        """
        if order not in ("id", "-id", "updated_at", "-updated_at", "video"):
            raise ValueError(f"order {order!r} not supported")
        order_sql = {"id": "q.id", "-id": "q.id DESC", "updated_at": "q.updated_at",
                     "-updated_at": "q.updated_at DESC", "video": "q.video_id, q.start, q.id"}[order]
        where, params = self._qa_where(status, category, video_id, source, split, text, duplicate)
        total = self.scalar(f"SELECT count(*) FROM qa q {where}", tuple(params))
        page = max(1, int(page))
        rows = self.query(f"SELECT q.* FROM qa q {where} ORDER BY {order_sql} LIMIT ? OFFSET ?",
                          (*params, int(page_size), (page - 1) * int(page_size)))
        return [decode_qa(r) for r in rows], total

    def qa_ids(self, **filters: Any) -> list[int]:
        where, params = self._qa_where(**filters)
        return [r["id"] for r in self.query(f"SELECT q.id FROM qa q {where} ORDER BY q.id", tuple(params))]

    def iter_qa(self, batch: int = 1000, **filters: Any):
        """All items matching the filters, in id order, without loading them all at once."""
        where, params = self._qa_where(**filters)
        last = 0
        while True:
            cond = f"{where} AND q.id > ?" if where else "WHERE q.id > ?"
            rows = self.query(f"SELECT q.* FROM qa q {cond} ORDER BY q.id LIMIT ?", (*params, last, batch))
            if not rows:
                return
            for r in rows:
                yield decode_qa(r)
            last = rows[-1]["id"]

    # ------------------------------------------------------------------ edit
    def update_qa(self, qa_id: int, changes: dict, *, expected_version: int, who: str,
                  action: str = "edit", comment: str | None = None) -> dict:
        """Apply `changes` if the item is still at `expected_version`; returns the new item.

        Raises StaleEditError (nothing written) when someone else saved first, ValueError on
        an invalid change. Writes one revision row holding the changed fields before/after.
        """
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ValueError(f"QA item {qa_id}: fields {sorted(unknown)} cannot be edited")
        with self.transaction():
            row = self.conn.execute("SELECT * FROM qa WHERE id = ?", (qa_id,)).fetchone()
            if row is None:
                raise StaleEditError(qa_id, expected_version, None)
            current = decode_qa(dict(row))
            if current["version"] != expected_version:
                raise StaleEditError(qa_id, expected_version, current["version"], current["updated_by"],
                                     current["updated_at"])
            merged = {**current, **changes}
            validate_qa(merged, where=f"QA item {qa_id}")
            diff = {k: v for k, v in changes.items() if current.get(k) != v}
            before = {k: current.get(k) for k in diff}
            ts, version = now(), current["version"] + 1
            stored = {k: dumps(v) if k in _JSON_FIELDS else v for k, v in diff.items()}
            stored.update(version=version, updated_at=ts, updated_by=who)
            sets = ", ".join(f'"{k}" = ?' for k in stored)
            cur = self.conn.execute(f"UPDATE qa SET {sets} WHERE id = ? AND version = ?",
                                    (*stored.values(), qa_id, expected_version))
            if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE, kept as a guard
                raise StaleEditError(qa_id, expected_version, None)
            self.conn.execute(
                "INSERT INTO qa_revisions (qa_id, version, who, at, action, before, after, comment)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (qa_id, version, who, ts, action, dumps(before), dumps(diff), comment),
            )
        return {**current, **diff, "version": version, "updated_at": ts, "updated_by": who}

    def set_status(self, qa_id: int, status: str, *, expected_version: int, who: str,
                   reason: str | None = None, edits: dict | None = None) -> dict:
        """Approve / reject (with reason) / draft an item, with `edits` of its fields if given; one revision
        records the action. Raises ReviewError (nothing written) when `check_verdict` refuses the verdict."""
        check_verdict(status, reason)
        changes: dict[str, Any] = {**(edits or {}), "status": status}
        if status == "rejected":
            changes["reject_reason"] = reason
        return self.update_qa(qa_id, changes, expected_version=expected_version, who=who,
                              action=status, comment=reason)

    def bulk_set_status(self, status: str, *, who: str, reason: str | None = None, where_status=None,
                        **filters: Any) -> int:
        """Set the status of every item matching `filters` (one revision each). Returns the count.
        `where_status` (a status or a list) selects by the items' current status, e.g. approve every
        pending item of a video: `bulk_set_status("approved", who=…, where_status="pending", video_id=…)`.
        Raises ReviewError (nothing written) when `check_verdict` refuses the verdict, even if nothing matches."""
        check_verdict(status, reason)
        current = [where_status] if isinstance(where_status, str) else list(where_status or [])
        bad = [s for s in current if s not in QA_STATUSES]
        if bad:
            raise ValueError(f"where_status {bad} not among {', '.join(QA_STATUSES)}")
        n = 0
        with self.transaction():
            for qa_id in self.qa_ids(status=current or None, **filters):
                item = self.get_qa(qa_id)
                if item["status"] != status:
                    self.set_status(qa_id, status, expected_version=item["version"], who=who, reason=reason)
                    n += 1
        return n

    def delete_qa(self, qa_id: int, *, who: str) -> None:
        with self.transaction():
            item = self.get_qa(qa_id)
            self.conn.execute("DELETE FROM qa WHERE id = ?", (qa_id,))
            self.conn.execute(
                "INSERT INTO qa_revisions (qa_id, version, who, at, action, before, after) VALUES (?,?,?,?,?,?,?)",
                (qa_id, item["version"] + 1, who, now(), "delete", dumps(item), "{}"),
            )

    # ------------------------------------------------------------------ history & review stats
    def revisions(self, qa_id: int) -> list[dict]:
        rows = self.query("SELECT * FROM qa_revisions WHERE qa_id = ? ORDER BY id", (qa_id,))
        for r in rows:
            r["before"] = json.loads(r["before"] or "{}")
            r["after"] = json.loads(r["after"] or "{}")
        return rows

    def review_progress(self) -> dict:
        """Counts by status, and review actions per annotator (approve/reject/draft/edit)."""
        by_status = {s: 0 for s in QA_STATUSES}
        for r in self.query("SELECT status, count(*) AS n FROM qa GROUP BY status"):
            by_status[r["status"]] = r["n"]
        per_user: dict[str, dict[str, int]] = {}
        for r in self.query("SELECT who, action, count(*) AS n FROM qa_revisions GROUP BY who, action"):
            per_user.setdefault(r["who"], {})[r["action"]] = r["n"]
        return {"by_status": by_status, "per_annotator": per_user}

    def agreement(self) -> dict:
        """Inter-annotator agreement on items that two or more people approved/rejected.

        Uses each annotator's last verdict per item; reports the pairwise raw agreement and
        Cohen's kappa over the items both annotators of a pair reviewed.
        """
        verdicts: dict[int, dict[str, str]] = {}
        for r in self.query("SELECT qa_id, who, action FROM qa_revisions WHERE action IN ('approved','rejected') "
                            "ORDER BY id"):
            verdicts.setdefault(r["qa_id"], {})[r["who"]] = r["action"]
        multi = {q: v for q, v in verdicts.items() if len(v) >= 2}
        pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for v in multi.values():
            users = sorted(v)
            for i in range(len(users)):
                for j in range(i + 1, len(users)):
                    pairs.setdefault((users[i], users[j]), []).append((v[users[i]], v[users[j]]))
        out = []
        for (a, b), labels in sorted(pairs.items()):
            n = len(labels)
            po = sum(x == y for x, y in labels) / n
            pa = sum(x == "approved" for x, _ in labels) / n
            pb = sum(y == "approved" for _, y in labels) / n
            pe = pa * pb + (1 - pa) * (1 - pb)
            kappa = 1.0 if pe >= 1.0 else (po - pe) / (1 - pe)
            out.append({"a": a, "b": b, "items": n, "agreement": po, "kappa": kappa})
        return {"items_reviewed_twice": len(multi), "pairs": out}

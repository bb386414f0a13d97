"""Review tab handlers (plain functions of the workspace): the queue, one item, verdicts, bulk, progress.

    flt = QueueFilter(status=["pending", "draft"], category="temporal", text="kitchen")
    frame, summary = queue_frame(ws, flt)
    view = item_view(ws, next_id(ws, flt, current=None))
    out = apply_verdict(ws, view["id"], view["version"], edits, who="alice", status="approved")
    if not out.ok: print(out.message)        # someone else saved first: nothing was overwritten

Verdicts go through `Workspace.set_status` with the reviewer's edits and the version they loaded
(optimistic concurrency), so a stale save is refused with `StaleEditError`'s text instead of
overwriting. A request the review rules refuse raises `lvr.store.ReviewError` (a ValueError; the
store's own rules, e.g. a rejection needs a reason, and these handlers' checks of the form alike);
the Gradio wiring in `review_tab.py` shows it as `gr.Error`, same text.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from lvr.store import ITEM_CATEGORIES, LETTERS, QA_STATUSES, ReviewError, StaleEditError, Workspace, check_verdict
from lvr.video.timefmt import fmt_time_tenths as mmss  # mm:ss.s, None → "—"

from .diffs import revisions_html
from .serving import served_video
from .subtitles import write_captions_vtt

ANY = "any"
DUPLICATE_CHOICES = ["any", "hide duplicates", "duplicates only"]
# the queue shows what fits beside the item at 1440 px; the item's header has the rest (range, author, version)
QUEUE_COLUMNS = ["id", "status", "category", "question", "video"]
DEFAULT_QUEUE = ["pending", "draft"]
ANNOTATOR_ACTIONS = ["approved", "rejected", "draft", "edit", "pending"]
ANNOTATOR_COLUMNS = ["annotator", *ANNOTATOR_ACTIONS, "total actions"]
AGREEMENT_COLUMNS = ["annotator A", "annotator B", "items both judged", "agreement %", "Cohen's κ"]
PAGE_SIZE = 50


def _blank(v) -> bool:
    return v is None or v == "" or v == ANY or v == []


@dataclass
class QueueFilter:
    """Which items the queue holds; every field optional ("any")."""

    status: list[str] = field(default_factory=lambda: list(DEFAULT_QUEUE))
    category: str | None = None
    video_id: str | None = None
    source: str | None = None
    duplicate: str = "any"
    text: str | None = None

    def __post_init__(self) -> None:
        st = [self.status] if isinstance(self.status, str) else list(self.status or [])
        bad = [s for s in st if s not in QA_STATUSES]
        if bad:
            raise ReviewError(f"status filter {bad} is not one of {', '.join(QA_STATUSES)}")
        self.status = st
        if not _blank(self.category) and self.category not in ITEM_CATEGORIES:
            raise ReviewError(f"category filter {self.category!r} is not one of {', '.join(ITEM_CATEGORIES)}")
        if self.duplicate not in DUPLICATE_CHOICES:
            raise ReviewError(f"duplicate filter {self.duplicate!r} is not one of {', '.join(DUPLICATE_CHOICES)}")

    def kwargs(self) -> dict:
        """Keyword filters of `Workspace.query_qa` / `qa_ids` / `bulk_set_status`."""
        return dict(status=self.status or None, category=None if _blank(self.category) else self.category,
                    video_id=None if _blank(self.video_id) else self.video_id,
                    source=None if _blank(self.source) else self.source,
                    text=(self.text or "").strip() or None,
                    duplicate={"any": None, "hide duplicates": False, "duplicates only": True}[self.duplicate])

    def describe(self) -> str:
        kw = self.kwargs()
        parts = [f"{k.replace('_id', '')}={'/'.join(v) if isinstance(v, list) else v}" for k, v in kw.items()
                 if v is not None and k != "duplicate"]
        if kw["duplicate"] is not None:
            parts.append(self.duplicate)
        return ", ".join(parts) or "all items"


# ---------------------------------------------------------------------- queue
def filter_choices(ws: Workspace) -> dict:
    """Choices of the video and source filters (from what the workspace holds)."""
    videos = [(f"{v['filename']} ({v['id'][:8]})", v["id"]) for v in ws.list_videos()]
    sources = [r["source"] for r in ws.query("SELECT DISTINCT source FROM qa WHERE source IS NOT NULL ORDER BY 1")]
    return {"videos": [("any", ANY), *videos], "sources": [ANY, *sources]}


def queue_frame(ws: Workspace, flt: QueueFilter, page: int = 1) -> tuple[pd.DataFrame, str]:
    """One page of the queue and a one-line summary (how many match, which page). A page past the end
    shows the last page and says so."""
    try:
        asked = int(page) if page not in (None, "") else 1
    except (TypeError, ValueError):
        raise ReviewError(f"page: a whole number from 1, got {page!r}") from None
    if asked < 1:
        raise ReviewError(f"page: a whole number from 1, got {asked}")
    _, total = ws.query_qa(**flt.kwargs(), page=1, page_size=1)
    pages = max(1, -(-total // PAGE_SIZE))
    shown = min(asked, pages)
    items, total = ws.query_qa(**flt.kwargs(), page=shown, page_size=PAGE_SIZE)
    rows = [[q["id"], q["status"], q["category"], q["question"][:90], (q["video_id"] or "")[:8]] for q in items]
    summary = f"**{total}** item(s) match ({flt.describe()}) · page {shown}/{pages}"
    if asked > pages:
        summary += f" · ⚠ page {asked} is past the end: showing the last page, {pages}"
    if not total:
        summary += " · nothing to review with these filters: change them (e.g. add the draft status)"
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS), summary


def next_id(ws: Workspace, flt: QueueFilter, current: int | None, step: int = 1) -> int | None:
    """The queue's next (step=1) or previous (step=-1) item id after `current` (None: the first)."""
    ids = ws.qa_ids(**flt.kwargs())
    if not ids:
        return None
    if current is None:
        return ids[0] if step > 0 else ids[-1]
    cur = int(current)
    after = [i for i in ids if (i > cur if step > 0 else i < cur)]
    if not after:
        return None
    return after[0] if step > 0 else after[-1]


# ---------------------------------------------------------------------- one item
def _get(ws: Workspace, qa_id) -> dict:
    if qa_id is None or qa_id == "":
        raise ReviewError("no item loaded: pick one in the queue")
    try:
        return ws.get_qa(int(qa_id))
    except KeyError as e:
        raise ReviewError(str(e).strip("'\"")) from e


def context_md(ws: Workspace, qa: dict) -> str:
    """The captions of the clips the item's range covers (what the question was generated from)."""
    if not qa.get("video_id"):
        return ""
    start = qa["start"] if qa.get("start") is not None else 0.0
    end = qa["end"] if qa.get("end") is not None else float("inf")
    lines = [f"- `{mmss(c['start'])}–{mmss(c['end'])}` {html.escape(c['caption'] or '(no caption)')}"
             for c in ws.clips(qa["video_id"]) if c["end"] > start and c["start"] < end]
    return "**Captions in range**\n\n" + ("\n".join(lines) if lines else "_no clips in this range_")


def item_view(ws: Workspace, qa_id) -> dict:
    """Everything the review form shows for one item."""
    qa = _get(ws, qa_id)
    rng = (f"{mmss(qa['start'])}–{mmss(qa['end'])}" if qa.get("start") is not None else "whole video")
    badges = [f"**#{qa['id']}**", f"status **{qa['status']}**", qa["category"], f"range {rng}",
              f"video `{qa['video_id'] or '—'}`", f"source {qa['source'] or '—'}", f"split {qa['split'] or '—'}",
              f"v{qa['version']} by {qa['updated_by'] or '—'} at {(qa['updated_at'] or '')[:19].replace('T', ' ')}"]
    if qa.get("duplicate_of"):
        badges.append(f"⚠ near-duplicate of #{qa['duplicate_of']}")
    if qa.get("difficulty") is not None:
        badges.append(f"difficulty {qa['difficulty']}")
    header = " · ".join(badges)
    if qa["status"] == "rejected" and qa.get("reject_reason"):
        header += f"\n\n> rejected because: {qa['reject_reason']}"
    for flag in ((qa.get("meta") or {}).get("import") or {}).get("flags") or []:
        header += f"\n\n> ⚠ flagged at import: {html.escape(str(flag))}"
    video = subtitles = None
    if qa.get("video_id"):
        try:
            path = served_video(ws, qa["video_id"])
        except KeyError:
            path = None
        if path is not None and path.exists():
            video, subtitles = str(path), str(write_captions_vtt(ws, qa["video_id"]))
    opts = list(qa["options"]) + [""] * (4 - len(qa["options"]))
    return {"id": qa["id"], "version": qa["version"], "header": header, "video": video, "subtitles": subtitles,
            "start": float(qa["start"] or 0.0), "context": context_md(ws, qa), "category": qa["category"],
            "question": qa["question"], "options": opts[:4], "answer": qa["answer"], "reasoning": qa["reasoning"],
            "reject_reason": qa.get("reject_reason") or "", "status": qa["status"],
            "history": revisions_html(ws.revisions(qa["id"]))}


def blank_view(message: str = "") -> dict:
    """The form with no item (an empty queue): every field cleared, the header saying why."""
    return {"id": None, "version": None, "header": message, "video": None, "subtitles": None, "start": 0.0,
            "context": "", "category": None, "question": "", "options": ["", "", "", ""], "answer": None,
            "reasoning": "", "reject_reason": "", "status": None, "history": ""}


def edits_from_form(category: str, question: str, a: str, b: str, c: str, d: str, answer: str,
                    reasoning: str) -> dict:
    """The editable fields as `update_qa` changes (strings stripped)."""
    return {"category": category, "question": (question or "").strip(),
            "options": [(o or "").strip() for o in (a, b, c, d)], "answer": answer,
            "reasoning": (reasoning or "").strip()}


@dataclass
class Outcome:
    ok: bool
    message: str
    conflict: bool = False
    item: dict | None = None


VERDICT_WORD = {"approved": "approved", "rejected": "rejected", "draft": "saved as draft",
                "pending": "reset to pending"}


def apply_verdict(ws: Workspace, qa_id, version, edits: dict, *, who: str, status: str,
                  reason: str | None = None) -> Outcome:
    """Save `edits` and set `status` in one revision (`Workspace.set_status`), if the item is still at `version`.

    A stale version gives Outcome(ok=False, conflict=True) with StaleEditError's message
    (who saved first, when); nothing is written. A verdict the review rules refuse, no item or no
    answer raise ReviewError; invalid edits raise the store's ValueError naming the field.
    """
    check_verdict(status, reason)        # the store's rules come first, before the form's own checks
    if not qa_id or version is None or version == "":
        raise ReviewError("no item loaded: pick one in the queue")
    if edits.get("answer") not in LETTERS:
        raise ReviewError(f"pick the correct answer (A–D), got {edits.get('answer')!r}")
    try:
        item = ws.set_status(int(qa_id), status, expected_version=int(version), who=who,
                             reason=(reason or "").strip() or None, edits=edits)
    except StaleEditError as e:
        return Outcome(False, str(e), conflict=True)
    return Outcome(True, f"#{item['id']} {VERDICT_WORD[status]} by {who} (now v{item['version']})", item=item)


# ---------------------------------------------------------------------- bulk, progress, agreement
def bulk_status(ws: Workspace, flt: QueueFilter, status: str, *, who: str, reason: str | None = None,
                confirm: bool = False) -> str:
    """Set `status` on every item the filters match (one revision each); needs `confirm`. The store
    refuses a verdict its review rules do not allow (ReviewError), even when nothing matches."""
    if status not in QA_STATUSES:
        raise ReviewError(f"bulk status must be one of {', '.join(QA_STATUSES)}, got {status!r}")
    ids = ws.qa_ids(**flt.kwargs())
    n = len(ids)
    if not confirm:
        raise ReviewError(f"tick 'I mean every matching item' first: this changes {n} item(s) ({flt.describe()})")
    # by ids: exactly the items counted above
    changed = ws.bulk_set_status(status, who=who, reason=(reason or "").strip() or None, ids=ids)
    return f"{changed} of {n} matching item(s) {VERDICT_WORD[status]} by {who} ({flt.describe()})"


def progress_view(ws: Workspace) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(counts by status, per-annotator actions, pairwise agreement) for the progress panel."""
    prog = ws.review_progress()
    by = prog["by_status"]
    total = sum(by.values())
    done = by.get("approved", 0) + by.get("rejected", 0)
    pct = f"{100 * done / total:.0f} %" if total else "—"
    md = (f"**{done}/{total} reviewed ({pct})** · " +
          " · ".join(f"{s}: **{by.get(s, 0)}**" for s in QA_STATUSES))
    actions = ANNOTATOR_ACTIONS
    rows = [[who, *(acts.get(a, 0) for a in actions), sum(acts.values())]
            for who, acts in sorted(prog["per_annotator"].items())]
    annot = pd.DataFrame(rows, columns=ANNOTATOR_COLUMNS)
    agr = ws.agreement()
    arows = [[p["a"], p["b"], p["items"], round(100 * p["agreement"], 1), round(p["kappa"], 3)] for p in agr["pairs"]]
    agreement = pd.DataFrame(arows, columns=AGREEMENT_COLUMNS)
    md += f"\n\n{agr['items_reviewed_twice']} item(s) judged by two or more annotators"
    return md, annot, agreement

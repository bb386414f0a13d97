"""Evaluate tab handlers (plain functions of the workspace): launch and watch eval jobs, read runs, browse items.

    job_id, md = launch_eval(ws, "ref:random", "eval", "8,16", 0)   # `python -m lvr.eval run …` as a job
    md, log_tail, finished = job_status(ws, job_id)
    figure = bars_figure(ws, ["eval-a"]); figure, table = comparison(ws, ["eval-a", "eval-b"])
    rows = item_rows(ws, ["eval-a", "eval-b"], "all", "flipped")   # ✓/✗ and the letter per run
    md, video, side = item_detail(ws, qa_id, ["eval-a", "eval-b"])

Everything is computed by `lvr.eval` (the same figures as the notebooks and runs/<id>/*.html) and
evaluations run as `lvr.jobs` subprocesses, never in the UI process. The Gradio wiring is in
`eval_tab.py`.
"""
from __future__ import annotations

import gradio as gr
import pandas as pd

from lvr.eval import compare_runs, sweep_curve
from lvr.eval.plots import GROUPS, category_bars, comparison_chart, frames_curve, run_label
from lvr.eval.reference import REFERENCE_NAMES
from lvr.eval.report import format_sweep
from lvr.jobs import cancel, launch, read_log, refresh
from workbench.model_pool import registered_checkpoint
from workbench.serving import served_video, visitor_error, without_server_folders
from workbench.train import trained_frames

REF_PREFIX = "ref:"
SPLITS = ["eval", "sft", "rl", "(any)"]
FLIPS = ["all", "flipped", "right→wrong", "wrong→right"]
RUN_COLUMNS = ["run", "status", "answerer", "checkpoint", "frames", "split", "n", "overall % [95 % CI]",
               "sweep", "created"]
ITEM_COLUMNS = ["qa_id", "category", "question", "video range", "key"]
CMP_COLUMNS = ["run", "group", "n", "base %", "run %", "Δ points", "CI low", "CI high", "right→wrong",
               "wrong→right", "McNemar p"]
FINISHED = ("succeeded", "partial", "failed", "cancelled", "dead")


# ---------------------------------------------------------------------- launch and watch
def answerer_choices(ws) -> list[tuple[str, str]]:
    refs = [(f"reference: {n}", REF_PREFIX + n) for n in REFERENCE_NAMES]
    return [(f"{c['id']} ({c['stage']})", c["id"]) for c in ws.list_checkpoints()] + refs


def frames_for(ws, answerer: str | None):
    """Frames textbox update when an answerer is picked: the checkpoint's training frame count, if known."""
    n = trained_frames(ws, answerer) if answerer and not answerer.startswith(REF_PREFIX) else None
    return gr.skip() if n is None else str(n)


def parse_frames(text: str | None) -> list[int]:
    """'' → [], '16' → [16], '8, 16,32' → [8, 16, 32]; anything else is a gr.Error naming the input."""
    parts = [p for p in (text or "").replace(" ", "").split(",") if p]
    try:
        counts = [int(p) for p in parts]
    except ValueError:
        raise gr.Error(f"frames: expected a count or a comma-separated list like 8,16,32, got {text!r}") from None
    if any(c < 1 for c in counts):
        raise gr.Error(f"frames must be >= 1, got {text!r}")
    return counts


def launch_eval(ws, answerer: str | None, split: str, frames: str, limit: float | None,
                shuffled: bool = False) -> tuple[str, str]:
    """Start `python -m lvr.eval run …` as a job; returns (job id, status text). `shuffled`: the
    no-video control (each item is shown another video's frames, `--videos shuffled`)."""
    if not answerer:
        raise gr.Error("pick a checkpoint or a reference answerer")
    counts = parse_frames(frames)
    try:
        limit = int(limit) if limit not in (None, "") else 0
    except (TypeError, ValueError):
        raise gr.Error(f"limit (first N items, 0 = all): a whole number, got {limit!r}") from None
    if limit < 0:
        raise gr.Error(f"limit (first N items, 0 = all) must be 0 or more, got {limit}")
    args = ["-m", "lvr.eval", "run", str(ws.root), "--split", "" if split == "(any)" else split]
    note = ""
    if answerer.startswith(REF_PREFIX):
        args += ["--answerer", answerer[len(REF_PREFIX):]]
        note = " (frames ignored: reference answerers do not watch the video)" if counts else ""
    else:
        found = registered_checkpoint(ws, answerer)     # an id, latest:sft, or a registered folder
        if found is None:
            raise gr.Error(f"checkpoint or reference answerer: no checkpoint {answerer!r} in this workspace "
                           "(refresh the list)")
        answerer = found
        args += ["--checkpoint", answerer]
        if counts:
            args += ["--frames", ",".join(map(str, counts))]
        if shuffled:
            args += ["--videos", "shuffled"]
    if shuffled and answerer.startswith(REF_PREFIX):
        note += " (another video's frames: reference answerers do not watch the video anyway)"
    if limit:
        args += ["--limit", str(int(limit))]
    config = {"answerer": answerer, "split": split, "frames": counts, "limit": int(limit) if limit else None,
              "videos": "shuffled" if shuffled else "own"}
    job_id = launch(ws, "eval", args, config=config)
    kind = "sweep" if len(counts) > 1 and not answerer.startswith(REF_PREFIX) else "run"
    return job_id, f"launched {kind} job `{job_id}`{note}"


def job_status(ws, job_id: str | None) -> tuple[str, str, bool]:
    """(status markdown, log tail, finished) of an eval job; its runs are listed once they exist."""
    if not job_id:
        return "no job", "", True
    try:
        job = refresh(ws, job_id.strip())
    except KeyError as e:
        raise visitor_error(ws, e) from None
    md = f"job `{job['id']}` **{job['status']}**"
    if job["total"]:
        md += f" — {job['message'] or ''} {int(job['progress'] or 0)}/{int(job['total'])} items " \
              f"({100 * (job['progress'] or 0) / job['total']:.0f} %)"
    runs = [r["id"] for r in ws.list_eval_runs() if r["job_id"] == job["id"]]
    if runs:
        md += "\n\nruns: " + ", ".join(f"`{r}`" for r in runs)
    if job["error"]:
        md += f"\n\n```\n{job['error']}\n```"
    return (without_server_folders(ws, md), without_server_folders(ws, read_log(ws, job["id"], lines=15)),
            job["status"] in FINISHED)


def cancel_eval(ws, job_id: str | None) -> None:
    """Cancel an eval job (a gr.Error when there is none)."""
    if not job_id:
        raise gr.Error("no job to cancel")
    cancel(ws, job_id.strip())


# ---------------------------------------------------------------------- runs, bars, sweeps, comparisons
def _acc(block: dict | None) -> str:
    if not block or block.get("acc") is None:
        return "—"
    return f"{100 * block['acc']:.1f} [{100 * block['lo']:.1f}, {100 * block['hi']:.1f}]"


def runs_frame(ws) -> pd.DataFrame:
    rows = []
    for r in reversed(ws.list_eval_runs()):
        o = (r.get("summary") or {}).get("overall")
        sweep = (r.get("config") or {}).get("sweep") or ""
        rows.append([r["id"], r["status"] or "", r["answerer"] or "", r["checkpoint"] or "",
                     r["frames"] or "", r["split"] or "", (o or {}).get("n", ""), _acc(o), sweep,
                     r["created_at"]])
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def sweep_ids(ws) -> list[str]:
    ids = {(r.get("config") or {}).get("sweep") for r in ws.list_eval_runs()}
    return sorted((s for s in ids if s), reverse=True)


def _finished_runs(ws, run_ids: list[str] | None, at_least: int = 1) -> list[dict]:
    if not run_ids or len(run_ids) < at_least:
        raise gr.Error(f"select at least {at_least} run{'s' if at_least > 1 else ''}")
    runs = []
    for rid in run_ids:
        try:
            r = ws.get_eval_run(rid)
        except KeyError:
            raise gr.Error(f"no eval run {rid!r} in this workspace") from None
        if "overall" not in (r.get("summary") or {}):
            raise gr.Error(f"run {rid} has no summary yet (status {r['status']})")
        runs.append(r)
    return runs


def bars_figure(ws, run_ids: list[str] | None):
    """lvr.eval.plots.category_bars of the selected runs (one run: with its reference answerers)."""
    runs = _finished_runs(ws, run_ids)
    refs = runs[0]["summary"].get("references") if len(runs) == 1 else None
    return category_bars([(f"{run_label(r)} · {r['id']}", r["summary"]) for r in runs], references=refs)


def comparison(ws, run_ids: list[str] | None):
    """(delta figure, table) of lvr.eval.compare_runs: the first selected run is the baseline."""
    _finished_runs(ws, run_ids, at_least=2)
    cmp = compare_runs(ws, list(run_ids))
    pct = lambda x: None if x is None else round(100 * x, 1)  # noqa: E731
    rows = [[pair["run"], g, d["n"], pct(d["base_acc"]), pct(d["acc"]), pct(d["delta"]), pct(d["lo"]),
             pct(d["hi"]), d["b"], d["c"], None if d["p"] is None else float(f"{d['p']:.4g}")]
            for pair in cmp["pairs"] for g in GROUPS for d in [pair["groups"][g]]]
    return comparison_chart(cmp), pd.DataFrame(rows, columns=CMP_COLUMNS)


def sweep_view(ws, sweep_id: str | None):
    if not sweep_id:
        raise gr.Error("pick a sweep")
    try:
        curve = sweep_curve(ws, sweep_id)
    except KeyError as e:
        raise visitor_error(ws, e) from None
    return frames_curve(curve), format_sweep(curve)


# ---------------------------------------------------------------------- item browser
def _clip(qa: dict) -> str:
    if qa.get("start") is None:
        return f"{qa.get('video_id') or '—'} (whole video)"
    return f"{qa['video_id']} {qa['start']:.1f}–{qa['end']:.1f} s"


def item_rows(ws, run_ids: list[str] | None, category: str = "all", flip: str = "all") -> pd.DataFrame:
    """One row per item scored by any selected run: ✓/✗ and the letter per run.

    `flip` keeps items whose correctness differs between the first two selected runs
    (right→wrong: the first was right and the second wrong).
    """
    run_ids = list(run_ids or [])
    if not run_ids:
        raise gr.Error("select at least one run")
    if flip != "all" and len(run_ids) < 2:
        raise gr.Error(f"the {flip!r} filter compares the first two selected runs: select two runs")
    per = {rid: {r["qa_id"]: r for r in ws.eval_items(rid)} for rid in run_ids}
    ids = sorted(set().union(*per.values()))
    if flip != "all":
        a, b = per[run_ids[0]], per[run_ids[1]]
        want = {"flipped": {(1, 0), (0, 1)}, "right→wrong": {(1, 0)}, "wrong→right": {(0, 1)}}[flip]
        ids = [q for q in ids if q in a and q in b
               and (int(a[q]["correct"] or 0), int(b[q]["correct"] or 0)) in want]
    qa = {q["id"]: q for q in ws.iter_qa(ids=ids)} if ids else {}
    rows = []
    for q in ids:
        item = qa.get(q) or {"category": next(p[q] for p in per.values() if q in p)["category"],
                             "question": f"(item {q} no longer in the store)"}
        if category != "all" and item["category"] != category:
            continue
        marks = [("✓ " if p[q]["correct"] else "✗ ") + (p[q]["answer"] or "none") if q in p else "—"
                 for p in per.values()]
        rows.append([q, item["category"], item["question"][:120], _clip(item), item.get("answer", ""),
                     *marks])
    return pd.DataFrame(rows, columns=[*ITEM_COLUMNS, *run_ids])


def pick_item(evt: gr.SelectData):
    """The qa_id of a clicked item-table row (its first column)."""
    row = evt.row_value or []
    return int(row[0]) if row else gr.skip()


def item_detail(ws, qa_id: float | None, run_ids: list[str] | None):
    """(markdown of question/options/key, gr.Video at the item's start, side-by-side answers per run)."""
    if qa_id is None or qa_id == "":
        return "", None, pd.DataFrame()
    try:
        qa = ws.get_qa(int(qa_id))
    except KeyError as e:
        raise visitor_error(ws, e) from None
    opts = "\n".join(f"- **{'ABCD'[i]}.** {o}" + ("  ← key" if "ABCD"[i] == qa["answer"] else "")
                     for i, o in enumerate(qa["options"]))
    md = (f"### #{qa['id']} · {qa['category']} · {_clip(qa)}\n\n{qa['question']}\n\n{opts}\n\n"
          f"<details><summary>reference reasoning</summary>\n\n{qa['reasoning']}\n\n</details>")
    video = None
    if qa.get("video_id"):
        try:
            path = served_video(ws, qa["video_id"])
            video = gr.Video(value=str(path), playback_position=float(qa.get("start") or 0.0),
                             label=f"clip {_clip(qa)}") if path.exists() else None
        except KeyError:
            video = None
    fields = ["answer", "correct", "format ok", "thinking", "output"]
    cols = {}
    for rid in run_ids or []:
        rec = next((r for r in ws.eval_items(rid) if r["qa_id"] == qa["id"]), None)
        cols[rid] = ["(not scored)", "", "", "", ""] if rec is None else [
            rec["answer"] or "none", "✓" if rec["correct"] else "✗",
            "" if rec["format_ok"] is None else ("yes" if rec["format_ok"] else "no"),
            rec["thinking"] or "", rec["prediction"] or ""]
    side = pd.DataFrame({"field": fields, **cols})
    return md, video, side

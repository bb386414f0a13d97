"""`lvr init`, `lvr ingest`, `lvr videos`, `lvr qa`, `lvr qa-status`, `lvr stats`: the workspace from the shell.

Module-level click commands; `register(group)` adds them (lvr.cli imports this module on first use).
"""
from __future__ import annotations

import json
import sys

import click
from tqdm import tqdm

from lvr.ingest import expand_paths, ingest
from lvr.store import Workspace


def _table(rows: list[dict], cols: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "")) if r.get(c) is not None else "" for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


@click.command("init")
@click.argument("workspace", type=click.Path(file_okay=False))
def init_cmd(workspace: str) -> None:
    """Create (or upgrade) a workspace folder."""
    ws = Workspace.open(workspace, create=True)
    click.echo(f"workspace {ws.root} (schema v{ws.schema_version})")


@click.command("ingest")
@click.argument("workspace", type=click.Path(file_okay=False))
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--copy/--link", default=False, help="Copy files into media/ (default: reference them in place).")
@click.option("--clip-seconds", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Clip length for captioning (seconds).")
@click.option("--split", type=click.Choice(["sft", "rl", "eval"]), default=None, help="Assign videos to a split.")
@click.option("--strict", is_flag=True, help="Exit with status 1 if any file failed.")
def ingest_cmd(workspace: str, paths: tuple[str, ...], copy: bool, clip_seconds: float, split: str | None,
               strict: bool) -> None:
    """Add video files and folders to a workspace (content-hash dedup; bad files reported, batch continues)."""
    ws = Workspace.open(workspace, create=True)
    files = expand_paths(paths)
    with tqdm(total=len(files), unit="file", desc="ingest", file=sys.stderr) as bar:
        report = ingest(ws, files, copy=copy, clip_seconds=clip_seconds, split=split,
                           progress=lambda _p: bar.update())
    click.echo(f"added {len(report.added)}, already present {len(report.duplicates)}, failed {len(report.errors)}")
    for _path, cause in report.errors:
        click.echo(f"ERROR {cause}", err=True)
    if strict and report.errors:
        sys.exit(1)


@click.command("videos")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default=None)
@click.option("--search", "text", default=None, help="Filter by file name or caption text.")
@click.option("--json", "as_json", is_flag=True)
def videos_cmd(workspace: str, split: str | None, text: str | None, as_json: bool) -> None:
    """List the workspace's videos with caption/QA counts."""
    rows = Workspace.open(workspace).list_videos(split=split, text=text)
    for r in rows:
        r["duration"] = f"{r['duration']:.1f}s"
        r["size"] = f"{r['width']}x{r['height']}"
        r["captions"] = f"{r['n_captioned']}/{r['n_clips']}"
    if as_json:
        click.echo(json.dumps(rows, indent=1, default=str))
    else:
        click.echo(_table(rows, ["id", "filename", "duration", "fps", "size", "split", "captions", "n_qa",
                                 "n_approved"]))


@click.command("qa")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.option("--status", default=None)
@click.option("--category", default=None)
@click.option("--split", default=None)
@click.option("--search", "text", default=None)
@click.option("--page", default=1)
@click.option("--page-size", default=20)
def qa_cmd(workspace: str, status, category, split, text, page, page_size) -> None:
    """List QA items (filters mirror the review queue)."""
    items, total = Workspace.open(workspace).query_qa(status=status, category=category, split=split, text=text,
                                                      page=page, page_size=page_size)
    for it in items:
        it["question"] = it["question"][:70]
    click.echo(_table(items, ["id", "video_id", "category", "status", "split", "answer", "question"]))
    click.echo(f"{total} items match")


@click.command("qa-status")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.argument("status", type=click.Choice(["pending", "draft", "approved", "rejected"]))
@click.option("--who", required=True, help="reviewer name recorded in each item's revision")
@click.option("--reason", default=None, help="why (required for rejected)")
@click.option("--where-status", multiple=True, help="only items whose current status is this (repeatable)")
@click.option("--category", default=None)
@click.option("--split", default=None)
@click.option("--video", "video_id", default=None)
@click.option("--search", "text", default=None)
def qa_status_cmd(workspace: str, status: str, who: str, reason, where_status, category, split, video_id,
                  text) -> None:
    """Set STATUS on every matching QA item, one revision each (Workspace.bulk_set_status)."""
    try:   # the review rules (a known status, a reason for rejecting) are the store's: ReviewError is a ValueError
        n = Workspace.open(workspace).bulk_set_status(status, who=who, reason=reason,
                                                      where_status=list(where_status) or None,
                                                      category=category, split=split, video_id=video_id,
                                                      text=text)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{n} item(s) set to {status}")


@click.command("stats")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
def stats_cmd(workspace: str) -> None:
    """Counts of videos, clips, captions and QA items."""
    click.echo(json.dumps(Workspace.open(workspace).stats(), indent=1))


COMMANDS = (init_cmd, ingest_cmd, videos_cmd, qa_cmd, qa_status_cmd, stats_cmd)


def register(group: click.Group) -> None:
    for cmd in COMMANDS:
        group.add_command(cmd)

"""`lvr jobs WS` (list), `lvr jobs show|logs|cancel|resume WS JOB`: tracked long jobs.

A module-level click group; `register(group)` adds it (lvr.cli imports this module on first use).
"""
from __future__ import annotations

import json
import sys

import click

from lvr.jobs import cancel, read_log, read_metrics, refresh, relaunch
from lvr.store import Workspace

from .workspace_cmds import _table


@click.group("jobs", invoke_without_command=True)
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.option("--kind", default=None)
@click.pass_context
def jobs_group(ctx: click.Context, workspace: str, kind: str | None) -> None:
    """List jobs (dead ones detected), or act on one: show / logs / cancel / resume."""
    ws = Workspace.open(workspace)
    ctx.obj = ws
    if ctx.invoked_subcommand is None:
        rows = [refresh(ws, j["id"]) for j in ws.list_jobs(kind=kind)]
        for r in rows:
            r["progress"] = f"{r['progress']:.0f}/{r['total']:.0f}" if r.get("total") else ""
        click.echo(_table(rows, ["id", "kind", "status", "pid", "progress", "created_at", "message"]))


@jobs_group.command("show")
@click.argument("job")
@click.pass_obj
def show_cmd(ws, job: str) -> None:
    row = refresh(ws, job)
    metrics = read_metrics(ws, job)
    row["metrics_rows"] = len(metrics)
    row["last_metrics"] = metrics[-1] if metrics else None
    click.echo(json.dumps(row, indent=1, default=str))


@jobs_group.command("logs")
@click.argument("job")
@click.option("-n", "lines", default=50)
@click.pass_obj
def logs_cmd(ws, job: str, lines: int) -> None:
    click.echo(read_log(ws, job, lines))


@jobs_group.command("cancel")
@click.argument("job")
@click.pass_obj
def cancel_cmd(ws, job: str) -> None:
    click.echo(f"{job}: {cancel(ws, job)['status']}")


@jobs_group.command("resume")
@click.argument("job")
@click.option("--wait", is_flag=True)
@click.pass_obj
def resume_cmd(ws, job: str, wait: bool) -> None:
    """Start a killed/failed job again; training resumes from its last checkpoint."""
    status = refresh(ws, job)["status"]
    if status in ("running", "queued"):
        sys.exit(f"{job} is still {status}")
    new = relaunch(ws, job, extra_args=["resume=true"] if ws.get_job(job)["kind"] in ("sft", "grpo") else [],
                   wait=wait)
    click.echo(f"resumed {job} as {new}: {ws.get_job(new)['status']}")


def register(group: click.Group) -> None:
    group.add_command(jobs_group)

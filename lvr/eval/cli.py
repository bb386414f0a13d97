"""The evaluation commands (click): `run`, `compare`, `show`, `list`, `check`, `grounding`, grouped as `eval`.

    python -m lvr.eval run WS --checkpoint C --frames 16 --run-id eval-…   # what lvr.jobs runs as an eval job
    python -m lvr.eval WS --answerer random                               # `run` is the default command
    lvr eval …                                                            # the same commands (+ import, ceiling)

This is lvr.eval's own entry point (`python -m lvr.eval`, see __main__.py): it needs nothing above
lvr.eval. lvr.cli.eval_cmds adds the commands that need other packages (`import`: lvr.datagen's
importer; `ceiling`: lvr.train's item loader) to the same commands for `lvr eval`. The flags that set
EvalConfig fields are written from the dataclass (lvr.config.click_option: help, default, choices,
bounds); `--frames` takes a list (8,16,32: a frames sweep), so it is written here.
"""
from __future__ import annotations

import json
import os
import sys

import click
from tqdm import tqdm

from lvr.config import click_option
from lvr.jobs.context import ENV_JOB, JobContext
from lvr.model import resolve_model
from lvr.store import Workspace

from .benchmark import benchmark_report
from .compare import compare_runs, save_comparison
from .grounding import grounding_line, run_grounding
from .model_answerer import ANSWER_MODES, ModelAnswerer
from .reference import REFERENCE_NAMES, make_reference
from .report import format_comparison, format_run, format_sweep, table
from .runner import EvalConfig, run_eval
from .sweep import run_sweep, sweep_curve

WS_ARG = dict(type=click.Path(exists=True, file_okay=False))
CONTEXT = {"help_option_names": ["-h", "--help"]}


class DefaultRunGroup(click.Group):
    """A group that runs `run` when the first argument is not one of its subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def parse_frames(value: str | None) -> list[int] | None:
    """"16" → [16], "8,16,32" → [8, 16, 32] (a sweep), None → None; anything else is a click.BadParameter."""
    if value is None:
        return None
    try:
        counts = [int(x) for x in value.replace(" ", "").split(",") if x]
    except ValueError:
        raise click.BadParameter(f"expected a frame count or a comma-separated list (8,16,32), got {value!r}") from None
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"frame counts must be >= 1, got {value!r}")
    return counts


def _progress_bar(desc: str):
    bar = tqdm(total=0, unit="item", desc=desc, file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
    return bar, update


def _job_context(ws):
    """The JobContext when launched by lvr.jobs (LVR_JOB_ID set), else None."""
    job_id = os.environ.get(ENV_JOB)
    return JobContext.attach(ws, job_id) if job_id else None


def _checkpoint(ws, ref: str) -> tuple[str, str]:
    """(id to record, directory) for a registered checkpoint id/path, `latest:<stage>`, `tiny:<kind>` or a plain
    directory (`lvr.model.resolve_model`; an unregistered directory stays unregistered and is recorded by its
    path)."""
    try:
        path, ckpt_id = resolve_model(ws, ref, register=False)
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    return ckpt_id or ws.relativize(path), str(path)


@click.group(name="eval", cls=DefaultRunGroup, context_settings=CONTEXT)
def eval_group() -> None:
    """Evaluate checkpoints (per-category accuracy with 95 % CIs), sweep frames, compare runs.

    `lvr eval WS …` is short for `lvr eval run WS …`.
    """


@eval_group.command("run")
@click.argument("workspace", **WS_ARG)
@click.option("--checkpoint", "-c", default=None,
              help="Checkpoint id, directory or latest:<stage> (latest:sft) to evaluate.")
@click.option("--answerer", type=click.Choice(["random", "most-frequent", "text-only"]), default=None,
              help="Evaluate a reference answerer instead of a checkpoint.")
@click_option(EvalConfig, "split")
@click_option(EvalConfig, "source")
@click_option(EvalConfig, "categories", "--category")
@click.option("--frames", "-f", default=None, help="Frames per video (model default 16); a list 8,16,32 sweeps.")
@click_option(EvalConfig, "limit")
@click_option(EvalConfig, "videos")
@click_option(EvalConfig, "batch_size")
@click.option("--max-new-tokens", type=int, default=512, show_default=True)
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--think/--no-think", default=True, show_default=True, help="Expect <think> before <answer>.")
@click.option("--answer-mode", type=click.Choice(ANSWER_MODES), default="free", show_default=True,
              help="free: parse the written answer; choice: the option the model finds likeliest after its "
                   "reasoning (decoding restricted to the options).")
@click.option("--run-id", default=None, help="Resume (or name) this run.")
@click.option("--sweep", "sweep_id", default=None, help="Resume (or name) this frames sweep.")
@click_option(EvalConfig, "n_boot", "--bootstrap")
@click_option(EvalConfig, "seed")
@click_option(EvalConfig, "reference_split")
@click.option("--references/--no-references", default=True, show_default=True)
@click_option(EvalConfig, "figures")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_cmd(workspace, checkpoint, answerer, split, source, categories, frames, limit, videos, batch_size,
            max_new_tokens, temperature, think, answer_mode, run_id, sweep_id, n_boot, seed, reference_split,
            references, figures, as_json) -> None:
    """Evaluate a checkpoint or a reference answerer on a split (or imported benchmark)."""
    if (checkpoint is None) == (answerer is None):
        raise click.UsageError("give exactly one of --checkpoint or --answerer")
    counts = parse_frames(frames)
    if answerer and counts:
        raise click.UsageError("reference answerers do not watch the video: --frames applies to --checkpoint")
    if counts is None and checkpoint:
        counts = [16]
    if sweep_id and run_id:
        raise click.UsageError("give --run-id (one run) or --sweep (a frames sweep), not both")
    ws = Workspace.open(workspace)
    try:
        cfg = EvalConfig(split=split or None, source=source, categories=tuple(categories) or None,
                         frames=counts[0] if counts else None, batch_size=batch_size, limit=limit,
                         n_boot=n_boot, seed=seed, reference_split=reference_split,
                         references=REFERENCE_NAMES if references else (), figures=figures, videos=videos)
        if checkpoint:
            ckpt_id, ckpt_dir = _checkpoint(ws, checkpoint)
            agent = ModelAnswerer(ckpt_dir, max_new_tokens=max_new_tokens, temperature=temperature,
                                  think=think, frame_cache_dir=ws.frames_cache_dir, answer_mode=answer_mode)
        else:
            ckpt_id = None
            agent = make_reference(answerer, ws, reference_split=reference_split, seed=seed)
        if counts and (len(counts) > 1 or sweep_id):
            _sweep(ws, agent, counts, cfg, ckpt_id, sweep_id, as_json)
            return
        _run(ws, agent, cfg, ckpt_id, run_id, as_json)
    except (ValueError, RuntimeError, OSError, KeyError) as e:
        raise click.ClickException(f"{type(e).__name__}: {e}" if isinstance(e, RuntimeError) else str(e)) from None


def _reporter(ws):
    """(job context or None, progress callback(done, total, frames=None), the bar to close)."""
    job = _job_context(ws)
    bar, update = _progress_bar("eval")

    def progress(done: int, total: int, n_frames: int | None = None) -> None:
        label = f"eval {n_frames} frames" if n_frames else "eval"
        bar.set_description(label)
        update(done, total)
        if job:
            job.progress(done, total, label)
    return job, progress, bar


def _run(ws, agent, cfg: EvalConfig, ckpt_id, run_id, as_json: bool) -> None:
    """One run: evaluate, log the job's metrics, print the run (or its summary as JSON) and its figures."""
    job, progress, bar = _reporter(ws)
    res = run_eval(ws, agent, cfg, checkpoint=ckpt_id, run_id=run_id, job_id=job.job_id if job else None,
                   progress=progress)
    bar.close()
    if job:
        o = res.summary["overall"]
        job.log_metrics({"frames": cfg.frames, "run_id": res.run_id, "acc": o["acc"], "lo": o["lo"], "hi": o["hi"]})
    if as_json:
        click.echo(json.dumps({"run_id": res.run_id, **res.summary}, indent=1))
        return
    click.echo(format_run(ws.get_eval_run(res.run_id)))
    for p in res.figures:
        click.echo(f"figure: {ws.resolve(p)}")


def _sweep(ws, agent, counts: list[int], cfg: EvalConfig, ckpt_id, sweep_id, as_json: bool) -> None:
    """A frames sweep: one run per count, the job's metrics per point, the runs and the curve printed."""
    job, progress, bar = _reporter(ws)
    res = run_sweep(ws, agent, counts, cfg, checkpoint=ckpt_id, sweep_id=sweep_id, job_id=job.job_id if job else None,
                    progress=lambda n, d, t: progress(d, t, n))
    bar.close()
    if job:
        for point in res.curve["series"]["overall"]:
            job.log_metrics({"frames": point["frames"], "run_id": point["run"], "acc": point["acc"],
                             "lo": point["lo"], "hi": point["hi"]})
    if as_json:
        click.echo(json.dumps(res.curve, indent=1))
        return
    for rid in res.run_ids:
        click.echo(format_run(ws.get_eval_run(rid)) + "\n")
    click.echo(format_sweep(res.curve))
    for p in res.figures:
        click.echo(f"figure: {ws.resolve(p)}")


@eval_group.command("compare")
@click.argument("workspace", **WS_ARG)
@click.argument("runs", nargs=-1, required=True)
@click_option(EvalConfig, "n_boot", "--bootstrap")
@click_option(EvalConfig, "seed")
@click.option("--max-flips", type=int, default=10, show_default=True, help="Flipped items listed per direction.")
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def compare_cmd(workspace, runs, n_boot, seed, max_flips, figures, as_json) -> None:
    """Compare runs item by item against the first (McNemar, paired bootstrap, flipped items)."""
    ws = Workspace.open(workspace)
    try:
        cmp = compare_runs(ws, list(runs), n_boot=n_boot, seed=seed)
    except (ValueError, KeyError) as e:
        raise click.ClickException(str(e).strip("'\"")) from None
    paths = save_comparison(ws, cmp) if figures else []
    if as_json:
        click.echo(json.dumps(cmp, indent=1))
        return
    click.echo(format_comparison(cmp, max_flips))
    for p in paths:
        click.echo(f"written: {p}")


@eval_group.command("show")
@click.argument("workspace", **WS_ARG)
@click.argument("run")
@click.option("--json", "as_json", is_flag=True)
def show_cmd(workspace, run, as_json) -> None:
    """Print a stored run (or a frames sweep by its sweep id)."""
    ws = Workspace.open(workspace)
    try:
        row = ws.get_eval_run(run)
    except KeyError:
        try:
            curve = sweep_curve(ws, run)
        except KeyError:
            raise click.ClickException(f"no eval run or sweep {run!r} in {ws.root}") from None
        click.echo(json.dumps(curve, indent=1) if as_json else format_sweep(curve))
        return
    click.echo(json.dumps(row, indent=1, default=str) if as_json else format_run(row))


@eval_group.command("list")
@click.argument("workspace", **WS_ARG)
def list_cmd(workspace) -> None:
    """List eval runs with their overall accuracy."""
    rows = []
    for r in Workspace.open(workspace).list_eval_runs():
        o = (r.get("summary") or {}).get("overall") or {}
        acc = f"{100 * o['acc']:.1f} [{100 * o['lo']:.1f}, {100 * o['hi']:.1f}]" if o.get("acc") is not None \
            else "—"
        rows.append([r["id"], r["status"] or "", r["answerer"] or "", r["checkpoint"] or "",
                     str(r["frames"] or "-"), r["split"] or "", str(o.get("n", "")), acc,
                     (r.get("config") or {}).get("sweep") or ""])
    click.echo(table(rows, ["run", "status", "answerer", "checkpoint", "frames", "items", "n", "overall %",
                            "sweep"]) if rows else "(no eval runs)")


@eval_group.command("grounding")
@click.argument("workspace", **WS_ARG)
@click.argument("runs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
def grounding_cmd(workspace, runs, as_json) -> None:
    """How many of the claims in each run's reasoning are true at the frame they name (lvr.eval.grounding)."""
    ws = Workspace.open(workspace)
    found = []
    for run in runs:
        try:
            found.append(run_grounding(ws, run))
        except KeyError:
            raise click.ClickException(f"no eval run {run!r} in this workspace") from None
    if as_json:
        click.echo(json.dumps([g and {"run": g.run, "items": g.items, "lines": g.lines,
                                      "claims": {k: {"true": ok, "n": n} for k, (ok, n) in g.claims.items()}}
                               for g in found], indent=1))
    else:
        for run, g in zip(runs, found):
            click.echo(grounding_line(g) if g else f"{run}: no reasoning about synthetic videos to check")


@eval_group.command("check")
@click.argument("workspace", **WS_ARG)
@click.option("--source", default=None)
@click.option("--split", default="eval", show_default=True)
def check_cmd(workspace, source, split) -> None:
    """Key-letter balance, category counts and unusable videos of stored eval items."""
    rep = benchmark_report(Workspace.open(workspace), source=source, split=split or None)
    click.echo(f"{rep['n']} items; categories: " + ", ".join(f"{k} {v}" for k, v in rep["categories"].items()))
    click.echo("key letters: " + ", ".join(f"{k} {v}" for k, v in rep["letters"].items() if k != "none"))
    if rep["best_constant"]:
        click.echo(f"always answering {rep['best_constant']['letter']} scores "
                   f"{100 * rep['best_constant']['acc']:.1f} % (chance 25 %)")
    click.echo(f"items without a usable video: {len(rep['video_problems'])}")
    for p in rep["video_problems"][:50]:
        click.echo(f"  #{p['qa_id']} {p['problem_id'] or ''} {p['reason']}")

"""`lvr eval …`: evaluate checkpoints and reference answerers, sweep frames, compare runs.

    lvr eval WS --checkpoint C --split eval --frames 16        # one run (same as `lvr eval run …`)
    lvr eval WS --checkpoint C --frames 8,16,32,64             # frames sweep: one run per count
    lvr eval WS --answerer random|most-frequent|text-only      # a reference answerer as a run
    lvr eval WS --checkpoint C --run-id eval-…                 # resume a run (or --sweep sweep-…)
    lvr eval compare WS RUN RUN [RUN…]                         # first run is the baseline
    lvr eval show WS RUN|SWEEP                                 # print a stored run or sweep
    lvr eval list WS
    lvr eval import WS test.jsonl videos/ [--source longvideo-reason-eval] [--categories map.csv]
    lvr eval check WS [--source S]                             # key letters, missing videos

`eval` is a group whose default command is `run`: when the first word after `eval` is not a
subcommand name it is the workspace of `lvr eval run` (so a workspace folder called e.g.
"compare" needs the explicit `lvr eval run compare …`). Figures (HTML + JSON) are written to
runs/<run id>/ (runs/<sweep id>/, runs/compare-<hash>/) and their paths printed.
"""
from __future__ import annotations

import json
import sys

import click

WS_ARG = dict(type=click.Path(exists=True, file_okay=False))


class DefaultRunGroup(click.Group):
    """A group that runs `run` when the first argument is not one of its subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _frames(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        counts = [int(x) for x in value.replace(" ", "").split(",") if x]
    except ValueError:
        raise click.BadParameter(f"expected a frame count or a comma-separated list (8,16,32), got {value!r}") from None
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"frame counts must be >= 1, got {value!r}")
    return counts


def _open(workspace: str):
    from lvr.store import Workspace

    return Workspace.open(workspace)


def _progress_bar(desc: str):
    from tqdm import tqdm

    bar = tqdm(total=0, unit="item", desc=desc, file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
    return bar, update


def _job_context(ws):
    """The JobContext when launched by lvr.jobs (LVR_JOB_ID set), else None."""
    import os

    from lvr.jobs.context import ENV_JOB, JobContext

    job_id = os.environ.get(ENV_JOB)
    return JobContext.attach(ws, job_id) if job_id else None


def _checkpoint(ws, ref: str) -> tuple[str, str]:
    """(id to record, directory) for a registered checkpoint id/path, `latest:<stage>` (the newest
    registered checkpoint of a stage, as in `lvr train`) or a plain directory."""
    from pathlib import Path

    if ref.startswith("latest:"):
        stage = ref.split(":", 1)[1]
        rows = ws.list_checkpoints(stage=stage)
        if not rows:
            raise click.ClickException(f"checkpoint {ref!r}: {ws.root} has no checkpoint of stage {stage!r} yet")
        return rows[-1]["id"], rows[-1]["abspath"]
    try:
        row = ws.get_checkpoint(ref)
        return row["id"], row["abspath"]
    except KeyError:
        pass
    p = Path(ref)
    if not p.is_absolute() and not p.exists():
        p = ws.resolve(ref)
    if not p.is_dir():
        raise click.ClickException(f"checkpoint {ref!r} is neither a registered checkpoint of {ws.root} "
                                   "nor a directory")
    try:
        return ws.get_checkpoint(ws.relativize(p))["id"], str(p)
    except KeyError:
        return ws.relativize(p), str(p)


@click.group(name="eval", cls=DefaultRunGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--split", default="eval", show_default=True, help="QA split to evaluate ('' for any).")
@click.option("--source", default=None, help="Only items of this source (e.g. an imported benchmark).")
@click.option("--category", "categories", multiple=True,
              type=click.Choice(["temporal", "goal", "spatial", "plot"]), help="Restrict to categories.")
@click.option("--frames", "-f", default=None, help="Frames per video (model default 16); a list 8,16,32 sweeps.")
@click.option("--limit", type=int, default=None, help="Only the first N items (by id).")
@click.option("--videos", type=click.Choice(["own", "shuffled"]), default="own", show_default=True,
              help="shuffled: show each item another video's frames (does the model use the video?).")
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--max-new-tokens", type=int, default=512, show_default=True)
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--think/--no-think", default=True, show_default=True, help="Expect <think> before <answer>.")
@click.option("--run-id", default=None, help="Resume (or name) this run.")
@click.option("--sweep", "sweep_id", default=None, help="Resume (or name) this frames sweep.")
@click.option("--bootstrap", "n_boot", type=int, default=2000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--reference-split", default="sft", show_default=True,
              help="Split the most-frequent / text-only references learn from.")
@click.option("--references/--no-references", default=True, show_default=True)
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_cmd(workspace, checkpoint, answerer, split, source, categories, frames, limit, videos, batch_size,
            max_new_tokens, temperature, think, run_id, sweep_id, n_boot, seed, reference_split, references,
            figures, as_json) -> None:
    """Evaluate a checkpoint or a reference answerer on a split (or imported benchmark)."""
    from lvr.eval import EvalConfig, ModelAnswerer, make_reference, run_eval, run_sweep
    from lvr.eval.reference import REFERENCE_NAMES
    from lvr.eval.report import format_run, format_sweep

    if (checkpoint is None) == (answerer is None):
        raise click.UsageError("give exactly one of --checkpoint or --answerer")
    counts = _frames(frames)
    if answerer and counts:
        raise click.UsageError("reference answerers do not watch the video: --frames applies to --checkpoint")
    if counts is None and checkpoint:
        counts = [16]
    if sweep_id and run_id:
        raise click.UsageError("give --run-id (one run) or --sweep (a frames sweep), not both")
    ws = _open(workspace)
    try:
        cfg = EvalConfig(split=split or None, source=source, categories=tuple(categories) or None,
                         frames=counts[0] if counts else None, batch_size=batch_size, limit=limit,
                         n_boot=n_boot, seed=seed, reference_split=reference_split,
                         references=REFERENCE_NAMES if references else (), figures=figures, videos=videos)
        if checkpoint:
            ckpt_id, ckpt_dir = _checkpoint(ws, checkpoint)
            agent = ModelAnswerer(ckpt_dir, max_new_tokens=max_new_tokens, temperature=temperature,
                                  think=think, frame_cache_dir=ws.frames_cache_dir)
        else:
            ckpt_id = None
            agent = make_reference(answerer, ws, reference_split=reference_split, seed=seed)
        job = _job_context(ws)
        job_id = job.job_id if job else None
        bar, update = _progress_bar("eval")

        def progress(done: int, total: int, n_frames: int | None = None) -> None:
            label = f"eval {n_frames} frames" if n_frames else "eval"
            bar.set_description(label)
            update(done, total)
            if job:
                job.progress(done, total, label)

        if counts and (len(counts) > 1 or sweep_id):
            res = run_sweep(ws, agent, counts, cfg, checkpoint=ckpt_id, sweep_id=sweep_id, job_id=job_id,
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
            return
        res = run_eval(ws, agent, cfg, checkpoint=ckpt_id, run_id=run_id, job_id=job_id, progress=progress)
        bar.close()
        if job:
            o = res.summary["overall"]
            job.log_metrics({"frames": cfg.frames, "run_id": res.run_id, "acc": o["acc"], "lo": o["lo"],
                             "hi": o["hi"]})
    except (ValueError, RuntimeError, OSError, KeyError) as e:
        raise click.ClickException(f"{type(e).__name__}: {e}" if isinstance(e, RuntimeError) else str(e)) from None
    if as_json:
        click.echo(json.dumps({"run_id": res.run_id, **res.summary}, indent=1))
        return
    click.echo(format_run(ws.get_eval_run(res.run_id)))
    for p in res.figures:
        click.echo(f"figure: {ws.resolve(p)}")

@eval_group.command("compare")
@click.argument("workspace", **WS_ARG)
@click.argument("runs", nargs=-1, required=True)
@click.option("--bootstrap", "n_boot", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-flips", type=int, default=10, show_default=True, help="Flipped items listed per direction.")
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def compare_cmd(workspace, runs, n_boot, seed, max_flips, figures, as_json) -> None:
    """Compare runs item by item against the first (McNemar, paired bootstrap, flipped items)."""
    from lvr.eval import compare_runs, save_comparison
    from lvr.eval.report import format_comparison

    ws = _open(workspace)
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
    from lvr.eval import sweep_curve
    from lvr.eval.report import format_run, format_sweep

    ws = _open(workspace)
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
    from lvr.eval.report import table

    rows = []
    for r in _open(workspace).list_eval_runs():
        o = (r.get("summary") or {}).get("overall") or {}
        acc = f"{100 * o['acc']:.1f} [{100 * o['lo']:.1f}, {100 * o['hi']:.1f}]" if o.get("acc") is not None \
            else "—"
        rows.append([r["id"], r["status"] or "", r["answerer"] or "", r["checkpoint"] or "",
                     str(r["frames"] or "-"), r["split"] or "", str(o.get("n", "")), acc,
                     (r.get("config") or {}).get("sweep") or ""])
    click.echo(table(rows, ["run", "status", "answerer", "checkpoint", "frames", "items", "n", "overall %",
                            "sweep"]) if rows else "(no eval runs)")

@eval_group.command("import")
@click.argument("workspace", type=click.Path(file_okay=False))
@click.argument("jsonl", type=click.Path(exists=True, dir_okay=False))
@click.argument("videos_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="eval", show_default=True)
@click.option("--source", default="longvideo-reason-eval", show_default=True)
@click.option("--categories", "categories_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="JSON/JSONL/CSV mapping problem_id → category, for rows without a category column.")
@click.option("--json", "as_json", is_flag=True)
def import_cmd(workspace, jsonl, videos_dir, split, source, categories_file, as_json) -> None:
    """Import a LongVideo-Reason-eval-style JSONL and its videos (missing videos are reported)."""
    from lvr.datagen.release import load_category_map
    from lvr.eval import import_benchmark
    from lvr.store import Workspace

    try:
        cmap = load_category_map(categories_file) if categories_file else None
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    ws = Workspace.open(workspace, create=True)
    rep = import_benchmark(ws, jsonl, videos_dir, split=split, source=source, category_map=cmap)
    click.echo(json.dumps(rep.to_dict(), indent=1) if as_json else rep.format_text())

@eval_group.command("check")
@click.argument("workspace", **WS_ARG)
@click.option("--source", default=None)
@click.option("--split", default="eval", show_default=True)
def check_cmd(workspace, source, split) -> None:
    """Key-letter balance, category counts and unusable videos of stored eval items."""
    from lvr.eval import benchmark_report

    rep = benchmark_report(_open(workspace), source=source, split=split or None)
    click.echo(f"{rep['n']} items; categories: " + ", ".join(f"{k} {v}" for k, v in rep["categories"].items()))
    click.echo("key letters: " + ", ".join(f"{k} {v}" for k, v in rep["letters"].items() if k != "none"))
    if rep["best_constant"]:
        click.echo(f"always answering {rep['best_constant']['letter']} scores "
                   f"{100 * rep['best_constant']['acc']:.1f} % (chance 25 %)")
    click.echo(f"items without a usable video: {len(rep['video_problems'])}")
    for p in rep["video_problems"][:50]:
        click.echo(f"  #{p['qa_id']} {p['problem_id'] or ''} {p['reason']}")


@eval_group.command("ceiling")
@click.argument("workspace", **WS_ARG)
@click.option("--split", default="eval", show_default=True)
@click.option("--frames", "frames", default="2,4,8,16,32", show_default=True, help="frame counts, comma-separated")
@click.option("--run", "run_id", default=None, help="also score this eval run on the items its frames can answer")
def ceiling_cmd(workspace, split, frames, run_id) -> None:
    """How many items an ideal reader of N uniformly sampled frames can answer (synthetic items with an
    event log; lvr.synth.visibility), per frame count and category; with --run, that run's accuracy on them."""
    from lvr.eval.ideal_reader import answerable_subset, ideal_ceiling
    from lvr.train.data import load_items

    ws = _open(workspace)
    counts = _frames(frames)
    items = load_items(ws, split=split or None, statuses=["approved", "pending", "draft"])
    for n, c in ideal_ceiling(items, counts).items():
        cats = ", ".join(f"{k} {v:.1f}" for k, v in sorted(c["by_category"].items()))
        click.echo(f"{n:>4} frames: {c['overall']:5.1f} % of {c['n']} items answerable ({cats})")
    if run_id:
        run = ws.get_eval_run(run_id)
        sub = answerable_subset(ws, run_id, int(run["frames"] or counts[-1]))
        if sub:
            o = sub["overall"]
            click.echo(f"run {run_id} on the {o['n']} items its {run['frames']} frames can answer: "
                       f"{100 * o['acc']:.1f} % [{100 * o['lo']:.1f}, {100 * o['hi']:.1f}]")


def register(cli: click.Group) -> None:
    cli.add_command(eval_group)

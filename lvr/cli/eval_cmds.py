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

run, compare, show, list and check live in lvr.eval.cli (so `python -m lvr.eval`, what eval jobs run,
needs nothing above lvr.eval); this module adds `import` (lvr.datagen's importer, via lvr.recipe.benchmark)
and `ceiling` (lvr.train's item loader) and groups them all as `lvr eval`.
"""
from __future__ import annotations

import json

import click

from lvr.datagen.release import load_category_map
from lvr.eval import cli as eval_cli
from lvr.eval.ideal_reader import answerable_subset, ideal_ceiling
from lvr.recipe.benchmark import import_benchmark
from lvr.store import Workspace
from lvr.train.data import load_items


@click.command("import")
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
    try:
        cmap = load_category_map(categories_file) if categories_file else None
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    ws = Workspace.open(workspace, create=True)
    rep = import_benchmark(ws, jsonl, videos_dir, split=split, source=source, category_map=cmap)
    click.echo(json.dumps(rep.to_dict(), indent=1) if as_json else rep.format_text())


@click.command("ceiling")
@click.argument("workspace", **eval_cli.WS_ARG)
@click.option("--split", default="eval", show_default=True)
@click.option("--frames", "frames", default="2,4,8,16,32", show_default=True, help="frame counts, comma-separated")
@click.option("--run", "run_id", default=None, help="also score this eval run on the items its frames can answer")
def ceiling_cmd(workspace, split, frames, run_id) -> None:
    """How many items an ideal reader of N uniformly sampled frames can answer (synthetic items with an
    event log; lvr.synth.visibility), per frame count and category; with --run, that run's accuracy on them."""
    ws = Workspace.open(workspace)
    counts = eval_cli.parse_frames(frames)
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


# `lvr eval`: lvr.eval's own group (its help, its commands) plus the two commands above
eval_group = eval_cli.DefaultRunGroup(
    name="eval", help=eval_cli.eval_group.help, context_settings=eval_cli.CONTEXT,
    commands=[*eval_cli.eval_group.commands.values(), import_cmd, ceiling_cmd])


def register(group: click.Group) -> None:
    group.add_command(eval_group)

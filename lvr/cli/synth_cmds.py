"""`lvr synth`: fill a workspace with the synthetic long-video corpus (videos, captions, QA).

    lvr synth demo --videos 20 --minutes 3 --seed 0      # ~1,300 QA items, well under a minute on 2 cores
    lvr synth demo --videos 4 --minutes 1 --fps 2 --size 128 --workers 1
    lvr synth demo --videos 50 --difficulty hard --density 1.5 --json # print the summary as JSON

Mirrors `lvr.synth.synth_workspace(ws, SynthConfig(...))`: the flags are written from the config fields
(lvr.config.click_option: help, default, choices and bounds of SynthConfig / WorldConfig / QAConfig).
Re-running with the same settings skips the videos already in the workspace.
"""

from __future__ import annotations

import json

import click

from lvr.config import ConfigError, click_option, click_options
from lvr.store import Workspace
from lvr.synth import QAConfig, SynthConfig, WorldConfig, synth_workspace


@click.command("synth")
@click.argument("workspace", type=click.Path(file_okay=False))
@click_option(SynthConfig, "videos")
@click_option(WorldConfig, "minutes")
@click_option(SynthConfig, "seed")
@click_options(WorldConfig, "fps", "size")
@click_option(SynthConfig, "workers")
@click_options(WorldConfig, "difficulty", "density")
@click_option(WorldConfig, "n_agents", "--agents")
@click_option(WorldConfig, "n_objects", "--objects")
@click_option(QAConfig, "per_template")
@click.option("--splits", default="0.6,0.3,0.1", show_default=True,
              help="Fractions of videos for sft,rl,eval (eval gets at least one video).")
@click_option(SynthConfig, "status")
@click.option("--no-meta-truth", is_flag=True, help="Do not copy captions/QA into each video's meta.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
def synth_cmd(workspace, videos, minutes, seed, fps, size, workers, difficulty, density, n_agents, n_objects,
              per_template, splits, status, no_meta_truth, as_json):
    """Render a synthetic corpus into WORKSPACE (created if missing) and register it."""
    try:
        fractions = tuple(float(x) for x in splits.split(","))
    except ValueError:
        raise click.BadParameter(f"expected three numbers like 0.6,0.3,0.1, got {splits!r}",
                                 param_hint="--splits") from None
    try:
        world = WorldConfig(minutes=minutes, fps=fps, size=size, difficulty=difficulty, density=density,
                            n_agents=n_agents, n_objects=n_objects)
        cfg = SynthConfig(videos=videos, seed=seed, workers=workers, split_fractions=fractions, status=status,
                          ground_truth_in_meta=not no_meta_truth, progress=not as_json, world=world,
                          qa=QAConfig(per_template=per_template))
    except (ConfigError, ValueError) as e:
        raise click.UsageError(str(e)) from None
    summary = synth_workspace(Workspace.open(workspace, create=True), cfg)
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
        return
    click.echo(f"{summary['new_videos']} new video(s), {summary['skipped']} already there; "
               f"{summary['qa']} QA items, {summary['clips']} clips in {summary['seconds']:.1f} s")
    click.echo(f"  videos by split: {summary['videos_by_split']}")
    click.echo(f"  QA by split: {summary['qa_by_split']}  by category: {summary['qa_by_category']}")
    click.echo(f"  correct letters: {summary['qa_by_letter']}")


def register(group: click.Group) -> None:
    group.add_command(synth_cmd)

"""`lvr synth`: fill a workspace with the synthetic long-video corpus (videos, captions, QA).

    lvr synth demo --videos 20 --minutes 3 --seed 0      # ~1,300 QA items, well under a minute on 2 cores
    lvr synth demo --videos 4 --minutes 1 --fps 2 --size 128 --workers 1
    lvr synth demo --videos 50 --difficulty hard --density 1.5 --json # print the summary as JSON

Mirrors `lvr.synth.synth_workspace(ws, SynthConfig(...))`. Re-running with the same settings
skips the videos already in the workspace.
"""

from __future__ import annotations

import json

import click


def register(group: click.Group) -> None:
    @group.command("synth")
    @click.argument("workspace", type=click.Path(file_okay=False))
    @click.option("--videos", default=20, show_default=True, type=int, help="Number of videos.")
    @click.option(
        "--minutes", default=3.0, show_default=True, type=float, help="Duration of each video (1-60)."
    )
    @click.option("--seed", default=0, show_default=True, type=int, help="Corpus seed.")
    @click.option("--fps", default=4.0, show_default=True, type=float, help="Frames per second.")
    @click.option("--size", default=224, show_default=True, type=int, help="Frame width and height (even).")
    @click.option("--workers", default=2, show_default=True, type=int, help="Rendering processes.")
    @click.option(
        "--difficulty",
        type=click.Choice(["easy", "medium", "hard"]),
        default="medium",
        show_default=True,
        help="Preset: rooms, robots, objects, gap between compared events.",
    )
    @click.option(
        "--density",
        default=1.0,
        show_default=True,
        type=float,
        help="Event density (0.25-4): shorter pauses and faster robots above 1.",
    )
    @click.option("--agents", default=None, type=int, help="Robots (2-4); default from --difficulty.")
    @click.option("--objects", default=None, type=int, help="Objects (3-8); default from --difficulty.")
    @click.option(
        "--per-template",
        default=None,
        type=int,
        help="Max QA items per template per video (default 3 + 1 per 10 minutes).",
    )
    @click.option(
        "--splits",
        default="0.6,0.3,0.1",
        show_default=True,
        help="Fractions of videos for sft,rl,eval (eval gets at least one video).",
    )
    @click.option(
        "--status",
        type=click.Choice(["pending", "draft", "approved"]),
        default="pending",
        show_default=True,
        help="Review status of the QA items.",
    )
    @click.option("--no-meta-truth", is_flag=True, help="Do not copy captions/QA into each video's meta.")
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
    def synth(
        workspace,
        videos,
        minutes,
        seed,
        fps,
        size,
        workers,
        difficulty,
        density,
        agents,
        objects,
        per_template,
        splits,
        status,
        no_meta_truth,
        as_json,
    ):
        """Render a synthetic corpus into WORKSPACE (created if missing) and register it."""
        from lvr.config import ConfigError
        from lvr.store import Workspace
        from lvr.synth import QAConfig, SynthConfig, WorldConfig, synth_workspace

        try:
            fractions = tuple(float(x) for x in splits.split(","))
        except ValueError:
            raise click.BadParameter(
                f"expected three numbers like 0.6,0.3,0.1, got {splits!r}", param_hint="--splits"
            ) from None
        try:
            cfg = SynthConfig(
                videos=videos,
                seed=seed,
                workers=workers,
                split_fractions=fractions,
                status=status,
                ground_truth_in_meta=not no_meta_truth,
                progress=not as_json,
                world=WorldConfig(
                    minutes=minutes,
                    fps=fps,
                    size=size,
                    difficulty=difficulty,
                    density=density,
                    n_agents=agents,
                    n_objects=objects,
                ),
                qa=QAConfig(per_template=per_template),
            )
        except (ConfigError, ValueError) as e:
            raise click.UsageError(str(e)) from None
        summary = synth_workspace(Workspace.open(workspace, create=True), cfg)
        if as_json:
            click.echo(json.dumps(summary, sort_keys=True))
            return
        click.echo(
            f"{summary['new_videos']} new video(s), {summary['skipped']} already there; "
            f"{summary['qa']} QA items, {summary['clips']} clips in {summary['seconds']:.1f} s"
        )
        click.echo(f"  videos by split: {summary['videos_by_split']}")
        click.echo(f"  QA by split: {summary['qa_by_split']}  by category: {summary['qa_by_category']}")
        click.echo(f"  correct letters: {summary['qa_by_letter']}")

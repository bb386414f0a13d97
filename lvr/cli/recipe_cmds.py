"""`lvr recipe run|report|keys`: the whole CPU recipe (data → SFT → GRPO with MR-SP → evaluation) and its report.

    lvr recipe run configs/tiny/recipe.yaml                          # resumable: finished stages are skipped
    lvr recipe run configs/tiny/recipe.yaml workspace=workspaces/r2 sft.set.max_steps=100 --until sft
    lvr recipe report workspaces/recipe-videolm --out docs/results.md --img-dir docs/img
    lvr recipe keys                                                  # every recipe key with help

A module-level click group; `register(group)` adds it (lvr.cli imports this module on first use).
"""
from __future__ import annotations

import sys

import click

from lvr.config import ConfigError, describe
from lvr.recipe import RecipeConfig, load_recipe, run_recipe, write_report
from lvr.recipe.report import DEFAULT_RECIPE


@click.group("recipe")
def recipe_group() -> None:
    """The LongVILA-R1 recipe end to end on a synthetic corpus (tiny model, CPU)."""


@recipe_group.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--until", type=click.Choice(["data", "base", "videolm", "sft", "grpo", "eval", "sweep"]), default=None,
              help="stop after this stage")
def run_cmd(config, overrides, until):
    """Run CONFIG (YAML) with key=value overrides, e.g. workspace=DIR sft.set.max_steps=50."""
    try:
        cfg = load_recipe(config, list(overrides))
    except ConfigError as e:
        raise click.UsageError(f"config: {e}") from None
    try:
        run_recipe(cfg, echo=lambda s: click.echo(s), until=until)
    except RuntimeError as e:
        click.echo(f"recipe failed: {e}", err=True)
        sys.exit(1)


@recipe_group.command("report")
@click.argument("results", type=click.Path(exists=True))
@click.option("--out", default="docs/results.md", show_default=True, help="markdown file to write")
@click.option("--img-dir", default=None, help="folder for the PNG figures (default: <out dir>/img)")
@click.option("--png/--html", default=True, show_default=True,
              help="PNG via headless Chromium, or interactive HTML figures")
@click.option("--recipe", "recipe_arg", default=DEFAULT_RECIPE, show_default=True,
              help="the recipe file the report's Reproduce section names")
def report_cmd(results, out, img_dir, png, recipe_arg):
    """Write the report from RESULTS: a workspace, its recipe/ folder or a results.json."""
    try:
        done = write_report(results, out, img_dir=img_dir, png=png, recipe_arg=recipe_arg)
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {done['report']} and {len(done['figures'])} figures: "
               + ", ".join(str(p) for p in done["figures"]))


@recipe_group.command("keys")
def keys_cmd():
    """Every recipe key with its type, default and help."""
    click.echo("\n".join(describe(RecipeConfig)))


def register(group: click.Group) -> None:
    group.add_command(recipe_group)

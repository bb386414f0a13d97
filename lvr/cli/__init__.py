"""`lvr` command line: one click group, one module per command family.

Each module listed in COMMAND_MODULES defines `register(group)` that adds its commands.
Run `lvr --help` for the list.
"""
from __future__ import annotations

import importlib

import click

COMMAND_MODULES = [
    "lvr.cli.workspace_cmds",
    "lvr.cli.model_cmds",
    "lvr.cli.jobs_cmds",
    "lvr.cli.eval_cmds",
    "lvr.cli.datagen_cmds",
    "lvr.cli.train_cmds",
    "lvr.cli.video_cmds",
    "lvr.cli.synth_cmds",
    "lvr.cli.recipe_cmds",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lvr-workbench")
def cli() -> None:
    """LVR Workbench: long-video reasoning data, training and evaluation."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main() -> None:
    cli()

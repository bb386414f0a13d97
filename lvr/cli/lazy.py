"""`LazyGroup`: a click group whose commands are imported on first use (click's documented lazy-loading
pattern, "Lazily Loading Subcommands"), so `lvr --help` and `lvr init` never import torch.

    cli = LazyGroup(lazy={"eval": ("lvr.cli.eval_cmds:eval_group", "Evaluate checkpoints …")})

Each entry names the command object ("module:attribute") and the one-line summary `--help` lists
without importing the module (tests/test_cli.py checks that each summary is the command's own).
"""
from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A click.Group that imports each command of `lazy` ({name: ("module:attribute", summary)}) when it
    is first looked up; its `--help` lists the summaries without importing anything."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            self.add_command(load_command(self.lazy[name][0]), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands:" section, as click writes it, from the summaries (imports nothing)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, summary_line(self.lazy[n][1], limit) if n in self.lazy
                 else self.commands[n].get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def load_command(target: str) -> click.Command:
    """The click command (or group) named by "package.module:attribute"."""
    module, attr = target.split(":")
    cmd = getattr(importlib.import_module(module), attr)
    if not isinstance(cmd, click.Command):
        raise TypeError(f"{target} is a {type(cmd).__name__}, not a click command")
    return cmd


def summary_line(summary: str, limit: int) -> str:
    """`summary` shortened to `limit` characters the way click shortens a command's help in a list."""
    return click.Command(None, help=summary).get_short_help_str(limit)

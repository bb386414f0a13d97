"""The `lvr` command line as a whole: lazy loading (`lvr --help` imports no command module), each summary
`lvr --help` lists is its command's own, and `python -m lvr.eval` runs without lvr.cli."""
from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from lvr.cli import COMMANDS, cli
from lvr.cli.lazy import load_command, summary_line

MODULES = sorted({target.split(":")[0] for target, _ in COMMANDS.values()})


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def test_help_imports_no_command_module_and_no_torch():
    out = _python("import sys; from lvr.cli import cli; cli(['--help'], standalone_mode=False); "
                  "print(sorted(m for m in sys.modules if m.startswith(('torch', 'transformers', 'lvr.'))))")
    loaded = eval(out.strip().splitlines()[-1])
    assert "lvr.cli.lazy" in loaded and not [m for m in loaded if m.endswith("_cmds")]
    assert not [m for m in loaded if m.startswith(("torch", "transformers"))]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_the_commands_own(name):
    target, summary = COMMANDS[name]
    cmd = load_command(target)
    assert cmd.name == name
    assert " ".join(cmd.help.split("\n\n")[0].split()) == summary
    for limit in (30, 45, 80):
        assert summary_line(summary, limit) == cmd.get_short_help_str(limit)


def test_register_adds_exactly_the_listed_commands():
    group = click.Group()
    for module in MODULES:
        importlib.import_module(module).register(group)
    assert {name: cmd for name, cmd in group.commands.items()} == \
        {name: load_command(target) for name, (target, _) in COMMANDS.items()}


def test_a_lazy_command_runs_and_unknown_names_fail(tmp_path):
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["init", str(tmp_path / "ws")])
    assert r.exit_code == 0 and "schema v" in r.output
    r = CliRunner().invoke(cli, ["no-such-command"])
    assert r.exit_code == 2 and "No such command" in r.output


def test_python_m_lvr_eval_needs_no_lvr_cli():
    out = _python("import sys, lvr.eval.__main__; print([m for m in sys.modules if m.startswith('lvr.cli')])")
    assert out.strip().splitlines()[-1] == "[]"
    r = subprocess.run([sys.executable, "-m", "lvr.eval", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "python -m lvr.eval" in r.stdout
    assert all(c in r.stdout for c in ("run", "compare", "show", "list", "check"))
    lvr_eval = load_command(COMMANDS["eval"][0])
    from lvr.eval.cli import eval_group
    assert set(lvr_eval.commands) == {*eval_group.commands, "import", "ceiling"}

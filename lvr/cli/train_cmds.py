"""`lvr train sft|grpo CONFIG [key=value ...]`, `lvr train keys`, `lvr filter-difficulty WS`.

    lvr train sft configs/tiny/sft.yaml workspace=demo                 # a tracked job; its log streams here
    lvr train grpo configs/tiny/grpo.yaml workspace=demo --nproc 2     # torchrun with 2 processes
    lvr train sft configs/tiny/sft.yaml --workspace demo --foreground  # in this process (nproc 1)
    lvr train keys grpo                                                # every config key with help
    lvr jobs demo resume <job id>                                      # continue a killed run
    lvr filter-difficulty demo --checkpoint latest:sft --k 8           # mark always right/wrong items

A job keeps running when the log stream is interrupted (Ctrl-C): follow it again with
`lvr jobs WS logs JOB`. The config is validated before anything is launched. Stages and their config
classes: lvr.train.configs.STAGES.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import click
from tqdm import tqdm

from lvr.config import ConfigError, click_option, describe, load_config, to_dict
from lvr.jobs import follow as follow_job
from lvr.jobs import launch, python_command
from lvr.store import Workspace
from lvr.train.configs import STAGES, RunConfig, stage_config_class
from lvr.train.difficulty import filter_difficulty


def _load(stage: str, config: str | None, overrides: list[str]):
    try:
        return load_config(stage_config_class(stage), config, overrides)
    except ConfigError as e:
        raise click.UsageError(f"config: {e}") from None


def _stream(ws, job: str, poll: float = 0.5) -> str:
    """Print the job's log as it grows until the job ends; returns its final status."""
    return follow_job(ws, job, click.echo, poll=poll)["status"]


def _run(stage: str, config: str, overrides: tuple[str, ...], workspace: str | None, nproc: int, job: bool,
         follow: bool) -> None:
    config_path = str(Path(config).resolve()) if "=" not in config else None
    overrides = list(overrides) if config_path else [config, *overrides]
    if workspace:
        overrides.append(f"workspace={Path(workspace).resolve()}")
    cfg = _load(stage, config_path, overrides)
    module = STAGES[stage][0]
    args = ["-m", module, *([config_path] if config_path else []), *overrides]
    if not job:
        if nproc > 1:
            sys.exit(subprocess.call(python_command(nproc, args)))
        importlib.import_module(module).train(cfg)
        return
    if not cfg.workspace:
        raise click.UsageError("a tracked job needs a workspace: pass workspace=DIR or --workspace DIR")
    ws = Workspace.open(cfg.workspace)
    job_id = launch(ws, stage, args, config=to_dict(cfg), nproc=nproc)
    click.echo(f"launched {stage} job {job_id} ({nproc} process{'es' if nproc > 1 else ''}); "
               f"run dir {ws.resolve(ws.get_job(job_id)['run_dir'])}")
    if not follow:
        return
    try:
        status = _stream(ws, job_id)
    except KeyboardInterrupt:
        click.echo(f"\nstopped following; the job goes on: lvr jobs {ws.root} logs {job_id}")
        return
    click.echo(f"job {job_id}: {status}")
    if status != "succeeded":
        sys.exit(1)


def _stage_command(stage: str, help_text: str) -> click.Command:
    """`lvr train <stage> CONFIG [key=value …]` (the same options for every stage)."""
    @click.command(stage, help=help_text, context_settings={"ignore_unknown_options": True})
    @click.argument("config")
    @click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
    @click_option(RunConfig, "workspace", "--workspace", "-w")   # the same key as workspace=DIR
    @click.option("--nproc", default=1, show_default=True, help="processes (torchrun --nproc_per_node)")
    @click.option("--job/--foreground", default=True, show_default=True,
                  help="run as a tracked job (lvr.jobs) or in this terminal")
    @click.option("--follow/--detach", default=True, show_default=True, help="stream the job's log until it ends")
    def cmd(config, overrides, workspace, nproc, job, follow):
        _run(stage, config, overrides, workspace, nproc, job, follow)
    return cmd


@click.group("train")
def train_group() -> None:
    """CoT-SFT and GRPO training (DeepSpeed), as tracked jobs."""


sft_cmd = _stage_command("sft", "CoT-SFT from CONFIG (YAML) with key=value overrides, e.g. optim.lr=1e-5.")
grpo_cmd = _stage_command("grpo", "GRPO/DAPO/Dr.GRPO from CONFIG (YAML) with key=value overrides, "
                                  "e.g. rollout.temperature=0.7.")
train_group.add_command(sft_cmd)
train_group.add_command(grpo_cmd)


@train_group.command("keys")
@click.argument("stage", type=click.Choice(sorted(STAGES)))
def keys_cmd(stage: str) -> None:
    """Every config key of a stage with its type, default and help."""
    click.echo("\n".join(describe(stage_config_class(stage))))


@click.command("filter-difficulty")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.option("--checkpoint", required=True, help="checkpoint id, latest:<stage>, or a model directory")
@click.option("--k", default=8, show_default=True, help="samples per question")
@click.option("--split", default="rl", show_default=True)
@click.option("--frames", default=8, show_default=True, help="frames per video")
@click.option("--max-new-tokens", default=256, show_default=True)
@click.option("--temperature", default=1.0, show_default=True)
@click.option("--limit", default=None, type=int, help="only the first N items")
def filter_difficulty_cmd(workspace, checkpoint, k, split, frames, max_new_tokens, temperature, limit):
    """Sample K answers per item; mark items always right / always wrong (qa.difficulty = pass rate)."""
    ws = Workspace.open(workspace)
    bar = tqdm(desc="items", unit="item")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        report, rates = filter_difficulty(ws, checkpoint, k=k, split=split, num_frames=frames,
                                          max_new_tokens=max_new_tokens, temperature=temperature, limit=limit,
                                          progress=progress)
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        bar.close()
    click.echo(f"{len(rates)} items measured with k={k}; {report.summary()}")


def register(group: click.Group) -> None:
    group.add_command(train_group)
    group.add_command(filter_difficulty_cmd)

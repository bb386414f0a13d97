"""`lvr train sft|grpo CONFIG [key=value ...]`, `lvr train keys`, `lvr filter-difficulty WS`.

    lvr train sft configs/tiny/sft.yaml workspace=demo                 # a tracked job; its log streams here
    lvr train grpo configs/tiny/grpo.yaml workspace=demo --nproc 2     # torchrun with 2 processes
    lvr train sft configs/tiny/sft.yaml --workspace demo --foreground  # in this process (nproc 1)
    lvr train keys grpo                                                # every config key with help
    lvr jobs demo resume <job id>                                      # continue a killed run
    lvr filter-difficulty demo --checkpoint latest:sft --k 8           # mark always right/wrong items

A job keeps running when the log stream is interrupted (Ctrl-C): follow it again with
`lvr jobs WS logs JOB`. The config is validated before anything is launched.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

STAGES = {"sft": ("lvr.train.sft", "SFTConfig"), "grpo": ("lvr.train.grpo", "GRPOConfig")}


def _config_class(stage: str):
    from lvr.train import configs

    return getattr(configs, STAGES[stage][1])


def _load(stage: str, config: str | None, overrides: list[str]):
    from lvr.config import ConfigError, load_config

    try:
        return load_config(_config_class(stage), config, overrides)
    except ConfigError as e:
        raise click.UsageError(f"config: {e}") from None


def _stream(ws, job: str, poll: float = 0.5) -> str:
    """Print the job's log as it grows until the job ends; returns its final status."""
    from lvr.jobs import refresh

    log = ws.resolve(ws.get_job(job)["log_path"])
    pos = 0
    while True:
        status = refresh(ws, job)["status"]
        if log.exists():
            with open(log, "rb") as f:
                f.seek(pos)
                chunk = f.read()
                pos += len(chunk)
            if chunk:
                click.echo(chunk.decode("utf-8", "replace"), nl=False)
        if status not in ("queued", "running"):
            return status
        time.sleep(poll)


def _run(stage: str, config: str, overrides: tuple[str, ...], workspace: str | None, nproc: int, job: bool,
         follow: bool) -> None:
    import subprocess

    from lvr.config import to_dict

    config_path = str(Path(config).resolve()) if "=" not in config else None
    overrides = list(overrides) if config_path else [config, *overrides]
    if workspace:
        overrides.append(f"workspace={Path(workspace).resolve()}")
    cfg = _load(stage, config_path, overrides)
    module = STAGES[stage][0]
    args = ["-m", module, *([config_path] if config_path else []), *overrides]
    if not job:
        if nproc > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
            sys.exit(subprocess.call(cmd))
        import importlib

        importlib.import_module(module).train(cfg)
        return
    from lvr.jobs import launch
    from lvr.store import Workspace

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


def _stage_command(group: click.Group, stage: str, help_text: str) -> None:
    @group.command(stage, help=help_text, context_settings={"ignore_unknown_options": True})
    @click.argument("config")
    @click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
    @click.option("--workspace", "-w", default=None, help="workspace folder (same as workspace=DIR)")
    @click.option("--nproc", default=1, show_default=True, help="processes (torchrun --nproc_per_node)")
    @click.option("--job/--foreground", default=True, show_default=True,
                  help="run as a tracked job (lvr.jobs) or in this terminal")
    @click.option("--follow/--detach", default=True, show_default=True, help="stream the job's log until it ends")
    def cmd(config, overrides, workspace, nproc, job, follow):
        _run(stage, config, overrides, workspace, nproc, job, follow)


def register(cli: click.Group) -> None:
    @cli.group()
    def train() -> None:
        """CoT-SFT and GRPO training (DeepSpeed), as tracked jobs."""

    _stage_command(train, "sft", "CoT-SFT from CONFIG (YAML) with key=value overrides, e.g. optim.lr=1e-5.")
    _stage_command(train, "grpo", "GRPO/DAPO/Dr.GRPO from CONFIG (YAML) with key=value overrides, "
                                  "e.g. rollout.temperature=0.7.")

    @train.command("keys")
    @click.argument("stage", type=click.Choice(sorted(STAGES)))
    def keys(stage: str) -> None:
        """Every config key of a stage with its type, default and help."""
        from lvr.config import describe

        click.echo("\n".join(describe(_config_class(stage))))

    @cli.command("filter-difficulty")
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
        from tqdm import tqdm

        from lvr.store import Workspace
        from lvr.train.difficulty import filter_difficulty

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

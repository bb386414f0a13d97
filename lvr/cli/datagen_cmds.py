"""`lvr caption`, `lvr generate`, `lvr filter`, `lvr export`, `lvr import`: the data pipeline from the shell.

    lvr caption  WS --backend openai --model gpt-4o --frames 8 --concurrency 16
    lvr generate WS --backend openai --model deepseek-r1 --categories temporal,goal --per-category 4
    lvr generate WS --failures                        # failed units, with their reasons
    lvr filter   WS --dedup --balance-letters --split rl
    lvr export   WS out/sft.jsonl --split sft --format jsonl      (or --format hf OUT_DIR)
    lvr import   WS longvideo_reason.jsonl --videos ./longvila_videos --split eval [--categories map.csv]

The OpenAI-compatible backend reads LVR_LLM_BASE_URL, LVR_LLM_API_KEY (or OPENAI_API_KEY) and
LVR_LLM_MODEL; options given here win. Caption and generate jobs are resumable: run the same
command again after an interruption and only the remaining units are done. The backend, caption and
generate flags are written from BackendConfig / CaptionConfig / GenerateConfig (lvr.config.click_option).
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

import click
from tqdm import tqdm

from lvr.config import click_option, click_options
from lvr.datagen import (
    BackendConfig,
    CaptionConfig,
    GenerateConfig,
    caption_clips,
    export_items,
    failures,
    generate_qa,
    import_file,
    mark_duplicates,
)
from lvr.datagen import balance_letters as balance_item_letters
from lvr.datagen.release import load_category_map
from lvr.store import CATEGORIES, Workspace


def _backend_options(f):
    """The backend flags (BackendConfig fields; not given = the environment's or the backend's own) + --factory."""
    opts = [
        click_option(BackendConfig, "kind", "--backend"),
        click_option(BackendConfig, "model", default=None),
        click_option(BackendConfig, "base_url"),
        click_option(BackendConfig, "concurrency", help="units (and requests) in flight"),
        click_option(BackendConfig, "timeout"),
        click_option(BackendConfig, "max_retries"),
        click_option(BackendConfig, "temperature", default=None),
        click_option(BackendConfig, "max_tokens", default=None),
        click.option("--factory", default=None, help="package.module:function building a custom backend."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _backend_config(kind, model, base_url, concurrency, timeout, max_retries, temperature, max_tokens):
    kw = dict(kind=kind, model=model, base_url=base_url, concurrency=concurrency, timeout=timeout,
              max_retries=max_retries, temperature=temperature, max_tokens=max_tokens)
    if kind == "openai":
        return BackendConfig.from_env(**kw)
    return BackendConfig(**{k: v for k, v in kw.items() if v is not None and k != "base_url"})


def _bar(desc: str):
    state: dict = {}

    def update(report) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=report.total, unit="unit", desc=desc, file=sys.stderr)
        done = report.succeeded + report.failed
        bar.set_postfix(ok=report.succeeded, failed=report.failed, refresh=False)
        bar.update(done - bar.n)

    def close() -> None:
        if state.get("bar") is not None:
            state["bar"].close()

    return update, close


@contextlib.contextmanager
def _stop_on_sigterm():
    """While a job runs, SIGTERM ends it like Ctrl-C: in-flight units are cancelled, the job row says `cancelled`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fail(e: Exception) -> None:
    raise click.ClickException(str(e))


def _run_job(desc: str, run):
    """`run(progress)` under a progress bar, SIGTERM ending it like Ctrl-C; a refused input ends the command."""
    update, close = _bar(desc)
    try:
        with _stop_on_sigterm():
            return run(update)
    except (ValueError, KeyError, FileNotFoundError) as e:
        _fail(e)
    finally:
        close()


def _print_failures(ws, tasks, limit, show_raw) -> None:
    rows = failures(ws, tasks=tasks, limit=limit)
    if not rows:
        click.echo("no failed units waiting (every failed unit later succeeded, or none failed)")
        return
    for r in rows:
        src = ":".join(x for x in (r["backend"], r["model"]) if x)
        click.echo(f"#{r['id']} {r['task']} {r['key']} [{src}] attempts={r['attempts']}: "
                   f"{r['reason']}")
        if show_raw and r.get("raw"):
            click.echo("    " + r["raw"].replace("\n", "\n    "))
    click.echo(f"{len(rows)} failed output(s) of units not done yet; rerun the command to retry them")


@click.command("caption")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@_backend_options
@click_option(CaptionConfig, "frames")
@click_option(CaptionConfig, "videos", "--video")
@click_option(CaptionConfig, "overwrite")
@click.option("--failures", "show_failures", is_flag=True, help="List failed clips instead of captioning.")
@click.option("--show-raw", is_flag=True, help="With --failures: print each raw model answer.")
@click.option("--limit", default=50, show_default=True, help="With --failures: how many to list.")
def caption_cmd(workspace, kind, model, base_url, concurrency, timeout, max_retries, temperature, max_tokens,
                factory, frames, videos, overwrite, show_failures, show_raw, limit) -> None:
    """Caption every clip (N frames → one caption); resumable."""
    ws = Workspace.open(workspace)
    if show_failures:
        _print_failures(ws, ("caption",), limit, show_raw)
        return
    try:
        bcfg = _backend_config(kind, model, base_url, concurrency, timeout, max_retries, temperature, max_tokens)
        cfg = CaptionConfig(frames=frames, videos=videos or None, concurrency=concurrency, overwrite=overwrite)
    except ValueError as e:
        _fail(e)
    report = _run_job("caption", lambda progress: caption_clips(ws, bcfg, cfg, factory=factory, progress=progress))
    click.echo(report.summary())
    for key, reason in report.failures[:10]:
        click.echo(f"FAILED {key}: {reason}", err=True)
    if report.total and report.failed == report.total:
        sys.exit(1)                       # every unit failed: the job failed, whatever --strict says


@click.command("generate")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@_backend_options
@click_option(GenerateConfig, "categories", multiple=False, type=str, default=",".join(CATEGORIES))
@click_options(GenerateConfig, "per_category", "attempts", "rewrite", "split")
@click_option(GenerateConfig, "videos", "--video")
@click.option("--failures", "show_failures", is_flag=True, help="List failed units instead of generating.")
@click.option("--show-raw", is_flag=True, help="With --failures: print each raw model answer.")
@click.option("--limit", default=50, show_default=True, help="With --failures: how many to list.")
@click.option("--strict", is_flag=True, help="Exit with status 1 if any unit failed.")
def generate_cmd(workspace, kind, model, base_url, concurrency, timeout, max_retries, temperature, max_tokens,
                 factory, categories, per_category, attempts, rewrite, split, videos, show_failures, show_raw, limit,
                 strict) -> None:
    """Generate reasoning QA items from clip captions (one per video × category × index); resumable."""
    ws = Workspace.open(workspace)
    if show_failures:
        _print_failures(ws, ("qa", "rewrite"), limit, show_raw)
        return
    try:
        bcfg = _backend_config(kind, model, base_url, concurrency, timeout, max_retries, temperature, max_tokens)
        cfg = GenerateConfig(categories=categories, per_category=per_category, videos=videos or None,
                             concurrency=concurrency, attempts=attempts, rewrite=rewrite, split=split,
                             temperature=temperature, max_tokens=max_tokens)
    except ValueError as e:
        _fail(e)
    report = _run_job("generate", lambda progress: generate_qa(ws, bcfg, cfg, factory=factory, progress=progress))
    click.echo(report.summary())
    skipped = report.extra.get("videos_without_captions") or []
    if skipped:
        click.echo(f"{len(skipped)} video(s) have no captions yet (run `lvr caption` first): "
                   f"{', '.join(skipped[:5])}", err=True)
    for key, reason in report.failures[:10]:
        click.echo(f"FAILED {key}: {reason}", err=True)
    if report.failures:
        click.echo(f"{report.failed} unit(s) failed; `lvr generate {workspace} --failures` lists them", err=True)
    if (strict and report.failures) or (report.total and report.failed == report.total):
        sys.exit(1)


@click.command("filter")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.option("--dedup", is_flag=True, help="Mark near-duplicate questions (MiniLM cosine).")
@click.option("--threshold", default=0.9, show_default=True, help="Cosine similarity that counts as duplicate.")
@click.option("--scope", type=click.Choice(["video", "all"]), default="video", show_default=True)
@click.option("--balance-letters", is_flag=True, help="Permute options so answer letters are balanced.")
@click.option("--seed", default=0, show_default=True)
@click.option("--split", default=None, help="Only items of this split.")
@click.option("--status", "statuses", multiple=True, help="Only items with this status (repeatable).")
@click.option("--category", default=None)
@click.option("--source", default=None)
def filter_cmd(workspace, dedup, threshold, scope, balance_letters, seed, split, statuses, category,
               source) -> None:
    """Filters on a set of items: near-duplicates (marked), answer-letter balance."""
    if not (dedup or balance_letters):
        raise click.UsageError("choose at least one of --dedup, --balance-letters")
    ws = Workspace.open(workspace)
    sel = dict(split=split, status=list(statuses) or None, category=category, source=source)
    if dedup:
        click.echo("loading MiniLM and embedding questions …", err=True)
        report = mark_duplicates(ws, threshold=threshold, scope=scope, **sel)
        click.echo(report.summary())
    if balance_letters:
        report = balance_item_letters(ws, seed=seed, duplicate=False, **sel)
        click.echo(report.summary())


@click.command("export")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path())
@click.option("--split", type=click.Choice(["sft", "rl", "eval", "all"]), default="all", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "hf"]), default="jsonl", show_default=True)
@click.option("--status", "statuses", multiple=True,
              help="Only these statuses (repeatable; default: everything but rejected).")
@click.option("--include-duplicates", is_flag=True, help="Also export items marked as near-duplicates.")
@click.option("--category", default=None)
@click.option("--video-root", default=None, type=click.Path(file_okay=False),
              help="Write video paths relative to this folder.")
def export_cmd(workspace, out, split, fmt, statuses, include_duplicates, category, video_root) -> None:
    """Export items as LongVideo-Reason rows (JSONL file or Hugging Face dataset folder)."""
    ws = Workspace.open(workspace)
    statuses = list(statuses) or ["pending", "draft", "approved"]
    try:
        n = export_items(ws, out, fmt=fmt, split=split, statuses=statuses,
                         exclude_duplicates=not include_duplicates, category=category, video_root=video_root)
    except (ValueError, FileExistsError) as e:
        _fail(e)
    click.echo(f"exported {n} item(s) ({split}, {', '.join(statuses)}) to {out} as {fmt}")


@click.command("import")
@click.argument("workspace", type=click.Path(file_okay=False))
@click.argument("file", type=click.Path(exists=True))
@click.option("--videos", "videos_dir", default=None, type=click.Path(file_okay=False),
              help="Folder holding the rows' videos.")
@click.option("--split", type=click.Choice(["sft", "rl", "eval"]), default=None, help="Override every row's split.")
@click.option("--status", type=click.Choice(["pending", "draft", "approved", "rejected"]), default=None,
              help="Override every row's status (default: the row's, else pending).")
@click.option("--source", default=None, help="Source name (default: the row's, else import:<file>).")
@click.option("--copy/--link", default=False, help="Copy videos into the workspace's media/.")
@click.option("--categories", "categories_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="JSON/JSONL/CSV mapping problem_id → category, for rows without a category column.")
@click.option("--strict", is_flag=True, help="Exit with status 1 if a row was rejected or a video is missing.")
def import_cmd(workspace, file, videos_dir, split, status, source, copy, categories_file, strict) -> None:
    """Import a LongVideo-Reason-style JSONL/JSON file or datasets folder (with its videos)."""
    try:
        cmap = load_category_map(categories_file) if categories_file else None
    except (ValueError, FileNotFoundError) as e:
        _fail(e)
    ws = Workspace.open(workspace, create=True)
    with tqdm(unit="row", desc="import", file=sys.stderr) as bar:
        try:
            report = import_file(ws, file, videos_dir=videos_dir, split=split, status=status, source=source,
                                 copy=copy, category_map=cmap, progress=lambda _n: bar.update())
        except (ValueError, FileNotFoundError) as e:
            _fail(e)
    click.echo(report.summary())
    for line in report.notes():
        click.echo(line)
    for row, cause in report.errors[:20]:
        click.echo(f"ERROR {file} row {row}: {cause}", err=True)
    for row, cause in report.missing_videos[:20]:
        click.echo(f"MISSING VIDEO {file} row {row}: {cause}", err=True)
    if strict and (report.errors or report.missing_videos):
        sys.exit(1)


COMMANDS = (caption_cmd, generate_cmd, filter_cmd, export_cmd, import_cmd)


def register(group: click.Group) -> None:
    for cmd in COMMANDS:
        group.add_command(cmd)

"""`lvr model init-tiny|info|adopt` and `lvr chat`: models from the shell.

    lvr model init-tiny ws/checkpoints/tiny --kind composite --workspace ws
    lvr model info ws/checkpoints/tiny
    lvr model adopt LongVILA-R1-7B             # a VILA-format folder (or an HF Qwen2.5-VL / Qwen3-VL one)
    lvr model check ws/checkpoints/tiny        # rollout inputs = training inputs (pass/fail table)
    lvr chat ws --checkpoint tiny-base --video vid_1 "What happens first?" --frames 16 \\
        --option "the car stops" --option "…" --option "…" --option "…"

`lvr chat` streams the model's thinking and answer as they are generated. The checkpoint is a
registered checkpoint id (or path) in the workspace or a directory; the video is a workspace
video id or a file path. Module-level click commands; `register(group)` adds `model` and `chat`.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np
from transformers.utils import logging as hf_logging

from lvr.media import frame_spec, video_frames
from lvr.model import (
    CheckpointError,
    CompositeVideoLM,
    adopt_hf_checkpoint,
    generate_stream,
    init_tiny,
    load_model,
    model_type_of,
    parse_response,
    read_lvr_config,
    register_checkpoint,
)
from lvr.model.vila import adopt_vila_checkpoint
from lvr.model.vila_format import VilaFormatError, is_vila_folder
from lvr.store import Workspace
from lvr.train.parity import all_passed, check_parity, format_table
from lvr.video import VideoError


def _resolve_checkpoint(ws, ref: str) -> Path:
    if Path(ref).is_dir():
        return Path(ref)
    try:
        return Path(ws.get_checkpoint(ref)["abspath"])
    except KeyError:
        raise click.BadParameter(f"{ref!r} is neither a directory nor a checkpoint registered in {ws.root}",
                                 param_hint="--checkpoint") from None


def _resolve_video(ws, ref: str) -> Path:
    if Path(ref).is_file():
        return Path(ref)
    try:
        return ws.video_path(ref)
    except KeyError:
        raise click.BadParameter(f"{ref!r} is neither a video file nor a video id in {ws.root}",
                                 param_hint="--video") from None


def _info(directory: Path) -> dict:
    cfg = read_lvr_config(directory)
    model = load_model(directory)
    info = {"path": str(directory), "model_type": model.model_type, "parameters": model.parameter_counts(),
            "vocab_size": len(model.tokenizer), "hidden_size": model.hidden_size,
            "frames_per_group": model.frames_per_group, "video_token": model.video_token, "lvr_config": cfg}
    if isinstance(model, CompositeVideoLM):
        info["tokens_per_frame"] = model.tokens_per_frame
        info["image_size"] = model.image_size
        info["vision_tower"] = type(model.vision_tower).__name__
        info["llm"] = type(model.llm).__name__
    else:
        info["tokens_per_group_448x448"] = model.tokens_per_group((448, 448))
    return info


def _quiet_transformers() -> None:
    """No per-file progress bars from transformers on the terminal (loading tiny models is instant)."""
    hf_logging.disable_progress_bar()


def _check_frames(num_frames: int, size: str, video: str | None):
    """Frames for `lvr model check`: sampled from a video, or smooth random uint8 frames of `size`."""
    if video:
        try:
            s = video_frames(video, frame_spec(num_frames))
        except VideoError as e:
            raise click.ClickException(str(e)) from None
        return s.frames, list(s.timestamps)
    try:
        h, w = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{size!r} is not HxW", param_hint="--size") from None
    rng = np.random.RandomState(0)
    base = rng.randint(0, 256, (num_frames, h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
    frames = np.repeat(np.repeat(base, 8, axis=1), 8, axis=2)[:, :h, :w].copy()
    return frames, [0.5 * i for i in range(num_frames)]


@click.group("model")
def model_group() -> None:
    """Video-language model checkpoints: create tiny ones, inspect, adopt HF and VILA folders."""


@model_group.command("init-tiny")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--kind", type=click.Choice(["composite", "qwen2_5_vl", "qwen3_vl"]), default="composite",
              show_default=True)
@click.option("--workspace", "workspace", type=click.Path(exists=True, file_okay=False), default=None,
              help="Add this workspace's QA/caption texts to the tokenizer corpus and register the checkpoint.")
@click.option("--vision", type=click.Choice(["siglip", "clip"]), default="siglip", show_default=True,
              help="Vision tower of a composite model.")
@click.option("--llm", type=click.Choice(["qwen2", "qwen3", "llama"]), default="qwen2", show_default=True,
              help="Causal LM of a composite model.")
@click.option("--seed", default=0, show_default=True)
@click.option("--vocab-size", default=3000, show_default=True)
@click.option("--register/--no-register", default=True, show_default=True,
              help="With --workspace: register the checkpoint (stage 'base').")
def init_tiny_cmd(out: str, kind: str, workspace: str | None, vision: str, llm: str, seed: int,
                  vocab_size: int, register: bool) -> None:
    """Build a tiny random-init model (tokenizer trained locally) and save it to OUT."""
    _quiet_transformers()
    ws = None
    if workspace:
        ws = Workspace.open(workspace)
    t0 = time.time()
    m = init_tiny(out, kind, workspace=ws, vision=vision, llm=llm, seed=seed, vocab_size=vocab_size)
    counts = m.parameter_counts()
    click.echo(f"{m.model_type} model saved to {out}: {counts['total']:,} parameters, "
               f"vocab {len(m.tokenizer)} ({time.time() - t0:.1f}s)")
    if ws is not None and register:
        ckpt = register_checkpoint(ws, out, stage="base")
        click.echo(f"registered checkpoint {ckpt}")


@model_group.command("info")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def info_cmd(directory: str, as_json: bool) -> None:
    """Model type, parameter counts, tokens per frame and config of a checkpoint."""
    _quiet_transformers()
    try:
        info = _info(Path(directory))
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        if key == "parameters":
            value = ", ".join(f"{k} {v:,}" for k, v in value.items())
        elif key == "lvr_config":
            value = json.dumps(value, sort_keys=True)
        click.echo(f"{key:>24}: {value}")


@model_group.command("adopt")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--prompt-style", type=click.Choice(["longvila_r1", "plain"]), default=None,
              help="VILA folders: thinking prompts as LongVILA-R1's user-turn instruction (default) or plain.")
@click.option("--video-position", type=click.Choice(["after_text", "before_text"]), default=None,
              help="VILA folders: where the video goes in the user turn (default after the text).")
def adopt_cmd(directory: str, prompt_style: str | None, video_position: str | None) -> None:
    """Write lvr_config.json into an HF Qwen2.5-VL or Qwen3-VL folder, or a VILA-format folder (config.json with
    llm_cfg / vision_tower_cfg / mm_projector_cfg + llm/ vision_tower/ mm_projector/) so lvr can load it.
    Nothing else in the folder changes: llm/ stays a plain HF folder vLLM loads."""
    _quiet_transformers()
    overrides = {k: v for k, v in (("prompt_style", prompt_style), ("video_position", video_position)) if v}
    try:
        if is_vila_folder(directory):
            adopt_vila_checkpoint(directory, **overrides)
            click.echo(f"{directory}: lvr_config.json written (model_type lvr_composite, VILA format)")
            return
        if overrides:
            raise click.UsageError("--prompt-style / --video-position apply to VILA-format folders only")
        adopt_hf_checkpoint(directory)
        kind = model_type_of(directory)
    except (CheckpointError, VilaFormatError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{directory}: lvr_config.json written (model_type {kind})")


@model_group.command("check")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--frames", "-n", "num_frames", default=8, show_default=True, help="Frames of the test item.")
@click.option("--size", default="224x224", show_default=True, help="Frame size HxW of generated frames.")
@click.option("--video", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Sample the frames from this video instead of generating them.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 … (default: cpu).")
@click.option("--dtype", default=None, help="float32 / bfloat16 (default: float32 on CPU, bf16 on GPUs).")
def check_cmd(directory: str, num_frames: int, size: str, video: str | None, device: str | None,
              dtype: str | None) -> None:
    """Parity check: for one item, the token ids, positions, video embeddings and frames the rollout
    engines are fed equal what the training forward (SFT and GRPO) uses. Exit status 1 on a failure."""
    _quiet_transformers()
    frames, timestamps = _check_frames(num_frames, size, video)
    try:
        model = load_model(Path(directory), device=device, dtype=dtype)
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    t0 = time.time()
    rows = check_parity(model, frames, timestamps)
    click.echo(f"{model.model_type} {directory}: {len(frames)} frames {frames.shape[1]}x{frames.shape[2]}")
    click.echo(format_table(rows))
    ok = all_passed(rows)
    click.echo(f"{'PASS' if ok else 'FAIL'} ({time.time() - t0:.1f}s)")
    if not ok:
        sys.exit(1)


@click.command("chat")
@click.argument("workspace", type=click.Path(exists=True, file_okay=False))
@click.argument("question")
@click.option("--checkpoint", "-c", required=True,
              help="Checkpoint id/path registered in WORKSPACE, or a directory.")
@click.option("--video", "-v", required=True, help="Video id in WORKSPACE, or a video file.")
@click.option("--frames", "-n", default=16, show_default=True, help="Frames sampled uniformly.")
@click.option("--option", "options", multiple=True, help="An answer option (repeat for A, B, C, D).")
@click.option("--think/--no-think", default=True, show_default=True, help="Ask for <think> reasoning.")
@click.option("--max-new-tokens", default=512, show_default=True)
@click.option("--temperature", default=0.0, show_default=True, help="0 = greedy.")
@click.option("--top-p", default=1.0, show_default=True)
@click.option("--seed", default=None, type=int)
@click.option("--device", default=None, help="cpu, cuda, cuda:1 … (default: cpu).")
def chat_cmd(workspace: str, question: str, checkpoint: str, video: str, frames: int, options: tuple[str, ...],
             think: bool, max_new_tokens: int, temperature: float, top_p: float, seed: int | None,
             device: str | None) -> None:
    """Ask a checkpoint a question about a video; stream its thinking and answer."""
    _quiet_transformers()
    ws = Workspace.open(workspace)
    ckpt_dir = _resolve_checkpoint(ws, checkpoint)
    video_path = _resolve_video(ws, video)
    try:
        model = load_model(ckpt_dir, device=device)
    except CheckpointError as e:
        raise click.ClickException(str(e)) from None
    try:
        sampled = video_frames(video_path, frame_spec(frames))
    except VideoError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{model.model_type} {ckpt_dir} | {video_path.name}: {len(sampled)} frames "
               f"({sampled.timestamps[0]:.1f}s … {sampled.timestamps[-1]:.1f}s)", err=True)
    t0 = time.time()
    full = _echo_stream(generate_stream(model, sampled.frames, question, list(options) or None,
                                        timestamps=sampled.timestamps, think=think, max_new_tokens=max_new_tokens,
                                        temperature=temperature, top_p=top_p, seed=seed))
    parsed = parse_response(full, think=think, n_options=len(options) or 4, options=list(options) or None)
    click.echo(f"[letter={parsed.letter} format_ok={parsed.format_ok} {time.time() - t0:.1f}s]")


def _echo_stream(events) -> str:
    """Print streamed events under a "── thinking ──" / "── answer ──" heading each (thinking dimmed);
    returns the full text of the "done" event, and ends on a fresh line."""
    current, full, at_line_start = None, "", True
    for ev in events:
        if ev.kind == "done":
            full = ev.text
            break
        text = ev.text
        if ev.kind != current:
            title = {"thinking": "thinking", "answer": "answer", "text": "output"}[ev.kind]
            click.echo(("" if at_line_start else "\n") + click.style(f"── {title} ──", bold=True))
            current, text = ev.kind, text.lstrip()
        if not text:
            continue
        click.echo(click.style(text, dim=True) if ev.kind == "thinking" else text, nl=False)
        at_line_start = text.endswith("\n")
        sys.stdout.flush()
    click.echo("" if at_line_start else "\n", nl=False)
    return full


def register(group: click.Group) -> None:
    group.add_command(model_group)
    group.add_command(chat_cmd)

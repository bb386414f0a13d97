"""`lvr probe`, `lvr thumbnail`, `lvr contact-sheet`: look at video files from the shell.

    lvr probe a.mp4 b.mp4            # one line per file; bad files reported, the rest go on (exit 1)
    lvr probe --json a.mp4           # one JSON object per line (keyframe lists included)
    lvr thumbnail a.mp4 --at 12.5 -o thumb.jpg
    lvr contact-sheet a.mp4 -n 16 --cols 4 -o sheet.jpg
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lvr.video import VideoError, contact_sheet, probe, thumbnail


@click.command("probe")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per file")
def probe_cmd(files: tuple[Path, ...], as_json: bool) -> None:
    """Show duration, fps, frames, size, codec and keyframe spacing of video FILES."""
    failed = 0
    for f in files:
        try:
            info = probe(f)
        except VideoError as e:
            failed += 1
            click.echo(f"error: {e}", err=True)
            continue
        if as_json:
            click.echo(json.dumps(info.to_dict()))
        else:
            click.echo(f"{f}: {info.duration:.2f}s {info.fps:.3f}fps {info.n_frames} frames "
                       f"{info.width}x{info.height} {info.codec}/{info.pix_fmt} "
                       f"keyframes={len(info.keyframe_indices)} gop~{info.keyframe_interval:g}")
    if failed:
        sys.exit(1)


@click.command("thumbnail")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--at", "t", type=float, default=0.0, show_default=True, help="time in seconds")
@click.option("--max-side", type=int, default=320, show_default=True)
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="output .jpg")
def thumbnail_cmd(file: Path, t: float, max_side: int, out: Path) -> None:
    """Write the frame of FILE shown at --at seconds as a JPEG."""
    try:
        out.write_bytes(thumbnail(file, t, max_side))
    except VideoError as e:
        raise click.ClickException(str(e)) from None
    click.echo(str(out))


@click.command("contact-sheet")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-n", "n", type=int, default=16, show_default=True, help="frames (keyframes) to show")
@click.option("--cols", type=int, default=4, show_default=True)
@click.option("--tile-width", type=int, default=240, show_default=True)
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="output .jpg")
def contact_sheet_cmd(file: Path, n: int, cols: int, tile_width: int, out: Path) -> None:
    """Write a grid of keyframes spread over FILE, labelled with their times, as a JPEG."""
    try:
        out.write_bytes(contact_sheet(file, n=n, cols=cols, tile_width=tile_width))
    except VideoError as e:
        raise click.ClickException(str(e)) from None
    click.echo(str(out))


def register(group: click.Group) -> None:
    for cmd in (probe_cmd, thumbnail_cmd, contact_sheet_cmd):
        group.add_command(cmd)

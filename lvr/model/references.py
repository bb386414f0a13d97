"""Model references as users type them: a checkpoint id, a registered path, a directory, `latest:<stage>` or
`tiny:<kind>`, resolved to a model directory (and its checkpoint id) in a workspace.

    path, ckpt_id = resolve_model(ws, "latest:sft")      # lvr train, lvr eval, the recipe and the app use this
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .checkpoint import register_checkpoint
from .tiny import init_tiny


def resolve_model(ws, ref: str, register: bool = True) -> tuple[Path, str | None]:
    """A model reference (checkpoint id, registered path, or a directory) → (path, checkpoint id).

    An unregistered directory is registered as stage "base" so lineage works from it (`register=False`, as
    evaluation does: it stays unregistered, id None). Two
    shorthands need a workspace: `latest:<stage>` (the newest registered checkpoint of a stage,
    e.g. latest:sft) and `tiny:<kind>` (a tiny random-init model of kind lvr_composite or
    qwen2_5_vl, built once into <workspace>/checkpoints/tiny-<kind> with the workspace's texts in
    its tokenizer — the CPU demo's starting point).
    """
    if ws is not None and ref.startswith("latest:"):
        stage = ref.split(":", 1)[1]
        rows = ws.list_checkpoints(stage=stage)
        if not rows:
            raise FileNotFoundError(f"model {ref!r}: the workspace has no checkpoint of stage {stage!r} yet")
        return Path(rows[-1]["abspath"]), rows[-1]["id"]
    if ws is not None and ref.startswith("tiny:"):
        kind = ref.split(":", 1)[1]
        out = ws.checkpoints_dir / f"tiny-{kind}"
        if not (out / "lvr_config.json").is_file():
            tmp = out.with_name(f".{out.name}.tmp")
            if tmp.exists():
                shutil.rmtree(tmp)
            init_tiny(tmp, kind=kind, workspace=ws)
            os.replace(tmp, out)
        return out.resolve(), register_checkpoint(ws, out.resolve(), stage="base")
    if ws is not None:
        try:
            row = ws.get_checkpoint(ref)
            return Path(row["abspath"]), row["id"]
        except KeyError:
            pass
    p = Path(ref).expanduser()
    if not p.is_absolute() and ws is not None and not p.exists() and (ws.root / p).exists():
        p = ws.root / p
    if not p.is_dir():
        raise FileNotFoundError(f"model {ref!r} is neither a checkpoint id of the workspace nor a directory")
    if ws is None:
        return p.resolve(), None
    try:
        return p.resolve(), ws.get_checkpoint(ws.relativize(p))["id"]
    except KeyError:
        return p.resolve(), register_checkpoint(ws, p.resolve(), stage="base") if register else None

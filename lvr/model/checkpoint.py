"""Checkpoint directories: validate, load (by the declared model type), register in a workspace.

    model = load_model("ws/checkpoints/sft-1", device="cpu", dtype="float32")
    ckpt_id = register_checkpoint(ws, "ws/checkpoints/sft-1", stage="sft", parent=base_id, step=200)

The model type is read from `lvr_config.json` (`model_type`: "lvr_composite" | "qwen2_5_vl" | "qwen3_vl"),
never guessed from the path; a composite with `checkpoint_format: "vila"` is a VILA-format folder
(lvr.model.vila: top-level VILA config.json, tokenizer in llm/). Before loading, every file
the type needs is checked (present, JSON parses, safetensors header and size consistent); any
problem raises `CheckpointError` naming the directory and the missing or bad file.
`trust_remote_code` is off unless asked.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

from .config import (
    COMPOSITE,
    LVR_CONFIG,
    MODEL_TYPES,
    QWEN2_5_VL,
    QWEN3_VL,
    ConfigError,
    Qwen3VLOptions,
    QwenVLOptions,
    options_from_dict,
    write_json,
)

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing files or has a corrupted one."""

    def __init__(self, directory: str | Path, file: str | None, cause: str):
        self.directory, self.file, self.cause = str(directory), file, cause
        where = f"{directory}" + (f" (file {file})" if file else "")
        super().__init__(f"checkpoint {where}: {cause}")


def _json(d: Path, rel: str) -> dict:
    path = d / rel
    if not path.is_file():
        raise CheckpointError(d, rel, "missing file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(d, rel, f"not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise CheckpointError(d, rel, "expected a JSON object")
    return data


def _check_safetensors(d: Path, rel: str) -> None:
    """Header parses and the file is exactly as long as the header says (catches truncation)."""
    path = d / rel
    if not path.is_file():
        raise CheckpointError(d, rel, "missing file")
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise ValueError("file shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", raw)
            if n <= 0 or 8 + n > size:
                raise ValueError(f"header length {n} does not fit in a {size}-byte file")
            header = json.loads(f.read(n))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + n + end != size:
            raise ValueError(f"tensor data needs {8 + n + end} bytes, file has {size} (truncated or padded)")
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, struct.error) as e:
        raise CheckpointError(d, rel, f"corrupted safetensors file: {e}") from None


def _check_weights(d: Path, folder: str) -> None:
    base = d / folder if folder else d
    prefix = f"{folder}/" if folder else ""
    index = base / "model.safetensors.index.json"
    if index.is_file():
        data = _json(d, f"{prefix}model.safetensors.index.json")
        shards = sorted(set((data.get("weight_map") or {}).values()))
        if not shards:
            raise CheckpointError(d, f"{prefix}model.safetensors.index.json", "empty weight_map")
        for shard in shards:
            _check_safetensors(d, prefix + shard)
    elif (base / "model.safetensors").is_file():
        _check_safetensors(d, f"{prefix}model.safetensors")
    else:
        raise CheckpointError(d, f"{prefix}model.safetensors", "missing file (no safetensors weights)")


def _check_tokenizer(d: Path, folder: str = "") -> None:
    prefix = f"{folder}/" if folder else ""
    base = d / folder if folder else d
    if not any((base / f).is_file() for f in TOKENIZER_FILES):
        raise CheckpointError(d, f"{prefix}tokenizer.json",
                              "missing tokenizer (tokenizer.json / tokenizer_config.json)")
    for f in TOKENIZER_FILES:
        if (base / f).is_file():
            _json(d, prefix + f)


def read_lvr_config(directory: str | Path) -> dict:
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(d, None, "not a directory")
    data = _json(d, LVR_CONFIG)
    kind = data.get("model_type")
    if kind not in MODEL_TYPES:
        raise CheckpointError(d, LVR_CONFIG, f"model_type must be one of {list(MODEL_TYPES)}, got {kind!r}")
    try:
        options_from_dict(data, str(d / LVR_CONFIG))
    except ConfigError as e:
        raise CheckpointError(d, LVR_CONFIG, str(e)) from None
    return data


def model_type_of(directory: str | Path) -> str:
    return read_lvr_config(directory)["model_type"]


def validate_checkpoint(directory: str | Path) -> str:
    """Check every file the declared model type needs; returns the model type."""
    d = Path(directory)
    cfg = read_lvr_config(d)
    kind = cfg["model_type"]
    vila = cfg.get("checkpoint_format") == "vila"
    _check_tokenizer(d, "llm" if vila else "")   # a VILA folder keeps its tokenizer in llm/ only
    if vila:
        _json(d, "config.json")                   # the top-level VILA config (llm_cfg, vision_tower_cfg, …)
        _json(d, "vision_tower/preprocessor_config.json")
    if kind == COMPOSITE:
        for folder in ("llm", "vision_tower", "mm_projector"):
            if not (d / folder).is_dir():
                raise CheckpointError(d, f"{folder}/", "missing component folder")
            _json(d, f"{folder}/config.json")
            _check_weights(d, folder)
    else:
        _json(d, "config.json")
        _check_weights(d, "")
    return kind


def register_checkpoint(ws, path: str | Path, stage: str, parent: str | None = None, step: int | None = None,
                        metrics: dict | None = None, job_id: str | None = None) -> str:
    """Validate a checkpoint directory and register it in the workspace (kind = its model type)."""
    kind = validate_checkpoint(path)
    return ws.register_checkpoint(Path(path), kind=kind, stage=stage, parent=parent, step=step,
                                  metrics=metrics, job_id=job_id)


def adopt_hf_checkpoint(directory: str | Path, options=None) -> Path:
    """Make an existing HF Qwen2.5-VL or Qwen3-VL folder (config.json + safetensors + tokenizer) an lvr
    checkpoint by writing its `lvr_config.json` (the weights are not touched). Returns the folder."""
    d = Path(directory)
    cfg = _json(d, "config.json")
    kind = cfg.get("model_type")
    defaults = {QWEN2_5_VL: QwenVLOptions, QWEN3_VL: Qwen3VLOptions}
    if kind not in defaults:
        raise CheckpointError(d, "config.json", f"model_type is {kind!r}, expected one of {sorted(defaults)}")
    if options is not None and options.model_type != kind:
        raise CheckpointError(d, "config.json", f"options for {options.model_type!r} given for a {kind!r} folder")
    write_json(d / LVR_CONFIG, (options or defaults[kind]()).to_dict())
    validate_checkpoint(d)
    return d

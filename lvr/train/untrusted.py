"""What a training config may contain when it comes from an untrusted caller: the workbench's HTTP API.

    from lvr.train.untrusted import check_recipe_path, check_untrusted
    path = check_recipe_path("configs/tiny/sft.yaml", ws.root)   # only YAMLs the operator put there
    cfg = load_config(SFTConfig, path, overrides)                  # validates, imports nothing
    check_untrusted(cfg, overrides, ws.root)                       # ConfigError naming the key

The CLI trusts its user (it is the operator's shell). Anyone who reaches the app does not get that
trust: the app starts training jobs from their form, so a config from the app must not make the server
run code, read or write files outside the workspace, or send the operator's secrets elsewhere:

* recipe files: a `.yaml`/`.yml` under the project's `configs/`, or the workspace's `configs/` or
  `runs/` folders. Any other path is refused with the same message whether or not it exists, and
  its text is never read, so an error cannot reveal another file's existence or keys;
* reward functions: registered names, or `file.py:function` with the file under `<workspace>/rewards/`
  (a folder only the operator writes; uploads land in Gradio's cache, never there). Checking a
  name never imports the file: it is imported by the training job only;
* paths (`model`, `ref_model`, `output_dir`, `resume`, `mrsp.vllm.engine_dir`): checkpoint ids,
  `latest:<stage>`, `tiny:<kind>`, or paths inside the workspace;
* operator-only keys (`OPERATOR_KEYS`: the judge's endpoint and key variable, DeepSpeed's free-form
  `extra`, `workspace`) cannot be overridden: they come from the recipe file or the environment.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable

from lvr.config import ConfigError, parse_overrides
from lvr.train.rewards import reward_names

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"
RECIPE_SUFFIXES = (".yaml", ".yml")
WORKSPACE_CONFIG_DIRS = ("configs", "runs")
REWARDS_DIR = "rewards"
OPERATOR_KEYS = ("reward.judge.base_url", "reward.judge.api_key_env", "deepspeed.extra", "workspace")
PATH_KEYS = ("model", "ref_model", "output_dir", "resume", "mrsp.vllm.engine_dir")
MODEL_PREFIXES = ("latest:", "tiny:")


def recipe_roots(ws_root: str | Path) -> list[Path]:
    ws = Path(ws_root).resolve()
    return [CONFIGS_DIR, *(ws / d for d in WORKSPACE_CONFIG_DIRS)]


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path.is_relative_to(r.resolve()) for r in roots)


def check_recipe_path(recipe: str | None, ws_root: str | Path) -> Path:
    """The resolved recipe file, if it is a YAML under configs/ (relative paths start there or at the
    project root) or the workspace's configs/ or runs/; else ConfigError without touching the file."""
    text = (recipe or "").strip()
    refused = ConfigError(f"recipe {text!r}: pick a YAML under the project's configs/ or the workspace's "
                          f"{' or '.join(d + '/' for d in WORKSPACE_CONFIG_DIRS)} folders")
    if not text:
        raise refused
    p = Path(text)
    candidates = [p] if p.is_absolute() else [CONFIGS_DIR.parent / p, CONFIGS_DIR / p, Path(ws_root) / p]
    for c in candidates:
        c = c.resolve()
        if c.suffix in RECIPE_SUFFIXES and _inside(c, recipe_roots(ws_root)) and c.is_file():
            return c
    raise refused


def _flat_keys(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        out += _flat_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]
    return out


def check_overrides(overrides: Iterable[str]) -> None:
    """Refuse overrides of operator-only keys (or of anything below them)."""
    for key in _flat_keys(parse_overrides(overrides)):
        for op in OPERATOR_KEYS:
            if key == op or key.startswith(op + "."):
                raise ConfigError(f"{op}: set by the operator (in the recipe file or the environment), "
                                  f"not from the app")


def check_reward_functions(functions: Iterable[str], ws_root: str | Path) -> None:
    """Each name registered, or `file.py:function` with the file in <workspace>/rewards/ (nothing imported)."""
    rewards_dir = Path(ws_root).resolve() / REWARDS_DIR
    for name in functions:
        if name in reward_names():
            continue
        path_s, _, fn = name.rpartition(":")
        path = Path(path_s).resolve()     # as the job resolves it (it runs in the app's folder)
        if not (fn and path.suffix == ".py" and path.is_relative_to(rewards_dir) and path.is_file()):
            raise ConfigError(f"reward.functions.{name}: from the app only built-in rewards "
                              f"({', '.join(reward_names())}) or file.py:function with the file in the "
                              f"workspace's {REWARDS_DIR}/ folder")


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(cfg) or not hasattr(cfg, part):
            return None
        cfg = getattr(cfg, part)
    return cfg


def check_paths(cfg: Any, ws_root: str | Path) -> None:
    """Model and run paths: checkpoint ids or shortcuts, or paths inside the workspace."""
    ws = Path(ws_root).resolve()
    for key in PATH_KEYS:
        value = _get(cfg, key)
        if not isinstance(value, str) or not value or value.startswith(MODEL_PREFIXES):
            continue
        looks_like_path = "/" in value or "\\" in value or value.startswith((".", "~"))
        if not looks_like_path:
            continue                      # a checkpoint id (resolved against the workspace's registry)
        p = Path(value).expanduser()
        if not (p if p.is_absolute() else ws / p).resolve().is_relative_to(ws):
            raise ConfigError(f"{key}: from the app only a checkpoint id, latest:<stage>, tiny:<kind> or a "
                              f"path inside the workspace")


def check_untrusted(cfg: Any, overrides: Iterable[str], ws_root: str | Path) -> None:
    """All rules above for a loaded config and the overrides it came with."""
    check_overrides(overrides)
    reward = _get(cfg, "reward.functions")
    if reward:
        check_reward_functions(reward, ws_root)
    check_paths(cfg, ws_root)

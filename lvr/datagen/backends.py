"""Build text backends and captioners by name; a registry where other layers plug theirs in.

    llm = make_text_backend(BackendConfig.from_env(kind="openai", model="gpt-4o-mini"), ws)
    cap = make_captioner(BackendConfig(kind="ground-truth"), ws)
    register_captioner("local", my_factory)   # factory(config, ws) -> Captioner

Built in: text backends openai (lvr.llm's client) | local (transformers) | ground-truth; captioners
openai (a vision chat model) | ground-truth. A local *vision* captioner belongs to the model layer: it
registers itself under "local" with `register_captioner`, or is named on the command line as
`--factory package.module:function`. Until one is registered, `--backend local` for captioning
first tries the hook `lvr.datagen.model_captioner:make_captioner` and otherwise says what to do.
"""
from __future__ import annotations

import importlib
from typing import Callable

from lvr.datagen.ground_truth import GroundTruthBackend, GroundTruthCaptioner
from lvr.datagen.local_backend import TransformersBackend
from lvr.datagen.openai_captioner import OpenAICaptioner
from lvr.datagen.protocols import Captioner, TextBackend
from lvr.llm import BackendConfig, OpenAIBackend
from lvr.store import Workspace

CaptionerFactory = Callable[[BackendConfig, Workspace], Captioner]
TextFactory = Callable[[BackendConfig, Workspace], TextBackend]

_CAPTIONERS: dict[str, CaptionerFactory] = {}
_TEXT: dict[str, TextFactory] = {}
LOCAL_CAPTIONER_HOOK = "lvr.datagen.model_captioner:make_captioner"


def register_captioner(name: str, factory: CaptionerFactory) -> None:
    _CAPTIONERS[name] = factory


def register_text_backend(name: str, factory: TextFactory) -> None:
    _TEXT[name] = factory


def load_factory(spec: str) -> Callable:
    """`package.module:function` → the function (ValueError with the cause if it cannot be loaded)."""
    if ":" not in spec:
        raise ValueError(f"factory {spec!r} must look like package.module:function")
    mod_name, attr = spec.split(":", 1)
    try:
        return getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot load factory {spec!r}: {type(e).__name__}: {e}") from None


def _openai_text(config: BackendConfig, ws: Workspace) -> TextBackend:
    return OpenAIBackend(config)


def _local_text(config: BackendConfig, ws: Workspace) -> TextBackend:
    return TransformersBackend(config)


def _gt_text(config: BackendConfig, ws: Workspace) -> TextBackend:
    return GroundTruthBackend(ws)


def _openai_captioner(config: BackendConfig, ws: Workspace) -> Captioner:
    return OpenAICaptioner(config)


def _gt_captioner(config: BackendConfig, ws: Workspace) -> Captioner:
    return GroundTruthCaptioner(ws)


register_text_backend("openai", _openai_text)
register_text_backend("local", _local_text)
register_text_backend("ground-truth", _gt_text)
register_captioner("openai", _openai_captioner)
register_captioner("ground-truth", _gt_captioner)


def make_text_backend(config: BackendConfig, ws: Workspace, factory: str | None = None) -> TextBackend:
    if factory:
        return load_factory(factory)(config, ws)
    if config.kind not in _TEXT:
        raise ValueError(f"no text backend {config.kind!r}; known: {', '.join(sorted(_TEXT))}")
    return _TEXT[config.kind](config, ws)


def make_captioner(config: BackendConfig, ws: Workspace, factory: str | None = None) -> Captioner:
    if factory:
        return load_factory(factory)(config, ws)
    if config.kind in _CAPTIONERS:
        return _CAPTIONERS[config.kind](config, ws)
    if config.kind == "local":
        try:
            hook = load_factory(LOCAL_CAPTIONER_HOOK)
        except ValueError:
            raise ValueError(
                "no local captioner is available: a local captioner needs a vision-language model "
                f"(the model layer provides one through {LOCAL_CAPTIONER_HOOK} or "
                "lvr.datagen.backends.register_captioner('local', factory)); use --backend openai with a "
                "vision model, --backend ground-truth, or --factory package.module:function") from None
        return hook(config, ws)
    raise ValueError(f"no captioner {config.kind!r}; known: {', '.join(sorted(_CAPTIONERS))}, local")


def source_name(backend: TextBackend) -> str:
    """`<backend>:<model>`, stored as qa.source."""
    return f"{backend.backend}:{backend.model}"

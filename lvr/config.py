"""Typed configs: dataclasses with help text, loaded from YAML plus dotted overrides.

    from dataclasses import dataclass, field
    from lvr.config import option, load_config, to_dict, describe, ConfigError

    @dataclass
    class Rollout:
        temperature: float = option(1.0, "sampling temperature", ge=0)

    @dataclass
    class Train:
        lr: float = option(1e-5, "peak learning rate", gt=0)
        loss: str = option("grpo", "policy loss", choices=("grpo", "dapo"))
        rollout: Rollout = option(Rollout, "rollout settings")

    cfg = load_config(Train, "recipe.yaml", ["lr=1e-6", "rollout.temperature=0.7"])
    to_dict(cfg)        # plain dict (YAML/JSON-able), the inverse of load_config
    describe(Train)     # one line per key: "rollout.temperature (float, default 1.0): sampling temperature"

Rules:
- A field's help text, allowed choices and numeric bounds live in its metadata (`option`).
- Values are coerced to the annotated type: "1e-5" → 1e-05 for a float, "true"/"no" for a bool,
  "a,b" or [a, b] for a list, "null" for an Optional. Override values are parsed as YAML
  scalars/lists (`tags=[a,b]`, `x=null`), but a `str` field keeps the text as typed.
- Unknown keys fail, listing the valid keys (and the closest match); a bad value fails naming
  the dotted key, the bad value and where it came from (file or override).
- After coercion a dataclass may define `check(self) -> None` for cross-field rules; it raises
  `ConfigError` through `fail(self, key, message)` so the message names the key.
- A dataclass that is also built directly (`EvalConfig(frames=8)`) calls `check_fields(self)` first in its
  `__post_init__`: the same coercion, choices and bounds, failing as `EvalConfig.frames: …`.
- `read_mapping(path, what)` reads a YAML/JSON file's top-level mapping (the one file loader).
- `click_option(cls, name)` / `click_options(cls, *names)` write a field as a click option (flag, help,
  type, default, choices, bounds), the way TRL's HfArgumentParser writes argparse flags.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Callable, Literal, Union

import click
import yaml

MISSING = dataclasses.MISSING

__all__ = ["ConfigError", "option", "load_config", "from_dict", "field_values", "check_fields", "read_mapping",
           "to_dict", "describe", "parse_overrides", "fail", "dump_yaml", "click_option", "click_options"]


class ConfigError(ValueError):
    """An invalid config: the message names the dotted key, the bad value and its source."""


def option(default: Any = MISSING, help: str = "", *, choices: tuple | None = None, ge: float | None = None,
           gt: float | None = None, le: float | None = None, lt: float | None = None,
           factory: Any = None) -> Any:
    """A dataclass field with help text and checks. A dataclass type or a list/dict default becomes a
    default factory (or pass `factory=`); no default makes the key required."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "ge": ge, "gt": gt, "le": le, "lt": lt}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=default, metadata=meta)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def fail(cfg_or_key: Any, key: str | None = None, message: str = "") -> None:
    """Raise ConfigError for `key` (used inside a dataclass's `check`)."""
    prefix = getattr(cfg_or_key, "_lvr_prefix", "") if key is not None else ""
    name = key if key is not None else str(cfg_or_key)
    raise ConfigError(f"{prefix}{name}: {message}")


class _Raw(str):
    """An override value as the user typed it (parsed lazily against the field's type)."""


def parse_overrides(overrides: typing.Iterable[str]) -> dict:
    """["a.b=1", "c=x"] → {"a": {"b": _Raw("1")}, "c": _Raw("x")} (a nested dict)."""
    out: dict = {}
    for text in overrides:
        if "=" not in text:
            raise ConfigError(f"override {text!r} is not of the form key=value (e.g. lr=1e-5 or "
                              f"rollout.temperature=0.7)")
        key, value = text.split("=", 1)
        key = key.strip().lstrip("-")
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise ConfigError(f"override {text!r}: bad key {key!r}")
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: {p!r} was already given a value")
            node = nxt
        node[parts[-1]] = _Raw(value.strip())
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def read_mapping(path: str | Path, what: str = "config file") -> dict:
    """The top-level mapping of a YAML (or JSON) file; an empty file is {}. Errors name `what` and the path."""
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{what} {path}: invalid YAML: {e}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{what} {path}: expected a mapping of keys at top level, got {type(loaded).__name__}")
    return loaded


def load_config(cls: type, path: str | Path | None = None, overrides: typing.Iterable[str] = (),
                base: dict | None = None) -> Any:
    """Build `cls` from a YAML file (optional), then `base` values, then dotted overrides."""
    data: dict = read_mapping(path) if path is not None else {}
    source = str(Path(path)) if path is not None else "defaults"
    if base:
        data = _merge(data, base)
    data = _merge(data, parse_overrides(overrides))
    return from_dict(cls, data, source=source)


def from_dict(cls: type, data: dict, *, source: str = "dict", prefix: str = "") -> Any:
    """Build dataclass `cls` from a (nested) mapping with coercion and validation."""
    kwargs = field_values(cls, data, source=source, prefix=prefix)
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {e} (from {source})") from None
    _validate(obj, prefix)
    return obj


def field_values(cls: type, data: dict, *, source: str = "dict", prefix: str = "") -> dict:
    """The keyword arguments of dataclass `cls` from a (nested) mapping: unknown keys, missing required
    keys, types, choices and bounds checked (`from_dict` without building the object)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: expected a mapping, got {_show(data)} "
                          f"(from {source})")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(str(k), list(fields), n=1)
        hint = f" (did you mean {prefix}{close[0]!s}?)" if close else ""
        where = f"{prefix.rstrip('.')} " if prefix else ""
        raise ConfigError(f"unknown key {prefix}{k} (from {_src(data[k], source, prefix + str(k))}){hint}; "
                          f"valid keys of {where or cls.__name__ + ' '}are: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        key = prefix + name
        if name in data:
            value = data[name]
            tp = hints[name]
            if isinstance(value, dict) and isinstance(tp, type) and dataclasses.is_dataclass(tp) \
                    and f.default_factory is not MISSING:
                # a partial group keeps the field's own defaults for the keys it does not set
                value = _merge(to_dict(f.default_factory()), value)
            kwargs[name] = _coerce(value, tp, key, _src(data[name], source, key), f.metadata)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{key} is required ({f.metadata.get('help', '')})".replace(" ()", ""))
    return kwargs


def check_fields(obj: Any) -> None:
    """Coerce and check every field of a dataclass built directly (not through `from_dict`): the annotated
    type, then the choices and bounds of its `option`, failing as `ClassName.field: …`. A frozen dataclass
    gets its coerced values too. Call it first in `__post_init__`; cross-field rules follow it there."""
    cls = type(obj)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(obj):
        key = f"{cls.__name__}.{f.name}"
        object.__setattr__(obj, f.name, _coerce(getattr(obj, f.name), hints[f.name], key, "", f.metadata))


def _validate(obj: Any, prefix: str) -> None:
    object.__setattr__(obj, "_lvr_prefix", prefix)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            _validate(value, prefix + f.name + ".")
    check = getattr(obj, "check", None)
    if callable(check):
        check()


def _src(value: Any, source: str, key: str) -> str:
    return f"override {key}={value}" if isinstance(value, _Raw) else source


def _from(source: str) -> str:
    """" (from <source>)" after a message, or nothing for a directly built config (no source)."""
    return f" (from {source})" if source else ""


def _show(value: Any) -> str:
    return repr(str(value)) if isinstance(value, _Raw) else repr(value)


_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        base = " or ".join(_type_name(a) for a in args)
        return base + " or null" if len(args) < len(typing.get_args(tp)) else base
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, source: str, meta: typing.Mapping | None = None) -> Any:
    out = _convert(value, tp, key, source)
    if meta:
        _check_meta(out, key, source, meta)
    return out


def _bad(value: Any, tp: Any, key: str, source: str, why: str = "") -> ConfigError:
    return ConfigError(f"{key}: expected {_type_name(tp)}, got {_show(value)}{' (' + why + ')' if why else ''}"
                       f"{_from(source)}")


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """`value` (from YAML, a dict, or `_Raw` override text) as type `tp`; a ConfigError naming `key` otherwise."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return yaml.safe_load(value) if isinstance(value, _Raw) else value
    if origin in (Union, types.UnionType):
        return _to_union(value, tp, key, source)
    if origin is Literal:
        return _to_literal(value, tp, key, source)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _to_dataclass(value, tp, key, source)
    if origin in (list, tuple) or tp in (list, tuple):
        return _to_sequence(value, tp, key, source)
    if origin is dict or tp is dict:
        return _to_mapping(value, tp, key, source)
    for scalar, convert in _SCALARS:
        if tp is scalar:
            return convert(value, key, source)
    raise ConfigError(f"{key}: unsupported config type {tp!r}")


def _to_union(value: Any, tp: Any, key: str, source: str) -> Any:
    """null for an Optional, else the first member type that accepts the value (str last)."""
    args = typing.get_args(tp)
    if type(None) in args and (value is None
                               or (isinstance(value, _Raw) and value.lower() in ("null", "none", "~"))):
        return None
    errors = []
    # str last: "true" should become a bool for `bool | str`, "3" an int for `int | str`
    ordered = sorted((a for a in args if a is not type(None)), key=lambda a: a is str)
    for a in ordered:
        try:
            return _convert(value, a, key, source)
        except ConfigError as e:
            errors.append(e)
    raise _bad(value, tp, key, source)


def _to_literal(value: Any, tp: Any, key: str, source: str) -> Any:
    args = typing.get_args(tp)
    v = value
    if isinstance(value, _Raw):
        v = str(value) if all(isinstance(a, str) for a in args) else yaml.safe_load(value)
    if v not in args:
        raise ConfigError(f"{key}: must be one of {', '.join(repr(a) for a in args)}, got {_show(value)}"
                          f"{_from(source)}")
    return v


def _to_dataclass(value: Any, tp: type, key: str, source: str) -> Any:
    if isinstance(value, tp):
        return value
    if isinstance(value, _Raw):
        raise ConfigError(f"{key} is a group of settings; set its keys instead, e.g. "
                          f"{key}.{dataclasses.fields(tp)[0].name}=…{_from(source)}")
    return from_dict(tp, value, source=source, prefix=key + ".")


def _to_sequence(value: Any, tp: Any, key: str, source: str) -> list | tuple:
    """A list (or tuple) from a list, a YAML `[a, b]` or `a,b` override text; each item converted."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    item_tp = args[0] if args else Any
    if isinstance(value, _Raw):
        parsed = yaml.safe_load(value) if value.strip().startswith("[") else (
            [_Raw(s.strip()) for s in value.split(",")] if value.strip() else [])
        if isinstance(parsed, list):
            value = [_Raw(str(v)) if not isinstance(v, (_Raw, list, dict)) and v is not None else v
                     for v in parsed]
    if not isinstance(value, (list, tuple)):
        raise _bad(value, tp, key, source)
    items = [_convert(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
    return tuple(items) if (origin is tuple or tp is tuple) else items


def _to_mapping(value: Any, tp: Any, key: str, source: str) -> dict:
    args = typing.get_args(tp)
    if isinstance(value, _Raw):
        value = yaml.safe_load(value) if value.strip() else {}
    if not isinstance(value, dict):
        raise _bad(value, tp, key, source)
    val_tp = args[1] if len(args) == 2 else Any
    return {str(k): _convert(v, val_tp, f"{key}.{k}", source) for k, v in value.items()}


def _to_bool(value: Any, key: str, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(value, bool, key, source, "use true or false")


def _to_int(value: Any, key: str, source: str) -> int:
    """An int from an int, a whole float, or text such as "3", "1_000" or "1e3"; never from a bool."""
    if isinstance(value, bool):
        raise _bad(value, int, key, source)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            f = float(value.replace("_", ""))
        except ValueError:
            raise _bad(value, int, key, source) from None
        if f.is_integer():
            return int(f)
    raise _bad(value, int, key, source)


def _to_float(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool):
        raise _bad(value, float, key, source)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace("_", ""))
        except ValueError:
            raise _bad(value, float, key, source) from None
    raise _bad(value, float, key, source)


def _to_str(value: Any, key: str, source: str) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    raise _bad(value, str, key, source)


def _to_path(value: Any, key: str, source: str) -> Path:
    if isinstance(value, (str, Path)):
        return Path(str(value))
    raise _bad(value, Path, key, source)


_SCALARS: tuple[tuple[type, Callable[[Any, str, str], Any]], ...] = (
    (bool, _to_bool), (int, _to_int), (float, _to_float), (str, _to_str), (Path, _to_path))


def _check_meta(value: Any, key: str, source: str, meta: typing.Mapping) -> None:
    choices = meta.get("choices")
    values = value if isinstance(value, (list, tuple)) and choices and not isinstance(value, str) else [value]
    if choices:
        for v in values:
            if v is not None and v not in choices:
                raise ConfigError(f"{key}: must be one of {', '.join(repr(c) for c in choices)}, got {v!r}"
                                  f"{_from(source)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for name, ok, word in (("ge", lambda a, b: a >= b, ">="), ("gt", lambda a, b: a > b, ">"),
                               ("le", lambda a, b: a <= b, "<="), ("lt", lambda a, b: a < b, "<")):
            bound = meta.get(name)
            if bound is not None and not ok(value, bound):
                raise ConfigError(f"{key}: must be {word} {bound}, got {value!r}{_from(source)}")


def to_dict(cfg: Any) -> dict:
    """A config as plain nested dicts/lists (YAML- and JSON-able); `from_dict` inverts it."""
    def plain(v):
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v
    return plain(cfg)


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def _default(f: dataclasses.Field) -> Any:
    """A field's default value (a fresh one from its factory), or MISSING for a required key."""
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else MISSING


def describe(cls: type, prefix: str = "") -> list[str]:
    """Help lines for every key of `cls`, nested groups flattened to dotted keys."""
    lines = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        meta = f.metadata or {}
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if meta.get("help"):
                lines.append(f"{prefix}{f.name}.*: {meta['help']}")
            lines.extend(describe(tp, prefix + f.name + "."))
            continue
        default = "required" if _default(f) is MISSING else f"default {_default(f)!r}"
        extra = []
        if meta.get("choices"):
            extra.append("one of " + ", ".join(map(str, meta["choices"])))
        for name, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if meta.get(name) is not None:
                extra.append(f"{word} {meta[name]}")
        bits = f"{_type_name(tp)}, {default}" + (", " + ", ".join(extra) if extra else "")
        lines.append(f"{prefix}{f.name} ({bits}): {meta.get('help', '')}")
    return lines


def click_option(cls: type, name: str, *param_decls: str, **overrides: Any) -> Callable:
    """A click option for field `name` of config dataclass `cls`, written from the field the way TRL's
    HfArgumentParser writes argparse flags: `--name-with-dashes` (or `param_decls`), the `option` help,
    type, default, choices (click.Choice) and bounds (click.IntRange / FloatRange). A bool field is a flag
    (`--x` when it defaults to false, `--x/--no-x` when true), a list/tuple field a repeatable option.
    The command receives the value as keyword `name`; `overrides` are click.option arguments that differ
    from the field (e.g. default=None where "not given" means "the backend's own")."""
    f = next((f for f in dataclasses.fields(cls) if f.name == name), None)
    if f is None:
        raise TypeError(f"{cls.__name__} has no field {name!r}")
    meta = f.metadata or {}
    tp, default = _strip_optional(typing.get_type_hints(cls)[name]), _default(f)
    flag = "--" + name.replace("_", "-")
    kw: dict = {"help": meta.get("help", ""), "show_default": True, "default": default}
    if tp is bool:
        param_decls = param_decls or ((flag,) if not default else (f"{flag}/--no-{flag[2:]}",))
        kw["is_flag"] = True
    elif typing.get_origin(tp) in (list, tuple) or tp in (list, tuple):
        item = [a for a in typing.get_args(tp) if a is not Ellipsis]
        kw.update(multiple=True, default=tuple(default or ()), type=_click_type(item[0] if item else str, meta))
    else:
        kw["type"] = _click_type(tp, meta)
    kw.update(overrides)
    return click.option(*(param_decls or (flag,)), name, **kw)


def click_options(cls: type, *names: str) -> Callable:
    """`click_option` for each of `names`, listed in `--help` in that order."""
    def decorate(fn: Callable) -> Callable:
        for name in reversed(names):
            fn = click_option(cls, name)(fn)
        return fn
    return decorate


def _strip_optional(tp: Any) -> Any:
    """`int | None` → int (the option's default None already says "not given")."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _click_type(tp: Any, meta: typing.Mapping) -> Any:
    choices = meta.get("choices")
    if choices and all(isinstance(c, str) for c in choices):
        return click.Choice(list(choices))
    if tp in (int, float) and any(meta.get(b) is not None for b in ("ge", "gt", "le", "lt")):
        lo = meta["ge"] if meta.get("ge") is not None else meta.get("gt")
        hi = meta["le"] if meta.get("le") is not None else meta.get("lt")
        return (click.IntRange if tp is int else click.FloatRange)(
            lo, hi, min_open=meta.get("ge") is None and meta.get("gt") is not None,
            max_open=meta.get("le") is None and meta.get("lt") is not None)
    return tp if tp in (int, float, str) else click.STRING

"""A small JSON-Schema-like validator, and the schemas of the LongVideo-Reason exchange rows.

    errors = validate(row, EXPORT_SCHEMA)          # [] or ["$.options: expected 4 items, got 3", …]
    check_rows(rows, EXPORT_SCHEMA, where="sft.jsonl")   # ValueError naming the first bad row

Supported keywords (the subset these rows need, same meaning as JSON Schema): type (one or a
list of string/integer/number/boolean/null/array/object), enum, const, pattern, minLength,
minimum, maximum, minItems, maxItems, items, required, properties, additionalProperties (bool).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from lvr.store import ITEM_CATEGORIES, QA_STATUSES, SPLITS

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def validate(value: Any, schema: dict, path: str = "$") -> list[str]:
    errs: list[str] = []
    t = schema.get("type")
    if t is not None:
        types = [t] if isinstance(t, str) else list(t)
        unknown = [x for x in types if x not in _TYPES]
        if unknown:
            raise ValueError(f"schema at {path}: unknown type(s) {unknown}")
        if not any(_TYPES[x](value) for x in types):
            return [f"{path}: expected {' or '.join(types)}, got {type(value).__name__} {str(value)[:40]!r}"]
    if "const" in schema and value != schema["const"]:
        errs.append(f"{path}: must be {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errs.append(f"{path}: shorter than {schema['minLength']} character(s)")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(f"{path}: {value[:60]!r} does not match {schema['pattern']!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errs.append(f"{path}: expected at least {schema['minItems']} item(s), got {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: expected at most {schema['maxItems']} item(s), got {len(value)}")
        if "items" in schema:
            for i, v in enumerate(value):
                errs += validate(v, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errs.append(f"{path}: missing required field {key!r}")
        props = schema.get("properties", {})
        for key, v in value.items():
            if key in props:
                errs += validate(v, props[key], f"{path}.{key}")
            elif schema.get("additionalProperties", True) is False:
                errs.append(f"{path}: unexpected field {key!r}")
    return errs


def check_rows(rows: Iterable[dict], schema: dict, where: str = "rows") -> int:
    """Validate every row; raise ValueError naming the first bad row (1-based) and its problems."""
    n = 0
    for n, row in enumerate(rows, 1):
        errs = validate(row, schema)
        if errs:
            raise ValueError(f"{where}: row {n}: " + "; ".join(errs[:5]))
    return n


_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_NUM = {"type": ["number", "null"]}

# One row of a LongVideo-Reason-style JSONL file as `lvr export` writes it.
EXPORT_SCHEMA: dict = {
    "type": "object",
    "required": ["problem_id", "problem", "data_type", "problem_type", "options", "reasoning", "videos", "answer",
                 "question", "category", "split", "video_id", "status", "reasoning_raw", "start", "end", "source",
                 "qa_id"],
    "properties": {
        "problem_id": {"type": ["integer", "string"]},
        "problem": {"type": "string", "minLength": 1},
        "data_type": {"const": "video"},
        "problem_type": {"const": "multiple choice"},
        "options": {"type": "array", "minItems": 4, "maxItems": 4,
                    "items": {"type": "string", "pattern": r"^[A-D]\. \S"}},
        "reasoning": {"type": "string"},
        "videos": {"type": "string"},
        "answer": {"type": "string", "pattern": r"^<answer>[A-D]</answer>$"},
        "question": {"type": "string", "minLength": 1},
        "category": {"enum": list(ITEM_CATEGORIES)},
        "split": {"enum": [None, *SPLITS]},
        "video_id": _NULLABLE_STR,
        "status": {"enum": list(QA_STATUSES)},
        "reasoning_raw": {"type": "string"},
        "start": _NULLABLE_NUM,
        "end": _NULLABLE_NUM,
        "source": _NULLABLE_STR,
        "qa_id": {"type": "integer", "minimum": 1},
        "difficulty": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "duplicate_of": {"type": ["integer", "null"]},
        "reject_reason": _NULLABLE_STR,
        "meta": {"type": "string"},
    },
}

# What `lvr import` needs from a row of an external file (everything else is optional).
IMPORT_SCHEMA: dict = {
    "type": "object",
    "required": ["problem", "answer"],
    "properties": {
        "problem_id": {"type": ["integer", "string", "null"]},
        "problem": {"type": "string", "minLength": 1},
        "options": {"type": ["array", "null"], "items": {"type": "string"}},
        "reasoning": {"type": ["string", "null"]},
        "videos": {"type": ["string", "array", "null"]},
        "answer": {"type": "string", "minLength": 1},
        "start": _NULLABLE_NUM,
        "end": _NULLABLE_NUM,
    },
}

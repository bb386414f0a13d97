"""Category names of QA items as files write them: the columns that carry one, aliases, initials.

    from lvr.store.categories import CATEGORY_FIELDS, category_name, normalize_category
    normalize_category("Goal and Purpose")    # "goal"  ("Plot_and_Narrative" → "plot"; unknown → None)
    category_name("T")                        # "temporal"  (normalize_category plus the initials T/G/S/P/U)
    next(c for c in (normalize_category(row.get(f)) for f in CATEGORY_FIELDS) if c)   # a row's category

The rules every importer applies (lvr.datagen's row importer and categories file, lvr.eval's
benchmark adapter), next to ITEM_CATEGORIES in lvr.store.schema.
"""
from __future__ import annotations

import re
from typing import Any

from .schema import ITEM_CATEGORIES, UNCATEGORISED

# the columns of a row that may name its category, in the order they are tried
CATEGORY_FIELDS = ("category", "problem_type", "question_type", "task_type", "type", "class", "question_category")

_ALIASES = {
    "temporal": "temporal", "temporal reasoning": "temporal", "time": "temporal",
    "goal": "goal", "goal and purpose": "goal", "goal purpose": "goal", "purpose": "goal", "goal reasoning": "goal",
    "spatial": "spatial", "spatial reasoning": "spatial", "space": "spatial",
    "plot": "plot", "plot and narrative": "plot", "plot narrative": "plot", "narrative": "plot",
    "plot reasoning": "plot", "uncategorized": UNCATEGORISED,
}
_INITIALS = {"t": "temporal", "g": "goal", "s": "spatial", "p": "plot", "u": UNCATEGORISED}


def normalize_category(name: Any) -> str | None:
    """"Goal and Purpose" / "goal & purpose" / "Plot_and_Narrative" → goal / plot (also uncategorised); else None."""
    if not isinstance(name, str):
        return None
    key = re.sub(r"[\s_\-/&]+", " ", name.strip().lower().replace("&", " and ")).strip()
    key = re.sub(r"\s+", " ", key)
    return _ALIASES.get(key) or (key if key in ITEM_CATEGORIES else None)


def category_name(value: Any) -> str | None:
    """One of ITEM_CATEGORIES for a name, the paper's name or an initial (T/G/S/P); None if unknown."""
    if isinstance(value, str) and value.strip().lower() in _INITIALS:
        return _INITIALS[value.strip().lower()]
    return normalize_category(value)

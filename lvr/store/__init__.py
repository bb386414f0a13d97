"""The workspace store: one folder, one SQLite file (sqlite-utils), forward-only migrations.

    from lvr.store import Workspace
    ws = Workspace.open("demo", create=True)
    items, total = ws.query_qa(status="pending", category="temporal", text="kitchen")

Imports nothing else from `lvr` (it is the bottom layer).
"""
from .qa import LETTERS, ReviewError, StaleEditError, check_verdict, validate_qa
from .schema import (
    CATEGORIES,
    ITEM_CATEGORIES,
    JOB_STATUSES,
    QA_STATUSES,
    SCHEMA_VERSION,
    SPLITS,
    UNCATEGORISED,
    migrate,
)
from .workspace import Workspace, WorkspaceError

__all__ = [
    "Workspace", "WorkspaceError", "StaleEditError", "ReviewError", "check_verdict", "validate_qa", "migrate",
    "CATEGORIES", "ITEM_CATEGORIES", "UNCATEGORISED", "QA_STATUSES", "SPLITS", "JOB_STATUSES", "LETTERS",
    "SCHEMA_VERSION",
]

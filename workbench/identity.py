"""Who is editing: the signed-in user of a request (`--auth`), else the annotator name the browser gave
(asked once in the Review tab, remembered in the browser's localStorage), else "local".

    def handler(..., annotator: str = "", request: gr.Request = None):
        ws.update_qa(..., who=username(request, annotator))

Gradio fills a `gr.Request` parameter itself (it is not an API input), so every handler that
writes to the store takes one and records `username(request, annotator)` as the author of the change.
A signed-in user cannot sign as someone else: with auth the typed name is ignored.
"""
from __future__ import annotations

import re

import gradio as gr

LOCAL_USER = "local"
NAME_MAX = 40
STORAGE_KEY = "lvr-annotator"          # the browser's localStorage key of the typed annotator name


def clean_name(name: str | None) -> str:
    """A typed annotator name as stored: whitespace collapsed, control characters dropped, at most 40 chars."""
    text = re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", "", str(name or ""))).strip()
    return text[:NAME_MAX].strip()


def signed_in(request: gr.Request | None) -> str | None:
    """The authenticated user name of `request` (None without --auth)."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else None


def username(request: gr.Request | None, annotator: str | None = None) -> str:
    """The authenticated user name of `request`, else the typed annotator name, else "local"."""
    return signed_in(request) or clean_name(annotator) or LOCAL_USER

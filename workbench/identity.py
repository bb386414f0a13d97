"""Who is editing: the signed-in user of a request (`--auth`), or "local" when the app runs without auth.

    def handler(..., request: gr.Request):
        ws.update_qa(..., who=username(request))

Gradio fills a `gr.Request` parameter itself (it is not an API input), so every handler that
writes to the store takes one and records `username(request)` as the author of the change.
"""
from __future__ import annotations

import gradio as gr

LOCAL_USER = "local"


def username(request: gr.Request | None) -> str:
    """The authenticated user name of `request`, else "local"."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else LOCAL_USER

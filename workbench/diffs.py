"""Readable diffs of QA revisions (who changed what, when) as HTML for the Review tab.

    html = revisions_html(ws.revisions(qa_id))

Each revision is one block: version, action, who, when, comment; then one line per changed
field. Text fields are diffed word by word with difflib (<del> removed, <ins> added); the four
options are diffed one by one as A–D. All text is HTML-escaped.
"""
from __future__ import annotations

import difflib
import html
import re
from typing import Any

from lvr.store import LETTERS

_TOKENS = re.compile(r"\S+\s*|\s+")
ACTION_LABEL = {"edit": "edited", "approved": "approved", "rejected": "rejected", "draft": "saved as draft",
                "pending": "reset to pending", "delete": "deleted"}
CSS = """
.lvr-rev{border-left:3px solid #8884;padding:2px 8px;margin:6px 0;font-size:0.9em}
.lvr-rev .head{font-weight:600}
.lvr-rev del{background:#f8d7da;color:#842029;text-decoration:line-through}
.lvr-rev ins{background:#d1e7dd;color:#0f5132;text-decoration:none}
.lvr-rev .field{color:#666;font-family:monospace;margin-right:4px}
"""


def word_diff(before: str, after: str) -> str:
    """HTML of `before` → `after`, word by word: unchanged text plain, <del>removed</del>, <ins>added</ins>."""
    a, b = _TOKENS.findall(before or ""), _TOKENS.findall(after or "")
    out = []
    matcher = difflib.SequenceMatcher(None, [t.strip() for t in a], [t.strip() for t in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = html.escape("".join(a[i1:i2])), html.escape("".join(b[j1:j2]))
        if op == "equal":
            out.append(new)
        else:
            if old:
                out.append(f"<del>{old}</del>")
            if new:
                out.append(f"<ins>{new}</ins>")
    return "".join(out)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def field_lines(before: dict, after: dict) -> list[str]:
    """One HTML line per changed field of a revision."""
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key == "options" and isinstance(old, list) and isinstance(new, list):
            for i, letter in enumerate(LETTERS):
                o = old[i] if i < len(old) else ""
                n = new[i] if i < len(new) else ""
                if o != n:
                    lines.append(f"<span class='field'>option {letter}</span>{word_diff(o, n)}")
        elif key in ("question", "reasoning", "reasoning_raw", "reject_reason"):
            lines.append(f"<span class='field'>{key}</span>{word_diff(_text(old), _text(new))}")
        else:
            lines.append(f"<span class='field'>{html.escape(key)}</span><del>{html.escape(_text(old))}</del>"
                         f" → <ins>{html.escape(_text(new))}</ins>")
    return lines


def revision_html(rev: dict) -> str:
    action = ACTION_LABEL.get(rev.get("action") or "edit", rev.get("action") or "edit")
    head = (f"v{rev.get('version')} · {html.escape(action)} by <b>{html.escape(_text(rev.get('who')))}</b>"
            f" · {html.escape(_text(rev.get('at'))[:19].replace('T', ' '))}")
    if rev.get("comment"):
        head += f" · “{html.escape(rev['comment'])}”"
    lines = field_lines(rev.get("before") or {}, rev.get("after") or {})
    body = "<br>".join(lines) if lines else "<i>no field changed</i>"
    return f"<div class='lvr-rev'><div class='head'>{head}</div>{body}</div>"


def revisions_html(revisions: list[dict], newest_first: bool = True) -> str:
    """All revisions of an item as one HTML fragment (with its own small stylesheet)."""
    if not revisions:
        return "<i>no revisions yet: the item is as it was generated</i>"
    revs = list(reversed(revisions)) if newest_first else list(revisions)
    return f"<style>{CSS}</style>" + "".join(revision_html(r) for r in revs)

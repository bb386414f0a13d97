"""Keyboard shortcuts of the Review tab (Argilla-like), as a small browser script that clicks buttons.

    demo.load(None, js=KEYBOARD_JS)         # installed once per page by build_app
    gr.Markdown(SHORTCUTS_MD)               # the table shown in the Review tab

Every shortcut is Alt + a key, so none of them clashes with typing in a textbox (keys are
matched on `KeyboardEvent.code`, which is the same on macOS where Option+letter types a
symbol). A shortcut acts only while its button is on screen (the Review tab is open). Alt+R
with an empty reject reason puts the cursor in the reason box first; Alt+R again (or the
Reject button) rejects.
"""
from __future__ import annotations

import json

# (keys shown to the user, KeyboardEvent.code values, action, elem_id of the button it clicks)
SHORTCUTS: list[tuple[str, tuple[str, ...], str, str]] = [
    ("Alt+A", ("KeyA",), "approve (saves your edits) and go to the next item", "review-approve"),
    ("Alt+R", ("KeyR",), "reject with the reason typed in the reason box, then next", "review-reject"),
    ("Alt+S", ("KeyS",), "save edits as a draft (stays on the item)", "review-draft"),
    ("Alt+N or Alt+→", ("KeyN", "ArrowRight"), "skip: next item in the queue, nothing saved", "review-next"),
    ("Alt+P or Alt+←", ("KeyP", "ArrowLeft"), "previous item in the queue", "review-prev"),
    ("Alt+L", ("KeyL",), "reload the item (after a conflict, or to drop your edits)", "review-reload"),
    ("Alt+E", ("KeyE",), "edit: put the cursor in the question (Tab walks the options, answer, reasoning)",
     "review-question"),
]
# Alt+1..4 pick the answer A..D
ANSWER_KEYS = {f"Digit{i + 1}": letter for i, letter in enumerate("ABCD")}
REASON_ELEM = "review-reason"
ANSWER_ELEM = "review-answer"

SHORTCUTS_MD = "\n".join(
    ["| keys | action |", "|---|---|"]
    + [f"| **{keys}** | {action} |" for keys, _, action, _ in SHORTCUTS]
    + ["| **Alt+1 … Alt+4** | set the answer to A … D |"]
)


def _script() -> str:
    actions = {code: elem for _, codes, _, elem in SHORTCUTS for code in codes}
    return """() => {
  if (window.__lvrShortcuts) return;
  window.__lvrShortcuts = true;
  const ACTIONS = %s, ANSWERS = %s, REASON = %s, ANSWER = %s;
  const visible = (el) => el && el.offsetParent !== null;
  document.addEventListener("keydown", (e) => {
    if (!e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
    if (ANSWERS[e.code]) {
      const box = document.getElementById(ANSWER);
      if (!visible(box)) return;
      const input = box.querySelector(`input[type=radio][value="${ANSWERS[e.code]}"]`);
      if (input) { e.preventDefault(); input.click(); }
      return;
    }
    const id = ACTIONS[e.code];
    if (!id) return;
    const button = document.getElementById(id);
    if (!visible(button)) return;
    e.preventDefault();
    e.stopPropagation();
    const box = button.querySelector("textarea, input");
    if (box) { box.focus(); return; }
    if (id === "review-reject") {
      const reason = document.querySelector(`#${REASON} textarea, #${REASON} input`);
      if (reason && !reason.value.trim()) { reason.focus(); return; }
    }
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    button.click();
  }, true);
}""" % (json.dumps(actions), json.dumps(ANSWER_KEYS), json.dumps(REASON_ELEM), json.dumps(ANSWER_ELEM))


KEYBOARD_JS = _script()

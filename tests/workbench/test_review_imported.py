"""Items imported from the LongVideo-Reason release (uncategorised, flagged) are reviewable like any other."""
from __future__ import annotations

from lvr.store import UNCATEGORISED, Workspace
from workbench.review import QueueFilter, apply_verdict, edits_from_form, item_view, queue_frame


def test_an_uncategorised_flagged_item_shows_its_flag_and_can_be_approved(tmp_path):
    ws = Workspace.open(tmp_path / "ws", create=True)
    qa_id = ws.add_qa({"category": UNCATEGORISED, "question": "What does the man do after he opens the door?",
                       "options": ["sits", "leaves", "Wait, let me reconsider the clip", "waves"], "answer": "B",
                       "reasoning": "", "status": "pending", "source": "import",
                       "meta": {"import": {"flags": ["option C reads like the generator's deliberation"]}}})
    view = item_view(ws, qa_id)
    assert "⚠ flagged at import: option C reads like the generator&#x27;s deliberation" in view["header"]
    frame, _ = queue_frame(ws, QueueFilter(status=["pending"], category=UNCATEGORISED))
    assert list(frame["id"]) == [qa_id]
    edits = edits_from_form(UNCATEGORISED, view["question"], *view["options"], "B", "")
    out = apply_verdict(ws, qa_id, view["version"], edits, who="ann", status="approved")
    assert out.ok and ws.get_qa(qa_id)["status"] == "approved" and ws.get_qa(qa_id)["category"] == UNCATEGORISED
    ws.close()

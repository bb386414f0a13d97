"""QA edits: revisions on every edit, validation, status changes, bulk review, agreement."""
import pytest

from lvr.store import ReviewError, StaleEditError

from .conftest import make_item


def test_every_edit_writes_a_revision(ws, video_id):
    qid = ws.add_qa(make_item(video_id))
    item = ws.update_qa(qid, {"question": "Edited?", "options": ["w", "x", "y", "z"]}, expected_version=1,
                        who="alice")
    assert item["version"] == 2 and item["updated_by"] == "alice"
    ws.set_status(qid, "rejected", expected_version=2, who="bob", reason="ambiguous")
    revs = ws.revisions(qid)
    assert [(r["who"], r["action"], r["version"]) for r in revs] == [("alice", "edit", 2), ("bob", "rejected", 3)]
    assert revs[0]["before"]["question"].startswith("Question 0")
    assert revs[0]["after"] == {"question": "Edited?", "options": ["w", "x", "y", "z"]}
    assert revs[1]["comment"] == "ambiguous"
    stored = ws.get_qa(qid)
    assert stored["status"] == "rejected" and stored["reject_reason"] == "ambiguous"
    assert stored["options"] == ["w", "x", "y", "z"]


def test_stale_edit_is_refused_and_nothing_overwritten(ws, video_id):
    qid = ws.add_qa(make_item(video_id))
    ws.update_qa(qid, {"question": "Alice's version"}, expected_version=1, who="alice")
    with pytest.raises(StaleEditError, match="changed by alice") as e:
        ws.update_qa(qid, {"question": "Bob's version"}, expected_version=1, who="bob")
    assert e.value.actual == 2
    assert ws.get_qa(qid)["question"] == "Alice's version"
    assert len(ws.revisions(qid)) == 1


@pytest.mark.parametrize("change,msg", [
    ({"answer": "E"}, "answer"), ({"options": ["a", "b"]}, "options"), ({"category": "music"}, "category"),
    ({"status": "done"}, "status"), ({"question": "  "}, "question"), ({"version": 9}, "cannot be edited"),
    ({"question": "why? " * 1000}, "question is 5,000 characters"),
    ({"options": ["a", "b", "c " * 600, "d"]}, "option C is 1,200 characters"),
])
def test_invalid_edits_are_refused(ws, video_id, change, msg):
    qid = ws.add_qa(make_item(video_id))
    with pytest.raises(ValueError, match=msg):
        ws.update_qa(qid, change, expected_version=1, who="alice")
    assert ws.get_qa(qid)["version"] == 1 and ws.revisions(qid) == []


def test_bulk_status_of_a_filtered_set(ws, video_id):
    ws.add_qa_many([make_item(video_id, i) for i in range(8)])
    n = ws.bulk_set_status("approved", who="carol", category="temporal")
    assert n == 2
    assert ws.review_progress()["by_status"] == {"pending": 6, "draft": 0, "approved": 2, "rejected": 0}
    assert ws.review_progress()["per_annotator"] == {"carol": {"approved": 2}}


def test_bulk_status_selects_by_current_status(ws, video_id):
    ws.add_qa_many([make_item(video_id, i) for i in range(8)])
    ids = ws.qa_ids()
    ws.set_status(ids[0], "rejected", expected_version=1, who="alice", reason="wrong key")
    n = ws.bulk_set_status("approved", who="carol", where_status="pending")     # the rejected one stays
    assert n == 7 and ws.get_qa(ids[0])["status"] == "rejected"
    assert ws.bulk_set_status("draft", who="carol", where_status=["rejected"], category="temporal") == 1
    assert ws.get_qa(ids[0])["status"] == "draft" and ws.get_qa(ids[0])["category"] == "temporal"
    with pytest.raises(ValueError, match="where_status"):
        ws.bulk_set_status("approved", who="carol", where_status="done")


@pytest.mark.parametrize("reason", [None, "", "  \n"])
def test_a_rejection_needs_a_reason(ws, video_id, reason):
    qid = ws.add_qa(make_item(video_id))
    with pytest.raises(ReviewError, match=r"^give a reason for rejecting$"):
        ws.set_status(qid, "rejected", expected_version=1, who="alice", reason=reason)
    with pytest.raises(ReviewError, match="give a reason for rejecting"):
        ws.bulk_set_status("rejected", who="carol", reason=reason)
    with pytest.raises(ReviewError, match="give a reason for rejecting"):    # refused even when nothing matches
        ws.bulk_set_status("rejected", who="carol", reason=reason, category="plot")
    assert ws.get_qa(qid)["status"] == "pending" and ws.get_qa(qid)["version"] == 1 and ws.revisions(qid) == []


def test_a_verdict_needs_a_known_status(ws, video_id):
    qid = ws.add_qa(make_item(video_id))
    for call in (lambda: ws.set_status(qid, "done", expected_version=1, who="alice"),
                 lambda: ws.bulk_set_status("done", who="carol")):
        with pytest.raises(ReviewError, match="status 'done' is not one of pending, draft, approved, rejected"):
            call()
    assert issubclass(ReviewError, ValueError)                 # callers catching ValueError still catch it
    assert ws.get_qa(qid)["version"] == 1 and ws.revisions(qid) == []


def test_a_verdict_saves_edits_in_the_same_revision(ws, video_id):
    qid = ws.add_qa(make_item(video_id))
    item = ws.set_status(qid, "rejected", expected_version=1, who="bob", reason="two right answers",
                         edits={"question": "Which room?"})
    assert item["version"] == 2 and item["question"] == "Which room?" and item["reject_reason"] == "two right answers"
    (rev,) = ws.revisions(qid)
    assert rev["action"] == "rejected" and rev["comment"] == "two right answers"
    assert rev["after"] == {"question": "Which room?", "status": "rejected", "reject_reason": "two right answers"}


def test_agreement_on_items_reviewed_twice(ws, video_id):
    ids = [ws.add_qa(make_item(video_id, i)) for i in range(4)]
    verdicts = {"alice": ["approved", "approved", "rejected", "approved"],
                "bob": ["approved", "rejected", "rejected", "approved"]}
    for who, vs in verdicts.items():
        for qid, v in zip(ids, vs):
            ws.set_status(qid, v, expected_version=ws.get_qa(qid)["version"], who=who,
                          reason="wrong key" if v == "rejected" else None)
    ag = ws.agreement()
    assert ag["items_reviewed_twice"] == 4
    (pair,) = ag["pairs"]
    assert pair["agreement"] == pytest.approx(0.75)
    # kappa: po=.75, pa=.75 approve, pb=.5 approve → pe=.375+.125=.5 → (.75-.5)/.5 = .5
    assert pair["kappa"] == pytest.approx(0.5)


def test_qa_status_cli_mirrors_bulk_set_status(ws, video_id):
    from click.testing import CliRunner

    from lvr.cli import cli

    ws.add_qa_many([make_item(video_id, i) for i in range(8)])
    run = lambda *a: CliRunner().invoke(cli, ["qa-status", str(ws.root), *a])  # noqa: E731
    out = run("approved", "--who", "dave", "--where-status", "pending", "--category", "goal")
    assert out.exit_code == 0 and "2 item(s) set to approved" in out.output
    refused = run("rejected", "--who", "dave")                               # the store's rule, translated
    assert refused.exit_code == 2 and "give a reason for rejecting" in refused.output
    out = run("rejected", "--who", "dave", "--reason", "ambiguous", "--where-status", "approved")
    assert out.exit_code == 0 and "2 item(s)" in out.output
    assert ws.review_progress()["by_status"] == {"pending": 6, "draft": 0, "approved": 0, "rejected": 2}

"""The Review tab through gradio_client (signed-in users): queue filters, load/next/prev, approve / reject /
draft with edits, stale-save banner, revision diffs, bulk status, progress and agreement.

    .venv/bin/pytest tests/workbench/test_review_tab.py
"""
from __future__ import annotations

import pytest
from gradio_client import Client

from lvr.store.qa import OPTION_MAX_CHARS, QUESTION_MAX_CHARS
from tests.workbench.conftest import ANY6, USERS, fields, form, serve
from workbench.diffs import revisions_html, word_diff
from workbench.review import QueueFilter, next_id
from workbench.review_tab import build_review_tab


@pytest.fixture(scope="module")
def env(module_ws):
    with serve(module_ws, build_review_tab, "Review", auth=USERS) as url:
        yield dict(ws=module_ws, **{u: Client(url, auth=(u, p), verbose=False) for u, p in USERS})


def table(out) -> list[dict]:
    return [dict(zip(out["headers"], r)) for r in out["data"]]


def test_queue_filters(env):
    c, ws = env["alice"], env["ws"]
    q, summary = c.predict(*ANY6, 1, api_name="/review_queue")
    assert len(table(q)) == 24 and "**24** item(s)" in summary
    q, _ = c.predict(["pending"], "spatial", "any", "any", "any", "", 1, api_name="/review_queue")
    assert {r["category"] for r in table(q)} == {"spatial"} and len(table(q)) == 6
    vid = ws.list_videos()[2]["id"]
    q, _ = c.predict(["pending"], "any", vid, "synth-test", "any", "", 1, api_name="/review_queue")
    assert len(table(q)) == 8 and {r["video"] for r in table(q)} == {vid[:8]}
    q, _ = c.predict(["pending"], "any", "any", "any", "any", "attic", 1, api_name="/review_queue")   # full text
    assert table(q) and all("attic" in ws.get_qa(r["id"])["question"] + " ".join(ws.get_qa(r["id"])["options"])
                            + ws.get_qa(r["id"])["reasoning"] for r in table(q))
    ws.update_qa(5, {"duplicate_of": 1}, expected_version=ws.get_qa(5)["version"], who="filter")
    q, _ = c.predict(["pending"], "any", "any", "any", "duplicates only", "", 1, api_name="/review_queue")
    assert [r["id"] for r in table(q)] == [5]
    q, _ = c.predict(["pending"], "any", "any", "any", "hide duplicates", "", 1, api_name="/review_queue")
    assert 5 not in [r["id"] for r in table(q)] and len(table(q)) == 23
    with pytest.raises(Exception, match="not in the list of choices"):
        c.predict(["finished"], "any", "any", "any", "any", "", 1, api_name="/review_queue")
    with pytest.raises(Exception, match="status filter"):         # the handler checks too (plain calls)
        QueueFilter(status=["finished"])


def test_load_navigate_and_item_context(env):
    c, ws = env["alice"], env["ws"]
    f = form(c.predict(None, *ANY6, api_name="/review_next"))      # no current item: the first of the queue
    assert f["id"] == 1 and f["version"] == 1 and "status **pending**" in f["header"]
    assert f["player"]["playback_position"] == ws.get_qa(1)["start"] and f["player"]["value"].endswith(".mp4")
    assert "Captions in range" in f["context"] and "kitchen" in f["context"]
    assert f["question"] == ws.get_qa(1)["question"] and [f[x] for x in "ABCD"] == ws.get_qa(1)["options"]
    assert form(c.predict(1, *ANY6, api_name="/review_next"))["id"] == 2
    assert form(c.predict(3, *ANY6, api_name="/review_prev"))["id"] == 2
    end = form(c.predict(1, *ANY6, api_name="/review_prev"))
    assert "no more items" in end["banner"]
    f3 = form(c.predict(3, api_name="/review_load"))
    assert f3["id"] == 3 and f3["category"] == "spatial"
    assert next_id(ws, QueueFilter(category="plot"), None) == 4


def test_approve_with_edits_records_user_and_advances(env):
    c, ws = env["bob"], env["ws"]
    f = form(c.predict(6, api_name="/review_load"))
    edited = fields(f, question=f["question"] + " (be precise)", B="it is the subject that links every scene",
                    answer="B")
    nxt = form(c.predict(*edited, *ANY6, api_name="/review_approve"))
    assert nxt["id"] == 7 and "#6 approved by bob" in nxt["banner"]
    item = ws.get_qa(6)
    assert item["status"] == "approved" and item["updated_by"] == "bob" and item["version"] == 2
    assert item["question"].endswith("(be precise)")
    assert item["options"][1] == "it is the subject that links every scene"
    rev = ws.revisions(6)[-1]
    assert rev["who"] == "bob" and rev["action"] == "approved" and rev["after"]["status"] == "approved"
    html = c.predict(6, api_name="/review_history")
    assert "approved by <b>bob</b>" in html and "<ins>(be precise)</ins>" in html and "option B" in html


def test_reject_needs_reason_and_draft_stays(env):
    c, ws = env["carol"], env["ws"]
    f = form(c.predict(8, api_name="/review_load"))
    refused = form(c.predict(*fields(f), "", *ANY6, api_name="/review_reject"))   # told beside the buttons
    assert "Not saved" in refused["banner"] and "give a reason" in refused["banner"]
    assert refused["id"] == refused["question"] == {"__type__": "update"}          # the form keeps its fields
    assert ws.get_qa(8)["status"] == "pending"
    out = form(c.predict(*fields(f), "options B and C are both right", *ANY6, api_name="/review_reject"))
    assert "#8 rejected by carol" in out["banner"] and out["id"] == 9
    item = ws.get_qa(8)
    assert item["status"] == "rejected" and item["reject_reason"] == "options B and C are both right"
    f = form(c.predict(9, api_name="/review_load"))
    draft = form(c.predict(*fields(f, reasoning=f["reasoning"] + " The box is blue."), api_name="/review_save"))
    assert draft["id"] == 9 and draft["version"] == 2 and "saved as draft" in draft["banner"]
    assert ws.get_qa(9)["status"] == "draft" and ws.get_qa(9)["reasoning"].endswith("The box is blue.")
    bad = form(c.predict(*fields(draft, C=""), api_name="/review_save"))   # store validation names the field
    assert "Not saved" in bad["banner"] and "option" in bad["banner"]


def test_stale_save_shows_banner_and_writes_nothing(env):
    alice, bob, ws = env["alice"], env["bob"], env["ws"]
    fa = form(alice.predict(10, api_name="/review_load"))
    fb = form(bob.predict(10, api_name="/review_load"))
    ok = form(alice.predict(*fields(fa, question="Alice's wording?"), api_name="/review_save"))
    assert ok["version"] == fa["version"] + 1
    stale = form(bob.predict(*fields(fb, question="Bob's wording?"), *ANY6, api_name="/review_approve"))
    assert "Not saved" in stale["banner"] and "changed by alice" in stale["banner"] and "Reload item" in stale["banner"]
    assert stale["question"] == stale["id"] == {"__type__": "update"}   # skipped: the form keeps bob's edits
    item = ws.get_qa(10)
    assert item["question"] == "Alice's wording?" and item["status"] == "draft" and item["updated_by"] == "alice"
    fresh = form(bob.predict(10, api_name="/review_load"))
    assert fresh["question"] == "Alice's wording?" and fresh["version"] == item["version"]


def test_bulk_progress_and_agreement(env):
    ws, alice, bob = env["ws"], env["alice"], env["bob"]
    vid = ws.list_videos()[2]["id"]
    flt = [["pending"], "any", vid, "any", "any", ""]
    with pytest.raises(Exception, match="tick"):
        alice.predict("approved", "", False, *flt, api_name="/bulk_status")
    msg, confirm = alice.predict("approved", "", True, *flt, api_name="/bulk_status")
    assert "8 of 8 matching item(s) approved by alice" in msg and confirm is False
    assert ws.query_qa(video_id=vid, status="approved")[1] == 8
    # bob judges four of them again: agrees on two, rejects two
    for i, qa in enumerate(ws.query_qa(video_id=vid)[0][:4]):
        f = form(bob.predict(qa["id"], api_name="/review_load"))
        if i < 2:
            bob.predict(*fields(f), *ANY6, api_name="/review_approve")
        else:
            bob.predict(*fields(f), "ambiguous", *ANY6, api_name="/review_reject")
    md, annot, agreement = alice.predict(api_name="/review_progress")
    assert "reviewed" in md and "4 item(s) judged by two or more annotators" in md
    per = {r["annotator"]: r for r in table(annot)}
    assert per["alice"]["approved"] >= 8 and per["bob"]["rejected"] >= 2
    pair = next(r for r in table(agreement) if {r["annotator A"], r["annotator B"]} == {"alice", "bob"})
    assert pair["items both judged"] == 4 and pair["agreement %"] == 50.0


def test_diff_rendering():
    assert word_diff("the red ball", "the blue ball") == "the <del>red </del><ins>blue </ins>ball"
    assert "&lt;b&gt;" in word_diff("<b>", "x")
    html = revisions_html([{"version": 2, "who": "ann", "at": "2026-01-01T10:00:00", "action": "edited",
                            "before": {"options": ["a", "b", "c", "d"], "answer": "A"},
                            "after": {"options": ["a", "B!", "c", "d"], "answer": "B"}}])
    assert "option B" in html and "option A" not in html and "<del>A</del> → <ins>B</ins>" in html
    assert "no revisions yet" in revisions_html([])


def test_empty_filter_clears_the_form_and_page_past_the_end_is_reported(env):
    c = env["alice"]
    f = form(c.predict(None, *ANY6, api_name="/review_next"))
    assert f["id"] == 1
    nothing = [["pending"], "any", "any", "any", "any", "zzzz-no-such-word"]
    q, summary = c.predict(*nothing, 1, api_name="/review_queue")
    assert "**0** item(s)" in summary and "change them" in summary
    empty = form(c.predict(None, *nothing, api_name="/review_next"))
    assert empty["id"] is None and empty["question"] == "" and [empty[x] for x in "ABCD"] == [""] * 4
    assert "no item matches" in empty["banner"] and empty["player"]["value"] is None
    q, summary = c.predict(*ANY6, 999, api_name="/review_queue")
    assert "page 999 is past the end" in summary and table(q)          # the last page is shown, and said so


def test_annotator_name_signs_edits_without_auth(module_ws):
    ws = module_ws
    with serve(ws, build_review_tab, "Review") as url:               # no --auth
        c = Client(url, verbose=False)
        f = form(c.predict(12, api_name="/review_load"))
        out = form(c.predict(*fields(f), *ANY6, "  Dana  Q ", api_name="/review_approve"))
        assert "#12 approved by Dana Q" in out["banner"]
        assert ws.get_qa(12)["updated_by"] == "Dana Q" and ws.revisions(12)[-1]["who"] == "Dana Q"
        f = form(c.predict(13, api_name="/review_load"))
        form(c.predict(*fields(f), *ANY6, api_name="/review_approve"))     # no name given: "local"
        assert ws.get_qa(13)["updated_by"] == "local"


def test_signed_in_user_cannot_sign_as_someone_else(env):
    c, ws = env["bob"], env["ws"]
    f = form(c.predict(14, api_name="/review_load"))
    c.predict(*fields(f), *ANY6, "mallory", api_name="/review_approve")
    assert ws.get_qa(14)["updated_by"] == "bob"


def test_text_boxes_stop_typing_at_the_stores_length_rule(env):
    """The served form caps the question and options where the store would refuse them (validate_qa)."""
    boxes = {c["props"].get("elem_id"): c["props"].get("max_length")
             for c in env["alice"].config["components"] if c.get("type") == "textbox"}
    assert boxes["review-question"] == QUESTION_MAX_CHARS
    assert [boxes[f"review-option-{x}"] for x in "ABCD"] == [OPTION_MAX_CHARS] * 4

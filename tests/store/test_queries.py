"""Review-queue queries: filters, pagination, full-text search, bulk insert speed."""
import time

import pytest

from .conftest import make_item


def test_filters_and_pagination(ws, video_id):
    ws.add_qa_many([make_item(video_id, i, source="synth" if i % 2 else "llm") for i in range(40)])
    items, total = ws.query_qa(category="goal", page=1, page_size=3)
    assert total == 10 and len(items) == 3 and all(i["category"] == "goal" for i in items)
    page4, _ = ws.query_qa(category="goal", page=4, page_size=3)
    assert len(page4) == 1
    _, total = ws.query_qa(category=["goal", "plot"], source="synth")
    assert total == 20
    _, total = ws.query_qa(video_id=video_id, status="approved")
    assert total == 0
    assert ws.qa_ids(category="plot", source="llm") == []
    assert len(list(ws.iter_qa(batch=7, category="temporal"))) == 10


def test_duplicate_flag_filter(ws, video_id):
    a = ws.add_qa(make_item(video_id, 0))
    b = ws.add_qa(make_item(video_id, 1))
    ws.update_qa(b, {"duplicate_of": a}, expected_version=1, who="dedup")
    assert [i["id"] for i in ws.query_qa(duplicate=True)[0]] == [b]
    assert [i["id"] for i in ws.query_qa(duplicate=False)[0]] == [a]


def test_full_text_search_over_questions_options_reasoning_and_captions(ws, video_id):
    q1 = ws.add_qa(make_item(video_id, 0, question="Why did the blue robot enter the garage?"))
    q2 = ws.add_qa(make_item(video_id, 1, options=["umbrella", "key", "ball", "cube"]))
    q3 = ws.add_qa(make_item(video_id, 2, reasoning="It hides the triangle behind the sofa."))
    assert [i["id"] for i in ws.query_qa(text="blue robots")[0]] == [q1]  # porter stemming
    assert [i["id"] for i in ws.query_qa(text="umbrella")[0]] == [q2]
    assert [i["id"] for i in ws.query_qa(text="sofa")[0]] == [q3]
    ws.update_qa(q3, {"reasoning": "It hides it under the table."}, expected_version=1, who="x")
    assert ws.query_qa(text="sofa")[1] == 0 and ws.query_qa(text="table")[1] == 1  # FTS follows edits
    assert ws.query_qa(text='weird "quotes AND (')[1] == 0  # user text never breaks the query
    clips = ws.set_clips(video_id, [(0, 10), (10, 20), (20, 30)])
    ws.set_caption(clips[1], "A green ball rolls across the kitchen floor.", captioner="gt")
    hits = ws.search_captions("kitchen")
    assert [h["id"] for h in hits] == [clips[1]] and "[kitchen]" in hits[0]["snippet"]
    assert [v["id"] for v in ws.list_videos(text="kitchen")] == [video_id]


def test_bulk_insert_100k_rows_in_seconds(ws, video_id):
    items = [make_item(video_id, i) for i in range(100_000)]
    t0 = time.perf_counter()
    assert ws.add_qa_many(items) == 100_000
    elapsed = time.perf_counter() - t0
    assert elapsed < 30, f"100k rows took {elapsed:.1f}s"
    assert ws.query_qa(text="garage", page_size=1)[1] == 100_000


def test_bulk_insert_validates_before_writing(ws, video_id):
    items = [make_item(video_id, i) for i in range(5)] + [make_item(video_id, 5, answer="Z")]
    with pytest.raises(ValueError, match="item 5: answer"):
        ws.add_qa_many(items)
    assert ws.scalar("SELECT count(*) FROM qa") == 0

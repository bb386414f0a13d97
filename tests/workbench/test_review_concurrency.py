"""Several annotators edit the same QA items at once, through two app servers on one workspace folder
(two SQLite connections, like two processes): no update is lost, every refused save is reported.

    .venv/bin/pytest tests/workbench/test_review_concurrency.py
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

from lvr.store import Workspace
from tests.workbench.conftest import USERS, fields, form, serve
from workbench.review_tab import build_review_tab

EXTRA = [("dave", "pw-dave")]


@pytest.fixture(scope="module")
def servers(module_ws):
    other = Workspace.open(module_ws.root)        # a second connection to the same lvr.db
    users = USERS + EXTRA
    with serve(module_ws, build_review_tab, "Review", auth=users) as url_a, \
            serve(other, build_review_tab, "Review", auth=users) as url_b:
        # alice and carol on server A, bob and dave on server B
        clients = {u: Client(url_a if i % 2 == 0 else url_b, auth=(u, p), verbose=False)
                   for i, (u, p) in enumerate(users)}
        yield dict(ws=module_ws, clients=clients)
    other.close()


def test_simultaneous_saves_of_one_version_one_wins(servers):
    ws, clients = servers["ws"], servers["clients"]
    qa_id = 11
    before = ws.get_qa(qa_id)
    n_revs = len(ws.revisions(qa_id))
    barrier = threading.Barrier(len(clients))

    def edit(user: str) -> dict:
        c = clients[user]
        f = form(c.predict(qa_id, api_name="/review_load"))
        assert f["version"] == before["version"]
        barrier.wait()                                   # everyone saves the same loaded version at once
        return form(c.predict(*fields(f, reasoning=f"reasoning by {user}"), api_name="/review_save"))

    with ThreadPoolExecutor(len(clients)) as pool:
        results = dict(zip(clients, pool.map(edit, clients)))
    winners = [u for u, f in results.items() if f["banner"].startswith("✓")]
    losers = [u for u, f in results.items() if "Not saved" in f["banner"]]
    assert len(winners) == 1 and len(losers) == len(clients) - 1, {u: f["banner"] for u, f in results.items()}
    after = ws.get_qa(qa_id)
    assert after["reasoning"] == f"reasoning by {winners[0]}" and after["updated_by"] == winners[0]
    assert after["version"] == before["version"] + 1 and len(ws.revisions(qa_id)) == n_revs + 1
    for u in losers:                                     # each loser is told who saved first
        assert f"changed by {winners[0]}" in results[u]["banner"]


def test_retrying_after_conflicts_loses_no_update(servers):
    ws, clients = servers["ws"], servers["clients"]
    items = [12, 13]
    rounds = 1
    start = {q: ws.get_qa(q)["version"] for q in items}
    conflicts: dict[str, int] = {u: 0 for u in clients}

    def annotate(user: str) -> int:
        c, saves = clients[user], 0
        for r in range(rounds):
            for q in items:
                for _ in range(30):                       # reload and re-apply until the save goes through
                    f = form(c.predict(q, api_name="/review_load"))
                    out = form(c.predict(*fields(f, reasoning=f"{f['reasoning']} [{user}-{r}]"),
                                         api_name="/review_save"))
                    if out["banner"].startswith("✓"):
                        saves += 1
                        break
                    assert "Not saved" in out["banner"] and "changed by" in out["banner"]
                    conflicts[user] += 1
                else:
                    raise AssertionError(f"{user} could not save item {q} in 30 tries")
        return saves

    with ThreadPoolExecutor(len(clients)) as pool:
        saves = sum(pool.map(annotate, clients))
    assert saves == len(clients) * rounds * len(items)
    for q in items:
        item = ws.get_qa(q)
        for user in clients:                              # every user's every edit is in the final text
            for r in range(rounds):
                assert f"[{user}-{r}]" in item["reasoning"], (q, user, r, item["reasoning"])
        assert item["version"] == start[q] + len(clients) * rounds
        assert {rv["who"] for rv in ws.revisions(q)} >= set(clients)

"""Two processes save the same QA item from the same loaded version: one wins, one is refused."""
import multiprocessing as mp

from lvr.store import StaleEditError, Workspace

from .conftest import make_item


def _writer(root, qid, who, barrier, results):
    ws = Workspace.open(root)
    version = ws.get_qa(qid)["version"]  # both load version 1
    barrier.wait()
    try:
        ws.update_qa(qid, {"question": f"saved by {who}"}, expected_version=version, who=who)
        results.put((who, "ok"))
    except StaleEditError as e:
        results.put((who, f"stale: {e}"))


def test_two_processes_one_wins_no_lost_update(tmp_path):
    ws = Workspace.open(tmp_path / "ws", create=True)
    qid = ws.add_qa(make_item(None))
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(ws.root), qid, who, barrier, results)) for who in ("ann", "ben")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    outcome = dict(results.get(timeout=5) for _ in procs)
    winners = [w for w, r in outcome.items() if r == "ok"]
    losers = [w for w, r in outcome.items() if r.startswith("stale")]
    assert len(winners) == 1 and len(losers) == 1
    assert f"changed by {winners[0]}" in outcome[losers[0]]
    item = ws.get_qa(qid)
    assert item["question"] == f"saved by {winners[0]}" and item["version"] == 2
    assert [r["who"] for r in ws.revisions(qid)] == winners

"""`lvr filter-difficulty`: k rollouts per item → qa.difficulty + flags; GRPO's loader skips flagged items."""
from click.testing import CliRunner

from lvr.cli import cli
from lvr.store import Workspace
from lvr.store.difficulty import difficulty_flag
from lvr.train.data import load_items


def test_filter_difficulty_marks_items_and_grpo_skips_them(train_ws, tiny_model):
    res = CliRunner().invoke(cli, ["filter-difficulty", str(train_ws), "--checkpoint", str(tiny_model), "--k", "3",
                                   "--frames", "2", "--max-new-tokens", "8", "--limit", "3"])
    assert res.exit_code == 0, res.output
    assert "3 items measured with k=3; difficulty:" in res.output
    ws = Workspace.open(train_ws)
    measured = [q for q in ws.iter_qa(split="rl") if q["difficulty"] is not None]
    assert len(measured) == 3
    for q in measured:
        assert q["difficulty"] in (0.0, 1 / 3, 2 / 3, 1.0)
        assert q["meta"]["difficulty_flag"] == difficulty_flag(q["difficulty"], 3) and q["meta"]["difficulty_k"] == 3
        assert ws.revisions(q["id"])[-1]["action"] == "difficulty"
    flagged = {q["id"] for q in measured if q["meta"]["difficulty_flag"] != "informative"}
    kept = {it.qa_id for it in load_items(ws, split="rl", statuses=["approved", "pending"],
                                          exclude_flags=["always_right", "always_wrong"])}
    assert not kept & flagged and len(kept) == 8 - len(flagged)
    res = CliRunner().invoke(cli, ["filter-difficulty", str(train_ws), "--checkpoint", "no-such-ckpt"])
    assert res.exit_code == 1 and "neither a checkpoint id of the workspace nor a directory" in res.output
    ws.close()

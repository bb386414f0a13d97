"""GRPO under a 2-process torchrun (gloo, ZeRO-3): metrics, reference KL, checkpoints, exact resume."""
import pytest
import torch
from safetensors.torch import load_file

from lvr.store import Workspace
from lvr.train.metrics import read_metrics

from .conftest import torchrun

pytestmark = [pytest.mark.dist, pytest.mark.slow]

REWARD = '''
def letters(completions, **kw):
    """Varies between samples of a group, so advantages are non-zero even for an untrained model."""
    return [sum(ch in "aeiou" for ch in c) / max(len(c), 1) for c in completions]
'''

KEYS = {"loss", "lr", "grad_norm", "reward/mean", "reward/std", "reward/letters/mean", "reward/format/mean",
        "reward/overlong/mean", "accuracy", "format_rate", "kl", "entropy", "clip/low", "clip/high",
        "clip/fraction", "response/length_mean", "response/length_max", "response/truncated", "groups/filtered",
        "time/rollout", "time/logprobs", "time/update", "time/step", "embeds/hits", "embeds/misses"}


def _args(tiny_model, ws, out, reward_file, *extra):
    return ["-m", "lvr.train.grpo", f"model={tiny_model}", f"workspace={ws}", f"output_dir={out}", "max_steps=3",
            "save_every=2", "prompts_per_step=1", "micro_batch_size=2", "rollout.num_generations=4",
            "rollout.max_new_tokens=12", "data.num_frames=4", "loss.type=dapo", "loss.beta=0.05",
            "loss.overlong_buffer=4", "num_iterations=2", "optim.lr=1e-3", "deepspeed.zero_stage=3",
            "name=grpo-test", f"reward.functions={{{reward_file}:letters: 1.0, format: 0.1}}", *extra]


def test_grpo_trains_logs_and_resumes_exactly(tmp_path, train_ws, tiny_model):
    reward_file = tmp_path / "my_reward.py"
    reward_file.write_text(REWARD)
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    torchrun(_args(tiny_model, train_ws, run_a, reward_file))
    rows = read_metrics(run_a / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert KEYS <= set(r), KEYS - set(r)
        assert r["loss"] is not None and abs(r["loss"]) < 1e3
        assert r["kl"] is not None and r["kl"] >= 0 and r["entropy"] > 0
        assert r["response/length_max"] <= 12 and r["embeds/misses"] == 1
    assert any(r["kl"] > 0 for r in rows) and any(r["grad_norm"] > 0 for r in rows)

    ws = Workspace.open(train_ws)
    ckpts = ws.list_checkpoints(stage="grpo")
    assert [c["step"] for c in ckpts] == [2, 3] and ws.get_checkpoint(ckpts[0]["parent"])["stage"] == "base"
    new, old = (load_file(f"{d}/llm/model.safetensors") for d in (ckpts[-1]["abspath"], tiny_model))
    assert any(not torch.equal(new[k], old[k]) for k in old)

    torchrun(_args(tiny_model, train_ws, run_b, reward_file, f"resume={run_a}/state/step-0000002",
                   "name=grpo-resumed"))
    resumed = read_metrics(run_b / "metrics.jsonl")
    assert [r["step"] for r in resumed] == [3]
    for key in ("loss", "reward/mean", "kl", "entropy", "response/length_mean"):
        assert resumed[0][key] == pytest.approx(rows[2][key], rel=1e-5, abs=1e-7), key
    ws.close()

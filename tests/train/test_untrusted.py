"""Config rules for untrusted callers (lvr.train.untrusted) and validation that never runs user code."""
from __future__ import annotations

import pytest

from lvr.config import ConfigError, load_config
from lvr.train.configs import GRPOConfig
from lvr.train.untrusted import CONFIGS_DIR, check_paths, check_recipe_path, check_reward_functions, check_untrusted

CODE = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\ndef fn(completions, **kw):\n    return [1.0]\n"


def test_validating_a_config_never_imports_a_user_reward(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "r.py").write_text(CODE.format(marker=str(marker)))
    cfg = load_config(GRPOConfig, CONFIGS_DIR / "tiny" / "grpo.yaml",
                      [f'reward.functions={{"{tmp_path / "r.py"}:fn": 1.0}}'])
    assert f"{tmp_path / 'r.py'}:fn" in cfg.reward.functions and not marker.exists()
    with pytest.raises(ConfigError, match="does not exist"):                       # the CLI still checks the file
        load_config(GRPOConfig, CONFIGS_DIR / "tiny" / "grpo.yaml", ['reward.functions={"/no/x.py:fn": 1.0}'])


def test_untrusted_rewards_only_registered_or_in_the_workspace_rewards_folder(tmp_path):
    (tmp_path / "rewards").mkdir()
    (tmp_path / "rewards" / "ok.py").write_text("def fn(c, **k):\n    return [0.0]\n")
    (tmp_path / "elsewhere.py").write_text("def fn(c, **k):\n    return [0.0]\n")
    check_reward_functions(["accuracy", "format", f"{tmp_path}/rewards/ok.py:fn"], tmp_path)
    for bad in (f"{tmp_path}/elsewhere.py:fn", f"{tmp_path}/rewards/../elsewhere.py:fn", "nope",
                f"{tmp_path}/rewards/missing.py:fn"):
        with pytest.raises(ConfigError, match=r"reward.functions\..*rewards/ folder"):
            check_reward_functions([bad], tmp_path)


def test_recipe_paths(tmp_path):
    ws = tmp_path / "ws"
    (ws / "configs").mkdir(parents=True)
    (ws / "configs" / "mine.yaml").write_text("model: tiny:lvr_composite\n")
    (tmp_path / "outside.yaml").write_text("aws_secret_access_key: x\n")
    assert check_recipe_path("configs/tiny/sft.yaml", ws) == CONFIGS_DIR / "tiny" / "sft.yaml"
    assert check_recipe_path("tiny/grpo.yaml", ws) == CONFIGS_DIR / "tiny" / "grpo.yaml"
    assert check_recipe_path(str(ws / "configs" / "mine.yaml"), ws) == ws / "configs" / "mine.yaml"
    messages = set()
    for bad in (str(tmp_path / "outside.yaml"), "/etc/passwd", "/missing.yaml", "configs/../pyproject.toml",
                "", str(ws / "configs" / ".." / ".." / "outside.yaml")):
        with pytest.raises(ConfigError) as e:
            check_recipe_path(bad, ws)
        messages.add(str(e.value).split(":", 1)[1])
    assert len(messages) == 1                        # the same words whether the file exists or not


def test_paths_and_operator_keys(tmp_path):
    cfg = load_config(GRPOConfig, CONFIGS_DIR / "tiny" / "grpo.yaml", [f"output_dir={tmp_path}/runs/x"])
    check_paths(cfg, tmp_path)
    check_untrusted(cfg, ["max_steps=3", "model=latest:sft"], tmp_path)
    for key, value in (("output_dir", "/tmp/else"), ("model", "../other/ckpt"), ("ref_model", "/etc")):
        bad = load_config(GRPOConfig, CONFIGS_DIR / "tiny" / "grpo.yaml", [f"{key}={value}"])
        with pytest.raises(ConfigError, match=f"^{key}: from the app"):
            check_paths(bad, tmp_path)
    for override in ("reward.judge.base_url=http://x", "deepspeed.extra.a=1", "workspace=/"):
        with pytest.raises(ConfigError, match="set by the operator"):
            check_untrusted(cfg, [override], tmp_path)

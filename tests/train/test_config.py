"""lvr.config + the stage configs: YAML + dotted overrides, coercion, validation messages."""
from dataclasses import dataclass

import pytest

from lvr.config import ConfigError, describe, fail, from_dict, load_config, option, to_dict
from lvr.train.configs import GRPOConfig, SFTConfig


@dataclass
class Inner:
    temperature: float = option(1.0, "sampling temperature", ge=0)
    tags: list[str] = option(["a"], "tags")


@dataclass
class Outer:
    name: str = option(help="required name")
    lr: float = option(1e-5, "learning rate", gt=0)
    steps: int = option(10, "steps", ge=1)
    loss: str = option("grpo", "loss", choices=("grpo", "dapo"))
    flag: bool = option(False, "a flag")
    beta: float | None = option(None, "optional float")
    resume: bool | str = option(False, "bool or path")
    inner: Inner = option(Inner, "nested group")

    def check(self):
        if self.loss == "dapo" and self.steps < 2:
            fail(self, "steps", "dapo needs at least 2 steps")


def test_yaml_then_overrides_with_coercion(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("name: run\nlr: 1.0e-3\ninner:\n  tags: [x]\n")
    cfg = load_config(Outer, f, ["lr=1e-6", "steps=20", "flag=yes", "beta=null", "inner.temperature=0.7",
                                 "resume=true", "name=007"])
    assert cfg.lr == 1e-6 and isinstance(cfg.lr, float)          # "1e-6" is a str in YAML 1.1; coerced
    assert cfg.steps == 20 and cfg.flag is True and cfg.beta is None
    assert cfg.inner.temperature == 0.7 and cfg.inner.tags == ["x"]   # partial group keeps its other keys
    assert cfg.resume is True and cfg.name == "007"                   # a str field keeps the text as typed
    assert load_config(Outer, None, ["name=a", "resume=/runs/x", "inner.tags=a,b"]).resume == "/runs/x"
    assert load_config(Outer, None, ["name=a", "inner.tags=a,b"]).inner.tags == ["a", "b"]
    assert from_dict(Outer, to_dict(cfg)) == cfg


@pytest.mark.parametrize("overrides, message", [
    (["inner.tempature=1"], "unknown key inner.tempature (from override inner.tempature=1) (did you mean "
                            "inner.temperature?); valid keys of inner are: tags, temperature"),
    (["lrr=1"], "valid keys of Outer are: beta, flag, inner, loss, lr, name, resume, steps"),
    (["lr=fast"], "lr: expected float, got 'fast' (from override lr=fast)"),
    (["lr=-1"], "lr: must be > 0, got -1.0"),
    (["steps=2.5"], "steps: expected int, got '2.5'"),
    (["flag=maybe"], "flag: expected bool, got 'maybe' (use true or false)"),
    (["loss=ppo"], "loss: must be one of 'grpo', 'dapo', got 'ppo'"),
    (["inner=3"], "inner is a group of settings; set its keys instead"),
    (["loss=dapo", "steps=1"], "steps: dapo needs at least 2 steps"),
    (["lr"], "override 'lr' is not of the form key=value"),
])
def test_errors_name_the_key_value_and_source(overrides, message):
    with pytest.raises(ConfigError) as e:
        load_config(Outer, None, ["name=x", *overrides])
    assert message in str(e.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="name is required"):
        load_config(Outer, None, [])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Outer, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: many\n")
    with pytest.raises(ConfigError, match=rf"steps: expected int, got 'many' \(from {bad}\)"):
        load_config(Outer, bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys at top level"):
        load_config(Outer, bad)


def test_describe_lists_every_key_with_help():
    lines = describe(Outer)
    assert "lr (float, default 1e-05, > 0): learning rate" in lines
    assert "inner.temperature (float, default 1.0, >= 0): sampling temperature" in lines
    assert any(line.startswith("name (str, required)") for line in lines)


def test_stage_configs_and_recipes():
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    sft = load_config(SFTConfig, root / "configs/tiny/sft.yaml", ["workspace=ws"])
    assert sft.data.split == "sft" and sft.deepspeed.zero_stage == 0
    grpo = load_config(GRPOConfig, root / "configs/tiny/grpo.yaml", ["workspace=ws", "loss.type=dapo"])
    assert grpo.data.split == "rl" and grpo.data.exclude_flags == ["always_right", "always_wrong"]
    loss = grpo.loss.resolved()
    assert (loss.epsilon_high, loss.dynamic_filter, loss.overlong_penalty) == (0.28, True, True)
    assert load_config(GRPOConfig, None, ["model=m", "loss.type=dr_grpo"]).loss.resolved().scale_rewards == "none"
    for name in ("qwen2_5_vl_7b", "composite_7b"):
        for stage, cls in (("sft", SFTConfig), ("grpo", GRPOConfig)):
            cfg = load_config(cls, root / f"configs/{name}/{stage}.yaml", ["workspace=ws"])
            assert cfg.deepspeed.zero_stage == 3 and cfg.data.num_frames == 512
    with pytest.raises(ConfigError, match=r"micro_batch_size: must divide prompts_per_step × "
                                          r"rollout.num_generations = 16, got 3"):
        load_config(GRPOConfig, None, ["model=m", "prompts_per_step=2", "rollout.num_generations=8",
                                       "micro_batch_size=3"])
    with pytest.raises(ConfigError, match="rollout.answer: choice scores the options on the policy"):
        load_config(GRPOConfig, None, ["model=m", "rollout.answer=choice", "deepspeed.zero_stage=3"])
    with pytest.raises(ConfigError, match="reward.functions.nope: unknown reward function 'nope'"):
        load_config(GRPOConfig, None, ["model=m", "reward.functions={nope: 1.0}"])
    with pytest.raises(ConfigError, match="trainable.llm: nothing to train"):
        load_config(SFTConfig, None, ["model=m", "trainable.llm=false", "trainable.projector=false"])

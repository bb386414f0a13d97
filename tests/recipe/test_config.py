"""RecipeConfig: the shipped recipe loads, stage YAMLs are validated up front, bad keys fail fast."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from lvr.cli import cli
from lvr.config import ConfigError
from lvr.recipe import RecipeConfig, load_recipe, stage_config
from lvr.recipe.config import fingerprint

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "configs" / "tiny" / "recipe.yaml"
VIDEOLM_RECIPE = ROOT / "configs" / "tiny" / "recipe-videolm.yaml"     # + base video LM, grounded CoT


def test_shipped_recipe_loads_and_resolves_stage_configs():
    cfg = load_recipe(RECIPE)
    assert isinstance(cfg, RecipeConfig)
    assert cfg.sft.config == str(ROOT / "configs" / "tiny" / "sft.yaml")
    assert cfg.grpo.config == str(ROOT / "configs" / "tiny" / "grpo.yaml")
    grpo = stage_config(cfg, "grpo", model="m", workspace="w")
    # the recipe's promise: MR-SP with 2 processes, sp_size 2, the embedding cache on
    assert cfg.grpo.nproc == 2 and grpo.mrsp.sp_size == 2 and grpo.mrsp.embed_cache != "off"
    assert grpo.seed == cfg.seed and grpo.model == "m" and grpo.workspace == "w"
    assert cfg.data.split_fractions[2] > 0 and cfg.eval.split == "eval"
    assert len(cfg.eval.sweep_frames) >= 2


def test_overrides_reach_the_stage_configs():
    cfg = load_recipe(RECIPE, ["sft.set.optim.lr=2e-4", "grpo.set.rollout.num_generations=8",
                               "grpo.set.micro_batch_size=4", "seed=7", "eval.sweep_frames=[1,2]"])
    sft = stage_config(cfg, "sft", model="m", workspace="w")
    grpo = stage_config(cfg, "grpo", model="m", workspace="w")
    assert sft.optim.lr == pytest.approx(2e-4) and sft.seed == 7
    assert grpo.rollout.num_generations == 8 and grpo.micro_batch_size == 4
    assert cfg.eval.sweep_frames == [1, 2]


@pytest.mark.parametrize("override, message", [
    ("sft.set.optim.lrr=1", "did you mean optim.lr"),
    ("grpo.set.rollout.backend=sglang", "rollout.backend"),
    ("grpo.set.micro_batch_size=3", "micro_batch_size"),
    ("grpo.nproc=3", "multiple of mrsp.sp_size"),
    ("model.heads=3", "heads"),
    ("model.pool_size=9", "pool_size"),
    ("data.split_fractions=[0.5,0.5,0]", "needs sft, rl and eval"),
    ("data.videos=2", ">= 3"),
    ("eval.sweep_frames=[]", "sweep_frames"),
    ("eval.reference_split=eval", "reference_split"),
    ("evall.frames=4", "did you mean eval"),
    ("videolm.hide_frame_tags=true", "videolm.hide_frame_tags"),
    ("videolm.qa_frames=[1]", "videolm.qa_frames"),
    ("videolm.qa_share=1.0", "videolm.qa_share"),
    ("videolm.qa_start=9", "videolm.qa_start"),
])
def test_bad_settings_fail_before_anything_runs(override, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        load_recipe(RECIPE, [override, f"workspace={tmp_path / 'ws'}"])
    assert not (tmp_path / "ws").exists()


def test_missing_stage_yaml_is_named(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("sft: {config: nope.yaml}\n")
    with pytest.raises(ConfigError, match="sft.config: nope.yaml does not exist"):
        load_recipe(p)


def test_stage_yaml_resolves_next_to_the_recipe_first(tmp_path):
    (tmp_path / "my_sft.yaml").write_text("model: x\nmax_steps: 3\n")
    p = tmp_path / "r.yaml"
    p.write_text(f"sft: {{config: my_sft.yaml}}\ngrpo: {{config: {RECIPE.parent / 'grpo.yaml'}, nproc: 2, "
                 "set: {mrsp: {sp_size: 2}}}\n")
    cfg = load_recipe(p)
    assert cfg.sft.config == str(tmp_path / "my_sft.yaml")
    assert stage_config(cfg, "sft", model="m", workspace="w").max_steps == 3


def test_fingerprint_is_stable_and_sensitive():
    a = load_recipe(RECIPE)
    b = load_recipe(RECIPE, ["data.videos=7"])
    assert fingerprint("data", a.data) == fingerprint("data", load_recipe(RECIPE).data)
    assert fingerprint("data", a.data) != fingerprint("data", b.data)
    assert fingerprint("model", a.model) == fingerprint("model", b.model)


def test_cli_lists_keys_and_reports_config_errors():
    runner = CliRunner()
    res = runner.invoke(cli, ["recipe", "keys"])
    assert res.exit_code == 0 and "grpo.nproc" in res.output and "eval.sweep_frames" in res.output
    res = runner.invoke(cli, ["recipe", "run", str(RECIPE), "grpo.nproc=3"])
    assert res.exit_code == 2 and "multiple of mrsp.sp_size" in res.output

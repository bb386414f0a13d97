"""The whole recipe in one command: synthetic data → tiny base → CoT-SFT → GRPO (MR-SP) → evaluation.

    lvr recipe run configs/tiny/recipe.yaml [key=value ...] [--until STAGE]   # resumable; results.json
    lvr recipe report WORKSPACE --out docs/results.md --img-dir docs/img      # tables + PNG figures
    lvr recipe keys                                                           # every config key

    from lvr.recipe import load_recipe, run_recipe, write_report
    res = run_recipe(load_recipe("configs/tiny/recipe.yaml", ["workspace=workspaces/r1"]))
    write_report("workspaces/r1", "docs/results.md", img_dir="docs/img")

Modules: config (RecipeConfig: data, model, sft, grpo, eval groups; stage YAMLs validated up
front), stages (each stage, skipped when its output exists), results (run_recipe, results.json,
summary table), figures (plotly → PNG offline via headless Chromium), report (docs/results.md).
GRPO runs as a `torchrun --nproc_per_node 2` subprocess with mrsp.sp_size=2 and the embedding
cache on; evaluation compares base, SFT, SFT+GRPO and the reference answerers on held-out videos.
"""
from .config import RecipeConfig, load_recipe, stage_config
from .report import load_results, write_report
from .results import STAGE_ORDER, run_recipe, summary_table

__all__ = ["RecipeConfig", "load_recipe", "stage_config", "run_recipe", "summary_table", "STAGE_ORDER",
           "load_results", "write_report"]

"""Evaluation: per-category accuracy with bootstrap intervals, frames scaling, run comparison.

    from lvr.store import Workspace
    from lvr.eval import EvalConfig, ModelAnswerer, run_eval, run_sweep, compare_runs

    ws = Workspace.open("demo")
    res = run_eval(ws, ModelAnswerer(ckpt_dir), EvalConfig(split="eval", frames=16), checkpoint="grpo-…")
    sweep = run_sweep(ws, ModelAnswerer(ckpt_dir), [8, 16, 32, 64], EvalConfig(split="eval"))
    cmp = compare_runs(ws, [run_a, run_b])

Modules: `answerer` (Prediction, Answerer protocol, parsing via lvr.model.prompting),
`reference` (random / most-frequent letter / text-only naive Bayes), `model_answerer`,
`runner` (resumable batched runs → eval_runs/eval_items), `summary`, `stats` (bootstrap,
exact McNemar), `sweep`, `compare`, `benchmark` (LongVideo-Reason-eval row adapter, import
report and checks; the import itself uses lvr.datagen's importer, so it is composed one layer
up: lvr.recipe.benchmark.import_benchmark), `plots` (plotly figures as HTML + JSON), `report`
(text tables). CLI: `lvr eval --help`.
"""
from .answerer import Answerer, Prediction, prediction_from_text
from .benchmark import ImportReport, benchmark_report
from .compare import compare_runs, save_comparison
from .model_answerer import ModelAnswerer
from .reference import REFERENCE_NAMES, MostFrequentLetterAnswerer, RandomAnswerer, TextOnlyAnswerer, make_reference
from .runner import EvalConfig, EvalResult, run_eval, select_items
from .stats import bootstrap_ci, mcnemar_exact, paired_bootstrap_diff
from .sweep import SweepResult, run_sweep, sweep_curve

__all__ = [
    "Answerer", "Prediction", "prediction_from_text", "ImportReport", "benchmark_report",
    "compare_runs", "save_comparison", "ModelAnswerer", "REFERENCE_NAMES", "MostFrequentLetterAnswerer",
    "RandomAnswerer", "TextOnlyAnswerer", "make_reference", "EvalConfig", "EvalResult", "run_eval",
    "select_items", "bootstrap_ci", "mcnemar_exact", "paired_bootstrap_diff", "SweepResult", "run_sweep",
    "sweep_curve",
]

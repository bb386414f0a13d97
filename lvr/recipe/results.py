"""Run the recipe end to end and collect `<workspace>/recipe/results.json` (+ a printed summary table).

    from lvr.recipe import load_recipe, run_recipe
    res = run_recipe(load_recipe("configs/tiny/recipe.yaml", ["workspace=workspaces/r1"]))
    res["eval"]["systems"]["grpo"]["overall"], res["significance"], res["verdict"]

results.json holds: the config, the machine, the data splits, the model, training summaries and
curves (SFT loss, GRPO reward/accuracy), every system's held-out accuracy (overall and per
category, 95 % bootstrap intervals), the paired comparisons (exact McNemar p, paired bootstrap
interval of the difference), the accuracy-vs-frames curve, per-stage wall times and the verdicts
(`sft_vs_base`, `grpo_vs_sft`, `frames`). `lvr recipe report` turns it into docs/results.md.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Callable

import yaml

from lvr.config import to_dict
from lvr.eval.ideal_reader import answerable_subset, ideal_ceiling, run_items
from lvr.store import CATEGORIES
from lvr.train.metrics import read_metrics

from .config import RecipeConfig
from .stages import CONTROL, SYSTEMS, Recipe, machine

STAGE_ORDER = ("data", "base", "videolm", "sft", "grpo", "eval", "sweep", "compare")
RESULTS = "results.json"


def run_recipe(cfg: RecipeConfig, echo: Callable[[str], None] = print, until: str | None = None) -> dict | None:
    """Every stage in order (skipping finished ones); `until` stops after that stage (no results then)."""
    if until is not None and until not in STAGE_ORDER:
        raise ValueError(f"until must be one of {', '.join(STAGE_ORDER)}, got {until!r}")
    t0 = time.perf_counter()
    r = Recipe(cfg, echo)

    def stop(stage: str) -> bool:
        return until == stage
    data = r.data()
    if stop("data"):
        return None
    ckpts = {"base": r.base()}
    if stop("base"):
        return None
    start = "base"
    if cfg.videolm.steps:
        ckpts["videolm"] = r.videolm(ckpts["base"])
        start = "videolm"
    if stop("videolm"):
        return None
    ckpts["sft"] = r._train("sft", ckpts[start], r.keys[start])
    if stop("sft"):
        return None
    ckpts["grpo"] = r._train("grpo", ckpts["sft"], r.keys["sft"])
    if stop("grpo"):
        return None
    # with a base video LM, it is the base every later stage is compared with (a random-init LM scores 0)
    runs = r.evaluate({k: v for k, v in ckpts.items() if not (k == "base" and "videolm" in ckpts)})
    if stop("eval"):
        return None
    curve = r.sweep("grpo", ckpts["grpo"], reuse=(runs["grpo"],))     # its eval run is the sweep's point there
    if stop("sweep"):
        return None
    t1 = time.perf_counter()
    sig = r.compare(runs, curve)
    r.log.record("compare", True, time.perf_counter() - t1, f"{len(sig)} paired comparisons")
    results = collect(r, data, ckpts, runs, curve, sig, wall=time.perf_counter() - t0)
    path = r.dir / RESULTS
    path.write_text(json.dumps(results, indent=1, default=str))
    echo(summary_table(results))
    echo(f"[recipe] results: {path}")
    return results


def _metrics(run_dir: Path, keys: tuple[str, ...]) -> list[dict]:
    p = run_dir / "metrics.jsonl"
    rows = read_metrics(p) if p.is_file() else []
    return [{k: r.get(k) for k in ("step", *keys) if k in r} for r in rows]


def _training(r: Recipe, stage: str, keys: tuple[str, ...]) -> dict:
    row = r.state["stages"][stage]
    run_dir = r.ws.resolve(row["run_dir"])
    summary = yaml.safe_load((run_dir / "summary.yaml").read_text()) if (run_dir / "summary.yaml").is_file() else {}
    cfg = yaml.safe_load((run_dir / "recipe_stage.yaml").read_text())
    return {"run_dir": row["run_dir"], "checkpoint": row["checkpoint"], "nproc": row.get("nproc", 1),
            "seconds": row["seconds"], "summary": {k: v for k, v in summary.items() if k != "checkpoints"},
            "answerable": _answerable_rule(run_dir / "log.txt"),
            "config": {k: v for k, v in cfg.items() if k not in ("workspace", "output_dir")},
            "curve": _metrics(run_dir, keys)}


_KEPT = re.compile(r"\[data\] require_answerable: kept (\d+) of (\d+) item\(s\) that (\d+) frames")


def _answerable_rule(log: Path) -> dict | None:
    """What the training stage's answerable-items rule kept (the last such line of its log), or None."""
    hits = _KEPT.findall(log.read_text(errors="replace")) if log.is_file() else []
    return dict(zip(("kept", "items", "frames"), map(int, hits[-1]))) if hits else None


def _system(ws, run_id: str, kind: str) -> dict:
    run = ws.get_eval_run(run_id)
    s = run["summary"]
    out = {"run": run_id, "kind": kind, "checkpoint": run["checkpoint"], "frames": run["frames"],
           "overall": s["overall"], "categories": s["categories"], "format_ok_rate": s.get("format_ok_rate"),
           "letters": (s.get("letters") or {}).get("pred")}
    if s.get("thinking"):
        out["thinking_words"] = s["thinking"].get("mean_words")
    if s.get("tokens"):
        out["tokens_mean"] = s["tokens"].get("mean")
    return out


def _verdict(sig: list[dict], alpha: float, new: str, base: str) -> dict | None:
    for p in sig:
        if p["new"] == new and p["base"] == base:
            g = p["groups"]["overall"]
            return {"delta": g["delta"], "lo": g["lo"], "hi": g["hi"], "p": g["p"], "b": g["b"], "c": g["c"],
                    "n": g["n"], "significant": bool(g["p"] is not None and g["p"] < alpha and g["delta"] > 0)}
    return None


def frames_trend(frames: dict, alpha: float) -> str:
    """"rising" only when the last frame count beats the first significantly (paired McNemar)."""
    if not frames["rising"]:
        return "not rising"
    return "rising" if frames["p"] is not None and frames["p"] < alpha else "higher, not significant"


def collect(r: Recipe, data: dict, ckpts: dict, runs: dict, curve: dict, sig: list[dict], wall: float) -> dict:
    cfg, ws = r.cfg, r.ws
    systems = {name: _system(ws, runs[name], "model" if name in SYSTEMS else "control" if name == CONTROL
                             else "reference") for name in runs}
    overall = [p for p in curve["series"]["overall"]]
    accs = [p["acc"] for p in overall]
    frames_sig = next((p for p in sig if p["new"].endswith(" frames")), None)
    frames = {"first": overall[0]["frames"], "last": overall[-1]["frames"], "acc_first": accs[0], "acc_last": accs[-1],
              "rising": accs[-1] > accs[0], "monotone": all(b >= a for a, b in zip(accs, accs[1:])),
              "p": frames_sig["groups"]["overall"]["p"] if frames_sig else None}
    stages = {k: v for k, v in r.state["stages"].items()}
    eval_s = r.state.get("eval_seconds", {})
    timings = {"data": stages["data"]["seconds"], "base": stages["base"]["seconds"],
               **({"videolm": stages["videolm"]["seconds"]} if "videolm" in ckpts else {}),
               "sft": stages["sft"]["seconds"], "grpo": stages["grpo"]["seconds"],
               "eval": round(sum(v for k, v in eval_s.items() if k != "sweep"), 2), "sweep": eval_s.get("sweep", 0.0)}
    timings["total"] = round(sum(timings.values()), 2)
    return {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "workspace": str(ws.root),
        "config": to_dict(cfg),
        "machine": machine(),
        "data": data,
        "model": {"path": stages["base"]["path"], "parameters": stages["base"]["parameters"],
                  "tokens_per_frame": stages["base"].get("tokens_per_frame", cfg.model.pool_size ** 2),
                  "perception": stages["base"].get("perception")},
        "videolm": {"path": stages["videolm"]["path"], **stages["videolm"]["report"]} if "videolm" in ckpts else None,
        "training": {"sft": _training(r, "sft", ("loss", "eval_loss", "replay_loss", "lr")),
                     "grpo": _training(r, "grpo", ("reward/mean", "accuracy", "format_rate", "kl", "entropy",
                                                   "response/length_mean", "time/step", "embeds/hits",
                                                   "embeds/disk_hits", "embeds/misses", "embeds/hit_rate"))},
        "eval": {"split": cfg.eval.split, "frames": cfg.eval.frames, "max_new_tokens": cfg.eval.max_new_tokens,
                 "n_items": systems["grpo"]["overall"]["n"], "bootstrap": {"n": cfg.eval.n_boot, "level": 0.95},
                 "systems": systems},
        "significance": sig,
        "sweep": curve,
        "verdict": {"alpha": cfg.eval.alpha, "sft_vs_base": _verdict(sig, cfg.eval.alpha, "sft", "base"),
                    "videolm_vs_text_only": _verdict(sig, cfg.eval.alpha, "videolm", "text-only"),
                    "sft_vs_videolm": _verdict(sig, cfg.eval.alpha, "sft", "videolm"),
                    "grpo_vs_sft": _verdict(sig, cfg.eval.alpha, "grpo", "sft"), "frames": frames,
                    "own_vs_shuffled": _verdict(sig, cfg.eval.alpha, "grpo", CONTROL)},
        "ideal_reader": ideal_reader(ws, runs, systems, cfg),
        "timings": timings,
        "invocation": {"wall_seconds": round(wall, 2), "stages": r.log.rows},
    }


def ideal_reader(ws, runs: dict, systems: dict, cfg) -> dict:
    """The ideal frame reader's share of answerable eval items per frame count, and each model's accuracy
    on the items the eval's frame count can answer (lvr.eval.ideal_reader; a rule fixed before scoring)."""
    counts = sorted({int(cfg.eval.frames), *(int(n) for n in cfg.eval.sweep_frames)})
    items = [it for it, _ in run_items(ws, runs["grpo"])]
    return {"ceiling": ideal_ceiling(items, counts), "frames": int(cfg.eval.frames),
            "answerable": {name: answerable_subset(ws, runs[name], int(cfg.eval.frames))
                           for name in runs if systems[name]["kind"] != "reference"}}


def _cell(c: dict) -> str:
    if not c or c.get("acc") is None:
        return "—"
    return f"{100 * c['acc']:.1f} [{100 * c['lo']:.1f}, {100 * c['hi']:.1f}]"


def summary_table(res: dict) -> str:
    """A plain-text table of the held-out results, the paired tests, the frames curve and the timings."""
    groups = ("overall", *CATEGORIES)
    rows = [["system", *groups]]
    for name, s in res["eval"]["systems"].items():
        rows.append([name, *(_cell(s["overall"] if g == "overall" else s["categories"].get(g, {})) for g in groups)])
    rows.append(["n", *(str((res["eval"]["systems"]["grpo"]["overall"] if g == "overall" else
                             res["eval"]["systems"]["grpo"]["categories"].get(g, {})).get("n", 0)) for g in groups)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def fmt(r: list[str]) -> str:
        return "  ".join(x.ljust(w) for x, w in zip(r, widths))
    lines = [f"held-out accuracy % (95 % bootstrap CI), split {res['eval']['split']}, "
             f"{res['eval']['frames']} frames", fmt(rows[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows[1:]]
    lines.append("")
    lines.append("paired comparisons (overall): Δ points [paired bootstrap 95 % CI], exact McNemar p")
    for p in res["significance"]:
        g = p["groups"]["overall"]
        lines.append(f"  {p['new']} vs {p['base']}: Δ {100 * g['delta']:+.1f} [{100 * g['lo']:+.1f}, "
                     f"{100 * g['hi']:+.1f}], right→wrong {g['b']}, wrong→right {g['c']}, p = {g['p']:.3g}")
    pts = ", ".join(f"{p['frames']}: {100 * p['acc']:.1f}" for p in res["sweep"]["series"]["overall"])
    lines.append(f"accuracy vs frames (final model): {pts}")
    t = res["timings"]
    lines.append("stage wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in t.items()))
    v = res["verdict"]
    steps = ((("base video LM > text-only", v["videolm_vs_text_only"]), ("SFT > base video LM", v["sft_vs_videolm"]))
             if v.get("videolm_vs_text_only") else (("SFT > base", v["sft_vs_base"]),))
    lines.append("verdict: " + ", ".join(f"{k}: {'significant' if x and x['significant'] else 'NOT significant'}"
                                          for k, x in (*steps, ("GRPO > SFT", v["grpo_vs_sft"]),
                                                       ("own video > another's", v.get("own_vs_shuffled"))))
                 + f", frames {frames_trend(v['frames'], v['alpha'])}")
    return "\n".join(lines)

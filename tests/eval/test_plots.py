"""Figures are written as offline HTML and as plotly JSON that loads back into the same figure."""
from __future__ import annotations

import json

import plotly.io as pio
import pytest

from lvr.eval import EvalConfig, RandomAnswerer, run_eval
from lvr.eval.plots import category_bars, comparison_chart, frames_curve, save_figure

from .conftest import make_items


def _load(path):
    return pio.from_json(path.read_text())


def test_run_figures_exist_and_load(ws):
    ws.add_qa_many(make_items(40, "sft", seed=1))
    ws.add_qa_many(make_items(20, "eval", seed=2))
    res = run_eval(ws, RandomAnswerer(0), EvalConfig(split="eval", frames=None, n_boot=100))
    run_dir = ws.runs_dir / res.run_id
    assert sorted(p.split("/")[-1] for p in res.figures) == ["categories.html", "categories.json", "letters.html",
                                                             "letters.json"]
    html = (run_dir / "categories.html").read_text()
    assert 'src="../plotly.min.js"' in html and "cdn.plot.ly" not in html
    shared = ws.runs_dir / "plotly.min.js"                                  # offline: one local plotly.js
    assert shared.stat().st_size > 1_000_000 and not (run_dir / "plotly.min.js").exists()
    fig = _load(run_dir / "categories.json")
    names = [t.name for t in fig.data]
    assert names == ["random", "ref: random", "ref: most-frequent", "ref: text-only"]
    bar = fig.data[0]
    assert list(bar.x) == ["overall", "temporal", "goal", "spatial", "plot"]
    s = res.summary
    assert bar.y[0] == 100 * s["overall"]["acc"]
    assert bar.error_y.array[0] == 100 * (s["overall"]["hi"] - s["overall"]["acc"])
    letters = _load(run_dir / "letters.json")
    assert sum(letters.data[0].y) == 20 and sum(letters.data[1].y) == 20
    assert ws.get_eval_run(res.run_id)["summary"]["figures"] == res.figures


def test_curve_and_comparison_figures(tmp_path):
    pt = lambda f, a: {"frames": f, "acc": a, "lo": a - 0.1, "hi": a + 0.1, "n": 10}  # noqa: E731
    curve = {"frames": [8, 16, 32], "series": {"overall": [pt(8, .3), pt(16, .4), pt(32, .5)],
                                               "temporal": [pt(8, .2), pt(16, .3), pt(32, .6)]}}
    fig = frames_curve(curve)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["overall", "temporal"] and list(lines[0].y) == [30, 40, 50]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2 and list(bands[0].y) == pytest.approx([40, 50, 60, 40, 30, 20])
    paths = save_figure(fig, tmp_path / "sweep", "frames")
    assert [p.name for p in paths] == ["frames.html", "frames.json"]
    assert json.loads(paths[1].read_text())["data"][1]["name"] == "overall"

    group = {"n": 10, "delta": 0.2, "lo": 0.05, "hi": 0.35, "b": 1, "c": 3, "p": 0.625}
    cmp = {"baseline": "r1", "pairs": [{"run": "r2", "groups": {"overall": group, "temporal": group}}]}
    fig = comparison_chart(cmp)
    assert fig.data[0].y[0] == 20 and abs(fig.data[0].error_y.arrayminus[0] - 15) < 1e-9
    assert fig.data[0].y[2] is None                                         # a category with no items

    bars = category_bars([("a", {"overall": {"acc": 0.5, "lo": 0.4, "hi": 0.6, "n": 4}, "categories": {}})])
    assert bars.data[0].y[0] == 50 and bars.data[0].y[1] is None

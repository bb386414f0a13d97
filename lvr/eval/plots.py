"""Evaluation figures (plotly), saved as HTML and as figure JSON for the app and notebooks.

    from lvr.eval import plots
    fig = plots.category_bars([("sft 16f", summary_a), ("grpo 16f", summary_b)])
    plots.save_figure(fig, run_dir, "categories")   # categories.html + categories.json
    fig = plots.frames_curve(sweep_curve(ws, sweep_id))
    fig = plots.comparison_chart(compare_runs(ws, [a, b]))

The HTML works offline (no CDN): it loads `../plotly.min.js`, one copy of plotly.js written
once into the parent folder (`runs/plotly.min.js` for `runs/<run id>/x.html`), so a thousand
runs do not hold a thousand 4.6 MB copies. The JSON is `fig.to_json()`; load it with
`plotly.io.from_json(text)` so the app, notebooks and the files show the same figure.
"""
from __future__ import annotations

import os
from pathlib import Path

from lvr.store import CATEGORIES

from .answerer import LETTERS

GROUPS = ("overall", *CATEGORIES)
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
REF_COLORS = {"random": "#bbbbbb", "most-frequent": "#999999", "text-only": "#777777"}


def _go():
    import plotly.graph_objects as go

    return go


def _cell(summary: dict, group: str) -> dict:
    return summary.get("overall", {}) if group == "overall" else summary.get("categories", {}).get(group, {})


def _pct(x):
    return None if x is None else 100.0 * x


def category_bars(series: list[tuple[str, dict]], *, title: str = "Accuracy by category (95 % bootstrap CI)",
                  references: dict | None = None):
    """Grouped bars: x = overall + categories, one bar group per (label, summary); error bars = CI.

    `references` ({name: accuracy block}) adds grey bars for the reference answerers.
    """
    go = _go()
    fig = go.Figure()
    all_series = [(label, s, COLORS[i % len(COLORS)]) for i, (label, s) in enumerate(series)]
    order = {"random": 0, "most-frequent": 1, "text-only": 2}
    for name, block in sorted((references or {}).items(), key=lambda kv: (order.get(kv[0], 9), kv[0])):
        if "overall" in block:
            all_series.append((f"ref: {name}", block, REF_COLORS.get(name, "#aaaaaa")))
    for label, s, color in all_series:
        ys, plus, minus, texts = [], [], [], []
        for g in GROUPS:
            c = _cell(s, g)
            acc, lo, hi = c.get("acc"), c.get("lo"), c.get("hi")
            ys.append(_pct(acc))
            plus.append(_pct(hi - acc) if acc is not None and hi is not None else None)
            minus.append(_pct(acc - lo) if acc is not None and lo is not None else None)
            texts.append(f"n={c.get('n', 0)}")
        fig.add_trace(go.Bar(name=label, x=list(GROUPS), y=ys, marker_color=color, hovertext=texts,
                             error_y=dict(type="data", symmetric=False, array=plus, arrayminus=minus)))
    fig.update_layout(barmode="group", title=title, yaxis=dict(title="accuracy (%)", range=[0, 100]),
                      legend=dict(orientation="h", y=-0.15), template="plotly_white")
    return fig


def letter_bars(summary: dict, *, title: str = "Answer letters: predictions vs key"):
    """Counts of A–D (and none) in the predictions and in the key."""
    go = _go()
    letters = summary.get("letters") or {}
    xs = [*LETTERS, "none"]
    fig = go.Figure()
    for name, color in (("pred", COLORS[0]), ("key", "#999999")):
        counts = letters.get(name) or {}
        fig.add_trace(go.Bar(name="predictions" if name == "pred" else "key", x=xs,
                             y=[counts.get(x, 0) for x in xs], marker_color=color))
    fig.update_layout(barmode="group", title=title, yaxis_title="items", template="plotly_white")
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def frames_curve(curve: dict, *, title: str = "Accuracy vs frames (95 % bootstrap CI)"):
    """Lines frames → accuracy for overall and each category, with shaded CI bands (log2 x axis)."""
    go = _go()
    fig = go.Figure()
    for i, g in enumerate(GROUPS):
        pts = [p for p in curve["series"].get(g, []) if p.get("acc") is not None]
        if not pts:
            continue
        color = COLORS[i % len(COLORS)]
        xs = [p["frames"] for p in pts]
        lo = [_pct(p["lo"]) for p in pts]
        hi = [_pct(p["hi"]) for p in pts]
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=hi + lo[::-1], fill="toself", fillcolor=_rgba(color, 0.15),
                                 line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=g))
        fig.add_trace(go.Scatter(x=xs, y=[_pct(p["acc"]) for p in pts], mode="lines+markers", name=g,
                                 legendgroup=g, line=dict(color=color, width=3 if g == "overall" else 2),
                                 hovertext=[f"n={p['n']}" for p in pts]))
    frames = curve.get("frames") or []
    fig.update_layout(title=title, template="plotly_white", yaxis=dict(title="accuracy (%)", range=[0, 100]),
                      xaxis=dict(title="frames", type="log", tickvals=frames, ticktext=[str(f) for f in frames]))
    return fig


def comparison_chart(comparison: dict, *, title: str | None = None):
    """Accuracy deltas (run − baseline) per category with paired-bootstrap CIs; p-values on hover."""
    go = _go()
    fig = go.Figure()
    base = comparison["baseline"]
    for i, pair in enumerate(comparison["pairs"]):
        ys, plus, minus, hover = [], [], [], []
        for g in GROUPS:
            d = pair["groups"].get(g) or {}
            delta, lo, hi = d.get("delta"), d.get("lo"), d.get("hi")
            ys.append(_pct(delta))
            plus.append(_pct(hi - delta) if delta is not None and hi is not None else None)
            minus.append(_pct(delta - lo) if delta is not None and lo is not None else None)
            hover.append(f"n={d.get('n', 0)}, right→wrong {d.get('b', 0)}, wrong→right {d.get('c', 0)}, "
                         f"McNemar p={d['p']:.3g}" if d.get("p") is not None else "no items")
        fig.add_trace(go.Bar(name=f"{pair['run']} − {base}", x=list(GROUPS), y=ys, hovertext=hover,
                             marker_color=COLORS[(i + 1) % len(COLORS)],
                             error_y=dict(type="data", symmetric=False, array=plus, arrayminus=minus)))
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_layout(barmode="group", template="plotly_white",
                      title=title or f"Accuracy change vs {base} (paired bootstrap 95 % CI)",
                      yaxis_title="Δ accuracy (points)", legend=dict(orientation="h", y=-0.15))
    return fig


def ensure_plotlyjs(folder: str | Path) -> Path:
    """`folder/plotly.min.js` (plotly's bundled copy), written once and refreshed when plotly changes."""
    from plotly.offline import get_plotlyjs

    path = Path(folder) / "plotly.min.js"
    code = get_plotlyjs().encode()
    if not path.exists() or path.stat().st_size != len(code):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        tmp.write_bytes(code)
        tmp.replace(path)
    return path


def save_figure(fig, folder: str | Path, name: str) -> list[Path]:
    """Write `<name>.html` (offline, loading ../plotly.min.js) and `<name>.json`; return both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ensure_plotlyjs(folder.parent)
    html, js = folder / f"{name}.html", folder / f"{name}.json"
    fig.write_html(str(html), include_plotlyjs="../plotly.min.js", full_html=True)
    js.write_text(fig.to_json())
    return [html, js]


def run_label(run: dict) -> str:
    who = run.get("checkpoint") or run.get("answerer") or "run"
    return f"{who} {run['frames']}f" if run.get("frames") else str(who)


def save_run_figures(run_dir: str | Path, run: dict) -> list[Path]:
    """The figures of one run: category bars (with reference answerers) and letter distribution."""
    s = run["summary"]
    paths = save_figure(category_bars([(run_label(run), s)], references=s.get("references"),
                                      title=f"{run['id']}: accuracy by category (95 % bootstrap CI)"),
                        run_dir, "categories")
    paths += save_figure(letter_bars(s), run_dir, "letters")
    return paths

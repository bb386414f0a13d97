"""The report's figures: plotly figures built from results.json, exported to PNG offline.

    figs = recipe_figures(results)                  # {"categories": Figure, "frames": …, "significance": …,
                                                    #  "training": …}
    paths = export_png(figs, "docs/img", prefix="recipe_")     # docs/img/recipe_categories.png, …

PNG export needs no network and no kaleido: each figure is written to a temporary HTML page with
the plotly.js bundled in the Python package inlined, the page is opened in headless Chromium
(Playwright driving Debian's /usr/bin/chromium, or $LVR_CHROMIUM), and `Plotly.toImage` renders
the PNG inside the page. The same figures also go to HTML (`export_html`) for interactive use.
"""
from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lvr.eval.plots import category_bars, comparison_chart, frames_curve

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"categories": (1000, 520), "frames": (800, 480), "significance": (1000, 480), "training": (1100, 420)}
SYSTEM_LABELS = {"base": "base (random init)", "videolm": "base video LM (answer only)", "sft": "CoT-SFT",
                 "grpo": "CoT-SFT + GRPO", "grpo-shuffled": "CoT-SFT + GRPO, another video's frames"}


def recipe_figures(res: dict) -> dict:
    """name → plotly Figure for a results.json dict."""
    systems = res["eval"]["systems"]
    frames = res["eval"]["frames"]
    models = [(f"{SYSTEM_LABELS.get(k, k)}", s) for k, s in systems.items() if s["kind"] == "model"]
    refs = {k: s for k, s in systems.items() if s["kind"] == "reference"}
    figs = {"categories": category_bars(models, references=refs,
                                        title=f"Held-out accuracy by category, {frames} frames "
                                              f"(n={res['eval']['n_items']}, 95 % bootstrap CI)")}
    curve = res["sweep"]
    figs["frames"] = frames_curve(curve, title="CoT-SFT + GRPO: accuracy vs frames (95 % bootstrap CI)")
    pairs = [p for p in res["significance"] if not p["new"].endswith(" frames")]
    cmp = {"baseline": "", "pairs": [{"run": f"{p['new']} − {p['base']}", "groups": p["groups"]} for p in pairs]}
    fig = comparison_chart(cmp, title="Paired differences on the same items (points, paired bootstrap 95 % CI)")
    for tr, p in zip(fig.data, pairs):
        tr.name = f"{SYSTEM_LABELS.get(p['new'], p['new'])} − {SYSTEM_LABELS.get(p['base'], p['base'])}"
    figs["significance"] = fig

    sft, grpo = res["training"]["sft"]["curve"], res["training"]["grpo"]["curve"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("CoT-SFT: token loss", "GRPO (MR-SP): reward and accuracy"))
    fig.add_trace(go.Scatter(x=[r["step"] for r in sft], y=[r.get("loss") for r in sft], name="SFT train loss",
                             mode="lines", line=dict(color="#1f77b4")), 1, 1)
    ev = [r for r in sft if r.get("eval_loss") is not None]
    if ev:
        fig.add_trace(go.Scatter(x=[r["step"] for r in ev], y=[r["eval_loss"] for r in ev], name="SFT held-out loss",
                                 mode="lines+markers", line=dict(color="#ff7f0e")), 1, 1)
    for key, color, label in (("reward/mean", "#2ca02c", "GRPO reward"), ("accuracy", "#d62728",
                                                                           "GRPO rollout accuracy")):
        ys = [r.get(key) for r in grpo]
        fig.add_trace(go.Scatter(x=[r["step"] for r in grpo], y=ys, name=label, mode="lines",
                                 line=dict(color=color, width=1), opacity=0.35, showlegend=False), 1, 2)
        fig.add_trace(go.Scatter(x=[r["step"] for r in grpo], y=_smooth(ys), name=f"{label} (moving avg)",
                                 mode="lines", line=dict(color=color, width=2.5)), 1, 2)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log", title_text="loss", row=1, col=1)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_layout(template="plotly_white", legend=dict(orientation="h", y=-0.2))
    figs["training"] = fig
    return figs


def _smooth(ys: list, k: int = 10) -> list:
    out = []
    for i in range(len(ys)):
        win = [y for y in ys[max(0, i - k + 1):i + 1] if y is not None]
        out.append(sum(win) / len(win) if win else None)
    return out


def export_html(figs: dict, out_dir: str | Path, prefix: str = "") -> list[Path]:
    """Self-contained HTML pages (plotly.js inlined: they work offline)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figs.items():
        p = out_dir / f"{prefix}{name}.html"
        fig.write_html(str(p), include_plotlyjs=True, full_html=True)
        paths.append(p)
    return paths


def export_png(figs: dict, out_dir: str | Path, prefix: str = "", scale: float = 1.5,
               chromium: str | None = None) -> list[Path]:
    """PNG files rendered by plotly.js in headless Chromium (see the module docstring)."""
    from playwright.sync_api import sync_playwright  # a dev extra: only PNG export needs it

    exe = chromium or os.environ.get("LVR_CHROMIUM") or CHROMIUM
    if not Path(exe).exists():
        raise FileNotFoundError(f"{exe} is missing: PNG figures need Debian's chromium (`make sysdeps`) or "
                                "LVR_CHROMIUM=/path/to/chromium")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())
            for name, fig in figs.items():
                w, h = SIZES.get(name, (900, 500))
                html = Path(tmp) / f"{name}.html"
                fig.write_html(str(html), include_plotlyjs=True, full_html=True, div_id="fig",
                               default_width=w, default_height=h)
                page.goto(html.as_uri())
                page.wait_for_function("() => window.Plotly && document.querySelector('#fig .main-svg')")
                data_url = page.evaluate("([w, h, s]) => Plotly.toImage(document.getElementById('fig'), "
                                         "{format: 'png', width: w, height: h, scale: s})", [w, h, scale])
                png = base64.b64decode(data_url.split(",", 1)[1])
                if not png.startswith(b"\x89PNG"):
                    raise RuntimeError(f"figure {name}: plotly did not return a PNG")
                path = out_dir / f"{prefix}{name}.png"
                path.write_bytes(png)
                paths.append(path)
        finally:
            browser.close()
    return paths

"""The walkthrough notebooks run top to bottom, headless, on CPU.

Each notebook is executed with nbclient in a kernel of this environment ("python3"), from the
repository root, with its own fresh workspace folder (LVR_NB_WORKSPACE). A notebook passes when
no cell produced an error output and one key output per notebook is present (the cell that
proves its point: the export row, the lineage table, the per-category accuracy table).

    .venv/bin/pytest tests/notebooks -q          # ~2-3 min on 2 CPU cores
"""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 1200


def execute(name: str, workspace: Path, monkeypatch) -> tuple[nbformat.NotebookNode, float]:
    """Run notebooks/<name> in a fresh kernel (cwd = repo root); returns the executed notebook and seconds."""
    monkeypatch.setenv("LVR_NB_WORKSPACE", str(workspace))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # a cell trains for ~1 min on an idle 2-core machine; the limit leaves room for a loaded one
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(ROOT)}})
    t0 = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - t0


def errors(nb) -> list[str]:
    """'cell N: Ename: value' for every error output."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}")
    return out


def texts(nb) -> str:
    """Every text a code cell showed (stdout/stderr streams and text/plain, text/html results)."""
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                parts.append(o.get("text", ""))
            elif "data" in o:
                parts += [str(o["data"][k]) for k in ("text/plain", "text/html") if k in o["data"]]
    return "\n".join(parts)


def plotly_figures(nb) -> int:
    return sum("application/vnd.plotly.v1+json" in o.get("data", {})
               for cell in nb.cells for o in cell.get("outputs", []))


def check_structure(nb) -> None:
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the first cell must be the title"
    assert "Run it" in first.source, "the title cell must say how to run the notebook"


@pytest.mark.slow
@pytest.mark.timeout(3 * CELL_TIMEOUT)
def test_01_data_pipeline(tmp_path, monkeypatch):
    nb, seconds = execute("01_data_pipeline.ipynb", tmp_path / "nb", monkeypatch)
    assert not errors(nb), errors(nb)
    check_structure(nb)
    out = texts(nb)
    assert "exported " in out and '"problem_id"' in out and '"answer": "<answer>' in out
    assert "refused:" in out                      # the stale save was refused
    assert plotly_figures(nb) >= 1
    assert (tmp_path / "nb" / "01_data_pipeline" / "export" / "items.jsonl").is_file()
    print(f"01_data_pipeline: {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.timeout(3 * CELL_TIMEOUT)
def test_02_training(tmp_path, monkeypatch):
    nb, seconds = execute("02_training.ipynb", tmp_path / "nb", monkeypatch)
    assert not errors(nb), errors(nb)
    check_structure(nb)
    out = texts(nb)
    assert "[sft] step 200/200" in out and "[grpo] step 8/8" in out
    lineage = next(o["data"]["text/plain"] for c in nb.cells for o in c.get("outputs", [])
                   if "text/plain" in o.get("data", {}) and "checkpoint" in o["data"]["text/plain"])
    assert "stage" in lineage and all(stage in lineage for stage in ("base", "sft", "grpo"))
    assert plotly_figures(nb) >= 1
    ws = tmp_path / "nb" / "02_training"
    assert len(list((ws / "runs").glob("*/metrics.jsonl"))) == 2
    print(f"02_training: {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.timeout(3 * CELL_TIMEOUT)
def test_03_reasoning_traces(tmp_path, monkeypatch):
    """Without notebook 02's workspace the notebook trains its own checkpoint, then evaluates it."""
    nb, seconds = execute("03_reasoning_traces.ipynb", tmp_path / "nb", monkeypatch)
    assert not errors(nb), errors(nb)
    check_structure(nb)
    out = texts(nb)
    assert "trained a checkpoint in" in out
    assert "accuracy % (95 % CI)  overall" in out          # the per-category table of run_eval
    assert "model thinks:" in out and "thinking:" in out   # stored traces and a streamed one
    assert "Δ points (95 % CI)" in out                    # compare_runs against the reference
    assert plotly_figures(nb) >= 3
    print(f"03_reasoning_traces: {seconds:.1f} s")

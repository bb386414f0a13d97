"""The layers of docs/architecture.md hold: import-linter's contracts (pyproject.toml) pass, and the
architecture doc's drawing lists the same layers, top to bottom, as the contract."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint_imports() -> str:
    local = Path(sys.executable).with_name("lint-imports")
    return str(local) if local.exists() else (shutil.which("lint-imports") or "lint-imports")


def test_import_contracts_are_kept():
    proc = subprocess.run([_lint_imports()], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"{len(_contracts())} kept, 0 broken" in proc.stdout


def test_architecture_drawing_matches_the_layers_contract():
    layers = next(c for c in _contracts() if c["type"] == "layers")
    container = layers["containers"][0]
    doc = (ROOT / "docs" / "architecture.md").read_text()
    drawing = re.search(r"## Layers\n.*?```\n(.*?)```", doc, re.S).group(1).splitlines()

    def line_of(module: str) -> int:
        hits = [i for i, line in enumerate(drawing) if re.search(rf"(^|\s){re.escape(module)}(/|\s|$)", line)]
        assert len(hits) == 1, f"{module} should stand on exactly one line of the drawing, found {hits}"
        return hits[0]

    rows = []
    for layer in layers["layers"]:
        names = [f"{container}.{n.strip()}" for n in re.split(r"[|:]", layer)]
        lines = {line_of(n) for n in names}
        assert len(lines) == 1, f"peers {names} should share one line of the drawing"
        rows.append(lines.pop())
    assert rows == sorted(rows), "the drawing's order differs from the contract's (top to bottom)"
    assert line_of("workbench") == line_of("lvr.cli"), "workbench and the CLI are drawn as peers"
    listed = {n.strip() for layer in layers["layers"] for n in re.split(r"[|:]", layer)}
    packages = {p.stem if p.suffix == ".py" else p.name for p in (ROOT / container).iterdir()
                if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert packages == listed, f"packages not in the contract: {packages - listed}; gone: {listed - packages}"

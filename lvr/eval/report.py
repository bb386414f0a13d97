"""Plain-text tables of evaluation results (what `lvr eval` prints).

    from lvr.eval.report import format_run, format_comparison, format_sweep
    print(format_run(ws.get_eval_run(run_id)))
"""
from __future__ import annotations

from .answerer import LETTERS
from .plots import GROUPS
from .reference import REFERENCE_NAMES


def _ci(c: dict | None) -> str:
    if not c or c.get("acc") is None:
        return "—"
    if c.get("lo") is None:
        return f"{100 * c['acc']:.1f}"
    return f"{100 * c['acc']:.1f} [{100 * c['lo']:.1f}, {100 * c['hi']:.1f}]"


def _cell(block: dict, g: str) -> dict | None:
    return block.get("overall") if g == "overall" else (block.get("categories") or {}).get(g)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def _groups(series: list[tuple[str, dict]]) -> list[str]:
    """overall + the four categories, then any other category with items (e.g. uncategorised imports)."""
    extra = sorted({c for _, b in series for c, cell in (b.get("categories") or {}).items()
                    if c not in GROUPS and (cell or {}).get("n")})
    return [*GROUPS, *extra]


def accuracy_table(series: list[tuple[str, dict]]) -> str:
    """Rows = (label, accuracy block); columns = overall + categories as 'acc [lo, hi]' in %, then n."""
    groups = _groups(series)
    rows = [[label] + [_ci(_cell(b, g)) for g in groups] for label, b in series]
    if series:
        first = series[0][1]
        rows.append(["n"] + [str((_cell(first, g) or {}).get("n", 0)) for g in groups])
    return table(rows, ["accuracy % (95 % CI)", *groups])


def _letters(counts: dict) -> str:
    return " ".join(f"{k}:{counts.get(k, 0)}" for k in (*LETTERS, "none"))


def _ordered_refs(refs: dict) -> list[tuple[str, dict]]:
    order = {name: i for i, name in enumerate(REFERENCE_NAMES)}
    return sorted(refs.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def format_run(run: dict) -> str:
    """A run's header, per-category table with the reference answerers, and its diagnostics."""
    s = run.get("summary") or {}
    who = run.get("checkpoint") or run.get("answerer")
    head = (f"run {run['id']}  [{run.get('status')}]  {who}  answerer={run.get('answerer')}  "
            f"frames={run.get('frames') if run.get('frames') else '-'}  items={run.get('split')}")
    if "overall" not in s:
        return head + ("\n" + f"error: {s['error']}" if s.get("error") else "\n(no summary yet)")
    series = [(run.get("answerer") if run.get("answerer") != "model" else "model", s)]
    refs = _ordered_refs(s.get("references") or {})
    for name, block in refs:
        if "overall" in block:
            series.append((f"ref {name}", block))
    lines = [head, accuracy_table(series)]
    for name, block in refs:
        if "error" in block:
            lines.append(f"ref {name}: not available ({block['error']})")
        elif "reference" in (block.get("describe") or {}):
            d = block["describe"]
            extra = f", letter {d['letter']}" if "letter" in d else ""
            lines.append(f"ref {name}: learned from {d['reference']}{extra}")
    skipped = s.get("skipped") or {}
    lines.append(f"scored {s['n_scored']} of {s.get('n_items', s['n_scored'])} items"
                 + (f"; {skipped['count']} skipped (no usable video)" if skipped.get("count") else ""))
    diag = []
    if s.get("format_ok_rate") is not None:
        diag.append(f"format ok {100 * s['format_ok_rate']:.1f} %")
    if s.get("thinking"):
        diag.append(f"thinking {s['thinking']['mean_words']:.0f} words mean ({s['thinking']['empty']} empty)")
    if s.get("tokens"):
        diag.append(f"tokens {s['tokens']['mean']:.0f} mean")
    if s.get("latency"):
        diag.append(f"latency {s['latency']['mean_s']:.3f} s/item")
    if diag:
        lines.append("   ".join(diag))
    lines.append(f"letters predicted  {_letters(s['letters']['pred'])}")
    bc = s.get("best_constant")
    lines.append(f"letters key        {_letters(s['letters']['key'])}"
                 + (f"   (always {bc['letter']} scores {100 * bc['acc']:.1f} %)" if bc else ""))
    return "\n".join(lines)


def _p(p: float) -> str:
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def format_comparison(cmp: dict, max_flips: int = 10) -> str:
    lines = [f"baseline {cmp['baseline']}"]
    for pair in cmp["pairs"]:
        lines.append(f"\n{pair['run']} vs {cmp['baseline']}: {pair['n_common']} common items"
                     + (f" ({pair['only_in_baseline']} only in baseline, {pair['only_in_run']} only in run)"
                        if pair["only_in_baseline"] or pair["only_in_run"] else ""))
        rows = []
        for g in GROUPS:
            d = pair["groups"][g]
            if not d["n"]:
                rows.append([g, "0", "—", "—", "—", "0", "0", "—"])
                continue
            rows.append([g, str(d["n"]), f"{100 * d['base_acc']:.1f}", f"{100 * d['acc']:.1f}",
                         f"{100 * d['delta']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]",
                         str(d["b"]), str(d["c"]), _p(d["p"])])
        lines.append(table(rows, ["group", "n", "base %", "run %", "Δ points (95 % CI)", "right→wrong",
                                  "wrong→right", "McNemar p"]))
        for kind, title in (("right_to_wrong", "right → wrong"), ("wrong_to_right", "wrong → right")):
            flips = pair["flips"][kind]
            lines.append(f"{title}: {len(flips)}")
            for f in flips[:max_flips]:
                lines.append(f"  #{f['qa_id']} {f['category']:<8} key {f['key']} {f['base']}→{f['new']}  "
                             f"{f['question']}")
            if len(flips) > max_flips:
                lines.append(f"  … and {len(flips) - max_flips} more")
    return "\n".join(lines)


def format_sweep(curve: dict) -> str:
    rows = []
    for i, frames in enumerate(curve["frames"]):
        rows.append([str(frames)] + [_ci(curve["series"][g][i]) for g in GROUPS] + [curve["runs"][i]])
    who = curve.get("checkpoint") or curve.get("answerer")
    return f"sweep {curve['sweep']} ({who})\n" + table(rows, ["frames", *GROUPS, "run"])

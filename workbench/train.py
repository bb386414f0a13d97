"""Train tab handlers (plain functions of the workspace): recipes and the form, launching and watching jobs, curves.

    stage, yaml_text, shown = recipe_values(ws, "sft", "configs/tiny/sft.yaml")   # [(visible, value)] per FORM field
    verdict, resolved = validate_form(ws, "sft", "configs/tiny/sft.yaml", 1, "", *values)
    job_id, md = launch_training(ws, "sft", "configs/tiny/sft.yaml", 1, "", *values)   # a tracked job
    md, log_tail, figure, finished = job_status(ws, job_id)       # curves from metrics.jsonl
    new_id = resume_job(ws, job_id)                                # relaunch with resume=true
    trained_frames(ws, ckpt_id)                                    # data.num_frames it was trained on

The form turns into dotted overrides of the recipe YAML (`data.num_frames=4`, `optim.lr=1e-4`, …),
validated with `lvr.config.load_config` before anything starts, then launched exactly like
`lvr train sft|grpo CONFIG overrides --nproc N`: `lvr.jobs.launch(ws, stage, ["-m", lvr.train.<stage>,
CONFIG, *overrides], …)` (torchrun for N > 1). Training never runs in the UI process. The Gradio
wiring is in `train_tab.py`.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path

import gradio as gr
import pandas as pd

from lvr.config import ConfigError, dump_yaml, load_config, to_dict
from lvr.jobs import cancel, launch, read_log, read_metrics, refresh, relaunch
from lvr.train import configs as train_configs
from lvr.train.configs import STAGES
from lvr.train.untrusted import check_overrides, check_recipe_path, check_untrusted
from workbench.serving import PROJECT_ROOT, visitor_error, without_server_folders

ROOT = PROJECT_ROOT
FINISHED = ("succeeded", "partial", "failed", "cancelled", "dead")
MODEL_SHORTCUTS = ["tiny:lvr_composite", "tiny:qwen2_5_vl", "latest:sft", "latest:grpo"]
CKPT_COLUMNS = ["id", "stage", "step", "parent", "lineage", "metrics", "job", "path", "created"]
# The form: (dotted config key, label, widget). A key that neither stage's config has is left out (FORM).
FORM_KEYS = (
    ("model", "base checkpoint (id, folder, latest:<stage> or tiny:<kind>)", "model"),
    ("max_steps", "steps", "int"),
    ("data.num_frames", "frames per video", "int"),
    ("optim.lr", "learning rate", "text"),
    ("rollout.num_generations", "G (rollouts per prompt)", "int"),
    ("loss.beta", "β (KL weight)", "float"),
    ("loss.type", "loss type", "choice"),
    ("rollout.backend", "rollout backend", "choice"),
    ("mrsp.sp_size", "SP size (ranks per sample)", "int"),
    ("mrsp.embed_cache", "embedding cache", "choice"),
)
# Curve panels: (title, metric keys or a rule picking them from the keys present). Empty panels are dropped.
PANELS = (
    ("loss", ("loss", "eval_loss")),
    ("reward (mean, per component)", lambda ks: [k for k in ks if k == "reward/mean"
                                                 or (k.startswith("reward/") and k.endswith("/mean"))]),
    ("accuracy / format", ("accuracy", "format_rate")),
    ("KL to reference", ("kl",)),
    ("response length (tokens)", ("response/length_mean", "response/length_max")),
    ("step time split (s)", lambda ks: sorted(k for k in ks if k.startswith("time/"))),
    ("cache hit rate", lambda ks: sorted(k for k in ks if k.endswith("hit_rate"))),
    ("learning rate", ("lr",)),
    ("grad norm", ("grad_norm",)),
)


# ---------------------------------------------------------------------- recipes and the form
def config_class(stage: str) -> type:
    return getattr(train_configs, STAGES[stage][1])


def config_field(cls: type, dotted: str) -> dataclasses.Field | None:
    """The dataclass field behind a dotted key of `cls` (None when the key does not exist)."""
    for i, part in enumerate(parts := dotted.split(".")):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return None
        if i == len(parts) - 1:
            return fields[part]
        cls = typing.get_type_hints(cls)[part]
        if not dataclasses.is_dataclass(cls):
            return None
    return None


FORM = tuple(f for f in FORM_KEYS if any(config_field(config_class(s), f[0]) for s in STAGES))


def recipe_choices() -> list[str]:
    """Reference YAMLs under configs/ (configs/<name>/sft.yaml, …/grpo.yaml), relative to the repository."""
    return [str(p.relative_to(ROOT)) for p in sorted((ROOT / "configs").glob("*/*.yaml")) if p.stem in STAGES]


def recipe_path(ws, recipe: str | None) -> Path:
    """The recipe file, only from configs/ or the workspace's configs/ and runs/ (lvr.train.untrusted)."""
    try:
        return check_recipe_path(recipe, ws.root)
    except ConfigError as e:
        raise gr.Error(str(e)) from None


def sibling_recipe(recipes: list[str], stage: str, recipe: str | None) -> str:
    """The recipe of `stage` next to the current one (configs/tiny/sft.yaml → configs/tiny/grpo.yaml)."""
    want = str(Path(recipe or "configs/tiny/x.yaml").with_name(f"{stage}.yaml"))
    return want if want in recipes else next((r for r in recipes if Path(r).stem == stage), recipe or "")


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _shown(value, widget: str):
    return repr(value) if widget == "text" and isinstance(value, float) else value


def recipe_values(ws, stage: str, recipe: str) -> tuple[str, str, list[tuple[bool, object]]]:
    """(stage, YAML text, [(shown, value)] per form field) of a recipe; the other stage's fields are hidden."""
    path = recipe_path(ws, recipe)
    stage = path.stem if path.stem in STAGES else stage
    cls = config_class(stage)
    try:
        cfg = load_config(cls, path)
    except ConfigError as e:
        raise gr.Error(f"config: {e}") from None
    shown = [(False, None) if config_field(cls, key) is None else (True, _shown(_get(cfg, key), widget))
             for key, _, widget in FORM]
    return stage, path.read_text(), shown


def recipe_form(ws, stage: str, recipe: str):
    """(stage, YAML text, then one update per form field) for a recipe."""
    stage, text, shown = recipe_values(ws, stage, recipe)
    return (stage, text, *[gr.update(visible=v) if not v else gr.update(visible=True, value=x) for v, x in shown])


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def form_overrides(ws, stage: str, extra: str | None, values: typing.Sequence) -> list[str]:
    """Dotted overrides from the form (keys of the other stage and empty fields skipped), then the extra
    `key=value` lines, then `workspace=` of this workbench (last, so nothing redirects the job)."""
    cls = config_class(stage)
    out = [f"{key}={_text(v)}" for (key, _, _), v in zip(FORM, values)
           if v is not None and _text(v) != "" and config_field(cls, key) is not None]
    out += [line.strip() for line in (extra or "").splitlines() if line.strip() and not line.strip().startswith("#")]
    return [*out, f"workspace={ws.root}"]


def check_config(ws, stage: str, recipe: str, nproc, extra: str | None, *values):
    """(recipe path, overrides, config object, nproc) after validation; a bad value raises gr.Error naming the key."""
    if stage not in STAGES:
        raise gr.Error(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if nproc is None or nproc < 1 or not float(nproc).is_integer():
        raise gr.Error(f"processes must be a whole number >= 1, got {nproc!r}")
    path = recipe_path(ws, recipe)
    overrides = form_overrides(ws, stage, extra, values)
    try:
        check_overrides(overrides[:-1])                 # the last one is this workbench's workspace=
        cfg = load_config(config_class(stage), path, overrides)
        check_untrusted(cfg, (), ws.root)
    except ConfigError as e:
        raise gr.Error(f"config: {e}") from None
    return path, overrides, cfg, int(nproc)


def validate_form(ws, stage, recipe, nproc, extra, *values) -> tuple[str, str]:
    """(verdict markdown, resolved YAML): the equivalent CLI command when valid, the error when not."""
    try:
        path, overrides, cfg, n = check_config(ws, stage, recipe, nproc, extra, *values)
    except gr.Error as e:
        return f"✗ {without_server_folders(ws, e.message)}", ""
    cmd = " ".join([f"lvr train {stage}", str(path), *overrides] + ([f"--nproc {n}"] if n > 1 else []))
    verdict = f"✓ valid — equivalent to:\n\n```\n{cmd}\n```"
    return without_server_folders(ws, verdict), without_server_folders(ws, dump_yaml(cfg))


def launch_training(ws, stage, recipe, nproc, extra, *values, env: dict | None = None) -> tuple[str, str]:
    """Validate, then start `python -m lvr.train.<stage> CONFIG overrides` as a job (as `lvr train` does);
    `env` adds environment variables for the job (e.g. OMP_NUM_THREADS)."""
    path, overrides, cfg, n = check_config(ws, stage, recipe, nproc, extra, *values)
    job_id = launch(ws, stage, ["-m", STAGES[stage][0], str(path), *overrides], config=to_dict(cfg), nproc=n,
                    env=env)
    return job_id, f"launched {stage} job `{job_id}` ({n} process{'es' if n > 1 else ''})"


# ---------------------------------------------------------------------- jobs, metrics, curves
def job_choices(ws) -> list[tuple[str, str]]:
    """(label with the job's current status, id) per training job; a queued/running row is checked against its
    process first, so the list says what the status line says."""
    out = []
    for j in ws.list_jobs():
        if j["kind"] not in STAGES:
            continue
        if j["status"] in ("queued", "running"):
            j = refresh(ws, j["id"])
        out.append((f"{j['id']} · {j['status']}", j["id"]))
    return out


def current_job(ws) -> str | None:
    """The training job the tab opens on: the newest one still queued or running, else None."""
    return next((j["id"] for j in ws.list_jobs() if j["kind"] in STAGES and j["status"] in ("queued", "running")),
                None)


def _job(ws, job_id: str | None) -> dict:
    if not job_id or not job_id.strip():
        raise gr.Error("pick a training job")
    try:
        return refresh(ws, job_id.strip())
    except KeyError as e:
        raise visitor_error(ws, e) from None


def job_metrics(ws, job_id: str) -> list[dict]:
    """Metric rows of a job preceded by those of the jobs it resumes (rows a later segment redid are dropped)."""
    chain, cur = [], job_id
    while cur and cur not in chain:
        try:
            prev = (ws.get_job(cur).get("config") or {}).get("resumed_from")
        except KeyError:
            break
        chain.append(cur)
        cur = prev
    rows: list[dict] = []
    for jid in reversed(chain):
        seg = [r for r in read_metrics(ws, jid) if isinstance(r.get("step"), (int, float))]
        if seg:
            rows = [r for r in rows if r["step"] < seg[0]["step"]] + seg
    for r in rows:  # embedding-cache hit rate from the embedder's counters
        hits, misses = r.get("embeds/hits"), r.get("embeds/misses")
        if isinstance(hits, (int, float)) and isinstance(misses, (int, float)) and hits + misses:
            r["embeds/hit_rate"] = hits / (hits + misses)
    return rows


def curves_figure(rows: list[dict]):
    """One plotly figure, a panel per metric group that has numbers (time/* parts stacked under time/step)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    present = {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    panels = [(t, [k for k in (rule(sorted(present)) if callable(rule) else rule) if k in present])
              for t, rule in PANELS]
    panels = [(t, keys) for t, keys in panels if keys]
    if not panels:
        fig = go.Figure()
        fig.add_annotation(text="no metrics yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        return fig.update_layout(height=200, xaxis_visible=False, yaxis_visible=False)
    cols = min(2, len(panels))
    n_rows = math.ceil(len(panels) / cols)
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=[t for t, _ in panels],
                        vertical_spacing=70 / (260 * n_rows + 60))
    for i, (title, keys) in enumerate(panels):
        for key in keys:
            pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
            stacked = key.startswith("time/") and key != "time/step"
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=key, legendgroup=title,
                                     mode="lines" if len(pts) > 60 else "lines+markers",
                                     stackgroup="time" if stacked else None),
                          row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(title_text="step", row=n_rows)
    return fig.update_layout(height=260 * n_rows + 60, margin=dict(t=40, b=30, l=40, r=10))


def job_status(ws, job_id: str | None) -> tuple[str, str, object, bool]:
    """(status markdown, log tail, curves figure, finished) of a training job."""
    job = _job(ws, job_id)
    cfg = job.get("config") or {}
    md = f"job `{job['id']}` ({job['kind']}, {cfg.get('_nproc', 1)} process(es)) **{job['status']}**"
    if job.get("total"):
        md += f" — {job.get('message') or ''} ({100 * (job.get('progress') or 0) / job['total']:.0f} %)"
    if cfg.get("resumed_from"):
        md += f"\n\nresumes `{cfg['resumed_from']}`"
    made = [c["id"] for c in ws.list_checkpoints() if c["job_id"] == job["id"]]
    if made:
        md += "\n\ncheckpoints: " + ", ".join(f"`{c}`" for c in made)
    if job.get("error"):
        md += f"\n\n```\n{job['error']}\n```"
    return (without_server_folders(ws, md), without_server_folders(ws, read_log(ws, job["id"], lines=40)),
            curves_figure(job_metrics(ws, job["id"])), job["status"] in FINISHED)


def resume_job(ws, job_id: str | None) -> str:
    """Relaunch a finished/killed job with `resume=true` (as `lvr jobs WS resume JOB`); returns the new job id."""
    job = _job(ws, job_id)
    if job["status"] in ("queued", "running"):
        raise gr.Error(f"{job['id']} is still {job['status']}: cancel it first")
    if job["kind"] not in STAGES:
        raise gr.Error(f"{job['id']} is a {job['kind']} job, not a training job")
    again = "resume=true" in (job.get("config") or {}).get("_args", [])   # resuming a resumed job
    return relaunch(ws, job["id"], extra_args=[] if again else ["resume=true"])


def cancel_training(ws, job_id: str | None) -> None:
    """Cancel a training job (a gr.Error when none is picked or it does not exist)."""
    cancel(ws, _job(ws, job_id)["id"])


def shown_job(ws, current: str | None) -> tuple[str | None, bool]:
    """(the job the tab shows, whether to watch it): it follows a running job unless the one shown is itself
    still running."""
    shown = current
    live = current_job(ws)
    if live and live != current:
        try:
            busy = bool(current) and refresh(ws, current)["status"] in ("queued", "running")
        except KeyError:
            busy = False
        shown = current if busy else live
    return shown, bool(shown) and shown == live


# ---------------------------------------------------------------------- checkpoints
def lineage_text(ws, ckpt_id: str) -> str:
    """'base-… (base) → sft-… (sft @60) → grpo-… (grpo @40)'."""
    return " → ".join(f"{c['id']} ({c['stage']}{'' if c['step'] is None else ' @' + str(c['step'])})"
                      for c in ws.checkpoint_lineage(ckpt_id))


def checkpoints_frame(ws) -> pd.DataFrame:
    rows = []
    for c in reversed(ws.list_checkpoints()):
        m = c.get("metrics") or {}
        shown = ", ".join(f"{k}={m[k]:.4g}" for k in ("loss", "eval_loss", "reward/mean", "accuracy")
                          if isinstance(m.get(k), (int, float)))
        rows.append([c["id"], c["stage"] or "", c["step"], c["parent"] or "", lineage_text(ws, c["id"]), shown,
                     c["job_id"] or "", c["path"], c["created_at"]])
    return pd.DataFrame(rows, columns=CKPT_COLUMNS)


def trained_frames(ws, ckpt_id: str | None) -> int | None:
    """Frames per video a checkpoint was trained with (`data.num_frames` of the job that made it), or None
    for a base model or a checkpoint registered outside a job. Chat and Evaluate default to it: the
    tiny demo models answer well only at the frame count they saw in training."""
    try:
        job_id = ws.get_checkpoint(ckpt_id)["job_id"] if ckpt_id else None
        config = ws.get_job(job_id)["config"] if job_id else {}
    except KeyError:
        return None
    n = (config.get("data") or {}).get("num_frames")
    return int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else None


def model_choices(ws) -> list[str]:
    return MODEL_SHORTCUTS + [c["id"] for c in reversed(ws.list_checkpoints())]


def pick_checkpoint(evt: gr.SelectData):
    """A clicked checkpoint row becomes the base checkpoint of the next run."""
    row = evt.row_value or []
    return row[0] if row else gr.skip()

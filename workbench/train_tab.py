"""The Train tab: pick a recipe, edit its key fields, launch SFT/GRPO as a job, watch curves, manage checkpoints.

    with gr.Tab("Train"):
        build_train_tab(ws)

Handlers live in `workbench/train.py` (the form becomes dotted overrides of the recipe, validated,
then launched as a tracked `lvr train` job; training never runs in the UI process). Curves are
read from the job's metrics.jsonl (and those of the jobs it resumes) on a `gr.Timer`. Every
handler has a `train_*` api_name, so `gradio_client` can drive the tab:

    client.predict("sft", "configs/tiny/sft.yaml", 1, "", "tiny:lvr_composite", 3, 2, "3e-3", 4, 0.01,
                   "grpo", "transformers", api_name="/train_launch")     # → job dropdown, status
    client.predict(job_id, api_name="/train_poll")   # → status, log tail, curves figure, timer, checkpoints
    client.predict(job_id, api_name="/train_resume")  # relaunch with resume=true → new job dropdown
    client.predict(api_name="/train_refresh")        # → jobs (shows a running one), base checkpoints, table, timer
"""
from __future__ import annotations

from functools import partial

import gradio as gr
from gradio.context import Context

from lvr.train.configs import STAGES

from . import train as t


def build_train_tab(ws) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    recipes = t.recipe_choices()
    first = next((r for r in recipes if r.endswith("tiny/sft.yaml")), recipes[0] if recipes else None)
    stage0, yaml0, shown0 = t.recipe_values(ws, "sft", first) if first else ("sft", "", [(True, None)] * len(t.FORM))
    with gr.Accordion("Recipe and launch", open=True):
        with gr.Row():
            stage = gr.Radio(list(STAGES), value=stage0, label="stage", scale=1)
            recipe = gr.Dropdown(recipes, value=first, allow_custom_value=True, scale=3,
                                 label="recipe (configs/*/sft|grpo.yaml or a YAML path)")
            nproc = gr.Number(1, precision=0, label="processes (torchrun for > 1)", scale=1)
        fields = []
        with gr.Row():
            for (key, label, widget), (visible, value) in zip(t.FORM, shown0):
                choices = sorted({c for s in STAGES if (f := t.config_field(t.config_class(s), key))
                                  for c in (f.metadata.get("choices") or ())})
                common = dict(label=label, value=value, visible=visible)
                if widget == "model":
                    fields.append(gr.Dropdown(t.model_choices(ws), allow_custom_value=True, min_width=260, **common))
                elif widget == "choice":
                    fields.append(gr.Dropdown(choices, min_width=140, **common))
                elif widget in ("int", "float"):
                    fields.append(gr.Number(precision=0 if widget == "int" else None, min_width=120, **common))
                else:
                    fields.append(gr.Textbox(min_width=120, **common))
        extra = gr.Textbox(lines=2, label="more overrides (key=value per line, e.g. save_every=10; "
                                          "`lvr train keys sft|grpo` lists every key)")
        with gr.Row():
            check_btn = gr.Button("Validate")
            go = gr.Button("Launch training job", variant="primary")
        verdict = gr.Markdown()
        with gr.Accordion("recipe YAML / resolved config", open=False):
            recipe_yaml = gr.Code(yaml0, language="yaml", label="recipe", interactive=False)
            resolved = gr.Code(language="yaml", label="resolved config (after overrides)", interactive=False)

    with gr.Row():
        job0 = t.current_job(ws)      # e.g. the demo SFT the app launched at its first start
        job = gr.Dropdown(t.job_choices(ws), value=job0, label="training job", allow_custom_value=True, scale=4)
        refresh_btn = gr.Button("↻ Refresh", scale=0)
        stop = gr.Button("Cancel job", variant="stop", scale=0)
        resume = gr.Button("Resume job", scale=0)
    status = gr.Markdown("no job")
    curves = gr.Plot(label="training curves (metrics.jsonl)")
    log = gr.Textbox(label="log (last lines)", lines=8, max_lines=16, autoscroll=True)
    timer = gr.Timer(2.0, active=job0 is not None)
    gr.Markdown("### Checkpoints (click a row to train from it)")
    ckpts = gr.Dataframe(t.checkpoints_frame(ws), interactive=False, wrap=True, label="checkpoints and lineage")

    form = [stage, recipe, nproc, extra, *fields]
    model = fields[0]

    def lists(current: str | None = None):
        """Fresh lists; the job shown follows a running one unless the one shown is itself still running."""
        shown, watch = t.shown_job(ws, current)
        return (gr.Dropdown(choices=t.job_choices(ws), value=shown), gr.Dropdown(choices=t.model_choices(ws)),
                t.checkpoints_frame(ws), gr.Timer(active=True) if watch else gr.skip())

    def on_launch(*args):
        job_id, md = t.launch_training(ws, *args)
        return gr.Dropdown(choices=t.job_choices(ws), value=job_id), md, gr.Timer(active=True)

    def on_poll(job_id):
        md, tail, fig, done = t.job_status(ws, job_id)
        return md, tail, fig, gr.Timer(active=not done), t.checkpoints_frame(ws)   # new checkpoints show at once

    def on_cancel(job_id):
        t.cancel_training(ws, job_id)
        return on_poll(job_id)

    def on_resume(job_id):
        new = t.resume_job(ws, job_id)
        return gr.Dropdown(choices=t.job_choices(ws), value=new), f"resumed `{job_id}` as `{new}`", \
            gr.Timer(active=True)

    watched = [status, log, curves, timer, ckpts]
    listed = [job, model, ckpts, timer]
    stage.input(partial(t.sibling_recipe, recipes), [stage, recipe], recipe, api_name="train_stage")
    recipe.change(partial(t.recipe_form, ws), [stage, recipe], [stage, recipe_yaml, *fields], api_name="train_recipe")
    check_btn.click(partial(t.validate_form, ws), form, [verdict, resolved], api_name="train_validate")
    go.click(on_launch, form, [job, verdict, timer], api_name="train_launch")
    timer.tick(on_poll, job, watched, api_name="train_poll")
    job.input(lambda j: gr.Timer(active=bool(j)), job, timer, api_name="train_watch")
    stop.click(on_cancel, job, watched, api_name="train_cancel")
    resume.click(on_resume, job, [job, verdict, timer], api_name="train_resume")
    refresh_btn.click(lists, job, listed, api_name="train_refresh")
    ckpts.select(t.pick_checkpoint, None, model, api_name="train_pick_checkpoint")
    if isinstance(Context.block, gr.Tab):  # fill the form and refresh the lists whenever the tab is opened
        Context.block.select(lists, job, listed, api_name="train_tab_opened")

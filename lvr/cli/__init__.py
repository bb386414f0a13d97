"""`lvr` command line: one click group, one module per command family.

Each command lives at module level in its family's module (lvr/cli/*_cmds.py, and lvr.eval.cli for the
evaluation commands `python -m lvr.eval` also runs). COMMANDS maps each top-level name to its object and
the one-line summary `lvr --help` lists; the module is imported when the command is first used
(lvr.cli.lazy.LazyGroup), so `lvr --help` imports neither torch nor transformers and each module can
import what its commands need at its top. Run `lvr --help` for the list.
"""
from __future__ import annotations

import click

from .lazy import LazyGroup

COMMANDS = {
    "caption": ("lvr.cli.datagen_cmds:caption_cmd", "Caption every clip (N frames → one caption); resumable."),
    "chat": ("lvr.cli.model_cmds:chat_cmd",
             "Ask a checkpoint a question about a video; stream its thinking and answer."),
    "contact-sheet": ("lvr.cli.video_cmds:contact_sheet_cmd",
                      "Write a grid of keyframes spread over FILE, labelled with their times, as a JPEG."),
    "eval": ("lvr.cli.eval_cmds:eval_group",
             "Evaluate checkpoints (per-category accuracy with 95 % CIs), sweep frames, compare runs."),
    "export": ("lvr.cli.datagen_cmds:export_cmd",
               "Export items as LongVideo-Reason rows (JSONL file or Hugging Face dataset folder)."),
    "filter": ("lvr.cli.datagen_cmds:filter_cmd",
               "Filters on a set of items: near-duplicates (marked), answer-letter balance."),
    "filter-difficulty": ("lvr.cli.train_cmds:filter_difficulty_cmd",
                          "Sample K answers per item; mark items always right / always wrong "
                          "(qa.difficulty = pass rate)."),
    "generate": ("lvr.cli.datagen_cmds:generate_cmd",
                 "Generate reasoning QA items from clip captions (one per video × category × index); resumable."),
    "import": ("lvr.cli.datagen_cmds:import_cmd",
               "Import a LongVideo-Reason-style JSONL/JSON file or datasets folder (with its videos)."),
    "ingest": ("lvr.cli.workspace_cmds:ingest_cmd",
               "Add video files and folders to a workspace (content-hash dedup; bad files reported, batch continues)."),
    "init": ("lvr.cli.workspace_cmds:init_cmd", "Create (or upgrade) a workspace folder."),
    "jobs": ("lvr.cli.jobs_cmds:jobs_group",
             "List jobs (dead ones detected), or act on one: show / logs / cancel / resume."),
    "model": ("lvr.cli.model_cmds:model_group",
              "Video-language model checkpoints: create tiny ones, inspect, adopt HF and VILA folders."),
    "probe": ("lvr.cli.video_cmds:probe_cmd",
              "Show duration, fps, frames, size, codec and keyframe spacing of video FILES."),
    "qa": ("lvr.cli.workspace_cmds:qa_cmd", "List QA items (filters mirror the review queue)."),
    "qa-status": ("lvr.cli.workspace_cmds:qa_status_cmd",
                  "Set STATUS on every matching QA item, one revision each (Workspace.bulk_set_status)."),
    "recipe": ("lvr.cli.recipe_cmds:recipe_group",
               "The LongVILA-R1 recipe end to end on a synthetic corpus (tiny model, CPU)."),
    "stats": ("lvr.cli.workspace_cmds:stats_cmd", "Counts of videos, clips, captions and QA items."),
    "synth": ("lvr.cli.synth_cmds:synth_cmd",
              "Render a synthetic corpus into WORKSPACE (created if missing) and register it."),
    "thumbnail": ("lvr.cli.video_cmds:thumbnail_cmd", "Write the frame of FILE shown at --at seconds as a JPEG."),
    "train": ("lvr.cli.train_cmds:train_group", "CoT-SFT and GRPO training (DeepSpeed), as tracked jobs."),
    "videos": ("lvr.cli.workspace_cmds:videos_cmd", "List the workspace's videos with caption/QA counts."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lvr-workbench")
def cli() -> None:
    """LVR Workbench: long-video reasoning data, training and evaluation."""


def main() -> None:
    cli()

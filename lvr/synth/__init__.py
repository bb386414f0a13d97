"""A deterministic procedural long-video world with a ground-truth event log.

The demo corpus and the CPU benchmark of the workbench: robots move between coloured rooms,
fetch, deliver, hide, find and hand over objects, and open a chest with a key minutes after
picking it up. Everything that happens is logged; the video is drawn from the log, and the
clip captions and the four-category reasoning QA items (temporal, goal, spatial, plot) are
derived from it, so every answer can be checked.

    from lvr.synth import WorldConfig, simulate, render_video, clip_captions, generate_qa
    log = simulate(WorldConfig(seed=1, minutes=3))         # EventLog; log.save("x.events.json")
    render_video(log, "x.mp4", fps=4, size=224)            # H.264 mp4 (PyAV)
    clip_captions(log)                                     # one caption per 10 s clip
    generate_qa(log)                                       # ~60 items per 3-minute video

    from lvr.synth import SynthConfig, synth_workspace      # fill a workspace (`lvr synth` CLI)
    synth_workspace("demo", SynthConfig(videos=20, world=WorldConfig(minutes=3)))

    from lvr.synth.baselines import OracleAnswerer, TextOnlyAnswerer, ConstantAnswerer, accuracy

Modules: config (dataclasses), world (vocabulary, layout), simulate (story engine), eventlog
(log + state queries), render (numpy drawing + PyAV), captions, phrases, qa_core + qa_temporal/
qa_goal/qa_spatial/qa_plot (templates), qa (items, letters, solver), baselines, pipeline.
"""

from .captions import clip_captions
from .config import DIFFICULTY, QAConfig, SynthConfig, WorldConfig, derive_seed
from .eventlog import EventLog
from .pipeline import assign_splits, make_video, synth_workspace
from .qa import generate_qa, solve, templates_by_category
from .render import frames, render_video
from .simulate import simulate

__all__ = [
    "DIFFICULTY",
    "EventLog",
    "QAConfig",
    "SynthConfig",
    "WorldConfig",
    "assign_splits",
    "clip_captions",
    "derive_seed",
    "frames",
    "generate_qa",
    "make_video",
    "render_video",
    "simulate",
    "solve",
    "synth_workspace",
    "templates_by_category",
]

"""LVR: the long-video reasoning engine behind LVR Workbench (LongVILA-R1 recipe).

Packages: video (decode/sample), store (workspace + SQLite), synth (procedural world),
model (video-language models), datagen, train, mrsp, eval, jobs, cli.
"""
__version__ = "0.1.0"

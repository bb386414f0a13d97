"""The one exception type of `lvr.video`.

Every problem with a video file (missing, empty, not a video, truncated, corrupt, a frame of
the wrong size, an index past the end) raises `VideoError`, a `ValueError` whose message starts
with the file path and then says the cause, so a batch job can log it and go on.
"""
from __future__ import annotations

import os


class VideoError(ValueError):
    """A video file could not be read as asked. `path` names the file, `cause` says why."""

    def __init__(self, path: str | os.PathLike, cause: str) -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")

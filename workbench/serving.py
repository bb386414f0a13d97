"""What the app may hand to a browser: registered video files and the media it renders, nothing else.

    demo.launch(allowed_paths=allowed_paths(ws), blocked_paths=blocked_paths(ws))
    player = gr.Video(value=served_video(ws, video_id))     # the path, now servable

Gradio serves `/gradio_api/file=<path>` for every file under an entry of `allowed_paths` (and its own
upload/cache folders), and lets a handler return a file only from there, the working folder or the
temp folder (it then copies it into its cache). So `allowed_paths` lists exact FILES — each registered
video, resolved — plus the folders of rendered media (contact sheets, subtitles); never the workspace
root (its SQLite files hold every item and revision) nor a linked video's folder (whatever sits next
to it). A video registered after launch (an upload, an ingest) is appended to the same list object
when a tab first shows it (`served_video`), since Gradio keeps the list it was given. `blocked_paths`
adds the database files, which no rule may ever serve, even from the working folder.

Text the app shows from the server (a job's log tail and error, a training form's equivalent command and
resolved YAML) goes through `without_server_folders` first: the workspace, the project and the home folder
become `<workspace>`, relative paths and `~`, so a visitor learns nothing of where the server keeps them.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

from lvr.store import Workspace

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MEDIA_DIRS = (("cache", "thumbs"), ("cache", "subtitles"))
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")
_LOCK = threading.Lock()
_SERVED: dict[str, list[str]] = {}


def media_dirs(ws: Workspace) -> list[Path]:
    out = [ws.root.joinpath(*parts).resolve() for parts in MEDIA_DIRS]
    for d in out:
        d.mkdir(parents=True, exist_ok=True)
    return out


def allowed_paths(ws: Workspace) -> list[str]:
    """The list to pass as `launch(allowed_paths=…)` (one list object per workspace, kept up to date)."""
    key = str(ws.root.resolve())
    with _LOCK:
        if key not in _SERVED:
            videos = {str(ws.resolve(v["path"]).resolve()) for v in ws.list_videos()}
            _SERVED[key] = [*(str(d) for d in media_dirs(ws)), *sorted(videos)]
        return _SERVED[key]


def blocked_paths(ws: Workspace) -> list[str]:
    """The workspace database files: never served, whatever else allows them."""
    db = Path(ws.db_path).resolve() if hasattr(ws, "db_path") else ws.root.resolve() / "lvr.db"
    return [str(db) + s for s in DB_SUFFIXES]


def served_video(ws: Workspace, video_id: str) -> Path:
    """The file of a registered video, added to what the app serves (KeyError for an unknown id)."""
    path = ws.video_path(video_id).resolve()
    served = allowed_paths(ws)
    with _LOCK:
        if str(path) not in served:
            served.append(str(path))
    return path


def without_server_folders(ws: Workspace, text: str) -> str:
    """`text` with the workspace's absolute path as `<workspace>`, paths inside the project relative to it
    (`.venv/bin/python`, `configs/tiny/sft.yaml`) and the home folder as `~`."""
    swaps = [(str(p), "<workspace>") for p in {ws.root.resolve(), ws.root.absolute()}]
    swaps += [(str(PROJECT_ROOT) + "/", ""), (str(PROJECT_ROOT), "."), (str(Path.home()), "~")]
    for folder, shown in sorted(swaps, key=lambda s: -len(s[0])):
        if len(folder) > 1:                      # a whole folder name, not the start of a longer one
            text = re.sub(re.escape(folder) + ("" if folder.endswith("/") else r"(?![\w.-])"), shown, text)
    return text


def visitor_error(ws: Workspace, e: Exception):
    """A gr.Error for a visitor from an engine error (a KeyError's quotes dropped), without the server's folders."""
    import gradio as gr
    return gr.Error(without_server_folders(ws, str(e).strip("'\"")))

"""Does a checkpoint read the video? Its evaluation with each item's own frames, paired with the same items shown
another video's frames (`lvr eval run … --videos shuffled`), and the exact McNemar test on the two.

    from lvr.eval.reading import video_reading, reading_summary, video_readers
    r = video_reading(ws, "grpo-20261207-…")   # VideoReading(own=0.32, other=0.30, n=841, p=0.32, …) or None
    r.reads                                     # own frames beat another video's, p < 0.05
    reading_summary(r)                          # one line for people (the app's Chat tab shows it)
    video_readers(ws)                           # ids of the checkpoints that read their video, newest first
    preferred_checkpoint(ws)                    # what to show people first (the app's Chat tab opens on it)

A model that answers from the question's text scores the same with another video's frames; one that reads the
video drops. Only runs that differ in nothing but the videos are paired: same checkpoint, split, frame count and
answer mode, both finished. The newest such pair is used; items are matched by qa_id.
"""
from __future__ import annotations

from dataclasses import dataclass

from .stats import mcnemar_exact

ALPHA = 0.05


@dataclass(frozen=True)
class VideoReading:
    checkpoint: str
    own_run: str
    other_run: str
    split: str | None
    frames: int | None
    n: int              # paired items
    own: float          # accuracy with each item's own frames
    other: float        # accuracy with another video's frames
    own_only: int       # right with its own frames only
    other_only: int     # right with another video's frames only
    p: float            # exact McNemar

    @property
    def reads(self) -> bool:
        """Own frames beat another video's, significantly (exact McNemar p < 0.05)."""
        return self.own_only > self.other_only and self.p < ALPHA


def _videos(run: dict) -> str:
    return ((run.get("config") or {}).get("selection") or {}).get("videos") or "own"


def _setting(run: dict) -> tuple:
    answer_mode = ((run.get("config") or {}).get("answerer") or {}).get("answer_mode", "free")
    return run["split"], run["frames"], answer_mode


def video_reading(ws, checkpoint: str, runs: list[dict] | None = None) -> VideoReading | None:
    """The newest own / another-video pair of finished evaluation runs of `checkpoint`, compared item by item;
    None when it has no such pair (`runs`: `ws.list_eval_runs()`, when the caller already has them)."""
    runs = [r for r in (runs if runs is not None else ws.list_eval_runs())
            if r["checkpoint"] == checkpoint and r["status"] == "succeeded"]
    others = [r for r in runs if _videos(r) == "shuffled"]
    for own in reversed([r for r in runs if _videos(r) == "own"]):                   # newest first
        other = next((o for o in reversed(others) if _setting(o) == _setting(own)), None)
        if other is None:
            continue
        a = {it["qa_id"]: bool(it["correct"]) for it in ws.eval_items(own["id"])}
        b = {it["qa_id"]: bool(it["correct"]) for it in ws.eval_items(other["id"])}
        both = sorted(a.keys() & b.keys())
        if not both:
            continue
        own_only = sum(a[q] and not b[q] for q in both)
        other_only = sum(b[q] and not a[q] for q in both)
        return VideoReading(checkpoint, own["id"], other["id"], own["split"], own["frames"], len(both),
                            sum(a[q] for q in both) / len(both), sum(b[q] for q in both) / len(both),
                            own_only, other_only, mcnemar_exact(own_only, other_only))
    return None


def video_readers(ws) -> list[str]:
    """Ids of the checkpoints whose newest own / another-video pair says they read the video, newest first."""
    runs = ws.list_eval_runs()
    ids = {r["checkpoint"] for r in runs if r["checkpoint"]}
    out = []
    for c in reversed(ws.list_checkpoints()):
        if c["id"] in ids:
            r = video_reading(ws, c["id"], runs)
            if r is not None and r.reads:
                out.append(c["id"])
    return out


# Which checkpoint to show first: of those an evaluation showed to read their video, else of all, the newest of the
# most trained stage (GRPO, then SFT, then any other trained stage); the random-init base model only when nothing was
# trained.
STAGE_RANK = {"grpo": 0, "sft": 1}


def preferred_checkpoint(ws) -> str | None:
    """The id of the best trained checkpoint (newest GRPO, else newest SFT, else newest non-base; among those that
    read their video when an evaluation says some do), else the newest."""
    ckpts = list(reversed(ws.list_checkpoints()))          # newest first
    if not ckpts:
        return None
    readers = set(video_readers(ws))
    trained = [c for c in ckpts if c["id"] in readers] or [c for c in ckpts if c["stage"] != "base"]
    if not trained:
        return ckpts[0]["id"]
    return min(trained, key=lambda c: STAGE_RANK.get(c["stage"], 2))["id"]   # min is stable: newest of a rank


def reading_summary(r: VideoReading | None) -> str:
    """One line: whether the checkpoint reads its video, with the numbers that say so."""
    if r is None:
        return ("Reads the video? Not measured: evaluate this checkpoint twice, once with another video's frames "
                "(Eval tab's checkbox, or `lvr eval run … --videos shuffled`), to see whether its answers come from "
                "the frames.")
    verdict = ("reads its video" if r.reads else
               "no evidence it reads its video" if r.p >= ALPHA else "answers better with another video's frames")
    return (f"Reads the video? **{verdict}**: {100 * r.own:.1f} % with its own frames vs {100 * r.other:.1f} % "
            f"with another video's ({r.own_only} vs {r.other_only} items right with one only, exact McNemar "
            f"p = {r.p:.2g}; {r.n} {r.split} items, {r.frames} frames).")

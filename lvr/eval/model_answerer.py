"""`ModelAnswerer`: a checkpoint answering evaluation items from sampled video frames.

    from lvr.eval import ModelAnswerer, run_eval, EvalConfig
    answerer = ModelAnswerer("ws/checkpoints/grpo-…", max_new_tokens=512)
    run_eval(ws, answerer, EvalConfig(split="eval", frames=16), checkpoint="grpo-…")

Per batch, each distinct video is sampled once (`lvr.media.video_frames`, exact mode, N
uniform frames over the whole video — the questions are about the whole long video),
optionally through the workspace frame cache, and encoded once (`model.encode_frames`); every
question on that video reuses the embeddings (`model.build_inputs`). Then
`lvr.model.generate_batch` generates greedily (temperature 0 by default) and each output is
parsed with `lvr.model.prompting.parse_response` (with the item's options, so an answer
written as the option text counts). `answer_mode="choice"` keeps the generated reasoning but
scores the option the model finds most likely after it (`lvr.model.choice`: decoding restricted
to the four allowed answers); the free answer and its format check stay on the prediction.
`lvr.model` (torch, transformers) is imported when the answerer is built, so `lvr.eval` itself
imports without the model stack.

The runner puts `video_path` (absolute) and `video_sha` on each item before calling.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from lvr.media import frame_spec, video_frames

from .answerer import LETTERS, Prediction, prediction_from_text

ANSWER_MODES = ("free", "choice")   # free: parse what it wrote; choice: the likeliest option after its reasoning


class ModelAnswerer:
    """Answer items with a checkpoint through `lvr.model` (loaded once, reused for every batch)."""

    needs_video = True

    def __init__(self, checkpoint_dir: str | Path | None = None, *, model: Any = None, max_new_tokens: int = 512,
                 temperature: float = 0.0, think: bool = True, sampling_mode: str = "exact",
                 frame_cache_dir: str | Path | None = None, device: str | None = None, answer_mode: str = "free"):
        if answer_mode not in ANSWER_MODES:
            raise ValueError(f"answer_mode must be one of {ANSWER_MODES}, got {answer_mode!r}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if model is None and checkpoint_dir is None:
            raise ValueError("ModelAnswerer needs a checkpoint directory (or a loaded model=)")
        self.checkpoint_dir = None if checkpoint_dir is None else str(checkpoint_dir)
        self.max_new_tokens, self.temperature, self.think = int(max_new_tokens), float(temperature), bool(think)
        self.sampling_mode, self.answer_mode = sampling_mode, answer_mode
        self.frame_cache_dir = Path(frame_cache_dir) if frame_cache_dir else None
        if model is None:
            # imported here: lvr.model loads torch, ~1.3 s more on `import lvr.eval` (~1.5 s), measured
            from lvr.model import load_model

            if not Path(self.checkpoint_dir).is_dir():
                raise FileNotFoundError(f"checkpoint directory {self.checkpoint_dir} does not exist")
            model = load_model(self.checkpoint_dir, device=device)
        self.model = model
        self.name = "model"
        self.frames_sampled = 0     # decoded videos (for callers and tests: once per video per batch)

    # ------------------------------------------------------------------ frames
    def _sample(self, path: str, sha: str | None, frames: int):
        spec = frame_spec(int(frames), mode=self.sampling_mode)
        self.frames_sampled += 1
        return video_frames(path, spec, cache_dir=self.frame_cache_dir, sha=sha)

    def _video_inputs(self, items: Sequence[dict], frames: int) -> list[tuple]:
        """(embeddings, layout) per item; each distinct video is sampled and encoded once."""
        import torch

        per_video: dict[str, tuple] = {}
        out = []
        for it in items:
            path = it.get("video_path")
            if not path:
                raise ValueError(f"QA item {it.get('id')}: no video to show the model "
                                 f"({it.get('video_problem') or 'no video_path'})")
            if path not in per_video:
                s = self._sample(path, it.get("video_sha"), frames)
                # cached frames are read-only memory maps; torch wants writable arrays
                pixels = s.frames if s.frames.flags.writeable else s.frames.copy()
                with torch.no_grad():
                    embeds = self.model.encode_frames(pixels)
                layout = self.model.video_layout(len(s), tuple(s.frames.shape[1:3]), list(s.timestamps))
                per_video[path] = (embeds, layout)
            out.append(per_video[path])
        return out

    # ------------------------------------------------------------------ answering
    def answer_batch(self, items: list[dict], frames: int | None) -> list[Prediction]:
        from lvr.model import build_messages, generate_batch  # here: torch, see __init__ above

        if not frames:
            raise ValueError("ModelAnswerer needs a frame count (frames >= 1)")
        t0 = time.perf_counter()
        prompts = []
        for it, (embeds, layout) in zip(items, self._video_inputs(items, frames)):
            messages = build_messages(it["question"], list(it["options"]), think=self.think,
                                      answer_format=self.model.answer_format)
            prompts.append(self.model.build_inputs(messages, embeds, layout=layout, add_generation_prompt=True))
        gens = generate_batch(self.model, prompts, max_new_tokens=self.max_new_tokens,
                              temperature=self.temperature, think=self.think)
        if len(gens) != len(items):
            raise RuntimeError(f"generate_batch returned {len(gens)} outputs for {len(items)} prompts")
        preds = [prediction_from_text(g.text, it["options"], tokens=g.n_tokens, think=self.think)
                 for it, g in zip(items, gens)]
        if self.answer_mode == "choice":
            from lvr.model.choice import choose_options

            picks = choose_options(self.model, prompts, gens, [it["options"] for it in items], think=self.think)
            for p, k in zip(preds, picks):
                p.letter = LETTERS[k]
        per_item = (time.perf_counter() - t0) / max(1, len(items))
        for p in preds:
            p.latency = per_item
        return preds

    def describe(self) -> dict:
        return {"answerer": self.name, "checkpoint_dir": self.checkpoint_dir, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature, "think": self.think, "sampling_mode": self.sampling_mode,
                "answer_mode": self.answer_mode}

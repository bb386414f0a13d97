"""Look-up probe: can the LM find one fact in the video tokens, from one frame or among the task's frames?

    from lvr.recipe.lookup import lookup_items, train_lookup
    train = lookup_items(ws, splits=("sft", "rl"), num_frames=8)            # questions at the 8 frames' times
    test = lookup_items(ws, splits=("eval",), num_frames=8)
    report = train_lookup(model, ws, train, test, num_frames=8, steps=1500) # trains LM + projector in place
    # the same questions with only the frame they ask about: lookup_items(..., single=True)
    model.use_clock_tags()        # frame tags "00:35" as one token, the same token the question uses
    state_items(ws, num_frames=8) # questions that pick no frame: "most of its time", "in the last frame"

Every question asks for one fact that a frame shows at its time stamp, taken from the synthetic
event log: "Where is the red robot at 00:35?" (a zone), "Where is the navy star at 00:35?" (a zone,
or "with the red robot"), "What is the red robot carrying at 00:35?" (an object or "nothing"). With
`single=True` each item comes with just that frame, so the LM only has to read it; otherwise with the
task's `num_frames` uniformly sampled frames, so it also has to pick the frame the time stamp points
to. Accuracy is exact match of a greedy short answer, per kind of question. docs/results-v1.md uses it
to tell "the LM cannot read the tokens" from "the LM cannot choose the frame"; bench/lookup.py runs
both against each other. `state_items` asks what needs no frame chosen by time: where a robot spent
most of its time (read every frame and count) and where it is in the last frame (the frame nearest the
question); `bench/lookup.py --state` trains them at 2 and at N frames.
"""
from __future__ import annotations

import dataclasses
import random
from collections import Counter

import numpy as np
import torch

from lvr.model.generation import generate_batch
from lvr.model.prompting import build_messages, parse_response
from lvr.synth.eventlog import EventLog
from lvr.synth.phrases import fmt_time
from lvr.train.configs import TrainableConfig
from lvr.train.data import VideoFrames, load_items
from lvr.train.engine import set_trainable
from lvr.train.sft import lm_loss, sft_inputs

from .perception import fit

LOOKUP_KINDS = ("robot", "object", "carrying")
STATE_KINDS = ("most_time", "last_frame")


@dataclasses.dataclass(frozen=True)
class LookupItem:
    kind: str                   # robot | object | carrying (lookup_items); most_time | last_frame (state_items)
    item: object                # lvr.train.data.TrainItem (question, answer, and the clip range when single)


def _videos(ws, splits):
    """(first item, event log) of every video with QA items in `splits`."""
    per_video: dict[str, object] = {}
    for split in splits:
        for it in load_items(ws, split=split, statuses=["approved", "pending", "draft"]):
            per_video.setdefault(it.video_id, it)
    return [(it, EventLog.load(it.video_path.removesuffix(".mp4") + ".events.json")) for it in per_video.values()]


def _items(facts) -> list[LookupItem]:
    return [LookupItem(kind, dataclasses.replace(it, question=q, options=(), answer=a, reasoning="",
                                                 category="lookup", **span))
            for it, span, kind, q, a in facts]


def lookup_items(ws, *, splits=("sft", "rl"), num_frames: int = 8, single: bool = False) -> list[LookupItem]:
    """Questions about each of the `num_frames` uniformly sampled frames of every video with QA items in
    `splits` (one item per fact per frame); `single`: each item's clip range is ±0.2 s around its frame,
    so it is sampled alone (sample it with `VideoFrames(..., num_frames=1, use_clip_range=True)`)."""
    frames = VideoFrames(ws, num_frames=num_frames)
    facts = []
    for it, log in _videos(ws, splits):
        for t in (float(x) for x in frames(it).timestamps):
            at = fmt_time(t)
            span = {"start": t - 0.2, "end": t + 0.2} if single else {}
            for a in log.agent_ids:
                facts.append((it, span, "robot", f"Where is the {a} robot at {at}?", f"the {log.zone_at(a, t)}"))
                held = log.carrying_at(a, t)
                facts.append((it, span, "carrying", f"What is the {a} robot carrying at {at}?",
                              f"the {held.replace('-', ' ')}" if held else "nothing"))
            for o in log.object_ids:
                state = log.object_state_at(o, t)           # hidden or not there yet: nothing to see
                if state[0] in ("floor", "held"):
                    where = f"the {state[1]}" if state[0] == "floor" else f"with the {state[1]} robot"
                    facts.append((it, span, "object", f"Where is the {o.replace('-', ' ')} at {at}?", where))
    return _items(facts)


def state_items(ws, *, splits=("sft", "rl"), num_frames: int = 8) -> list[LookupItem]:
    """Two questions per robot and video that need no frame to be picked by time or event: "Where did the
    red robot spend most of its time?" (`most_time`: the zone it was in longest, from the event log, so
    more frames estimate it better) and "Where is the red robot in the last frame?" (`last_frame`: its zone
    at the last of the `num_frames` sampled frames)."""
    frames = VideoFrames(ws, num_frames=num_frames)
    facts = []
    for it, log in _videos(ws, splits):
        last = float(frames(it).timestamps[-1])
        grid = np.arange(0.25, log.duration, 0.5)
        for a in log.agent_ids:
            most = Counter(log.zone_at(a, float(t)) for t in grid).most_common(1)[0][0]
            facts.append((it, {}, "most_time", f"Where did the {a} robot spend most of its time?", f"the {most}"))
            facts.append((it, {}, "last_frame", f"Where is the {a} robot in the last frame?",
                          f"the {log.zone_at(a, last)}"))
    return _items(facts)


def lookup_accuracy(model, items: list[LookupItem], frames, *, batch_size: int = 50) -> dict[str, float]:
    """Exact-match accuracy of greedy answers, per kind and overall."""
    hits, total = Counter(), Counter()
    was = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(items), batch_size):
            chunk, prompts = items[i:i + batch_size], []
            for x in chunk:
                s = frames(x.item)
                layout = model.video_layout(len(s.frames), tuple(s.frames.shape[1:3]), s.timestamps)
                prompts.append(model.build_inputs(build_messages(x.item.question, None, think=False),
                                                  model.encode_frames(s.frames), layout=layout,
                                                  add_generation_prompt=True))
            for x, g in zip(chunk, generate_batch(model, prompts, max_new_tokens=10, temperature=0.0, think=False)):
                ok = (parse_response(g.text, think=False).answer or "").strip() == x.item.answer
                for key in (x.kind, "all"):
                    hits[key] += ok
                    total[key] += 1
    model.train(was)
    return {k: round(hits[k] / total[k], 4) for k in total}


def train_lookup(model, ws, train: list[LookupItem], test: list[LookupItem], *, num_frames: int, single: bool = False,
                 steps: int = 1500, batch_size: int = 16, lr: float = 1e-3, seed: int = 0, log=print) -> dict:
    """Train the LM + projector (the tower stays frozen) on `train` look-ups; accuracy on `test` before and
    after, and the seconds taken. The model is changed in place."""
    if not train or not test:
        raise ValueError("train_lookup needs train and test items (lookup_items found none)")
    frames = VideoFrames(ws, num_frames=1 if single else num_frames, use_clip_range=single)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    set_trainable(model, TrainableConfig(llm=True, projector=True, vision_tower=False))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    before = lookup_accuracy(model, test, frames)
    model.train()

    def batch_loss() -> torch.Tensor:
        batch = [x.item for x in rng.sample(train, min(batch_size, len(train)))]
        return lm_loss(model, sft_inputs(model, batch, frames, think=False, encoder_grad=True, max_length=None))[0]

    seconds = fit(params, opt, batch_loss, steps, tag="lookup", log=log)
    model.eval()
    return {"frames": 1 if single else num_frames, "train_items": len(train), "test_items": len(test),
            "steps": steps, "seconds": round(seconds, 1), "before": before,
            "after": lookup_accuracy(model, test, frames)}

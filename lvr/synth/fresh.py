"""Fresh worlds for look-up training: each item's world is newly simulated, its frames are drawn at jittered times,
and its multiple-choice question is answered by what those frames show (read from the event log at their times).

    from lvr.synth.fresh import WorldSpec, question_stream, held_out_questions, render_frames
    stream = question_stream(WorldSpec(), 4, ("time", "last"), start=TRAIN_SEEDS, items_per_world=4)
    q = next(stream)                        # VideoQuestion: q.question, q.options, q.answer, q.times, q.log
    frames = render_frames(q.log, 112, 4.0, list(q.frames))   # uint8 [H, W, 3] each, drawn from the event log

Seeds: training worlds from TRAIN_SEEDS = 2**32, held-out ones from HELD_OUT_SEEDS = 2**32 + 2**31; the corpus's
`derive_seed` and the perception stage's `world_seed` are 32-bit hashes, so no fresh world is a corpus world.
A world lasts `WorldSpec.minutes` (drawn per world); an item's N frames are one per N-th of the video, jittered on
the fps grid, at distinct whole seconds. Question kinds (`world_questions`):

    time      "Where is the red robot at 00:35?"                 the zone on the frame tagged 00:35
    carrying  "What is the red robot carrying at 00:35?"          an object, or nothing
    object    "Where is the navy star at 00:35?"                  a zone, or "with the red robot"
    first     "Where is the red robot in the first frame?"
    last      "Where is the red robot in the last frame?"
    last_object  "Where is the navy star in the last frame?"   a zone, or "with the red robot"
    most      "Where is the red robot in most of the frames?"     (only when one zone is the most frequent)
    count     "In how many of the frames is the red robot in the hall?"

The base video-LM stage (lvr.recipe.videolm) trains on them; CoT-SFT replays them (lvr.train.sft, `data.replay`);
the look-up probe (lvr.recipe.fresh_lookup) writes its own items from the same worlds.

`world_items` asks a fresh world the corpus's own questions instead (lvr.synth.qa's templates, four categories),
keeps those an ideal reader of the drawn frames can answer (lvr.synth.visibility, the rule SFT's
`require_answerable` uses) and gives each the chain of thought those frames support (`frame_reasoning`): CoT-SFT
on as many fresh worlds as it has steps (`replay.qa_items`) instead of only the corpus's sft videos.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from lvr.model.prompting import LETTERS
from lvr.video.sampling import segment_centres

from .config import WorldConfig
from .phrases import fmt_time
from .qa import generate_qa
from .render import Renderer
from .simulate import simulate
from .visibility import answerable, frame_reasoning, item_conclusion

KINDS = ("robot", "carrying", "object")
PLACEMENTS = ("jitter", "centre")    # frames: one at random per segment, or each segment's centre (lvr.video's rule)
PLACEMENT_HELP = ("where each of a fresh world's N frames lies in its N equal segments: jitter (at random) or centre "
                  "(at the centre, where lvr.video's uniform sampling looks in every corpus video and the benchmark's)")
TRAIN_SEEDS = 1 << 32                 # fresh training worlds: TRAIN_SEEDS + k
HELD_OUT_SEEDS = TRAIN_SEEDS + (1 << 31)


@dataclass(frozen=True)
class WorldSpec:
    minutes: tuple[float, float] = (1.0, 2.0)     # video length drawn per world
    fps: float = 4.0
    size: int = 112
    difficulty: str = "easy"
    kinds: tuple[str, ...] = KINDS
    placement: str = "jitter"                     # PLACEMENTS



def minutes_problem(minutes) -> str | None:
    """Why `minutes` is not a [shortest, longest] world length (a simulated world lasts at least a minute), or None."""
    if len(minutes) != 2 or not 1.0 <= minutes[0] <= minutes[1]:
        return f"needs [shortest, longest] minutes with 1 <= shortest <= longest, got {list(minutes)}"
    return None


def fresh_world(seed: int, spec: WorldSpec):
    """The event log of world `seed`; its length is drawn from the seed."""
    minutes = round(random.Random(seed).uniform(*spec.minutes), 2)
    return simulate(WorldConfig(seed=seed, minutes=minutes, fps=spec.fps, size=spec.size,
                                difficulty=spec.difficulty))


def frame_indices(rng: random.Random, duration: float, n: int, fps: float, placement: str = "jitter") -> list[int]:
    """n frame indices at distinct whole seconds, one in each of n equal segments: uniformly at random ("jitter"),
    or at its centre ("centre": where `lvr.video.sampling` looks in a rendered video of `duration`)."""
    count = max(1, round(duration * fps))
    if placement == "centre":
        idx = segment_centres(count, n)
        if len({round(i / fps) for i in idx}) == n:
            return idx
    elif placement != "jitter":
        raise ValueError(f"frame placement must be one of {PLACEMENTS}, got {placement!r}")
    last = count - 1
    for _ in range(100 if placement == "jitter" else 0):
        idx = [min(last, int(rng.uniform(k, k + 1) * duration / n * fps)) for k in range(n)]
        if len({round(i / fps) for i in idx}) == n:
            return idx
    raise ValueError(f"cannot place {n} frames at distinct seconds in {duration:.0f} s")


def item_stream(spec: WorldSpec, n_frames, *, start: int = TRAIN_SEEDS, items_per_world: int = 1,
                make=None):
    """Endless items, a fresh world every `items_per_world` items; `n_frames` an int or a callable() -> int;
    `make(seed, spec, n_frames, count)` writes a world's items (default: `world_questions`)."""
    make = make or world_questions
    k = start
    while True:
        n = n_frames() if callable(n_frames) else n_frames
        yield from make(k, spec, n, items_per_world)
        k += 1


def held_out_items(spec: WorldSpec, frame_counts, count: int, make=None) -> dict[int, list]:
    """Per frame count, `count` items, each from its own held-out world (the same worlds for every count);
    `make` as in `item_stream`."""
    make = make or world_questions
    logs = [fresh_world(HELD_OUT_SEEDS + j, spec) for j in range(count)]
    return {n: [make(HELD_OUT_SEEDS + j, spec, n, log=lg)[0] for j, lg in enumerate(logs)] for n in frame_counts}


OBJECT_EVENTS = ("appear", "pick_up", "drop", "hand_over", "disappear")


def render_frames(log, size: int, fps: float, indices: list[int]) -> list[np.ndarray]:
    """Frames `indices` (ascending) of `Renderer(log, size).frames(fps)`, drawn the same way but only those (the
    renderer draws every frame up to the last one wanted: 15 ms for a minute and a half, 0.4 ms for 8 here)."""
    r = Renderer(log, size)
    events = sorted((e for e in log.events if e.get("object") and e["type"] in OBJECT_EVENTS),
                    key=lambda e: (e["t"], e["id"]))
    state, k, out = {}, 0, []
    for i in indices:
        t = i / fps
        for e in events[k:]:
            if e["t"] > t:
                break
            k += 1
            held = e["agent"] if e["type"] == "pick_up" or (e["type"] == "appear" and e.get("agent")) else None
            held = e["other"] if e["type"] == "hand_over" else held
            state[e["object"]] = (("held", held) if held else ("hidden",) if e["type"] == "disappear"
                                  else ("floor", e["x"], e["y"]))
        frame = (r.bg_open if r.open_t is not None and t >= r.open_t else r.bg_closed).copy()
        pos = {a: log.position_at(a, t) for a in log.agent_ids}
        for oid, st in state.items():
            if st[0] == "floor":
                r.object_sprites[oid].paste(frame, st[1] * size, st[2] * size)
        for a in log.agent_ids:
            r.agent_sprites[a].paste(frame, pos[a][0] * size, pos[a][1] * size)
        for oid, st in state.items():
            if st[0] == "held":
                r.object_sprites[oid].paste(frame, pos[st[1]][0] * size, pos[st[1]][1] * size)
        out.append(frame)
    return out

VIDEOLM_KINDS = ("time", "carrying", "object", "first", "last", "last_object", "most", "count")


@dataclass(frozen=True)
class FramesQuestion:
    """A multiple-choice question about `frames` of fresh world `seed` (subclasses keep its event log in `log`)."""
    seed: int
    frames: tuple[int, ...]          # frame indices on the fps grid
    times: tuple[float, ...]
    question: str
    options: tuple[str, ...]
    answer: str                      # the keyed letter

    @property
    def answer_option(self) -> str:
        return self.options[LETTERS.index(self.answer)]


@dataclass(frozen=True)
class VideoQuestion(FramesQuestion):
    """A look-up question (`world_questions`)."""
    kind: str = ""
    per_frame: tuple[str, ...] = ()  # the answer each single frame would give (the random-frame baseline)
    log: object = field(default=None, compare=False, repr=False)


def _robot_zone(log, who, t):
    return f"the {log.zone_at(who, t)}"


def _carrying(log, who, t):
    held = log.carrying_at(who, t)
    return f"the {held.replace('-', ' ')}" if held else "nothing"


def _object_place(log, who, t):
    state = log.object_state_at(who, t)
    return f"the {state[1]}" if state[0] == "floor" else f"with the {state[1]} robot"


def _choices(log, kind: str) -> list[str]:
    """Every answer a question of `kind` can have in this world (distractors are drawn from it)."""
    zones = [f"the {z}" for z in log.zone_names]
    if kind == "carrying":
        return ["nothing"] + [f"the {o.replace('-', ' ')}" for o in log.object_ids]
    if kind == "object":
        return zones + [f"with the {a} robot" for a in log.agent_ids]
    return zones


def _ask_object(log, rng: random.Random, times: tuple[float, ...], k: int, when: str):
    """Where an object visible on frame k is then ("at 00:35", "in the last frame"), or None when none is."""
    seen = [o for o in log.object_ids if log.object_state_at(o, times[k])[0] in ("floor", "held")]
    if not seen:
        return None
    obj = rng.choice(seen)
    per = tuple(_object_place(log, obj, t) if log.object_state_at(obj, t)[0] in ("floor", "held")
                else "(not visible)" for t in times)
    return f"Where is the {obj.replace('-', ' ')} {when}?", per[k], per


def _ask(log, rng: random.Random, kind: str, times: tuple[float, ...]):
    """(question, answer, per-frame answers) for `kind`, or None when this world/frames cannot ask it."""
    robot = rng.choice(log.agent_ids)
    name = f"the {robot} robot"
    zones = tuple(_robot_zone(log, robot, t) for t in times)
    if kind in ("time", "carrying", "object"):
        k = rng.randrange(len(times))
        at = fmt_time(times[k])
        if kind == "time":
            return f"Where is {name} at {at}?", zones[k], zones
        if kind == "carrying":
            per = tuple(_carrying(log, robot, t) for t in times)
            return f"What is {name} carrying at {at}?", per[k], per
        return _ask_object(log, rng, times, k, f"at {at}")
    if kind == "last_object":
        return _ask_object(log, rng, times, len(times) - 1, "in the last frame")
    if kind == "first":
        return f"Where is {name} in the first frame?", zones[0], zones
    if kind == "last":
        return f"Where is {name} in the last frame?", zones[-1], zones
    counts = Counter(zones).most_common()
    if kind == "most":
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            return None
        return f"Where is {name} in most of the frames?", counts[0][0], zones
    zone = rng.choice(_choices(log, "time"))
    n = sum(z == zone for z in zones)
    return f"In how many of the frames is {name} in {zone}?", str(n), tuple(str(int(z == zone)) for z in zones)


def _options(rng: random.Random, answer: str, pool: list[str]) -> tuple[tuple[str, ...], str]:
    """Four options (the answer and three distractors from `pool`, shuffled) and the answer's letter."""
    others = [x for x in dict.fromkeys(pool) if x != answer]
    opts = [answer] + rng.sample(others, min(3, len(others)))
    rng.shuffle(opts)
    return tuple(opts), LETTERS[opts.index(answer)]


def world_questions(seed: int, spec: WorldSpec, n_frames: int, count: int = 1, kinds=VIDEOLM_KINDS,
                    log=None) -> list[VideoQuestion]:
    """`count` items from world `seed`, each with its own frame times and question (kinds drawn uniformly)."""
    log = log or fresh_world(seed, spec)
    rng = random.Random(seed * 31 + n_frames)
    out = []
    while len(out) < count:
        idx = frame_indices(rng, log.duration, n_frames, spec.fps, spec.placement)
        times = tuple(i / spec.fps for i in idx)
        kind = rng.choice(kinds)
        asked = _ask(log, rng, kind, times)
        if asked is None:
            continue
        question, answer, per = asked
        pool = ([str(i) for i in range(n_frames + 1)] if kind == "count"
                else _choices(log, "object" if kind == "last_object" else kind))
        options, letter = _options(rng, answer, pool)
        out.append(VideoQuestion(seed, tuple(idx), times, question, options, letter, kind=kind, per_frame=per,
                                 log=log))
    return out


def question_stream(spec: WorldSpec, n_frames, kinds, *, start: int, items_per_world: int):
    """`item_stream` of these questions: a fresh world every `items_per_world` items."""
    return item_stream(spec, n_frames, start=start, items_per_world=items_per_world,
                       make=partial(world_questions, kinds=kinds))


def held_out_questions(spec: WorldSpec, frame_counts, count: int, kinds) -> dict[int, list[VideoQuestion]]:
    """`held_out_items` of these questions (one per held-out world, the same worlds per count)."""
    return held_out_items(spec, frame_counts, count, make=partial(world_questions, kinds=kinds))


def question_baselines(test: list[VideoQuestion]) -> dict[str, float]:
    """most_frequent: the commonest answer text per kind (a blind answerer, fit on the test items themselves, so
    an upper bound for one); random_frame: what a random one of the item's frames answers."""
    common = {k: Counter(x.answer_option for x in test if x.kind == k).most_common(1)[0][0]
              for k in {x.kind for x in test}}
    mf = sum(x.answer_option == common[x.kind] for x in test) / len(test)
    rf = sum(sum(a == x.answer_option for a in x.per_frame) / len(x.per_frame) for x in test) / len(test)
    return {"most_frequent": round(mf, 4), "random_frame": round(rf, 4)}



@dataclass(frozen=True)
class WorldItem(FramesQuestion):
    """A corpus-style QA item (lvr.synth.qa) on a fresh world, with the reasoning its frames support."""
    category: str = ""
    template: str = ""
    reasoning: str = ""              # frame_reasoning: what the frames show, then "So <conclusion>."
    meta: dict = field(default_factory=dict, compare=False, repr=False)     # lvr.synth.qa's meta
    log: object = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        """Its category, as a look-up's kind ("qa-spatial"): how accuracy is broken down."""
        return f"qa-{self.category}"


def world_items(seed: int, spec: WorldSpec, n_frames: int, count: int = 1, log=None,
                lines: str = "frames") -> list[WorldItem]:
    """Up to `count` of world `seed`'s corpus questions that its `n_frames` drawn frames can answer (fewer, maybe
    none, when the frames cannot support more); one frame draw per world, items in a seeded random order.
    `lines`: their reasoning's layout (frame_reasoning: frames, every_frame or to_evidence)."""
    log = log or fresh_world(seed, spec)
    rng = random.Random(seed * 31 + n_frames)
    idx = frame_indices(rng, log.duration, n_frames, spec.fps, spec.placement)
    times = tuple(i / spec.fps for i in idx)
    items = [it for it in generate_qa(log, min_gap=WorldConfig(difficulty=spec.difficulty).min_gap)
             if answerable(it["meta"], log, list(times))]
    rng.shuffle(items)
    return [WorldItem(seed, tuple(idx), times, it["question"], tuple(it["options"]), it["answer"],
                      category=it["category"], template=it["meta"]["template"],
                      reasoning=frame_reasoning(log, it["meta"], list(times),
                                                item_conclusion(it["meta"], it["reasoning"]), lines),
                      meta=it["meta"], log=log)
            for it in items[:count]]


def held_out_world_items(spec: WorldSpec, n_frames: int, count: int, start: int = HELD_OUT_SEEDS,
                         lines: str = "frames") -> list[WorldItem]:
    """`count` corpus-style questions on held-out worlds, one per world (worlds whose `n_frames` frames answer none
    are passed over), in seed order from `start`; `lines` as in world_items."""
    out, seed = [], start
    while len(out) < count:
        out += world_items(seed, spec, n_frames, lines=lines)
        seed += 1
    return out


def with_other_frames(items: list) -> list:
    """Each item shown the next item's world and frames (the last one the first's) under its own times: the
    baseline of a reader that does not see its own world. Items of one frame count from distinct worlds."""
    return [replace(it, seed=o.seed, frames=o.frames, log=o.log) for it, o in zip(items, items[1:] + items[:1])]

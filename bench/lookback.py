"""Does reasoning read the frames when each reasoning line is written next to the frame it names?

    .venv/bin/python bench/lookback.py                                  # plain, lookback, answer; 420 s each
    .venv/bin/python bench/lookback.py --arms lookback --budget-s 1000 --threads 1
    .venv/bin/python bench/lookback.py --arms lookback --no-conclusion  # the frame lines, then the answer
    .venv/bin/python bench/lookback.py --arms plain,lookback --every-frame   # a line for every frame

Every arm starts from the same base video LM (the recipe-videolm workspace's `videolm` stage, or --checkpoint) and
trains LM + projector for --budget-s seconds on the same stream of fresh worlds (lvr.synth.fresh.world_items: the
corpus's own questions that the 8 drawn frames answer, with their frame reasoning "00:06: pink ball hall." lines,
then "So …" and the answer's text). The arms differ only in how the target is shown to the LM:
  plain     the reasoning as CoT-SFT trains on it without look-back: to write a line the LM has to pick, among the
            8 frames of the prompt, the one with that line's time (frame choice, which a 4 x 128 LM has not learned
            in thousands of steps: docs/benchmarks.md);
  lookback  the same text, with the frame whose tag a line starts with spliced in again right after the tag
            (lvr.model.lookback's layout), so the line is written next to the frame it names: reading the latest
            frame is what the base stage does learn (the last of 8 frames at 0.95). The LM picks a frame by
            writing its tag, a token it copies from the prompt's text. A tag no frame has is snapped to the
            nearest frame's;
  add       as lookback, but the frame is added to the tag's embedding instead of following it;
  answer    the answer alone (the base stage's format).
Scored on held-out worlds (never trained on) with each item's own frames and with another world's frames under the
same times: the option the model finds likeliest after its own greedy reasoning (the recipe's `choice` answer
mode), the teacher-forced loss of the reasoning, and how many written frame lines say exactly what the item's
frames show. Prints ONE JSON line; docs/benchmarks.md has the results.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lvr.model import load_model  # noqa: E402
from lvr.model.base import IGNORE_INDEX, ModelInputs, collate  # noqa: E402
from lvr.model.prompting import answer_text, build_messages, format_target  # noqa: E402
from lvr.synth.fresh import HELD_OUT_SEEDS, WorldSpec, held_out_world_items, item_stream, with_other_frames, world_items  # noqa: E402,E501
from lvr.synth.visibility import frame_reasoning, item_conclusion  # noqa: E402
from lvr.train.lookups import QA_SEEDS, FeatureCache, shared_prefix_logits  # noqa: E402

PROBE_SEEDS = QA_SEEDS + 300_000_000      # fresh worlds apart from every stage's and from the held-out ones
ARMS = ("plain", "lookback", "add", "answer")
CONCLUSION = [True]                       # --no-conclusion: the frame lines alone, then the answer
EVERY_FRAME = [False]                     # --every-frame: a line for every frame, in order
LINE = re.compile(r"^(\d\d:\d\d): (.*?)\.?$")


def walked(it):
    """`it` with, under --every-frame, reasoning that has a line for every frame (lvr.synth.visibility)."""
    if not EVERY_FRAME[0]:
        return it
    conclusion = item_conclusion(it.meta, it.reasoning)
    return replace(it, reasoning=frame_reasoning(it.log, it.meta, list(it.times), conclusion, lines="every_frame"))


def frame_lines(text: str) -> dict[str, str]:
    """{"00:06": "pink ball hall", ...}: a reasoning's frame lines by their time tag."""
    return {m.group(1): m.group(2).strip() for m in map(LINE.match, text.strip().splitlines()) if m}


def line_match(items: list, written: list[str]) -> dict[str, float]:
    """How many written frame lines name a frame of the item, and how many of those say exactly what the
    item's frame-grounded reasoning says for that frame (what its own frames show)."""
    lines = named = exact = 0
    for it, text in zip(items, written):
        gold, mine = frame_lines(it.reasoning), frame_lines(text.replace("<think>", ""))
        lines += len(mine)
        named += sum(t in gold for t in mine)
        exact += sum(gold.get(t) == c for t, c in mine.items())
    return {"lines": lines, "named": named, "exact": exact, "exact_share": round(exact / max(1, named), 4)}


def messages(it, arm: str, fmt: str, target: bool = True) -> list[dict]:
    think = arm != "answer"
    reasoning = it.reasoning if CONCLUSION[0] else "\n".join(x for x in it.reasoning.splitlines() if LINE.match(x))
    tgt = format_target(reasoning, answer_text(it.answer, it.options, fmt), think=think) if target else None
    return build_messages(it.question, list(it.options), think=think, answer_format=fmt, target=tgt)


def tag_frames(m, it) -> dict[int, int]:
    """Clock-tag token id -> index of the item's frame with that tag."""
    tok = m.tokenizer
    return {tok.convert_tokens_to_ids(m.options.timestamp_tag(t)): k for k, t in enumerate(it.times)}


def clock_tags(m, seconds: int = 3600) -> dict[int, int]:
    """Clock-tag token id -> its second (the model's one-token tags, `use_clock_tags`)."""
    ids = m.tokenizer.convert_tokens_to_ids([m.options.timestamp_tag(s) for s in range(seconds + 1)])
    return {i: s for s, i in enumerate(ids) if i != m.tokenizer.unk_token_id and i is not None}


def frame_tokens(m, cache: FeatureCache, items: list) -> torch.Tensor:
    feats = cache.features(items)
    return m.projector(feats.to(m.projector.fc1.weight.dtype)).flatten(0, 1)


def look_back(m, row: ModelInputs, frames: torch.Tensor, tags: dict[int, int], start: int) -> ModelInputs:
    """`row` with, after every clock tag of a frame at or after position `start`, that frame's video token(s)
    spliced in (no label; stamped with the tag as the prompt's frames are when the model stamps frames)."""
    ids, emb = row.input_ids[0], row.inputs_embeds[0]
    lab = row.labels[0] if row.labels is not None else None
    per, vid = m.tokens_per_frame, m.video_token_id
    out_ids, out_emb, out_lab = [], [], []
    for p in range(ids.shape[0]):
        out_ids.append(ids[p:p + 1])
        out_emb.append(emb[p:p + 1])
        if lab is not None:
            out_lab.append(lab[p:p + 1])
        k = tags.get(int(ids[p])) if p >= start else None
        if k is None:
            continue
        slot = frames[k * per:(k + 1) * per]
        if m.options.stamp_frames:
            slot = slot + emb[p]
        out_ids.append(torch.full((per,), vid, dtype=ids.dtype))
        out_emb.append(slot.to(emb.dtype))
        if lab is not None:
            out_lab.append(torch.full((per,), IGNORE_INDEX, dtype=lab.dtype))
    ids2 = torch.cat(out_ids)[None]
    attn = torch.ones_like(ids2)
    return ModelInputs(inputs_embeds=torch.cat(out_emb)[None], position_ids=m.build_position_ids(ids2, attn),
                       attention_mask=attn, input_ids=ids2, labels=torch.cat(out_lab)[None] if lab is not None
                       else None, layouts=row.layouts)


def add_frames(m, row: ModelInputs, frames: torch.Tensor, tags: dict[int, int], start: int) -> ModelInputs:
    """`row` with every clock tag of a frame at or after `start` carrying that frame: the frame's video token
    added to the tag's embedding (one token per frame), so the sequence keeps its length."""
    ids, emb = row.input_ids[0], row.inputs_embeds[0].clone()
    for p in range(start, ids.shape[0]):
        k = tags.get(int(ids[p]))
        if k is not None:
            emb[p] = emb[p] + frames[k].to(emb.dtype)
    return ModelInputs(inputs_embeds=emb[None], position_ids=row.position_ids, attention_mask=row.attention_mask,
                       input_ids=row.input_ids, labels=row.labels, layouts=row.layouts)


def train_inputs(m, cache, items, arm):
    tokens = frame_tokens(m, cache, items)
    per = len(items[0].frames) * m.tokens_per_frame
    rows = []
    for j, it in enumerate(items):
        mine = tokens[j * per:(j + 1) * per]
        row = m.build_inputs(messages(it, arm, m.answer_format), mine,
                             layout=m.video_layout(len(it.frames), None, it.times), train=True)
        if arm in ("lookback", "add"):
            start = int((row.labels[0] != IGNORE_INDEX).float().argmax())
            row = (look_back if arm == "lookback" else add_frames)(m, row, mine, tag_frames(m, it), start)
        rows.append(row)
    return collate(rows, padding_side="right", pad_token_id=m.tokenizer.pad_token_id or 0)


def loss_of(m, cache, items, arm, reasoning_only: bool = False) -> tuple[torch.Tensor, int]:
    inputs = train_inputs(m, cache, items, arm)
    labels = inputs.labels
    if reasoning_only:          # the tokens between <think> and </think> (tags included, look-back slots not)
        close = m.tokenizer.convert_tokens_to_ids("</think>")
        after = ((inputs.input_ids == close) & (labels != IGNORE_INDEX)).long().cumsum(1) > 0
        labels = labels.masked_fill(after, IGNORE_INDEX)
    first = int((labels != IGNORE_INDEX).float().argmax(1).min())
    keep = labels.shape[1] - first + 1
    logits = shared_prefix_logits(m.causal_lm, inputs, keep)[:, :-1].float()
    target = labels[:, first:]
    n = int((target != IGNORE_INDEX).sum())
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE_INDEX), n


@torch.no_grad()
def answer(m, cache, it, arm: str, max_new: int) -> tuple[int, str]:
    """(index of the likeliest option after the model's own greedy reasoning, the reasoning)."""
    from transformers import DynamicCache

    tokens = frame_tokens(m, cache, [it])
    row = m.build_inputs(messages(it, arm, m.answer_format, target=False), tokens,
                         layout=m.video_layout(len(it.frames), None, it.times))
    embed, lm, tok = m.input_embeddings, m.causal_lm, m.tokenizer
    fed, written = [row.inputs_embeds[0]], []
    if arm != "answer":
        tags, per, clock = tag_frames(m, it), m.tokens_per_frame, clock_tags(m)
        close = tok.convert_tokens_to_ids("</think>")
        kv = DynamicCache()
        out = lm(inputs_embeds=row.inputs_embeds, past_key_values=kv, use_cache=True, logits_to_keep=1)
        pos = row.inputs_embeds.shape[1]
        for _ in range(max_new):
            t = int(out.logits[0, -1].argmax())
            if arm in ("lookback", "add") and t in clock and t not in tags:   # a time no frame has: the nearest one
                t = min(tags, key=lambda tag: abs(clock[tag] - clock[t]))
            written.append(t)
            step = [embed(torch.tensor([t]))]
            k = tags.get(t)
            if arm == "lookback" and k is not None:
                slot = tokens[k * per:(k + 1) * per]
                step.append(slot + step[0] if m.options.stamp_frames else slot)
            step = torch.cat(step)
            if arm == "add" and k is not None:
                step = step + tokens[k:k + 1]
            fed.append(step)
            if t == close:
                break
            out = lm(inputs_embeds=step[None], position_ids=torch.arange(pos, pos + len(step))[None],
                     past_key_values=kv, use_cache=True, logits_to_keep=1)
            pos += len(step)
        if written[-1] != close:
            fed.append(embed(torch.tensor([close])))
        fed.append(embed(torch.tensor(tok.encode("\n", add_special_tokens=False))))
    context = torch.cat(fed)
    scores = []
    for opt in it.options:
        ids = tok.encode(f"<answer>{answer_text('A', [opt], m.answer_format)}</answer>", add_special_tokens=False)
        x = torch.cat([context, embed(torch.tensor(ids))])[None]
        logp = torch.log_softmax(lm(inputs_embeds=x).logits[0, len(context) - 1:-1].float(), -1)
        scores.append(float(logp.gather(-1, torch.tensor(ids)[:, None]).sum()))
    return max(range(len(scores)), key=scores.__getitem__), tok.decode(written)


def train_arm(m, arm: str, a) -> tuple[int, list]:
    """Train `m`'s LM + projector (tower frozen) on the probe's stream for a.budget_s seconds: (steps, curve)."""
    cache = FeatureCache(m, WorldSpec())
    stream = item_stream(WorldSpec(), a.frames, start=PROBE_SEEDS, items_per_world=2, make=world_items)
    m.vision_tower.requires_grad_(False)
    params = [p for part in (m.llm, m.projector) for p in part.parameters()]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
    t0, step, curve = time.perf_counter(), 0, []
    m.train()
    while time.perf_counter() - t0 < a.budget_s:
        loss, _ = loss_of(m, cache, [walked(next(stream)) for _ in range(a.batch)], arm)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            curve.append([step, round(loss.item(), 3)])
            print(f"[lookback:{arm}] step {step} loss {loss.item():.3f}", file=sys.stderr, flush=True)
    m.eval()
    return step, curve


def score_arm(m, arm: str, own: list, a) -> dict:
    """Held-out accuracy (own frames / another world's), reasoning loss and frame-line agreement."""
    cache, result = FeatureCache(m, WorldSpec()), {}
    for name, items in (("own", own), ("other_frames", with_other_frames(own))):
        picks = [answer(m, cache, it, arm, a.max_new) for it in items]
        right = [p == "ABCD".index(it.answer) for (p, _), it in zip(picks, items)]
        row = {"acc": round(sum(right) / len(items), 4), "right": right}
        if arm != "answer":
            with torch.no_grad():
                losses = [loss_of(m, cache, items[i:i + 16], arm, reasoning_only=True)
                          for i in range(0, len(items), 16)]
            row["reasoning_nats"] = round(sum(float(lo) * n for lo, n in losses) / sum(n for _, n in losses), 4)
            row["lines"] = line_match(own, [w for _, w in picks])
            row["example"] = picks[0][1][:300]
        result[name] = row
    mine, theirs = result["own"].pop("right"), result["other_frames"].pop("right")
    by_template: dict[str, list] = {}
    for it, r in zip(own, mine):
        by_template.setdefault(it.template, []).append(r)
    return {**result, "own_only_right": sum(o and not x for o, x in zip(mine, theirs)),
            "other_only_right": sum(x and not o for o, x in zip(mine, theirs)),
            "by_template": {k: [sum(v), len(v)] for k, v in sorted(by_template.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arms", default="plain,lookback,answer", help="comma list of plain, lookback, add, answer")
    ap.add_argument("--workspace", default="workspaces/recipe-videolm")
    ap.add_argument("--checkpoint", help="base video LM (default: the workspace recipe's videolm stage)")
    ap.add_argument("--budget-s", type=float, default=420, help="training seconds per arm")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--items", type=int, default=128, help="held-out items (one per world)")
    ap.add_argument("--max-new", type=int, default=120)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-conclusion", action="store_true", help="reasoning = the frame lines alone (no 'So ...')")
    ap.add_argument("--every-frame", action="store_true", help="a reasoning line for every frame, in order")
    a = ap.parse_args()
    arms = [x for x in a.arms.split(",") if x]
    if set(arms) - set(ARMS):
        ap.error(f"--arms: unknown {sorted(set(arms) - set(ARMS))}; choose from {ARMS}")
    CONCLUSION[0], EVERY_FRAME[0] = not a.no_conclusion, a.every_frame
    torch.set_num_threads(a.threads)
    state = Path(a.workspace) / "recipe" / "state.json"
    ckpt = a.checkpoint or (state.is_file() and json.loads(state.read_text())["stages"].get("videolm", {}).get("path"))
    if not ckpt:                    # `make bench` on a fresh clone: say what is missing, in the one JSON line
        print(json.dumps({"bench": "lookback", "measured": False,
                          "reason": f"no base video LM in {a.workspace} (make demo-train), and no --checkpoint"}))
        return
    ckpt = Path(ckpt) if a.checkpoint else Path(a.workspace) / ckpt
    own = [walked(it) for it in held_out_world_items(WorldSpec(), a.frames, a.items, start=HELD_OUT_SEEDS + 7_000_000)]
    t0, out = time.perf_counter(), {}
    for arm in arms:
        torch.manual_seed(0)
        m = load_model(ckpt)
        t1 = time.perf_counter()
        steps, curve = train_arm(m, arm, a)
        out[arm] = {"steps": steps, "items_trained": steps * a.batch, "train_s": round(time.perf_counter() - t1, 1),
                    **score_arm(m, arm, own, a), "curve": curve}
    print(json.dumps({"bench": "lookback", "checkpoint": str(ckpt), "frames": a.frames, "held_out": len(own),
                      "conclusion": CONCLUSION[0], "every_frame": EVERY_FRAME[0], "arms": out,
                      "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()

"""CoT-SFT: supervised fine-tuning on `<think>reasoning</think><answer>X</answer>` targets.

    python -m lvr.train.sft configs/tiny/sft.yaml workspace=demo optim.lr=1e-4
    torchrun --nproc_per_node 2 -m lvr.train.sft configs/tiny/sft.yaml workspace=demo
    lvr train sft configs/tiny/sft.yaml workspace=demo            # as a tracked job (lvr.jobs)

Data: QA items of `data.split` (default sft) whose status is in `data.statuses` (default
approved + pending), each with its video's frames (uniform `data.num_frames`, or a count drawn
per item from `data.frames_choices`, through the workspace frame cache). Target:
`format_target(reasoning, answer)`, the answer being the key's letter or, with
`data.answer_format=text`, the keyed option's text (saved with the checkpoints); the loss is the token
cross-entropy on assistant tokens only (labels from `model.build_inputs(train=True)`), the
mean over a micro-batch's target tokens, averaged over gradient accumulation and ranks by
DeepSpeed. Periodic eval loss on `data.eval_split`; states every `save_every` steps (exact
resume: model, optimizer, LR schedule, RNG and data position) and HF checkpoints registered in
the workspace with stage "sft" and the starting model as parent.
"""
from __future__ import annotations

import math
import sys
import time
from contextlib import nullcontext
from dataclasses import replace

import torch

from lvr.config import describe, load_config
from lvr.model import IGNORE_INDEX, collate
from lvr.model.prompting import answer_text, build_messages, format_target
from lvr.synth.visibility import FRAME_LINES

from . import run as runlib
from .configs import SFTConfig
from .data import EpochSampler, MixedFrames, TrainItem, VideoFrames, item_reasoning, keep_answerable, load_items, shard
from .engine import all_reduce_sum, build_engine, engine_step, gathered_embeddings
from .lookups import LookupReplay
from .token_loss import answer_token_id, token_loss


def truncate(inputs, max_length: int | None):
    if max_length is None or inputs.seq_len <= max_length:
        return inputs
    return replace(inputs, inputs_embeds=inputs.inputs_embeds[:, :max_length],
                   position_ids=inputs.position_ids[..., :max_length],
                   attention_mask=inputs.attention_mask[:, :max_length], input_ids=inputs.input_ids[:, :max_length],
                   labels=inputs.labels[:, :max_length] if inputs.labels is not None else None)


def sft_inputs(model, items: list[TrainItem], frames: VideoFrames, *, think: bool, encoder_grad: bool,
               max_length: int | None, reasoning: str = "item"):
    """Right-padded training batch for `items` (labels on the assistant turn only)."""
    rows = []
    for item in items:
        sampled = frames(item)
        with (nullcontext() if encoder_grad else torch.no_grad()):
            embeds = model.encode_frames(sampled.frames)
        layout = model.video_layout(len(sampled.frames), tuple(sampled.frames.shape[1:3]), sampled.timestamps)
        answer = answer_text(item.answer, item.options, model.answer_format)
        messages = build_messages(item.question, list(item.options), think=think, answer_format=model.answer_format,
                                  target=format_target(item_reasoning(item, sampled.timestamps, reasoning), answer,
                                                       think=think))
        with gathered_embeddings(model):
            rows.append(truncate(model.build_inputs(messages, embeds, layout=layout, train=True), max_length))
    return collate(rows, padding_side="right", pad_token_id=model.tokenizer.pad_token_id or 0)


def lm_loss(model, inputs, answer_weight: float = 1.0) -> tuple[torch.Tensor, int, float]:
    """(mean token loss, target tokens, summed token loss) of a batch with labels; `answer_weight` scales the
    tokens from `<answer>` on in the mean (lvr.train.token_loss).

    The assistant turn ends the sequence, so only the logits from the first target position on
    are computed (`logits_to_keep`): with thousands of video tokens in front this saves the
    [sequence × vocabulary] logits of the whole prompt."""
    labels = inputs.labels
    seq = labels.shape[1]
    targets = (labels != IGNORE_INDEX).nonzero()
    first = int(targets[:, 1].min()) if len(targets) else seq - 1
    keep = seq - max(first - 1, 0)
    out = model.causal_lm(inputs_embeds=inputs.inputs_embeds, position_ids=inputs.position_ids,
                          attention_mask=inputs.attention_mask, use_cache=False, logits_to_keep=keep)
    logits = out.logits[:, :-1].float()
    labels = labels[:, seq - keep + 1:]
    return token_loss(logits, labels, answer_token_id(model), answer_weight)


def eval_loss(run, model, items: list[TrainItem], frames: VideoFrames, cfg: SFTConfig) -> float:
    """Token-weighted loss over `items`; every rank runs the same number of forwards (ZeRO-3 safe)."""
    if not items:
        return float("nan")
    world, rank = run.dist.world, run.dist.rank
    per_rank = math.ceil(len(items) / world)
    total = count = 0.0
    was = model.training
    model.eval()
    with torch.no_grad():
        for k in range(per_rank):
            i = rank * per_rank + k
            real = i < len(items)
            inputs = sft_inputs(model, [items[i if real else 0]], frames, think=cfg.data.think, encoder_grad=False,
                                max_length=cfg.max_length, reasoning=cfg.data.reasoning)
            _, n, s = lm_loss(model, inputs)
            if real:
                total, count = total + s, count + n
    model.train(was)
    total, count = all_reduce_sum([total, count], run.dist)
    return total / count if count else float("nan")


def train(cfg: SFTConfig) -> dict:
    run = runlib.start_run(cfg, "sft")
    rep, dist, ws = run.reporter, run.dist, run.ws
    d = cfg.data
    items = load_items(ws, split=d.split, statuses=d.statuses, categories=d.categories, max_items=d.max_items,
                       require_reasoning=d.think, exclude_flags=d.exclude_flags)
    if d.require_answerable:
        items = keep_answerable(items, max(d.frames_choices or [d.num_frames]))
    eval_items = (load_items(ws, split=d.eval_split, statuses=d.statuses, categories=d.categories,
                             max_items=d.eval_max_items) if d.eval_split else [])
    frames = VideoFrames(ws, num_frames=d.num_frames, mode=d.sampling, resize=d.frame_size,
                         use_clip_range=d.use_clip_range)
    mixed = (MixedFrames(ws, choices=d.frames_choices, seed=cfg.seed, mode=d.sampling, resize=d.frame_size,
                         use_clip_range=d.use_clip_range, require_answerable=d.require_answerable)
             if d.frames_choices else None)
    sampler = EpochSampler(len(items), seed=cfg.seed, shuffle=d.shuffle)
    engine = build_engine(run.model, cfg.deepspeed, cfg.optim, total_steps=cfg.max_steps,
                          micro_batch=cfg.micro_batch_size, grad_accum=cfg.grad_accum, dist=dist)
    model = engine.module
    step, sampler_state = runlib.resume(run, engine)
    if sampler_state:
        sampler.load_state_dict(sampler_state)
    runlib.restore_rng(run)
    encoder_grad = cfg.trainable.vision_tower or cfg.trainable.projector
    per_step = cfg.micro_batch_size * cfg.grad_accum * dist.world
    r = cfg.replay
    replay = LookupReplay(model, r, cfg.seed, cfg.answer_weight,
                          lines=d.reasoning if d.reasoning in FRAME_LINES else "frames") \
        if r.items or r.qa_items or r.text_items else None
    rep.print(f"[sft] {len(items)} training items ({d.split}: {', '.join(d.statuses)}), {len(eval_items)} eval "
              f"items; {per_step} items per step"
              + (f" + {r.items} fresh-world look-ups, {r.qa_items} fresh-world questions with reasoning and "
                 f"{r.text_items} text-only conclusions per micro-batch" if replay else "")
              + f"; steps {step} → {cfg.max_steps}")
    first_loss = last_loss = last_eval = None
    metrics: dict = {}
    saved_at = step
    while step < cfg.max_steps:
        t0 = time.perf_counter()
        mine = shard(sampler.take(per_step), dist.rank, dist.world)
        loss_sum, tokens, replay_sum = 0.0, 0, 0.0
        for m in range(cfg.grad_accum):
            batch = [items[i] for i in mine[m * cfg.micro_batch_size:(m + 1) * cfg.micro_batch_size]]
            inputs = sft_inputs(model, batch, mixed.for_step(step) if mixed else frames, think=d.think,
                                encoder_grad=encoder_grad, max_length=cfg.max_length, reasoning=d.reasoning)
            loss, n, _ = lm_loss(model, inputs, cfg.answer_weight)
            loss_sum += float(loss.detach())                 # the CoT loss (the metric), replay apart
            if replay:
                replay_loss = replay.forward((step * cfg.grad_accum + m) * dist.world + dist.rank)[0]
                replay_sum += float(replay_loss.detach())
                loss = loss + cfg.replay.weight * replay_loss
            engine.backward(loss)
            norm = engine_step(engine)
            tokens += n
        step += 1
        loss_total, tok_total = all_reduce_sum([loss_sum, float(tokens)], dist)
        step_loss = loss_total / (cfg.grad_accum * dist.world)
        first_loss = step_loss if first_loss is None else first_loss
        last_loss = step_loss
        metrics = {"stage": "sft", "step": step, "loss": step_loss, "lr": engine.get_lr()[0],
                   "grad_norm": norm, "tokens": int(tok_total),
                   "epoch": sampler.progress_epochs, "time/step": time.perf_counter() - t0}
        if replay:
            metrics["replay_loss"] = all_reduce_sum([replay_sum], dist)[0] / (cfg.grad_accum * dist.world)
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"[sft] step {step}: loss is {step_loss} (check lr and data)")
        do_save = (cfg.save_every and step % cfg.save_every == 0) or step == cfg.max_steps
        do_eval = eval_items and ((cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.max_steps)
        if do_eval:
            last_eval = eval_loss(run, model, eval_items, frames, cfg)
            metrics["eval_loss"] = last_eval
        if step % cfg.log_every == 0 or do_eval or step == cfg.max_steps:
            rep.log(metrics)
            rep.print(f"[sft] step {step}/{cfg.max_steps} loss {step_loss:.4f}"
                      + (f" eval {last_eval:.4f}" if do_eval else "") + f" lr {metrics['lr']:.2e}")
        rep.progress(step, f"step {step}/{cfg.max_steps} loss {step_loss:.4f}")
        if do_save:
            runlib.save(run, engine, step, sampler.state_dict(), metrics,
                        export=cfg.export_every_save or step == cfg.max_steps)
            saved_at = step
    if saved_at != step:
        runlib.save(run, engine, step, sampler.state_dict(), metrics)
    return runlib.finish(run, {"stage": "sft", "steps": step, "first_loss": first_loss, "last_loss": last_loss,
                               "eval_loss": last_eval})


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("Keys (set in the YAML file or as key=value overrides):")
        print("\n".join("  " + line for line in describe(SFTConfig)))
        return 0
    path, overrides = (argv[0], argv[1:]) if "=" not in argv[0] else (None, argv)
    cfg = load_config(SFTConfig, path, overrides)
    train(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())

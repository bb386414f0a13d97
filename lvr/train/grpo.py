"""GRPO (and DAPO / Dr. GRPO) on video QA with verifiable rewards.

    python -m lvr.train.grpo configs/tiny/grpo.yaml workspace=demo model=<sft checkpoint id>
    torchrun --nproc_per_node 2 -m lvr.train.grpo configs/tiny/grpo.yaml workspace=demo
    lvr train grpo configs/tiny/grpo.yaml workspace=demo          # as a tracked job (lvr.jobs)

One step, per rank, as four phases passing one `StepBatch` (`GRPOTrainer._rollout`, `_score`,
`_reference_logprobs`, `_optimise`):
1. take `prompts_per_step` items of split `rl` per data-parallel replica; encode each video ONCE
   through MR-SP (`lvr.mrsp`: the embedding cache — per step, or on disk across steps with a
   frozen encoder — and, with `mrsp.sp_size` S > 1, Stage-1 frame sharding over the SP group)
   and build its prompt;
2. the rollout engine (`rollout.backend`: transformers, or vLLM fed the cached embeddings)
   samples G responses per prompt from the prompt embeddings (an SP group splits the G samples);
   every sample carries (qa_id, group_id, sample_index); with `rollout.answer=choice` a sample that wrote
   `<answer>` answers with the option the policy finds likeliest after its reasoning (lvr.model.choice);
3. rewards (weighted components) per sample, looked up by qa_id; optional DAPO overlong penalty;
4. advantages normalised within each group (by group id); DAPO drops all-equal groups;
5. old log-probs (when num_iterations > 1) and reference log-probs (when beta > 0), then
   `num_iterations` optimisation passes over the rollout batch in micro-batches through the
   log-prob pass (Stage-2 Ulysses sequence-parallel prefill when S > 1), clipped policy loss +
   β·KL, DeepSpeed backward/step; a vLLM engine then receives the new weights.
Metrics per step (JobContext / metrics.jsonl): reward mean/std per component, accuracy, format
rate, KL, entropy, clip fractions, response lengths, filtered groups, step time split
(rollout / logprobs / update) and embedding cache hits/misses (memo, disk).

    lvr train grpo configs/tiny/grpo.yaml workspace=demo mrsp.embed_cache=disk rollout.backend=vllm
    torchrun --nproc_per_node 2 -m lvr.train.grpo configs/tiny/grpo.yaml workspace=demo mrsp.sp_size=2
"""
from __future__ import annotations

import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

import torch
import torch.distributed as tdist

from lvr.config import describe, load_config
from lvr.model import load_model
from lvr.model.choice import answers_by_choice
from lvr.mrsp import CachedVideoEmbedder, MRSPRuntime, VideoEmbedder
from lvr.mrsp.rollout import RolloutRequest, RolloutSample, SamplingParams

from . import run as runlib
from .checkpoints import resolve_model
from .configs import GRPOConfig
from .data import EpochSampler, TrainItem, VideoFrames, keep_answerable, load_items
from .engine import all_reduce_sum, build_engine, engine_step, frozen_engine
from .fresh_prompts import FreshPrompts
from .grpo_loss import (
    TokenStats,
    aggregate_loss,
    group_advantages,
    informative_groups,
    overlong_penalty,
    policy_loss_per_token,
)
from .rewards import JudgeSettings, RewardOutput, RewardSet, format_reward, mcq_accuracy
from .sequences import PromptEntry, build_batch, build_prompt

ACCURACY_COMPONENTS = ("accuracy", "mcq_accuracy", "numeric_accuracy", "open_accuracy", "exact_match")


def _gather(obj, dist) -> list:
    if dist.world == 1:
        return [obj]
    out = [None] * dist.world
    tdist.all_gather_object(out, obj)
    return out


def _stats(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return float("nan"), float("nan")
    t = torch.tensor(xs, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(xs) > 1 else 0.0


@dataclass
class StepBatch:
    """One step's rollout batch, handed from phase to phase (rollout → score → reference → optimise)."""

    prompts: dict[int, PromptEntry] = field(default_factory=dict)       # by qa_id
    video_items: dict[str, TrainItem] = field(default_factory=dict)     # by video key
    samples: list[RolloutSample] = field(default_factory=list)
    chosen: list[bool] = field(default_factory=list)                    # rollout.answer=choice: answer replaced
    micro: list[list[int]] = field(default_factory=list)                # sample indices per micro-batch
    # score
    rewards: RewardOutput | None = None
    components: dict[str, list] = field(default_factory=dict)           # reward components (+ overlong)
    total: torch.Tensor | None = None                                    # [N] total reward
    lengths: torch.Tensor | None = None                                  # [N] response lengths
    advantages: torch.Tensor | None = None                               # [N]
    keep: torch.Tensor | None = None                                     # [N] bool: informative groups
    active_seqs: float = 0.0                                             # world totals, each sample once
    active_tokens: float = 0.0
    # reference log-probs, per micro-batch
    old_logps: list[torch.Tensor] | None = None
    ref_logps: list[torch.Tensor] | None = None


@dataclass
class UpdateStats:
    """What the optimisation passes add up (this rank's share)."""

    loss_sum: float = 0.0
    tokens: TokenStats = field(default_factory=lambda: TokenStats(0.0, 0.0, 0.0, 0.0, 0.0))
    entropy_sum: float = 0.0
    entropy_tokens: float = 0.0
    grad_norm: float | None = None


class GRPOTrainer:
    """The GRPO loop; `step()` runs one rollout batch and returns its metrics row."""

    embedder: VideoEmbedder
    ref_embedder: VideoEmbedder | None

    def __init__(self, cfg: GRPOConfig):
        self.cfg = cfg
        self.loss_cfg = cfg.loss.resolved()
        self.run = run = runlib.start_run(cfg, "grpo")
        d = cfg.data
        self.items = load_items(run.ws, split=d.split, statuses=d.statuses, categories=d.categories,
                                max_items=d.max_items, exclude_flags=d.exclude_flags)
        if d.require_answerable:
            self.items = keep_answerable(self.items, d.num_frames)
        self.by_id = {it.qa_id: it for it in self.items}
        self.frames = VideoFrames(run.ws, num_frames=d.num_frames, mode=d.sampling, resize=d.frame_size,
                                  use_clip_range=d.use_clip_range)
        self.fresh, self._fresh_ids = None, []
        if cfg.fresh.share:   # prompts on fresh worlds: their frames are rendered, the split's decoded
            self.frames = self.fresh = FreshPrompts(cfg.fresh, num_frames=d.num_frames, seed=cfg.seed,
                                                    base=self.frames)
        self.sampler = EpochSampler(len(self.items), seed=cfg.seed, shuffle=d.shuffle)
        self.G = cfg.rollout.num_generations
        rows = cfg.prompts_per_step * self.G
        self.n_micro = rows // cfg.micro_batch_size
        self.engine = build_engine(run.model, cfg.deepspeed, cfg.optim, total_steps=cfg.max_steps * cfg.num_iterations,
                                   micro_batch=cfg.micro_batch_size, grad_accum=self.n_micro, dist=run.dist)
        self.model = self.engine.module
        self.encoder_trains = cfg.trainable.vision_tower or cfg.trainable.projector
        self.mrsp = MRSPRuntime.build(cfg.mrsp, self.model, self.frames, cache_dir=run.ws.embeds_cache_dir,
                                      world=run.dist.world, zero_stage=cfg.deepspeed.zero_stage)
        self.embedder = self.mrsp.embedder
        self.step_no, sampler_state = runlib.resume(run, self.engine)   # before the reference: it may
        if sampler_state:                                                # restore the starting model
            self.sampler.load_state_dict(sampler_state)
        self.ref = self.ref_embedder = None
        if self.loss_cfg.beta > 0:
            self._load_reference()
        self.rollout = self.mrsp.rollout_engine(cfg.rollout, self.model,
                                                engine_dir=run.run_dir / f"vllm_llm-r{run.dist.rank}",
                                                seed=cfg.seed + run.dist.rank)
        self.rewards = RewardSet(cfg.reward.functions, judge=self._judge())
        runlib.restore_rng(run)

    def _judge(self) -> JudgeSettings | None:
        j = self.cfg.reward.judge
        if not j.model:
            return None
        return JudgeSettings(base_url=j.base_url, model=j.model, api_key=os.environ.get(j.api_key_env),
                             timeout=j.timeout, concurrency=j.concurrency)

    def _load_reference(self) -> None:
        run, cfg = self.run, self.cfg
        same = cfg.ref_model is None
        path = run.model_path
        if not same:
            path = runlib._broadcast(str(resolve_model(run.ws, cfg.ref_model)[0]) if run.dist.is_main else None,
                                     run.dist)
            same = str(path) == str(run.model_path)
        ref = load_model(path, device=run.dist.device,
                         dtype=torch.bfloat16 if run.precision == "bf16" else torch.float32)
        self.ref = frozen_engine(ref, cfg.deepspeed, run.dist)
        # A frozen encoder of the same checkpoint gives the policy's video embeddings: reuse them.
        # Otherwise the reference encodes with its own weights, memoised per step.
        if not (same and not self.encoder_trains):
            self.ref_embedder = CachedVideoEmbedder(self.ref, self.frames, sp=self.mrsp.sp, persistent=False,
                                                    reuse=cfg.mrsp.embed_cache != "off")

    # ------------------------------------------------------------------ one step
    def step(self) -> dict:
        """rollout → score → reference log-probs → optimise, then the step's metrics row."""
        t0 = time.perf_counter()
        batch = self._rollout()
        times = {"rollout": time.perf_counter() - t0}
        self._score(batch)
        t1 = time.perf_counter()
        self._reference_logprobs(batch)
        times["logprobs"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        upd = self._optimise(batch)
        times["update"] = time.perf_counter() - t2
        self.step_no += 1
        times["step"] = time.perf_counter() - t0
        row = self._metrics(batch, upd, times)
        row["grad_norm"] = upd.grad_norm
        return row

    def _rollout(self) -> StepBatch:
        """Draw this rank's prompts, encode each video once, sample G responses per prompt."""
        cfg, rt, r = self.cfg, self.mrsp, self.cfg.rollout
        self.embedder.new_step()
        # an SP group's ranks share their replica's items; group ids name the replica
        n_fresh = self.fresh.per_step(cfg.prompts_per_step, self.step_no) if self.fresh else 0
        items = [self.items[i] for i in rt.shard(self.sampler.take(rt.global_batch(cfg.prompts_per_step - n_fresh)))]
        if n_fresh:   # global fresh indices: the next n after the earlier steps'; a new world per prompt, resumable
            first = rt.global_batch(self.fresh.before(cfg.prompts_per_step, self.step_no))
            fresh = self.fresh.items(rt.shard(range(first, first + rt.global_batch(n_fresh))))
            for qa_id in self._fresh_ids:          # last step's worlds are never asked again
                self.by_id.pop(qa_id, None)
            self._fresh_ids = [it.qa_id for it in fresh]
            self.by_id.update({it.qa_id: it for it in fresh})
            items += fresh
        batch = StepBatch()
        requests = [self._request(batch, k, item) for k, item in enumerate(items)]
        batch.samples = self.rollout.generate(requests, SamplingParams(n=self.G, temperature=r.temperature,
                                                                       top_p=r.top_p, max_new_tokens=r.max_new_tokens,
                                                                       stop_at_answer=r.stop_at_answer))
        if r.answer == "choice":
            self._choose_answers(batch)
        return batch

    @torch.no_grad()
    def _choose_answers(self, batch: StepBatch) -> None:
        """`rollout.answer=choice`: each sample answers with the option the policy finds likeliest after its own
        reasoning, a prompt's samples scored in one batch (every rank of an SP group computes the same choices from
        the same gathered samples)."""
        by_prompt: dict[int, list[int]] = {}
        for n, s in enumerate(batch.samples):
            by_prompt.setdefault(s.qa_id, []).append(n)
        was_training = self.model.training
        self.model.eval()
        try:
            batch.chosen = [False] * len(batch.samples)
            for qa_id, rows in by_prompt.items():
                picks = answers_by_choice(self.model, batch.prompts[qa_id].model_inputs(),
                                          [batch.samples[n].text for n in rows], self.by_id[qa_id].options,
                                          think=self.cfg.data.think)
                for n, pick in zip(rows, picks):
                    if pick is not None:
                        batch.samples[n] = replace(batch.samples[n], text=pick[0], token_ids=pick[1],
                                                   stop_reason="answer")
                        batch.chosen[n] = True
        finally:
            self.model.train(was_training)

    def _request(self, batch: StepBatch, k: int, item: TrainItem) -> RolloutRequest:
        """Item `k`'s prompt (recorded in the batch) as a rollout request."""
        ve = self.embedder(item)
        p = batch.prompts[item.qa_id] = build_prompt(self.model, item, ve, think=self.cfg.data.think)
        batch.video_items[ve.key] = item
        return RolloutRequest(qa_id=item.qa_id, group_id=f"s{self.step_no}-r{self.mrsp.sp.dp_rank}-p{k}",
                              prompt_embeds=p.inputs_embeds, position_ids=p.position_ids, input_ids=p.input_ids)

    def _score(self, batch: StepBatch) -> None:
        """Rewards and advantages, matched to the samples by explicit ids."""
        lc, samples = self.loss_cfg, batch.samples
        texts = [s.text for s in samples]
        cols = [self.by_id[s.qa_id].columns() for s in samples]
        columns = {k: [c[k] for c in cols] for k in cols[0]}
        batch.rewards = out = self.rewards(texts, think=self.cfg.data.think, **columns)
        total = torch.tensor(out.total, dtype=torch.float32)
        batch.lengths = torch.tensor([len(s.token_ids) for s in samples], dtype=torch.float32)
        batch.components = dict(out.components)
        if lc.overlong_penalty:
            pen = overlong_penalty(batch.lengths, self.cfg.rollout.max_new_tokens, lc.overlong_buffer,
                                   lc.overlong_factor)
            total = total + pen
            batch.components["overlong"] = pen.tolist()
        batch.total = total
        group_ids = [s.group_id for s in samples]
        batch.advantages = group_advantages(total, group_ids, lc.scale_rewards, batch_std=self._batch_std(total))
        batch.keep = (informative_groups(total, group_ids) if lc.dynamic_filter
                      else torch.ones(len(samples), dtype=torch.bool))
        batch.active_seqs, batch.active_tokens = (x / self.mrsp.count_scale for x in all_reduce_sum(
            [float(batch.keep.sum()), float((batch.lengths * batch.keep).sum())], self.run.dist))

    def _batch_std(self, total: torch.Tensor) -> float | None:
        """The world batch's reward std (scale_rewards=batch), each sample counted once."""
        if self.loss_cfg.scale_rewards != "batch":
            return None
        s1, s2, n = (x / self.mrsp.count_scale for x in all_reduce_sum(
            [float(total.sum()), float((total.double() ** 2).sum()), float(len(total))], self.run.dist))
        return math.sqrt(max(0.0, (s2 - s1 * s1 / n) / max(n - 1, 1)))

    def _reference_logprobs(self, batch: StepBatch) -> None:
        """Log-probs of the old policy (num_iterations > 1) and of the reference (beta > 0), per micro-batch."""
        mb = self.cfg.micro_batch_size
        batch.micro = [list(range(i, i + mb)) for i in range(0, len(batch.samples), mb)]
        self.model.eval()
        if self.cfg.num_iterations > 1:
            batch.old_logps = [self._logprobs(self.model, batch, idx, self._videos(self.embedder, batch, idx),
                                              grad=False)[1].logps for idx in batch.micro]
        if self.ref is not None:
            ref_emb = self.ref_embedder or self.embedder   # a frozen encoder shared with the policy: its embeddings
            if self.ref_embedder is not None:
                self.ref_embedder.new_step()
            batch.ref_logps = [self._logprobs(self.ref, batch, idx, self._videos(ref_emb, batch, idx),
                                              grad=False)[1].logps for idx in batch.micro]
        self.model.train()

    def _optimise(self, batch: StepBatch) -> UpdateStats:
        """`num_iterations` passes over the batch in micro-batches, then the new weights go to the rollout engine."""
        upd = UpdateStats()
        for _ in range(self.cfg.num_iterations):
            for j, idx in enumerate(batch.micro):
                self._policy_update(batch, j, idx, upd)
        self.embedder.weights_updated()
        self.rollout.update_weights(self.model)   # vLLM: push the new weights (transformers: shared module)
        return upd

    def _policy_update(self, batch: StepBatch, j: int, idx: list[int], upd: UpdateStats) -> None:
        """Loss, backward and engine step of micro-batch `j` (sample indices `idx`), added to `upd`."""
        lc, world = self.loss_cfg, self.run.dist.world
        # a trainable encoder: embeddings with autograd (the step's kept graph, or a fresh encoding)
        pol_videos = self._videos(self.embedder, batch, idx, grad=True)
        b, lp = self._logprobs(self.model, batch, idx, pol_videos, grad=True, entropy=True)
        mask = b.response_mask * batch.keep[idx].to(b.response_mask.device).unsqueeze(-1)
        old_lp = batch.old_logps[j] if batch.old_logps is not None else lp.logps.detach()
        ref_lp = batch.ref_logps[j] if batch.ref_logps is not None else None
        per_tok, st = policy_loss_per_token(
            lp.logps, old_lp, batch.advantages[idx].to(lp.logps.device), mask, eps_low=lc.epsilon,
            eps_high=lc.epsilon_high, beta=lc.beta, ref_logp=ref_lp, kl_estimator=lc.kl_estimator)
        loss = aggregate_loss(per_tok, mask, lc.type, total_seqs=batch.active_seqs, total_tokens=batch.active_tokens,
                              max_length=self.cfg.rollout.max_new_tokens) * world
        self.engine.backward(loss, scale_wrt_gas=False, retain_graph=self.embedder.retain_graph)
        norm = engine_step(self.engine)
        upd.grad_norm = norm if norm is not None else upd.grad_norm
        upd.loss_sum += float(loss.detach()) / world
        upd.tokens = upd.tokens.merge(st)
        upd.entropy_sum += float(lp.entropy.sum())
        upd.entropy_tokens += float(b.response_mask.sum())

    def _videos(self, embedder: VideoEmbedder, batch: StepBatch, idx, grad: bool = False) -> dict:
        """The video embeddings of micro-batch `idx`, asked of the embedder for every pass: with the
        cache on they are the step's one encoding (memo hits), with `mrsp.embed_cache=off` each pass
        encodes again (the no-cache baseline)."""
        keys = {batch.prompts[batch.samples[i].qa_id].video_key for i in idx}
        if grad:
            return {k: embedder.encode(batch.video_items[k], grad=True).embeds for k in keys}
        return {k: embedder(batch.video_items[k]).embeds for k in keys}

    def _logprobs(self, model, batch: StepBatch, idx, videos, *, grad: bool, entropy: bool = False):
        samples = batch.samples
        with (nullcontext() if grad else torch.no_grad()):
            b = build_batch(model, [samples[i].token_ids for i in idx], [samples[i].qa_id for i in idx],
                            batch.prompts, videos, pad_id=model.tokenizer.pad_token_id or 0)
            lp = self.mrsp.logprobs(model, b.inputs_embeds, b.position_ids, b.response_mask,
                                    response_ids=b.response_ids, attention_mask=b.attention_mask,
                                    temperature=self.cfg.rollout.temperature, with_entropy=entropy)
        return b, lp

    # ------------------------------------------------------------------ metrics
    def _metrics(self, batch: StepBatch, upd: UpdateStats, times: dict[str, float]) -> dict:
        """The step's metrics row: per-sample columns gathered over the world, token sums all-reduced."""
        dist, n_it = self.run.dist, self.cfg.num_iterations
        # every sample sits on the sp_size ranks of its SP group: one rank per group reports it
        w = 1.0 if self.mrsp.reports else 0.0
        parts = _gather(self._sample_columns(batch, report=bool(w)), dist)

        def flat(key):
            return [x for p in parts for x in p[key]]

        ts = upd.tokens
        sums = all_reduce_sum([w * x for x in (upd.loss_sum, ts.tokens, ts.clipped_low, ts.clipped_high, ts.kl_sum,
                                               ts.ratio_sum, upd.entropy_sum, upd.entropy_tokens)], dist)
        loss, tok, low, high, kl, ratio, ent, etok = sums
        rmean, rstd = _stats(flat("total"))
        keep_all = flat("keep")
        row = {"stage": "grpo", "step": self.step_no, "loss": loss / n_it, "lr": self.engine.get_lr()[0],
               "reward/mean": rmean, "reward/std": rstd,
               "accuracy": _stats([a for a in flat("acc") if a is not None])[0],
               "format_rate": _stats([f for f in flat("fmt") if f is not None])[0],
               "kl": kl / tok if tok and self.ref is not None else None,
               "entropy": ent / etok if etok else None,
               "clip/low": low / tok if tok else 0.0, "clip/high": high / tok if tok else 0.0,
               "clip/fraction": (low + high) / tok if tok else 0.0, "ratio/mean": ratio / tok if tok else None,
               "response/length_mean": _stats(flat("lengths"))[0], "response/length_max": max(flat("lengths")),
               "response/truncated": _stats([float(t) for t in flat("trunc")])[0],
               "answer/chosen": _stats([float(c) for c in flat("chosen")])[0] if flat("chosen") else None,
               "groups/filtered": 1.0 - sum(keep_all) / len(keep_all), "advantage/abs_mean": _stats(flat("adv"))[0],
               "epoch": self.sampler.progress_epochs, "time/rollout": times["rollout"],
               "time/logprobs": times["logprobs"], "time/update": times["update"], "time/step": times["step"],
               **self._cache_metrics()}
        for name in parts[0]["comps"]:
            vals = [v for p in parts for v in p["comps"][name] if v is not None]
            row[f"reward/{name}/mean"], row[f"reward/{name}/std"] = _stats(vals)
        return row

    def _sample_columns(self, batch: StepBatch, *, report: bool) -> dict:
        """This rank's per-sample metric columns (empty when another rank of its SP group reports them)."""
        samples, components = batch.samples, batch.components
        texts = [s.text for s in samples]
        acc_name = next((c for c in ACCURACY_COMPONENTS if c in components), None)
        acc = components[acc_name] if acc_name else mcq_accuracy(texts, [self.by_id[s.qa_id].answer for s in samples])
        fmt = components.get("format") or format_reward(texts, think=self.cfg.data.think)
        local = {"total": batch.total.tolist(), "lengths": batch.lengths.tolist(), "acc": acc, "fmt": fmt,
                 "comps": components, "keep": batch.keep.tolist(), "adv": batch.advantages.abs().tolist(),
                 "trunc": [s.stop_reason == "length" for s in samples], "chosen": batch.chosen}
        if not report:
            local = {k: ({n: [] for n in v} if k == "comps" else []) for k, v in local.items()}
        return local

    def _cache_metrics(self) -> dict:
        """The embedder's counters (one SP group's view) plus the step's hit rate."""
        out = self.embedder.stats()
        calls = out.get("embeds/hits", 0) + out.get("embeds/misses", 0)
        out["embeds/hit_rate"] = out.get("embeds/hits", 0) / calls if calls else None
        return out

    # ------------------------------------------------------------------ loop
    def train(self) -> dict:
        cfg, run = self.cfg, self.run
        rep = run.reporter
        fresh = f" ({cfg.fresh.share:.0%} on fresh worlds)" if self.fresh else ""
        rep.print(f"[grpo] {len(self.items)} prompts ({cfg.data.split}), G={self.G}, {cfg.prompts_per_step} prompts"
                  f"{fresh} "
                  f"× {self.mrsp.sp.dp_size} replica(s) (sp_size {self.mrsp.sp.size}) per step, "
                  f"loss {self.loss_cfg.type}, beta {self.loss_cfg.beta}; "
                  f"steps {self.step_no} → {cfg.max_steps}")
        first = last = None
        row: dict = {}
        saved_at = self.step_no
        while self.step_no < cfg.max_steps:
            row = self.step()
            if not math.isfinite(row["loss"]):
                raise FloatingPointError(f"[grpo] step {self.step_no}: loss is {row['loss']}")
            first = first or row
            last = row
            step = self.step_no
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                rep.log(row)
                rep.print(f"[grpo] step {step}/{cfg.max_steps} loss {row['loss']:.4f} "
                          f"reward {row['reward/mean']:.3f} acc {row['accuracy']:.3f} "
                          f"format {row['format_rate']:.3f} len {row['response/length_mean']:.1f} "
                          f"({row['time/step']:.1f} s)")
            rep.progress(step, f"step {step}/{cfg.max_steps} reward {row['reward/mean']:.3f}")
            if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.max_steps:
                runlib.save(run, self.engine, step, self.sampler.state_dict(), row,
                            export=cfg.export_every_save or step == cfg.max_steps)
                saved_at = step
        if saved_at != self.step_no:
            runlib.save(run, self.engine, self.step_no, self.sampler.state_dict(), row)
        def pick(r, k):
            return r.get(k) if r else None

        return runlib.finish(run, {"stage": "grpo", "steps": self.step_no,
                                   "first_reward": pick(first, "reward/mean"), "last_reward": pick(last, "reward/mean"),
                                   "first_loss": pick(first, "loss"), "last_loss": pick(last, "loss"),
                                   "first_accuracy": pick(first, "accuracy"), "last_accuracy": pick(last, "accuracy")})


def train(cfg: GRPOConfig) -> dict:
    return GRPOTrainer(cfg).train()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("Keys (set in the YAML file or as key=value overrides):")
        print("\n".join("  " + line for line in describe(GRPOConfig)))
        return 0
    path, overrides = (argv[0], argv[1:]) if "=" not in argv[0] else (None, argv)
    train(load_config(GRPOConfig, path, overrides))
    return 0


if __name__ == "__main__":
    sys.exit(main())

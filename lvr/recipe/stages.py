"""The recipe's stages, each resumable: it is skipped when its output exists.

    from lvr.recipe import load_recipe, run_recipe
    results = run_recipe(load_recipe("configs/tiny/recipe.yaml"))    # → <workspace>/recipe/results.json

Stages and what marks them done (names carry a fingerprint of their config and everything
upstream, so a changed setting re-runs that stage and the ones after it, never an unrelated one):

    data      lvr.synth corpus, split by video into sft / rl / eval   recipe/state.json "data"
    base      tiny random-init composite, tokenizer from sft+rl text  checkpoints/recipe-base-<fp>/
    videolm   base video LM on fresh worlds (lvr.recipe.videolm)      checkpoints/recipe-videolm-<fp>/
    sft       CoT-SFT subprocess (python -m lvr.train.sft)            runs/recipe-sft-<fp>/summary.yaml
    grpo      GRPO subprocess under torchrun (MR-SP: sp_size, cache)  runs/recipe-grpo-<fp>/summary.yaml
    eval      base / videolm / sft / grpo / references, held-out split  eval run recipe-<system>-<fp> succeeded
    sweep     the final model at eval.sweep_frames                    sweep recipe-sweep-<fp> runs succeeded
    compare   exact McNemar + paired bootstrap (sft vs base, …)       recomputed (cheap)

Training stages run as tracked jobs (`lvr.jobs.launch`, like the app's and `lvr train`'s: listed by
`lvr jobs WS`, their checkpoints registered with the job) in their run dir runs/recipe-<stage>-<fp>/.
A training stage that was killed resumes from its newest saved state (`resume=true` in its run
dir). The jobs' console output is kept in the run dir's `log.txt`; its step lines are streamed here.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from transformers.utils import logging as hf_logging

from lvr.config import ConfigError, dump_yaml, to_dict
from lvr.eval import (
    EvalConfig,
    ModelAnswerer,
    compare_runs,
    make_reference,
    run_eval,
    run_sweep,
    save_comparison,
    sweep_curve,
)
from lvr.eval.runner import select_items
from lvr.eval.sweep import sweep_runs
from lvr.jobs import cancel, follow, launch, python_command
from lvr.model import build_from_spec, format_mcq, format_target, load_model, register_checkpoint
from lvr.model.tiny import tiny_spec
from lvr.model.tokenizer import train_tiny_tokenizer
from lvr.store import Workspace
from lvr.synth import QAConfig, SynthConfig, WorldConfig, synth_workspace
from lvr.synth.config import derive_seed
from lvr.synth.pipeline import SOURCE_QA
from lvr.train.configs import FreshPromptsConfig, ReplayConfig

from .config import RecipeConfig, fingerprint, stage_config
from .perception import perception_data, pretrain_perception, world_perception_data
from .videolm import VideoLMTrainer

SYSTEMS = ("base", "videolm", "sft", "grpo")
CONTROL = "grpo-shuffled"   # the final model shown another video's frames: does it use the video at all?
PAIRS = (("videolm", "text-only"), ("sft", "videolm"), ("sft", "base"), ("grpo", "sft"), ("grpo", "base"),
         ("grpo", "text-only"), ("sft", "text-only"), ("grpo", CONTROL))
ANSWER_ONLY = ("videolm",)  # systems scored without reasoning (the base video LM was trained to answer directly)
STATE = "state.json"


def stage_checkpoints(workspace: str | Path, stages=SYSTEMS) -> dict[str, Path]:
    """The checkpoint each of `stages` left in a recipe workspace (<workspace>/recipe/state.json: a model stage's
    `path`, a training stage's `checkpoint`); stages that have not run are left out (benchmarks read this)."""
    state = Path(workspace) / "recipe" / STATE
    if not state.is_file():
        return {}
    rows = json.loads(state.read_text())["stages"]
    found = {s: (rows.get(s) or {}).get("path") or (rows.get(s) or {}).get("checkpoint") for s in stages}
    return {s: Path(workspace) / p for s, p in found.items() if p}


@dataclass
class StageLog:
    """What each stage did in this invocation (ran or skipped) and how long it took."""

    echo: Callable[[str], None] = print
    rows: list[dict] = field(default_factory=list)

    def record(self, stage: str, ran: bool, seconds: float, detail: str = "") -> None:
        self.rows.append({"stage": stage, "ran": ran, "seconds": round(seconds, 2), "detail": detail})
        self.echo(f"[recipe] {stage}: {'done' if ran else 'skipped (output exists)'} in {seconds:.1f} s"
                  + (f" — {detail}" if detail else ""))


class Recipe:
    """Runs the stages of one RecipeConfig against its workspace."""

    def __init__(self, cfg: RecipeConfig, echo: Callable[[str], None] = print):
        self.cfg = cfg
        self.ws = Workspace.open(cfg.workspace, create=True)
        self.dir = self.ws.root / "recipe"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = StageLog(echo)
        self.echo = echo
        self.state = self._read_state()
        self.keys: dict[str, str] = {}

    # ------------------------------------------------------------------ bookkeeping
    def _read_state(self) -> dict:
        p = self.dir / STATE
        return json.loads(p.read_text()) if p.is_file() else {"stages": {}}

    def _write_state(self) -> None:
        tmp = self.dir / f".{STATE}.tmp"
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self.dir / STATE)

    def _done(self, stage: str, key: str, seconds: float, **info) -> None:
        row = {"key": key, "seconds": round(seconds, 2), "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **info}
        self.state["stages"][stage] = row
        self.state.setdefault("runs", {})[f"{stage}-{key}"] = row     # every output's row, by fingerprint
        self._write_state()

    def _skip(self, stage: str, key: str, detail: str) -> None:
        """The stage's output exists: its row becomes the stage's again (a workspace that ran another setting of
        the stage since then reports this output's times and curves, not the other's)."""
        row = self.state.get("runs", {}).get(f"{stage}-{key}")
        if row is not None and self.state["stages"].get(stage) != row:
            self.state["stages"][stage] = row
            self._write_state()
        self.log.record(stage, False, 0.0, detail)

    def _eval_seconds(self, name: str, run_id: str, seconds: float | None = None) -> None:
        """Record (or, when skipped, restore) the wall time of eval run / sweep `run_id` under `name`."""
        by_run = self.state.setdefault("eval_seconds_by_run", {})
        if seconds is not None:
            by_run[run_id] = round(seconds, 2)
        if run_id in by_run:
            self.state.setdefault("eval_seconds", {})[name] = by_run[run_id]
            self._write_state()

    def stage_seconds(self, stage: str) -> float | None:
        row = self.state["stages"].get(stage)
        return row.get("seconds") if row else None

    def _threads(self, stage_threads: int = 0) -> int:
        """A stage's torch threads: its own setting, or the recipe's (0)."""
        return stage_threads or self.cfg.threads

    def _env(self, threads: int = 0) -> dict:
        n = str(self._threads(threads))
        return {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "TOKENIZERS_PARALLELISM": "false",
                "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    def _run_job(self, stage: str, cfg, nproc: int, run_dir: Path, threads: int = 0) -> None:
        """Run `python -m lvr.train.<stage> <run_dir>/recipe_stage.yaml` (torchrun when nproc > 1) as a
        tracked job in `run_dir`; its step lines are echoed here, all its output is in run_dir/log.txt."""
        args = ["-m", f"lvr.train.{stage}", str(run_dir / "recipe_stage.yaml")]
        log_path = run_dir / "log.txt"
        start = log_path.stat().st_size if log_path.exists() else 0     # earlier attempts' output stays there
        job_id = launch(self.ws, stage, args, config=to_dict(cfg), nproc=nproc, env=self._env(threads), run_dir=run_dir)
        cmd = python_command(nproc, args)
        self.echo("[recipe] $ " + " ".join(cmd) + f"  (job {job_id})")
        try:
            job = follow(self.ws, job_id, self._echo_job_line, start=start)
        except BaseException:
            cancel(self.ws, job_id)
            raise
        if job["status"] != "succeeded":
            reason = (job.get("error") or f"status {job['status']}").splitlines()[0]
            tail = log_path.read_text(errors="replace").splitlines()[-25:]
            raise RuntimeError(f"{' '.join(cmd[:6])} … failed with {reason} (job {job_id}); log {log_path}:\n"
                               + "\n".join(tail))

    def _echo_job_line(self, text: str) -> None:
        """Echo a training job's step, run and error lines (not the supervisor's)."""
        text = text.rstrip()
        if text.startswith("[") and not text.startswith("[supervise]") and \
                ("step" in text or "run " in text or "error" in text.lower()):
            self.echo(text)

    # ------------------------------------------------------------------ data
    def _world(self):
        """The corpus's world settings (every video's seed is replaced)."""
        d = self.cfg.data
        return WorldConfig(minutes=d.minutes, fps=d.fps, size=d.size, difficulty=d.difficulty)

    def data(self) -> dict:
        d = self.cfg.data
        key = self.keys["data"] = fingerprint("data", d)
        row = self.state["stages"].get("data")
        if row and row["key"] == key:
            self.log.record("data", False, 0.0, f"{row['summary']['videos']} videos")
            return row["summary"]
        if row or self.ws.scalar("SELECT count(*) FROM qa"):
            raise RuntimeError(f"{self.ws.root} already holds a corpus made with other data settings (or other QA "
                               "items); run the recipe on a new workspace (workspace=DIR)")
        t0 = time.perf_counter()
        world = self._world()
        qa = QAConfig(per_template=d.per_template, categories=tuple(d.categories))
        summary: dict = {}
        s = synth_workspace(self.ws, SynthConfig(videos=d.videos, seed=d.seed, world=world, qa=qa, workers=d.workers,
                                                 max_minutes=d.max_minutes,
                                                 split_fractions=tuple(d.split_fractions), progress=True))
        if d.letter_tags:
            summary["letter_tags"] = add_letter_tags(self.ws)
        summary = {**summary, "videos": s["videos"], "videos_by_split": s["videos_by_split"], "qa": s["qa"],
                   "qa_by_split": s["qa_by_split"], "qa_by_category": s["qa_by_category"],
                   "qa_by_letter": s["qa_by_letter"], "clips": s["clips"]}
        summary["qa_by_split_category"] = {
            r["split"] + "/" + r["category"]: r["n"] for r in
            self.ws.query("SELECT split, category, count(*) AS n FROM qa GROUP BY split, category")}
        dt = time.perf_counter() - t0
        self._done("data", key, dt, summary=summary)
        self.log.record("data", True, dt, f"{s['videos']} videos, {s['qa']} QA items {s['qa_by_split']}")
        return summary

    # ------------------------------------------------------------------ base model
    def base_key(self) -> str:
        """The base model's name: the data, the model settings and, when on, perception's (threads, cores' speed,
        and options at their later-added defaults left out)."""
        pc = self.cfg.perception
        settings = _without_later_defaults({k: x for k, x in to_dict(pc).items() if k != "threads"},
                                           PERCEPTION_LATER_DEFAULTS)
        return fingerprint("base", self.keys["data"], self.cfg.model, *([settings] if pc.steps else []))

    def base(self) -> Path:
        m, pc = self.cfg.model, self.cfg.perception
        key = self.keys["base"] = self.base_key()
        out = self.ws.checkpoints_dir / f"recipe-base-{key}"
        if (out / "lvr_config.json").is_file():
            self._skip("base", key, str(out))
            return out
        t0 = time.perf_counter()
        tmp = out.with_name(f".{out.name}.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        model = build_model(m, self.ws)
        perception = None
        if pc.steps:
            torch_threads(self._threads(pc.threads))
            data, val = perception_data(self.ws, grid=m.pool_size, splits=("sft", "rl"),
                                        frames_per_video=pc.frames_per_video, kinds=tuple(pc.facts)), None
            if pc.worlds:
                d = self.cfg.data
                val = data
                data = world_perception_data(self._world(), pc.worlds, grid=m.pool_size, seed=m.seed,
                                             frames_per_world=pc.frames_per_world, kinds=tuple(pc.facts),
                                             vocab=val.vocab, exclude={derive_seed(d.seed, i) for i in range(d.videos)})
            perception = pretrain_perception(model, data, val=val, steps=pc.steps, batch_size=pc.batch_size,
                                             lr=pc.lr, schedule=pc.schedule, warmup_steps=pc.warmup_steps,
                                             seed=m.seed, log=self.echo)
            torch_threads(self.cfg.threads)
            perception.update(worlds=pc.worlds, lr=pc.lr, schedule=pc.schedule)
        if m.frame_merge:                    # perception reads out pool² tokens; the LM sees one per frame
            model.projector.set_frame_merge(m.frame_merge)
        model.save(tmp)
        os.replace(tmp, out)
        register_checkpoint(self.ws, out.resolve(), stage="base")
        n = sum(p.numel() for p in model.parameters())
        dt = time.perf_counter() - t0
        self._done("base", key, dt, path=self.ws.relativize(out), parameters=n, perception=perception,
                   tokens_per_frame=model.tokens_per_frame)
        seen = (f", perception robot-zone accuracy {perception['before']['robot_zone_accuracy']:.2f} → "
                f"{perception['after']['robot_zone_accuracy']:.2f} on "
                f"{'the sft/rl videos' if pc.worlds else 'held-out videos'}" if perception else "")
        self.log.record("base", True, dt, f"{n:,} parameters, {model.tokens_per_frame} video tokens per frame{seen}, "
                                          f"{out}")
        return out

    def videolm(self, base: Path) -> Path:
        """The base video LM: the perception base's LM + projector trained on fresh-world questions."""
        v = self.cfg.videolm
        fmt = stage_config(self.cfg, "sft", model=str(base), workspace=str(self.ws.root)).data.answer_format
        settings = _without_later_defaults({k: x for k, x in to_dict(v).items() if k != "threads"},  # cores change
                                           VIDEOLM_LATER_DEFAULTS)                       # speed, not the stage
        key = self.keys["videolm"] = fingerprint("videolm", self.keys["base"], settings, self.cfg.seed, fmt)
        out = self.ws.checkpoints_dir / f"recipe-videolm-{key}"
        if (out / "lvr_config.json").is_file():
            self._skip("videolm", key, str(out))
            return out
        t0 = time.perf_counter()
        torch_threads(self._threads(v.threads))
        model = load_model(base)
        model.set_answer_format(fmt)
        self._time_frames(model, v)
        report = VideoLMTrainer(model, v, seed=self.cfg.seed).train(log=self.echo)
        torch_threads(self.cfg.threads)
        tmp = out.with_name(f".{out.name}.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        model.save(tmp)
        os.replace(tmp, out)
        register_checkpoint(self.ws, out.resolve(), stage="videolm", parent=self.ws.relativize(base))
        dt = time.perf_counter() - t0
        self._done("videolm", key, dt, path=self.ws.relativize(out), report=report)
        final = report["final"][str(report["reached_frames"])]["all"]
        self.log.record("videolm", True, dt, f"{report['steps']} steps, {report['worlds']:,} worlds, reached "
                                             f"{report['reached_frames']} frames (held-out {final:.2f}), {out}")
        return out

    def _time_frames(self, model, v) -> None:
        """videolm.clock_init / stamp_frames / hide_frame_tags: how frames carry their time into the LM, from this stage
        on."""
        if v.clock_init == "sinusoid":
            if not self.cfg.model.clock_tags:
                raise ConfigError("videolm.clock_init: sinusoid needs model.clock_tags > 0 (one token per time)")
            model.use_clock_tags(self.cfg.model.clock_tags, init="sinusoid")
        if v.stamp_frames:
            model.stamp_frame_times(hide_tags=v.hide_frame_tags)

    # ------------------------------------------------------------------ training
    def _train(self, stage: str, model_dir: Path, upstream: str) -> Path:
        """Run (or resume, or skip) one training stage; returns its final checkpoint directory."""
        st = getattr(self.cfg, stage)
        probe = stage_config(self.cfg, stage, model=str(model_dir), workspace=str(self.ws.root))
        cfg_key = _without_later_defaults({k: v for k, v in to_dict(probe).items() if k not in ("model", "workspace")},
                                          TRAIN_LATER_DEFAULTS)
        key = self.keys[stage] = fingerprint(stage, upstream, cfg_key, st.nproc)
        name = f"recipe-{stage}-{key}"
        run_dir = self.ws.runs_dir / name
        final = self.ws.checkpoints_dir / name / f"step-{probe.max_steps:07d}"
        if (run_dir / "summary.yaml").is_file() and (final / "lvr_config.json").is_file():
            self._skip(stage, key, str(final))
            return final
        cfg = stage_config(self.cfg, stage, model=str(model_dir), workspace=str(self.ws.root), name=name,
                           output_dir=str(run_dir), resume=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "recipe_stage.yaml").write_text(dump_yaml(cfg))
        t0 = time.perf_counter()
        self._run_job(stage, cfg, st.nproc, run_dir, st.threads)
        if not (final / "lvr_config.json").is_file():
            raise RuntimeError(f"{stage} finished but its final checkpoint {final} is missing (see {run_dir}/log.txt)")
        dt = time.perf_counter() - t0
        self._done(stage, key, dt, run_dir=self.ws.relativize(run_dir), checkpoint=self.ws.relativize(final),
                   nproc=st.nproc)
        self.log.record(stage, True, dt, str(final))
        return final

    # ------------------------------------------------------------------ evaluation
    def _eval_config(self, frames: int | None, videos: str = "own"):
        e = self.cfg.eval
        return EvalConfig(split=e.split, frames=frames, batch_size=e.batch_size, limit=e.limit, n_boot=e.n_boot,
                          seed=0, references=tuple(e.references), reference_split=e.reference_split, figures=True,
                          videos=videos)

    def _eval_key(self, upstream: str) -> str:
        e = self.cfg.eval
        mode = () if e.answer_mode == "free" else (e.answer_mode,)    # free-mode keys unchanged
        return fingerprint("eval", upstream, e.split, e.frames, e.max_new_tokens, e.limit, e.reference_split,
                           e.n_boot, *mode)

    def _finished(self, run_id: str) -> bool:
        try:
            return self.ws.get_eval_run(run_id)["status"] == "succeeded"
        except KeyError:
            return False

    def _answerer(self, ckpt: Path, think: bool = True):
        hf_logging.disable_progress_bar()
        torch_threads(self._threads(self.cfg.eval.threads))
        return ModelAnswerer(ckpt, max_new_tokens=self.cfg.eval.max_new_tokens, temperature=0.0, think=think,
                             frame_cache_dir=self.ws.frames_cache_dir, answer_mode=self.cfg.eval.answer_mode)

    def _ckpt_id(self, path: Path) -> str:
        try:
            return self.ws.get_checkpoint(self.ws.relativize(path))["id"]
        except KeyError:
            return self.ws.relativize(path)

    def evaluate(self, checkpoints: dict[str, Path]) -> dict[str, str]:
        """Score every system on the held-out split; returns {system: eval run id}."""
        e = self.cfg.eval
        runs: dict[str, str] = {}
        jobs = [(system, ckpt, "own") for system, ckpt in checkpoints.items()]
        if "grpo" in checkpoints:
            if len({it["video_id"] for it in select_items(self.ws, self._eval_config(e.frames))}) >= 2:
                jobs.append((CONTROL, checkpoints["grpo"], "shuffled"))
            else:
                self.echo(f"[recipe] eval {CONTROL}: not run (the evaluated items come from one video)")
        for system, ckpt, videos in jobs:
            run_id = f"recipe-{system}-f{e.frames}-{self._eval_key(self.keys[system.split('-')[0]])}"
            runs[system] = run_id
            if self._finished(run_id):
                self._eval_seconds(system, run_id)
                self.log.record(f"eval {system}", False, 0.0, run_id)
                continue
            t0 = time.perf_counter()
            res = run_eval(self.ws, self._answerer(ckpt, think=system not in ANSWER_ONLY),
                           self._eval_config(e.frames, videos),
                           checkpoint=self._ckpt_id(ckpt), run_id=run_id,
                           progress=_progress(self.echo, f"eval {system}"))
            dt = time.perf_counter() - t0
            self._eval_seconds(system, run_id, dt)
            o = res.summary["overall"]
            self.log.record(f"eval {system}", True, dt, f"{run_id}: accuracy {o['acc']:.3f} (n={o['n']})")
        for name in e.references:
            run_id = f"recipe-ref-{name}-{self._eval_key(self.keys['data'])}"
            runs[name] = run_id
            if self._finished(run_id):
                continue
            ref = make_reference(name, self.ws, reference_split=e.reference_split, seed=0)
            run_eval(self.ws, ref, self._eval_config(None), run_id=run_id)
        return runs

    def sweep(self, system: str, ckpt: Path, reuse: tuple[str, ...] = ()) -> dict:
        """The frames sweep of one system; `reuse`: its finished eval runs, which stand for their frame counts."""
        e = self.cfg.eval
        sweep_id = f"recipe-sweep-{system}-{fingerprint(self._eval_key(self.keys[system]), sorted(e.sweep_frames))}"
        done = [r for r in sweep_runs(self.ws, sweep_id) if r["status"] == "succeeded"]
        if len(done) == len(set(e.sweep_frames)):
            self._eval_seconds("sweep", sweep_id)
            self.log.record("sweep", False, 0.0, sweep_id)
            return sweep_curve(self.ws, sweep_id)
        t0 = time.perf_counter()
        prog = _progress(self.echo, "sweep")
        res = run_sweep(self.ws, self._answerer(ckpt), list(e.sweep_frames), self._eval_config(e.frames),
                        checkpoint=self._ckpt_id(ckpt), sweep_id=sweep_id,
                        progress=lambda n, d, t: prog(d, t, n), reuse=tuple(r for r in reuse if self._finished(r)))
        dt = time.perf_counter() - t0
        self._eval_seconds("sweep", sweep_id, dt)
        pts = ", ".join(f"{p['frames']}f {p['acc']:.3f}" for p in res.curve["series"]["overall"])
        self.log.record("sweep", True, dt, pts)
        return res.curve

    def compare(self, runs: dict[str, str], curve: dict) -> list[dict]:
        out = []
        pairs = [p for p in PAIRS if p[0] in runs and p[1] in runs]
        if len(curve.get("runs", [])) >= 2:
            pairs.append((f"{curve['frames'][-1]} frames", f"{curve['frames'][0]} frames"))
            runs = {**runs, f"{curve['frames'][-1]} frames": curve["runs"][-1],
                    f"{curve['frames'][0]} frames": curve["runs"][0]}
        for new, base in pairs:
            cmp = compare_runs(self.ws, [runs[base], runs[new]], n_boot=self.cfg.eval.n_boot)
            files = save_comparison(self.ws, cmp)
            pair = cmp["pairs"][0]
            out.append({"new": new, "base": base, "new_run": runs[new], "base_run": runs[base],
                        "n_common": pair["n_common"], "groups": pair["groups"],
                        "figures": [self.ws.relativize(p) for p in files if str(p).endswith(".html")]})
        return out


def tag_option(text: str, letter: str) -> str:
    return f"{text.rstrip()} ({letter})"


def add_letter_tags(ws, who: str = "recipe") -> int:
    """Rewrite every synthetic QA item: options "text (L)", reasoning + " The answer is <option> (L)." Each
    edit goes through the store (a revision per item); already tagged items are left alone. Returns the count."""
    n = 0
    for it in list(ws.iter_qa(source=SOURCE_QA)):
        opts = list(it["options"])
        if all(o.rstrip().endswith(f"({L})") for o, L in zip(opts, "ABCD")):
            continue
        tagged = [tag_option(o, L) for o, L in zip(opts, "ABCD")]
        k = "ABCD".index(it["answer"])
        reasoning = (it.get("reasoning") or "").rstrip()
        reasoning = f"{reasoning}{' ' if reasoning else ''}The answer is {tagged[k]}."
        ws.update_qa(it["id"], {"options": tagged, "reasoning": reasoning}, expected_version=it["version"], who=who,
                     comment="recipe: letter tags (data.letter_tags)")
        n += 1
    return n


def _progress(echo: Callable[[str], None], label: str):
    """A progress callback printing at most every 10 % (so logs of long runs stay short)."""
    last = {"step": -1}

    def cb(done: int, total: int, frames: int | None = None) -> None:
        if not total:
            return
        step = int(10 * done / total)
        if step != last["step"]:
            last["step"] = step
            echo(f"[recipe] {label}{f' {frames} frames' if frames else ''}: {done}/{total} items")
    return cb


def build_model(m, ws):
    """The tiny composite of `m` (a ModelStage), tokenizer trained on the sft + rl split texts only
    (the held-out eval texts stay out of it)."""
    texts = []
    for split in ("sft", "rl"):
        for it in ws.iter_qa(split=split):
            texts.append(format_mcq(it["question"] or "", it["options"] or []))
            if it.get("reasoning"):
                texts.append(format_target(it["reasoning"], it.get("answer") or "A"))
    tok = train_tiny_tokenizer(m.kind, extra_texts=texts, vocab_size=m.vocab_size, seed=m.seed)
    spec = tiny_spec(m.kind, tok, m.vision, m.llm)
    llm = dict(spec.llm, hidden_size=m.hidden_size, intermediate_size=m.intermediate_size,
               num_hidden_layers=m.layers, num_attention_heads=m.heads, num_key_value_heads=m.kv_heads,
               initializer_range=m.init_std)
    if "head_dim" in llm:
        llm["head_dim"] = m.hidden_size // m.heads
    vision = dict(spec.vision, hidden_size=m.vision_hidden_size, intermediate_size=2 * m.vision_hidden_size,
                  num_hidden_layers=m.vision_layers, image_size=m.image_size, patch_size=m.patch_size)
    if "projection_dim" in vision:
        vision["projection_dim"] = m.vision_hidden_size
    spec = dataclasses.replace(spec, llm=llm, vision=vision, projector={**spec.projector, "pool_size": m.pool_size},
                               description=f"recipe tiny composite ({m.vision} + {m.llm}, LM {m.hidden_size}x"
                                           f"{m.layers}, {m.pool_size ** 2} tokens/frame)")
    torch.manual_seed(m.seed)
    model = build_from_spec(spec, tokenizer=tok).float().eval()
    if m.clock_tags:
        model.use_clock_tags(m.clock_tags)
    return model


# Keys added after recipe runs existed: at these values they stay out of the stage's fingerprint, so the runs made
# before them are found again (the settings they ran with are the defaults).
# Settings added after a stage's outputs were first named: left out of its key while at their default, so a new
# option does not rename (and retrain) what was trained before it existed. A dotted key reaches into a group.
PERCEPTION_LATER_DEFAULTS = {"schedule": "constant", "warmup_steps": 0}
VIDEOLM_LATER_DEFAULTS = {"layout": "chat", "stamp_frames": False, "clock_init": "keep", "hide_frame_tags": False,
                          "qa_share": 0.0, "qa_frames": [8, 16], "qa_start": 1, "placement": "jitter"}
TRAIN_LATER_DEFAULTS = {"replay.placement": "jitter", "replay.text_items": 0, "replay.text_frames": [4, 8, 16],
                        "fresh.placement": "jitter", "replay": to_dict(ReplayConfig()),
                        "answer_weight": 1.0, "fresh": to_dict(FreshPromptsConfig()), "data.frame_walk": None}


def _without_later_defaults(settings: dict, later: dict) -> dict:
    """`settings` without the later-added keys that hold their default: a dotted key's field inside its group
    first, then whole keys (a group compared without those fields)."""
    def strip(d: dict) -> dict:
        out = dict(d)
        for key, default in later.items():
            group, _, field = key.rpartition(".")
            if group and isinstance(out.get(group), dict) and out[group].get(field) == default:
                out[group] = {k: v for k, v in out[group].items() if k != field}
        return out

    whole = strip({k: v for k, v in later.items() if "." not in k})
    return {k: v for k, v in strip(settings).items() if k not in whole or whole[k] != v}


def torch_threads(n: int) -> None:
    torch.set_num_threads(n)


def machine() -> dict:
    """The machine the recipe ran on (for the report)."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (ValueError, OSError):
        mem = None
    return {"cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu_model": cpu, "memory_gib": round(mem, 1) if mem else None,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__}

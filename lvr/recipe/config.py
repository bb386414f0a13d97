"""`RecipeConfig`: the whole LongVILA-R1 recipe (data → base → CoT-SFT → GRPO/MR-SP → evaluation) as one
typed config.

    from lvr.recipe import load_recipe
    cfg = load_recipe("configs/tiny/recipe.yaml", ["sft.set.max_steps=50", "eval.sweep_frames=[2,4,8]"])

Groups: `data` (the lvr.synth corpus and its sft / rl / eval splits), `model` (the tiny
composite built offline: sizes, frame resolution, video tokens per frame), `sft` and `grpo`
(a stage YAML such as configs/tiny/sft.yaml plus `set:` keys over it, every key validated
against SFTConfig / GRPOConfig when the recipe loads), `eval` (held-out split, frame count,
frames sweep, references, bootstrap). Relative stage-config paths resolve against the recipe
file's folder first, then the working directory. Any bad key fails before anything runs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lvr.config import ConfigError, fail, load_config, option, to_dict
from lvr.synth.fresh import PLACEMENT_HELP, PLACEMENTS, VIDEOLM_KINDS, minutes_problem
from lvr.train.configs import stage_config_class

REFERENCES = ("random", "most-frequent", "text-only")


@dataclass
class DataStage:
    videos: int = option(60, "synthetic videos (lvr.synth), split by video into sft / rl / eval", ge=3)
    minutes: float = option(1.0, "minutes per video (the shortest, with max_minutes)", ge=1.0, le=60.0)
    max_minutes: float | None = option(None, "each video's length drawn between minutes and this (so a frame's "
                                       "time tag says more than its index); null: all last `minutes`", le=60.0)
    size: int = option(112, "rendered frame size in pixels (even; the model resizes to model.image_size)",
                       ge=64, le=1024)
    fps: float = option(4.0, "frames per second of the rendered videos", gt=0, le=60)
    difficulty: str = option("easy", "lvr.synth preset (rooms, robots, objects)", choices=("easy", "medium", "hard"))
    seed: int = option(0, "corpus seed")
    split_fractions: list[float] = option([0.5, 0.25, 0.25], "fractions of videos for sft, rl, eval (held-out)")
    per_template: int | None = option(None, "max QA items per template per video (null: lvr.synth default)", ge=1)
    categories: list[str] = option(["temporal", "goal", "spatial", "plot"], "QA categories to generate",
                                   choices=("temporal", "goal", "spatial", "plot"))
    workers: int = option(2, "rendering processes", ge=1)
    letter_tags: bool = option(False, "repeat each option's letter after its text ('the hall (B)') and end each "
                               "reasoning with the chosen option ('The answer is the hall (B).'): picking the letter "
                               "becomes copying, which a tiny random-init LM learns in ~100 steps (binding a letter "
                               "to an option by position it does not learn in a CPU budget; see docs/results-v1.md)")

    def check(self) -> None:
        fr = self.split_fractions
        if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1) > 1e-6:
            fail(self, "split_fractions", f"need three fractions >= 0 (sft, rl, eval) summing to 1, got {fr}")
        if min(fr) == 0:
            fail(self, "split_fractions", f"the recipe needs sft, rl and eval videos, got {fr}")
        if self.max_minutes is not None and self.max_minutes < self.minutes:
            fail(self, "max_minutes", f"must be >= minutes {self.minutes}, got {self.max_minutes}")
        if self.size % 2:
            fail(self, "size", f"must be even (H.264), got {self.size}")
        if not self.categories:
            fail(self, "categories", "needs at least one category")


@dataclass
class ModelStage:
    kind: str = option("composite", "tiny model family (the composite: vision tower → projector → causal LM)",
                       choices=("composite",))
    vision: str = option("siglip", "vision tower architecture (random init)", choices=("siglip", "clip"))
    llm: str = option("qwen2", "causal LM architecture (random init)", choices=("qwen2", "qwen3", "llama"))
    hidden_size: int = option(128, "LM width", ge=16)
    intermediate_size: int = option(256, "LM MLP width", ge=16)
    layers: int = option(2, "LM layers", ge=1)
    heads: int = option(4, "LM attention heads (must be divisible by grpo mrsp.sp_size)", ge=1)
    kv_heads: int = option(2, "LM key-value heads (divisible by mrsp.sp_size)", ge=1)
    vision_hidden_size: int = option(64, "vision tower width", ge=8)
    vision_layers: int = option(2, "vision tower layers", ge=1)
    image_size: int = option(56, "frame resolution the vision tower sees (pixels, a multiple of patch_size)", ge=14)
    patch_size: int = option(14, "vision patch size", ge=2)
    pool_size: int = option(2, "video tokens per frame = pool_size² (what perception pretraining reads out)", ge=1)
    frame_merge: str = option("", "after perception pretraining, merge each frame's pool² tokens into one video "
                              "token (mean, or linear: a map of their concatenation that starts as the mean): one "
                              "token per frame is what lets the tiny LM learn to choose among frames "
                              "(docs/benchmarks.md, fresh look-up probe); empty: pool² tokens",
                              choices=("", "mean", "linear"))
    clock_tags: int = option(0, "frame tags written like the prompts' times (\"00:35\"), each time up to this many "
                             "seconds one token shared with the questions; 0: the default \"<t=35.4s>\" tags", ge=0)
    init_std: float = option(0.1, "LM initializer_range (std of the random init)", gt=0)
    vocab_size: int = option(3000, "BPE vocabulary trained on the sft + rl texts", ge=300)
    seed: int = option(0, "initialisation seed")

    def check(self) -> None:
        if self.image_size % self.patch_size:
            fail(self, "image_size", f"must be a multiple of patch_size {self.patch_size}, got {self.image_size}")
        if self.pool_size > self.image_size // self.patch_size:
            fail(self, "pool_size", f"exceeds the patch grid {self.image_size // self.patch_size}")
        if self.hidden_size % self.heads or self.heads % self.kv_heads:
            fail(self, "heads", f"hidden_size {self.hidden_size} must divide by heads {self.heads}, heads by "
                 f"kv_heads {self.kv_heads}")


@dataclass
class PerceptionStage:
    steps: int = option(0, "perception pretraining steps for the tiny vision tower + projector on labelled "
                        "frames (of fresh worlds with `worlds`, else of the sft/rl videos; lvr.recipe.perception; "
                        "stands in for SigLIP-style pretraining); 0: off, the tower stays random", ge=0)
    worlds: int = option(0, "freshly simulated worlds (the corpus's settings, other seeds) to render labelled "
                         "frames from; the corpus's sft/rl videos then only validate. 0: train on the corpus's "
                         "sft/rl videos (15 % of them held out to validate)", ge=0)
    frames_per_world: int = option(16, "random labelled frames per fresh world", ge=1)
    frames_per_video: int = option(64, "uniformly sampled, labelled frames per sft/rl video", ge=1)
    batch_size: int = option(32, "frames per step", ge=1)
    lr: float = option(1e-3, "AdamW learning rate (the peak, with a schedule)", gt=0)
    schedule: str = option("constant", "learning rate after warm-up (lvr.train.engine.lr_lambda): cosine at 3e-3 "
                           "reads object kinds / what a robot carries at 0.53 / 0.78 AP after 8,000 steps, "
                           "constant 1e-3 at 0.47 / 0.70 (docs/benchmarks.md)",
                           choices=("constant", "linear", "cosine"))
    warmup_steps: int = option(0, "linear learning-rate warm-up steps", ge=0)
    facts: list[str] = option(["robots", "carrying", "objects"], "what the frame labels say: where each robot is, "
                              "what it carries, which object colours/kinds lie in each zone",
                              choices=("robots", "carrying", "objects"))
    threads: int = option(0, "torch threads of this stage, which runs alone (0: the recipe's threads)", ge=0)


@dataclass
class VideoLMStage:
    steps: int = option(0, "base video-LM steps (lvr.recipe.videolm): the LM + projector learn look-ups by time, "
                        "first/last-frame states, most frames, counts on freshly simulated worlds, answer only, "
                        "tower frozen (stands in for LongVILA); 0: off, CoT-SFT starts from the perception base", ge=0)
    budget_s: float = option(1200.0, "wall-clock limit of the stage in seconds (it stops at steps or here)", gt=0)
    batch_size: int = option(32, "items per step", ge=1)
    lr: float = option(1e-3, "AdamW learning rate (constant after warm-up)", gt=0)
    warmup_steps: int = option(100, "linear learning-rate warm-up", ge=0)
    frames: list[int] = option([1, 2, 4, 8], "frame-count curriculum: move on when held-out accuracy at the "
                               "current count reaches advance_at")
    advance_at: float = option(0.8, "held-out accuracy that moves the curriculum on", gt=0, le=1)
    patience: int = option(2, "... or that many checks in a row without min_gain over the best earlier one", ge=1)
    min_gain: float = option(0.02, "accuracy gain that counts as still rising", ge=0)
    replay: float = option(0.2, "share of items at an earlier frame count once moved on", ge=0, lt=1)
    kinds: list[str] = option(list(VIDEOLM_KINDS), "question kinds (lvr.synth.fresh)", choices=VIDEOLM_KINDS)
    items_per_world: int = option(4, "items per fresh world (each with its own frame times and question)", ge=1)
    minutes: list[float] = option([1.0, 2.0], "video length range of the fresh worlds (drawn per world)")
    placement: str = option("jitter", PLACEMENT_HELP, choices=PLACEMENTS)
    eval_every: int = option(200, "steps between held-out accuracy checks", ge=1)
    eval_items: int = option(256, "held-out worlds (one item each) per frame count", ge=8)
    cache_frames: int = option(100_000, "tower features kept in memory (frames)", ge=1000)
    threads: int = option(0, "torch threads of this stage, which runs alone (0: the recipe's threads)", ge=0)
    stamp_frames: bool = option(False, "from this stage on, each frame's video token carries its time tag's embedding "
                                "(CompositeOptions.stamp_frames, saved with every later checkpoint): the look-up "
                                "probe then picks a frame among 4 in half the steps (docs/benchmarks.md)")
    layout: str = option("chat", "how a look-up is asked: chat (video, question, four options: the format CoT-SFT "
                         "and evaluation use), open (no options), question_first (question and options, then the "
                         "video)", choices=("chat", "open", "question_first"))
    clock_init: str = option("keep", "before the stage, restart the clock tags' embeddings as sinusoidal codes of "
                             "their second, so near times start alike (sinusoid; needs model.clock_tags), or keep "
                             "the random ones", choices=("keep", "sinusoid"))
    hide_frame_tags: bool = option(False, "with stamp_frames: blank the frames' tag tokens once stamped on the frames "
                                   "(CompositeOptions.hide_frame_tags), so the question's time is the only clock "
                                   "token in the text; in the look-up probe this made frames chosen by time "
                                   "(docs/benchmarks.md)")

    qa_share: float = option(0.0, "share of each step's items that are the corpus's own questions (lvr.synth.qa's "
                             "templates, four categories) asked on fresh worlds whose drawn frames answer them "
                             "(lvr.synth.fresh.world_items), answer only: look-ups by event, states, order, as the "
                             "benchmark asks them", ge=0, lt=1)
    qa_frames: list[int] = option([8, 16], "frame counts of those questions (drawn per world)")
    qa_start: int = option(1, "curriculum stage (index into frames) from which they join: read a frame first, they "
                           "slow that down (from 0: one frame read at 0.29 after 800 steps, 0.66 at 400 without)",
                           ge=0)

    def check(self) -> None:
        if not self.frames or min(self.frames) < 1 or sorted(self.frames) != list(self.frames):
            fail(self, "frames", f"needs ascending frame counts >= 1, got {self.frames}")
        if not self.qa_frames or min(self.qa_frames) < 2:
            fail(self, "qa_frames", f"needs frame counts >= 2, got {self.qa_frames}")
        if self.qa_start >= len(self.frames):
            fail(self, "qa_start", f"is a stage of frames {self.frames} (0 to {len(self.frames) - 1}), "
                                   f"got {self.qa_start}")
        if self.hide_frame_tags and not self.stamp_frames:
            fail(self, "hide_frame_tags", "needs stamp_frames: true (else the frames lose their times)")
        if minutes_problem(self.minutes):
            fail(self, "minutes", minutes_problem(self.minutes))


@dataclass
class TrainStage:
    config: str = option(help="the stage's YAML (e.g. sft.yaml next to the recipe, or configs/tiny/sft.yaml)")
    set: dict = option({}, "keys over the stage YAML as a nested mapping (e.g. {max_steps: 300, optim: {lr: 1e-4}})")
    nproc: int = option(1, "processes (torchrun --nproc_per_node when > 1)", ge=1)
    threads: int = option(0, "torch threads per process of this stage (0: the recipe's threads)", ge=0)


@dataclass
class EvalStage:
    split: str = option("eval", "held-out split every system is scored on", choices=("eval",))
    frames: int = option(4, "frames per video for the main comparison", ge=1)
    sweep_frames: list[int] = option([2, 4, 8], "frame counts of the final model's accuracy-vs-frames sweep")
    max_new_tokens: int = option(160, "generation budget (greedy) per answer", ge=8)
    threads: int = option(0, "torch threads while evaluating, in the recipe's process (0: the recipe's threads)",
                          ge=0)
    answer_mode: str = option("free", "free: parse the written answer; choice: the option the model finds likeliest "
                              "after its own reasoning (decoding restricted to the options, as the references "
                              "answer)", choices=("free", "choice"))
    batch_size: int = option(16, "items per generate call", ge=1)
    limit: int | None = option(None, "only the first N held-out items (null: all)", ge=1)
    references: list[str] = option(list(REFERENCES), "reference answerers scored as runs", choices=REFERENCES)
    reference_split: str = option("sft", "split the most-frequent / text-only references learn from",
                                  choices=("sft", "rl"))
    n_boot: int = option(2000, "bootstrap resamples for intervals", ge=100)
    alpha: float = option(0.05, "significance level for the verdicts", gt=0, lt=1)

    def check(self) -> None:
        if not self.sweep_frames or min(self.sweep_frames) < 1:
            fail(self, "sweep_frames", f"needs frame counts >= 1, got {self.sweep_frames}")


def _sft_default() -> TrainStage:
    return TrainStage(config="sft.yaml")


def _grpo_default() -> TrainStage:
    return TrainStage(config="grpo.yaml", nproc=2)


@dataclass
class RecipeConfig:
    workspace: str = option("workspaces/recipe-tiny", "workspace folder (created); results in <workspace>/recipe/")
    seed: int = option(0, "seed of the training stages (overrides their YAML)")
    threads: int = option(1, "torch threads per process (OMP_NUM_THREADS of the training subprocesses)", ge=1)
    data: DataStage = option(DataStage, "the synthetic corpus")
    model: ModelStage = option(ModelStage, "the tiny base model")
    perception: PerceptionStage = option(PerceptionStage, "perception pretraining of the base model's vision side")
    videolm: VideoLMStage = option(VideoLMStage, "base video-LM stage: the LM learns to read frames (fresh worlds)")
    sft: TrainStage = option(help="CoT-SFT stage", factory=_sft_default)
    grpo: TrainStage = option(help="GRPO stage with MR-SP (nproc 2, mrsp.sp_size 2 on CPU)", factory=_grpo_default)
    eval: EvalStage = option(EvalStage, "evaluation on the held-out split")
    notes: str = option("", "markdown for the report's 'What it took to learn' section (why the settings are "
                        "what they are)")

    def check(self) -> None:
        sp = int(((self.grpo.set.get("mrsp") or {}).get("sp_size")) or 1) if isinstance(self.grpo.set, dict) else 1
        if self.grpo.nproc % sp:
            fail(self, "grpo.nproc", f"must be a multiple of mrsp.sp_size {sp}, got {self.grpo.nproc}")
        if self.model.heads % sp or self.model.kv_heads % sp:
            fail(self, "model.heads", f"heads {self.model.heads} and kv_heads {self.model.kv_heads} must divide by "
                 f"grpo mrsp.sp_size {sp} (Ulysses splits heads)")


def _plain(value: Any) -> Any:
    """Override values arrive as str subclasses; make nested mappings plain YAML-able data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        try:
            return yaml.safe_load(str(value)) if type(value) is not str else value
        except yaml.YAMLError:
            return str(value)
    return value


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if base is not None and (base / p).exists():
        return (base / p).resolve()
    return p.resolve()


def stage_config(cfg: RecipeConfig, stage: str, **fixed: Any):
    """The SFTConfig / GRPOConfig of a stage: its YAML, then `set`, then the recipe's fixed keys
    (model, workspace, name, output dir, seed)."""
    cls = stage_config_class(stage)
    st: TrainStage = getattr(cfg, stage)
    base = {**_plain(st.set), "seed": cfg.seed, **fixed}
    try:
        return load_config(cls, st.config, base=base)
    except ConfigError as e:
        raise ConfigError(f"{stage}: {e}") from None


def load_recipe(path: str | Path | None = None, overrides: list[str] | tuple = ()) -> RecipeConfig:
    """A validated RecipeConfig from YAML + dotted overrides; stage YAMLs resolved and checked."""
    cfg = load_config(RecipeConfig, path, list(overrides))
    base = Path(path).resolve().parent if path is not None else None
    for stage in ("sft", "grpo"):
        st: TrainStage = getattr(cfg, stage)
        resolved = _resolve(st.config, base)
        if not resolved.is_file():
            raise ConfigError(f"{stage}.config: {st.config} does not exist (looked next to the recipe and in the "
                              f"working directory)")
        st.config = str(resolved)
        st.set = _plain(st.set)
        stage_config(cfg, stage, model="(recipe)", workspace=cfg.workspace)   # fail fast on any bad key
    return cfg


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (stage outputs are named by it)."""
    def plain(x):
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return to_dict(x)
        return x
    text = json.dumps([plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]

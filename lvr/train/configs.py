"""Typed configs of the training stages: `SFTConfig` (CoT-SFT) and `GRPOConfig` (RL).

    cfg = load_config(SFTConfig, "configs/tiny/sft.yaml", ["workspace=demo", "optim.lr=1e-4"])
    print("\\n".join(describe(GRPOConfig)))      # every key with type, default and help

Both share the groups `data`, `trainable`, `optim` and `deepspeed`; GRPO adds `rollout`,
`loss` and `reward`. See lvr/config.py for the loading rules (YAML + dotted overrides).
`STAGES` names each stage's module and config class (`stage_config_class("grpo")` → GRPOConfig).
"""
from __future__ import annotations

from dataclasses import dataclass

from lvr.config import fail, option
from lvr.mrsp.config import MRSPConfig
from lvr.synth.fresh import PLACEMENT_HELP, PLACEMENTS, VIDEOLM_KINDS, minutes_problem
from lvr.synth.visibility import FRAME_LINES

from .rewards import check_reward_name

STATUSES = ("pending", "draft", "approved", "rejected")


@dataclass
class DataConfig:
    split: str = option("sft", "QA split to train on (sft for CoT-SFT, rl for GRPO)", choices=("sft", "rl", "eval"))
    statuses: list[str] = option(["approved", "pending"], "QA statuses that count as training data",
                                 choices=STATUSES)
    categories: list[str] | None = option(None, "only these categories (null: all)",
                                          choices=("temporal", "goal", "spatial", "plot"))
    max_items: int | None = option(None, "use at most this many items (null: all)", ge=1)
    exclude_flags: list[str] = option([], "skip items with these difficulty flags (set by lvr filter-difficulty)",
                                      choices=("always_right", "always_wrong", "informative"))
    num_frames: int = option(8, "frames sampled uniformly from each video", ge=1)
    frames_choices: list[int] | None = option(None, "SFT frame-count augmentation: each training item's frame "
                                              "count is drawn from this list (seeded by step and item, so resume "
                                              "is exact) and a model then copes with any of them; null: always "
                                              "num_frames (eval loss always uses num_frames)")
    sampling: str = option("exact", "frame sampling mode (exact frames, or nearest keyframes: faster)",
                           choices=("exact", "keyframe"))
    frame_size: list[int] | None = option(None, "resize decoded frames to [height, width] (null: keep; the "
                                          "model resizes to its own input size anyway)")
    use_clip_range: bool = option(False, "sample frames only from the question's [start, end] clip range")
    think: bool = option(True, "train/ask for <think> reasoning before the answer")
    reasoning: str = option("item", "SFT reasoning target: the item's own (item), or what the sampled frames show "
                            "of its robots and objects, then its conclusion (synthetic items with an event log; "
                            "others keep their own): frames, a line for each frame where some of them changed; "
                            "every_frame, a line for every frame in order, each naming all of them (the reader walks "
                            "the frames instead of choosing them); to_evidence, every_frame's lines up to the frame "
                            "that shows the last fact the answer needs (all frames for final states, counts and "
                            "longests), so the conclusion reads the line just written. Also the replay's qa_items' "
                            "target", choices=("item", *FRAME_LINES))
    require_answerable: bool = option(False, "drop items an ideal reader of the sampled frames cannot answer "
                                      "(lvr.synth.visibility; with frames_choices an item draws only among counts "
                                      "that can answer it, and is kept when the largest can)")
    answer_format: str = option("model", "what <answer> holds for a multiple-choice item: the option's letter, "
                                "its text (easier for tiny models, which cannot look a letter up by position), "
                                "or the model's own format (model). letter/text is saved with the checkpoints",
                                choices=("model", "letter", "text"))
    frame_lookback: bool | None = option(None, "frame look-back: in the model's answer each frame tag it writes is "
                                         "followed by that frame again, so a reasoning line is written next to "
                                         "the frame it names (lvr.model.lookback; saved with the checkpoints; "
                                         "needs one-token clock tags); null: the model's own setting")
    frame_walk: bool | None = option(None, "with frame look-back: generation writes the frame tags in time order "
                                     "itself, so the model writes only each line's content and when to stop (for "
                                     "reasoning every_frame / to_evidence; saved with the checkpoints); null: the "
                                     "model's own setting")
    shuffle: bool = option(True, "reshuffle the items every epoch")
    eval_split: str | None = option("eval", "split for the periodic eval loss (null: no eval)",
                                    choices=("sft", "rl", "eval"))
    eval_max_items: int = option(16, "eval loss over at most this many items", ge=1)

    def check(self) -> None:
        if self.frame_size is not None and (len(self.frame_size) != 2 or min(self.frame_size) < 1):
            fail(self, "frame_size", f"must be [height, width] with positive sizes, got {self.frame_size}")
        if not self.statuses:
            fail(self, "statuses", "needs at least one status")
        if self.frames_choices is not None and (not self.frames_choices or min(self.frames_choices) < 1):
            fail(self, "frames_choices", f"must be a non-empty list of frame counts >= 1, got {self.frames_choices}")


@dataclass
class TrainableConfig:
    llm: bool = option(True, "train the language model")
    projector: bool = option(True, "train the vision→LM projector")
    vision_tower: bool = option(False, "train the vision tower")

    def check(self) -> None:
        if not (self.llm or self.projector or self.vision_tower):
            fail(self, "llm", "nothing to train: set at least one of llm / projector / vision_tower to true")


@dataclass
class OptimConfig:
    lr: float = option(1e-5, "peak learning rate (AdamW)", gt=0)
    weight_decay: float = option(0.0, "AdamW weight decay (not applied to biases and norms)", ge=0)
    betas: list[float] = option([0.9, 0.999], "AdamW betas")
    eps: float = option(1e-8, "AdamW epsilon", gt=0)
    warmup_steps: int = option(0, "linear warm-up steps", ge=0)
    schedule: str = option("constant", "LR after warm-up", choices=("constant", "linear", "cosine"))
    min_lr_ratio: float = option(0.0, "final LR as a fraction of the peak (linear/cosine)", ge=0, le=1)

    def check(self) -> None:
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            fail(self, "betas", f"must be two numbers in [0, 1), got {self.betas}")


@dataclass
class DeepSpeedConfig:
    zero_stage: int = option(0, "ZeRO stage 0-3 (3 shards parameters, for 7B models)", ge=0, le=3)
    precision: str = option("auto", "auto = bf16 on GPU, fp32 on CPU", choices=("auto", "bf16", "fp32"))
    gradient_clipping: float = option(1.0, "max gradient norm (0: off)", ge=0)
    gradient_checkpointing: bool = option(False, "recompute LM activations in backward (saves memory)")
    extra: dict = option({}, "merged into the generated DeepSpeed config (expert settings)")


@dataclass
class RunConfig:
    """Keys shared by every training stage."""

    model: str = option(help="starting model: a checkpoint id of the workspace, a checkpoint directory, "
                        "latest:<stage> (newest checkpoint of a stage, e.g. latest:sft) or tiny:<kind> (a tiny "
                        "random-init lvr_composite / qwen2_5_vl model built into the workspace)")
    workspace: str | None = option(None, "workspace folder (data, checkpoints, runs)")
    output_dir: str | None = option(None, "run dir for states/metrics (default: the job's run dir, or "
                                    "<workspace>/runs/<stage>-<time> when not run as a job)")
    name: str | None = option(None, "checkpoint folder name under <workspace>/checkpoints (default: the run id)")
    seed: int = option(0, "random seed (data order, rollout sampling)")
    device: str = option("auto", "auto (cuda if available), cpu or cuda", choices=("auto", "cpu", "cuda"))
    max_steps: int = option(100, "optimizer steps to run", ge=1)
    log_every: int = option(1, "write a metrics row every N steps", ge=1)
    save_every: int = option(0, "save state + model every N steps (0: only at the end)", ge=0)
    keep_last: int = option(2, "resumable states kept in the run dir", ge=1)
    export_every_save: bool = option(True, "export and register a model checkpoint at every save "
                                     "(false: only at the end)")
    resume: bool | str = option(False, "true: continue from the newest saved state of this run (or the job it "
                                "resumes); a path: that run/state dir; false: start fresh")
    data: DataConfig = option(DataConfig, "training data")
    trainable: TrainableConfig = option(TrainableConfig, "which parts of the model train")
    optim: OptimConfig = option(OptimConfig, "optimizer and LR schedule")
    deepspeed: DeepSpeedConfig = option(DeepSpeedConfig, "DeepSpeed engine")


@dataclass
class ReplayConfig:
    items: int = option(0, "fresh-world look-up questions (lvr.synth.fresh, answer only, as the base video-LM stage "
                        "trains them) added to each micro-batch, so CoT-SFT keeps the base's frame reading while it "
                        "learns to reason (0: off; lvr_composite models)", ge=0)
    weight: float = option(1.0, "weight of their mean loss next to the CoT loss", gt=0)
    kinds: list[str] = option(["time", "last"], "question kinds", choices=VIDEOLM_KINDS)
    frames: list[int] = option([1, 2, 4, 8], "each micro-batch's frame count is drawn from this list")
    minutes: list[float] = option([1.0, 2.0], "[shortest, longest] world length in minutes")
    qa_items: int = option(0, "corpus-style questions (lvr.synth.qa's templates) on fresh worlds added to each "
                           "micro-batch, with the reasoning their frames support as the target (only questions an "
                           "ideal reader of the frames can answer; lvr.synth.fresh.world_items); 0: off", ge=0)
    qa_frames: list[int] = option([4, 8, 16], "each micro-batch's frame count for qa_items is drawn from this list")
    placement: str = option("jitter", PLACEMENT_HELP, choices=PLACEMENTS)
    text_items: int = option(0, "corpus-style questions on fresh worlds added to each micro-batch as text only: their "
                             "frame lines given, their conclusion and answer the only targets, so the answer learns "
                             "to follow the reasoning (lvr.train.conclusions; no frames rendered); 0: off", ge=0)
    text_frames: list[int] = option([4, 8, 16], "each micro-batch's frame count for text_items is drawn from this list")

    def check(self) -> None:
        for name in ("frames", "qa_frames", "text_frames"):
            counts = getattr(self, name)
            if not counts or min(counts) < 1:
                fail(self, name, f"must be a non-empty list of frame counts >= 1, got {counts}")
        if not self.kinds:
            fail(self, "kinds", "needs at least one kind")
        if minutes_problem(self.minutes):
            fail(self, "minutes", minutes_problem(self.minutes))


@dataclass
class SFTConfig(RunConfig):
    micro_batch_size: int = option(1, "items per forward pass per rank", ge=1)
    grad_accum: int = option(1, "micro-batches per optimizer step", ge=1)
    max_length: int | None = option(None, "truncate sequences to this many tokens (null: no limit)", ge=8)
    eval_every: int = option(0, "eval loss every N steps (0: only at the end)", ge=0)
    replay: ReplayConfig = option(ReplayConfig, "replay of the base video-LM stage's look-ups during CoT-SFT")
    answer_weight: float = option(1.0, "weight of the tokens from <answer> on in the loss, the reasoning's being 1 "
                                  "(lvr.train.token_loss): above 1 the answer learns to follow the reasoning's "
                                  "conclusion, not only the question's text", gt=0, le=100)


@dataclass
class RolloutConfig:
    backend: str = option("transformers", "rollout engine: transformers (generate on the policy itself) or vllm "
                          "(the composite's LM in vLLM, fed the cached video embeddings; settings under mrsp.vllm)",
                          choices=("transformers", "vllm"))
    num_generations: int = option(8, "G: samples per prompt", ge=2)
    temperature: float = option(1.0, "sampling temperature", gt=0)
    top_p: float = option(0.99, "nucleus sampling", gt=0, le=1)
    max_new_tokens: int = option(256, "maximum response length in tokens", ge=1)
    stop_at_answer: bool = option(True, "stop a sample at </answer> (else at <|im_end|>/eos only)")
    answer: str = option("free", "free: a sample's answer is scored as written; choice: a sample that wrote "
                         "<answer> answers with the option the policy finds likeliest after its own sampled reasoning "
                         "(lvr.model.choice, as evaluation's answer_mode choice scores), so the reward judges the "
                         "reasoning", choices=("free", "choice"))
    batch_size: int | None = option(None, "rows per generate call (null: all G × prompts of a rank at once)", ge=1)


@dataclass
class LossConfig:
    type: str = option("grpo", "policy loss: grpo (per-sequence mean), dapo (token mean over the batch), "
                       "bnpo, dr_grpo (sum / (G·max_len), no std scaling)",
                       choices=("grpo", "dapo", "bnpo", "dr_grpo"))
    epsilon: float = option(0.2, "clip range ε (lower side; upper side too unless epsilon_high)", gt=0)
    epsilon_high: float | None = option(None, "upper clip range (DAPO clip-higher; null: epsilon, or 0.28 for "
                                        "dapo)", gt=0)
    beta: float = option(0.01, "KL weight to the frozen reference (0: no reference model is loaded)", ge=0)
    kl_estimator: str = option("low_var_kl", "KL estimator", choices=("low_var_kl", "k1", "k2"))
    scale_rewards: str | None = option(None, "advantage scaling: group std, batch std or none (null: group, "
                                       "none for dr_grpo)", choices=("group", "batch", "none"))
    dynamic_filter: bool | None = option(None, "drop groups whose rewards are all equal (null: on for dapo)")
    overlong_penalty: bool | None = option(None, "DAPO soft overlong penalty added to the reward (null: on for "
                                           "dapo)")
    overlong_buffer: int = option(64, "tokens before max_new_tokens where the overlong penalty ramps in", ge=1)
    overlong_factor: float = option(1.0, "overlong penalty at max length", ge=0)

    def resolved(self) -> "LossConfig":
        """Defaults that depend on the loss type filled in."""
        dapo = self.type == "dapo"
        return LossConfig(
            type=self.type, epsilon=self.epsilon,
            epsilon_high=self.epsilon_high if self.epsilon_high is not None else (0.28 if dapo else self.epsilon),
            beta=self.beta, kl_estimator=self.kl_estimator,
            scale_rewards=self.scale_rewards or ("none" if self.type == "dr_grpo" else "group"),
            dynamic_filter=dapo if self.dynamic_filter is None else self.dynamic_filter,
            overlong_penalty=dapo if self.overlong_penalty is None else self.overlong_penalty,
            overlong_buffer=self.overlong_buffer, overlong_factor=self.overlong_factor)


@dataclass
class JudgeConfig:
    model: str | None = option(None, "judge model name for open-ended answers (null: exact match instead)")
    base_url: str | None = option(None, "OpenAI-compatible base URL (null: $LVR_LLM_BASE_URL; an error when neither "
                                   "is set: there is no default hosted endpoint)")
    api_key_env: str = option("LVR_LLM_API_KEY", "environment variable holding the judge's API key")
    timeout: float = option(60.0, "seconds per judge request", gt=0)
    concurrency: int = option(8, "judge requests in flight", ge=1)


@dataclass
class RewardConfig:
    functions: dict[str, float] = option({"accuracy": 0.9, "format": 0.1},
                                         "reward functions and their weights (built-in names or "
                                         "path/file.py:function)")
    judge: JudgeConfig = option(JudgeConfig, "LLM judge for open-ended accuracy")

    def check(self) -> None:
        if not self.functions:
            fail(self, "functions", "needs at least one reward function")
        for name in self.functions:
            try:
                check_reward_name(name)
            except ValueError as e:
                fail(self, f"functions.{name}", str(e))


@dataclass
class FreshPromptsConfig:
    share: float = option(0.0, "share of each step's prompts asked on fresh simulated worlds instead of the split: "
                          "the corpus's own question templates (lvr.synth.fresh.world_items), only questions the "
                          "drawn frames answer, a new world for every prompt (seeds disjoint from the corpus, the "
                          "base stage, CoT-SFT's replay and the held-out worlds); 0: the split only", ge=0.0, le=1.0)
    minutes: list[float] = option([1.0, 2.0], "[shortest, longest] world length in minutes")
    size: int = option(112, "rendered frame size in pixels (the corpus videos' size; lvr.synth's bounds)", ge=64,
                       le=1024)
    placement: str = option("jitter", PLACEMENT_HELP, choices=PLACEMENTS)

    def check(self) -> None:
        if minutes_problem(self.minutes):
            fail(self, "minutes", minutes_problem(self.minutes))
        if self.minutes[1] > 60:                 # lvr.synth.WorldConfig's bound, checked before any job starts
            fail(self, "minutes", f"a simulated world lasts at most 60 minutes, got {list(self.minutes)}")


@dataclass
class GRPOConfig(RunConfig):
    data: DataConfig = option(help="training data (split rl by default)", factory=lambda: default_grpo_data())
    ref_model: str | None = option(None, "KL reference (null: the starting model)")
    prompts_per_step: int = option(2, "prompts per optimizer step per data-parallel replica (a rank, or an SP "
                                   "group of mrsp.sp_size ranks); each gets G rollouts", ge=1)
    micro_batch_size: int = option(4, "rollout rows per forward/backward pass", ge=1)
    num_iterations: int = option(1, "optimisation passes over each rollout batch (μ; old log-probs kept)", ge=1)
    rollout: RolloutConfig = option(RolloutConfig, "rollout engine and sampling")
    loss: LossConfig = option(LossConfig, "policy loss")
    reward: RewardConfig = option(RewardConfig, "rewards")
    mrsp: MRSPConfig = option(MRSPConfig, "MR-SP engine: sequence parallelism (sp_size), video-embedding cache "
                              "(embed_cache), vLLM settings")
    fresh: FreshPromptsConfig = option(FreshPromptsConfig, "prompts on fresh simulated worlds next to the split's "
                                       "(lvr.train.fresh_prompts)")

    def check(self) -> None:
        if self.data.frames_choices:
            fail(self, "data.frames_choices", "is an SFT option; GRPO samples data.num_frames for every prompt "
                 "(its rollouts, caches and sequence-parallel shards assume one frame count)")
        rows = self.prompts_per_step * self.rollout.num_generations
        if rows % self.micro_batch_size:
            fail(self, "micro_batch_size", f"must divide prompts_per_step × rollout.num_generations = {rows}, "
                 f"got {self.micro_batch_size}")
        loss = self.loss.resolved()
        if loss.overlong_penalty and self.loss.overlong_buffer > self.rollout.max_new_tokens:
            fail(self, "loss.overlong_buffer", f"must be <= rollout.max_new_tokens ({self.rollout.max_new_tokens}), "
                 f"got {self.loss.overlong_buffer}")
        if self.rollout.answer == "choice" and self.deepspeed.zero_stage == 3:
            fail(self, "rollout.answer", "choice scores the options on the policy outside a forward of the engine; "
                 "ZeRO-3 shards its parameters (use deepspeed.zero_stage <= 2, or rollout.answer=free)")
        if self.mrsp.embed_cache == "disk" and (self.trainable.vision_tower or self.trainable.projector):
            fail(self, "mrsp.embed_cache", "disk persists embeddings across steps, so it needs a frozen vision tower "
                 "and projector (trainable.vision_tower / trainable.projector are on); use step or auto")


def default_grpo_data() -> DataConfig:
    return DataConfig(split="rl", eval_split=None, exclude_flags=["always_right", "always_wrong"])


# stage → (the module whose `train(cfg)` runs it, its config class in this module); `lvr train` and the app's
# train tab launch `python -m <module> CONFIG key=value …`
STAGES = {"sft": ("lvr.train.sft", "SFTConfig"), "grpo": ("lvr.train.grpo", "GRPOConfig")}


def stage_config_class(stage: str) -> type:
    """SFTConfig or GRPOConfig: the config class of a stage of STAGES."""
    return globals()[STAGES[stage][1]]

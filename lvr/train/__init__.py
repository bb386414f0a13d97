"""lvr.train: CoT-SFT and GRPO (DAPO, Dr. GRPO) on DeepSpeed, rewards, rollouts, difficulty filtering.

    from lvr.config import load_config
    from lvr.train import SFTConfig, GRPOConfig, train_sft, train_grpo
    train_sft(load_config(SFTConfig, "configs/tiny/sft.yaml", ["workspace=demo"]))
    train_grpo(load_config(GRPOConfig, "configs/tiny/grpo.yaml", ["workspace=demo"]))

    python -m lvr.train.sft CONFIG [key=value ...]      (or torchrun --nproc_per_node N -m lvr.train.sft …)
    python -m lvr.train.grpo CONFIG [key=value ...]
    lvr train sft|grpo CONFIG [key=value ...] [--nproc N] [--foreground]   (a tracked job by default)
    lvr filter-difficulty WS --checkpoint C --k 8

Modules: configs (SFTConfig, GRPOConfig), data (store items, frames, resumable sampler),
engine (process group, trainable parts, DeepSpeed + AdamW, RNG), checkpoints (resumable
states, atomic HF exports, registration), run (what every stage does around its loop),
sft, grpo, grpo_loss (advantages, clipped loss, KL), sequences (prompts from video embeddings,
batches, `sequence_logprobs`), rewards, difficulty, metrics, parity (rollout ≡ training
inputs, `lvr model check`). Rollout engines and video embedders live in lvr.mrsp.
"""
from .configs import GRPOConfig, SFTConfig
from .rewards import RewardSet, get_reward, register_reward


# sft and grpo are imported when called, not here: both run as `python -m lvr.train.sft|grpo` (and torchrun -m),
# and a package that imports them first makes runpy warn and run a second copy of the module; they would also
# add ~0.4-0.6 s (measured with -X importtime) to every `import lvr.train` (configs, the app's Train tab).
def train_sft(cfg: SFTConfig) -> dict:
    from .sft import train

    return train(cfg)


def train_grpo(cfg: GRPOConfig) -> dict:
    from .grpo import train

    return train(cfg)


__all__ = ["SFTConfig", "GRPOConfig", "train_sft", "train_grpo", "RewardSet", "get_reward", "register_reward"]

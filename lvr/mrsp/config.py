"""MR-SP settings as a typed config group (meant to sit in GRPOConfig as `mrsp:`).

    from lvr.mrsp.config import MRSPConfig
    @dataclass
    class GRPOConfig(RunConfig):
        mrsp: MRSPConfig = option(MRSPConfig, "MR-SP: sequence parallelism, embedding cache, vLLM rollouts")

    # YAML                                   # or overrides: mrsp.sp_size=2 mrsp.embed_cache=disk
    mrsp:
      sp_size: 2            # ranks per sequence-parallel group (must divide the world size)
      embed_cache: auto     # off | step | disk | auto (disk when the vision tower+projector are frozen)
      grad_mode: retain     # trainable encoder: retain (keep the graph) | recompute (ZeRO-3 uses it)
      vllm:
        gpu_memory_utilization: 0.3
        sleep_mode: true

The rollout backend itself stays `rollout.backend` (transformers | vllm).
"""
from __future__ import annotations

from dataclasses import dataclass

from lvr.config import option

EMBED_CACHE = ("off", "step", "disk", "auto")


@dataclass
class VLLMConfig:
    gpu_memory_utilization: float = option(0.3, "GPU memory share of the vLLM engine (it shares the GPU with "
                                           "training)", gt=0, le=1)
    sleep_mode: bool = option(True, "GPU: release the engine's memory between rollouts (vLLM sleep/wake)")
    max_model_len: int | None = option(None, "engine context length (null: the model's)", ge=16)
    engine_dir: str | None = option(None, "folder the engine loads the LM from and weight pushes write to "
                                    "(null: <run dir>/vllm_llm)")


@dataclass
class MRSPConfig:
    sp_size: int = option(1, "sequence-parallel degree: ranks that share one sample (Stage-1 frame sharding + "
                          "Stage-2 Ulysses prefill); must divide the world size and the LM's head counts", ge=1)
    embed_cache: str = option("auto", "video-embedding cache: off (encode every pass), step (once per video per "
                              "step), disk (also persist across steps; needs a frozen vision tower + projector), "
                              "auto (disk if frozen, else step)", choices=EMBED_CACHE)
    grad_mode: str = option("retain", "trainable encoder: retain (policy micro-batches share the step's kept "
                            "graph) or recompute (a fresh encoding with grad per micro-batch; forced under ZeRO-3)",
                            choices=("retain", "recompute"))
    vllm: VLLMConfig = option(VLLMConfig, "vLLM rollout engine (rollout.backend=vllm)")

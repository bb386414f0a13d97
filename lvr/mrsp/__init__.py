"""lvr.mrsp: Multi-modal Reinforcement Sequence Parallelism (the RL engine for long videos).

    from lvr.mrsp import (init_sp_groups, encode_frames_sp, sp_sequence_logprobs, CachedVideoEmbedder,
                          VLLMRollout, SPRollout, MRSPConfig, MRSPRuntime)
    sp = init_sp_groups(2)                                   # torchrun --nproc_per_node 2 …
    embeds = encode_frames_sp(model, frames, sp)             # Stage 1: frames sharded, uneven all-gather
    lp = sp_sequence_logprobs(model, embeds_seq, positions, response_mask, response_ids=ids,
                              attention_mask=mask, sp=sp)    # Stage 2: Ulysses prefill, [B, R] on all ranks
    emb = CachedVideoEmbedder(model, frames_source, cache_dir=ws.embeds_cache_dir, sp=sp)  # cache
    engine = VLLMRollout(model)                              # rollouts from the cached prompt embeddings
    engine = MRSPRuntime.build(cfg.mrsp, model, frames).rollout_engine(cfg.rollout, model)  # the configured one

Modules: groups (SP process groups, uneven all-gather, all-to-all, gradient conventions),
encode (Stage 1), ulysses (the attention function registered with transformers), sp
(Stage 2: sequence split, log-probs), cache (in-step memo + safetensors disk cache keyed by
content hash, sampling spec and frozen-weights hash), embedder (the `VideoEmbedder` interface the
trainer uses, and its two implementations), rollout (rollout requests, samples, the `RolloutEngine`
protocol, the transformers engine), vllm_rollout (vLLM prompt-embedding rollouts, weight
push), sp_rollout (G samples split over an SP group), config (MRSPConfig), runtime (the pieces
wired for GRPO, every rollout engine built from the rollout config). Equality tests: tests/mrsp/
(2-process gloo); benchmark: bench/mrsp.py.
"""
from .cache import DiskEmbedCache, EmbeddingCache, encoder_trainable, encoder_weights_hash, weights_hash
from .config import MRSPConfig, VLLMConfig
from .embedder import CachedVideoEmbedder, StepVideoEmbedder, VideoEmbedder, VideoEmbeddings
from .encode import encode_frames_sp, frame_shares, parallel_encode
from .groups import SPGroup, all_gather_uneven, all_to_all, gather_shards, init_sp_groups, sum_across, sync_sp_grads
from .rollout import RolloutEngine, RolloutRequest, RolloutSample, SamplingParams, TransformersRollout
from .runtime import MRSPRuntime
from .sp import SPLogProbs, shard_sequence, sp_sequence_logprobs, unshard_sequence
from .sp_rollout import SPRollout, split_counts
from .ulysses import ATTN_NAME, enable_ulysses
from .vllm_rollout import VLLMRollout  # vllm itself is imported only when an engine is built

__all__ = [
    "SPGroup", "init_sp_groups", "all_gather_uneven", "all_to_all", "gather_shards", "sum_across", "sync_sp_grads",
    "frame_shares", "parallel_encode", "encode_frames_sp",
    "ATTN_NAME", "enable_ulysses", "SPLogProbs", "shard_sequence", "unshard_sequence", "sp_sequence_logprobs",
    "DiskEmbedCache", "EmbeddingCache", "weights_hash", "encoder_weights_hash", "encoder_trainable",
    "VideoEmbedder", "CachedVideoEmbedder", "StepVideoEmbedder", "VideoEmbeddings",
    "RolloutEngine", "RolloutRequest", "RolloutSample", "SamplingParams", "TransformersRollout",
    "SPRollout", "split_counts", "VLLMRollout",
    "MRSPConfig", "VLLMConfig", "MRSPRuntime",
]

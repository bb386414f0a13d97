"""The `VideoLM` contract shared by every adapter, and the `ModelInputs` it produces.

    model = load_model("ckpt")                              # lvr.model.load_model
    embeds = model.encode_frames(frames)                    # [n_tokens, d_lm]; any contiguous
                                                            # split (on group boundaries) concatenates equal
    layout = model.video_layout(len(frames), frames.shape[1:3], timestamps)
    inputs = model.build_inputs(messages, embeds, layout=layout, train=True)
    logits = model.lm_forward(inputs.inputs_embeds, inputs.position_ids, inputs.attention_mask)
    logps = model.response_logprobs(prompt_inputs, response_ids)   # [B, R]

What sequence parallelism (MR-SP) needs is public: `frames_per_group` / `tokens_per_group()`
(frames are encoded in independent groups: 1 frame for the composite, a temporal patch pair
for Qwen2.5-VL), `build_position_ids()` (positions of a full sequence, to be sliced per
rank), `causal_lm` (the module `lm_forward` calls), `language_model` (its decoder stack,
where an attention implementation can be swapped) and `input_embeddings`.

Adapters implement the abstract methods; tokenising, label masking, placeholder expansion,
padding (`collate`) and response log-probs are shared here.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import lookback
from .chat_format import render_chat

IGNORE_INDEX = -100


@dataclass(frozen=True)
class VideoLayout:
    """How one video's embeddings sit in the sequence.

    Frames are encoded in groups of `frames_per_group` (composite: 1; Qwen2.5-VL: 2, the
    temporal patch), each giving `tokens_per_group` tokens. `grid_thw` is Qwen's
    `video_grid_thw` row (groups, patch rows, patch cols); `timestamps` are per-frame seconds.
    """

    num_frames: int
    frames_per_group: int
    tokens_per_group: int
    grid_thw: tuple[int, int, int] | None = None
    timestamps: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.num_frames < 1 or self.frames_per_group < 1 or self.tokens_per_group < 1:
            raise ValueError(f"VideoLayout needs positive sizes, got {self}")
        if self.timestamps is not None and len(self.timestamps) != self.num_frames:
            raise ValueError(f"VideoLayout: {len(self.timestamps)} timestamps for {self.num_frames} frames")

    @property
    def num_groups(self) -> int:
        return math.ceil(self.num_frames / self.frames_per_group)

    @property
    def num_tokens(self) -> int:
        return self.num_groups * self.tokens_per_group

    def group_timestamps(self) -> list[float] | None:
        """Start time of each group (seconds), or None without timestamps."""
        if self.timestamps is None:
            return None
        return [float(self.timestamps[g * self.frames_per_group]) for g in range(self.num_groups)]


@dataclass
class ModelInputs:
    """One padded batch ready for the LM. `position_ids` is [B, S] (1-D RoPE) or [3, B, S] (M-RoPE).

    `input_ids` carries the video placeholder id at every video position; `labels` is -100
    except on assistant tokens (None when not training); `layouts` has one entry per row.
    """

    inputs_embeds: torch.Tensor
    position_ids: torch.Tensor
    attention_mask: torch.Tensor
    input_ids: torch.Tensor
    labels: torch.Tensor | None = None
    layouts: list[VideoLayout | None] = field(default_factory=list)

    @property
    def batch_size(self) -> int:
        return self.inputs_embeds.shape[0]

    @property
    def seq_len(self) -> int:
        return self.inputs_embeds.shape[1]

    @classmethod
    def one_row(cls, inputs_embeds: torch.Tensor, position_ids: torch.Tensor, input_ids: torch.Tensor | None = None,
                device=None) -> "ModelInputs":
        """One unpadded prompt as a batch of one: embeds [P, d], positions [P] or [3, P], ids [P] (zeros when
        None); the prompt of a rollout, of answer scoring, of `generate_ids` / `response_logprobs`."""
        dev = device if device is not None else inputs_embeds.device
        p = inputs_embeds.shape[0]
        ids = input_ids if input_ids is not None else torch.zeros(p, dtype=torch.long)
        return cls(inputs_embeds=inputs_embeds[None].to(dev), position_ids=position_ids.unsqueeze(-2).to(dev),
                   attention_mask=torch.ones(1, p, dtype=torch.long, device=dev), input_ids=ids[None].to(dev))

    def to(self, device: torch.device | str) -> "ModelInputs":
        move = lambda t: t.to(device) if t is not None else None  # noqa: E731
        return replace(self, inputs_embeds=move(self.inputs_embeds), position_ids=move(self.position_ids),
                       attention_mask=move(self.attention_mask), input_ids=move(self.input_ids),
                       labels=move(self.labels))


def _pad_last(t: torch.Tensor, length: int, value, side: str) -> torch.Tensor:
    pad = length - t.shape[-1]
    if pad == 0:
        return t
    shape = list(t.shape)
    shape[-1] = pad
    filler = torch.full(shape, value, dtype=t.dtype, device=t.device)
    return torch.cat([filler, t] if side == "left" else [t, filler], dim=-1)


def collate(items: Sequence[ModelInputs], *, padding_side: str = "left", pad_token_id: int = 0) -> ModelInputs:
    """Pad single- or multi-row inputs into one batch (left for generation, right for training)."""
    if not items:
        raise ValueError("collate: no inputs")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    length = max(it.seq_len for it in items)
    embeds, pos, mask, ids, labels, layouts = [], [], [], [], [], []
    for it in items:
        e = it.inputs_embeds
        pad = length - e.shape[1]
        if pad:
            z = e.new_zeros(e.shape[0], pad, e.shape[2])
            e = torch.cat([z, e] if padding_side == "left" else [e, z], dim=1)
        embeds.append(e)
        pos.append(_pad_last(it.position_ids, length, 0, padding_side))
        mask.append(_pad_last(it.attention_mask, length, 0, padding_side))
        ids.append(_pad_last(it.input_ids, length, pad_token_id, padding_side))
        if it.labels is not None:
            labels.append(_pad_last(it.labels, length, IGNORE_INDEX, padding_side))
        layouts.extend(it.layouts or [None] * it.batch_size)
    if labels and len(labels) != len(items):
        raise ValueError("collate: either all inputs have labels or none")
    batch_dim = 1 if items[0].position_ids.dim() == 3 else 0
    return ModelInputs(
        inputs_embeds=torch.cat(embeds, 0), position_ids=torch.cat(pos, batch_dim),
        attention_mask=torch.cat(mask, 0), input_ids=torch.cat(ids, 0),
        labels=torch.cat(labels, 0) if labels else None, layouts=layouts)


def next_positions(position_ids: torch.Tensor, attention_mask: torch.Tensor | None, n: int) -> torch.Tensor:
    """Positions of `n` tokens appended after each row's last real token (last position + 1, …).

    This is what `generate` does when given explicit `position_ids`, so log-probs and rollouts
    see identical positions. Works for [B, S] and [3, B, S] position ids and either padding side.
    """
    seq = position_ids.shape[-1]
    if attention_mask is None:
        last_idx = torch.full((position_ids.shape[-2],), seq - 1, device=position_ids.device)
    else:
        ar = torch.arange(seq, device=attention_mask.device)
        last_idx = torch.where(attention_mask.bool(), ar, -1).amax(-1).clamp(min=0)
    if position_ids.dim() == 3:  # M-RoPE: same index on each of the 3 axes
        last = torch.gather(position_ids, 2, last_idx.view(1, -1, 1).expand(position_ids.shape[0], -1, 1))
    else:
        last = torch.gather(position_ids, 1, last_idx.view(-1, 1))
    step = torch.arange(1, n + 1, device=position_ids.device, dtype=position_ids.dtype)
    return last + step


def as_frames_tensor(frames) -> torch.Tensor:
    """uint8 [N, H, W, 3] (numpy or torch) → float32 [N, 3, H, W] in 0..255, with clear errors."""
    if isinstance(frames, np.ndarray):
        # memory-mapped cached frames are read-only: copy instead of sharing (torch warns on read-only arrays)
        t = torch.from_numpy(np.array(frames, copy=not frames.flags.writeable or not frames.flags.c_contiguous))
    elif isinstance(frames, torch.Tensor):
        t = frames
    else:
        raise TypeError(f"frames must be a numpy array or tensor [N, H, W, 3], got {type(frames).__name__}")
    if t.dim() != 4 or t.shape[-1] != 3:
        raise ValueError(f"frames must have shape [N, H, W, 3], got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError("frames is empty (0 frames)")
    if t.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 RGB, got dtype {t.dtype}")
    return t.permute(0, 3, 1, 2).float()


class VideoLM(nn.Module, abc.ABC):
    """A video-language model: frames → video embeddings → causal LM (see module docstring)."""

    model_type: str = ""
    frames_per_group: int = 1

    def __init__(self, tokenizer=None):
        super().__init__()
        self.tokenizer = tokenizer

    @property
    def answer_format(self) -> str:
        """What this checkpoint writes in <answer> for a multiple-choice question: "letter" or "text"
        (kept in lvr_config.json; prompts and SFT targets follow it)."""
        return getattr(getattr(self, "options", None), "answer_format", "letter")

    @property
    def frame_lookback(self) -> bool:
        """Does this checkpoint see a frame again right after writing its time tag (lvr.model.lookback)?"""
        return bool(getattr(getattr(self, "options", None), "frame_lookback", False))

    @property
    def frame_walk(self) -> bool:
        """With look-back, does generation write the frame tags in time order itself (lvr.model.lookback)?"""
        return bool(getattr(getattr(self, "options", None), "frame_walk", False))

    def set_frame_walk(self, on: bool) -> None:
        """Switch frame walking (CompositeOptions.frame_walk); saved with the next checkpoint. Fails without
        look-back."""
        import dataclasses

        if not hasattr(getattr(self, "options", None), "frame_walk"):
            raise ValueError(f"frame walking needs frame look-back, which {type(self).__name__} does not have")
        self.options = dataclasses.replace(self.options, frame_walk=bool(on))

    def set_frame_lookback(self, on: bool) -> None:
        """Switch frame look-back (lvr.model.lookback); saved with the next checkpoint. Fails when the model has
        no one-token clock tags before its frames."""
        import dataclasses

        if not hasattr(getattr(self, "options", None), "frame_lookback"):
            raise ValueError(f"frame look-back needs an lvr_composite model, got {type(self).__name__}")
        self.options = dataclasses.replace(self.options, frame_lookback=bool(on))

    def set_answer_format(self, value: str) -> None:
        """Switch the answer format; saved with the next checkpoint."""
        import dataclasses

        self.options = dataclasses.replace(self.options, answer_format=value)

    # ------------------------------------------------------------------ adapter hooks
    @property
    @abc.abstractmethod
    def causal_lm(self) -> nn.Module:
        """The module `lm_forward` calls with inputs_embeds + position_ids (and `generate` runs on)."""

    @property
    @abc.abstractmethod
    def video_token(self) -> str:
        """The placeholder token repeated once per video token in `input_ids`."""

    @property
    @abc.abstractmethod
    def video_markup(self) -> str:
        """What a `{"type": "video"}` item renders as in the chat text."""

    @abc.abstractmethod
    def tokens_per_group(self, frame_size: tuple[int, int] | None = None) -> int:
        """Video tokens per group of `frames_per_group` frames of size (H, W)."""

    @abc.abstractmethod
    def video_layout(self, num_frames: int, frame_size: tuple[int, int] | None = None,
                     timestamps: Sequence[float] | None = None) -> VideoLayout:
        """The layout `build_inputs` needs for `num_frames` frames of size (H, W)."""

    @abc.abstractmethod
    def encode_frames(self, frames, batch_size: int | None = None) -> torch.Tensor:
        """uint8 frames [N, H, W, 3] → video embeddings [n_tokens, d_lm] (groups encoded independently)."""

    @abc.abstractmethod
    def build_position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                           layouts: Sequence[VideoLayout | None] | None = None) -> torch.Tensor:
        """Position ids of full sequences ([B, S] or [3, B, S]); slice them for sequence parallelism."""

    @abc.abstractmethod
    def save(self, directory: str | Path) -> Path:
        """Write the checkpoint directory (safetensors + configs + tokenizer + lvr_config.json)."""

    def _expand_video(self, layout: VideoLayout) -> list[int]:
        """Token ids that replace the single placeholder (placeholder id at every video slot)."""
        return [self.video_token_id] * layout.num_tokens

    # ------------------------------------------------------------------ shared behaviour
    @property
    def language_model(self) -> nn.Module:
        """The decoder stack alone (no LM head, no vision): where to switch the attention
        implementation for sequence parallelism without touching the vision tower."""
        lm = self.causal_lm
        inner = getattr(lm, "model", lm)
        return getattr(inner, "language_model", inner)

    @property
    def input_embeddings(self) -> nn.Module:
        return self.causal_lm.get_input_embeddings()

    @property
    def video_token_id(self) -> int:
        self._need_tokenizer()
        tid = self.tokenizer.convert_tokens_to_ids(self.video_token)
        if tid is None or tid == self.tokenizer.unk_token_id:
            raise ValueError(f"tokenizer has no video placeholder token {self.video_token!r}")
        return int(tid)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.input_embeddings.weight.dtype

    @property
    def hidden_size(self) -> int:
        # ZeRO-3 empties partitioned weights (shape [0]); their full shape is kept in ds_shape
        w = self.input_embeddings.weight
        return getattr(w, "ds_shape", w.shape)[1]

    def _need_tokenizer(self) -> None:
        if self.tokenizer is None:
            raise ValueError(f"{type(self).__name__} has no tokenizer (built without one); pass tokenizer=…")

    def parameter_counts(self) -> dict[str, int]:
        return {"total": sum(p.numel() for p in self.parameters())}

    def lm_forward(self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor,
                   attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, S, V] of the causal LM called with inputs_embeds and explicit position ids."""
        out = self.causal_lm(inputs_embeds=inputs_embeds, position_ids=position_ids,
                             attention_mask=attention_mask, use_cache=False)
        return out.logits

    def build_inputs(self, messages: list[dict], video_embeds: torch.Tensor | None = None, *,
                     layout: VideoLayout | None = None, train: bool = False,
                     add_generation_prompt: bool | None = None) -> ModelInputs:
        """Tokenise a conversation, expand the video placeholder and splice in `video_embeds`.

        `train=True` returns labels (assistant tokens only). `add_generation_prompt` defaults to
        "the last message is not from the assistant".
        """
        self._need_tokenizer()
        if add_generation_prompt is None:
            add_generation_prompt = messages[-1].get("role") != "assistant"
        text, spans = render_chat(messages, video_markup=self.video_markup,
                                  add_generation_prompt=add_generation_prompt)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids: list[int] = list(enc["input_ids"])
        labels: list[int] = [IGNORE_INDEX] * len(ids)
        if train:
            if not spans:
                raise ValueError("build_inputs(train=True) needs an assistant message to train on")
            for i, (start, _end) in enumerate(enc["offset_mapping"]):
                if any(s <= start < e for s, e in spans):
                    labels[i] = ids[i]
        vid = self.video_token_id
        slots = [i for i, t in enumerate(ids) if t == vid]
        if video_embeds is None:
            if slots:
                raise ValueError("the messages contain a video item but no video_embeds were given")
        else:
            if len(slots) != 1:
                raise ValueError(f"expected exactly one video placeholder {self.video_token!r} in the prompt, "
                                 f"found {len(slots)} (add one {{'type': 'video'}} item to a user message)")
            if video_embeds.dim() != 2 or video_embeds.shape[1] != self.hidden_size:
                raise ValueError(f"video_embeds must be [n_tokens, {self.hidden_size}], "
                                 f"got {tuple(video_embeds.shape)}")
            if layout is None:
                layout = self.video_layout_for_tokens(video_embeds.shape[0])
            if layout.num_tokens != video_embeds.shape[0]:
                raise ValueError(f"layout expects {layout.num_tokens} video tokens, video_embeds has "
                                 f"{video_embeds.shape[0]}")
            at = slots[0]
            expansion = self._expand_video(layout)
            ids = ids[:at] + expansion + ids[at + 1:]
            labels = labels[:at] + [IGNORE_INDEX] * len(expansion) + labels[at + 1:]
        device = self.device
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        embeds = self.input_embeddings(input_ids)
        if video_embeds is not None:
            embeds = self.splice_video(embeds, input_ids == vid, video_embeds)
        label_ids = torch.tensor([labels], dtype=torch.long, device=device) if train else None
        if train and video_embeds is not None and self.frame_lookback:
            input_ids, embeds, label_ids = lookback.look_back_targets(self, input_ids, embeds, label_ids, IGNORE_INDEX)
        attention_mask = torch.ones_like(input_ids)
        layouts = [layout if video_embeds is not None else None]
        position_ids = self.build_position_ids(input_ids, attention_mask, layouts)
        return ModelInputs(
            inputs_embeds=embeds, position_ids=position_ids, attention_mask=attention_mask, input_ids=input_ids,
            labels=label_ids, layouts=layouts)

    def splice_video(self, embeds: torch.Tensor, slots: torch.Tensor, video_embeds: torch.Tensor) -> torch.Tensor:
        """`embeds` [B, S, D] with the video slots ([B, S] bool, in order) replaced by `video_embeds` [N, D]."""
        return embeds.masked_scatter(slots.unsqueeze(-1), video_embeds.to(device=embeds.device, dtype=embeds.dtype))

    def video_layout_for_tokens(self, n_tokens: int) -> VideoLayout:
        """Layout from a token count alone (only where the token count determines it)."""
        raise ValueError(f"{type(self).__name__}.build_inputs needs layout=model.video_layout(num_frames, "
                         f"frame_size, timestamps) ({n_tokens} video tokens do not determine it)")

    def prepare(self, frames, messages: list[dict], *, timestamps: Sequence[float] | None = None,
                train: bool = False, add_generation_prompt: bool | None = None) -> ModelInputs:
        """encode_frames + video_layout + build_inputs in one call (frames may be None for text only)."""
        if frames is None:
            return self.build_inputs(messages, None, train=train, add_generation_prompt=add_generation_prompt)
        embeds = self.encode_frames(frames)
        layout = self.video_layout(len(frames), tuple(frames.shape[1:3]), timestamps)
        return self.build_inputs(messages, embeds, layout=layout, train=train,
                                 add_generation_prompt=add_generation_prompt)

    def response_logprobs(self, inputs: ModelInputs, response_ids: torch.Tensor,
                          response_mask: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Per-token log-probs [B, R] of `response_ids` following the (left-padded) prompts in `inputs`.

        Positions continue from each prompt's last token exactly as in generation. Padding in
        the response (mask 0) gets log-prob 0. `temperature` divides the logits (as in sampling).
        """
        if response_ids.dim() != 2 or response_ids.shape[0] != inputs.batch_size:
            raise ValueError(f"response_ids must be [{inputs.batch_size}, R], got {tuple(response_ids.shape)}")
        r = response_ids.shape[1]
        if response_mask is None:
            response_mask = torch.ones_like(response_ids)
        if self.frame_lookback:
            return self._lookback_logprobs(inputs, response_ids, response_mask, temperature)
        resp_embeds = self.input_embeddings(response_ids).to(inputs.inputs_embeds.dtype)
        embeds = torch.cat([inputs.inputs_embeds, resp_embeds], dim=1)
        attn = torch.cat([inputs.attention_mask, response_mask.to(inputs.attention_mask.dtype)], dim=1)
        pos = torch.cat([inputs.position_ids,
                         next_positions(inputs.position_ids, inputs.attention_mask, r)], dim=-1)
        logits = self.lm_forward(embeds, pos, attn)
        p = inputs.seq_len
        logits = logits[:, p - 1:p + r - 1].float()
        if temperature != 1.0:
            logits = logits / temperature
        logps = torch.log_softmax(logits, dim=-1).gather(-1, response_ids.unsqueeze(-1)).squeeze(-1)
        return logps * response_mask.to(logps.dtype)

    def _lookback_logprobs(self, inputs: ModelInputs, response_ids: torch.Tensor, response_mask: torch.Tensor,
                           temperature: float) -> torch.Tensor:
        """`response_logprobs` with look-back slots after the responses' frame tags (lvr.model.lookback): each
        row's response is expanded, the rows right-padded, and every original token scored where it stands."""
        responses = [response_ids[r, :int(response_mask[r].sum())].tolist() for r in range(inputs.batch_size)]
        tail, seen, wheres = lookback.expanded_responses(self, inputs.input_ids, inputs.inputs_embeds, responses)
        mask = inputs.attention_mask
        logits = self.lm_forward(torch.cat([inputs.inputs_embeds, tail], 1),
                                 torch.cat([inputs.position_ids, next_positions(inputs.position_ids, mask,
                                                                                tail.shape[1])], -1),
                                 torch.cat([mask, seen.to(mask.dtype)], 1)).float()
        if temperature != 1.0:
            logits = logits / temperature
        out = torch.zeros(response_ids.shape, dtype=logits.dtype, device=logits.device)
        for r, where in enumerate(wheres):
            if where:
                lp = torch.log_softmax(logits[r, torch.tensor(where, device=logits.device) + inputs.seq_len - 1], -1)
                out[r, :len(where)] = lp.gather(-1, response_ids[r, :len(where), None].to(lp.device)).squeeze(-1)
        return out

    def generate_ids(self, inputs: ModelInputs, **generate_kwargs) -> torch.Tensor:
        """`causal_lm.generate(inputs_embeds=…, attention_mask=…, position_ids=…)` → new token ids [B, T]."""
        self._need_tokenizer()
        kwargs = dict(pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.eos_token_ids())
        kwargs.update(generate_kwargs)
        if self.frame_lookback:
            return lookback.lookback_generate(self, inputs, **kwargs)
        out = self.causal_lm.generate(inputs_embeds=inputs.inputs_embeds, attention_mask=inputs.attention_mask,
                                      position_ids=inputs.position_ids, **kwargs)
        return out  # with inputs_embeds (no input_ids) generate returns only the new tokens

    def eos_token_ids(self) -> list[int]:
        self._need_tokenizer()
        ids = []
        for tok in ("<|im_end|>", self.tokenizer.eos_token):
            if tok is None:
                continue
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if tid is not None and tid != self.tokenizer.unk_token_id and tid not in ids:
                ids.append(int(tid))
        return ids

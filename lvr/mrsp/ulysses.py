"""Ulysses sequence-parallel attention, plugged in through transformers' AttentionInterface.

    enable_ulysses(model)        # once: the LM's attention implementation becomes "lvr_ulysses"
    out = model.causal_lm(inputs_embeds=local_shard, position_ids=local_positions,
                          attention_mask=SKIP_MASKS, lvr_sp=UlyssesContext(sp, key_valid), ...)

Each rank holds a contiguous shard of t = T/S tokens. In every attention layer the query, key
and value heads go through ONE all-to-all that scatters heads and gathers the sequence
([B, H, t, D] → [B, H/S, T, D]), full-sequence attention runs locally on H/S query heads and
Hkv/S key-value heads (GQA keeps its head mapping because heads are split in contiguous
blocks), and a second all-to-all brings the output back to the rank's own tokens
([B, T, H/S, D] → [B, t, H, D]). Everything else in the model is per-token, so it runs on the
shard unchanged; positions are computed on the whole sequence by the caller and sliced.

Masking is built here on the gathered sequence: causal, plus key padding from the context's
`key_valid` [B, T] (every query also sees itself, so padded rows stay finite). With no padding
before the last real token of any row (batch 1, or right padding only) it is sdpa's `is_causal`
path (flash kernels, O(T) memory); otherwise an explicit boolean mask [B, 1, T, T].

The registered function behaves exactly like "sdpa" when called without `lvr_sp` (plain
forwards, `generate`), and its mask function is sdpa's, so a model can stay switched. Head
counts not divisible by S, sliding-window layers and non-sdpa base implementations raise a
clear error. No model file is patched.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .groups import SPGroup, all_to_all

ATTN_NAME = "lvr_ulysses"
SKIP_MASKS = {"full_attention": None, "sliding_attention": None}   # pass as attention_mask: no mask building
_BASES = ("sdpa", ATTN_NAME)


@dataclass
class UlyssesContext:
    """What the attention function needs besides q/k/v: the group and the full-sequence key mask."""

    sp: SPGroup
    key_valid: torch.Tensor | None          # [B, T] bool over the padded full sequence (None: all valid)
    _mask: torch.Tensor | None = field(default=None, repr=False)
    _mask_ready: bool = field(default=False, repr=False)

    def full_mask(self, device) -> torch.Tensor | None:
        """None (pure causal) or the boolean [B, 1, T, T] mask; built once per forward."""
        if self._mask_ready:
            return self._mask
        kv = self.key_valid
        mask = None
        if kv is not None:
            kv = kv.to(device=device, dtype=torch.bool)
            # valid keys form a prefix of every row → causal alone is exact for every valid query
            prefix_ok = not bool((~kv[:, :-1] & kv[:, 1:]).any())
            if not prefix_ok:
                t = kv.shape[1]
                ar = torch.arange(t, device=device)
                causal = ar.view(t, 1) >= ar.view(1, t)
                diag = torch.eye(t, dtype=torch.bool, device=device)
                mask = (causal.unsqueeze(0) & (kv.unsqueeze(1) | diag.unsqueeze(0))).unsqueeze(1)
        self._mask, self._mask_ready = mask, True
        return mask


def _heads_to_ranks(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, H, t, D] → [S, B, H/S, t, D] (head block j goes to rank j)."""
    b, h, t, d = x.shape
    return x.view(b, size, h // size, t, d).permute(1, 0, 2, 3, 4)


def seq_to_heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, sp: SPGroup):
    """Local tokens, all heads → all tokens, this rank's heads (one all-to-all for q, k and v)."""
    s = sp.size
    hq, hk = q.shape[1], k.shape[1]
    packed = torch.cat([_heads_to_ranks(q, s), _heads_to_ranks(k, s), _heads_to_ranks(v, s)], dim=2)
    got = all_to_all(packed, sp)                       # [S(src = sequence block), B, h, t, D]
    sq, sk = hq // s, hk // s
    b, t, d = got.shape[1], got.shape[3], got.shape[4]

    def join(x):                                       # [S, B, h, t, D] → [B, h, S*t, D]
        return x.permute(1, 2, 0, 3, 4).reshape(b, x.shape[2], s * t, d)

    return join(got[:, :, :sq]), join(got[:, :, sq:sq + sk]), join(got[:, :, sq + sk:])


def heads_to_seq(out: torch.Tensor, sp: SPGroup) -> torch.Tensor:
    """Attention output [B, T, H/S, D] (all tokens, this rank's heads) → [B, t, H, D]."""
    s = sp.size
    b, big_t, h, d = out.shape
    t = big_t // s
    x = out.view(b, s, t, h, d).permute(1, 0, 2, 3, 4)   # sequence block j goes to rank j
    got = all_to_all(x, sp)                               # [S(src = head block), B, t, h, D]
    return got.permute(1, 2, 0, 3, 4).reshape(b, t, s * h, d)


def check_heads(num_heads: int, num_kv_heads: int, size: int, where: str = "") -> None:
    if num_heads % size or num_kv_heads % size:
        raise ValueError(f"Ulysses sequence parallelism splits attention heads over the SP group: "
                         f"{num_heads} query heads and {num_kv_heads} key-value heads{where} must both be "
                         f"divisible by sp_size={size} (choose sp_size among the common divisors)")


def ulysses_attention(module, query, key, value, attention_mask, *, lvr_sp: UlyssesContext | None = None,
                      **kwargs):
    """The AttentionInterface function (query [B, H, t, D]; returns ([B, t, H, D], None))."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if lvr_sp is None or lvr_sp.sp.size == 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if kwargs.get("sliding_window") is not None:
        raise ValueError(f"{type(module).__name__} uses sliding-window attention, which Ulysses sequence "
                         "parallelism here does not support (use full attention layers or sp_size=1)")
    if attention_mask is not None:
        raise ValueError("Ulysses attention builds its own full-sequence mask: call the model with "
                         "attention_mask=lvr.mrsp.ulysses.SKIP_MASKS under sequence parallelism")
    sp = lvr_sp.sp
    check_heads(query.shape[1], key.shape[1], sp.size, f" ({type(module).__name__})")
    q, k, v = seq_to_heads(query, key, value, sp)
    mask = lvr_sp.full_mask(q.device)
    kwargs.pop("position_ids", None)
    kwargs.pop("is_causal", None)
    out, _ = sdpa_attention_forward(module, q, k, v, mask, is_causal=mask is None, **kwargs)
    return heads_to_seq(out, sp), None


def register() -> None:
    """Register "lvr_ulysses" with transformers (idempotent): attention = ours, masks = sdpa's."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTN_NAME, ulysses_attention)
    AttentionMaskInterface.register(ATTN_NAME, sdpa_mask)


def _lm_config(model):
    lm = getattr(model, "language_model", model)
    return lm, lm.config


def enable_ulysses(model) -> None:
    """Switch the LM decoder of `model` (a VideoLM, or any HF causal LM) to "lvr_ulysses".

    Only the language model changes (a vision tower keeps its own attention). The model must be
    on "sdpa" attention (the default); outside sequence parallelism it still computes sdpa.
    """
    register()
    lm, cfg = _lm_config(model)
    current = getattr(cfg, "_attn_implementation", None)
    if current == ATTN_NAME:
        return
    if current not in _BASES:
        raise ValueError(f"sequence parallelism needs the LM on attn_implementation='sdpa', this one uses "
                         f"{current!r} (load the model with attn_implementation='sdpa')")
    if hasattr(lm, "set_attn_implementation"):
        lm.set_attn_implementation(ATTN_NAME)
    else:
        cfg._attn_implementation = ATTN_NAME
    if getattr(cfg, "_attn_implementation", None) != ATTN_NAME:
        raise RuntimeError(f"could not switch {type(lm).__name__} to {ATTN_NAME!r} attention")


def lm_heads(model) -> tuple[int, int]:
    """(query heads, key-value heads) of the LM decoder (for an early, clear error)."""
    _, cfg = _lm_config(model)
    h = int(cfg.num_attention_heads)
    return h, int(getattr(cfg, "num_key_value_heads", None) or h)

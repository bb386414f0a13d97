"""Conclusion training: corpus-style questions on fresh worlds, text only, with their frame lines given and only the
"So …" conclusion and the answer as targets. It teaches the step from what the frames showed to the answer.

    batches = ConclusionBatches(model)                 # any model with a tokenizer; no frames are rendered
    loss, ok = batches.forward(world_items(seed, WorldSpec(), 8))   # ok: teacher-forced exact match per item

Why: the recipe's CoT-SFT models read robots off the frames they name (93-96 % of those claims are true) but
their answer does not follow their reasoning. Given the gold frame lines and the gold conclusion, variant l's
CoT-SFT chose the option that conclusion names on 56.5 % of the 186 answerable held-out items
(docs/benchmarks.md). Frame reasoning on real frames costs a render and a tower pass per frame; this costs
neither, so a micro-batch can hold many fresh worlds. The lines are context and carry no loss: the model must not
learn to write frame lines without frames.

CoT-SFT adds `replay.text_items` of these to every micro-batch (lvr.train.lookups.LookupReplay).
"""
from __future__ import annotations

import torch

from lvr.model.base import IGNORE_INDEX, collate
from lvr.model.chat_format import render_chat
from lvr.model.prompting import answer_text, build_messages, format_target

from .token_loss import answer_token_id, token_loss

CONCLUSION_START = "\nSo "          # frame_reasoning's last line (lvr.synth.visibility.frame_reasoning)


def conclusion_inputs(model, item):
    """One text-only chat row for a WorldItem, its labels only from the conclusion line on."""
    target = format_target(item.reasoning, answer_text(item.answer, list(item.options), model.answer_format))
    messages = build_messages(item.question, list(item.options), think=True, video=False,
                              answer_format=model.answer_format, target=target)
    row = model.build_inputs(messages, None, train=True)
    text, _ = render_chat(messages, video_markup=model.video_markup, add_generation_prompt=False)
    if CONCLUSION_START not in text:
        raise ValueError(f"conclusion training needs reasoning that ends in a 'So …' line, got {item.reasoning!r}")
    cut = text.rindex(CONCLUSION_START) + len(CONCLUSION_START) - 1     # "So" itself is no target: trained to
    # start the conclusion on text alone, a model learns to skip the frame lines (variant m's first probe wrote
    # none on 197 of 841 held-out items)
    offsets = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(offsets) != row.labels.shape[1]:
        raise RuntimeError("the chat's tokens and the model's inputs differ in length (a text-only row has no video)")
    before = torch.tensor([start < cut for start, _ in offsets])
    row.labels[0, before] = IGNORE_INDEX
    return row


class ConclusionBatches:
    """Scores WorldItems' conclusions and answers from their frame lines, text only."""

    def __init__(self, model, answer_weight: float = 1.0):
        self.model, self.answer_weight, self.answer_id = model, answer_weight, answer_token_id(model)

    def forward(self, items: list) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean target-token loss, per-item exact match of the greedy conclusion and answer tokens)."""
        m = self.model
        inputs = collate([conclusion_inputs(m, it) for it in items], padding_side="right",
                         pad_token_id=m.tokenizer.pad_token_id or 0)
        first = int((inputs.labels != IGNORE_INDEX).float().argmax(1).min())     # logits from the first target on
        keep = inputs.labels.shape[1] - first + 1
        out = m.causal_lm(inputs_embeds=inputs.inputs_embeds, position_ids=inputs.position_ids,
                          attention_mask=inputs.attention_mask, use_cache=False, logits_to_keep=keep)
        logits, labels = out.logits[:, :-1].float(), inputs.labels[:, first:]
        loss = token_loss(logits, labels, self.answer_id, self.answer_weight)[0]
        ok = (logits.argmax(-1) == labels) | (labels == IGNORE_INDEX)
        return loss, ok.all(1)

"""ChatML rendering of messages, with the character spans of assistant turns (for SFT labels).

    text, spans = render_chat(messages, video_markup="<video>", add_generation_prompt=True)

Messages are `{"role": "system"|"user"|"assistant", "content": str | list[item]}` where an item
is `{"type": "text", "text": …}` or `{"type": "video"}`. A video item renders as the model's
`video_markup` (composite: its placeholder token; Qwen2.5-VL:
`<|vision_start|><|video_pad|><|vision_end|>`), which `build_inputs` later expands to the
video's tokens. `chat_template(video_markup)` is the same format as a Jinja template, saved with
every tokenizer so `tokenizer.apply_chat_template` renders identically (a test checks this).
"""
from __future__ import annotations

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
ROLES = ("system", "user", "assistant")


def _content_text(content, video_markup: str, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, (list, tuple)):
        raise ValueError(f"{where}: content must be a string or a list of items, got {type(content).__name__}")
    parts = []
    for j, item in enumerate(content):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "video":
            parts.append(video_markup)
        elif kind == "text":
            parts.append(str(item.get("text", "")))
        else:
            raise ValueError(f"{where}, item {j}: expected {{'type': 'text'|'video'}}, got {item!r}")
    return "".join(parts)


def render_chat(messages: list[dict], *, video_markup: str, add_generation_prompt: bool = False
                ) -> tuple[str, list[tuple[int, int]]]:
    """Render ChatML text; return it with the [start, end) char spans to train on.

    Each assistant turn's span covers its content and the closing `<|im_end|>` (so the model
    learns to stop), not the `<|im_start|>assistant\\n` header.
    """
    if not messages:
        raise ValueError("messages is empty")
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role not in ROLES:
            raise ValueError(f"message {i}: role must be one of {ROLES}, got {role!r}")
        header = f"{IM_START}{role}\n"
        body = _content_text(msg.get("content", ""), video_markup, f"message {i} ({role})")
        out.append(header)
        pos += len(header)
        start = pos
        out.append(body + IM_END)
        pos += len(body) + len(IM_END)
        if role == "assistant":
            spans.append((start, pos))
        out.append("\n")
        pos += 1
    if add_generation_prompt:
        out.append(f"{IM_START}assistant\n")
    return "".join(out), spans


def chat_template(video_markup: str) -> str:
    """Jinja chat template equivalent to `render_chat` (for `tokenizer.apply_chat_template`)."""
    vm = video_markup.replace("'", "\\'")
    return (
        "{%- for message in messages -%}"
        "{{ '<|im_start|>' + message['role'] + '\\n' }}"
        "{%- if message['content'] is string -%}{{ message['content'] }}"
        "{%- else -%}{%- for item in message['content'] -%}"
        "{%- if item['type'] == 'video' -%}{{ '" + vm + "' }}"
        "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}"
        "{%- endfor -%}{%- endif -%}"
        "{{ '<|im_end|>\\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
    )

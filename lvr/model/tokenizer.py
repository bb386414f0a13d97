"""Tokenizers: a byte-level BPE trained offline for tiny models, and special-token plumbing.

    tok = train_tiny_tokenizer(kind="composite", extra_texts=workspace_texts(ws), vocab_size=3000)
    ensure_tokens(tok, llm, ["<video>"])      # add missing tokens, resize the LM's embeddings

The tiny tokenizer is trained with `tokenizers` on a built-in corpus of reasoning-style video
QA text (plus, optionally, a workspace's QA and caption texts) and wrapped in
`PreTrainedTokenizerFast` with the ChatML chat template, `<|im_end|>` as eos, `<|endoftext|>`
as pad, control tokens as special tokens and the reasoning tags (<think>, </think>, <answer>,
</answer>) as single, non-special added tokens (so decoding with skip_special_tokens keeps them).
"""
from __future__ import annotations

import random
from typing import Iterable, Iterator, Sequence

from .chat_format import IM_END, IM_START, chat_template
from .prompting import REASONING_TAGS, SYSTEM_PROMPT_NO_THINK, SYSTEM_PROMPT_THINK, format_mcq, format_target

PAD_TOKEN = "<|endoftext|>"
COMPOSITE_VIDEO_TOKEN = "<video>"
QWEN_VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|video_pad|>", "<|image_pad|>")

_SUBJECTS = ["the red car", "a woman in a blue coat", "the chef", "two children", "the dog", "a cyclist",
             "the old man", "the robot", "a group of students", "the player", "the camera", "the boat"]
_ACTIONS = ["opens the door", "picks up a cup", "walks to the kitchen", "turns left", "starts the engine",
            "hands over a key", "sits on the bench", "waves at the crowd", "closes the window",
            "places the box on the table", "runs across the street", "reads a letter", "cuts the vegetables"]
_PLACES = ["in the kitchen", "on the street", "near the river", "inside the store", "at the station",
           "in the garden", "on the stage", "in the office", "at the beach", "in the hallway"]
_TIMES = ["At the beginning of the video", "From 0:10 to 0:20", "Later", "After that", "Near the end",
          "In the middle of the video", "Between 1:05 and 1:40", "Finally", "Earlier", "At 2:30"]
_NOUNS = ("apple bag ball bank basket bicycle bird blanket boat book bottle bowl box bread bridge brush bucket "
          "building bus button cake camera candle car card carpet cat chair cheese city clock cloud coat computer "
          "cookie counter cup curtain desk door dress drum egg engine envelope field fire fish flag floor flower "
          "forest fork fountain garage gate glass glove guitar hammer hat helmet hill horse house ice island jacket "
          "key kite knife ladder lake lamp laptop leaf letter light map market mirror money moon mountain mug "
          "necklace newspaper notebook ocean orange oven package painting pan paper park pen pencil phone piano "
          "picture pillow plane plant plate pocket pot puzzle radio rain ring road rock roof rope sand scarf "
          "school screen shelf ship shirt shoe shop sign sink snow sofa spoon stairs star stone street sun table "
          "teacher telephone tent ticket tire towel tower toy track train tree truck umbrella vase wall wallet "
          "watch water wheel window wire wood yard referee audience suitcase microphone").split()
_VERBS = ("arrives carries catches chases checks cleans climbs closes collects cooks crosses dances delivers "
          "drops eats enters escapes explains falls fixes follows grabs greets hides holds hugs jumps kicks "
          "knocks laughs leaves lifts listens locks looks loses moves notices opens paints passes plays points "
          "pours pulls pushes reaches repairs returns rides rolls searches shouts shows sings sits sleeps slips "
          "smiles steals stops swims takes throws touches turns waits walks washes watches wins writes").split()
_ADJS = ("angry bright broken busy calm careful cheerful clean cold crowded curious dark dirty distant empty "
         "excited famous fast friendly frozen gentle golden happy heavy hidden huge hungry large late loud "
         "lucky narrow nervous noisy old patient purple quiet rapid rough sad scared sharp shiny silent slow "
         "small soft strange sudden surprised tall tired tiny warm wet wide wooden worried yellow young").split()

_QUESTIONS = ["What does {s} do after {s2} {a}?", "Why does {s} {a2}?", "Where is {s} when {s2} {a}?",
              "What is the goal of {s} in the video?", "Which event happens first?",
              "How does the story end?", "What happens right before {s} {a}?"]


def builtin_corpus(n: int = 1500, seed: int = 0) -> list[str]:
    """Deterministic reasoning-style video QA text (questions, options, <think> reasoning, answers)."""
    rng = random.Random(seed)
    texts = [SYSTEM_PROMPT_THINK, SYSTEM_PROMPT_NO_THINK]
    for _ in range(n):
        s, s2 = rng.sample(_SUBJECTS, 2)
        a, a2 = rng.sample(_ACTIONS, 2)
        q = rng.choice(_QUESTIONS).format(s=s, s2=s2, a=a, a2=a2.split(" ", 1)[0] + " " + a2.split(" ", 1)[1])
        opts = [f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_ACTIONS)} {rng.choice(_PLACES)}"
                for _ in range(4)]
        steps = [f"{rng.choice(_TIMES)}, {rng.choice(_SUBJECTS)} {rng.choice(_ACTIONS)} {rng.choice(_PLACES)}."
                 for _ in range(rng.randint(2, 5))]
        reasoning = " ".join(steps) + f" So the answer is option {'ABCD'[rng.randrange(4)]}."
        texts.append(format_mcq(q, opts))
        texts.append(format_target(reasoning, "ABCD"[rng.randrange(4)]))
        texts.append(" ".join(f"The {rng.choice(_ADJS)} {rng.choice(_NOUNS)} {rng.choice(_VERBS)} near the "
                              f"{rng.choice(_ADJS)} {rng.choice(_NOUNS)} at "
                              f"{rng.randint(0, 59)}:{rng.randint(0, 59):02d}."
                              for _ in range(3)))
        texts.append(f"<t={rng.uniform(0, 600):.1f}s> " + " ".join(steps))
        texts.append(f"{IM_START}system\n{SYSTEM_PROMPT_THINK}{IM_END}\n{IM_START}user\n{q}{IM_END}\n"
                     f"{IM_START}assistant\n")
    return texts


def workspace_texts(ws, max_items: int = 20000) -> list[str]:
    """QA (question, options, reasoning) and clip-caption texts of a workspace (via the store API)."""
    texts: list[str] = []
    page = 1
    while len(texts) < max_items:
        items, total = ws.query_qa(page=page, page_size=500)
        for it in items:
            texts.append(format_mcq(it.get("question") or "", it.get("options") or []))
            if it.get("reasoning"):
                texts.append(format_target(it["reasoning"], it.get("answer") or "A"))
        if not items or page * 500 >= total:
            break
        page += 1
    for video in ws.list_videos():
        for clip in ws.clips(video["id"]):
            if clip.get("caption"):
                texts.append(clip["caption"])
        if len(texts) >= max_items:
            break
    return texts[:max_items]


def _iter_texts(texts: Iterable[str]) -> Iterator[str]:
    for t in texts:
        if t:
            yield t


def train_tiny_tokenizer(kind: str = "composite", extra_texts: Sequence[str] = (), vocab_size: int = 3000,
                         seed: int = 0):
    """Train a byte-level BPE offline and wrap it as a `PreTrainedTokenizerFast` with a chat template."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if kind in ("composite", "lvr_composite"):
        video_markup, vision = COMPOSITE_VIDEO_TOKEN, (COMPOSITE_VIDEO_TOKEN,)
    elif kind in ("qwen2_5_vl", "qwen3_vl"):
        video_markup, vision = "<|vision_start|><|video_pad|><|vision_end|>", QWEN_VISION_TOKENS
    else:
        raise ValueError(f"kind must be 'composite', 'qwen2_5_vl' or 'qwen3_vl', got {kind!r}")
    special = [PAD_TOKEN, IM_START, IM_END, *vision]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = builtin_corpus(seed=seed) + list(extra_texts)
    tok.train_from_iterator(_iter_texts(corpus), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in REASONING_TAGS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=IM_END, pad_token=PAD_TOKEN, unk_token=None,
        chat_template=chat_template(video_markup), padding_side="left", clean_up_tokenization_spaces=False,
        model_max_length=32768)
    return fast


def ensure_tokens(tokenizer, llm, tokens: Sequence[str], special: bool = True) -> list[str]:
    """Add tokens the tokenizer lacks; grow the LM's embeddings if the ids no longer fit. Returns the added."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in tokens if t not in vocab]
    if missing:
        if special:
            tokenizer.add_special_tokens({"additional_special_tokens": missing},
                                         replace_extra_special_tokens=False)
        else:
            tokenizer.add_tokens(missing)
    if llm is not None and len(tokenizer) > llm.get_input_embeddings().weight.shape[0]:
        llm.resize_token_embeddings(len(tokenizer))
    return missing

"""lvr.datagen: long videos → clip captions → reasoning QA items, resumable, filtered, exportable.

    from lvr.datagen import (BackendConfig, CaptionConfig, GenerateConfig, caption_clips, generate_qa,
                             mark_duplicates, balance_letters, mark_difficulty, export_items, import_file)
    llm = BackendConfig.from_env(kind="openai", model="gpt-4o-mini")    # LVR_LLM_BASE_URL / LVR_LLM_API_KEY
    caption_clips(ws, llm, CaptionConfig(frames=8))                      # step 2 of the paper's pipeline
    generate_qa(ws, llm, GenerateConfig(per_category=4))                 # steps 3-5: QA + rewrite
    mark_duplicates(ws, threshold=0.9); balance_letters(ws, split="rl")  # filters
    export_items(ws, "sft.jsonl", split="sft")                           # LongVideo-Reason rows

Command line: `lvr caption`, `lvr generate` (`--failures` lists failed units), `lvr filter`,
`lvr export`, `lvr import`; a loopback OpenAI-compatible mock: `python -m lvr.datagen.mock_server`.

Modules: config (typed configs), protocols (TextBackend / Captioner / CaptionRequest), backends
(factories + registry), openai_captioner (vision captions through lvr.llm's client), local_backend
(transformers), ground_truth, images (JPEG), prompts, parsing, validation, runner (job rows,
progress, worker pool), captioning, generation, dedup, balance, schema_check, export, importer,
release (the LongVideo-Reason release's quirks: categories file, flags), mock_server.
Homes elsewhere, re-exported here: the LLM client, its config, requests, results, errors and retries
(lvr.llm), time stamps (lvr.video.timefmt), category names (lvr.store.categories), difficulty
marks (lvr.store.difficulty), the answer key's skew (lvr.store.answer_key).
"""
from lvr.datagen.backends import make_captioner, make_text_backend, register_captioner, register_text_backend
from lvr.datagen.balance import balance_letters, permute_item, remap_letters
from lvr.datagen.captioning import caption_clips, caption_clips_async
from lvr.datagen.config import CaptionConfig, GenerateConfig
from lvr.datagen.dedup import SentenceEmbedder, mark_duplicates
from lvr.datagen.export import export_items, export_rows, item_to_row
from lvr.datagen.generation import failures, generate_qa, generate_qa_async
from lvr.datagen.importer import import_file
from lvr.datagen.parsing import ParseError, parse_item, parse_rewrite
from lvr.datagen.protocols import Captioner, CaptionRequest, TextBackend
from lvr.datagen.runner import JobReport
from lvr.llm import BackendConfig, BackendError, GenRequest, GenResult
from lvr.store.categories import normalize_category
from lvr.store.difficulty import difficulty_flag, mark_difficulty

__all__ = [
    "BackendConfig", "CaptionConfig", "GenerateConfig", "BackendError", "Captioner", "CaptionRequest", "GenRequest",
    "GenResult", "TextBackend", "JobReport", "ParseError", "SentenceEmbedder",
    "balance_letters", "caption_clips", "caption_clips_async", "difficulty_flag", "export_items", "export_rows",
    "failures", "generate_qa", "generate_qa_async", "import_file", "item_to_row", "make_captioner",
    "make_text_backend", "mark_difficulty", "mark_duplicates", "normalize_category", "parse_item", "parse_rewrite",
    "permute_item", "register_captioner", "register_text_backend", "remap_letters",
]

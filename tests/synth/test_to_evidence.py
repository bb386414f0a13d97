"""`to_evidence` reasoning (lvr.synth.visibility): every frame's line up to the frame that shows the last fact the
answer needs, so the conclusion reads the line just written; to the end where the answer can change until then."""
from __future__ import annotations

import pytest

from lvr.synth.qa_core import TEMPLATES
from lvr.synth.visibility import answerable, evidence_end, frame_reasoning, item_conclusion

UNTIL_END = {"final_zone", "count_pickups", "count_collisions", "count_zone_drops", "longest_zone", "carry_longest",
             "true_statement"}


def uniform(duration: float, n: int) -> list[float]:
    return [(k + 0.5) * duration / n for k in range(n)]


def answerable_items(corpus, n_frames: int):
    for it in corpus["eval"] + corpus["sft"]:
        log = corpus["logs"][it["video_id"]]
        times = uniform(log.duration, n_frames)
        if answerable(it["meta"], log, times):
            yield it, log, times


def test_only_final_states_counts_and_longests_wait_for_the_end():
    assert {n for n, t in TEMPLATES.items() if t.until_end} == UNTIL_END


def test_to_evidence_is_every_frames_lines_cut_at_the_evidence_then_the_same_conclusion(corpus):
    cut = whole = 0
    for it, log, times in answerable_items(corpus, 16):
        conclusion = item_conclusion(it["meta"], it["reasoning"])
        every = frame_reasoning(log, it["meta"], times, conclusion, lines="every_frame").splitlines()
        short = frame_reasoning(log, it["meta"], times, conclusion, lines="to_evidence").splitlines()
        assert short[:-1] == every[:len(short) - 1] and short[-1] == every[-1]
        end = evidence_end(log, it["meta"], times)
        assert len(short) - 1 == sum(t <= end for t in times)
        if it["meta"]["template"] in UNTIL_END:
            assert end == max(times)
        cut += end < max(times)
        whole += end == max(times)
    assert cut > 50 and whole > 20, (cut, whole)


@pytest.mark.parametrize("template", ["agent_zone_at", "object_zone_at"])
def test_the_asked_place_is_mostly_on_the_last_line_of_a_moment_question(corpus, template):
    """"Where was X when E?" — the line of the frame that shows E names X's zone, the answer, unless X moved
    between E and that frame (the frame after E can be seconds later)."""
    on_line = []
    for it, log, times in answerable_items(corpus, 16):
        if it["meta"]["template"] != template:
            continue
        lines = frame_reasoning(log, it["meta"], times, "…", lines="to_evidence").splitlines()
        asked = log.name(it["meta"]["params"]["agent" if template == "agent_zone_at" else "object"])
        clauses = lines[-2].split(": ", 1)[1].rstrip(".").split("; ")
        on_line.append(f"{asked.removeprefix('the ')} {it['meta']['answer_text'].removeprefix('the ')}" in
                       [c.split(" with ")[0] for c in clauses])
    assert len(on_line) >= 5 and sum(on_line) >= 0.8 * len(on_line), on_line


def test_an_unknown_layout_fails_fast(corpus):
    it, log, times = next(answerable_items(corpus, 8))
    with pytest.raises(ValueError, match="lines='every'"):
        frame_reasoning(log, it["meta"], times, "x", lines="every")

"""docs/results.md generation from a results.json fixture (a real recipe run's output, trimmed)."""
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from lvr.cli import cli
from lvr.recipe import load_results, summary_table, write_report
from lvr.recipe.figures import recipe_figures

FIXTURE = Path(__file__).parent / "data" / "results.json"


@pytest.fixture
def results(tmp_path) -> Path:
    ws = tmp_path / "ws"
    (ws / "recipe").mkdir(parents=True)
    shutil.copy(FIXTURE, ws / "recipe" / "results.json")
    return ws


def test_load_results_accepts_workspace_folder_or_file(results):
    a = load_results(results)
    assert load_results(results / "recipe") == a == load_results(results / "recipe" / "results.json")
    with pytest.raises(FileNotFoundError, match="lvr recipe run"):
        load_results(results / "nothing")


def test_markdown_tables_carry_the_numbers_of_results_json(results, tmp_path):
    res = load_results(results)
    out = write_report(results, tmp_path / "docs" / "results.md", png=False, workspace_arg="workspaces/x")
    text = out["report"].read_text()
    for section in ("## Summary", "## Machine", "## Reproduce", "## Setup", "## Held-out accuracy by category",
                    "## Significance", "## Accuracy vs frames", "## Training", "## Wall time"):
        assert section in text, section
    assert "lvr recipe run configs/tiny/recipe-videolm.yaml workspace=workspaces/x" in text   # make demo-train's
    assert "make demo-train" in text
    assert f"| CPU | {res['machine']['cpus']} cores" in text and "| GPU | none |" in text
    for name, label in (("base", "base (random init)"), ("sft", "CoT-SFT"), ("grpo", "CoT-SFT + GRPO"),
                        ("text-only", "ref: text-only")):
        o = res["eval"]["systems"][name]["overall"]
        row = f"| {label} | {100 * o['acc']:.1f} [{100 * o['lo']:.1f}, {100 * o['hi']:.1f}] |"
        assert row in text, row
    v = res["verdict"]["grpo_vs_sft"]
    assert re.search(r"CoT-SFT \+ GRPO vs CoT-SFT: Δ [+-]\d", text)
    c = res["eval"]["systems"]["grpo-shuffled"]["overall"]                   # the no-video control
    assert f"| CoT-SFT + GRPO, another video's frames | {100 * c['acc']:.1f} [" in text
    assert re.search(r"Uses the video \(final model, its own video vs another video's frames\): Δ [+-]\d", text)
    assert ("**significant**" if v["significant"] else "**not significant**") in text
    for f, p in zip(res["sweep"]["frames"], res["sweep"]["series"]["overall"]):
        assert f"| {f} | {100 * p['acc']:.1f} [" in text
    # figures: interactive HTML linked relative to the document
    assert len(out["figures"]) == 4 and all(p.suffix == ".html" and p.is_file() for p in out["figures"])
    assert "(img/recipe_categories.html)" in text
    if res["config"].get("notes"):
        assert "## What it took to learn" in text


def test_figures_cover_every_system_and_the_sweep(results):
    res = load_results(results)
    figs = recipe_figures(res)
    assert set(figs) == {"categories", "frames", "significance", "training"}
    names = {t.name for t in figs["categories"].data}
    assert {"CoT-SFT", "CoT-SFT + GRPO", "base (random init)", "ref: text-only"} <= names
    overall = [t for t in figs["frames"].data if t.name == "overall"][0]
    assert list(overall.x) == res["sweep"]["frames"]


def test_summary_table_lists_systems_and_tests(results):
    text = summary_table(load_results(results))
    assert text.splitlines()[0].startswith("held-out accuracy")
    assert "grpo vs sft" in text and "accuracy vs frames" in text and "verdict:" in text


@pytest.mark.browser
def test_png_figures_render_offline_in_chromium(results, tmp_path):
    res = CliRunner().invoke(cli, ["recipe", "report", str(results), "--out", str(tmp_path / "r.md"),
                                   "--img-dir", str(tmp_path / "img")])
    assert res.exit_code == 0, res.output
    pngs = sorted((tmp_path / "img").glob("*.png"))
    assert [p.name for p in pngs] == ["recipe_categories.png", "recipe_frames.png", "recipe_significance.png",
                                      "recipe_training.png"]
    for p in pngs:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert w >= 1000 and h >= 600      # 1.5 × the figure size
    assert "![accuracy by category](img/recipe_categories.png)" in (tmp_path / "r.md").read_text()
    json.loads((results / "recipe" / "results.json").read_text())   # the source is left untouched


def test_setup_says_where_perception_frames_came_from_and_what_the_read_out_finds(results, tmp_path):
    data = json.loads(FIXTURE.read_text())                  # a run whose tower learned on fresh worlds
    p = data["model"]["perception"]
    text = write_report(results, tmp_path / "r.md", png=False)["report"].read_text()
    assert f"on {p['frames']:,} labelled frames of {p['worlds']:,} freshly simulated worlds" in text
    b, a = p["before"]["robot_zone_accuracy"], p["after"]["robot_zone_accuracy"]
    assert f"on {p['val_frames']:,} frames of the sft/rl videos {100 * b:.0f} % → {100 * a:.0f} %" in text
    ap = p["after"]["fact_ap"]
    assert f"robots {ap['robot']['ap']:.2f} ({ap['robot']['base_rate']:.2f})" in text
    p.pop("worlds")                                         # a tower trained on the corpus's own videos
    p.update(frames=4928, val_frames=832)
    (results / "recipe" / "results.json").write_text(json.dumps(data))
    text = write_report(results, tmp_path / "p.md", png=False)["report"].read_text()
    assert "on 4,928 labelled frames of the sft/rl videos" in text and "832 frames of unseen videos" in text


@pytest.mark.parametrize("accs,p,word", [((0.27, 0.274), 1.0, "higher, not significant"),
                                         ((0.25, 0.40), 1e-4, "rising"), ((0.30, 0.28), 0.5, "not rising")])
def test_frames_count_as_rising_only_when_significant(results, tmp_path, accs, p, word):
    data = json.loads(FIXTURE.read_text())
    data["verdict"]["frames"].update(acc_first=accs[0], acc_last=accs[1], rising=accs[1] > accs[0], p=p)
    (results / "recipe" / "results.json").write_text(json.dumps(data))
    text = write_report(results, tmp_path / "r.md", png=False)["report"].read_text()
    assert f"% ({word}" in text and summary_table(load_results(results)).endswith(f"frames {word}")


def test_ideal_reader_section(results, tmp_path):
    path = results / "recipe" / "results.json"
    res = json.loads(path.read_text())
    sub = {"acc": 0.5, "lo": 0.4, "hi": 0.6, "n": 120, "correct": 60}
    res["ideal_reader"] = {"frames": 8, "ceiling": {"2": {"overall": 8.8, "n": 764, "by_category": {"goal": 0.0}},
                                                    "8": {"overall": 34.0, "n": 764, "by_category": {"goal": 29.6}}},
                           "answerable": {"sft": {"overall": sub}, "grpo": {"overall": sub}}}
    path.write_text(json.dumps(res))
    text = write_report(results, tmp_path / "r.md", png=False, workspace_arg="w")["report"].read_text()
    assert "## What the frames can answer" in text
    assert re.search(r"\| 8 \| 34\.0 \| [^|]*\| 29\.6 \|", text), text[text.index("## What the frames"):][:600]
    assert "answerable at 8 frames" in text and "50.0 [40.0, 60.0]" in text


def test_base_video_lm_and_the_answerable_rule_are_reported(results, tmp_path):
    path = results / "recipe" / "results.json"
    res = json.loads(path.read_text())
    res["config"]["videolm"] = {"kinds": ["time", "last"], "batch_size": 32, "lr": 0.001, "frames": [1, 2, 4],
                                "advance_at": 0.8}
    res["videolm"] = {"path": "checkpoints/recipe-videolm-x", "steps": 1800, "items": 57600, "worlds": 14400,
                      "seconds": 900.0, "reached_frames": 2, "train_seeds": [2 ** 32, 2 ** 32 + 14400],
                      "held_out_seeds": [2 ** 32 + 2 ** 31, 2 ** 32 + 2 ** 31 + 256],
                      "baselines": {"1": {"most_frequent": 0.3, "random_frame": 1.0},
                                    "2": {"most_frequent": 0.3, "random_frame": 0.62}},
                      "final": {"1": {"all": 0.91, "last": 0.9, "time": 0.92}, "2": {"all": 0.83, "time": 0.8}},
                      "curve": [{"step": 200, "acc": {"1": 0.5, "2": 0.3}}]}
    res["training"]["sft"]["answerable"] = {"kept": 812, "items": 1729, "frames": 16}
    sig = dict(res["verdict"]["sft_vs_base"])
    res["verdict"].update(videolm_vs_text_only=sig, sft_vs_videolm=sig)
    path.write_text(json.dumps(res))
    text = write_report(results, tmp_path / "r.md", png=False)["report"].read_text()
    assert "Base video LM (answer only) vs the text-only reference" in text and "CoT-SFT vs base video LM" in text
    assert "57,600 answer-only questions from 14,400 freshly simulated worlds" in text
    assert "reached 2 frames" in text and "held-out accuracy at 2 frames 83.0 %" in text
    assert "## Base video LM" in text and "| 2 | 83.0 | — | 80.0 | 30.0 | 62.0 |" in text
    assert "trains on the 812 of 1,729 items an ideal reader of 16 frames can answer (917 dropped" in text
    assert "It also trained on" not in text                               # no corpus questions in this stage

    res["videolm"]["qa"] = {"share": 0.5, "from_frames": 2, "items": 13808, "train_seeds": [5, 3621],
                            "final": {"8": {"own": 0.3164, "other_frames": 0.2773}}}
    path.write_text(json.dumps(res))
    text = write_report(results, tmp_path / "r2.md", png=False)["report"].read_text()
    assert "It also trained on 13,808 of the corpus's own questions" in text and "50.0 % of each step" in text
    assert "| 8 | 31.6 | 27.7 | +3.9 |" in text


def test_a_significant_drop_is_not_called_not_significant():
    from lvr.recipe.report import _verdict

    x = {"delta": -0.043, "lo": -0.083, "hi": 0.0, "p": 0.049, "b": 176, "c": 140, "n": 841, "significant": False}
    assert "**lower, significantly**" in _verdict("CoT-SFT vs base", x, 0.05)
    assert "**not significant**" in _verdict("CoT-SFT vs base", {**x, "p": 0.31}, 0.05)
    assert "**significant**" in _verdict("GRPO vs SFT", {**x, "delta": 0.054, "significant": True}, 0.05)

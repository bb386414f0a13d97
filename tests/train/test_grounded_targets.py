"""Frame-grounded SFT targets and the answerable-items rule on a real synthetic workspace (rendered videos)."""
from __future__ import annotations

import pytest

from lvr.model import init_tiny, load_model
from lvr.store import Workspace
from lvr.synth import SynthConfig, WorldConfig, synth_workspace
from lvr.synth.visibility import frame_times, item_answerable
from lvr.train.data import MixedFrames, VideoFrames, keep_answerable, load_items
from lvr.train.sft import sft_inputs


@pytest.fixture(scope="module")
def synth_ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("grounded")
    ws = Workspace.open(root / "ws", create=True)
    synth_workspace(ws, SynthConfig(videos=2, seed=5, workers=1, progress=False,
                                    world=WorldConfig(minutes=1, fps=2, size=96)))
    init_tiny(root / "tiny", kind="lvr_composite", workspace=ws)
    yield ws, load_model(root / "tiny")
    ws.close()


def test_frames_target_lists_the_sampled_frames_then_the_conclusion(synth_ws):
    ws, model = synth_ws
    item = load_items(ws, split=None, statuses=["pending"])[0]
    frames = VideoFrames(ws, num_frames=4)
    inputs = sft_inputs(model, [item], frames, think=True, encoder_grad=False, max_length=None, reasoning="frames")
    target = model.tokenizer.decode(inputs.labels[0][inputs.labels[0] >= 0].tolist())
    first = frame_times(item.video_path, 4)[0]
    assert f"{round(first) // 60:02d}:{round(first) % 60:02d}:" in target
    assert f"So {item.meta['conclusion']}" in target and item.reasoning.split(".")[0] not in target
    own = sft_inputs(model, [item], frames, think=True, encoder_grad=False, max_length=None, reasoning="item")
    assert model.tokenizer.decode(own.labels[0][own.labels[0] >= 0].tolist()) != target


def test_require_answerable_keeps_what_the_frames_can_answer(synth_ws):
    ws, _ = synth_ws
    items = load_items(ws, split=None, statuses=["pending"])
    kept = keep_answerable(items, 8)
    assert kept == [it for it in items if item_answerable(it, 8)] and 0 < len(kept) < len(items)
    mixed = MixedFrames(ws, choices=[2, 4, 8], require_answerable=True)
    for it in kept:
        assert all(item_answerable(it, n) for n in mixed.choices_for(it))
        assert mixed.count(0, it) in mixed.choices_for(it)


def test_every_frame_target_walks_all_sampled_frames_in_order(synth_ws):
    ws, model = synth_ws
    item = load_items(ws, split=None, statuses=["pending"])[0]
    frames = VideoFrames(ws, num_frames=4)
    inputs = sft_inputs(model, [item], frames, think=True, encoder_grad=False, max_length=None,
                        reasoning="every_frame")
    target = model.tokenizer.decode(inputs.labels[0][inputs.labels[0] >= 0].tolist())
    stamps = [f"{round(t) // 60:02d}:{round(t) % 60:02d}:" for t in frame_times(item.video_path, 4)]
    found = [target.find(s) for s in stamps]
    assert all(i >= 0 for i in found) and found == sorted(found), (stamps, target)
    assert found[-1] < target.find(f"So {item.meta['conclusion']}")
    changed = sft_inputs(model, [item], frames, think=True, encoder_grad=False, max_length=None, reasoning="frames")
    assert len(changed.labels[0][changed.labels[0] >= 0]) <= len(inputs.labels[0][inputs.labels[0] >= 0])

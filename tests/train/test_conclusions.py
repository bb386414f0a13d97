"""Text-only conclusion training (`replay.text_items`, lvr.train.conclusions): frame lines given, the conclusion
and the answer the only targets."""
import torch

from lvr.model import load_model
from lvr.model.base import IGNORE_INDEX
from lvr.synth.fresh import HELD_OUT_SEEDS, TRAIN_SEEDS, WorldSpec, world_items
from lvr.train.conclusions import ConclusionBatches, conclusion_inputs
from lvr.train.configs import ReplayConfig
from lvr.train.fresh_prompts import FRESH_RL_SEEDS
from lvr.train.lookups import QA_SEEDS, TEXT_SEEDS, LookupReplay


def _items(n=6, frames=8):
    out, seed = [], TRAIN_SEEDS + 77
    while len(out) < n:
        out += world_items(seed, WorldSpec(), frames)
        seed += 1
    return out


def test_only_the_conclusion_and_the_answer_are_targets(tiny_model):
    model = load_model(tiny_model)
    for it in _items():
        row = conclusion_inputs(model, it)
        assert model.video_token_id not in row.input_ids[0].tolist()            # text only: no frames
        target = model.tokenizer.decode(row.input_ids[0][row.labels[0] != IGNORE_INDEX])
        conclusion = it.reasoning.splitlines()[-1].removeprefix("So ")         # "So" itself is no target: the
        assert target.replace(" ", "").startswith(conclusion.replace(" ", ""))  # model must not learn to skip
        assert not target.startswith("So")                                      # the lines; from there on,
        assert "</answer>" in target                                            # through the answer,
        for line in it.reasoning.splitlines()[:-1]:                             # never a frame line
            assert line[7:].replace(" ", "") not in target.replace(" ", "")


def test_training_on_conclusions_lowers_their_loss(tiny_model):
    torch.manual_seed(0)
    model = load_model(tiny_model)
    batches, items = ConclusionBatches(model, answer_weight=3.0), _items(8)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    first = None
    for _ in range(12):
        loss, ok = batches.forward(items)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ok.shape == (8,) and loss.item() < 0.7 * first


def test_replay_draws_text_items_from_their_own_worlds(tiny_model):
    cfg = ReplayConfig(text_items=3, text_frames=[4, 16])
    a, b = LookupReplay(load_model(tiny_model), cfg, seed=0), LookupReplay(load_model(tiny_model), cfg, seed=0)
    assert a.batches is None                                                    # nothing to render
    assert a.text_items(4) == b.text_items(4)                                   # a resumed run replays the same
    seeds = [it.seed for i in range(15) for it in a.text_items(i)]
    assert len(seeds) == len(set(seeds)) == 45
    assert QA_SEEDS + 10 ** 8 < TEXT_SEEDS <= min(seeds) and max(seeds) < FRESH_RL_SEEDS < HELD_OUT_SEEDS
    assert {len(a.text_items(i)[0].frames) for i in range(15)} == {4, 16}
    loss, ok = a.forward(0)
    assert loss.requires_grad and loss.item() > 0 and ok.shape == (3,)

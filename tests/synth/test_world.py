"""The world and its story: config validation, layout, and invariants of the simulated event log."""

from __future__ import annotations

import pytest

from lvr.config import ConfigError
from lvr.synth import SynthConfig, WorldConfig, derive_seed, simulate
from lvr.synth.world import ZONES


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"size": 223}, "even"),
        ({"minutes": 0.5}, "minutes"),
        ({"minutes": 61}, "minutes"),
        ({"difficulty": "brutal"}, "difficulty"),
        ({"n_agents": 5}, "n_agents"),
        ({"fps": 0}, "fps"),
        ({"n_zones": 5}, "n_zones"),
        ({"density": 10}, "density"),
    ],
)
def test_world_config_fails_fast(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        WorldConfig(**kwargs)


def test_synth_config_checks_split_fractions():
    with pytest.raises(ConfigError, match="split_fractions"):
        SynthConfig(split_fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ConfigError, match="videos"):
        SynthConfig(videos=0)


def test_difficulty_fills_knobs_left_empty():
    assert (WorldConfig(difficulty="easy").n_agents, WorldConfig(difficulty="hard").n_zones) == (2, 6)
    assert WorldConfig(difficulty="hard", n_agents=2).n_agents == 2
    assert derive_seed(0, 1) != derive_seed(0, 2) and derive_seed(0, 1) == derive_seed(0, 1)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_layout_has_named_zones_agents_objects(difficulty):
    log = simulate(WorldConfig(seed=1, minutes=1, difficulty=difficulty))
    zones = log.layout.zones
    assert len(zones) >= 4 and len({z.floor for z in zones}) == len(zones)
    assert all(z.floor == ZONES[z.name][0] for z in zones)
    assert len(log.agent_ids) >= 2
    names = [log.name(x) for x in log.agent_ids + log.object_ids]
    assert len(set(names)) == len(names) and "the red robot" in names
    assert any(o["kind"] == "key" for o in log.layout.objects)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_worlds_without_a_chest_have_every_object(difficulty):
    # hard worlds use every object kind: without the chest's key the kinds ran out (IndexError)
    log = simulate(WorldConfig(seed=1, minutes=1, difficulty=difficulty, chest=False))
    assert log.layout.chest is None and len(set(log.object_ids)) == len(log.object_ids) >= 4


def test_event_log_invariants(log3):
    log = log3
    times = [e["t"] for e in log.events]
    assert times == sorted(times) and times[-1] <= log.duration
    carrying = {a: None for a in log.agent_ids}
    zone = {a: log.zone_at(a, 0.0) for a in log.agent_ids}
    state = {o: log.object_state_at(o, 0.0)[0] for o in log.object_ids}
    for e in log.events:
        a = e.get("agent")
        if e["type"] == "appear" and e.get("object") and not a:
            state[e["object"]] = "floor"
        elif e["type"] == "leave":
            assert zone[a] == e["zone"]
        elif e["type"] == "enter":
            zone[a] = e["zone"]
        elif e["type"] == "pick_up":
            assert carrying[a] is None and state[e["object"]] == "floor" and zone[a] == e["zone"]
            carrying[a], state[e["object"]] = e["object"], "held"
        elif e["type"] in ("drop", "hide"):
            assert carrying[a] == e["object"]
            carrying[a], state[e["object"]] = None, ("floor" if e["type"] == "drop" else "hidden")
        elif e["type"] == "find":
            assert carrying[a] is None and state[e["object"]] == "hidden"
            carrying[a], state[e["object"]] = e["object"], "held"
        elif e["type"] == "hand_over":
            assert carrying[a] == e["object"] and carrying[e["other"]] is None
            carrying[a], carrying[e["other"]] = None, e["object"]
        elif e["type"] == "collide":
            assert e["other"] != a
    kinds = {e["type"] for e in log.events}
    assert {"appear", "enter", "leave", "pick_up", "drop", "collide"} <= kinds
    assert {t["kind"] for t in log.tasks} >= {"deliver", "hide"}


def test_long_range_cause_and_effect():
    """In most 3-minute worlds the key is picked up a minute or more before the chest opens,
    and something hidden early is found much later."""
    gaps, hidden = [], []
    for seed in range(12):
        log = simulate(WorldConfig(seed=seed, minutes=3))
        for op in log.select("open"):
            pick = next(
                log.event(i) for i in log.task(op["task"])["events"] if log.event(i)["type"] == "pick_up"
            )
            gaps.append(op["t"] - pick["t"])
        for h in log.select("hide"):
            f = log.select("find", obj=h["object"], t0=h["t"])
            if f:
                hidden.append(f[0]["t"] - h["t"])
    assert len(gaps) >= 8 and min(gaps) >= 55
    assert len(hidden) >= 8 and min(hidden) >= 30


def test_density_adds_events():
    calm = simulate(WorldConfig(seed=3, minutes=2, density=0.5))
    busy = simulate(WorldConfig(seed=3, minutes=2, density=2.0))
    assert len(busy.select("pick_up")) > len(calm.select("pick_up"))

"""The fixed vocabulary of the synthetic world and the per-seed layout of a scene.

    from lvr.synth.world import make_layout
    layout = make_layout(world_cfg, random.Random(seed))   # zones, hiding spots, chest, agents, objects

Coordinates are normalised: x and y in [0, 1], y pointing down (screen order), so the story
does not depend on the rendered resolution. Zones tile the frame (2x2 or 3x2) and each has a
distinct pale floor colour and one hiding spot; robots are large saturated shapes, objects
small shapes with a black outline, each with a unique (colour, kind) name such as
"the green key". What is named here is what captions and questions say.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# zone name -> (floor colour, hiding spot name). Floors are pale so that robots/objects stand out.
ZONES = {
    "kitchen": ((245, 222, 170), "the cupboard"),
    "garage": ((185, 185, 185), "the toolbox"),
    "garden": ((160, 215, 140), "the bush"),
    "hall": ((165, 195, 240), "the closet"),
    "bedroom": ((240, 185, 205), "the wardrobe"),
    "office": ((215, 200, 245), "the drawer"),
}
ZONE_ORDER = ("kitchen", "garage", "garden", "hall", "bedroom", "office")
SPOT_COLOUR = (70, 45, 25)

# robots: colour name -> (rgb, shape)
AGENTS = {
    "red": ((220, 25, 25), "square"),
    "blue": ((25, 55, 225), "circle"),
    "orange": ((255, 135, 0), "triangle"),
    "black": ((30, 30, 30), "diamond"),
}
AGENT_ORDER = ("red", "blue", "orange", "black")

OBJECT_COLOURS = {
    "green": (0, 150, 60),
    "purple": (140, 40, 180),
    "white": (255, 255, 255),
    "pink": (255, 105, 180),
    "cyan": (0, 205, 225),
    "brown": (140, 80, 20),
    "grey": (120, 120, 120),
    "navy": (0, 0, 120),
}
OBJECT_KINDS = ("ball", "box", "key", "gem", "cone", "ring", "star", "cup")
COIN_COLOUR = (235, 190, 30)
CHEST_COLOUR = (120, 70, 30)

AGENT_RADIUS = 0.055
OBJECT_RADIUS = 0.032
CHEST_HALF = (0.05, 0.035)


@dataclass
class Zone:
    name: str
    rect: tuple[float, float, float, float]  # x0, y0, x1, y1
    floor: tuple[int, int, int]
    spot: str
    spot_xy: tuple[float, float]

    def contains(self, x: float, y: float, inset: float = 0.0) -> bool:
        x0, y0, x1, y1 = self.rect
        return x0 + inset <= x < x1 - inset and y0 + inset <= y < y1 - inset

    def random_point(self, rng: random.Random, margin: float = 0.09) -> tuple[float, float]:
        x0, y0, x1, y1 = self.rect
        return (
            round(rng.uniform(x0 + margin, x1 - margin), 3),
            round(rng.uniform(y0 + margin, y1 - margin), 3),
        )

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.rect
        return ((x0 + x1) / 2, (y0 + y1) / 2)


@dataclass
class Layout:
    zones: list[Zone]
    agents: list[dict]  # id, name, colour, shape
    objects: list[dict]  # id, name, kind, colour (the coin last, when there is a chest)
    chest: dict | None = None  # zone, x, y
    spots: dict = field(default_factory=dict)  # zone name -> (x, y)

    def zone(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(f"no zone {name!r}")

    def zone_at(self, x: float, y: float) -> str:
        for z in self.zones:
            if z.contains(x, y):
                return z.name
        # on the outer border (x or y == 1): the nearest zone
        return min(self.zones, key=lambda z: (z.centre[0] - x) ** 2 + (z.centre[1] - y) ** 2).name

    def to_json(self) -> dict:
        return {
            "zones": [
                {
                    "name": z.name,
                    "rect": list(z.rect),
                    "floor": list(z.floor),
                    "spot": z.spot,
                    "spot_xy": list(z.spot_xy),
                }
                for z in self.zones
            ],
            "agents": self.agents,
            "objects": self.objects,
            "chest": self.chest,
        }

    @classmethod
    def from_json(cls, data: dict) -> Layout:
        zones = [
            Zone(z["name"], tuple(z["rect"]), tuple(z["floor"]), z["spot"], tuple(z["spot_xy"]))
            for z in data["zones"]
        ]
        return cls(
            zones, data["agents"], data["objects"], data.get("chest"), {z.name: z.spot_xy for z in zones}
        )


def make_layout(cfg, rng: random.Random) -> Layout:
    """Zones (names shuffled over the grid cells), spots, chest, robots and objects for one seed."""
    cols, rows = (2, 2) if cfg.n_zones == 4 else (3, 2)
    names = list(ZONE_ORDER[: cfg.n_zones])
    rng.shuffle(names)
    zones = []
    for i, name in enumerate(names):
        c, r = i % cols, i // cols
        rect = (round(c / cols, 4), round(r / rows, 4), round((c + 1) / cols, 4), round((r + 1) / rows, 4))
        # the hiding spot sits in one corner of the zone
        cx = rect[0] + 0.06 if rng.random() < 0.5 else rect[2] - 0.06
        cy = rect[1] + 0.06 if rng.random() < 0.5 else rect[3] - 0.06
        floor, spot = ZONES[name]
        zones.append(Zone(name, rect, floor, spot, (round(cx, 3), round(cy, 3))))
    agents = []
    for aid in AGENT_ORDER[: cfg.n_agents]:
        rgb, shape = AGENTS[aid]
        agents.append({"id": aid, "name": f"the {aid} robot", "colour": list(rgb), "shape": shape})
    colours = list(OBJECT_COLOURS)
    kinds = [k for k in OBJECT_KINDS if k != "key"]
    rng.shuffle(colours)
    rng.shuffle(kinds)
    # the chest's key comes first; without a chest a key is the last kind drawn (so the other draws are unchanged)
    kinds = ["key"] + kinds if cfg.chest else kinds + ["key"]
    objects = []
    for i in range(cfg.n_objects):
        col, kind = colours[i], kinds[i]
        objects.append(
            {
                "id": f"{col}-{kind}",
                "name": f"the {col} {kind}",
                "kind": kind,
                "colour": list(OBJECT_COLOURS[col]),
            }
        )
    chest = None
    if cfg.chest:
        z = rng.choice(zones)
        sx, sy = z.spot_xy
        # the chest sits in the corner diagonally opposite the hiding spot
        x = z.rect[0] + 0.1 if sx > z.centre[0] else z.rect[2] - 0.1
        y = z.rect[1] + 0.08 if sy > z.centre[1] else z.rect[3] - 0.08
        inward = (1 if z.centre[0] > x else -1, 1 if z.centre[1] > y else -1)
        chest = {
            "zone": z.name,
            "x": round(x, 3),
            "y": round(y, 3),
            "approach_xy": [round(x, 3), round(y + 0.075 * inward[1], 3)],  # where the opener stands
            "coin_xy": [round(x + 0.075 * inward[0], 3), round(y, 3)],
        }  # where the coin appears
        objects.append(
            {"id": "gold-coin", "name": "the gold coin", "kind": "coin", "colour": list(COIN_COLOUR)}
        )
    return Layout(zones, agents, objects, chest, {z.name: z.spot_xy for z in zones})

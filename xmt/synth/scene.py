"""A scene: the room, its primitives grouped by shape, their materials and objects, lights, camera pose.

Objects are built in their own frame (origin on the floor at the footprint's centre, width along x,
height along y, the front facing -z) and placed in the room by a floor position and a yaw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .camera import Pose
from .materials import MaterialTable

@dataclass
class Placement:
    x: float
    z: float
    yaw: float = 0.0  # 0: front faces the camera's side of the room (-z)
    y: float = 0.0  # height of the object's origin (wall-mounted or stacked objects)

    def to_world(self, local) -> tuple[float, float, float]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)  # plain floats: called for every part
        lx, ly, lz = local
        return self.x + c * lx + s * lz, self.y + ly, self.z - s * lx + c * lz


BOX, FRUSTUM, ELLIPSOID = 0, 1, 2


@dataclass
class Scene:
    """Primitives as arrays, sorted by kind (boxes, then frustums, then ellipsoids).

    center: box centre, frustum base (centre of the bottom cap), ellipsoid centre;
    size: box half-extents, frustum (height, bottom radius, top radius), ellipsoid semi-axes;
    yaw: turn about +y of the primitive's frame.
    """
    room: tuple[float, float, float]  # width (x), depth (z), height (y)
    room_materials: np.ndarray  # material per face, order of primitives.ROOM_FACES
    kind: np.ndarray  # (P,) BOX, FRUSTUM or ELLIPSOID
    center: np.ndarray  # (P, 3)
    size: np.ndarray  # (P, 3)
    yaw: np.ndarray  # (P,)
    material: np.ndarray  # (P,) index into materials
    object: np.ndarray  # (P,) object id (index into object_kinds)
    materials: dict[str, np.ndarray]
    object_kinds: list[str]  # index = object id; 0 is the room itself
    light_positions: np.ndarray  # (L, 3)
    light_colours: np.ndarray  # (L, 3)
    ambient: np.ndarray  # (3,)
    pose: Pose


@dataclass
class SceneBuilder:
    rng: np.random.Generator
    room: tuple[float, float, float]
    table: MaterialTable = field(default_factory=MaterialTable)
    object_kinds: list[str] = field(default_factory=lambda: ["room"])
    _primitives: list[tuple] = field(default_factory=list)
    _placement: Placement = field(default_factory=lambda: Placement(0.0, 0.0))

    def material(self, *names: str) -> int:
        """Instantiate one of the named library materials, chosen uniformly at random."""
        name = names[0] if len(names) == 1 else names[int(self.rng.integers(len(names)))]
        return self.table.add(name)

    def begin(self, kind: str, placement: Placement) -> None:
        """Start a new object; the primitives that follow belong to it and use its frame."""
        self.object_kinds.append(kind)
        self._placement = placement

    def _add(self, kind: int, local_center, size, yaw: float, material: int) -> None:
        self._primitives.append((kind, self._placement.to_world(local_center), size,
                                 (self._placement.yaw + yaw) % (2 * math.pi), material, len(self.object_kinds) - 1))

    def box(self, center, size, material: int, yaw: float = 0.0) -> None:
        """A box of full size (w, h, d) centred at a local point, turned by yaw in the object's frame."""
        self._add(BOX, center, (size[0] / 2, size[1] / 2, size[2] / 2), yaw, material)

    def frustum(self, base, height: float, r_bottom: float, r_top: float, material: int) -> None:
        """A vertical frustum standing on a local base point (cylinder: r_top == r_bottom; cone: r_top == 0)."""
        self._add(FRUSTUM, base, (height, r_bottom, r_top), 0.0, material)

    def ellipsoid(self, center, radii, material: int) -> None:
        self._add(ELLIPSOID, center, radii, 0.0, material)

    def build(self, room_materials, pose: Pose, light_positions, light_colours, ambient) -> Scene:
        rows = sorted(self._primitives, key=lambda p: p[0])  # stable: keeps build order within a kind
        kind, center, size, yaw, material, obj = (list(c) for c in zip(*rows)) if rows else ([],) * 6
        return Scene(self.room, np.asarray(room_materials, dtype=np.int32), np.array(kind, dtype=np.int32),
                     np.array(center, dtype=float).reshape(-1, 3), np.array(size, dtype=float).reshape(-1, 3),
                     np.array(yaw, dtype=float), np.array(material, dtype=np.int32), np.array(obj, dtype=np.int32),
                     self.table.arrays(self.rng), list(self.object_kinds),
                     np.asarray(light_positions, float).reshape(-1, 3), np.asarray(light_colours, float).reshape(-1, 3),
                     np.asarray(ambient, float), pose)

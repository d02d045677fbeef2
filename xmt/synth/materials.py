"""Materials: visible albedo and procedural texture, 850 nm reflectance, shininess.

Near-infrared reflectance is a property of the material, not of its visible colour: most dyes and
paints are transparent or bright at 850 nm whatever their hue, vegetation is bright (the red edge),
carbon-black plastics and rubber are dark, glass and screens return little. Shininess drives
specular highlights and the dropouts that active depth sensors show on mirror-like surfaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .imageops import fast_sin

# Texture kinds. Each yields a pattern in [-1, 1] evaluated on the surface's planar coordinates.
PLAIN, WOOD, TILES, BOOKS, FABRIC, LEAVES = range(6)

BOOK_COLOURS = np.array([
    [0.55, 0.08, 0.06], [0.08, 0.20, 0.50], [0.10, 0.35, 0.12], [0.70, 0.60, 0.15], [0.80, 0.78, 0.70],
    [0.05, 0.05, 0.06], [0.45, 0.20, 0.08], [0.50, 0.10, 0.40], [0.15, 0.45, 0.55], [0.75, 0.35, 0.05],
])


@dataclass(frozen=True)
class Material:
    rgb: tuple[float, float, float]  # linear albedo
    nir: float  # reflectance at 850 nm
    texture: int = PLAIN
    scale: float = 4.0  # texture frequency, cycles per metre
    amp: float = 0.05  # visible texture contrast
    nir_amp: float = 0.03  # texture contrast at 850 nm (dyes vanish, relief stays)
    shiny: float = 0.0  # 0 matte .. 1 mirror
    jitter: float = 0.08  # per-instance colour variation


LIBRARY: dict[str, Material] = {
    # walls and ceilings
    "paint_white": Material((0.78, 0.77, 0.73), 0.85, amp=0.03),
    "paint_beige": Material((0.70, 0.58, 0.42), 0.80, amp=0.03),
    "paint_blue": Material((0.30, 0.42, 0.66), 0.74, amp=0.03),
    "paint_green": Material((0.42, 0.60, 0.38), 0.78, amp=0.03),
    "paint_yellow": Material((0.82, 0.70, 0.30), 0.82, amp=0.03),
    "paint_grey": Material((0.42, 0.43, 0.45), 0.55, amp=0.03),
    "paint_pink": Material((0.78, 0.52, 0.55), 0.80, amp=0.03),
    "tiles_white": Material((0.84, 0.84, 0.82), 0.80, TILES, 5.0, 0.25, 0.10, shiny=0.35),
    "tiles_blue": Material((0.25, 0.42, 0.62), 0.60, TILES, 5.0, 0.25, 0.10, shiny=0.35),
    "tiles_green": Material((0.30, 0.55, 0.45), 0.62, TILES, 5.0, 0.25, 0.10, shiny=0.35),
    "brick": Material((0.55, 0.27, 0.18), 0.62, TILES, 6.0, 0.30, 0.20),
    "concrete": Material((0.45, 0.44, 0.41), 0.45, FABRIC, 3.0, 0.12, 0.12),
    "wood_panel": Material((0.50, 0.31, 0.17), 0.62, WOOD, 3.0, 0.25, 0.08),
    "ceiling_tiles": Material((0.80, 0.80, 0.78), 0.82, TILES, 1.7, 0.12, 0.08),
    # floors
    "floor_oak": Material((0.55, 0.37, 0.21), 0.65, WOOD, 2.0, 0.30, 0.08),
    "floor_walnut": Material((0.22, 0.13, 0.08), 0.45, WOOD, 2.0, 0.30, 0.08),
    "floor_tiles_light": Material((0.72, 0.70, 0.66), 0.72, TILES, 2.5, 0.25, 0.12, shiny=0.3),
    "floor_tiles_dark": Material((0.11, 0.11, 0.12), 0.11, TILES, 2.5, 0.30, 0.10, shiny=0.3),
    "carpet_grey": Material((0.33, 0.33, 0.35), 0.50, FABRIC, 12.0, 0.20, 0.10),
    "carpet_blue": Material((0.12, 0.17, 0.38), 0.60, FABRIC, 12.0, 0.20, 0.10),
    "carpet_red": Material((0.42, 0.08, 0.08), 0.66, FABRIC, 12.0, 0.20, 0.10),
    "linoleum_green": Material((0.28, 0.45, 0.34), 0.38, PLAIN, 1.0, 0.10, 0.05, shiny=0.2),
    "linoleum_beige": Material((0.62, 0.55, 0.42), 0.58, PLAIN, 1.0, 0.10, 0.05, shiny=0.2),
    "concrete_floor": Material((0.38, 0.37, 0.35), 0.40, FABRIC, 3.0, 0.15, 0.12),
    # furniture
    "wood_light": Material((0.66, 0.48, 0.28), 0.68, WOOD, 6.0, 0.25, 0.06),
    "wood_medium": Material((0.42, 0.24, 0.12), 0.58, WOOD, 6.0, 0.25, 0.06),
    "wood_dark": Material((0.16, 0.09, 0.05), 0.44, WOOD, 6.0, 0.25, 0.06),
    "laminate_white": Material((0.80, 0.80, 0.78), 0.82, amp=0.02),
    "laminate_grey": Material((0.45, 0.46, 0.47), 0.52, amp=0.02),
    "laminate_beech": Material((0.72, 0.56, 0.36), 0.70, WOOD, 8.0, 0.12, 0.04),
    "metal_steel": Material((0.55, 0.56, 0.58), 0.55, amp=0.03, shiny=0.65),
    "metal_black": Material((0.05, 0.05, 0.05), 0.07, amp=0.02, shiny=0.3),
    "metal_chrome": Material((0.70, 0.70, 0.72), 0.65, amp=0.02, shiny=0.9),
    "plastic_black_carbon": Material((0.04, 0.04, 0.04), 0.05, amp=0.02, shiny=0.2),
    "plastic_black_dyed": Material((0.05, 0.05, 0.06), 0.45, amp=0.02, shiny=0.2),
    "plastic_white": Material((0.82, 0.82, 0.80), 0.80, amp=0.02, shiny=0.2),
    "plastic_red": Material((0.60, 0.07, 0.05), 0.55, amp=0.02, shiny=0.2),
    "plastic_blue": Material((0.04, 0.14, 0.50), 0.40, amp=0.02, shiny=0.2),
    "plastic_orange": Material((0.80, 0.32, 0.04), 0.60, amp=0.02, shiny=0.2),
    "plastic_green": Material((0.10, 0.42, 0.15), 0.50, amp=0.02, shiny=0.2),
    "fabric_red": Material((0.50, 0.06, 0.06), 0.72, FABRIC, 20.0, 0.15, 0.05),
    "fabric_green": Material((0.09, 0.33, 0.11), 0.72, FABRIC, 20.0, 0.15, 0.05),
    "fabric_blue": Material((0.07, 0.11, 0.40), 0.60, FABRIC, 20.0, 0.15, 0.05),
    "fabric_grey": Material((0.35, 0.35, 0.36), 0.50, FABRIC, 20.0, 0.15, 0.05),
    "fabric_beige": Material((0.65, 0.55, 0.40), 0.75, FABRIC, 20.0, 0.15, 0.05),
    "fabric_black": Material((0.03, 0.03, 0.03), 0.40, FABRIC, 20.0, 0.15, 0.05),
    "fabric_mustard": Material((0.70, 0.50, 0.08), 0.75, FABRIC, 20.0, 0.15, 0.05),
    "leather_brown": Material((0.20, 0.10, 0.05), 0.35, FABRIC, 8.0, 0.10, 0.04, shiny=0.35),
    "leather_black": Material((0.03, 0.03, 0.03), 0.10, FABRIC, 8.0, 0.10, 0.04, shiny=0.35),
    "linen_white": Material((0.86, 0.86, 0.83), 0.86, FABRIC, 15.0, 0.08, 0.04),
    "linen_pastel": Material((0.70, 0.60, 0.75), 0.84, FABRIC, 15.0, 0.08, 0.04),
    "ceramic_white": Material((0.86, 0.86, 0.84), 0.80, amp=0.02, shiny=0.55),
    "glass": Material((0.30, 0.36, 0.36), 0.08, amp=0.02, shiny=0.95),
    "mirror": Material((0.62, 0.64, 0.67), 0.50, amp=0.02, shiny=1.0),
    "screen_black": Material((0.02, 0.02, 0.03), 0.05, amp=0.01, shiny=0.7),
    "books": Material((1.0, 1.0, 1.0), 0.55, BOOKS, 30.0, 1.0, 0.05, jitter=0.0),
    "foliage": Material((0.07, 0.24, 0.05), 0.55, LEAVES, 18.0, 0.55, 0.30),
    "terracotta": Material((0.55, 0.24, 0.11), 0.60, amp=0.04),
    "granite": Material((0.28, 0.28, 0.28), 0.33, FABRIC, 30.0, 0.35, 0.25, shiny=0.3),
    "marble": Material((0.82, 0.80, 0.76), 0.78, FABRIC, 5.0, 0.15, 0.10, shiny=0.3),
    "whiteboard": Material((0.90, 0.90, 0.90), 0.85, amp=0.02, shiny=0.4),
    "blackboard": Material((0.05, 0.10, 0.08), 0.10, amp=0.04),
    "cardboard": Material((0.50, 0.37, 0.21), 0.66, FABRIC, 6.0, 0.10, 0.05),
}


class MaterialTable:
    """The materials of one scene: instances of library materials, colour-jittered, as arrays."""

    def __init__(self):
        self.names: list[str] = []

    def add(self, name: str) -> int:
        self.names.append(name)
        return len(self.names) - 1

    def arrays(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-instance properties: the library's, with random tint, 850 nm reflectance and texture phase."""
        lib = [LIBRARY[n] for n in self.names]
        normal = rng.standard_normal((len(lib), 4))
        jitter = np.array([m.jitter for m in lib]).reshape(-1, 1)
        return {
            "rgb": np.minimum(np.array([m.rgb for m in lib]).reshape(-1, 3) * np.exp(jitter * normal[:, :3]), 1.0),
            "nir": np.minimum(np.array([m.nir for m in lib]) * np.exp(0.08 * normal[:, 3]), 1.0),
            "phase": rng.random((len(lib), 3)) * 2 * np.pi,
            "texture": np.array([m.texture for m in lib], dtype=np.int32),
            "scale": np.array([m.scale for m in lib]),
            "amp": np.array([m.amp for m in lib]),
            "nir_amp": np.array([m.nir_amp for m in lib]),
            "shiny": np.array([m.shiny for m in lib]),
        }


def planar_coordinates(points, normals) -> tuple[np.ndarray, np.ndarray]:
    """Two surface coordinates per point: the world axes across the dominant normal axis.

    The first coordinate runs horizontally and the second vertically on walls, so wood grain and
    book spines take a natural direction. points, normals: (3, N).
    """
    ax, ay, az = np.abs(normals)
    facing_x = ax >= np.maximum(ay, az)
    facing_y = ~facing_x & (ay >= az)
    s = np.where(facing_x, points[2], points[0])
    t = np.where(facing_y, points[2], points[1])
    return s, t


def _noise(s, t, phase):
    """Smooth band-limited noise in [-1, 1] from three oblique sinusoids."""
    return (fast_sin(1.0 * s + 0.6 * t + phase[0]) + fast_sin(-0.5 * s + 1.3 * t + phase[1])
            + fast_sin(1.7 * s - 0.9 * t + phase[2])) / 3.0


def texture_pattern(points, normals, table: dict[str, np.ndarray], mat: np.ndarray):
    """Per-pixel pattern in [-1, 1] and, for BOOKS, a spine colour (N, 3).

    Parameters are looked up per pixel by material index; each texture is evaluated only where used.
    points, normals: (3, N); mat: (N,).
    """
    s, t = planar_coordinates(points, normals)
    scale = table["scale"][mat]
    phase = table["phase"][mat].T
    kind = table["texture"][mat]
    pattern = np.empty(len(mat))
    spine_colour = np.zeros((len(mat), 3))
    for k in np.unique(kind):  # each texture only where it is used
        at = kind == k
        pattern[at], colour = TEXTURES[k](s[at] * scale[at], t[at] * scale[at], phase[:, at])
        if colour is not None:
            spine_colour[at] = colour
    return pattern, spine_colour


def _plain(u, v, phase):
    return _noise(u * 2 * np.pi / 4, v * 2 * np.pi / 4, phase), None


def _fine(u, v, phase):
    return _noise(u * 2 * np.pi * 1.7, v * 2 * np.pi * 1.7, phase[::-1]), None


def _wood(u, v, phase):
    """Rings across the grain, distorted by noise along it."""
    bend = _noise(u * 2 * np.pi / 6, v * 2 * np.pi / 25, phase)
    return fast_sin(u * 2 * np.pi * 0.3 + 3.0 * bend) * 0.7 + 0.3 * _fine(u, v, phase)[0], None


def _tiles(u, v, phase):
    """Dark grout lines on a unit grid, small tone changes from tile to tile."""
    cell_u, cell_v = np.floor(u + 0.5), np.floor(v + 0.5)
    grout = (np.abs(u - cell_u) < 0.06) | (np.abs(v - cell_v) < 0.06)
    return np.where(grout, -1.0, 0.2 * fast_sin(cell_u * 12.9898 + cell_v * 78.233 + phase[0])), None


def _leaves(u, v, phase):
    return np.clip(1.6 * _fine(u, v, phase)[0] + 0.8 * _plain(u, v, phase)[0], -1.0, 1.0), None


def _books(u, v, phase):
    """Book spines: one colour per unit-wide stripe, dark gaps between them (pattern -1)."""
    spine = np.floor(u)
    spine_hash = np.sin(spine * 12.9898 + phase[0]) * 43758.5453
    index = ((spine_hash - np.floor(spine_hash)) * len(BOOK_COLOURS)).astype(np.int64)
    return np.where(np.abs(u - spine - 0.5) > 0.45, -1.0, 0.0), BOOK_COLOURS[index]


TEXTURES = {PLAIN: _plain, WOOD: _wood, TILES: _tiles, BOOKS: _books, FABRIC: _fine, LEAVES: _leaves}

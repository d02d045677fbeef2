"""Small image operations in plain numpy (no scipy at run time): neighbour views, depth edges, blur, noise
fields, occlusion from an offset view, and table look-ups for sines and response curves."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_SINE_TABLE = np.sin(np.arange(1024) * 2 * np.pi / 1024)
_CURVE_STEPS = 4096


class Neighbours:
    """Shifted views of an image (last two axes) for offsets up to `radius`, from one padded copy."""

    def __init__(self, a: np.ndarray, radius: int):
        pad = [(0, 0)] * (a.ndim - 2) + [(radius, radius), (radius, radius)]
        self.padded = np.pad(a, pad, mode="edge")
        self.radius = radius
        self.h, self.w = a.shape[-2:]

    def at(self, dy: int, dx: int) -> np.ndarray:
        """out[..., y, x] = a[..., y + dy, x + dx] (a view)."""
        r = self.radius
        return self.padded[..., r + dy:r + dy + self.h, r + dx:r + dx + self.w]


def depth_edges(z: np.ndarray, relative_jump: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Pixels beside a depth discontinuity, and the depth of their most different 4-neighbour.

    Inverse depth is affine in image coordinates on any plane, so its second difference vanishes on
    planes however oblique (a floor seen at a grazing angle) and spikes at occlusion boundaries.
    """
    w = Neighbours(1.0 / z, 1)
    inv = w.at(0, 0)
    curvature = np.maximum(np.abs(w.at(0, 1) - 2 * inv + w.at(0, -1)), np.abs(w.at(1, 0) - 2 * inv + w.at(-1, 0)))
    n = Neighbours(z, 1)
    best = z
    best_diff = np.zeros_like(z)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        diff = np.abs(n.at(dy, dx) - z)
        take = diff > best_diff
        best = np.where(take, n.at(dy, dx), best)
        best_diff = np.where(take, diff, best_diff)
    return curvature > relative_jump * inv, best


def box_blur3(img: np.ndarray) -> np.ndarray:
    """3x3 mean filter over the last two axes (edges replicated)."""
    n = Neighbours(img, 1)
    rows = (n.padded[..., :-2, :] + n.padded[..., 1:-1, :] + n.padded[..., 2:, :]) / 3.0
    return (rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]) / 3.0


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Uniform [0, 1) noise with blobs about `cell` pixels wide (bilinear upsampling of a coarse grid)."""
    h, w = shape
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.random((gh, gw))
    ys = (np.arange(h) + 0.5) / cell
    xs = (np.arange(w) + 0.5) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def occluded_from_offset_view(z: np.ndarray, focal: float, baseline: float) -> np.ndarray:
    """Pixels that a second view, `baseline` metres to the camera's right, cannot see.

    That view (a structured-light projector or the second camera of a stereo pair) sees the point of
    pixel column u at column u - f*b/z on the same row (rectified geometry). A point is hidden when a
    point further right on the row lands at or left of it there: it lies behind that point from the
    second view. The hidden band sits on the left of each foreground object, as wide as the
    disparity difference.
    """
    seen_at = np.arange(z.shape[1])[None, :] - focal * baseline / z
    # minimum of seen_at over the columns strictly to the right of each pixel
    from_right = np.minimum.accumulate(seen_at[:, ::-1], axis=1)[:, ::-1]
    right_min = np.concatenate([from_right[:, 1:], np.full((z.shape[0], 1), np.inf)], axis=1)
    return seen_at > right_min + 0.5


def fast_sin(x: np.ndarray) -> np.ndarray:
    """sin(x) from a 1024-entry table: ample for textures, several times cheaper than np.sin."""
    return _SINE_TABLE[(x * (1024 / (2 * np.pi))).astype(np.int64) & 1023]


@lru_cache(maxsize=16)
def _power_curve(exponent: float) -> np.ndarray:
    return (np.arange(_CURVE_STEPS + 1) / _CURVE_STEPS) ** exponent


def tone_curve(x: np.ndarray, exponent: float) -> np.ndarray:
    """x ** exponent for x in [0, 1] (clipped), by table lookup: a camera's response curve."""
    index = (np.minimum(np.maximum(x, 0.0), 1.0) * _CURVE_STEPS + 0.5).astype(np.int64)
    return _power_curve(exponent)[index]


def unit_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """Zero-mean, unit-variance sensor noise: the sum of two uniforms (a triangular law, close to a
    Gaussian in the body), drawn several times faster than normal variates."""
    return (rng.random(shape) + rng.random(shape) - 1.0) * np.sqrt(6.0)

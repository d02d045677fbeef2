"""Ray-primitive intersections, vectorised over (ray, primitive) candidate pairs.

All rays leave the camera. Each function takes, per pair, the ray origin and direction already
expressed in the primitive's own frame (components as separate arrays) and the primitive's size, and
returns the ray parameter t of the nearest hit in front of the origin, np.inf on a miss. Directions
need not be unit length: t is in units of the direction vector (depth along the optical axis for the
camera's rays). Shapes: the room's interior box, boxes turned about the vertical axis, vertical
frustums (cylinders and cones are frustums with equal or zero top radius), and ellipsoids turned about
the vertical axis.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6
ROOM_FACES = ("left", "right", "floor", "ceiling", "front", "back")  # -x, +x, -y, +y, -z, +z


def safe_inverse(d: np.ndarray) -> np.ndarray:
    """1/d with exact zeros nudged, so slab tests never divide by zero."""
    return 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)


def to_local(x, z, cos_yaw, sin_yaw):
    """World x, z components into the frame of an object turned by yaw about +y (y is unchanged)."""
    return cos_yaw * x - sin_yaw * z, sin_yaw * x + cos_yaw * z


def to_world(x, z, cos_yaw, sin_yaw):
    """Inverse of to_local."""
    return cos_yaw * x + sin_yaw * z, -sin_yaw * x + cos_yaw * z


def intersect_room(origin, direction, size) -> tuple[np.ndarray, np.ndarray]:
    """Exit of rays from inside the room box [-W/2, W/2] x [0, H] x [0, D]: (t, face index)."""
    width, depth, height = size
    lo = (-width / 2, 0.0, 0.0)
    hi = (width / 2, height, depth)
    inv = [safe_inverse(d) for d in direction]
    ts = [np.where(inv[a] > 0, hi[a] - origin[a], lo[a] - origin[a]) * inv[a] for a in range(3)]
    t = np.minimum(np.minimum(ts[0], ts[1]), ts[2])
    axis = np.where(ts[0] <= np.minimum(ts[1], ts[2]), 0, np.where(ts[1] <= ts[2], 1, 2))
    positive_side = np.choose(axis, [inv[0] > 0, inv[1] > 0, inv[2] > 0])
    return t, 2 * axis + positive_side


def intersect_box(origin, direction, half) -> np.ndarray:
    """Slab test against the box [-half, half] (origin, direction, half: 3 component arrays)."""
    tnear, tfar = -np.inf, np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        # a zero direction component gives infinite slab distances, which the min/max handle
        for o, d, h in zip(origin, direction, half):
            inv = 1.0 / d
            t1 = (-h - o) * inv
            t2 = (h - o) * inv
            tnear = np.maximum(tnear, np.minimum(t1, t2))
            tfar = np.minimum(tfar, np.maximum(t1, t2))
    return np.where((tnear <= tfar) & (tnear > EPS), tnear, np.inf)


def intersect_frustum(origin, direction, height, r_bottom, r_top) -> np.ndarray:
    """Capped vertical frustum standing on the local origin, from y = 0 to y = height."""
    ox, oy, oz = origin
    dx, dy, dz = direction
    slope = (r_top - r_bottom) / height
    r0 = r_bottom + slope * oy  # radius of the (extended) lateral surface at the origin's height
    a = dx * dx + dz * dz - slope * slope * dy * dy
    a = np.where(np.abs(a) < 1e-12, 1e-12, a)
    b = 2.0 * (ox * dx + oz * dz - slope * r0 * dy)
    c = ox * ox + oz * oz - r0 * r0
    disc = b * b - 4.0 * a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    best = np.full(np.shape(dx), np.inf)
    for sign in (-1.0, 1.0):
        t = (-b + sign * root) / (2.0 * a)
        y = oy + t * dy
        ok = (disc >= 0) & (t > EPS) & (y >= 0) & (y <= height) & (r0 + slope * t * dy >= 0)
        best = np.where(ok & (t < best), t, best)
    inv_dy = safe_inverse(dy)
    for cap_y, radius in ((0.0, r_bottom), (height, r_top)):
        t = (cap_y - oy) * inv_dy
        px, pz = ox + t * dx, oz + t * dz
        ok = (t > EPS) & (px * px + pz * pz <= radius * radius)
        best = np.where(ok & (t < best), t, best)
    return best


def intersect_ellipsoid(origin, direction, radii) -> np.ndarray:
    """Ellipsoid centred on the local origin with semi-axes radii."""
    o = [c / r for c, r in zip(origin, radii)]
    d = [c / r for c, r in zip(direction, radii)]
    a = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    b = 2.0 * (o[0] * d[0] + o[1] * d[1] + o[2] * d[2])
    c = o[0] * o[0] + o[1] * o[1] + o[2] * o[2] - 1.0
    disc = b * b - 4.0 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
    return np.where((disc >= 0) & (t > EPS), t, np.inf)


def box_normal(local, half) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outward normal (local frame) at points on a box surface: the axis where the point is outermost."""
    ratio = [np.abs(p) / h for p, h in zip(local, half)]
    axis = np.where(ratio[0] >= np.maximum(ratio[1], ratio[2]), 0, np.where(ratio[1] >= ratio[2], 1, 2))
    return tuple(np.where(axis == a, np.sign(local[a]), 0.0) for a in range(3))


def frustum_normal(local, height, r_bottom, r_top) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, z = local
    slope = (r_top - r_bottom) / height
    ny = -slope * (r_bottom + slope * y)  # gradient of x^2 + z^2 - r(y)^2, halved
    tol = 1e-4 * np.maximum(height, 1.0)
    cap = np.where(y < tol, -1.0, np.where(y > height - tol, 1.0, 0.0))
    on_cap = cap != 0
    n = (np.where(on_cap, 0.0, x), np.where(on_cap, cap, ny), np.where(on_cap, 0.0, z))
    length = np.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2)
    return tuple(c / length for c in n)


def ellipsoid_normal(local, radii) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = [p / (r * r) for p, r in zip(local, radii)]
    length = np.sqrt(g[0] ** 2 + g[1] ** 2 + g[2] ** 2)
    return tuple(c / length for c in g)

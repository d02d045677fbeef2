"""Pinhole camera: intrinsics from a field of view, a pose in the room, per-pixel rays, projection.

World frame: x to the right, y up, z forward into the room (floor at y = 0).
Rays are left unnormalised with a forward component of 1, so a hit at ray parameter t lies at
depth t along the optical axis: the z-buffer *is* the depth image that sensors report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    focal: float  # pixels, square pixels
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> "Intrinsics":
        focal = (width / 2) / np.tan(np.radians(hfov_deg) / 2)
        return cls(width, height, float(focal), width / 2, height / 2)


@dataclass(frozen=True)
class Pose:
    position: tuple[float, float, float]
    yaw: float  # radians, about +y; 0 looks along +z
    pitch: float  # radians, positive looks up
    roll: float = 0.0

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World-space (right, up, forward) unit vectors of the camera."""
        cy, sy = np.cos(self.yaw), np.sin(self.yaw)
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        forward = np.array([sy * cp, sp, cy * cp])
        right = np.array([cy, 0.0, -sy])
        up = np.cross(forward, right)
        cr, sr = np.cos(self.roll), np.sin(self.roll)
        return cr * right + sr * up, cr * up - sr * right, forward


def ray_directions(intr: Intrinsics, pose: Pose) -> np.ndarray:
    """(3, H, W) world directions through pixel centres, forward component 1."""
    right, up, forward = pose.basis()
    xn = (np.arange(intr.width) + 0.5 - intr.cx) / intr.focal
    yn = (np.arange(intr.height) + 0.5 - intr.cy) / intr.focal
    return (forward[:, None, None] + right[:, None, None] * xn[None, None, :]
            - up[:, None, None] * yn[None, :, None])


def project(points: np.ndarray, intr: Intrinsics, pose: Pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates (u, v) and depth z of world points (..., 3)."""
    right, up, forward = pose.basis()
    rel = points - np.asarray(pose.position)
    z = rel @ forward
    safe_z = np.where(z > 1e-6, z, 1e-6)
    u = intr.cx + intr.focal * (rel @ right) / safe_z
    v = intr.cy - intr.focal * (rel @ up) / safe_z
    return u, v, z

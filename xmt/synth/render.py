"""Render a scene through a sensor profile: ray casting, then RGB, NIR and depth from one geometry.

All modalities come from the same ray cast, so they are pixel-aligned by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import primitives as prim
from .camera import Intrinsics, project, ray_directions
from .imageops import box_blur3, tone_curve, unit_noise
from .materials import BOOKS, texture_pattern
from .scene import BOX, ELLIPSOID, FRUSTUM, Scene
from .sensors import SensorProfile, sense_depth

CORNER_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
NEAR = 0.05


@dataclass
class GBuffer:
    """Per-pixel geometry of the first surface seen along each ray; vectors are channel-first."""
    depth: np.ndarray  # (H, W) metres along the optical axis
    points: np.ndarray  # (3, H, W) world
    normals: np.ndarray  # (3, H, W) unit, towards the outside of the surface
    view: np.ndarray  # (3, H, W) unit vectors from the surface to the camera
    material: np.ndarray  # (H, W) index into the scene's material table
    object: np.ndarray  # (H, W) object id, 0 = room surfaces
    primitive: np.ndarray  # (H, W) primitive index, or -1 - face index for the room's faces


def _bounding_boxes(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-extents (in the primitive's turned frame) of every primitive's bounding box."""
    center, half = scene.center.copy(), scene.size.copy()
    frustum = scene.kind == FRUSTUM
    height, r_max = scene.size[frustum, 0], np.maximum(scene.size[frustum, 1], scene.size[frustum, 2])
    center[frustum, 1] += height / 2
    half[frustum] = np.stack([r_max, height / 2, r_max], axis=1)
    return center, half


def _screen_rects(scene: Scene, intr: Intrinsics) -> np.ndarray:
    """(P, 4) pixel rectangles [y0, y1, x0, x1) that can contain each primitive (empty when unseen)."""
    center, half = _bounding_boxes(scene)
    local = CORNER_SIGNS[None] * half[:, None, :]
    c, s = np.cos(scene.yaw)[:, None], np.sin(scene.yaw)[:, None]
    wx, wz = prim.to_world(local[..., 0], local[..., 2], c, s)
    corners = np.stack([wx, local[..., 1], wz], axis=-1) + center[:, None, :]
    u, v, z = project(corners, intr, scene.pose)
    behind = z <= NEAR
    rects = np.stack([np.floor(v.min(axis=1)), np.ceil(v.max(axis=1)) + 1,
                      np.floor(u.min(axis=1)), np.ceil(u.max(axis=1)) + 1], axis=1)
    limits = np.array([intr.height, intr.height, intr.width, intr.width])
    rects = np.clip(rects, 0, limits).astype(np.int64)
    straddles = behind.any(axis=1)  # crosses the camera plane: projection unreliable, test every pixel
    rects[straddles] = (0, intr.height, 0, intr.width)
    rects[behind.all(axis=1)] = 0
    return rects


def _candidate_pairs(rects: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(primitive, flat pixel index) for every pixel inside every primitive's rectangle."""
    heights = np.maximum(rects[:, 1] - rects[:, 0], 0)
    widths = np.maximum(rects[:, 3] - rects[:, 2], 0)
    counts = heights * widths
    primitive = np.repeat(np.arange(len(rects)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    w = np.repeat(np.maximum(widths, 1), counts)
    row = np.repeat(rects[:, 0], counts) + offset // w
    col = np.repeat(rects[:, 2], counts) + offset % w
    return primitive, row * width + col


INTERSECT = {BOX: prim.intersect_box, FRUSTUM: lambda o, d, size: prim.intersect_frustum(o, d, *size),
             ELLIPSOID: prim.intersect_ellipsoid}
NORMAL = {BOX: prim.box_normal, FRUSTUM: lambda p, size: prim.frustum_normal(p, *size),
          ELLIPSOID: prim.ellipsoid_normal}


def trace(scene: Scene, intr: Intrinsics) -> GBuffer:
    """Cast one ray per pixel; keep the nearest hit.

    Every primitive is tested only against the pixels of its projected bounding rectangle, all
    (pixel, primitive) pairs at once, and a per-pixel minimum picks the nearest.
    """
    origin = np.asarray(scene.pose.position, dtype=float)
    shape = (intr.height, intr.width)
    dirs = ray_directions(intr, scene.pose).reshape(3, -1)
    depth, face = prim.intersect_room(origin, dirs, scene.room)
    hit = -1 - face  # negative: a room face; else the primitive index

    cos_yaw, sin_yaw = np.cos(scene.yaw), np.sin(scene.yaw)
    rel = origin - scene.center
    lx, lz = prim.to_local(rel[:, 0], rel[:, 2], cos_yaw, sin_yaw)
    # per primitive: origin in its frame, size, yaw, as rows to gather from
    # (single precision halves the memory traffic of the pair arrays; depth stays exact to a micrometre)
    params = np.stack([lx, rel[:, 1], lz, *scene.size.T, cos_yaw, sin_yaw]).astype(np.float32)
    dirs32 = dirs.astype(np.float32)
    primitive, pixel = _candidate_pairs(_screen_rects(scene, intr), intr.width)
    t = np.empty(len(pixel))
    bounds = np.searchsorted(primitive, np.searchsorted(scene.kind, [BOX, FRUSTUM, ELLIPSOID, ELLIPSOID + 1]))
    for kind, lo, hi in zip((BOX, FRUSTUM, ELLIPSOID), bounds[:-1], bounds[1:]):
        if lo == hi:
            continue
        p = params.take(primitive[lo:hi], axis=1)
        d = dirs32.take(pixel[lo:hi], axis=1)
        dx, dz = prim.to_local(d[0], d[2], p[6], p[7])
        t[lo:hi] = INTERSECT[kind](p[0:3], (dx, d[1], dz), p[3:6])
    np.minimum.at(depth, pixel, t)
    nearest = t <= depth[pixel]
    hit[pixel[nearest]] = primitive[nearest]

    points = origin[:, None] + depth * dirs
    normals = np.zeros_like(points)
    material = np.empty(depth.shape, dtype=np.int32)
    obj = np.zeros(depth.shape, dtype=np.int32)

    room = hit < 0
    faces = -1 - hit[room]
    for a in range(3):  # inward normals of the room's faces
        normals[a, room] = np.where(faces // 2 == a, np.where(faces % 2 == 1, -1.0, 1.0), 0.0)
    material[room] = scene.room_materials[faces]

    hit_kind = np.where(room, -1, scene.kind[np.maximum(hit, 0)] if len(scene.kind) else -1)
    for kind in (BOX, FRUSTUM, ELLIPSOID):
        mask = hit_kind == kind
        if not mask.any():
            continue
        k = hit[mask]
        p = points[:, mask] - scene.center[k].T
        lx, lz = prim.to_local(p[0], p[2], cos_yaw[k], sin_yaw[k])
        nx, ny, nz = NORMAL[kind]((lx, p[1], lz), scene.size[k].T)
        nx, nz = prim.to_world(nx, nz, cos_yaw[k], sin_yaw[k])
        normals[:, mask] = np.stack([nx, ny, nz])
        material[mask] = scene.material[k]
        obj[mask] = scene.object[k]

    view = -dirs / np.sqrt((dirs * dirs).sum(axis=0))
    return GBuffer(depth.reshape(shape), points.reshape(3, *shape), normals.reshape(3, *shape),
                   view.reshape(3, *shape), material.reshape(shape), obj.reshape(shape), hit.reshape(shape))


@dataclass
class Surface:
    """Per-pixel material properties after texturing."""
    albedo: np.ndarray  # (3, H, W) visible, linear
    nir: np.ndarray  # (H, W) reflectance at 850 nm
    nir_texture: np.ndarray  # (H, W) the material's own contrast at 850 nm
    shininess: np.ndarray  # (H, W)


def surface_properties(scene: Scene, g: GBuffer) -> Surface:
    table = scene.materials
    shape = g.depth.shape
    mat = g.material.ravel()
    pattern, spine = texture_pattern(g.points.reshape(3, -1), g.normals.reshape(3, -1), table, mat)
    albedo = table["rgb"][mat] * (1.0 + table["amp"][mat] * pattern)[:, None]
    books = table["texture"][mat] == BOOKS
    albedo[books] = spine[books] * np.where(pattern[books] < -0.5, 0.15, 1.0)[:, None]  # dark gaps between spines
    nir = table["nir"][mat] * (1.0 + table["nir_amp"][mat] * pattern)
    return Surface(np.clip(albedo.T, 0.0, 1.0).reshape(3, *shape), np.clip(nir, 0.0, 1.0).reshape(shape),
                   table["nir_amp"][mat].reshape(shape), table["shiny"][mat].reshape(shape))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product of channel-first vector images."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


LUMA = np.array([0.2126, 0.7152, 0.0722])


def render_rgb(scene: Scene, g: GBuffer, s: Surface, profile: SensorProfile, rng: np.random.Generator) -> np.ndarray:
    """Lambertian shading under the scene's point lights and ambient light, plus a Blinn-Phong
    highlight on shiny materials, seen through the profile's colour camera."""
    cam = profile.colour
    irradiance = np.repeat(scene.ambient[:, None], g.depth.size, axis=1)
    normals, points, view = (a.reshape(3, -1) for a in (g.normals, g.points, g.view))
    shiny = np.flatnonzero(s.shininess.ravel() > 0)  # highlights only where a material has a mirror lobe
    highlight = np.zeros((3, len(shiny)))
    sharpness = 8.0 + 120.0 * s.shininess.ravel()[shiny]
    for position, colour in zip(scene.light_positions, scene.light_colours):
        to_light = position[:, None] - points
        dist2 = _dot(to_light, to_light)
        l_dir = to_light / np.sqrt(dist2)
        falloff = 1.0 / (1.0 + dist2 / 9.0)  # soft inverse square: a light of about 3 m reach
        irradiance += np.maximum(_dot(normals, l_dir), 0.0) * falloff * colour[:, None]
        half = l_dir[:, shiny] + view[:, shiny]
        n_dot_h = np.maximum(_dot(normals[:, shiny], half), 0.0) / np.sqrt(_dot(half, half))
        highlight += (s.shininess.ravel()[shiny] * n_dot_h ** sharpness * falloff[shiny]) * colour[:, None]
    radiance = s.albedo.reshape(3, -1) * irradiance
    radiance[:, shiny] += 0.5 * highlight
    # auto white balance removes most of the lights' tint; the profile's response is what remains
    light_tint = scene.light_colours.mean(axis=0) / scene.light_colours.mean()
    radiance *= (np.asarray(cam.white_balance) / light_tint ** 0.7)[:, None]
    # auto exposure to a mid-grey key, with an error
    luminance = LUMA @ radiance
    radiance *= 0.2 / max(float(luminance.mean()), 1e-4) * np.exp(rng.normal(0.0, cam.exposure_jitter))
    luminance = LUMA @ radiance
    radiance = luminance + cam.saturation * (radiance - luminance)
    image = tone_curve(radiance, 1.0 / cam.gamma).reshape(g.points.shape)
    image = (1.0 - cam.blur) * image + cam.blur * box_blur3(image)
    image += cam.noise * unit_noise(rng, image.shape)
    return np.clip(np.round(image.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def render_nir(g: GBuffer, s: Surface, profile: SensorProfile, rng: np.random.Generator) -> np.ndarray:
    """Active 850 nm image: an illuminator beside the lens, so irradiance falls as cos(incidence)/z^2;
    a little ambient NIR; a square-root-like response; shot and read noise."""
    cos_incidence = np.maximum(_dot(g.normals, g.view), 0.0)
    exposure = profile.nir_gain * np.exp(rng.normal(0.0, 0.1))
    signal = s.nir * (exposure * cos_incidence / (g.depth * g.depth) + 0.02)
    image = tone_curve(signal, 1.0 / 1.8)
    image += unit_noise(rng, image.shape) * (profile.nir_noise + 0.02 * np.sqrt(image))
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def render_depth(g: GBuffer, s: Surface, profile: SensorProfile, focal: float, rng: np.random.Generator) -> np.ndarray:
    """Depth in mm as the profile's sensor measures it (see sensors.sense_depth)."""
    return sense_depth(profile, g.depth, _dot(g.normals, g.view), s.nir, s.shininess, s.nir_texture, g.points,
                       g.normals, focal, rng)


MODALITIES = ("rgb", "depth", "nir")


def render_scene(scene: Scene, profile: SensorProfile, size: int, seed, modalities=MODALITIES) -> dict[str, np.ndarray]:
    """Render the requested modalities of one scene, pixel-aligned, plus ground truth.

    seed (an int or a sequence of ints) drives the sensor noise; each modality draws from its own
    stream, so what one modality looks like does not depend on which others were requested.
    Returns uint8 "rgb" (H, W, 3), uint16 "depth" in mm (0 = invalid), uint8 "nir", and ground
    truth "true_depth" (float32 m), "object_id", "material_id", "primitive_id" (int32; room faces < 0).
    """
    width, height = profile.image_size(size)
    intr = Intrinsics.from_fov(width, height, profile.hfov_deg)
    g = trace(scene, intr)
    s = surface_properties(scene, g)
    streams = dict(zip(MODALITIES, np.random.SeedSequence(seed).spawn(len(MODALITIES))))
    out = {"true_depth": g.depth.astype(np.float32), "object_id": g.object, "material_id": g.material,
           "primitive_id": g.primitive.astype(np.int32)}
    if "rgb" in modalities:
        out["rgb"] = render_rgb(scene, g, s, profile, np.random.default_rng(streams["rgb"]))
    if "depth" in modalities:
        out["depth"] = render_depth(g, s, profile, intr.focal, np.random.default_rng(streams["depth"]))
    if "nir" in modalities:
        out["nir"] = render_nir(g, s, profile, np.random.default_rng(streams["nir"]))
    return out

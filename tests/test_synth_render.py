"""Geometry and rendering: intersections, pixel alignment of modalities, class information in depth."""

import numpy as np
import pytest

from xmt.synth import ALL_CLASSES, PROFILES, TR_CLASSES, SynthConfig, render_dataset_scene, render_scene, sample_scene
from xmt.synth import primitives as prim
from xmt.synth.camera import Intrinsics, Pose, project, ray_directions
from xmt.synth.imageops import occluded_from_offset_view


def test_intersections_match_closed_forms():
    origin = (np.zeros(1), np.zeros(1), np.full(1, -5.0))
    ray = (np.zeros(1), np.zeros(1), np.ones(1))
    assert prim.intersect_box(origin, ray, (1.0, 2.0, 0.5))[0] == pytest.approx(4.5)
    assert prim.intersect_ellipsoid(origin, ray, (1.0, 1.0, 2.0))[0] == pytest.approx(3.0)
    # vertical cylinder of radius 1 standing on y = -1, height 2, seen from the side
    side = (np.zeros(1), np.ones(1), np.full(1, -5.0))
    assert prim.intersect_frustum(side, ray, 2.0, 1.0, 1.0)[0] == pytest.approx(4.0)
    # cone (top radius 0) seen from straight above: hits the apex region, not the missing top cap
    down = (np.zeros(1), -np.ones(1), np.zeros(1))
    t = prim.intersect_frustum((np.zeros(1), np.full(1, 3.0), np.zeros(1)), down, 2.0, 1.0, 0.0)[0]
    assert t == pytest.approx(1.0, abs=1e-6)
    assert prim.intersect_box(origin, (np.ones(1), np.zeros(1), np.zeros(1)), (1.0, 1.0, 1.0))[0] == np.inf
    t, face = prim.intersect_room((0.0, 1.0, 1.0), (np.zeros(1), -np.ones(1), np.zeros(1)), (4.0, 5.0, 3.0))
    assert t[0] == pytest.approx(1.0) and prim.ROOM_FACES[face[0]] == "floor"


def test_rays_project_back_to_their_pixels():
    intr = Intrinsics.from_fov(40, 30, 60.0)
    pose = Pose((0.3, 1.4, 0.2), 0.3, -0.2, 0.05)
    dirs = ray_directions(intr, pose)
    points = np.asarray(pose.position)[:, None, None] + 2.5 * dirs
    u, v, z = project(np.moveaxis(points, 0, -1), intr, pose)
    assert np.allclose(u, np.arange(40)[None, :] + 0.5) and np.allclose(v, np.arange(30)[:, None] + 0.5)
    assert np.allclose(z, 2.5)  # t along a ray is depth along the optical axis


def test_offset_view_occlusion_band():
    z = np.full((3, 30), 3.0)
    z[:, 12:20] = 1.0
    hidden = occluded_from_offset_view(z, focal=80.0, baseline=0.075)
    # disparity 6 px at 1 m, 2 px at 3 m: the 3 to 4 px just left of the near block are hidden
    assert hidden[:, 9:12].all() and not hidden[:, :8].any() and not hidden[:, 12:].any()


@pytest.mark.parametrize("class_name", list(ALL_CLASSES))
def test_every_class_samples_valid_scenes(class_name):
    for i in range(15):
        scene = sample_scene(class_name, np.random.default_rng([11, i]))
        width, depth, height = scene.room
        x, y, z = scene.pose.position
        assert abs(x) < width / 2 and 0 < y < height and 0 < z < depth
        assert len(scene.object_kinds) > 1 and len(scene.kind) > 0
    out = render_scene(scene, PROFILES["kinect_v1"], 32, 0)
    assert len(np.unique(out["object_id"])) > 1  # furniture is in view, not only walls


def test_render_is_deterministic_and_streams_are_independent():
    scene = sample_scene("bedroom", np.random.default_rng(5))
    a = render_scene(scene, PROFILES["kinect_v2"], 32, 7)
    b = render_scene(scene, PROFILES["kinect_v2"], 32, 7)
    c = render_scene(scene, PROFILES["kinect_v2"], 32, 8)
    only_depth = render_scene(scene, PROFILES["kinect_v2"], 32, 7, ("depth",))
    for m in ("rgb", "depth", "nir"):
        assert np.array_equal(a[m], b[m]) and not np.array_equal(a[m], c[m])
    assert np.array_equal(only_depth["depth"], a["depth"]) and "rgb" not in only_depth


def _edges(a: np.ndarray, threshold: float) -> np.ndarray:
    a = a.astype(float)
    gx = np.zeros_like(a)
    gx[:, 1:] = np.abs(np.diff(a, axis=1))
    gy = np.zeros_like(a)
    gy[1:] = np.abs(np.diff(a, axis=0))
    return np.maximum(gx, gy) > threshold


def test_modalities_are_pixel_aligned():
    """Depth discontinuities sit on primitive boundaries (all primitives are convex), and RGB and NIR
    edges agree with sensed depth edges best at zero offset: the written pair shares one geometry."""
    config = SynthConfig(size=64, modalities=("depth", "nir", "rgb"))
    on_boundary, edge_count, scores = 0, 0, {}
    for i, name in enumerate(list(TR_CLASSES) * 2):
        out = render_dataset_scene(config, "test", name, i)
        true_edges = _edges(1.0 / out["true_depth"], 0.05)  # inverse depth: smooth on oblique planes
        obj = out["primitive_id"]
        boundary = np.zeros_like(true_edges)
        boundary[:, 1:] |= obj[:, 1:] != obj[:, :-1]
        boundary[1:] |= obj[1:] != obj[:-1]
        on_boundary += (boundary & true_edges).sum()
        edge_count += true_edges.sum()
        depth = out["depth"].astype(float)
        depth_edges = _edges(np.where(depth > 0, depth, np.nan), 300.0)  # holes give no edges
        for name_, image in (("rgb", out["rgb"].astype(float).mean(axis=2)), ("nir", out["nir"])):
            image_edges = _edges(image, 25.0)
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    shifted = np.roll(np.roll(image_edges, dy, axis=0), dx, axis=1)
                    scores[(name_, dy, dx)] = scores.get((name_, dy, dx), 0) + (shifted & depth_edges).sum()
    assert edge_count > 500 and on_boundary / edge_count > 0.97
    for modality in ("rgb", "nir"):
        best = max((k for k in scores if k[0] == modality), key=scores.get)
        assert best == (modality, 0, 0)


def test_class_is_recoverable_from_depth():
    """A nearest-centroid classifier on coarse depth maps tells the ten TR classes apart far above chance."""
    config = SynthConfig(size=32)

    def features(split, name, i):
        d = render_dataset_scene(config, split, name, i)["depth"].astype(float) / 1000.0
        h, w = d.shape
        d = d[:, (w - h) // 2:(w - h) // 2 + h]  # centre crop
        blocks = d.reshape(8, h // 8, 8, h // 8)
        valid = (blocks > 0).mean(axis=(1, 3))
        mean = blocks.sum(axis=(1, 3)) / np.maximum((blocks > 0).sum(axis=(1, 3)), 1)
        return np.concatenate([mean.ravel(), 3 * valid.ravel()])

    classes = list(TR_CLASSES)
    centroids = np.stack([np.mean([features("adapt", c, i) for i in range(12)], axis=0) for c in classes])
    correct = 0
    for label, c in enumerate(classes):
        for i in range(6):
            f = features("test", c, i)
            correct += int(np.argmin(((centroids - f) ** 2).sum(axis=1)) == label)
    assert correct / (6 * len(classes)) > 0.35  # chance is 0.10


def test_hole_fraction_depends_on_the_profile():
    config = SynthConfig(size=32)
    holes = {}
    for profile in PROFILES:
        fractions = []
        for i, name in enumerate(TR_CLASSES):
            scene = sample_scene(name, np.random.default_rng([21, i]))
            fractions.append((render_scene(scene, PROFILES[profile], config.size, i, ("depth",))["depth"] == 0).mean())
        holes[profile] = np.mean(fractions)
    # time of flight reaches furthest and has no projector shadow; the Xtion's range is the shortest
    assert holes["kinect_v2"] < holes["kinect_v1"] - 0.05
    assert holes["xtion"] > holes["kinect_v1"] + 0.03
    assert len({round(v, 3) for v in holes.values()}) == len(holes)

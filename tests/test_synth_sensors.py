"""Each sensor profile produces the artefacts it claims, on controlled scenes with known geometry."""

import numpy as np
import pytest

from xmt.synth.camera import Intrinsics, Pose
from xmt.synth.render import render_scene, trace
from xmt.synth.scene import Placement, SceneBuilder
from xmt.synth.sensors import PROFILES, multipath_bias

SIZE = 64


def wall_scene(distance: float, wall: str = "paint_white", box: tuple[float, float] | None = None,
               floor: str = "floor_oak", camera_height: float = 5.0, pitch: float = 0.0):
    """A camera looking straight at a wall `distance` metres away, in a room so wide and tall that the
    wall fills the middle of the image; optionally a 0.5 m cube centred `box` = (x, distance) away."""
    rng = np.random.default_rng(0)
    b = SceneBuilder(rng, (40.0, distance + 1.0, 10.0))
    if box is not None:
        b.begin("box", Placement(box[0], 1.0 + box[1]))
        b.box((0.0, camera_height, 0.0), (0.5, 0.5, 0.5), b.material("paint_white"))
    w = b.material(wall)
    faces = (w, w, b.material(floor), w, w, w)
    pose = Pose((0.0, camera_height, 1.0), 0.0, np.radians(pitch), 0.0)
    return b.build(faces, pose, [[0.0, 9.0, 1.0 + distance / 2]], [[1.0, 1.0, 1.0]], [0.3, 0.3, 0.3])


def centre(a: np.ndarray, frac: float = 0.25) -> np.ndarray:
    h, w = a.shape[:2]
    return a[int(h * frac):int(h * (1 - frac)), int(w * frac):int(w * (1 - frac))]


def sensed(scene, profile: str, seed: int = 0, modalities=("depth",)):
    return render_scene(scene, PROFILES[profile], SIZE, seed, modalities)


@pytest.mark.parametrize("profile", ["kinect_v1", "xtion", "realsense", "kinect_v2"])
def test_depth_noise_grows_with_distance(profile):
    stds = []
    for distance in (1.0, 3.0):
        errors = []
        for seed in range(3):
            wall = "tiles_white" if profile == "realsense" else "paint_white"  # stereo needs texture
            out = sensed(wall_scene(distance, wall), profile, seed)
            d, z = centre(out["depth"]).astype(float), centre(out["true_depth"]) * 1000
            errors.append((d - z)[d > 0])
        stds.append(np.concatenate(errors).std())
    if PROFILES[profile].depth.principle == "time_of_flight":
        assert stds[1] > 1.5 * stds[0]  # amplitude falls as 1/z^2: noise grows about linearly
    else:
        assert stds[1] > 4 * stds[0]  # triangulation: z^2, nine times at three times the distance


def test_kinect_v1_depth_lies_on_quantised_disparities():
    sensor = PROFILES["kinect_v1"].depth
    fb = sensor.native_focal * sensor.baseline
    on_grid = {}
    for profile in ("kinect_v1", "kinect_v2"):
        d = centre(sensed(wall_scene(3.0), profile)["depth"]).astype(float)
        steps = fb / (d[d > 0] / 1000.0) / sensor.disparity_step  # disparity in 1/8 pixel units
        on_grid[profile] = (np.abs(steps - np.round(steps)) < 0.15).mean()
    assert on_grid["kinect_v1"] == 1.0 and on_grid["kinect_v2"] < 0.6
    # neighbouring depth levels are z^2 / (f b / step) apart: about 26 mm at 3 m
    levels = np.unique(centre(sensed(wall_scene(3.0), "kinect_v1")["depth"]))
    gaps = np.diff(levels[levels > 0].astype(float))
    assert 20 < np.median(gaps) < 32


def test_range_limits_per_profile():
    far = wall_scene(6.0)
    valid = {p: (centre(sensed(far, p)["depth"]) > 0).mean() for p in PROFILES}
    assert valid["kinect_v1"] == 0 and valid["xtion"] == 0 and valid["realsense"] == 0
    assert valid["kinect_v2"] > 0.9  # time of flight reaches 8 m
    near = wall_scene(0.6)
    assert (centre(sensed(near, "xtion")["depth"]) > 0).mean() == 0  # Xtion's minimum is 0.8 m
    assert (centre(sensed(near, "kinect_v1")["depth"]) > 0).mean() > 0.9


@pytest.mark.parametrize("profile", ["kinect_v1", "kinect_v2"])
def test_holes_follow_nir_darkness_not_visible_colour(profile):
    """Black fabric (bright at 850 nm) keeps its depth; carbon-black plastic, as black in RGB, loses it."""
    holes = {}
    for material in ("fabric_black", "plastic_black_carbon", "paint_white"):
        out = sensed(wall_scene(4.0, material), profile, modalities=("depth", "rgb"))
        holes[material] = (centre(out["depth"]) == 0).mean()
    assert holes["plastic_black_carbon"] > 0.8
    assert holes["fabric_black"] < 0.2 and holes["paint_white"] < 0.1


def test_mirrors_return_no_depth():
    for profile in ("kinect_v1", "kinect_v2", "realsense"):
        assert (centre(sensed(wall_scene(2.0, "mirror"), profile)["depth"]) == 0).mean() > 0.95
        assert (centre(sensed(wall_scene(2.0, "paint_white"), profile)["depth"]) == 0).mean() < 0.1


def test_structured_light_shadow_lies_left_of_foreground():
    """The projector sits to the right: a band as wide as the disparity difference (about 6 px for a
    cube face at 0.75 m before a wall at 3 m) is lit by no dots, on the cube's left only."""
    scene = wall_scene(3.0, box=(0.0, 1.0))

    def bands(depth, obj):
        rows = np.where((obj == 1).any(axis=1))[0][2:-2]
        left = right = 0
        for y in rows:
            cols = np.where(obj[y] == 1)[0]
            left += (depth[y, cols[0] - 5:cols[0] - 1] == 0).sum()
            right += (depth[y, cols[-1] + 2:cols[-1] + 6] == 0).sum()
        return left / len(rows), right / len(rows)

    out = sensed(scene, "kinect_v1")
    left, right = bands(out["depth"], out["object_id"])
    assert left > 3.5 and right < 0.5
    # time of flight has its illuminator beside the lens: no such shadow
    out = sensed(scene, "kinect_v2")
    assert bands(out["depth"], out["object_id"])[0] < 0.5


def test_time_of_flight_mixes_depths_at_edges():
    scene = wall_scene(3.0, box=(0.0, 1.0))
    between = {}
    for profile in ("kinect_v1", "kinect_v2"):
        d = sensed(scene, profile)["depth"].astype(float)
        between[profile] = ((d > 900) & (d < 2800)).sum()  # cube face at 0.75 m, wall at 3.0 m
    assert between["kinect_v2"] >= 10 and between["kinect_v1"] == 0


def test_active_stereo_fails_on_textureless_surfaces():
    """Far from the emitter its pattern fades: a plain wall loses depth in patches, a brick wall keeps
    it thanks to its own texture, and the plain wall is fine up close."""
    holes = {m: (centre(sensed(wall_scene(3.8, m), "realsense")["depth"]) == 0).mean()
             for m in ("paint_white", "brick")}
    assert holes["paint_white"] > 0.15 and holes["brick"] < 0.02
    assert (centre(sensed(wall_scene(2.0, "paint_white"), "realsense")["depth"]) == 0).mean() < 0.02


def test_multipath_bias_peaks_in_concave_corners():
    """Looking down at a floor-wall corner: the bias is largest next to the junction."""
    scene = wall_scene(3.0, camera_height=1.5, pitch=-20.0)
    profile = PROFILES["kinect_v2"]
    width, height = profile.image_size(SIZE)
    intr = Intrinsics.from_fov(width, height, profile.hfov_deg)
    g = trace(scene, intr)
    cos = (g.normals * g.view).sum(axis=0)
    bias = multipath_bias(g.points, g.normals, np.full(g.depth.shape, 0.8), cos, g.depth, intr.focal)
    floor = g.normals[1] > 0.9
    column = bias[:, width // 2]
    junction = np.argmax(floor[:, width // 2])  # first floor row from the top
    assert column[junction - 1: junction + 2].mean() > 3 * column[5:10].mean()  # wall, far from the floor
    assert column[junction - 1: junction + 2].mean() > 3 * column[-5:].mean()  # floor, far from the wall
    assert 0.003 < bias.max() <= 0.15
    d = render_scene(scene, profile, SIZE, 0, ("depth",))
    err = d["depth"].astype(float) - d["true_depth"] * 1000
    valid = d["depth"][junction - 1: junction + 2, width // 2 - 5: width // 2 + 5] > 0
    assert err[junction - 1: junction + 2, width // 2 - 5: width // 2 + 5][valid].mean() > 2.0  # mm, longer path


def test_nir_falls_off_with_inverse_square_distance():
    means = {}
    for distance in (1.5, 3.0):
        nir = np.mean([centre(sensed(wall_scene(distance), "kinect_v2", s, ("nir",))["nir"]).mean() for s in range(4)])
        means[distance] = (nir / 255.0) ** 1.8  # undo the square-root-like response
    assert 3.0 < means[1.5] / means[3.0] < 5.0


def test_nir_reflectance_is_not_visible_colour():
    out = {m: sensed(wall_scene(2.0, m), "kinect_v1", modalities=("rgb", "nir"))
           for m in ("fabric_red", "fabric_green", "fabric_black", "plastic_black_carbon")}
    rgb = {m: centre(o["rgb"]).reshape(-1, 3).mean(axis=0) for m, o in out.items()}
    nir = {m: centre(o["nir"]).mean() for m, o in out.items()}
    assert rgb["fabric_red"][0] > rgb["fabric_red"][1] + 40 and rgb["fabric_green"][1] > rgb["fabric_green"][0] + 40
    assert abs(nir["fabric_red"] - nir["fabric_green"]) < 10  # both dyes are transparent at 850 nm
    assert abs(rgb["fabric_black"].mean() - rgb["plastic_black_carbon"].mean()) < 25
    assert nir["fabric_black"] > nir["plastic_black_carbon"] + 60

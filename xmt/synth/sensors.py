"""Sensor profiles modelled on SUN RGB-D's four RGB-D cameras, and the depth each one measures.

A profile fixes the image geometry (aspect ratio, horizontal field of view), the colour camera's
response, the active near-infrared image, and the depth principle with its artefacts:

- structured light (Kinect v1, Xtion): depth from the disparity of a projected dot pattern seen by
  an IR camera beside the projector. Disparity is quantised to 1/8 pixel of the native 640-pixel
  sensor and its noise is constant, so depth steps and noise grow with z^2. No depth where the
  projector's light is shadowed, at depth edges (the dot pattern breaks up), on surfaces returning
  too little 830 nm light (dark at NIR, grazing, far) and on shiny surfaces (dots reflected away).
- time of flight (Kinect v2): depth from the phase of modulated light from an illuminator beside
  the lens. Noise depends on the returned amplitude; pixels straddling an edge mix foreground and
  background returns (flying pixels); light bouncing off a nearby surface lengthens the path near
  concave corners (multipath bias); low amplitude gives no depth.
- active stereo (RealSense): two IR cameras match image patches, helped by a projected pattern.
  Noise grows with z^2; occlusion holes beside objects; holes where neither the pattern (weak when
  far or dark) nor the surface's own texture gives anything to match; foreground edges fatten.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .imageops import Neighbours, depth_edges, occluded_from_offset_view, smooth_noise, unit_noise

STRUCTURED_LIGHT, TIME_OF_FLIGHT, ACTIVE_STEREO = "structured_light", "time_of_flight", "active_stereo"


@dataclass(frozen=True)
class ColourCamera:
    white_balance: tuple[float, float, float]  # residual channel gains after the camera's own balance
    saturation: float
    gamma: float
    noise: float  # std of additive noise on [0, 1] output values
    blur: float  # 0 sharp .. 1 a full 3x3 box blur (optics, demosaicing)
    exposure_jitter: float  # log-std of the auto-exposure error


@dataclass(frozen=True)
class DepthSensor:
    principle: str
    min_range: float  # metres
    max_range: float
    native_focal: float  # pixels at the native resolution: sets disparity in pixels
    baseline: float  # metres between projector/second camera and the depth camera (0 for ToF)
    disparity_noise: float  # std in native pixels (structured light, stereo)
    disparity_step: float  # quantisation in native pixels (0: none)
    min_signal: float  # returned diffuse IR signal (reflectance * cos / z^2) below which no depth
    edge_dropout: float = 0.0  # chance of a hole beside a depth edge
    tof_noise: float = 0.0  # metres of noise at reference amplitude 0.5 (ToF)
    flying_pixels: float = 0.0  # chance that an edge pixel mixes both sides (ToF)
    multipath: float = 0.0  # gain of the one-bounce path-length bias (ToF)
    pattern_power: float = 0.0  # contrast the projected pattern adds for stereo matching
    match_threshold: float = 0.0  # stereo: minimum contrast for a match
    edge_fattening: float = 0.0  # stereo: chance that a background pixel takes the foreground depth


@dataclass(frozen=True)
class SensorProfile:
    name: str
    description: str
    native_size: tuple[int, int]  # (width, height) of the registered RGB-D frames
    hfov_deg: float
    colour: ColourCamera
    depth: DepthSensor
    nir_gain: float  # illuminator power times exposure: value of reflectance 1 at 1 m, head-on
    nir_noise: float

    @property
    def aspect(self) -> float:
        return self.native_size[0] / self.native_size[1]

    def image_size(self, shorter_side: int) -> tuple[int, int]:
        """(width, height) with the shorter side given and the profile's aspect ratio."""
        if self.aspect >= 1:
            return int(round(shorter_side * self.aspect)), shorter_side
        return shorter_side, int(round(shorter_side / self.aspect))

    def summary(self) -> dict:
        return {"name": self.name, "description": self.description, "principle": self.depth.principle,
                "aspect": round(self.aspect, 4), "hfov_deg": self.hfov_deg,
                "depth_range_m": [self.depth.min_range, self.depth.max_range]}


PROFILES: dict[str, SensorProfile] = {
    "kinect_v1": SensorProfile(
        "kinect_v1", "Microsoft Kinect v1: structured light, 640x480, warm noisy colour camera",
        (640, 480), 57.0,
        ColourCamera((1.06, 1.0, 0.84), 0.85, 2.2, 0.025, 0.5, 0.25),
        DepthSensor(STRUCTURED_LIGHT, 0.5, 4.5, 580.0, 0.075, 0.07, 1 / 8, 0.012, edge_dropout=0.5),
        2.0, 0.02),
    "xtion": SensorProfile(
        "xtion", "Asus Xtion Pro Live: structured light, 640x480, reddish high-contrast colour camera",
        (640, 480), 58.0,
        ColourCamera((1.10, 0.97, 0.90), 0.95, 2.5, 0.02, 0.3, 0.2),
        DepthSensor(STRUCTURED_LIGHT, 0.8, 3.5, 570.0, 0.075, 0.06, 1 / 8, 0.02, edge_dropout=0.35),
        1.8, 0.02),
    "kinect_v2": SensorProfile(
        "kinect_v2", "Microsoft Kinect v2: time of flight, 730x530 crop, wide view, cool sharp colour camera",
        (730, 530), 70.6,
        ColourCamera((0.94, 1.0, 1.08), 1.05, 2.2, 0.01, 0.1, 0.15),
        DepthSensor(TIME_OF_FLIGHT, 0.5, 8.0, 365.0, 0.0, 0.0, 0.0, 0.004,
                    tof_noise=0.002, flying_pixels=0.7, multipath=1.0),
        2.4, 0.015),
    "realsense": SensorProfile(
        "realsense", "Intel RealSense (R200): active stereo, 681x531, saturated greenish colour camera",
        (681, 531), 59.0,
        ColourCamera((0.98, 1.06, 0.92), 1.2, 2.0, 0.02, 0.3, 0.3),
        DepthSensor(ACTIVE_STEREO, 0.4, 4.0, 590.0, 0.07, 0.12, 1 / 16, 0.004,
                    pattern_power=0.21, match_threshold=0.035, edge_fattening=0.5),
        2.0, 0.025),
}


def sense_depth(profile: SensorProfile, z, normals_dot_view, reflectance, shininess, nir_texture,
                points, normals, focal: float, rng: np.random.Generator) -> np.ndarray:
    """Depth in millimetres (uint16, 0 = no measurement) that the profile's sensor reports.

    z: true depth along the optical axis (m); normals_dot_view: cosine of the incidence angle of the
    co-located illuminator; reflectance: 850 nm reflectance; nir_texture: local reflectance contrast;
    focal: focal length of the output image in pixels (for image-space effects).
    """
    sensor = profile.depth
    cos_incidence = np.clip(normals_dot_view, 0.0, 1.0)
    # the share of the light a shiny surface sends into its mirror lobe never comes back to the sensor
    signal = reflectance * (1.0 - shininess) * cos_incidence / (z * z)
    # a threshold that wanders in blobs: ragged hole borders rather than iso-signal contours
    wander = smooth_noise(rng, z.shape, max(2, z.shape[1] // 16))
    invalid = signal < sensor.min_signal * np.exp(1.2 * (wander - 0.5))
    edges, across_edge = depth_edges(z)
    if sensor.principle == TIME_OF_FLIGHT:
        measured = _time_of_flight(sensor, z, signal, points, normals, reflectance, cos_incidence,
                                   edges, across_edge, focal, rng)
    else:
        measured = _disparity_depth(sensor, z, rng)
        invalid |= occluded_from_offset_view(z, focal, sensor.baseline)
        if sensor.principle == STRUCTURED_LIGHT:
            invalid |= edges & (rng.random(z.shape) < sensor.edge_dropout)
        else:
            contrast = sensor.pattern_power * signal + nir_texture * reflectance
            blobs = 0.7 + 0.6 * smooth_noise(rng, z.shape, max(2, z.shape[1] // 20))
            invalid |= contrast < sensor.match_threshold * blobs
            # block matching lets the nearer surface win windows that straddle an edge
            fatten = edges & (across_edge < z) & (rng.random(z.shape) < sensor.edge_fattening)
            measured = np.where(fatten, across_edge, measured)
    invalid |= (z < sensor.min_range) | (z > sensor.max_range)
    mm = np.clip(np.round(measured * 1000.0), 0, 65535)
    return np.where(invalid, 0, mm).astype(np.uint16)


def _disparity_depth(sensor: DepthSensor, z, rng) -> np.ndarray:
    """Triangulation: constant disparity noise and quantisation, so depth error grows with z^2."""
    fb = sensor.native_focal * sensor.baseline
    disparity = fb / z + sensor.disparity_noise * unit_noise(rng, z.shape)
    if sensor.disparity_step:
        disparity = np.round(disparity / sensor.disparity_step) * sensor.disparity_step
    return fb / np.maximum(disparity, sensor.disparity_step or 1e-3)


def _time_of_flight(sensor: DepthSensor, z, signal, points, normals, reflectance, cos_incidence,
                    edges, across_edge, focal, rng) -> np.ndarray:
    # phase noise scales with 1/amplitude^(1/2) (photon shot noise)
    sigma = np.minimum(sensor.tof_noise * np.sqrt(0.5 / np.maximum(signal, 1e-4)), 0.1)
    measured = z + multipath_bias(points, normals, reflectance, cos_incidence, z, focal) * sensor.multipath
    measured = measured + unit_noise(rng, z.shape) * sigma
    fly = edges & (rng.random(z.shape) < sensor.flying_pixels)
    mix = rng.uniform(0.15, 0.85, z.shape)
    return np.where(fly, measured + mix * (across_edge - measured), measured)


def multipath_bias(points, normals, reflectance, cos_incidence, z, focal) -> np.ndarray:
    """Extra path length (m) from light that reaches a pixel's surface via a nearby surface.

    One bounce, sampled at four neighbours a few pixels away (up, down, left, right: where floors
    meet walls and walls meet walls in a room), each standing for a quarter of the ring around the
    pixel: the form factor between the two patches (both must face each other, as in a concave
    corner), times the neighbour's reflectance and irradiance relative to the pixel's own, times the
    detour; the phase of the mixed return shifts by about half the detour weighted by the
    indirect/direct ratio.
    """
    radius = max(2, z.shape[1] // 25)
    direct = np.maximum(cos_incidence / (z * z), 1e-3)
    # one padded stack of everything the neighbour contributes: points, normals, reflectance, irradiance, depth
    neighbours = Neighbours(np.concatenate([points, normals, (reflectance, cos_incidence / (z * z), z)]), radius)
    bias = np.zeros_like(z)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        q = neighbours.at(dy * radius, dx * radius)
        v = q[0:3] - points
        dist2 = np.maximum(v[0] * v[0] + v[1] * v[1] + v[2] * v[2], 1e-4)
        dist = np.sqrt(dist2)
        cos_p = np.maximum((normals[0] * v[0] + normals[1] * v[1] + normals[2] * v[2]) / dist, 0.0)
        cos_q = np.maximum(-(q[3] * v[0] + q[4] * v[1] + q[5] * v[2]) / dist, 0.0)
        patch_area = 2.0 * (q[8] * radius / focal) ** 2
        form_factor = cos_p * cos_q * patch_area / (np.pi * dist2)
        ratio = q[6] * form_factor * q[7] / direct
        bias += 0.5 * np.minimum(ratio, 1.0) * dist
    return np.minimum(bias, 0.15)

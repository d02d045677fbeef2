"""SUN RGB-D (Song, Lichtenberg, Xiao, CVPR 2015), as released in SUNRGBD.zip.

Layout: SUNRGBD/<sensor>/<sub-tree>/.../<frame>/ with image/<name>.jpg, depth/<name>.png,
scene.txt (one line: the scene class), depth_bfx/ (filled depth, not used) and intrinsics.txt;
sensors kv1 (NYUdata, b3dodata), kv2 (kinect2data, align_kv2), realsense (lg, sa, sh, shr),
xtion (sun3ddata, xtion_align_data). A frame is any folder holding an image/ folder.

Depth PNGs store millimetres with the 16 bits rotated left by 3; the SUN RGB-D toolbox decodes
them as bitor(bitshift(raw, -3), bitshift(raw, 16 - 3)) (then / 1000 for metres).

SOCKET's protocol (--protocol socket): the scene classes that have frames for every selected
sensor (all four by default: 17 classes in the release) are task-relevant; the pairs of all other
classes, pooled over the sensors, are the TI data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from xmt.data.sets.adapters import FORMATS, AdapterOptions, Found, require_modality
from xmt.data.sets.image_set import ImageSet
from xmt.data.sets.pairing import pairs_from_rows
from xmt.data.validation import Problems
from xmt.errors import UserError
from xmt.settings import setting

SENSORS = ("kv1", "kv2", "realsense", "xtion")
PROTOCOLS = ("none", "socket")


@dataclass
class SunrgbdOptions:
    """prepare-ti's options for --format sunrgbd."""

    sensors: Optional[str] = setting(None, f"sunrgbd: comma list of sensors to read (default: {','.join(SENSORS)}).")
    protocol: str = setting("none", "sunrgbd: 'socket' makes the scene classes found for every selected sensor "
                            "task-relevant and packs the other classes as TI (SOCKET's split); 'none' packs every "
                            "pair.", choices=PROTOCOLS)


def decode_depth(raw: np.ndarray) -> np.ndarray:
    """Stored PNG values -> millimetres (uint16 arithmetic: bits shifted past the top are dropped)."""
    raw = raw.astype(np.uint16)
    return (raw >> 3) | (raw << 13)


class SunDepthImageSet(ImageSet):
    """SUN RGB-D depth PNGs, decoded from their bit-rotated storage."""

    @property
    def files_read_plainly(self) -> bool:
        return False

    def to_native(self, stored: np.ndarray, index: int) -> np.ndarray:
        return decode_depth(stored)


def _make_set(root: Path):
    def make(modality, paths, labels, classes):
        cls = ImageSet if modality == "rgb" else SunDepthImageSet
        return cls(root, modality, paths, labels, classes)
    return make


@FORMATS.register("sunrgbd")
def find(root: Path, options: AdapterOptions, problems: Problems) -> Found:
    require_modality(options, "depth", "sunrgbd")
    if options.depth_scale_mm is not None:
        raise UserError("--depth-scale does not apply to --format sunrgbd: its depth is decoded to millimetres")
    if (root / "SUNRGBD").is_dir():
        root = root / "SUNRGBD"
    own = options.own or SunrgbdOptions()
    sensors = [s.strip() for s in own.sensors.split(",")] if own.sensors else list(SENSORS)
    unknown = [s for s in sensors if s not in SENSORS]
    if unknown:
        raise UserError(f"unknown sensor(s) {', '.join(unknown)}; SUN RGB-D has {', '.join(SENSORS)}")
    rgb, depth, scenes, groups = [], [], [], []
    # classes per sensor from every labelled frame, so a damaged image does not change the split
    scenes_of_sensor: dict[str, set[str]] = {sensor: set() for sensor in sensors}
    for sensor in sensors:
        if not (root / sensor).is_dir():
            raise UserError(f"no {sensor}/ folder: not the SUN RGB-D release layout (SUNRGBD/<sensor>/...)", path=root)
        for frame in _frames(root / sensor):
            scene = _scene(frame / "scene.txt", problems)
            images = _images(frame, problems)
            if scene is not None:
                scenes_of_sensor[sensor].add(scene)
            if scene is not None and images is not None:
                rgb.append(images[0]), depth.append(images[1]), scenes.append(scene), groups.append(sensor)
    pairs = pairs_from_rows(rgb, depth, scenes, _make_set(root), "depth", groups)
    if own.protocol != "socket":
        return Found(pairs)
    return Found(pairs, protocol_tr=sorted(set.intersection(*scenes_of_sensor.values())))


find.options = SunrgbdOptions


def _frames(sensor_dir: Path) -> list[Path]:
    frames = []
    for folder, subfolders, _ in os.walk(sensor_dir):
        if "image" in subfolders:
            frames.append(Path(folder))
            subfolders.clear()  # a frame's own folders hold no frames
    return sorted(frames)


def _images(frame: Path, problems: Problems) -> tuple[str, str] | None:
    """(jpg, depth png) of a frame, or None after reporting what it lacks."""
    images = _files(frame / "image", (".jpg", ".jpeg"))
    depths = _files(frame / "depth", (".png",))
    found = len(images) == 1 and len(depths) == 1
    if len(images) == 1 and not depths:
        problems.add(images[0], "no depth partner (depth/ holds no .png)")
    elif len(depths) == 1 and not images:
        problems.add(depths[0], "no RGB partner (image/ holds no .jpg)")
    else:
        for folder, files in (("image", images), ("depth", depths)):
            if len(files) != 1:
                problems.add(frame / folder, f"holds {len(files)} images; a frame has one")
    return (str(images[0]), str(depths[0])) if found else None


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith("."))


def _scene(path: Path, problems: Problems) -> str | None:
    try:
        scene = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        problems.add(path, "missing: the frame has no scene class")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(path, f"unreadable ({exc})")
        return None
    if not scene or "\n" in scene:
        problems.add(path, "expected one line naming the scene class")
        return None
    return scene

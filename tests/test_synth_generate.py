"""The generator: layout, manifest, determinism across worker counts, disjoint splits, aligned pairs."""

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xmt.synth import (ALL_CLASSES, PROFILES, RENDERER_VERSION, TI_CLASSES, TR_CLASSES, SynthConfig, generate,
                       render_dataset_scene, render_preview)
from xmt.synth.png import write_png

SMALL = SynthConfig(seed=3, size=32, source_per_class=2, ti_per_class=2, adapt_per_class=2, test_per_class=1,
                    tr_classes=("bedroom", "corridor", "kitchen"), ti_classes=("office", "restroom"))


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out, SMALL, workers=2)


def test_class_sets(small):
    assert len(TR_CLASSES) >= 10 and len(TI_CLASSES) >= 6
    assert not set(TR_CLASSES) & set(TI_CLASSES)
    assert set(ALL_CLASSES) == set(TR_CLASSES) | set(TI_CLASSES)


def test_layout_and_manifest(small):
    out, manifest = small
    files = {str(p.relative_to(out)) for p in out.rglob("*.png")}
    expected = set()
    for c in SMALL.tr_classes:
        expected |= {f"source/rgb/{c}/{i:05d}.png" for i in range(2)}
        for m in ("depth", "nir"):
            expected |= {f"target/adapt/{m}/{c}/{i:05d}.png" for i in range(2)}
            expected |= {f"target/test/{m}/{c}/00000.png"}
    for c in SMALL.ti_classes:
        for m in ("rgb", "depth", "nir"):
            expected |= {f"ti/{m}/{c}/{i:05d}.png" for i in range(2)}
    assert files == expected
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["classes"] == {"tr": list(SMALL.tr_classes), "ti": list(SMALL.ti_classes)}
    assert manifest["counts"]["source"] == {c: 2 for c in SMALL.tr_classes}
    assert manifest["counts"]["test"] == {c: 1 for c in SMALL.tr_classes}
    assert manifest["counts"]["ti"] == {c: 2 for c in SMALL.ti_classes}
    assert manifest["seed"] == 3 and manifest["size"] == 32 and manifest["renderer_version"] == RENDERER_VERSION
    assert manifest["modalities"] == ["depth", "nir"]
    assert manifest["profiles"]["source"]["name"] == manifest["profiles"]["target"]["name"] == "kinect_v1"
    assert manifest["depth"] == {"dtype": "uint16", "units": "mm", "invalid": 0}
    assert manifest["image_size"]["target"] == [43, 32]  # 4:3, shorter side = size


def test_image_formats(small):
    out, _ = small
    rgb = Image.open(out / "ti/rgb/office/00000.png")
    depth = Image.open(out / "ti/depth/office/00000.png")
    nir = Image.open(out / "ti/nir/office/00000.png")
    assert rgb.mode == "RGB" and nir.mode == "L" and depth.mode.startswith("I")
    assert rgb.size == depth.size == nir.size == (43, 32)
    d = np.asarray(depth)
    assert d.dtype == np.uint16 and 300 < np.median(d[d > 0]) < 9000  # millimetres


def test_files_are_the_rendered_scene(small):
    """What is on disk is exactly render_dataset_scene's output: every modality of a TI pair comes
    from one ray cast, so the pair is pixel-aligned."""
    out, _ = small
    arrays = render_dataset_scene(SMALL, "ti", "restroom", 1)
    for m in ("rgb", "depth", "nir"):
        assert np.array_equal(np.asarray(Image.open(out / f"ti/{m}/restroom/00001.png")), arrays[m])
    arrays = render_dataset_scene(SMALL, "adapt", "kitchen", 0)
    assert np.array_equal(np.asarray(Image.open(out / "target/adapt/depth/kitchen/00000.png")), arrays["depth"])


def test_same_seed_same_bytes_whatever_the_workers(small, tmp_path):
    out, _ = small
    generate(tmp_path, SMALL, workers=1)
    assert tree(tmp_path) == tree(out)


def test_other_seed_other_scenes(tmp_path):
    config = replace(SMALL, seed=4, ti_per_class=0, adapt_per_class=0, test_per_class=0)
    generate(tmp_path, config, workers=1)
    a = np.asarray(Image.open(tmp_path / "source/rgb/bedroom/00000.png"))
    assert not np.array_equal(a, render_dataset_scene(SMALL, "source", "bedroom", 0)["rgb"])


def test_splits_are_disjoint_scenes(small):
    out, _ = small
    digests = [hashlib.sha256(np.asarray(Image.open(p)).tobytes()).hexdigest()
               for p in sorted(out.rglob("depth/*/*.png"))]
    assert len(set(digests)) == len(digests)
    # same class and index in two splits: different rooms, not just different noise
    a = render_dataset_scene(SMALL, "adapt", "bedroom", 0)["true_depth"]
    b = render_dataset_scene(SMALL, "test", "bedroom", 0)["true_depth"]
    assert np.abs(a - b).mean() > 0.05


def test_class_subset_does_not_change_images():
    full = SynthConfig(size=32)
    assert np.array_equal(render_dataset_scene(full, "test", "kitchen", 5)["depth"],
                          render_dataset_scene(replace(full, tr_classes=("kitchen",)), "test", "kitchen", 5)["depth"])


def test_cross_sensor_profiles(tmp_path):
    config = replace(SMALL, source_profile="kinect_v1", target_profile="kinect_v2", source_per_class=1,
                     ti_per_class=1, adapt_per_class=1, test_per_class=1, modalities=("depth", "rgb"))
    manifest = generate(tmp_path, config, workers=1)
    assert Image.open(tmp_path / "source/rgb/bedroom/00000.png").size == PROFILES["kinect_v1"].image_size(32)
    assert Image.open(tmp_path / "ti/rgb/office/00000.png").size == PROFILES["kinect_v2"].image_size(32)
    assert Image.open(tmp_path / "target/test/rgb/bedroom/00000.png").size == PROFILES["kinect_v2"].image_size(32)
    assert not (tmp_path / "target/test/nir").exists()
    assert manifest["profiles"]["target"]["principle"] == "time_of_flight"


@pytest.mark.parametrize("bad", [dict(target_profile="kinect_v9"), dict(seed=-1), dict(modalities=("thermal",)),
                                 dict(size=8), dict(tr_classes=("office",)), dict(ti_classes=("bedroom",)),
                                 dict(test_per_class=-1), dict(modalities=())])
def test_bad_config_is_refused(bad, tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, replace(SMALL, **bad), workers=1)


def test_progress_reports_every_scene(tmp_path):
    calls = []
    config = replace(SMALL, source_per_class=1, ti_per_class=1, adapt_per_class=1, test_per_class=1)
    generate(tmp_path, config, workers=1, progress=lambda done, total: calls.append((done, total)))
    total = 3 * 3 + 2
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_preview_sheet(tmp_path):
    path = render_preview(tmp_path / "preview.png", SMALL, per_class=2)
    sheet = Image.open(path)
    rows = len(SMALL.tr_classes) + len(SMALL.ti_classes)
    assert sheet.size[1] == 12 + rows * (32 + 2)
    assert sheet.size[0] > 2 * 3 * 43


@pytest.mark.parametrize("image", [np.arange(12, dtype=np.uint8).reshape(3, 4),
                                   np.arange(36, dtype=np.uint8).reshape(3, 4, 3),
                                   (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)])
def test_png_writer_round_trips_through_pillow(image, tmp_path):
    write_png(tmp_path / "a.png", image)
    back = np.asarray(Image.open(tmp_path / "a.png"))
    assert back.dtype == image.dtype and np.array_equal(back, image)


def test_png_writer_refuses_other_images(tmp_path):
    with pytest.raises(ValueError):
        write_png(tmp_path / "a.png", np.zeros((2, 2), np.float32))

"""prepare-ti --format: each published data set's layout, on small fixtures built in that layout."""

import json

import h5py
import numpy as np
from PIL import Image

from helpers import run_cli
from xmt.data.encoding import resize_shorter_side_centre_crop
from xmt.data.packs.reader import read_pack_header
from xmt.data.sets.adapters.sunrgbd import decode_depth
from xmt.data.sets.readers import open_image_set


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def outside(tmp_path):
    """A folder beside the data set's root: xmt never writes into its inputs."""
    folder = tmp_path.with_name(tmp_path.name + "-out")
    folder.mkdir(exist_ok=True)
    return folder


def json_run(args, capsys):
    code, out, err = run_cli([*args, "-q", "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


# ---- SUN RGB-D ----------------------------------------------------------------------------

def sun_stored(millimetres: np.ndarray) -> np.ndarray:
    """What the release stores for these millimetres: the 16 bits rotated left by 3."""
    mm = millimetres.astype(np.uint32)
    return (((mm << 3) | (mm >> 13)) & 0xFFFF).astype(np.uint16)


def test_sunrgbd_depth_decoding_matches_hand_computed_millimetres():
    raw = np.array([0, 20000, 6465, 0x1234, 65535], np.uint16)
    # 20000 = 2500 << 3; 6465 = (9000 << 3) mod 2^16 | 9000 >> 13; 0x1234 -> 0x0246 | (0x1234 & 7) << 13
    assert decode_depth(raw).tolist() == [0, 2500, 9000, 0x8246, 65535]
    millimetres = np.arange(0, 65536, 7, dtype=np.uint16)
    np.testing.assert_array_equal(decode_depth(sun_stored(millimetres)), millimetres)


SUN_FRAMES = {  # sensor sub-tree/frame -> scene; bedroom is in every sensor, so SOCKET makes it TR
    "kv1/NYUdata/NYU0001": "bedroom", "kv1/NYUdata/NYU0002": "kitchen", "kv1/b3dodata/img_0063": "bedroom",
    "kv2/kinect2data/000002_2014-05-26_14-23-37_260595134347_rgbf000103-resize": "bedroom",
    "kv2/align_kv2/2014-12-10_14-48-15_094959634447_rgbf000100-resize": "kitchen",
    "realsense/lg/2014_10_24-14_19_25-1311000073": "bedroom",
    "realsense/sa/2014_10_21-17_33_32-1311000029": "lab",
    "xtion/sun3ddata/mit_32_d507/d507_2/d507_2_1": "bedroom",
    "xtion/xtion_align_data/2014_10_08-21_34_05-1311000032": "lab",
}


def make_sunrgbd(root, depth_mm=None):
    rng = np.random.default_rng(0)
    frames = {}
    for i, (relative, scene) in enumerate(SUN_FRAMES.items()):
        frame = root / "SUNRGBD" / relative
        name = frame.name.split("-")[0]
        rgb = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        mm = depth_mm if depth_mm is not None else rng.integers(0, 12000, (8, 8), dtype=np.uint16)
        save(frame / "image" / f"{name}.jpg", rgb)
        save(frame / "depth" / f"{name}.png", sun_stored(mm))
        save(frame / "depth_bfx" / f"{name}.png", sun_stored(mm + 1))  # filled depth: must be ignored
        (frame / "scene.txt").write_text(scene)
        (frame / "intrinsics.txt").write_text("529.5 0 365 0 529.5 265 0 0 1\n")
        frames[relative] = (rgb, mm)
    return frames


def test_sunrgbd_packs_every_frame_with_depth_in_millimetres(tmp_path, capsys):
    frames = make_sunrgbd(tmp_path)
    out = outside(tmp_path) / "ti.h5"
    result = json_run(["prepare-ti", "--format", "sunrgbd", "--root", tmp_path, "--size", "8", "--out", out], capsys)
    assert result["pairs"] == 9 and result["classes"] == ["bedroom", "kitchen", "lab"]
    with h5py.File(out) as f:
        depth_paths = [p.decode() for p in f["paths/depth"][:]]
        row = depth_paths.index(str(tmp_path / "SUNRGBD/kv1/NYUdata/NYU0001/depth/NYU0001.png"))
        np.testing.assert_array_equal(f["images/depth"][row, 0], frames["kv1/NYUdata/NYU0001"][1])
        assert f["paths/rgb"][row].decode().endswith("NYU0001/image/NYU0001.jpg")


def test_sunrgbd_socket_protocol_splits_classes_and_writes_tr_lists_per_sensor(tmp_path, capsys):
    frames = make_sunrgbd(tmp_path)
    result = json_run(["prepare-ti", "--format", "sunrgbd", "--root", tmp_path / "SUNRGBD", "--protocol", "socket",
                       "--size", "8", "--out", outside(tmp_path) / "ti.h5", "--tr-lists", outside(tmp_path) / "tr"], capsys)
    assert result["classes"] == ["kitchen", "lab"] and result["pairs"] == 4  # pooled over sensors
    assert sorted(result["tr_lists"]) == ["kv1", "kv2", "realsense", "xtion"]
    kv1 = result["tr_lists"]["kv1"]
    rgb, depth = open_image_set(kv1["rgb"], "rgb"), open_image_set(kv1["depth"], "depth")
    assert rgb.classes == depth.classes == ["bedroom"] and len(rgb) == len(depth) == 2
    assert rgb.paths[0].endswith("SUNRGBD/kv1/NYUdata/NYU0001/image/NYU0001.jpg")
    # the lists point to depth decoded to plain millimetre PNGs, which any stage reads correctly
    np.testing.assert_array_equal(depth.read_raw(0), frames["kv1/NYUdata/NYU0001"][1])
    np.testing.assert_array_equal(depth.read_raw(1), frames["kv1/b3dodata/img_0063"][1])
    xtion = open_image_set(result["tr_lists"]["xtion"]["depth"], "depth")
    np.testing.assert_array_equal(xtion.read_raw(0), frames["xtion/sun3ddata/mit_32_d507/d507_2/d507_2_1"][1])


def test_sunrgbd_sensor_choice_and_frame_problems(tmp_path, capsys):
    make_sunrgbd(tmp_path)
    # TR = classes with frames for every chosen sensor: kv1 {bedroom, kitchen} and realsense {bedroom, lab}
    result = json_run(["prepare-ti", "--format", "sunrgbd", "--root", tmp_path, "--sensors", "kv1,realsense",
                       "--protocol", "socket", "--size", "8", "--out", outside(tmp_path) / "a.h5"], capsys)
    assert result["classes"] == ["kitchen", "lab"] and result["pairs"] == 2
    code, _, err = run_cli(["prepare-ti", "--format", "sunrgbd", "--root", tmp_path, "--sensors", "kv1,kv2",
                            "--protocol", "socket", "--out", outside(tmp_path) / "b.h5"], capsys)
    assert code == 2 and "no TI pairs are left once the TR classes (bedroom, kitchen) are set apart" in err
    frame = tmp_path / "SUNRGBD/kv2/kinect2data/000002_2014-05-26_14-23-37_260595134347_rgbf000103-resize"
    for png in (frame / "depth").iterdir():
        png.unlink()
    (tmp_path / "SUNRGBD/kv1/NYUdata/NYU0002/scene.txt").unlink()
    code, _, err = run_cli(["prepare-ti", "--format", "sunrgbd", "--root", tmp_path, "--protocol", "socket",
                            "--tr-lists", outside(tmp_path) / "tr", "--out", outside(tmp_path) / "b.h5"], capsys)
    assert code == 2 and "2 problems" in err
    assert "image/000002_2014.jpg: no depth partner" in err and "NYU0002/scene.txt: missing" in err
    assert not (outside(tmp_path) / "b.h5").exists() and not (outside(tmp_path) / "tr").exists()  # neither output is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SUNRGBD"]
    code, _, err = run_cli(["prepare-ti", "--format", "sunrgbd", "--root", tmp_path, "--sensors", "kv3",
                            "--out", outside(tmp_path) / "b.h5"], capsys)
    assert code == 2 and "unknown sensor(s) kv3" in err


# ---- NYU Depth v2 -------------------------------------------------------------------------

def make_nyu_mat(path, scenes=("kitchen", "bedroom", "kitchen", "office")):
    """A labelled .mat in v7.3 form: MATLAB's H x W x 3 x N is (N, 3, W, H) to h5py."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (len(scenes), 12, 16, 3), dtype=np.uint8)  # (N, H, W, 3)
    metres = rng.uniform(0.5, 9.5, (len(scenes), 12, 16)).astype(np.float32)
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("images", data=rgb.transpose(0, 3, 2, 1))
        f.create_dataset("depths", data=metres.transpose(0, 2, 1))
        refs = []
        for i, scene in enumerate(scenes):
            chars = f.create_dataset(f"#refs#/s{i}", data=np.array([ord(c) for c in scene], np.uint16)[:, None])
            refs.append(chars.ref)
        f.create_dataset("sceneTypes", data=np.array(refs, dtype=h5py.ref_dtype)[None, :])
    return rgb, np.rint(metres * 1000).astype(np.uint16)


def test_nyuv2_reads_the_transposed_axes_and_scene_types(tmp_path, capsys):
    rgb, millimetres = make_nyu_mat(tmp_path / "nyu.mat")
    result = json_run(["prepare-ti", "--format", "nyuv2", "--root", tmp_path / "nyu.mat", "--size", "12",
                       "--ti-classes", "kitchen,office", "--tr-lists", outside(tmp_path) / "tr", "--out", outside(tmp_path) / "ti.h5"],
                      capsys)
    assert result["classes"] == ["kitchen", "office"] and result["pairs"] == 3
    with h5py.File(outside(tmp_path) / "ti.h5") as f:
        assert [p.decode() for p in f["paths/depth"][:]] == [f"{tmp_path}/nyu.mat#depths/{i}" for i in (0, 2, 3)]
        np.testing.assert_array_equal(f["images/rgb"][1], resize_shorter_side_centre_crop(rgb[2], 12).transpose(2, 0, 1))
        np.testing.assert_array_equal(f["images/depth"][2, 0], resize_shorter_side_centre_crop(millimetres[3], 12,
                                                                                               masked=True))
    tr_rgb = open_image_set(result["tr_lists"]["tr"]["rgb"], "rgb")
    tr_depth = open_image_set(result["tr_lists"]["tr"]["depth"], "depth")
    assert tr_rgb.classes == ["bedroom"] and len(tr_rgb) == 1
    np.testing.assert_array_equal(tr_rgb.read_raw(0), rgb[1])  # full 12x16, upright
    np.testing.assert_array_equal(tr_depth.read_raw(0), millimetres[1])


def test_nyuv2_refuses_other_files(tmp_path, capsys):
    with h5py.File(tmp_path / "other.mat", "w") as f:
        f["images"] = np.zeros((1, 3, 4, 4), np.uint8)
    code, _, err = run_cli(["prepare-ti", "--format", "nyuv2", "--root", tmp_path / "other.mat"], capsys)
    assert code == 2 and "holds no depths, sceneTypes" in err
    (tmp_path / "text.mat").write_text("MATLAB 5.0 MAT-file")
    code, _, err = run_cli(["prepare-ti", "--format", "nyuv2", "--root", tmp_path / "text.mat"], capsys)
    assert code == 2 and "not a MATLAB v7.3 (HDF5) file" in err


# ---- EPFL RGB-NIR -------------------------------------------------------------------------

def make_rgbnir(root, per_category=2):
    rng = np.random.default_rng(4)
    for category in ("country", "field", "water"):
        for i in range(per_category):
            n = f"{i + 1:04d}"
            save(root / "nirscene1" / category / f"{n}_rgb.tiff", rng.integers(0, 256, (9, 12, 3), dtype=np.uint8))
            nir = rng.integers(0, 256, (9, 12), dtype=np.uint8)
            # the release saves some NIR images as three equal channels
            save(root / "nirscene1" / category / f"{n}_nir.tiff", np.repeat(nir[..., None], 3, 2) if i else nir)


def test_rgbnir_ti_classes_and_tr_lists_of_the_other_categories(tmp_path, capsys):
    make_rgbnir(tmp_path)
    result = json_run(["prepare-ti", "--format", "rgbnir", "--root", tmp_path, "--ti-classes", "water",
                       "--size", "9", "--out", outside(tmp_path) / "ti.h5", "--tr-lists", outside(tmp_path) / "tr"], capsys)
    assert result["classes"] == ["water"] and result["pairs"] == 2
    header = read_pack_header(outside(tmp_path) / "ti.h5")
    assert header["modalities"] == ["rgb", "nir"] and header["dtypes"]["nir"] == "uint8"
    nir = open_image_set(result["tr_lists"]["tr"]["nir"], "nir")
    assert nir.classes == ["country", "field"] and len(nir) == 4
    assert nir.paths[1].endswith("nirscene1/country/0002_nir.tiff")  # TIFFs read plainly: listed as they are
    assert nir.read_raw(1).ndim == 2
    (tmp_path / "nirscene1" / "field" / "0003_nir.tiff").write_bytes(b"")
    (tmp_path / "nirscene1" / "field" / "notes.tiff").write_bytes(b"")
    code, _, err = run_cli(["prepare-ti", "--format", "rgbnir", "--root", tmp_path, "--ti-classes", "field",
                            "--out", outside(tmp_path) / "x.h5"], capsys)
    assert code == 2 and "2 problems" in err
    assert "field/0003_nir.tiff: no RGB partner" in err and "field/notes.tiff: not named" in err


# ---- xmt synth layout ---------------------------------------------------------------------

def make_synth(root, ti_classes=("cone", "ring"), tr_classes=("ball", "cube")):
    rng = np.random.default_rng(5)
    for c in ti_classes:
        for i in range(2):
            save(root / "ti" / "rgb" / c / f"{i:05d}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
            save(root / "ti" / "depth" / c / f"{i:05d}.png", rng.integers(300, 5000, (8, 8), dtype=np.uint16))
    for c in tr_classes:
        save(root / "target" / "test" / "depth" / c / "00000.png", np.full((8, 8), 1000, np.uint16))
    (root / "manifest.json").write_text(json.dumps({"format": "xmt-synth",
                                                    "classes": {"tr": list(tr_classes), "ti": list(ti_classes)}}))


def test_synth_layout_infers_the_modality_and_checks_the_manifest_tr_classes(tmp_path, capsys):
    make_synth(tmp_path / "bench")
    result = json_run(["prepare-ti", "--format", "synth", "--root", tmp_path / "bench", "--size", "8",
                       "--out", outside(tmp_path) / "ti.h5"], capsys)
    assert result["classes"] == ["cone", "ring"] and result["pairs"] == 4
    assert read_pack_header(outside(tmp_path) / "ti.h5")["modalities"] == ["rgb", "depth"]
    make_synth(tmp_path / "leaky", ti_classes=("cone", "ball"))
    code, _, err = run_cli(["prepare-ti", "--format", "synth", "--root", tmp_path / "leaky", "--out",
                            tmp_path / "x.h5"], capsys)
    assert code == 2 and "class 'ball' is also a task-relevant class (the TR classes of manifest.json)" in err
    code, _, err = run_cli(["prepare-ti", "--format", "synth", "--root", tmp_path / "bench", "--modality", "nir",
                            "--out", outside(tmp_path) / "x.h5"], capsys)
    assert code == 2 and "no ti/nir/ folder" in err
    assert not (tmp_path / "x.h5").exists()


def test_an_adapter_owns_its_options():
    """sunrgbd's --sensors and --protocol are its own: declared by its options class, refused for another format or
    input in one place, checked like any declared setting."""
    import pytest

    from xmt.data.sets.adapters import format_option_classes, own_options
    from xmt.data.sets.adapters.sunrgbd import SunrgbdOptions
    from xmt.errors import UserError

    assert SunrgbdOptions in format_option_classes()
    defaults = {"sensors": None, "protocol": "none"}
    assert own_options("sunrgbd", {"sensors": "kv1", "protocol": "socket"}) == SunrgbdOptions("kv1", "socket")
    assert own_options("synth", defaults) is None and own_options(None, defaults) is None
    for chosen in ("synth", None):
        with pytest.raises(UserError, match="^--sensors applies to --format sunrgbd only$"):
            own_options(chosen, {**defaults, "sensors": "kv1"})
    with pytest.raises(UserError, match="--protocol 'split': expected one of none, socket"):
        own_options("sunrgbd", {**defaults, "protocol": "split"})

"""xmt prepare-ti on the generic paired layout and pair lists: contents, validation, --skip-bad, outputs."""

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from helpers import run_cli
from xmt.data.encoding import resize_shorter_side_centre_crop
from xmt.data.packs.reader import read_pack_header, read_skipped


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_pairs(root, classes=("chair", "desk"), per_class=3, shape=(12, 16), seed=0):
    """root/rgb/<class>/<i>.jpg-or-png beside root/depth/<class>/<i>.png (16-bit millimetres)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for c in classes:
        for i in range(per_class):
            rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
            depth = rng.integers(500, 9000, shape, dtype=np.uint16)
            depth[0, :4] = 0  # a few invalid pixels
            save(root / "rgb" / c / f"{i}.png", rgb)
            save(root / "depth" / c / f"{i}.png", depth)
            arrays[f"{c}/{i}"] = (rgb, depth)
    return arrays


def prepare(tmp_path, capsys, *args):
    return run_cli(["prepare-ti", "--source", tmp_path / "rgb", "--target", tmp_path / "depth",
                    "--modality", "depth", "--size", "8", "-q", *args], capsys)


def test_generic_layout_pack_holds_the_pairs_resized_by_the_recipe(tmp_path, capsys):
    arrays = make_pairs(tmp_path)
    out = tmp_path / "ti.h5"
    code, stdout, err = prepare(tmp_path, capsys, "--out", out, "--workers", "0")
    assert code == 0, err
    assert stdout.strip() == str(out)
    with h5py.File(out) as f:
        assert f["images/rgb"].shape == (6, 3, 8, 8) and f["images/rgb"].dtype == np.uint8
        assert f["images/depth"].shape == (6, 1, 8, 8) and f["images/depth"].dtype == np.uint16
        assert f["images/depth"].chunks == (1, 1, 8, 8) and f["images/depth"].compression == "lzf"
        assert f["labels"][:].tolist() == [0, 0, 0, 1, 1, 1]
        paths = [p.decode() for p in f["paths/depth"][:]]
        assert paths[3].endswith("depth/desk/0.png")
        rgb, depth = arrays["desk/0"]
        np.testing.assert_array_equal(f["images/rgb"][3], resize_shorter_side_centre_crop(rgb, 8).transpose(2, 0, 1))
        np.testing.assert_array_equal(f["images/depth"][3, 0], resize_shorter_side_centre_crop(depth, 8, masked=True))
        assert f["images/depth"].attrs["units"] == "millimetres (0 = invalid)"
        stored = f["images/depth"][:]
    header = read_pack_header(out)
    assert header["classes"] == ["chair", "desk"] and header["modalities"] == ["rgb", "depth"]
    stats = header["stats"]["depth"]
    valid = stored[stored > 0].astype(np.float64)
    assert stats["mean"] == pytest.approx(valid.mean()) and stats["std"] == pytest.approx(valid.std())
    assert stats["valid_fraction"] == pytest.approx(valid.size / stored.size)
    provenance = header["provenance"]
    assert provenance["format"] == "folders" and provenance["root"] == str(tmp_path)
    assert provenance["options"]["size"] == 8 and len(provenance["inputs_sha256"]) == 64
    assert provenance["inputs_count"] == 6


def test_pack_is_identical_whatever_the_worker_count(tmp_path, capsys):
    make_pairs(tmp_path, per_class=40, shape=(10, 10))  # 80 pairs: several blocks of rows
    packs = []
    for workers in (0, 2):
        assert prepare(tmp_path, capsys, "--out", tmp_path / "ti.h5", "--workers", workers, "--force")[0] == 0
        packs.append((tmp_path / "ti.h5").read_bytes())
    assert packs[0] == packs[1]


def test_extensions_may_differ_and_list_files_pair_by_line(tmp_path, capsys):
    rng = np.random.default_rng(1)
    save(tmp_path / "rgb" / "a" / "x.jpg", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    save(tmp_path / "depth" / "a" / "x.png", np.full((8, 8), 1234, np.uint16))
    code, _, err = prepare(tmp_path, capsys, "--out", tmp_path / "a.h5")
    assert code == 0, err
    assert read_pack_header(tmp_path / "a.h5")["count"] == 1
    (tmp_path / "pairs.txt").write_text("# rgb, depth, class\nrgb/a/x.jpg\tdepth/a/x.png\tkitchen\n")
    code, _, err = run_cli(["prepare-ti", "--pairs", tmp_path / "pairs.txt", "--modality", "depth", "--size", "8",
                            "--out", tmp_path / "b.h5", "-q"], capsys)
    assert code == 0, err
    with h5py.File(tmp_path / "b.h5") as f:
        assert json.loads(f.attrs["classes"]) == ["kitchen"]
        assert f["images/depth"][0].max() == 1234
        assert f["paths/rgb"][0].decode() == str(tmp_path / "rgb" / "a" / "x.jpg")


def _single_error_line(code, err):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def make_bad_pairs(tmp_path):
    """Every kind of problem at once, beside good pairs."""
    make_pairs(tmp_path)
    rng = np.random.default_rng(2)
    save(tmp_path / "rgb" / "chair" / "lonely.png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    save(tmp_path / "depth" / "desk" / "orphan.png", np.full((12, 16), 900, np.uint16))
    save(tmp_path / "rgb" / "desk" / "dup.png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    save(tmp_path / "rgb" / "desk" / "dup.jpg", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    save(tmp_path / "depth" / "desk" / "dup.png", np.full((12, 16), 900, np.uint16))
    save(tmp_path / "rgb" / "chair" / "big.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    save(tmp_path / "depth" / "chair" / "big.png", np.full((12, 16), 900, np.uint16))
    save(tmp_path / "rgb" / "chair" / "eight.png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    save(tmp_path / "depth" / "chair" / "eight.png", np.full((12, 16), 90, np.uint8))
    save(tmp_path / "rgb" / "chair" / "cut.png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    good = tmp_path / "depth" / "chair" / "0.png"
    (tmp_path / "depth" / "chair" / "cut.png").write_bytes(good.read_bytes()[:60])  # truncated
    (tmp_path / "rgb" / "empty").mkdir()
    (tmp_path / "depth" / "empty").mkdir()


EXPECTED_PROBLEMS = {
    "rgb/chair/lonely.png: no depth partner",
    "depth/desk/orphan.png: no RGB partner",
    "rgb/desk/dup.png: duplicate stem (also dup.jpg)",
    "rgb/desk/dup.jpg: duplicate stem (also dup.png)",
    "depth/chair/big.png: 16x12 but its rgb partner big.png is 32x24",
    "depth/chair/eight.png: 8-bit depth where 16-bit millimetres are expected",
    "depth/chair/cut.png: cannot read image",
    "rgb/empty: class folder holds no images",
    "depth/empty: class folder holds no images",
}


def test_every_problem_is_reported_in_one_line_and_nothing_is_written(tmp_path, capsys):
    make_bad_pairs(tmp_path)
    out = tmp_path / "out" / "ti.h5"
    line = _single_error_line(*prepare(tmp_path, capsys, "--out", out, "--workers", "2")[::2])
    assert line.startswith(f"xmt: error: {tmp_path}: 9 problems: ")
    for expected in EXPECTED_PROBLEMS:
        assert expected in line, expected
    assert line.endswith("pass --skip-bad to drop them")
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_skip_bad_drops_the_problems_and_records_them(tmp_path, capsys):
    make_bad_pairs(tmp_path)
    out = tmp_path / "ti.h5"
    code, stdout, err = prepare(tmp_path, capsys, "--out", out, "--skip-bad", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["pairs"] == 6 and result["skipped"] == 9
    assert "left out 9 problem input(s); packed 6 pairs" in err
    skipped = read_skipped(out)
    recorded = sorted(f"{p.path.removeprefix(str(tmp_path) + '/')}: {p.what}" for p in skipped)
    assert len(recorded) == 9
    for expected in EXPECTED_PROBLEMS:
        assert any(entry.startswith(expected) for entry in recorded), expected
    with h5py.File(out) as f:
        names = {p.decode().rsplit("/", 1)[1] for p in f["paths/depth"][:]}
    assert names == {"0.png", "1.png", "2.png"}
    assert read_pack_header(out)["skipped"] == 9
    code, stdout, _ = run_cli(["inspect", out], capsys)
    assert code == 0 and "skipped inputs: 9" in stdout


def test_more_than_twenty_problems_are_counted(tmp_path, capsys):
    make_pairs(tmp_path, per_class=1)
    for i in range(25):
        save(tmp_path / "rgb" / "chair" / f"extra{i:02d}.png", np.zeros((4, 4, 3), np.uint8))
    line = _single_error_line(*prepare(tmp_path, capsys, "--out", tmp_path / "x.h5")[::2])
    assert "25 problems" in line and "(and 5 more)" in line and line.count("no depth partner") == 20


def test_tr_classes_shared_with_ti_are_a_problem_in_every_form(tmp_path, capsys):
    make_pairs(tmp_path, classes=("chair", "desk", "sofa"))
    (tmp_path / "tr.txt").write_text("desk\n# comment\nbed\n")
    (tmp_path / "trdir" / "sofa").mkdir(parents=True)
    for form, shared in (("desk,bed", "desk"), (tmp_path / "tr.txt", "desk"), (tmp_path / "trdir", "sofa")):
        line = _single_error_line(*prepare(tmp_path, capsys, "--out", tmp_path / "x.h5", "--tr-classes", form)[::2])
        assert f"1 problem: rgb/{shared}: class '{shared}' is also a task-relevant class (--tr-classes)" in line
    code, stdout, _ = prepare(tmp_path, capsys, "--out", tmp_path / "x.h5", "--tr-classes", "desk", "--skip-bad",
                              "--json")
    assert code == 0 and json.loads(stdout)["classes"] == ["chair", "sofa"]


def test_ti_classes_split_and_tr_lists(tmp_path, capsys):
    make_pairs(tmp_path, classes=("chair", "desk", "sofa"))
    code, stdout, err = prepare(tmp_path, capsys, "--out", tmp_path / "ti.h5", "--ti-classes", "chair,sofa",
                                "--tr-lists", tmp_path / "tr", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["classes"] == ["chair", "sofa"] and result["pairs"] == 6
    from xmt.data.sets.readers import open_image_set
    rgb = open_image_set(result["tr_lists"]["tr"]["rgb"], "rgb")
    depth = open_image_set(result["tr_lists"]["tr"]["depth"], "depth")
    assert rgb.classes == depth.classes == ["desk"] and len(rgb) == len(depth) == 3
    assert rgb.paths[0] == str(tmp_path / "rgb" / "desk" / "0.png")  # originals read plainly are listed as they are
    line = _single_error_line(*prepare(tmp_path, capsys, "--out", tmp_path / "y.h5", "--ti-classes", "bed")[::2])
    assert "--ti-classes names classes the data does not hold: bed" in line


def test_existing_outputs_need_force(tmp_path, capsys):
    make_pairs(tmp_path)
    out = tmp_path / "ti.h5"
    out.write_bytes(b"precious")
    line = _single_error_line(*prepare(tmp_path, capsys, "--out", out)[::2])
    assert "already exists; pass --force" in line and out.read_bytes() == b"precious"
    line = _single_error_line(*prepare(tmp_path, capsys, "--out", out, "--force")[::2])
    assert "not an output of this kind that xmt wrote" in line and out.read_bytes() == b"precious"  # --force: xmt's own only
    out.unlink()
    assert prepare(tmp_path, capsys, "--out", out)[0] == 0
    assert prepare(tmp_path, capsys, "--out", out, "--force")[0] == 0
    assert read_pack_header(out)["count"] == 6


def test_usage_errors(tmp_path, capsys):
    make_pairs(tmp_path)
    line = _single_error_line(*run_cli(["prepare-ti", "--source", tmp_path / "rgb", "--target", tmp_path / "depth",
                                        "--out", tmp_path / "x.h5"], capsys)[::2])
    assert "--modality is required" in line
    line = _single_error_line(*run_cli(["prepare-ti", "--pairs", tmp_path / "p.txt", "--format", "synth",
                                        "--root", tmp_path], capsys)[::2])
    assert "give one input" in line
    line = _single_error_line(*prepare(tmp_path, capsys, "--out", tmp_path / "x.h5", "--root", tmp_path / "rgb")[::2])
    assert "--root applies to --format and --pairs" in line
    line = _single_error_line(*prepare(tmp_path, capsys, "--out", tmp_path / "x.h5", "--tr-lists", tmp_path / "tr")[::2])
    assert "--tr-lists needs TR classes" in line
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "tr").exists()


def test_pair_list_problems(tmp_path, capsys):
    make_pairs(tmp_path, per_class=2)
    (tmp_path / "pairs.txt").write_text(
        "rgb/chair/0.png\tdepth/chair/0.png\tchair\n"
        "rgb/chair/1.png\tdepth/chair/missing.png\tchair\n"
        "rgb/desk/0.png\tdepth/desk/0.png\n"
        "rgb/desk/1.png\n"
        "rgb/chair/0.png\tdepth/desk/1.png\tdesk\n")
    line = _single_error_line(*run_cli(["prepare-ti", "--pairs", tmp_path / "pairs.txt", "--modality", "depth",
                                        "--out", tmp_path / "x.h5"], capsys)[::2])
    assert "4 problems" in line
    assert "depth/chair/missing.png: listed on line 2 of pairs.txt but does not exist" in line
    assert "pairs.txt:3: no class, while other lines give one" in line
    assert "pairs.txt:4: expected 'rgb_path<TAB>target_path[<TAB>class]', got 1 field(s)" in line
    assert "rgb/chair/0.png: listed more than once in pairs.txt (lines 1, 5)" in line


def test_input_fingerprint_follows_the_files_not_where_they_lie(tmp_path, capsys):
    import shutil

    make_pairs(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b" / "rgb" / "desk" / "2.png").rename(tmp_path / "b" / "rgb" / "desk" / "2b.png")
    shutil.copytree(tmp_path / "a", tmp_path / "elsewhere" / "a")
    fingerprints = {}
    for name in ("a", "b", "elsewhere/a"):
        code, _, err = run_cli(["prepare-ti", "--source", tmp_path / name / "rgb", "--target", tmp_path / name / "depth",
                                "--modality", "depth", "--size", "8", "--skip-bad", "-q",
                                "--out", tmp_path / f"{name.replace('/', '-')}.h5"], capsys)
        assert code == 0, err
        fingerprints[name] = read_pack_header(tmp_path / f"{name.replace('/', '-')}.h5")["provenance"]["inputs_sha256"]
    assert fingerprints["a"] == fingerprints["elsewhere/a"] != fingerprints["b"]

"""SOCKET's and tllib's list files, read as they are.

The fixture is laid out as SOCKET's official example data set: `data/example_dataset/` holds two
"modalities" of PNGs (`red/` RGB, `blue/` grey, standing in for NIR), class folders `circle/` and
`square/`, TI data `TI_red/triangle/`, `TI_blue/triangle/`, and lists whose lines read
`../data/example_dataset/blue/circle/0.png 0`: relative to `tests/`, the folder SOCKET's scripts
run from, with integer labels; the TI data is two lists aligned line by line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import pattern_image, run_cli
from xmt.data.packs.reader import read_pack_header
from xmt.data.sets.readers import open_image_set
from xmt.errors import UserError
from xmt.artifacts import load_model

SHAPES = {"circle": "hstripes", "square": "vstripes", "triangle": "checker"}  # class -> an easy pattern
PER_CLASS = 10
PREFIX = "../data/example_dataset"
FAST = ["--backbone", "smallcnn", "--size", "32", "--epochs", "1", "--device", "cpu", "-q"]


def _save(path: Path, image: np.ndarray, grey: bool) -> None:
    Image.fromarray(image.mean(axis=2).astype(np.uint8) if grey else image).save(path)


def _write_modality(base: Path, folder: str, classes: list[str], grey: bool, rng) -> list[str]:
    """PNGs under base/folder/<class>/<i>.png; returns SOCKET's list lines (integer label = sorted class index)."""
    lines = []
    for index, name in enumerate(classes):
        (base / folder / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            _save(base / folder / name / f"{i}.png", pattern_image(SHAPES[name], rng), grey)
            lines.append(f"{PREFIX}/{folder}/{name}/{i}.png {index}")
    (base / f"{folder}_list.txt").write_text("\n".join(lines) + "\n")
    return lines


@pytest.fixture(scope="module")
def socket_repo(tmp_path_factory) -> Path:
    """A SOCKET checkout: data/example_dataset/ with its four lists, and the tests/ folder they are relative to."""
    repo = tmp_path_factory.mktemp("SOCKET")
    base = repo / "data" / "example_dataset"
    rng = np.random.default_rng(13)
    for folder, grey in (("red", False), ("blue", True)):
        _write_modality(base, folder, ["circle", "square"], grey, rng)
        _write_modality(base, f"TI_{folder}", ["triangle"], grey, rng)
    (repo / "tests").mkdir()
    return repo


@pytest.fixture
def in_tests(socket_repo, monkeypatch) -> Path:
    """Run from SOCKET's tests/ folder, as its scripts do."""
    monkeypatch.chdir(socket_repo / "tests")
    return socket_repo / "tests"


def _lists(socket_repo) -> Path:
    return socket_repo / "data" / "example_dataset"


@pytest.mark.slow
def test_train_source_and_pack_from_socket_lists_end_to_end(socket_repo, in_tests, tmp_path, capsys):
    lists = PREFIX
    code, out, err = run_cli(["train-source", f"{lists}/red_list.txt", "--root", ".",
                              "--out", tmp_path / "src.safetensors", *FAST], capsys)
    assert code == 0, err
    model = load_model(tmp_path / "src.safetensors")
    assert model.classes == ["circle", "square"]  # integer labels named by their folders, in label order
    assert model.meta["provenance"]["inputs"]["data"]["list_labels"] == {"circle": 0, "square": 1}

    code, out, err = run_cli(["prepare-ti", "--source-list", f"{lists}/TI_red_list.txt", "--target-list",
                              f"{lists}/TI_blue_list.txt", "--modality", "nir", "--root", ".", "--size", "32",
                              "--out", tmp_path / "ti.h5", "--json", "-q"], capsys)
    assert code == 0, err
    assert json.loads(out)["pairs"] == PER_CLASS and json.loads(out)["classes"] == ["triangle"]
    header = read_pack_header(tmp_path / "ti.h5")
    assert header["modalities"] == ["rgb", "nir"] and header["count"] == PER_CLASS

    code, out, err = run_cli(["pack", f"{lists}/blue_list.txt", "--root", ".", "--modality", "nir", "--size", "32",
                              "--out", tmp_path / "blue.h5", "-q"], capsys)
    assert code == 0, err
    header = read_pack_header(tmp_path / "blue.h5")
    assert header["classes"] == ["circle", "square"]
    assert header["provenance"]["list_labels"] == {"circle": 0, "square": 1}

    # the target list straight into transfer and evaluate, with --root as everywhere
    code, out, err = run_cli(["transfer", "--method", "source-only", "--source-model", tmp_path / "src.safetensors",
                              "--target-data", f"{lists}/blue_list.txt", "--root", ".", "--target", "nir",
                              "--out", tmp_path / "tgt.safetensors", "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["evaluate", tmp_path / "src.safetensors", "--data", f"{lists}/red_list.txt",
                              "--root", ".", "--json", "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    assert json.loads(out)["count"] == 2 * PER_CLASS


def test_cwd_relative_lists_without_root_name_root_dot(socket_repo, in_tests, tmp_path, capsys):
    out = tmp_path / "src.safetensors"
    code, _, err = run_cli(["train-source", f"{PREFIX}/blue_list.txt", "--out", out, *FAST], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "relative to the working directory: pass --root ." in err and "blue_list.txt" in err
    assert not out.exists()
    code, _, err = run_cli(["prepare-ti", "--source-list", f"{PREFIX}/TI_red_list.txt", "--target-list",
                            f"{PREFIX}/TI_blue_list.txt", "--modality", "nir", "--out", tmp_path / "ti.h5"], capsys)
    assert code == 2 and "pass --root ." in err and "TI_red_list.txt" in err
    assert not list(tmp_path.iterdir()) and not list(in_tests.iterdir())  # nothing left behind


def test_root_dir_resolves_from_anywhere(socket_repo, tmp_path, capsys):
    """tllib's way: lists relative to a data root given apart (here SOCKET's tests/ folder, from elsewhere)."""
    code, out, err = run_cli(["pack", _lists(socket_repo) / "red_list.txt", "--root", socket_repo / "tests",
                              "--modality", "rgb", "--size", "32", "--out", tmp_path / "red.h5", "--json", "-q"],
                             capsys)
    assert code == 0, err
    assert json.loads(out)["images"] == 2 * PER_CLASS


def _ti(tmp_path, capsys, rgb_lines: list[str], target_lines: list[str], *extra) -> tuple[int, str]:
    (tmp_path / "rgb.txt").write_text("\n".join(rgb_lines) + "\n")
    (tmp_path / "nir.txt").write_text("\n".join(target_lines) + "\n")
    code, _, err = run_cli(["prepare-ti", "--source-list", tmp_path / "rgb.txt", "--target-list", tmp_path / "nir.txt",
                            "--modality", "nir", "--root", ".", "--size", "32", "--out", tmp_path / "ti.h5", *extra],
                           capsys)
    assert code != 2 or (len(err.strip().splitlines()) == 1 and not (tmp_path / "ti.h5").exists())
    return code, err


def test_ti_list_problems_name_the_list_and_line(socket_repo, in_tests, tmp_path, capsys):
    rgb = (_lists(socket_repo) / "TI_red_list.txt").read_text().splitlines()
    nir = (_lists(socket_repo) / "TI_blue_list.txt").read_text().splitlines()
    code, err = _ti(tmp_path, capsys, rgb, nir[:-1])
    assert code == 2 and "rgb.txt: lists 10 images but" in err and "nir.txt lists 9: line 10 has no partner" in err
    swapped = nir[:3] + [nir[4], nir[3]] + nir[5:]
    code, err = _ti(tmp_path, capsys, rgb, swapped)
    assert code == 2 and (f"nir.txt:4: {PREFIX}/TI_blue/triangle/4.png is not the partner of "
                          f"{PREFIX}/TI_red/triangle/3.png (line 4 of rgb.txt)") in err
    assert "nir.txt:5:" in err and "2 problems" in err
    missing = nir[:6] + [nir[6].replace("6.png", "66.png")] + nir[7:]
    code, err = _ti(tmp_path, capsys, rgb, missing)
    assert code == 2 and "nir.txt:7: ../data/example_dataset/TI_blue/triangle/66.png does not exist" in err
    code, err = _ti(tmp_path, capsys, rgb, missing, "--skip-bad", "-q")
    assert code == 0 and read_pack_header(tmp_path / "ti.h5")["count"] == PER_CLASS - 1
    (tmp_path / "ti.h5").unlink()
    # labels are read and ignored: none at all, or ones that disagree, are fine
    unlabelled, relabelled = [line.split()[0] for line in rgb], [line.replace(" 0", " 5") for line in nir]
    code, err = _ti(tmp_path, capsys, unlabelled, relabelled, "-q")
    assert code == 0, err
    assert read_pack_header(tmp_path / "ti.h5")["classes"] == ["triangle"]


def test_flat_ti_lists_pair_by_stem_modality_tags_aside(tmp_path, capsys):
    for side, tag, grey in (("TI_rgb", "rgb", False), ("TI_nir", "nir", True)):
        (tmp_path / side).mkdir()
        for i in range(3):
            _save(tmp_path / side / f"{i}_{tag}.png", pattern_image("checker", np.random.default_rng(i)), grey)
    (tmp_path / "rgb.txt").write_text("".join(f"TI_rgb/{i}_rgb.png\n" for i in range(3)))
    (tmp_path / "nir.txt").write_text("".join(f"TI_nir/{i}_nir.png\n" for i in (0, 2, 1)))
    code, _, err = run_cli(["prepare-ti", "--source-list", tmp_path / "rgb.txt", "--target-list", tmp_path / "nir.txt",
                            "--modality", "nir", "--out", tmp_path / "ti.h5"], capsys)
    assert code == 2 and "nir.txt:2: TI_nir/2_nir.png is not the partner of TI_rgb/1_rgb.png" in err
    (tmp_path / "nir.txt").write_text("".join(f"TI_nir/{i}_nir.png\n" for i in range(3)))
    code, _, err = run_cli(["prepare-ti", "--source-list", tmp_path / "rgb.txt", "--target-list", tmp_path / "nir.txt",
                            "--modality", "nir", "--size", "32", "--out", tmp_path / "ti.h5", "-q"], capsys)
    assert code == 0, err
    header = read_pack_header(tmp_path / "ti.h5")
    assert header["classes"] is None and header["count"] == 3


# ---- the label column: absent, an integer index, or a class name -----------------------------------------

def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(path)


def test_integer_labels_take_names_from_folders_or_classes_file(tmp_path):
    for name in ("back_pack/a.jpg", "bike/b.jpg", "bike/c.jpg", "calculator/d.jpg"):
        _png(tmp_path / "amazon" / "images" / name)
    # tllib's Office-31 list: relative to the data root, integer labels; class 1 absent here
    (tmp_path / "list.txt").write_text("amazon/images/calculator/d.jpg 2\namazon/images/back_pack/a.jpg 0\n")
    images = open_image_set(tmp_path / "list.txt", "rgb")
    assert images.classes == ["back_pack", "calculator"] and images.labels.tolist() == [1, 0]
    assert images.list_labels == {"back_pack": 0, "calculator": 2}
    named = open_image_set(tmp_path / "list.txt", "rgb", classes=["back_pack", "bike", "calculator"])
    assert named.classes == ["back_pack", "bike", "calculator"] and named.labels.tolist() == [2, 0]
    with pytest.raises(UserError, match=r"line 1: label 2 is beyond the 2 classes of --classes"):
        open_image_set(tmp_path / "list.txt", "rgb", classes=["back_pack", "bike"])
    with pytest.raises(UserError, match=r"is a folder \(its class folders name the classes\); --classes names"):
        open_image_set(tmp_path / "amazon" / "images", "rgb", classes=["back_pack"])
    # integers are indices, not names sorted as text
    lines = "".join(f"amazon/images/{c}/{f} {i}\n" for c, f, i in
                    (("back_pack", "a.jpg", 10), ("bike", "b.jpg", 9), ("calculator", "d.jpg", 2)))
    (tmp_path / "ten.txt").write_text(lines)
    assert open_image_set(tmp_path / "ten.txt", "rgb").classes == ["calculator", "bike", "back_pack"]


def test_integer_labels_whose_folders_cannot_name_them_are_refused(tmp_path, capsys):
    for name in ("bike/b.jpg", "bike/c.jpg", "calculator/d.jpg"):
        _png(tmp_path / name)
    (tmp_path / "split.txt").write_text("bike/b.jpg 0\ncalculator/d.jpg 0\n")
    with pytest.raises(UserError, match=r"label 0 is on images in two folders, bike \(line 1\) and calculator "
                                        r"\(line 2\).*--classes FILE"):
        open_image_set(tmp_path / "split.txt", "rgb")
    (tmp_path / "shared.txt").write_text("bike/b.jpg 0\nbike/c.jpg 1\ncalculator/d.jpg 1\n")
    code, _, err = run_cli(["pack", tmp_path / "shared.txt", "--modality", "rgb", "--out", tmp_path / "p.h5"], capsys)
    assert code == 2 and "folder bike holds images of labels 0 (line 1) and 1 (line 2)" in err
    assert not (tmp_path / "p.h5").exists()
    (tmp_path / "classes.txt").write_text("bike\ncalculator\n")
    code, _, err = run_cli(["pack", tmp_path / "shared.txt", "--modality", "rgb", "--classes", tmp_path / "classes.txt",
                            "--size", "8", "--out", tmp_path / "p.h5", "-q"], capsys)
    assert code == 0, err
    assert read_pack_header(tmp_path / "p.h5")["classes"] == ["bike", "calculator"]
    # where labels are only for scoring (target data), they are left unread with a warning instead
    images = open_image_set(tmp_path / "shared.txt", "rgb", labels_optional=True)
    assert not images.labelled and "labels are left unread" in capsys.readouterr().err


def test_class_name_labels_and_unlabelled_lists_still_read(tmp_path):
    for name in ("x/1.png", "x/2.png"):
        _png(tmp_path / name)
    (tmp_path / "names.txt").write_text("x/1.png dog\nx/2.png cat\n")
    images = open_image_set(tmp_path / "names.txt", "rgb")
    assert images.classes == ["cat", "dog"] and images.labels.tolist() == [1, 0] and images.list_labels is None
    (tmp_path / "bare.txt").write_text("x/1.png\nx/2.png\n")
    assert not open_image_set(tmp_path / "bare.txt", "rgb").labelled


@pytest.mark.parametrize("text, problem", [("a\n\nb\n", "line 2 is blank"), ("a\nb\na\n", "'a' is named twice"),
                                           ("\n", "names no classes")])
def test_classes_file_problems(tmp_path, capsys, text, problem):
    _png(tmp_path / "a" / "0.png")
    (tmp_path / "l.txt").write_text("a/0.png 0\n")
    (tmp_path / "classes.txt").write_text(text)
    code, _, err = run_cli(["pack", tmp_path / "l.txt", "--modality", "rgb", "--classes", tmp_path / "classes.txt",
                            "--out", tmp_path / "p.h5"], capsys)
    assert code == 2 and problem in err and "classes.txt" in err and not (tmp_path / "p.h5").exists()

"""Bad and degenerate input data: each stage exits 2 with one line naming the input and what is wrong, and
leaves every file as it was.

Each case builds its inputs in the test's folder (tiny images, untrained models) and names the session
fixtures it needs, so that most cases cost milliseconds.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import pytest
import torch
from harness import assert_refused, run_in_process
from PIL import Image

from xmt.cli import main
from xmt.data.encoding import EncodingRecipe
from xmt.data.packs.reader import HEADER_KEY, header_sha256, read_pack_header, read_skipped
from xmt.models.classifier import Classifier
from xmt.artifacts import save_model

CPU = ["--device", "cpu", "-q"]
RNG = np.random.default_rng(0)


# ---- inputs ----------------------------------------------------------------------------------

def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def rgb(shape=(8, 8)) -> np.ndarray:
    return RNG.integers(0, 256, (*shape, 3), dtype=np.uint8)


def depth(shape=(8, 8)) -> np.ndarray:
    return RNG.integers(300, 6000, shape, dtype=np.uint16)


def rgb_folder(root: Path, classes=("a", "b"), per_class=3) -> Path:
    for c in classes:
        for i in range(per_class):
            save(root / c / f"{i}.png", rgb())
    return root


def depth_folder(root: Path, images: list[np.ndarray]) -> Path:
    for i, image in enumerate(images):
        save(root / f"{i}.png", image)
    return root


def untrained_model(path: Path, classes: list[str], size: int = 16, kind: str = "source-model",
                    modality: str = "rgb") -> Path:
    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(path, Classifier("smallcnn", len(classes), 32), kind=kind, classes=classes,
               recipe=EncodingRecipe.for_modality(modality, size=size), config={}, provenance={})
    return path


def cli(args: list) -> None:
    """Build an input with xmt itself (before the case's snapshot)."""
    assert main([str(a) for a in args]) == 0


@dataclass
class Case:
    id: str
    make: Callable  # (tmp_path, fixtures) -> the xmt arguments
    fragments: tuple[str, ...]
    needs: tuple[str, ...] = ()
    code: int = 2
    owned: tuple[str, ...] = field(default=())


def transfer(source, data, *extra):
    return ["transfer", "--source-model", source, "--target-data", data, "--method", "shot", "--epochs", "1",
            "--out", Path(source).parent / "target.safetensors", *CPU, *extra]


def bridge(source, ti, data, *extra):
    return ["bridge", "--source-model", source, "--ti", ti, "--target-data", data, "--epochs", "1",
            "--out", Path(source).parent / "bridge", *CPU, *extra]


def train(data, tmp):
    return ["train-source", data, "--out", tmp / "source.safetensors", "--backbone", "smallcnn", "--epochs", "1",
            "--size", "16", *CPU]


def pack(data, tmp, *extra):
    return ["pack", data, "--modality", "rgb", "--out", tmp / "p.h5", "--workers", "0", "-q", *extra]


def pack_depth(data, tmp, *extra):
    return ["pack", data, "--modality", "depth", "--out", tmp / "p.h5", "--size", "8", "--workers", "0",
            "-q", *extra]


# ---- degenerate data (issue 9, item 7) --------------------------------------------------------

def one_class_folder(tmp, fx):
    return train(rgb_folder(tmp / "one", classes=("only",)), tmp)


def one_class_list(tmp, fx):
    rgb_folder(tmp / "imgs", classes=("only",))
    (tmp / "list.txt").write_text("".join(f"imgs/only/{i}.png\tonly\n" for i in range(3)))
    return train(tmp / "list.txt", tmp)


def one_class_pack(tmp, fx):
    cli(pack(rgb_folder(tmp / "one", classes=("only",)), tmp))
    return train(tmp / "p.h5", tmp)


def one_class_source_transfer(tmp, fx):
    source = untrained_model(tmp / "m" / "one.safetensors", ["only"])
    return transfer(source, depth_folder(tmp / "tr", [depth(), depth()]))


def one_class_source_bridge(tmp, fx):
    source = untrained_model(tmp / "m" / "one.safetensors", ["only"])
    return bridge(source, tmp / "ti.h5", depth_folder(tmp / "tr", [depth(), depth()]))


def zero_depth_pack(tmp, fx):
    return pack_depth(depth_folder(tmp / "zero", [depth(), np.zeros((8, 8), np.uint16)]), tmp)


def zero_depth_transfer(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"])
    return transfer(source, depth_folder(tmp / "zero", [np.zeros((8, 8), np.uint16)] * 3))


def constant_depth_transfer(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"])
    return transfer(source, depth_folder(tmp / "flat", [np.full((8, 8), 1500, np.uint16)] * 3))


def zero_depth_bridge(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], size=read_pack_header(fx["tiny_ti"])["size"])
    return bridge(source, fx["tiny_ti"], depth_folder(tmp / "zero", [np.zeros((8, 8), np.uint16)] * 3))


def ti_overlap_bridge(tmp, fx):
    header = read_pack_header(fx["tiny_ti"])
    source = untrained_model(tmp / "m" / "src.safetensors", [header["classes"][0], "zz-other"], size=header["size"])
    return bridge(source, fx["tiny_ti"], depth_folder(tmp / "tr", [depth(), depth()]))


def ti_overlap_transfer(tmp, fx):
    header = read_pack_header(fx["tiny_ti"])
    source = untrained_model(tmp / "m" / "src.safetensors", [header["classes"][0], "zz-other"], size=header["size"])
    return transfer(source, depth_folder(tmp / "tr", [depth(), depth()]), "--ti", fx["tiny_ti"])


def duplicate_stem(tmp, fx):
    data = rgb_folder(tmp / "d")
    save(data / "a" / "0.jpg", rgb())
    return pack(data, tmp)


def listed_twice(tmp, fx):
    rgb_folder(tmp / "d")
    (tmp / "list.txt").write_text("d/a/1.png\nd/a/1.png\nd/b/0.png\n")
    return pack(tmp / "list.txt", tmp)


def dangling_link_pack(tmp, fx):
    data = rgb_folder(tmp / "d")
    os.symlink(tmp / "gone.png", data / "a" / "9.png")
    return pack(data, tmp)


def dangling_link_train(tmp, fx):
    data = rgb_folder(tmp / "d")
    os.symlink(tmp / "gone.png", data / "b" / "9.png")
    return train(data, tmp)


def dangling_link_flat(tmp, fx):
    data = depth_folder(tmp / "tr", [depth(), depth()])
    os.symlink(tmp / "gone.png", data / "7.png")
    return transfer(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"]), data)


# ---- translators that do not fit, labels that do not fit ---------------------------------------

def translator_bad_arg(tmp, fx):
    return bridge(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], size=32), tmp / "ti.h5", tmp / "tr",
                  "--translator-arg", "nonsense=1")


def translator_bad_size(tmp, fx):
    return bridge(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], size=32), tmp / "ti.h5", tmp / "tr",
                  "--translator", "vq", "--translator-arg", "downsample=64")


def translator_bad_channels(tmp, fx):
    return bridge(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], size=32), tmp / "ti.h5", tmp / "tr",
                  "--translator", "light", "--translator-arg", "in_channels=3")


def evaluate(model, data, tmp):
    return ["evaluate", model, "--data", data, "--out", tmp / "metrics.json", *CPU]


def unknown_class_list(tmp, fx):
    rgb_folder(tmp / "d")
    (tmp / "list.txt").write_text("d/a/0.png\ta\nd/b/0.png\tzebra\n")
    return evaluate(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"]), tmp / "list.txt", tmp)


def _rewrite_labels(path: Path, labels: np.ndarray, reseal: bool = True) -> None:
    """Replace a pack's labels; `reseal`: record the header checksum anew (a consistent forgery, to reach the
    checks behind the checksum)."""
    with h5py.File(path, "r+") as f:
        del f["labels"]
        f.create_dataset("labels", data=labels, fletcher32=True)
        if reseal:
            f.attrs[HEADER_KEY] = header_sha256(f)


def labels_rewritten(tmp, fx):
    cli(pack(rgb_folder(tmp / "d"), tmp))
    bad = tmp / "bad.h5"
    os.replace(tmp / "p.h5", bad)
    _rewrite_labels(bad, np.array([0, 0, 1], np.int64), reseal=False)
    return evaluate(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"]), bad, tmp)


def labels_out_of_range(tmp, fx):
    cli(pack(rgb_folder(tmp / "d"), tmp))
    bad = tmp / "bad.h5"
    os.replace(tmp / "p.h5", bad)
    _rewrite_labels(bad, np.array([7, 0, 0, 1, 1, 1], np.int64))
    return evaluate(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"]), bad, tmp)


def labels_too_short(tmp, fx):
    cli(pack(rgb_folder(tmp / "d"), tmp))
    bad = tmp / "bad.h5"
    os.replace(tmp / "p.h5", bad)
    _rewrite_labels(bad, np.array([0, 0, 1], np.int64))
    return evaluate(untrained_model(tmp / "m" / "src.safetensors", ["a", "b"]), bad, tmp)


# ---- inputs recognised by content ------------------------------------------------------------

def checkpoint_named_h5(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"])
    (tmp / "tr.h5").write_bytes(source.read_bytes())
    return transfer(source, tmp / "tr.h5")


def checkpoint_as_images(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"])
    return ["predict", source, source, "--out", tmp / "p.csv", "--device", "cpu", "-q"]


def text_named_h5(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"])
    (tmp / "tr.h5").write_text("not a pack\n")
    return transfer(source, tmp / "tr.h5")


# ---- what already worked: keep it so ----------------------------------------------------------

def missing_folder(tmp, fx):
    return train(tmp / "absent", tmp)


def empty_folder(tmp, fx):
    (tmp / "empty").mkdir()
    return train(tmp / "empty", tmp)


def corrupt_image(tmp, fx):
    data = rgb_folder(tmp / "d")
    good = (data / "a" / "0.png").read_bytes()
    (data / "a" / "1.png").write_bytes(good[:40])
    return pack(data, tmp)


def wrong_checkpoint_kind(tmp, fx):
    target = untrained_model(tmp / "m" / "t.safetensors", ["a", "b"], kind="target-model", modality="depth")
    return bridge(target, tmp / "ti.h5", tmp / "tr")


def ti_pack_of_other_size(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], size=16)
    return bridge(source, fx["tiny_ti"], depth_folder(tmp / "tr", [depth(), depth()]))


def ti_pack_of_other_modality(tmp, fx):
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], size=read_pack_header(fx["tiny_ti"])["size"])
    return bridge(source, fx["tiny_ti"], tmp / "tr", "--target", "nir")


def translations_of_another_source(tmp, fx):
    size = read_pack_header(fx["tiny_bridge"] / "translated.h5")["size"]
    source = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], size=size)
    return transfer(source, fx["tiny_synth"] / "target" / "adapt" / "depth", "--method", "tgkt",
                    "--translated", fx["tiny_bridge"] / "translated.h5", "--beta-f", "0")


# ---- the hostile-input audit (issue 25) ---------------------------------------------------------

NOT_UTF8 = "its name is not valid UTF-8"


def non_utf8_file(tmp, fx):
    data = rgb_folder(tmp / "d")
    os.rename(data / "a" / "0.png", os.fsdecode(bytes(data / "a") + b"/\xff0.png"))
    return pack(data, tmp)


def non_utf8_folder(tmp, fx):
    data = rgb_folder(Path(os.fsdecode(bytes(tmp) + b"/d\xfe")))
    return train(data, tmp)


def non_utf8_out(tmp, fx):
    model = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"])
    return ["predict", model, rgb_folder(tmp / "d"), "--out", os.fsdecode(bytes(tmp) + b"/p\xff.csv"), *CPU]


def png_header(width: int, height: int) -> bytes:
    """A PNG file that declares width x height 8-bit grey pixels (Pillow checks the size when it opens it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def decompression_bomb(tmp, fx):
    data = rgb_folder(tmp / "d")
    (data / "a" / "huge.png").write_bytes(png_header(20000, 20000))
    return pack(data, tmp)


def symlink_loop(tmp, fx):
    data = rgb_folder(tmp / "d")
    os.symlink("loop2.png", data / "a" / "loop1.png")
    os.symlink("loop1.png", data / "a" / "loop2.png")
    return pack(data, tmp)


def fifo_named_png(tmp, fx):
    data = depth_folder(tmp / "tr", [depth(), depth()])
    os.mkfifo(data / "9.png")
    model = untrained_model(tmp / "m" / "src.safetensors", ["a", "b"], modality="depth")
    return ["predict", model, data, "--out", tmp / "p.csv", *CPU]


def negative_list_label(tmp, fx):
    rgb_folder(tmp / "d")
    (tmp / "list.txt").write_text("d/a/0.png 0\nd/a/1.png 0\nd/b/0.png 1\nd/b/1.png -1\n")
    return pack(tmp / "list.txt", tmp)


def negative_list_label_with_classes(tmp, fx):
    (tmp / "classes.txt").write_text("a\nb\n")
    return negative_list_label(tmp, fx) + ["--classes", tmp / "classes.txt"]


def same_file_rgb_and_target(tmp, fx):
    rgb_folder(tmp / "d")
    (tmp / "pairs.txt").write_text("d/a/0.png\td/a/0.png\nd/a/1.png\td/b/1.png\n")
    return ["prepare-ti", "--pairs", tmp / "pairs.txt", "--modality", "nir", "--out", tmp / "ti.h5", "-q"]


def folder_as_model(tmp, fx):
    (tmp / "model.safetensors").mkdir()
    return ["predict", tmp / "model.safetensors", rgb_folder(tmp / "d"), "--out", tmp / "p.csv", *CPU]


def config_bad_value(tmp, fx):
    (tmp / "run.toml").write_text("epochs = -1\n")
    return train(rgb_folder(tmp / "d"), tmp) + ["--config", tmp / "run.toml"]


def nan_pretrained(tmp, fx):
    from xmt.models.backbones import BACKBONES

    state = {k: v.clone() for k, v in BACKBONES.create("smallcnn")[0].state_dict().items()}
    next(v for v in state.values() if v.is_floating_point()).view(-1)[0] = float("nan")
    torch.save(state, tmp / "nan.pt")
    return train(rgb_folder(tmp / "d"), tmp) + ["--pretrained", tmp / "nan.pt"]


def out_is_its_own_log(tmp, fx):
    return ["train-source", rgb_folder(tmp / "d"), "--out", tmp / "x.jsonl", "--backbone", "smallcnn",
            "--epochs", "1", "--size", "16", *CPU]


AUDIT = [
    Case("pack non-UTF-8 file name", non_utf8_file, ("\\xff0.png", NOT_UTF8)),
    Case("train-source non-UTF-8 folder name", non_utf8_folder, ("d\\xfe", NOT_UTF8)),
    Case("predict --out non-UTF-8 name", non_utf8_out, ("p\\xff.csv", NOT_UTF8)),
    Case("pack 20000x20000 PNG", decompression_bomb, ("a/huge.png", "image too large to decode")),
    Case("pack symbolic link loop", symlink_loop, ("a/loop1.png", "symbolic link loop")),
    Case("predict FIFO named .png", fifo_named_png, ("9.png", "not a regular file")),
    Case("pack list with a negative label", negative_list_label, ("list.txt", "line 4: label -1 is negative")),
    Case("pack list with a negative label and --classes", negative_list_label_with_classes,
         ("list.txt", "line 4: label -1 is negative")),
    Case("prepare-ti pair of one file", same_file_rgb_and_target,
         ("d/a/0.png", "is both the RGB and the target image of line 1 of pairs.txt")),
    Case("predict folder as a model", folder_as_model, ("model.safetensors", "is a folder, not a checkpoint file")),
    Case("train-source bad value in --config", config_bad_value, ("run.toml", "'--epochs'", "-1")),
    Case("train-source NaN in --pretrained", nan_pretrained,
         ("nan.pt", "holds non-finite weights: tensor 'trunk.0.weight'")),
    Case("train-source --out is its own log", out_is_its_own_log,
         ("x.jsonl", "would be both this stage's source-model checkpoint and its xmt log")),
]


CASES = [
    Case("train-source one-class folder", one_class_folder, ("one", "needs at least 2 classes; found 1 (only)")),
    Case("train-source one-class list", one_class_list, ("list.txt", "needs at least 2 classes; found 1 (only)")),
    Case("train-source one-class pack", one_class_pack, ("p.h5", "needs at least 2 classes; found 1 (only)")),
    Case("transfer one-class source model", one_class_source_transfer,
         ("one.safetensors", "1 class(es) (only)", "transfer needs a source model of at least 2 classes")),
    Case("bridge one-class source model", one_class_source_bridge,
         ("one.safetensors", "bridge needs a source model of at least 2 classes")),
    Case("pack all-invalid depth image", zero_depth_pack, ("1.png: depth is entirely invalid (every pixel is 0)",
                                                           "--skip-bad")),
    Case("transfer all-invalid depth folder", zero_depth_transfer, ("zero", "holds no valid depth")),
    Case("transfer constant depth folder", constant_depth_transfer, ("flat", "no depth image has any structure",
                                                                     "1500 mm")),
    Case("bridge all-invalid TR depth", zero_depth_bridge, ("zero", "holds no valid depth"), needs=("tiny_ti",)),
    Case("bridge TI classes overlap the source's", ti_overlap_bridge,
         ("ti.h5", "TI pack shares 1 class(es) with the source model"), needs=("tiny_ti",)),
    Case("transfer --ti classes overlap the source's", ti_overlap_transfer,
         ("ti.h5", "TI pack shares 1 class(es) with the source model"), needs=("tiny_ti",)),
    Case("pack duplicate stem", duplicate_stem, ("a/0.jpg", "a/0.png", "duplicate stem")),
    Case("pack list naming a file twice", listed_twice, ("d/a/1.png", "listed 2 times")),
    Case("pack dangling link", dangling_link_pack, ("a/9.png", "dangling symbolic link")),
    Case("train-source dangling link", dangling_link_train, ("b/9.png", "dangling symbolic link")),
    Case("transfer dangling link in a flat folder", dangling_link_flat, ("7.png", "dangling symbolic link")),
    Case("bridge translator argument", translator_bad_arg, ("nonsense",)),
    Case("bridge translator size", translator_bad_size, ("--translator vq downsample=64 does not fit", "32x32")),
    Case("bridge translator channels", translator_bad_channels, ("--translator light in_channels=3 does not fit",)),
    Case("evaluate list with an unknown class", unknown_class_list, ("list.txt", "zebra", "not among the model's")),
    Case("evaluate pack labels out of range", labels_out_of_range,
         ("bad.h5", "label 7 of row 0: not one of its 2 classes (0..1)")),
    Case("evaluate pack labels shorter than images", labels_too_short,
         ("bad.h5", "holds 3 labels for 6 rows of images/rgb")),
    Case("evaluate pack labels rewritten", labels_rewritten, ("bad.h5", "header checksum mismatch")),
    Case("transfer checkpoint named .h5", checkpoint_named_h5,
         ("tr.h5", "is not an HDF5 file (it holds a safetensors checkpoint)")),
    Case("transfer text named .h5", text_named_h5, ("tr.h5", "is not an HDF5 file")),
    Case("predict checkpoint as images", checkpoint_as_images, ("src.safetensors", "is a safetensors checkpoint")),
    Case("train-source missing folder", missing_folder, ("absent", "no such file or folder")),
    Case("train-source empty folder", empty_folder, ("empty", "holds no images")),
    Case("pack corrupt image", corrupt_image, ("a/1.png", "cannot read image")),
    Case("bridge target model as source", wrong_checkpoint_kind, ("t.safetensors", "target-model", "source-model")),
    Case("bridge TI pack of another size", ti_pack_of_other_size, ("ti.h5", "re-pack with --size 16"),
         needs=("tiny_ti",)),
    Case("bridge TI pack of another modality", ti_pack_of_other_modality, ("ti.h5", "expected rgb paired with nir"),
         needs=("tiny_ti",)),
    Case("transfer translations of another source model", translations_of_another_source,
         ("translated.h5", "another source model"), needs=("tiny_synth", "tiny_bridge")),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if "tiny_bridge" in c.needs else [])
                                  for c in CASES + AUDIT])  # a case that needs the tiny bridge is end to end
def test_bad_data_is_refused_in_one_line(case, tmp_path, capsys, request):
    fixtures = {name: request.getfixturevalue(name) for name in case.needs}
    args = case.make(tmp_path, fixtures)
    outcome = run_in_process(args, capsys, tmp_path)
    assert_refused(outcome, case.code, *case.fragments, owned=case.owned)


# ---- what --skip-bad and sniffing accept -------------------------------------------------------

def test_skip_bad_leaves_out_and_records_dangling_links_duplicates_and_invalid_depth(tmp_path, capsys):
    data = depth_folder(tmp_path / "d", [depth(), depth(), np.zeros((8, 8), np.uint16)])
    save(data / "1.tif", depth())  # same stem as 1.png
    os.symlink(tmp_path / "gone.png", data / "5.png")
    out = tmp_path / "p.h5"
    assert main([str(a) for a in pack_depth(data, tmp_path, "--skip-bad")]) == 0
    assert read_pack_header(out)["count"] == 1  # only 0.png is left
    skipped = {Path(p.path).name: p.what for p in read_skipped(out)}
    assert set(skipped) == {"1.png", "2.png", "5.png"}
    assert "dangling" in skipped["5.png"] and "duplicate stem" in skipped["1.png"] and "invalid" in skipped["2.png"]


def test_a_pack_without_the_h5_suffix_is_read_as_a_pack(tmp_path, capsys):
    cli(pack(rgb_folder(tmp_path / "d"), tmp_path, "--size", "16"))  # the model's size: evaluate refuses others
    renamed = tmp_path / "images.bin"
    os.replace(tmp_path / "p.h5", renamed)
    model = untrained_model(tmp_path / "m" / "src.safetensors", ["a", "b"])
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", str(renamed), "--json", "-q", "--device", "cpu"]) == 0
    assert '"count": 6' in capsys.readouterr().out


def test_a_byte_order_mark_is_not_part_of_the_first_listed_path(tmp_path, capsys):
    rgb_folder(tmp_path / "d")
    (tmp_path / "list.txt").write_bytes(b"\xef\xbb\xbfd/a/0.png\ta\nd/a/1.png\ta\nd/b/0.png\tb\n")
    cli(pack(tmp_path / "list.txt", tmp_path))
    with h5py.File(tmp_path / "p.h5", "r") as f:
        first = f["paths/rgb"][0].decode()
    assert first == str(tmp_path / "d" / "a" / "0.png")

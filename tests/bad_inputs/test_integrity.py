"""Integrity of artifacts (issue 9, items 5 and 8): no model with non-finite weights is written or used,
a checkpoint's content hash is verified on every load, a pack's chunks carry checksums, and
`xmt inspect --verify` checks a whole artifact and the inputs its provenance records."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from helpers import TINY_SIZE
from harness import assert_refused, run_in_process
from xmt.cli import main
from xmt.data.packs.reader import HEADER_KEY, CorruptData, PackDataset, PackImageSet, header_sha256, read_pack_header
from xmt.data.packs.writer import COMPRESSIONS, PackWriter
from xmt.engine.checkpoint import HASH_KEY, METADATA_KEY, content_sha256, read_checkpoint, save_checkpoint
from xmt.engine.run_state import RunState, fingerprint, state_path
from xmt.errors import RunFailure, UserError
from xmt.artifacts import load_model

ROW = 17  # the row whose chunk is corrupted
CPU = ("--device", "cpu", "-q")


# ---- crafting bad artifacts ---------------------------------------------------------------------------

def _header(path: Path) -> tuple[int, dict]:
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    return 8 + length, json.loads(data[8:8 + length])


def flip_tensor_byte(src: Path, dst: Path) -> str:
    """A copy of checkpoint `src` with one bit flipped in the middle of its largest tensor; its name."""
    start, header = _header(src)
    name = max((k for k in header if k != "__metadata__"),
               key=lambda k: header[k]["data_offsets"][1] - header[k]["data_offsets"][0])
    begin, end = header[name]["data_offsets"]
    data = bytearray(src.read_bytes())
    data[start + (begin + end) // 2] ^= 0x01  # lowest mantissa bit: a plausible value, a changed model
    dst.write_bytes(bytes(data))
    return name


def nan_weights(src: Path, dst: Path) -> str:
    """A copy of `src` with a NaN weight, written with safetensors directly (bypassing save_checkpoint's check)
    and with valid xmt metadata, its content hash recomputed so that only the NaN is wrong."""
    tensors, meta = read_checkpoint(src)
    name = next(n for n in sorted(tensors) if n.endswith("weight") and tensors[n].is_floating_point())
    tensors = {n: t.clone() for n, t in tensors.items()}
    tensors[name].view(-1)[0] = math.nan
    meta[HASH_KEY] = content_sha256(tensors, meta)
    save_file(tensors, str(dst), metadata={METADATA_KEY: json.dumps(meta)})
    return name


def corrupt_chunk(src: Path, dst: Path, dataset: str, row: int = ROW) -> None:
    """A copy of pack `src` with one byte of the chunk holding `row` of `dataset` changed."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r") as f:
        d = f[dataset]
        info = d.id.get_chunk_info_by_coord((row - row % d.chunks[0],) + (0,) * (d.ndim - 1))
    with open(dst, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        byte = fh.read(1)[0]
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(bytes([byte ^ 0x20]))


def xmt_ok(*args) -> None:
    assert main([str(a) for a in args]) == 0, args


# ---- shared artifacts -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def made(tiny_synth, tiny_source, tmp_path_factory) -> dict[str, Path]:
    """Packs of the tiny benchmark (TR depth, labelled source RGB) and a source-only target model."""
    root = tmp_path_factory.mktemp("integrity")
    made = {"tr": root / "tr.h5", "rgb": root / "rgb.h5", "target": root / "target.safetensors"}
    xmt_ok("pack", tiny_synth / "target" / "adapt" / "depth", "--modality", "depth", "--size", TINY_SIZE,
           "--out", made["tr"], "-q")
    xmt_ok("pack", tiny_synth / "source" / "rgb", "--modality", "rgb", "--size", TINY_SIZE, "--out", made["rgb"], "-q")
    xmt_ok("transfer", "--method", "source-only", "--source-model", tiny_source, "--target-data", made["tr"],
           "--target", "depth", "--out", made["target"], *CPU)
    return made


def _transfer(method: str, source, target_data, out, *extra) -> list:
    return ["transfer", "--method", method, "--source-model", source, "--target-data", target_data,
            "--target", "depth", "--out", out, "--epochs", "1", "--batch-size", "16", *extra, *CPU]


# ---- checkpoints: a flipped bit, NaN weights ------------------------------------------------------------

CHECKPOINT_STAGES = {
    "evaluate": lambda bad, s, out: ["evaluate", bad, "--data", s.synth / "source" / "rgb", *CPU],
    "predict": lambda bad, s, out: ["predict", bad, s.synth / "source" / "rgb", "--out", out / "p.csv", *CPU],
    "transfer": lambda bad, s, out: _transfer("source-only", bad, s.made["tr"], out / "t.safetensors"),
    "inspect --verify": lambda bad, s, out: ["inspect", "--verify", bad],
}


class Setting:
    def __init__(self, synth, made, source):
        self.synth, self.made, self.source = synth, made, source


@pytest.fixture
def setting(tiny_synth, made, tiny_source) -> Setting:
    return Setting(tiny_synth, made, tiny_source)


@pytest.mark.parametrize("stage", list(CHECKPOINT_STAGES))
def test_a_bit_flipped_checkpoint_is_refused(stage, setting, tmp_path, capsys):
    bad = tmp_path / "flipped.safetensors"
    flip_tensor_byte(setting.source, bad)
    out = tmp_path / "out"
    out.mkdir()
    outcome = run_in_process(CHECKPOINT_STAGES[stage](bad, setting, out), capsys, tmp_path)
    assert_refused(outcome, 2, "flipped.safetensors", "content hash mismatch: the file is corrupt")


@pytest.mark.parametrize("stage", ["evaluate", "predict", "transfer", "inspect --verify"])
def test_a_model_with_nan_weights_is_refused(stage, setting, tmp_path, capsys):
    bad = tmp_path / "nan.safetensors"
    name = nan_weights(setting.source, bad)
    out = tmp_path / "out"
    out.mkdir()
    outcome = run_in_process(CHECKPOINT_STAGES[stage](bad, setting, out), capsys, tmp_path)
    assert_refused(outcome, 2, "nan.safetensors", "non-finite weights", f"tensor '{name}'")


@pytest.mark.slow
def test_a_bit_flipped_target_model_and_translator_are_refused(made, tiny_bridge, tiny_synth, tmp_path, capsys):
    bad = tmp_path / "target.safetensors"
    flip_tensor_byte(made["target"], bad)
    outcome = run_in_process(["predict", bad, made["tr"], "--out", tmp_path / "p.csv", *CPU], capsys, tmp_path)
    assert_refused(outcome, 2, "target.safetensors", "content hash mismatch")
    bad = tmp_path / "translator.safetensors"
    flip_tensor_byte(tiny_bridge / "translator.safetensors", bad)
    outcome = run_in_process(["inspect", "--verify", bad], capsys, tmp_path)
    assert_refused(outcome, 2, "translator.safetensors", "content hash mismatch")


def test_save_checkpoint_refuses_non_finite_tensors(tmp_path):
    for value in (math.nan, math.inf, -math.inf):
        tensors = {"a.weight": torch.ones(3), "b.running_var": torch.tensor([1.0, value]),
                   "c.bias": torch.tensor([value])}
        out = tmp_path / "m.safetensors"
        with pytest.raises(RunFailure, match=r"non-finite weights: tensor 'b.running_var' holds inf/nan") as error:
            save_checkpoint(out, tensors, {"kind": "translator"})
        assert error.value.exit_code == 1
        assert list(tmp_path.iterdir()) == []
    bf16 = {"w": torch.tensor([1.0, math.nan], dtype=torch.bfloat16), "n": torch.tensor(3)}
    with pytest.raises(RunFailure, match="tensor 'w'"):
        save_checkpoint(tmp_path / "b.safetensors", bf16, {"kind": "translator"})
    assert list(tmp_path.iterdir()) == []


def test_train_source_with_a_huge_lr_writes_no_model(tiny_synth, tmp_path, capsys):
    """lr 1e10 overflows the last BatchNorm's running variance while the loss stays finite: a model that
    would predict nan. (The loss is checked at every step; the weights only before they are written.)"""
    out = tmp_path / "source.safetensors"
    outcome = run_in_process(["train-source", tiny_synth / "source" / "rgb", "--out", out, "--backbone", "smallcnn",
                              "--epochs", "1", "--batch-size", "50", "--size", TINY_SIZE, "--lr", "1e10", *CPU],
                             capsys, tmp_path)
    assert_refused(outcome, 1, "refusing to write a model with non-finite weights: tensor '", "holds inf/nan",
                   owned=(str(out.with_suffix(".jsonl")),))
    assert not out.exists()


# ---- the content hash -------------------------------------------------------------------------------------

def test_content_hash_identifies_the_tensors():
    tensors = {"b": torch.arange(6, dtype=torch.float32).reshape(2, 3), "a": torch.tensor(7),
               "h": torch.tensor([0.5, -2.0], dtype=torch.bfloat16), "m": torch.tensor([True, False])}
    digest = content_sha256(tensors)
    assert digest == content_sha256({k: tensors[k].clone() for k in reversed(list(tensors))})  # order, copies
    assert len(digest) == 64
    one_byte = {**tensors, "b": tensors["b"].clone()}
    one_byte["b"].reshape(-1).view(torch.uint8)[5] ^= 1
    assert content_sha256(one_byte) != digest
    assert content_sha256({**tensors, "b": tensors["b"].reshape(3, 2)}) != digest  # same bytes, other shape
    assert content_sha256({**tensors, "b": tensors["b"].view(torch.int32)}) != digest  # same bytes, other dtype
    assert content_sha256({**tensors, "c": tensors.pop("b")}) != digest  # same bytes, other name
    bf16 = {"h": torch.tensor([0.5, -2.0], dtype=torch.bfloat16)}
    flipped = {"h": bf16["h"].clone()}
    flipped["h"].view(torch.uint8)[0] ^= 1
    assert content_sha256(bf16) != content_sha256(flipped)


def test_the_hash_covers_the_tensors_and_the_whole_metadata(tiny_source):
    tensors, meta = read_checkpoint(tiny_source)
    assert meta["schema"] == 3 and meta[HASH_KEY] == content_sha256(tensors, meta)
    assert content_sha256(tensors, {**meta, "classes": meta["classes"][::-1]}) != meta[HASH_KEY]
    assert content_sha256(tensors, {**meta, "xmt_version": "9"}) != meta[HASH_KEY]
    assert content_sha256(tensors) != meta[HASH_KEY]  # schema 2's hash: the tensors alone


def flip_class_bit(src: Path, dst: Path) -> str:
    """A copy of `src` with one bit flipped in the last letter of its first class name, in the file's bytes."""
    name = read_checkpoint(src)[1]["classes"][0]
    data = src.read_bytes()
    at = data.index(f'\\"{name}\\"'.encode()) + len(name)  # the name inside the JSON-escaped metadata
    flipped = bytearray(data)
    flipped[at] ^= 0x01
    dst.write_bytes(bytes(flipped))
    return name


def rewrite_metadata(src: Path, dst: Path, change) -> None:
    """A copy of `src` whose xmt metadata `change(meta)` altered, the stored hash kept as it was."""
    tensors, meta = read_checkpoint(src)
    change(meta)
    save_file(tensors, str(dst), metadata={METADATA_KEY: json.dumps(meta)})


HEADER_CHANGES = {
    "a bit flipped in a class name": lambda src, dst: flip_class_bit(src, dst),
    "the class list reversed": lambda src, dst: rewrite_metadata(
        src, dst, lambda m: m.__setitem__("classes", m["classes"][::-1])),
    "the normalisation mean x50": lambda src, dst: rewrite_metadata(
        src, dst, lambda m: m["recipe"].__setitem__("mean", [50 * v for v in m["recipe"]["mean"]])),
}


@pytest.mark.parametrize("change", list(HEADER_CHANGES))
@pytest.mark.parametrize("stage", ["predict", "evaluate", "inspect --verify"])
def test_a_changed_checkpoint_header_is_refused(change, stage, setting, tmp_path, capsys):
    bad = tmp_path / "changed.safetensors"
    HEADER_CHANGES[change](setting.source, bad)
    out = tmp_path / "out"
    out.mkdir()
    outcome = run_in_process(CHECKPOINT_STAGES[stage](bad, setting, out), capsys, tmp_path)
    assert_refused(outcome, 2, "changed.safetensors", "content hash mismatch: the file is corrupt")


def _older(src: Path, dst: Path, schema: int, change=lambda t, m: None) -> None:
    """`src` rewritten as schema 1 (no hash) or 2 (a hash of the tensors alone), then `change(tensors, meta)`d."""
    tensors, meta = read_checkpoint(src)
    tensors = {k: v.clone() for k, v in tensors.items()}
    meta = {k: v for k, v in meta.items() if k != HASH_KEY} | {"schema": schema}
    if schema == 2:
        meta[HASH_KEY] = content_sha256(tensors)
    change(tensors, meta)
    save_file(tensors, str(dst), metadata={METADATA_KEY: json.dumps(meta)})


def _scaled(tensors, meta):
    name = next(n for n in sorted(tensors) if n.endswith("weight"))
    tensors[name].mul_(2)


@pytest.mark.parametrize("schema", [1, 2])
def test_an_older_checkpoint_loads_with_a_warning_and_verify_does_not_say_ok(schema, setting, tmp_path, capsys):
    """Schema 1 (no hash: also what a downgrade that drops the hash looks like) and schema 2 (tensors only)
    still load, each with a warning naming what is not verified; --verify refuses to call them ok."""
    old = tmp_path / "old.safetensors"
    _older(setting.source, old, schema, _scaled)  # a changed weight: only schema 2's hash can see it
    out = tmp_path / "out"
    out.mkdir()
    outcome = run_in_process(CHECKPOINT_STAGES["predict"](old, setting, out), capsys, tmp_path)
    if schema == 2:
        assert_refused(outcome, 2, "old.safetensors", "content hash mismatch")
        _older(setting.source, old, schema)
        outcome = run_in_process(CHECKPOINT_STAGES["predict"](old, setting, out), capsys, tmp_path)
    assert outcome.code == 0, outcome.err
    warning = [line for line in outcome.lines if "warning:" in line]
    assert len(warning) == 1 and "old.safetensors" in warning[0] and f"schema {schema} checkpoint" in warning[0]
    assert ("tensors and metadata" if schema == 1 else "tensors only, so its metadata") in warning[0]
    assert "not verified" in warning[0]

    outcome = run_in_process(["inspect", "--verify", old], capsys, tmp_path)
    assert_refused(outcome, 2, "old.safetensors", "not verified", f"schema {schema} checkpoint")
    assert "verdict: unverified" in outcome.out and "verdict: ok" not in outcome.out
    assert "NOT VERIFIED" in outcome.out


def test_a_schema_3_checkpoint_without_its_hash_is_refused(setting, tmp_path, capsys):
    bad = tmp_path / "nohash.safetensors"
    rewrite_metadata(setting.source, bad, lambda m: m.pop(HASH_KEY))
    outcome = run_in_process(["inspect", "--verify", bad], capsys, tmp_path)
    assert_refused(outcome, 2, "nohash.safetensors", "schema 3 checkpoint without its content hash")


# ---- packs: a corrupt chunk ------------------------------------------------------------------------------

PACK_CASES = {
    # id: (which pack, dataset corrupted, stage args, fragment naming the rows)
    "transfer TR pack": ("tr", "images/depth", lambda bad, s, out: _transfer("source-only", s.source, bad, out / "t.safetensors"),
                         f"row {ROW} of images/depth fails its checksum (corrupt file)"),
    "transfer TR pack, workers": ("tr", "images/depth", lambda bad, s, out: _transfer(
        "source-only", s.source, bad, out / "t.safetensors", "--workers", "2"),
        f"row {ROW} of images/depth fails its checksum (corrupt file)"),
    "transfer TI pack": ("ti", "images/depth", lambda bad, s, out: _transfer(
        "socket", s.source, s.synth / "target" / "adapt" / "depth", out / "t.safetensors", "--ti", bad),
        f"row {ROW} of images/depth fails its checksum"),
    "transfer translated pack": ("translated", "probs", lambda bad, s, out: _transfer(
        "tgkt", s.source, s.synth / "target" / "adapt" / "depth", out / "t.safetensors", "--translated", bad,
        "--beta-f", "0"), "of probs fail their checksums (corrupt file)"),
    "evaluate": ("rgb", "images/rgb", lambda bad, s, out: ["evaluate", s.source, "--data", bad, *CPU],
                 f"row {ROW} of images/rgb fails its checksum (corrupt file)"),
    "evaluate, workers": ("rgb", "images/rgb", lambda bad, s, out: ["evaluate", s.source, "--data", bad,
                                                                     "--workers", "2", *CPU],
                          f"row {ROW} of images/rgb fails its checksum (corrupt file)"),
    "predict": ("rgb", "images/rgb", lambda bad, s, out: ["predict", s.source, bad, "--out", out / "p.csv", *CPU],
                f"row {ROW} of images/rgb fails its checksum"),
    "pack (re-packing)": ("tr", "images/depth", lambda bad, s, out: ["pack", bad, "--modality", "depth",
                                                                     "--out", out / "re.h5", "-q"],
                          f"row {ROW} of images/depth fails its checksum"),
    "inspect --verify": ("tr", "images/depth", lambda bad, s, out: ["inspect", "--verify", bad],
                         f"row {ROW} of images/depth fails its checksum (corrupt file)"),
    "inspect --verify labels": ("tr", "labels", lambda bad, s, out: ["inspect", "--verify", bad],
                                "of labels fail their checksums (corrupt file)"),
}


@pytest.fixture
def packs(made, tiny_ti, tiny_bridge) -> dict[str, Path]:
    return {"tr": made["tr"], "rgb": made["rgb"], "ti": tiny_ti, "translated": tiny_bridge / "translated.h5"}


@pytest.mark.slow  # the packs fixture needs tiny_bridge's translated pack
@pytest.mark.parametrize("case", list(PACK_CASES))
def test_a_corrupt_pack_chunk_is_refused_naming_the_row(case, packs, setting, tmp_path, capsys):
    which, dataset, stage, fragment = PACK_CASES[case]
    bad = tmp_path / f"bad-{which}.h5"
    corrupt_chunk(packs[which], bad, dataset)
    out = tmp_path / "out"
    out.mkdir()
    outcome = run_in_process(stage(bad, setting, out), capsys, tmp_path)
    assert_refused(outcome, 2, bad.name, fragment)


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
def test_every_compression_carries_checksums(compression, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 6000, (24, 1, 16, 16)).astype(np.uint16)
    images[:, :, :8] = 1234  # compressible halves
    path = tmp_path / f"{compression}.h5"
    with h5py.File(path, "w") as f:
        writer = PackWriter(f, {"depth": np.dtype(np.uint16)}, 16, compression)
        writer.append({"depth": images})
        writer.finish(labels=np.zeros(24, np.int64), paths={"depth": [f"{i}.png" for i in range(24)]},
                      classes=["a"], kind="images", provenance={})
    with h5py.File(path, "r") as f:
        assert f["images/depth"].fletcher32 and f["labels"].fletcher32
    good = PackImageSet.open(path, "depth")
    assert np.array_equal(np.squeeze(good.read_stored(ROW)), images[ROW, 0])
    bad = tmp_path / f"bad-{compression}.h5"
    corrupt_chunk(path, bad, "images/depth")
    bad_set = PackImageSet.open(bad, "depth")
    assert np.array_equal(np.squeeze(bad_set.read_stored(ROW - 1)), images[ROW - 1, 0])  # other rows still read
    with pytest.raises(CorruptData, match=f"bad-{compression}.h5: row {ROW} of images/depth fails its checksum"):
        bad_set.read_stored(ROW)
    with pytest.raises(CorruptData, match=f"row {ROW} of images/depth fails"):
        PackDataset(bad)[ROW]


def test_a_dataloader_worker_reports_a_corrupt_row_in_one_line(made, tmp_path):
    bad = tmp_path / "bad.h5"
    corrupt_chunk(made["tr"], bad, "images/depth")
    loader = torch.utils.data.DataLoader(PackDataset(bad), batch_size=8, num_workers=1)
    with pytest.raises(UserError) as error:
        for _ in loader:
            pass
    # torch re-raises a worker's error with the worker's traceback as its message; only the line is kept
    assert str(error.value) == f"{bad}: row {ROW} of images/depth fails its checksum (corrupt file)"


def test_a_pack_without_checksums_still_reads_and_verify_does_not_say_ok(tiny_synth, monkeypatch, tmp_path, capsys):
    """Packs written before checksums (no fletcher32 filter) read as before; --verify says they carry none, and
    refuses to call them ok."""
    monkeypatch.setattr("xmt.data.packs.writer.CHECKSUM", {})
    old = tmp_path / "old.h5"
    xmt_ok("pack", tiny_synth / "target" / "test" / "depth", "--modality", "depth", "--size", TINY_SIZE,
           "--out", old, "-q")
    monkeypatch.undo()
    with h5py.File(old, "r") as f:
        assert not f["images/depth"].fletcher32
    assert PackImageSet.open(old, "depth").read_stored(3).dtype == np.uint16
    outcome = run_in_process(["inspect", "--verify", old], capsys, tmp_path)
    assert_refused(outcome, 2, "old.h5", "not verified: its datasets carry no per-chunk checksums")
    assert "per-chunk checksums: none" in outcome.out and "verdict: unverified" in outcome.out


def reseal(path: Path) -> None:
    """Record the header checksum of pack `path` as it now is (a consistent forgery, to reach the checks behind it)."""
    with h5py.File(path, "r+") as f:
        f.attrs[HEADER_KEY] = header_sha256(f)


def as_schema_1(src: Path, dst: Path) -> None:
    """A copy of `src` as packs were before the header checksum: schema 1, no header_sha256."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["xmt_schema"] = 1
        del f.attrs[HEADER_KEY]


def flip_classes_bit(src: Path, dst: Path) -> str:
    """A copy of pack `src` with one bit flipped in the last letter of its first class, in the file's bytes."""
    name = read_pack_header(src)["classes"][0]
    data = bytearray(src.read_bytes())
    at = data.index(f'["{name}"'.encode()) + 1 + len(name)
    data[at] ^= 0x01
    dst.write_bytes(bytes(data))
    return name


def test_a_flipped_bit_in_a_pack_attribute_is_refused(made, tiny_source, tmp_path, capsys):
    bad = tmp_path / "flipped.h5"
    flip_classes_bit(made["rgb"], bad)
    for args in (["inspect", "--verify", bad],
                 ["train-source", bad, "--out", tmp_path / "m.safetensors", "--backbone", "smallcnn", "--epochs", "1",
                  "--size", TINY_SIZE, *CPU],
                 ["evaluate", tiny_source, "--data", bad, *CPU]):
        outcome = run_in_process(args, capsys, tmp_path)
        assert_refused(outcome, 2, "flipped.h5", "header checksum mismatch: the file is corrupt")


def test_a_schema_1_pack_reads_with_a_warning_and_verify_does_not_say_ok(made, tiny_source, tmp_path, capsys):
    """A pack from before the header checksum, or one downgraded to look like it: read, never silently."""
    old = tmp_path / "old.h5"
    as_schema_1(made["rgb"], old)
    outcome = run_in_process(["evaluate", tiny_source, "--data", old, *CPU], capsys, tmp_path)
    assert outcome.code == 0, outcome.err
    assert [line for line in outcome.lines if "warning:" in line] == [
        f"warning: {old}: pack schema 1: its attributes (classes, modalities, size, provenance), paths and layout "
        "carry no checksum, so they are not verified"]
    outcome = run_in_process(["inspect", "--verify", old], capsys, tmp_path)
    assert_refused(outcome, 2, "old.h5", "not verified: pack schema 1")
    assert "verdict: unverified" in outcome.out and "header checksum: NOT VERIFIED" in outcome.out


def test_a_schema_2_pack_without_its_header_checksum_is_refused(made, tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    shutil.copy(made["rgb"], bad)
    with h5py.File(bad, "r+") as f:
        del f.attrs[HEADER_KEY]
    outcome = run_in_process(["inspect", "--verify", bad], capsys, tmp_path)
    assert_refused(outcome, 2, "bad.h5", "pack schema 2 without its header_sha256")


@pytest.mark.parametrize("label", ["K", -1, -5])
def test_a_label_outside_the_classes_is_refused_by_verify(label, made, tmp_path, capsys):
    """Labels are written with checksums; a label outside the classes under a valid checksum (a forged or
    buggy pack) is still refused, by --verify as by every reader."""
    bad = tmp_path / "bad.h5"
    shutil.copy(made["rgb"], bad)
    with h5py.File(bad, "r+") as f:
        k = len(json.loads(f.attrs["classes"]))
        label = k if label == "K" else label
        labels = f["labels"][:]
        labels[3] = label
        del f["labels"]
        f.create_dataset("labels", data=labels, fletcher32=True)
    reseal(bad)
    outcome = run_in_process(["inspect", "--verify", bad], capsys, tmp_path)
    assert_refused(outcome, 2, "bad.h5", f"label {label} of row 3: not one of its {k} classes (0..{k - 1})")


def test_transfer_refuses_nan_teacher_probabilities(tiny_synth, tiny_source, tmp_path, capsys):
    """A translated pack whose probabilities hold NaN (written under valid checksums) is refused before any
    training, naming the rows."""
    from xmt.data.packs.translated import write_translated_pack

    tr = tiny_synth / "target" / "adapt" / "depth"
    n, classes = 6, read_checkpoint(tiny_source)[1]["classes"]
    probs = np.full((n, len(classes)), 1 / len(classes), np.float32)
    probs[4, 1] = np.nan
    bad = tmp_path / "translated.h5"
    write_translated_pack(bad, np.zeros((n, 3, TINY_SIZE, TINY_SIZE), np.uint8), probs, np.zeros((n, 8), np.float32),
                          np.full(n, -1), [f"{i}.png" for i in range(n)], classes, {})
    outcome = run_in_process(_transfer("tgkt", tiny_source, tr, tmp_path / "t.safetensors", "--translated", bad),
                             capsys, tmp_path)
    assert_refused(outcome, 2, "translated.h5", "row 4 of probs hold inf/nan")
    outcome = run_in_process(["inspect", "--verify", bad], capsys, tmp_path)
    assert_refused(outcome, 2, "translated.h5", "row 4 of probs hold inf/nan")


# ---- inspect --verify: good artifacts, inputs, recognition by content --------------------------------------

@pytest.mark.slow  # reads tiny_bridge's outputs
@pytest.mark.parametrize("artifact", ["source", "target", "ti", "tr", "translated", "translator"])
def test_inspect_verify_passes_good_artifacts(artifact, made, tiny_source, tiny_ti, tiny_bridge, capsys):
    path = {"source": tiny_source, "target": made["target"], "ti": tiny_ti, "tr": made["tr"],
            "translated": tiny_bridge / "translated.h5", "translator": tiny_bridge / "translator.safetensors"}[artifact]
    capsys.readouterr()
    assert main(["inspect", "--verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("verdict: ok") and "MISMATCH" not in out
    capsys.readouterr()
    assert main(["inspect", "--verify", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "ok"
    if artifact in ("target", "translated", "translator"):
        statuses = {i["name"]: i["status"] for i in report["inputs"]}
        assert statuses["source_model"] == "match"


def test_inspect_verify_reports_changed_and_missing_inputs(tiny_source, made, tmp_path, capsys):
    source = tmp_path / "source.safetensors"
    shutil.copy(tiny_source, source)
    target = tmp_path / "out" / "target.safetensors"
    target.parent.mkdir()
    xmt_ok("transfer", "--method", "source-only", "--source-model", source, "--target-data", made["tr"],
           "--target", "depth", "--out", target, *CPU)
    capsys.readouterr()
    assert main(["inspect", "--verify", str(target)]) == 0
    assert f"input source_model: {source}: sha256 matches" in capsys.readouterr().out

    source.write_bytes(source.read_bytes() + b" ")  # the input changed since the target model was made
    outcome = run_in_process(["inspect", "--verify", target], capsys, tmp_path)
    assert_refused(outcome, 2, "target.safetensors", f"input source_model ({source}) does not match the sha256")
    assert "sha256 MISMATCH" in outcome.out and "verdict: input changed" in outcome.out

    source.unlink()
    capsys.readouterr()
    assert main(["inspect", "--verify", "--json", str(target)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {i["name"]: i["status"] for i in report["inputs"]}["source_model"] == "not at hand"
    assert report["verdict"] == "ok"


def test_inspect_recognises_artifacts_by_content(tiny_source, made, tmp_path, capsys):
    shutil.copy(tiny_source, tmp_path / "model.h5")
    shutil.copy(made["tr"], tmp_path / "pack.bin")
    for name, kind in (("model.h5", "xmt checkpoint"), ("pack.bin", "xmt pack")):
        for extra in ([], ["--verify"]):
            capsys.readouterr()
            assert main(["inspect", *extra, str(tmp_path / name)]) == 0, name
            assert kind in capsys.readouterr().out


# ---- the run state: under a checksum, checked on resume ---------------------------------------------------

def _state_for(out: Path) -> Path:
    """A real run state for `out`, as RunState saves it after an epoch."""
    RunState(out, fingerprint({"epochs": 2}, {})).save({"epoch": 1, "epochs": 2, "weights": torch.arange(64.0)})
    return state_path(out)


@pytest.mark.parametrize("damage", ["a flipped bit", "truncated", "format 1 (unchecked)"])
def test_a_damaged_run_state_is_never_resumed(damage, pattern_data, tmp_path, capsys):
    out = tmp_path / "source.safetensors"
    state = _state_for(out)
    data = bytearray(state.read_bytes())
    if damage == "a flipped bit":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncated":
        del data[len(data) // 2:]
    else:
        buffer = io.BytesIO()
        torch.save({"format": 1, "epoch": 1, "epochs": 2}, buffer)
        data = bytearray(buffer.getvalue())
    state.write_bytes(bytes(data))
    outcome = run_in_process(["train-source", pattern_data["train"], "--out", out, "--backbone", "smallcnn",
                              "--epochs", "2", "--size", "32", "--resume", *CPU], capsys, tmp_path)
    fragment = "is not an xmt run state of this version" if "format" in damage else "fails its checksum"
    assert_refused(outcome, 2, "source.safetensors.xmt-state", fragment, "start again with --force")
    assert state.read_bytes() == bytes(data) and not out.exists()


def test_a_run_state_reads_back_what_was_saved(tmp_path):
    out = tmp_path / "m.safetensors"
    _state_for(out)
    state = RunState(out, fingerprint({"epochs": 2}, {}), resume=True)
    state.check()
    assert state.load()["weights"].equal(torch.arange(64.0))
    assert state_path(out).read_bytes().startswith(b"xmt-state 2 ")

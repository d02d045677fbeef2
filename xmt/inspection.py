"""What an xmt artifact holds (kind, schema, shapes, classes, modality, provenance), and whether it is intact."""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np
from safetensors import safe_open

from xmt.data.packs.reader import (PACK_SCHEMA, UNVERIFIED_HEADER, CorruptData, read_pack_header, read_rows,
                                   row_ranges)
from xmt.data.sets.readers import PACK_SUFFIXES
from xmt.engine.checkpoint import HASH_KEY, read_checkpoint, read_metadata, unverified
from xmt.engine.formats import sniff
from xmt.engine.hashing import sha256_file
from xmt.errors import UserError

def artifact_format(path: str | Path) -> str:
    """"pack" or "checkpoint", by content (HDF5 signature, safetensors header), else by extension."""
    path = Path(path)
    if path.is_dir():
        raise UserError("is a folder; give an xmt checkpoint or pack file", path=path)
    try:
        open(path, "rb").close()
    except OSError as exc:
        raise UserError(f"cannot read it ({exc.strerror or exc})", path=path)
    content = sniff(path)
    if content is not None:
        return {"hdf5": "pack", "safetensors": "checkpoint"}[content]
    return "pack" if path.suffix.lower() in PACK_SUFFIXES else "checkpoint"


def describe(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise UserError("no such file", path=path)
    if artifact_format(path) == "pack":
        header = read_pack_header(path)
        with h5py.File(path, "r") as f:
            shapes = {}
            f.visititems(lambda name, obj: shapes.__setitem__(name, [list(obj.shape), str(obj.dtype)])
                         if isinstance(obj, h5py.Dataset) else None)
        return {"file": str(path), "format": "xmt pack (HDF5)", **header, "datasets": shapes}
    meta = read_metadata(path)
    with safe_open(str(path), framework="pt") as f:
        shapes = {name: list(f.get_slice(name).get_shape()) for name in f.keys()}
    return {"file": str(path), "format": "xmt checkpoint (safetensors)", **meta,
            "tensors": len(shapes), "parameters": sum(math.prod(s) for s in shapes.values()), "shapes": shapes}


def summary_lines(info: dict) -> list[str]:
    """A short human-readable account of `describe`'s result."""
    lines = [f"{info['file']}: {info['format']}, kind {info.get('kind')}, schema {info.get('schema')}"]
    if "count" in info:
        lines.append(f"samples: {info['count']} at {info['size']}x{info['size']}, modalities: "
                     + ", ".join(f"{m} ({info['dtypes'][m]})" for m in info["modalities"]))
    if info.get("modality"):
        lines.append(f"modality: {info['modality']}, input size {info.get('input_size')}")
    if info.get("arch"):
        lines.append(f"architecture: {info['arch']}, {info['parameters']:,} parameters in {info['tensors']} tensors")
    imported = info.get("imported")
    if imported:
        check = imported.get("check") or {}
        lines.append(f"imported from: {imported['architecture']}, logits within {imported['max_logit_difference']:.3g} "
                     f"of the original's" + (f", accuracy {check['accuracy']:.3f} on {check['data']}" if check else ""))
    if info.get("classes"):
        lines.append(f"classes ({len(info['classes'])}): {', '.join(info['classes'])}")
    if info.get("skipped"):
        lines.append(f"skipped inputs: {info['skipped']} (--skip-bad; listed in skipped/)")
    made_with = info.get("environment")
    if made_with:
        lines.append(f"made with: torch {made_with.get('torch')}, {made_with.get('cpu_threads')} CPU threads, "
                     f"{made_with.get('processes')} process(es)")
    for key in ("method", "oracle", "best_epoch", "val_accuracy"):
        if key in info:
            lines.append(f"{key}: {info[key]}")
    for name, source in (info.get("provenance", {}).get("inputs", {}) or {}).items():
        lines.append(f"input {name}: {source}")
    if "datasets" in info:
        lines += [f"  {name}: {shape} {dtype}" for name, (shape, dtype) in info["datasets"].items()]
    return lines


# ---- xmt inspect --verify ---------------------------------------------------------------------------

_VERIFY_ROWS = 256  # rows read at a time while every chunk of a pack is read


def verify(path: str | Path) -> dict:
    """Check a whole artifact; a corrupt one is a UserError naming the file and what failed.

    Checkpoint: the content hash stored when it was written (over tensors and metadata) and that every
    weight is finite. Pack: the header checksum (attributes, paths, layout) and the labels' range, then
    every chunk of every dataset is read, so that HDF5 checks each per-chunk checksum, and float datasets
    must be finite. Then every input its provenance records with a path and a sha256 is hashed again
    where it is at hand. The report's `verdict` is "ok", "input changed" when such an input no longer
    matches, or "unverified" when an older schema leaves part of the artifact without a check
    (`unverified` says which).
    """
    path = Path(path)
    info = describe(path)
    report = {"file": str(path), "format": info["format"], "kind": info.get("kind"), "schema": info.get("schema"),
              "checks": _verify_checkpoint(path) if "tensors" in info else _verify_pack(path, info["schema"])}
    inputs = (info.get("provenance") or {}).get("inputs") or {}
    report["inputs"] = [_verify_input(name, record, path) for name, record in inputs.items() if isinstance(record, dict)]
    report["unverified"] = report["checks"].pop("unverified")
    changed = any(i["status"] == "mismatch" for i in report["inputs"])
    report["verdict"] = "input changed" if changed else "unverified" if report["unverified"] else "ok"
    return report


def verification_failure(report: dict) -> str | None:
    """The one line to fail with when an input no longer matches its recorded sha256, or when part of the
    artifact carries no check (an older schema), else None: --verify says ok only about what it checked."""
    changed = [i for i in report["inputs"] if i["status"] == "mismatch"]
    if changed:
        names = ", ".join(f"{i['name']} ({i['found']})" for i in changed)
        return (f"input {names} does not match the sha256 recorded when this artifact was made "
                "(the file changed since)")
    if report["unverified"]:
        return "not verified: " + "; ".join(report["unverified"])
    return None


def _verify_checkpoint(path: Path) -> dict:
    # raises on a content hash mismatch or non-finite weights; what the schema leaves unchecked is reported
    tensors, meta = read_checkpoint(path, warn_unverified=False)
    gap = unverified(meta)
    return {"content_hash": "ok (tensors and metadata)" if gap is None else f"NOT VERIFIED: {gap}",
            "content_sha256": meta.get(HASH_KEY), "tensors": len(tensors), "finite": True,
            "unverified": [gap] if gap else []}


def _verify_pack(path: Path, schema: int) -> dict:
    """Every row of every dataset read (so every chunk checksum checked); the header, its checksum and the labels
    were checked by read_pack_header."""
    failures: list[str] = []
    counts = {"datasets": 0, "chunked": 0, "checksummed": 0, "chunks": 0}
    try:
        with h5py.File(path, "r") as f:
            datasets: list[h5py.Dataset] = []
            f.visititems(lambda _, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
            for dataset in datasets:
                counts["datasets"] += 1
                if dataset.chunks is not None:
                    counts["chunked"] += 1
                    counts["checksummed"] += bool(dataset.fletcher32)
                    counts["chunks"] += dataset.id.get_num_chunks()
                failures += _read_every_row(dataset, path)
    except OSError as exc:
        raise UserError(f"cannot be read through (corrupt file?): {exc}", path=path)
    if failures:
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        raise UserError("; ".join(failures[:5]) + more, path=path)
    counts["unverified"] = []
    if counts["checksummed"] == 0:
        counts["checksums"] = "none (written before per-chunk checksums): every chunk read, none verified"
        counts["unverified"].append("its datasets carry no per-chunk checksums")
    elif counts["checksummed"] < counts["chunked"]:
        counts["checksums"] = f"ok on {counts['checksummed']} of {counts['chunked']} chunked datasets"
        counts["unverified"].append(f"{counts['chunked'] - counts['checksummed']} of its datasets carry no "
                                    "per-chunk checksums")
    else:
        counts["checksums"] = "ok"
    counts["header"] = "ok (attributes, paths and layout)" if schema >= PACK_SCHEMA else f"NOT VERIFIED: {UNVERIFIED_HEADER}"
    if schema < PACK_SCHEMA:
        counts["unverified"].append(UNVERIFIED_HEADER)
    return counts


def _read_every_row(dataset: h5py.Dataset, path: Path) -> list[str]:
    """Problems found reading every row of `dataset` (each chunk once, checksums checked)."""
    name = dataset.name.lstrip("/")
    if dataset.shape is None or dataset.ndim == 0 or dataset.shape[0] == 0:
        return []
    rows = dataset.chunks[0] if dataset.chunks else dataset.shape[0]
    step = rows * max(1, _VERIFY_ROWS // rows)
    problems = []
    for start in range(0, dataset.shape[0], step):
        try:
            block = read_rows(dataset, path, slice(start, start + step))
        except CorruptData as exc:
            problems.append(str(exc).removeprefix(f"{path}: "))
            continue
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            bad = start + np.unique(np.nonzero(~np.isfinite(block.reshape(len(block), -1)))[0])
            problems.append(f"{row_ranges([int(i) for i in bad])} of {name} hold inf/nan")
    return problems


def _verify_input(name: str, record: dict, artifact: Path) -> dict:
    recorded, sha = record.get("path"), record.get("sha256")
    entry = {"name": name, "path": recorded, "sha256": sha}
    if not recorded or not sha:
        what = "its file list's sha256" if record.get("sha256_paths") else "no file sha256"
        return {**entry, "status": "unchecked", "detail": f"{what} recorded, not the file's"}
    found = _locate(Path(recorded), artifact)
    if found is None:
        return {**entry, "status": "not at hand"}
    actual = sha256_file(found)
    return {**entry, "found": str(found), "status": "match" if actual == sha else "mismatch", "actual_sha256": actual}


def _locate(recorded: Path, artifact: Path) -> Path | None:
    """The recorded input file: as recorded (from the current folder), or else beside the artifact."""
    candidates = [recorded] if recorded.is_absolute() else [recorded, artifact.parent / recorded]
    return next((c for c in candidates if c.is_file() and os.access(c, os.R_OK)), None)


_STATUS = {"match": "sha256 matches", "mismatch": "sha256 MISMATCH (the file changed since)",
           "not at hand": "not at hand (not checked)"}


def verify_lines(report: dict) -> list[str]:
    """A short human-readable account of `verify`'s report."""
    checks = report["checks"]
    lines = [f"{report['file']}: {report['format']}, kind {report['kind']}, schema {report['schema']}"]
    if "content_hash" in checks:
        lines.append(f"content hash: {checks['content_hash']} ({checks['tensors']} tensors)")
        lines.append("weights: all finite")
    else:
        lines.append(f"header checksum: {checks['header']}")
        lines.append(f"data: every row of {checks['datasets']} datasets read ({checks['chunks']} chunks); "
                     f"per-chunk checksums: {checks['checksums']}")
    for entry in report["inputs"]:
        status = _STATUS.get(entry["status"], entry.get("detail", entry["status"]))
        lines.append(f"input {entry['name']}: {entry.get('found', entry['path'])}: {status}")
    lines.append(f"verdict: {report['verdict']}")
    return lines

"""safetensors checkpoints with xmt's JSON metadata, and the checks made when loading them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from xmt import __version__
from xmt.engine.console import warn
from xmt.engine.distributed import world_size
from xmt.errors import RunFailure, UserError

# schema 3: content_sha256 covers the tensors and the whole xmt metadata, verified on every load.
# Older files still load, with a warning naming what is not verified: schema 2's hash covers the tensors
# only, schema 1 has none.
SCHEMA_VERSION = 3
KINDS = ("source-model", "target-model", "translator")
METADATA_KEY = "xmt"
HASH_KEY = "content_sha256"


def content_sha256(tensors: dict[str, torch.Tensor], meta: dict | None = None) -> str:
    """sha256 of the tensors, sorted by name (each one's name, dtype, shape and raw bytes), then of the
    metadata `meta` (all of it but the hash itself, as canonical JSON) when given.

    It identifies what a reader acts on, not the file's layout, so it is checked on every load: a
    flipped bit anywhere in the tensor data or in the header (a class name, the recipe) changes it.
    Schema 2 files hold the hash of the tensors alone (`meta` None).
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        raw = t.reshape(-1).view(torch.uint8)  # any dtype (bf16 too) as its bytes; 0-d tensors as 1-d
        digest.update(f"{name}\0{str(t.dtype).removeprefix('torch.')}\0{list(t.shape)}\0{raw.numel()}\0".encode())
        digest.update(raw.numpy())
    if meta is not None:
        digest.update(b"\0xmt metadata\0" + canonical_json({k: v for k, v in meta.items() if k != HASH_KEY}))
    return digest.hexdigest()


def canonical_json(value) -> bytes:
    """`value` as JSON with sorted keys and no spaces: the same bytes after a round trip through the file."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode()


def first_non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first (by name) floating tensor holding an inf or a nan, or None."""
    for name in sorted(tensors):
        t = tensors[name]
        if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            return name
    return None


def environment() -> dict:
    """What decides the weights besides the seed and the inputs: the torch build, and the number of CPU
    threads and of processes, which set the order of floating-point sums (another thread count gives
    another model from the same command; at one thread count a rerun is bit for bit the same)."""
    return {"torch": torch.__version__, "cpu_threads": torch.get_num_threads(), "processes": world_size()}


def save_checkpoint(
    path: str | Path, tensors: dict[str, torch.Tensor], meta: dict
) -> Path:
    """Write tensors and metadata (kind, architecture, classes, recipe, config, provenance...)."""
    if meta.get("kind") not in KINDS:
        raise ValueError(f"unknown checkpoint kind {meta.get('kind')!r}")
    plain = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    bad = first_non_finite(plain)
    if bad is not None:
        raise RunFailure(f"refusing to write a model with non-finite weights: tensor {bad!r} holds inf/nan")
    header = json.loads(json.dumps({"schema": SCHEMA_VERSION, "xmt_version": __version__,
                                    "environment": environment(), **meta}))  # as a reader will see it
    header[HASH_KEY] = content_sha256(plain, header)
    # written where it is told (a stage's claimed temporary: xmt.engine.outputs makes it appear atomically)
    save_file(plain, str(path), metadata={METADATA_KEY: json.dumps(header)})
    return Path(path)


def read_metadata(path: str | Path, kinds: Iterable[str] | None = None) -> dict:
    """The checkpoint's metadata, checked for schema and (optionally) kind, without reading tensors (so not
    yet verified: `read_checkpoint` checks the content hash over tensors and metadata)."""
    path = Path(path)
    if path.is_dir():
        raise UserError("is a folder, not a checkpoint file", path=path)
    if not path.is_file():
        raise UserError("no such checkpoint file", path=path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"not a readable safetensors file (truncated or corrupt?): {exc}", path=path)
    if raw is None:
        raise UserError("a safetensors file without xmt metadata: not an xmt checkpoint", path=path)
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise UserError("its xmt metadata is not valid JSON", path=path)
    if not isinstance(meta, dict):
        raise UserError("its xmt metadata is not a JSON object: not an xmt checkpoint", path=path)
    schema = meta.get("schema")
    if type(schema) is not int or schema < 1:
        raise UserError(f"its xmt metadata has no valid schema ({schema!r}): not an xmt checkpoint", path=path)
    if schema > SCHEMA_VERSION:
        raise UserError(
            f"checkpoint schema {schema!r} is not supported by xmt {__version__} "
            f"(reads schema <= {SCHEMA_VERSION}); upgrade xmt",
            path=path,
        )
    kinds = tuple(kinds) if kinds is not None else None
    if kinds is not None and meta.get("kind") not in kinds:
        raise UserError(f"is a {meta.get('kind')} checkpoint; expected {' or '.join(kinds)}", path=path)
    return meta


def read_checkpoint(
    path: str | Path, kinds: Iterable[str] | None = None, *, warn_unverified: bool = True
) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata, verified; truncated files and wrong kinds are user errors naming the file. What an
    older schema leaves unverified is a warning (once per file), unless `warn_unverified` is False."""
    meta = read_metadata(path, kinds)
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"cannot read its tensors (truncated or corrupt?): {exc}", path=path)
    verify_tensors(tensors, meta, path)
    gap = unverified(meta)
    if gap is not None and warn_unverified and str(path) not in _warned:
        _warned.add(str(path))
        warn(f"{path}: {gap}")
    return tensors, meta


UNVERIFIED = {
    1: "schema 1 checkpoint: it records no content hash, so its tensors and metadata "
       "(classes, recipe, architecture, provenance) are not verified",
    2: "schema 2 checkpoint: its content hash covers the tensors only, so its metadata "
       "(classes, recipe, architecture, provenance) is not verified",
}
_warned: set[str] = set()


def unverified(meta: dict) -> str | None:
    """What a checkpoint of this schema leaves unverified (None: everything a reader uses is verified)."""
    return UNVERIFIED.get(meta.get("schema"))


def verify_tensors(tensors: dict[str, torch.Tensor], meta: dict, path: str | Path) -> None:
    """The content hash stored at write time must match the tensors and the metadata (schema 3; schema 2:
    the tensors; schema 1: nothing); every weight must be finite."""
    stored = meta.get(HASH_KEY)
    schema = meta.get("schema")
    if schema == SCHEMA_VERSION and stored is None:
        raise UserError(f"schema {SCHEMA_VERSION} checkpoint without its content hash: the file was altered",
                        path=path)
    if stored is not None and content_sha256(tensors, meta if schema == SCHEMA_VERSION else None) != stored:
        raise UserError("content hash mismatch: the file is corrupt (its tensors or metadata changed after "
                        "it was written)", path=path)
    bad = first_non_finite(tensors)
    if bad is not None:
        raise UserError(f"holds a model with non-finite weights: tensor {bad!r} holds inf/nan; refusing to use it",
                        path=path)


def load_state_checked(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """load_state_dict, with missing, unexpected or mis-shaped tensors reported as a user error."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{name} {tuple(tensors[name].shape)} != {tuple(expected[name].shape)}"
        for name in expected
        if name in tensors and tensors[name].shape != expected[name].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
    if wrong:
        problems.append(f"{len(wrong)} tensors of the wrong shape (e.g. {wrong[0]})")
    if problems:
        raise UserError("does not match its declared architecture: " + "; ".join(problems), path=path)
    module.load_state_dict(tensors)

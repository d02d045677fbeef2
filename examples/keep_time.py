"""A shared input remade bit for bit keeps the time of the file the committed results came from.

make remakes whatever is older than its inputs. A study that spans sessions commits its results (small JSON)
but not the benchmarks, checkpoints and packs they came from; remaking one of those when a new cell needs it
would make every committed result of the same seed look stale, and make would redo hours of runs. synth,
train-source on the CPU and prepare-ti write the same bytes each time, so each such file's sha256 is recorded
beside it with the time it was made (FILE.sha256, or RECORD; committed with the results). A remade file that
matches its record takes the recorded time, older than anything made from it; one that does not is recorded
anew, so that what came from it is remade.

    python keep_time.py FILE [RECORD]    # RECORD: FILE.sha256 unless FILE is inside a folder an xmt stage owns
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keep_time(path: Path, record: Path | None = None) -> bool:
    """True when `path` matches its record and now carries the recorded time; else record it anew.

    The record holds the time the file was first made, not its own: a fresh clone gives every committed file
    the time of the checkout, in no order one could rely on."""
    record = record or path.with_name(path.name + ".sha256")
    digest = sha256_of(path)
    fields = record.read_text().split() if record.is_file() else []
    if len(fields) == 3 and fields[0] == digest and fields[1].isdigit():
        made = int(fields[1])
        os.utime(path, ns=(made, made))
        return True
    record.write_text(f"{digest} {path.stat().st_mtime_ns} {path.name}\n")
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("record", type=Path, nargs="?", help="where its sha256 is kept (default: FILE.sha256)")
    args = parser.parse_args()
    if keep_time(args.file, args.record):  # the first time, silent: a demo's output stays as it was
        print(f"{args.file}: the same bytes as before, so the time it was first made (its results stay up to date)")


if __name__ == "__main__":
    main()

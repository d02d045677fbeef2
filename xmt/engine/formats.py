"""What a file holds, from its first bytes: the one place xmt tells a pack from a checkpoint by content."""

from __future__ import annotations

import os
from pathlib import Path

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def sniff(path: str | Path) -> str | None:
    """'hdf5' (a pack, or another HDF5 file), 'safetensors' (a checkpoint) or None (anything else: a list
    file, an image...). Unreadable files are None too; the caller reports what it expected."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            if head[:8] == HDF5_SIGNATURE:
                return "hdf5"
            size, offset = os.fstat(f.fileno()).st_size, 512  # HDF5 may follow a user block of 512 x 2^k bytes
            while offset + 8 <= size:
                f.seek(offset)
                if f.read(8) == HDF5_SIGNATURE:
                    return "hdf5"
                offset *= 2
    except OSError:
        return None
    if len(head) >= 10 and head[8:9] == b"{" and 2 <= int.from_bytes(head[:8], "little") < 100_000_000:
        return "safetensors"  # an 8-byte little-endian header length, then the JSON header
    return None

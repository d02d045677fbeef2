"""Per-epoch figures: printed to stderr as they come, kept for a JSONL file beside the output."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from xmt.engine.console import info


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class EpochLog:
    """Collects one record per epoch; the file is written once, with the stage's other outputs."""

    def __init__(self, name: str):
        self.name = name
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        record = {key: _plain(value) for key, value in record.items()}
        self.records.append(record)
        info(f"{self.name} " + "  ".join(f"{k} {_short(v)}" for k, v in record.items()))

    def save(self, path: str | Path) -> Path:
        return write_jsonl(path, self.records)


def write_jsonl(path: str | Path, records: list[dict]) -> Path:
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in records))
    return Path(path)


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]

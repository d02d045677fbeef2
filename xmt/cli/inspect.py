"""xmt inspect: what any xmt checkpoint or pack holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xmt.cli.common import JsonOption, emit
from xmt.inspection import describe, summary_lines


def command(
    artifact: Annotated[Path, typer.Argument(help="An xmt .safetensors checkpoint or .h5 pack.")],
    json_output: JsonOption = False,
) -> None:
    """Print an artifact's kind, schema, shapes, classes, modality and provenance."""
    info = describe(artifact)
    emit(info if json_output else "\n".join(summary_lines(info)), json_output)

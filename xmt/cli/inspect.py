"""xmt inspect: what any xmt checkpoint or pack holds; with --verify, whether it is intact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xmt.cli.common import JsonOption
from xmt.cli.output import emit
from xmt.errors import UserError
from xmt.inspection import describe, summary_lines, verification_failure, verify, verify_lines


def command(
    artifact: Annotated[Path, typer.Argument(help="An xmt .safetensors checkpoint or .h5 pack.")],
    verify_all: Annotated[bool, typer.Option(
        "--verify", help="Check the whole artifact (a checkpoint's content hash and finite weights; every chunk "
        "checksum of a pack) and the sha256 of each input its provenance records, where at hand.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Print an artifact's kind, schema, shapes, classes, modality and provenance (or, with --verify, a verdict)."""
    if not verify_all:
        info = describe(artifact)
        emit(info if json_output else "\n".join(summary_lines(info)), json_output)
        return
    report = verify(artifact)  # a corrupt artifact: a UserError naming it and what failed
    emit(report if json_output else "\n".join(verify_lines(report)), json_output)
    failure = verification_failure(report)
    if failure:
        raise UserError(failure, path=artifact)

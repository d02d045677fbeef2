"""`xmt synth` from settings to files: the embedded benchmark's folder (and a preview sheet), claimed and
committed together."""

from __future__ import annotations

from pathlib import Path

from xmt.engine.console import progress_bar
from xmt.engine.output_kinds import PREVIEW_PNG, SYNTH_FOLDER
from xmt.engine.outputs import Output, claim_outputs
from xmt.errors import UserError
from xmt.synth.generate import SynthConfig, generate, render_preview


def run_synth(out: Path, settings: SynthConfig, *, preview: Path | None = None, workers: int = 2,
              force: bool = False) -> dict:
    """Render the benchmark into `out`; returns its manifest."""
    if preview is not None and preview.suffix.lower() != ".png":
        raise UserError("--preview writes a PNG contact sheet: give a file name ending in .png", path=preview)
    try:
        settings.validate()
    except ValueError as exc:
        raise UserError(str(exc))
    outputs = [Output(out, SYNTH_FOLDER), preview and Output(preview, PREVIEW_PNG)]
    with claim_outputs(outputs, force=force) as claim:
        tmp = claim.temporary(out)
        tmp.mkdir()
        with progress_bar("rendering scenes", total=1) as bar:
            manifest = generate(tmp, settings, workers=workers, progress=bar.update)
        if preview is not None:
            render_preview(claim.temporary(preview), settings)
    return manifest

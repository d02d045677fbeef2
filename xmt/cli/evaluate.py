"""xmt evaluate: accuracy, mean per-class accuracy, per-class accuracy and confusion of models on labelled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from xmt.cli import options as O
from xmt.cli.common import (ClassesOption, ConfigOption, DeviceOption, DepthScaleOption, ForceOption, JsonOption,
                            QuietOption, RootOption, WorkersOption, emit, setup)
from xmt.engine.console import err_console
from xmt.stages.evaluate import run_evaluate


def _name(metrics: dict) -> str:
    label = Path(metrics["model"]).name
    return f"{label} (oracle: trained on target labels)" if metrics["oracle"] else label


def detail_table(metrics: dict) -> Table:
    table = Table(title=f"{_name(metrics)} on {metrics['data']} ({metrics['count']} {metrics['modality']} images)")
    table.add_column("class")
    table.add_column("images", justify="right")
    table.add_column("accuracy", justify="right")
    for name, accuracy in metrics["per_class_accuracy"].items():
        table.add_row(name, str(metrics["support"][name]), "-" if accuracy is None else f"{100 * accuracy:.1f}")
    table.add_section()
    table.add_row("top-1 accuracy", str(metrics["count"]), f"{100 * metrics['accuracy']:.2f}")
    table.add_row("mean per-class accuracy", "", f"{100 * metrics['mean_class_accuracy']:.2f}")
    return table


def compare_table(results: list[dict]) -> Table:
    table = Table(title=f"{results[0]['count']} {results[0]['modality']} images from {results[0]['data']}")
    for column in ("model", "method", "accuracy", "mean per-class"):
        table.add_column(column, justify="left" if column in ("model", "method") else "right")
    for m in results:
        table.add_row(_name(m), str(m.get("method") or m.get("kind")), f"{100 * m['accuracy']:.2f}",
                      f"{100 * m['mean_class_accuracy']:.2f}")
    return table


def command(
    models: Annotated[list[Path], typer.Argument(help="One or more model checkpoints (source or target).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Labelled images of the models' modality: "
                                       "DIR/<class>/<file>, a labelled list file or a pack.")],
    root: RootOption = None,
    classes: ClassesOption = None,
    compare: Annotated[bool, typer.Option("--compare", help="One comparison table for all models "
                                          "(the default when several are given).")] = False,
    per_class: Annotated[bool, typer.Option("--per-class", help="Also a table of each model's accuracy class by "
                                            "class (always in the JSON).")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the metrics as JSON here.")] = None,
    batch_size: Annotated[int, typer.Option(parser=O.COUNT)] = 256,
    depth_scale: DepthScaleOption = None,
    workers: WorkersOption = 0,
    device: DeviceOption = "auto",
    force: ForceOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Score models on labelled data: a table on stderr (not with --quiet), JSON on stdout with --json, a file with
    --out."""
    torch_device = setup(quiet, device)
    result = run_evaluate(models=models, data=data, device=torch_device, out=out, root=root, classes_file=classes,
                          batch_size=batch_size, depth_scale_mm=depth_scale, workers=workers, force=force)
    if not quiet:
        if per_class:
            for metrics in result.results:
                err_console.print(detail_table(metrics))
        if compare or len(result.results) > 1 or not per_class:
            err_console.print(compare_table(result.results))
    emit(result.payload if json_output else (str(result.metrics) if result.metrics else None), json_output)

"""Options several subcommands share, the set-up they ask for (--quiet, --device, torchrun) and KEY=VALUE options.

The --config loader is cli/config_file.py and what a command prints cli/output.py; ConfigOption, emit and
options_of are also importable from here, for the commands written against this module before they moved.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from xmt.cli import options as O
from xmt.cli.config_file import ConfigOption
from xmt.cli.output import emit, options_of  # noqa: F401 (re-exported, see the module docstring)
from xmt.engine.console import set_quiet
from xmt.engine.device import resolve_device
from xmt.engine.distributed import init_from_launcher, is_main
from xmt.errors import UserError
from xmt.stages.inputs import DEPTH_RANGE_M


DeviceOption = Annotated[str, typer.Option(help="auto (CUDA when available), cpu, cuda or cuda:N.")]
PrecisionOption = Annotated[str, typer.Option(help="fp32, bf16 (CPU or GPU) or fp16 (GPU) autocast for training.")]
SeedOption = Annotated[int, typer.Option(parser=O.SEED, help="Random seed (data order, augmentation, initialisation).")]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or log lines on stderr.")]
WorkersOption = Annotated[int, typer.Option(parser=O.NON_NEGATIVE_INT,
                                            help="Processes decoding images (0: in the main process).")]
DepthScaleOption = Annotated[
    Optional[float],
    typer.Option("--depth-scale", parser=O.POSITIVE, help="Millimetres per stored depth unit; required to accept 8-bit depth "
                 "(16-bit depth is read as millimetres unless given)."),
]
ResumeOption = Annotated[bool, typer.Option("--resume", help="Go on from the state an interrupted run of this "
                                            "same command saved after its last whole epoch (OUT.xmt-state).")]
RootOption = Annotated[Optional[Path], typer.Option(help="Base of a list file's relative paths (default: the list's "
                                                  "folder; `.` for lists written relative to where scripts run, as "
                                                  "SOCKET's are).")]
ClassesOption = Annotated[Optional[Path], typer.Option(help="Class names of a list's integer labels: a file with one "
                                                      "name a line, line i naming label i (default: the folder each "
                                                      "label's images lie in).")]
DepthNearOption = Annotated[float, typer.Option(parser=O.NON_NEGATIVE, help="Depth encoding range: near limit in metres.")]
DepthFarOption = Annotated[float, typer.Option(parser=O.POSITIVE, help="Depth encoding range: far limit in metres "
                                               "(beyond --depth-near).")]


StreamOption = Annotated[bool, typer.Option("--stream", help="Read TR and TI images a batch at a time instead of "
                                            "into memory: for data larger than memory (packs read fastest).")]


def shared_option(name: str, annotation, default) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


# the options of the stages that train on target images (bridge, transfer): with_settings(..., shared=...)
TARGET_TRAINING = (
    shared_option("depth_near", DepthNearOption, DEPTH_RANGE_M[0]),
    shared_option("depth_far", DepthFarOption, DEPTH_RANGE_M[1]),
    shared_option("depth_scale", DepthScaleOption, None), shared_option("seed", SeedOption, 0),
    shared_option("device", DeviceOption, "auto"), shared_option("precision", PrecisionOption, "fp32"),
    shared_option("workers", WorkersOption, 0), shared_option("force", ForceOption, False),
    shared_option("resume", ResumeOption, False), shared_option("stream", StreamOption, False),
    shared_option("json_output", JsonOption, False), shared_option("quiet", QuietOption, False),
    shared_option("config", ConfigOption, None),
)


def target_training(shared: dict) -> dict:
    """Check TARGET_TRAINING's values; the keywords they give the stage (run_bridge, run_transfer)."""
    O.check_depth_range(shared["depth_near"], shared["depth_far"])
    return {"device": setup(shared["quiet"], shared["device"]), "depth_range_m": (shared["depth_near"], shared["depth_far"]),
            "depth_scale_mm": shared["depth_scale"], "workers": shared["workers"], "force": shared["force"],
            "resume": shared["resume"], "stream": shared["stream"]}


def setup(quiet: bool, device: str | None = None):
    """Apply --quiet and resolve --device (a usage error if CUDA is asked for but absent). Under torchrun, join
    its process group: each process gets its own GPU, and only rank 0 prints progress."""
    set_quiet(quiet or not is_main())
    if device is None:
        return None
    torch_device = init_from_launcher(resolve_device(device))
    set_quiet(quiet or not is_main())
    return torch_device


def parse_key_values(items: list[str], option: str) -> dict:
    """KEY=VALUE strings -> dict; values parsed as JSON where they can be (numbers, booleans), else strings."""
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    return parsed

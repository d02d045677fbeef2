"""Options every subcommand shares, the --config TOML loader, and result output on stdout."""

from __future__ import annotations

import inspect
import json
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from xmt.cli import options as O
from xmt.engine.console import set_quiet
from xmt.engine.device import resolve_device
from xmt.engine.distributed import init_from_launcher, is_main
from xmt.errors import UserError


def _apply_config(ctx: typer.Context, param: typer.CallbackParam, value: Optional[Path]) -> Optional[Path]:
    """Load option values from TOML: top-level keys, or a [<subcommand>] table; dash or underscore."""
    if value is None:
        return None
    try:
        data = tomllib.loads(Path(value).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("no such config file", path=value)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"not a valid TOML file ({exc})", path=value)
    command = ctx.info_name or ""
    known = {p.name for p in ctx.command.params}
    commands = set(getattr(ctx.parent.command, "commands", {}) if ctx.parent is not None else ()) | {command}
    for key, v in data.items():
        if key in commands and not isinstance(v, dict):
            raise UserError(f"'{key}' must be a table of options ([{key}]), not a {_toml_kind(v)}", path=value)
        if key not in commands and isinstance(v, dict):
            what = f"option '{key}'" if key.replace("-", "_") in known else f"table [{key}]"
            raise UserError(f"{what} is a table; expected an option value or a table named after a command "
                            f"({', '.join(sorted(commands))})", path=value)
    values = {k: v for k, v in data.items() if k not in commands}
    values.update(data.get(command, {}))
    tables = [k for k, v in data.get(command, {}).items() if isinstance(v, dict)]
    if tables:
        raise UserError(f"option '{tables[0]}' in [{command}] is a table; expected a value", path=value)
    normalised = {key.replace("-", "_"): v for key, v in values.items()}
    unknown = sorted(k.replace("_", "-") for k in normalised if k not in known)
    if unknown:
        raise UserError(f"unknown option(s) for 'xmt {command}': {', '.join(unknown)}", path=value)
    params = {p.name: p for p in ctx.command.params}
    for key, v in normalised.items():  # a bad value is reported here, where the file that gave it can be named
        try:
            params[key].process_value(ctx, v)
        except typer.BadParameter as exc:
            raise UserError(exc.format_message(), path=value) from None
    ctx.default_map = {**(ctx.default_map or {}), **normalised}
    return value


def _toml_kind(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}.get(type(value), "value")


ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", help="TOML file of option values (keys as option names, top level or in a table "
                 "named after the command); options on the command line win.", is_eager=True, callback=_apply_config),
]
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
    shared_option("depth_near", DepthNearOption, 0.0), shared_option("depth_far", DepthFarOption, 10.0),
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


def emit(result: Any, as_json: bool) -> None:
    """Results, and only results, go to stdout: JSON with --json, else a path or plain text (once, under torchrun)."""
    if not is_main():
        return
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    elif result is not None:
        sys.stdout.write(f"{result}\n")
    sys.stdout.flush()


def options_of(local_vars: dict,
               drop: tuple[str, ...] = ("config", "quiet", "json_output", "force", "resume")) -> dict:
    """The effective options of a command, for the artifact's metadata (declared settings among them)."""
    values = {**local_vars, **local_vars.get("declared", {}), **local_vars.get("shared", {})}
    return {k: _plain(v) for k, v in values.items() if k not in drop + ("declared", "shared")}


def _plain(value):
    """A value as JSON holds it: paths (also in lists) as strings."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


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

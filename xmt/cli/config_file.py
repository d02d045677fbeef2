"""--config: option values from a TOML file, checked as the command line's are, naming the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

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

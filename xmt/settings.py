"""Settings declared once: a config dataclass's field carries its help text and the values it accepts.

    @dataclass
    class BridgeConfig:
        lr: float = setting(2e-4, "Adam learning rate of the translator.", bounds=POSITIVE)

The command-line option (`--lr`, with its help and a parse-time range check), the --config TOML key
(`lr`), the library's check (`check_declared`) and the stored metadata (`declared_values`) all come from
this one line. Plain fields (no `setting`) are internal: they get no option of their own.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Container, Iterable

from xmt.bounds import Bounds
from xmt.errors import UserError

_KEY = "xmt.setting"


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    bounds: Bounds | None = None
    choices: Container | None = None  # any container that iterates its names (a tuple, a Registry)
    panel: str | None = None  # the --help section the option is listed under

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def problem(self, value) -> str | None:
        if self.bounds is not None:
            return self.bounds.problem(value)
        if self.choices is not None and value not in self.choices:
            return f"{value!r}: expected one of {', '.join(map(str, self.choices))}"
        return None


def setting(default, help: str, *, bounds: Bounds | None = None, choices: Container | None = None,
            panel: str | None = None) -> Any:
    """A dataclass field that is also a user-facing option (see the module docstring)."""
    return dataclasses.field(default=default, metadata={_KEY: (help, bounds, choices, panel)})


def declared(config) -> list[Setting]:
    """The declared settings of a config dataclass (class or instance), in field order."""
    cls = config if isinstance(config, type) else type(config)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if _KEY in f.metadata:
            help_text, bounds, choices, panel = f.metadata[_KEY]
            out.append(Setting(f.name, hints[f.name], f.default, help_text, bounds, choices, panel))
    return out


def check_declared(config) -> None:
    """Raise a UserError naming the option of the first declared setting whose value is refused."""
    for s in declared(config):
        problem = s.problem(getattr(config, s.name))
        if problem is not None:
            separator = " " if problem.startswith("'") else ": "
            raise UserError(f"{s.flag}{separator}{problem}")


def declared_values(config) -> dict:
    """{name: value} of the declared settings: what a stage stores as the method's settings."""
    return {s.name: getattr(config, s.name) for s in declared(config)}


def changed_from_default(configs: Iterable[type], values: dict) -> list[Setting]:
    """The declared settings of `configs` whose value in `values` differs from its default."""
    return [s for cls in configs for s in declared(cls) if s.name in values and values[s.name] != s.default]


def foreign_setting(values: dict, own: type | None, configs: dict[str, type]) -> tuple[Setting, list[str]] | None:
    """For a command whose options are the declared settings of several configs (`configs`, by the name that
    chooses each: a method, a format) and that hands the chosen one (`own`) its own: the first value of another
    config's setting that is not its default, with the names of the configs that declare it; None if there is
    none. A name no config declares is a ValueError."""
    owned = {s.name for s in declared(own)} if own is not None else set()
    for name, value in values.items():
        if name in owned:
            continue
        takers = [choice for choice, cls in configs.items() if any(s.name == name for s in declared(cls))]
        if not takers:
            raise ValueError(f"no config declares the setting {name!r}")
        setting_ = next(s for s in declared(configs[takers[0]]) if s.name == name)
        if value != setting_.default:
            return setting_, takers
    return None


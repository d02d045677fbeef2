"""Command-line options made from the settings a config dataclass declares (xmt/settings.py).

    @with_settings(BridgeConfig)
    def command(source_model: ..., *, declared: dict, seed: SeedOption = 0, ...): ...

adds one typer option per declared setting of BridgeConfig to `command`'s signature (listed under the
setting's help panel) and calls `command` with their values gathered in `declared` ({name: value}).
A setting that several configs declare alike (inherited: a method and its variants) is one option; two
different settings of one name are refused. `with_settings(BridgeConfig, shared=TARGET_TRAINING)` also adds options that several commands share
(cli/common.py), gathered in `shared`.
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Callable

import typer

from xmt.cli.options import Bounded
from xmt.settings import Setting, declared as declared_settings

DECLARED = "declared"  # the keyword the decorated command receives the declared values under
SHARED = "shared"  # ... and the values of the shared options under


def _option(s: Setting) -> inspect.Parameter:
    extra = {"parser": Bounded.of(s.bounds)} if s.bounds is not None else {}
    choices = f" One of: {', '.join(map(str, s.choices))}." if s.choices is not None else ""
    info = typer.Option(help=s.help + choices, rich_help_panel=s.panel, **extra)  # --name, or --x/--no-x for a bool
    return inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.default,
                             annotation=Annotated[s.type, info])


def with_settings(*configs: type, shared: tuple[inspect.Parameter, ...] = ()) -> Callable:
    settings: list[Setting] = []
    for s in (s for cls in configs for s in declared_settings(cls)):
        if s not in settings:  # a setting several configs inherit (a method and its variants) is one option
            settings.append(s)
    shared_names = [p.name for p in shared]
    names = [s.name for s in settings] + shared_names
    if len(set(names)) != len(names):
        raise ValueError(f"two configs declare the same setting: {sorted(n for n in names if names.count(n) > 1)}")

    def decorate(command: Callable) -> Callable:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
               if p.name not in (DECLARED, SHARED)]
        clash = set(names) & {p.name for p in own}
        if clash:
            raise ValueError(f"{command.__module__}: options declared twice: {sorted(clash)}")

        @functools.wraps(command)
        def run(**kwargs):
            values = {s.name: kwargs.pop(s.name) for s in settings}
            common = {name: kwargs.pop(name) for name in shared_names}
            return command(**kwargs, **({DECLARED: values} if configs else {}), **({SHARED: common} if shared else {}))

        # keyword-only parameters may follow ones with defaults, so any order of `own` stays valid
        run.__signature__ = inspect.Signature(
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + list(shared)
            + [_option(s) for s in settings])
        return run

    return decorate

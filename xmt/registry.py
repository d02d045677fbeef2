"""One registry type for everything xmt builds by name: backbones, translators, transfer methods, data-set
adapters and the criteria that pick a transfer's kept epoch.

    TRANSLATORS = Registry("translator")

    @TRANSLATORS.register("light")
    class LightTranslator(Translator): ...

    TRANSLATORS.create("light", hidden=16)  # LightTranslator(hidden=16)
    TRANSLATORS.create("x")                 # UserError: unknown translator 'x'; known: light, unet, vq

An entry is whatever builds the object: a class, a function, or any callable.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Generic, Iterator, TypeVar

from xmt.errors import UserError

Entry = TypeVar("Entry", bound=Callable[..., Any])


class UnknownName(UserError, ValueError):
    """A name nothing is registered under: one line at the CLI (exit 2), a ValueError to library callers."""


class Registry(Generic[Entry]):
    """Entries of one kind by name. Iterating it, `in` and `len` see the names, so it stands in for a tuple of
    names (in option help, `--x: expected one of ...` messages)."""

    def __init__(self, kind: str):
        self.kind = kind  # what an entry is, for messages: "translator", "backbone"...
        self._entries: dict[str, Entry] = {}

    def register(self, name: str) -> Callable[[Entry], Entry]:
        """A decorator adding its class or function as `name`; a second entry of the same name is refused."""

        def add(entry: Entry) -> Entry:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered ({self._entries[name]!r})")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> Entry:
        if name not in self._entries:
            raise UnknownName(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._entries[name]

    def create(self, name: str, **kwargs: Any) -> Any:
        """The entry `name` called with `kwargs`: an instance of a registered class, a function's result."""
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, Entry]]:
        return [(name, self._entries[name]) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


def import_submodules(package: str) -> None:
    """Import every module of `package`. Each registers its own entries when imported, so adding an entry is
    adding a file, with no list of modules to keep up to date."""
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")

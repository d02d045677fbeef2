"""Problems with input data, collected over a whole run and reported at once.

Readers and packers add a (path, what is wrong) entry for every bad file rather than stopping at
the first one, so a user fixes all of them in one go. At the end the run either fails with one
line that counts them and names the first few, or (with --skip-bad) drops the bad samples and
records the problems in its output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xmt.errors import UserError

SHOWN = 20  # problems named in the error line; the rest are counted


@dataclass(frozen=True)
class Problem:
    path: str
    what: str


@dataclass
class Problems:
    """A collector of problems; `strict` raises at the first one instead (for readers used alone)."""

    strict: bool = False
    items: list[Problem] = field(default_factory=list)

    def add(self, path: str | Path, what: str) -> None:
        if self.strict:
            raise UserError(what, path=path)
        self.items.append(Problem(str(path), what))

    def add_error(self, error: UserError, path: str | Path) -> None:
        """Record a UserError raised while reading `path`, without repeating the path."""
        message = str(error)
        if error.path is not None:
            message = message.removeprefix(f"{error.path}: ")
        self.add(path, message)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def summary(self, base: str | Path | None = None) -> str:
        """'N problems: a/1.png: what; ... (and K more)', paths shown relative to `base`."""
        shown = "; ".join(f"{_relative(p.path, base)}: {p.what}" for p in self.items[:SHOWN])
        more = f" (and {len(self.items) - SHOWN} more)" if len(self.items) > SHOWN else ""
        noun = "problem" if len(self.items) == 1 else "problems"
        return f"{len(self.items)} {noun}: {shown}{more}"

    def raise_unless(self, skip_bad: bool, base: str | Path | None = None) -> None:
        """Fail with every problem on one line, unless the caller drops the bad samples."""
        if self.items and not skip_bad:
            raise UserError(f"{self.summary(base)}; pass --skip-bad to drop them", path=base)


def _relative(path: str, base: str | Path | None) -> str:
    if base is None:
        return path
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path

"""Reading the text files users hand xmt (list files, pair lists, class lists) with one-line errors."""

from __future__ import annotations

from pathlib import Path

from xmt.errors import UserError


def read_lines(path: Path, what: str) -> list[str]:
    """The lines of the UTF-8 text file `path` (a leading byte-order mark, as some editors write, is not part of
    the first line); `what` names it in the error ("pair list", "classes file")."""
    try:
        return Path(path).read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise UserError(f"no such {what}", path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {what} ({exc})", path=path)

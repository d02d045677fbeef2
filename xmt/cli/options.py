"""Numeric option types checked at parse time: `typer.Option(parser=Bounded(...))`.

Values from the command line (strings) and from --config TOML (numbers) go through the same check,
so `--lr nan`, `--lr 0` and `lr = nan` in a config file all stop before any work with the usual
one-line usage error (exit 2), e.g. `xmt transfer: error: Invalid value for '--lr': nan is not a
finite number`.
"""

from __future__ import annotations

from numbers import Real

from xmt import bounds as B
from xmt.errors import UserError

try:  # typer reports a validator's PydanticCustomError with exactly our message
    from pydantic_core import PydanticCustomError as _Custom

    def _fail(message: str) -> Exception:
        return _Custom("xmt_option", message.replace("{", "(").replace("}", ")"))
except ImportError:  # pragma: no cover - typer without pydantic reports a ValueError's message
    def _fail(message: str) -> Exception:
        return ValueError(message)


class Bounded:
    """A parser for a number option: finite, in the range of its `Bounds`, an integer where asked."""

    def __init__(self, min: float | None = None, max: float | None = None, *, min_open: bool = False,
                 max_open: bool = False, integer: bool = False):
        self.bounds = B.Bounds(min, max, min_open, max_open, integer)

    @classmethod
    def of(cls, bounds: B.Bounds) -> "Bounded":
        return cls(bounds.min, bounds.max, min_open=bounds.min_open, max_open=bounds.max_open, integer=bounds.integer)

    def __call__(self, value):
        number = self._parse(value)
        problem = self.bounds.problem(number)
        if problem is not None:
            raise _fail(problem)
        return int(number) if self.bounds.integer else float(number)

    def _parse(self, value):
        if isinstance(value, (dict, list, tuple)):
            raise _fail(f"a {'table' if isinstance(value, dict) else 'list'} where a number is expected")
        if isinstance(value, bool):
            raise _fail(f"{str(value).lower()} where a number is expected")
        if isinstance(value, Real):
            return value
        text = str(value).strip()
        try:
            return int(text) if self.bounds.integer else float(text)
        except ValueError:
            raise _fail(f"{text!r} is not a valid {'integer' if self.bounds.integer else 'number'}") from None

    def __repr__(self) -> str:
        return f"Bounded({self.bounds.describe()})"


POSITIVE = Bounded.of(B.POSITIVE)
NON_NEGATIVE = Bounded.of(B.NON_NEGATIVE)
UNIT_INTERVAL = Bounded.of(B.UNIT_INTERVAL)
COUNT = Bounded.of(B.COUNT)
NON_NEGATIVE_INT = Bounded.of(B.NON_NEGATIVE_INT)
SEED = Bounded.of(B.SEED)
SIZE = Bounded(8, 4096, integer=True)  # image side in pixels


def check_depth_range(near: float, far: float) -> None:
    """--depth-far must lie beyond --depth-near (each already finite and >= 0)."""
    if not far > near:
        raise UserError(f"--depth-far {far:g} must be greater than --depth-near {near:g} (metres)")

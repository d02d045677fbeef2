"""Ranges of numeric settings, shared by the command-line options and the library's config checks.

A `Bounds` says which numbers a setting accepts: always finite (nan and inf never are: comparisons
with nan are all False, so a plain `x < 0` test lets it through), optionally integer, and between
optional limits, each inclusive or open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from xmt.errors import UserError


@dataclass(frozen=True)
class Bounds:
    min: float | None = None
    max: float | None = None
    min_open: bool = False  # True: min itself is refused (x > min)
    max_open: bool = False  # True: max itself is refused (x < max)
    integer: bool = False

    def describe(self) -> str:
        """The accepted range, as in 'x > 0', '0 <= x < 1', 'x >= 1'."""
        low = None if self.min is None else f"{_show(self.min)} {'<' if self.min_open else '<='} "
        high = None if self.max is None else f" {'<' if self.max_open else '<='} {_show(self.max)}"
        if low and high:
            return f"{low}x{high}"
        if low:
            return f"x {'>' if self.min_open else '>='} {_show(self.min)}"
        if high:
            return f"x{high}"
        return "any finite number"

    def problem(self, value) -> str | None:
        """What is wrong with an already-parsed `value`, or None when it is accepted."""
        if isinstance(value, bool) or not isinstance(value, Real):
            return f"{value!r} is not a number"
        if not math.isfinite(value):
            return f"{_show(value)} is not a finite number"
        if self.integer and not isinstance(value, Integral) and not float(value).is_integer():
            return f"{_show(value)} is not an integer"
        too_low = self.min is not None and (value <= self.min if self.min_open else value < self.min)
        too_high = self.max is not None and (value >= self.max if self.max_open else value > self.max)
        if too_low or too_high:
            return f"{_show(value)} is not in the range {self.describe()}"
        return None

    def check(self, name: str, value) -> None:
        """Raise a UserError naming the setting `name` (e.g. '--lr') when `value` is refused."""
        problem = self.problem(value)
        if problem is not None:
            raise UserError(f"{name}: {problem}")


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


POSITIVE = Bounds(0.0, min_open=True)  # learning rates, temperatures, scales
NON_NEGATIVE = Bounds(0.0)  # loss weights, weight decay, multipliers
UNIT_INTERVAL = Bounds(0.0, 1.0)  # probabilities
COUNT = Bounds(1, integer=True)  # epochs, batch sizes
NON_NEGATIVE_INT = Bounds(0, integer=True)  # workers, scenes per class
SEED = Bounds(0, 2**32 - 1, integer=True)


def check_settings(checks: dict[str, tuple[object, Bounds]]) -> None:
    """Check several settings at once: {name: (value, bounds)}; the first refused one raises."""
    for name, (value, bounds) in checks.items():
        bounds.check(name, value)

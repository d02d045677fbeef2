"""One ordered parallel map for decoding images in worker processes (packing, TR lists, in-memory sets).

Results come back in the order of the items whatever the number of workers, so what is built from
them does not depend on it. The object every call needs (an image set, a row reader: thousands of
paths) is sent to each worker once, not with every item.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Shared = TypeVar("Shared")
Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_map(fn: Callable[[Shared, Item], Result], items: Iterable[Item], workers: int,
                shared: Shared = None) -> Iterator[Result]:
    """`fn(shared, item)` for every item, in order; `workers` > 0 runs them in that many processes (`fn` a
    module-level function, so that it pickles), else here, as a single item is."""
    items = list(items)
    if workers <= 0 or len(items) < 2:
        yield from (fn(shared, item) for item in items)
        return
    with ProcessPoolExecutor(workers, initializer=_install, initargs=(fn, shared)) as pool:
        # map queues every item at once and yields the results in order, as soon as each is ready
        yield from pool.map(_call_installed, items, chunksize=1)


_installed: tuple[Callable, object] | None = None


def _install(fn: Callable, shared: object) -> None:
    global _installed
    _installed = (fn, shared)


def _call_installed(item):
    fn, shared = _installed
    return fn(shared, item)

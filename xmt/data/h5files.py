"""HDF5 files opened lazily, once per process: h5py handles cannot be pickled into worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import h5py


class ProcessLocalH5:
    """Mixin: `_h5(path)` gives a read-only handle opened by the current process on first use."""

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_h5_handle", None)
        return state

    def _h5(self, path: str | Path) -> h5py.File:
        handle = self.__dict__.get("_h5_handle")
        if handle is None or handle[0] != os.getpid():
            handle = (os.getpid(), h5py.File(path, "r"))
            self.__dict__["_h5_handle"] = handle
        return handle[1]

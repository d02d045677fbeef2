"""HDF5 files opened lazily, once per process: h5py handles cannot be pickled into worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import h5py


class ProcessLocalH5:
    """Mixin: read-only handles opened by the current process on first use, datasets looked up once.

    (Looking a dataset up by name costs more than reading a small chunk of it, so random access
    one sample at a time keeps the dataset objects.)
    """

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_h5_handle", None)
        return state

    def _h5(self, path: str | Path) -> h5py.File:
        handle = self.__dict__.get("_h5_handle")
        if handle is None or handle[0] != os.getpid():
            handle = (os.getpid(), h5py.File(path, "r"), {})
            self.__dict__["_h5_handle"] = handle
        return handle[1]

    def _h5_dataset(self, path: str | Path, name: str) -> h5py.Dataset:
        f = self._h5(path)
        datasets = self.__dict__["_h5_handle"][2]
        if name not in datasets:
            datasets[name] = f[name]
        return datasets[name]

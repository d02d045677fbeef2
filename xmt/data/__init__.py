"""Modalities, the encoding recipe, image sets (sets/), HDF5 packs (packs/) and in-memory batches.

At the top, what everything reads: modalities.py and encoding.py (what an image is and how a network
sees it), validation.py (input problems), h5files.py (HDF5 handles per process), parallel.py (one
ordered process pool). sets/ is where images come from, packs/ how they are stored; a pack read
back is an image set (packs/reader.py), which sets/readers.py opens like any other input.
batches.py serves any image set as training batches. No import cycle: tests/test_import_graph.py.
"""

"""Modalities, the encoding recipe, image-set readers and HDF5 packs."""

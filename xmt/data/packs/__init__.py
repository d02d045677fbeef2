"""HDF5 packs: one file per data set, images stored at their encoded size in native units.

Read by reader.py (header, checked rows, a pack as an image set or a torch Dataset), written by
writer.py (image sets packed row by row) and translated.py (bridge's translations).

Layout (schema 2; documented in docs/formats.md):

    attrs   xmt_schema=2, kind ("images" | "translated"), modalities (JSON list), size,
            classes (JSON list or null), provenance (JSON), xmt_version,
            header_sha256 (everything but the numeric datasets' values, which carry per-chunk checksums)
    images/<modality>   (N, C, H, W) uint8 or uint16, one sample per chunk, compressed;
                        attrs: units, bit_depth, stats (JSON: mean, std, valid_fraction)
    labels              (N,) int64, -1 = unlabelled
    paths/<modality>    (N,) UTF-8 source path of each sample
    skipped/paths, skipped/problems   (M,) UTF-8: the input problems dropped by --skip-bad

A paired pack (prepare-ti) holds two modalities whose row i is one pair. A translated pack
(bridge) adds probs (N, K) and features (N, D) of the source model on each translation.
"""

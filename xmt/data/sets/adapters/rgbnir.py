"""The EPFL RGB-NIR scene data set (Brown and Süsstrunk, CVPR 2011).

Layout: [nirscene1/]<category>/<nnnn>_rgb.tiff beside <nnnn>_nir.tiff, 477 pairs in 9 categories
(country, field, forest, indoor, mountain, oldbuilding, street, urban, water). NIR is 8-bit grey,
sometimes saved as 3 equal channels. --ti-classes chooses the TI categories; the others are TR.
"""

from __future__ import annotations

import re
from pathlib import Path

from xmt.data.sets.adapters import FORMATS, AdapterOptions, Found, require_modality
from xmt.data.sets.pairing import file_set_maker, pairs_from_keys
from xmt.data.validation import Problems

CATEGORIES = ("country", "field", "forest", "indoor", "mountain", "oldbuilding", "street", "urban", "water")
_NAME = re.compile(r"^(?P<stem>.+)_(?P<side>rgb|nir)\.tiff?$", re.IGNORECASE)


@FORMATS.register("rgbnir")
def find(root: Path, options: AdapterOptions, problems: Problems) -> Found:
    require_modality(options, "nir", "rgbnir")
    if (root / "nirscene1").is_dir():
        root = root / "nirscene1"
    items: dict[str, list[tuple[str, str]]] = {"rgb": [], "nir": []}
    for category in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in category.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
        if not files:
            problems.add(category, "category folder holds no .tiff images")
        for path in files:
            match = _NAME.match(path.name)
            if match is None:
                problems.add(path, "not named <n>_rgb.tiff or <n>_nir.tiff")
                continue
            items[match["side"].lower()].append((f"{category.name}/{match['stem']}", str(path)))
    pairs = pairs_from_keys(items["rgb"], items["nir"], file_set_maker(root, root, None), problems, "nir",
                            lambda key: key.split("/", 1)[0])
    return Found(pairs)

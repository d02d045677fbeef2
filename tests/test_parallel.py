"""The one ordered process pool: results in input order whatever the worker count, so in-memory sets
(and packs, test_prepare_ti.py) do not depend on it."""

import time

import numpy as np
import torch
from PIL import Image

from xmt.data.batches import load_native
from xmt.data.encoding import EncodingRecipe
from xmt.data.packs.reader import PackImageSet
from xmt.data.packs.writer import write_pack
from xmt.data.parallel import ordered_map
from xmt.data.sets.readers import open_image_set


def _late_first(shared: int, item: int) -> tuple[int, int]:
    time.sleep(0.02 * (5 - item))  # the first items finish last
    return shared, item * item


def test_ordered_map_keeps_the_order_whatever_the_workers():
    expected = [(7, i * i) for i in range(6)]
    for workers in (0, 1, 3):
        assert list(ordered_map(_late_first, range(6), workers, shared=7)) == expected
    assert list(ordered_map(_late_first, [], 2, shared=7)) == []


def test_native_images_are_the_same_whatever_the_workers(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(300):  # two blocks of 256
        path = tmp_path / "rgb" / f"c{i % 3}" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(path)
    recipe = EncodingRecipe.for_modality("rgb", size=8)
    image_set = open_image_set(tmp_path / "rgb", "rgb")
    write_pack(tmp_path / "p.h5", {"rgb": image_set}, 8, {})
    for images in (image_set, PackImageSet.open(tmp_path / "p.h5", "rgb")):
        here, pooled = load_native(images, recipe, workers=0), load_native(images, recipe, workers=2)
        assert torch.equal(here.images, pooled.images) and torch.equal(here.labels, pooled.labels)

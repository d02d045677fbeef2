"""Copy an image folder with every image turned to grey (the same grey in all three channels).

    python grayscale.py SRC_DIR DST_DIR

The source model's accuracy on grey copies of target-camera RGB bounds what any translation from a
colour-blind modality (depth) can give it while it still relies on colour.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    tmp = args.dst.with_name(args.dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in sorted(args.src.rglob("*.png")):
        out = tmp / path.relative_to(args.src)
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.open(path).convert("L").convert("RGB").save(out)
    shutil.rmtree(args.dst, ignore_errors=True)
    tmp.rename(args.dst)


if __name__ == "__main__":
    main()

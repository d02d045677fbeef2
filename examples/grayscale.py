"""Copy an image folder with every image turned to grey (the same grey in all three channels).

    python grayscale.py SRC_DIR DST_DIR

The source model's accuracy on grey copies of target-camera RGB bounds what any translation from a
colour-blind modality (depth) can give it while it still relies on colour.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from example_files import transform_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    transform_images(args.src, args.dst, lambda image: image.convert("L").convert("RGB"))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The README's demo: the whole pipeline on a small embedded benchmark (RGB -> depth, one seed, 32x32,
# a small CNN), then the table of source-only, SHOT, SOCKET and TGKT on held-out target images.
# Expects `xmt` and `python` on PATH (`make demo` at the repository root sees to that).
# Outputs go to demo/ at the repository root; rerunning redoes only what is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
start=$SECONDS
make -C "$root/examples" --no-print-directory demo RUNS="$root/demo" Q=-q
echo
echo "demo: $((SECONDS - start)) s; every file is under demo/ (make clean-demo removes it)."
echo "This demo is a smoke test of the pipeline: at 32x32 with a small CNN trained from scratch no method"
echo "transfers well. The grouping table renames each method's predicted classes to the true classes they best"
echo "match: SHOT groups the depth images best of all, but names its groups after the source model's readings of"
echo "raw depth, which are at chance, so its accuracy can fall below chance. Results at the paper's regime"
echo "(MobileNetV2 from ImageNet, 64x64, seeds and intervals) are in docs/results.md."

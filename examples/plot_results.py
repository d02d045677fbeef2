"""The results as a figure: per task, each method's accuracy on target/test (mean over seeds, with its 95%
t-interval), source-only and the oracle as reference lines. Needs matplotlib (pip install -e '.[plots]').

    python plot_results.py runs/cpu64 --tasks "depth-kv1 depth-kv2 nir" --seeds "0 1 2 3 4" \
        --methods "shot socket tent tgkt" --out ../docs/img/results-cpu64.png

Reads the same files as results_table.py (RUNS/<task>/seed<seed>/metrics/<method>.json).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_table import LABELS, accuracy, mean_interval


def collect(runs: Path, task: str, seeds: list[str], method: str) -> list[float]:
    values = [accuracy(runs / task / f"seed{seed}" / "metrics" / f"{method}.json") for seed in seeds]
    return [v for v in values if v is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--methods", required=True, help="the methods drawn as bars")
    parser.add_argument("--references", default="source-only oracle", help="drawn as vertical lines")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    tasks, seeds, methods = args.tasks.split(), args.seeds.split(), args.methods.split()
    figure, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 0.5 * len(methods) + 1.6), sharey=True,
                                squeeze=False)
    some_fewer = False
    for ax, task in zip(axes[0], tasks):
        for row, method in enumerate(methods):
            values = collect(args.runs, task, seeds, method)
            if values:
                mean, half = mean_interval(values)
                ax.errorbar(mean, row, xerr=half, fmt="o", capsize=3, color="C0")
                # ablations run on fewer seeds than the headline methods: say so beside the mean
                fewer = f" (n={len(values)})" if len(values) < len(seeds) else ""
                some_fewer = some_fewer or bool(fewer)
                ax.text(mean, row + 0.25, f"{mean:.1f}{fewer}", ha="center", fontsize=7)
        for style, reference in zip(("--", ":"), args.references.split()):
            values = collect(args.runs, task, seeds, reference)
            if values:
                ax.axvline(mean_interval(values)[0], linestyle=style, color="grey",
                           label=LABELS.get(reference, reference).split(" (")[0])
        ax.set_title(task)
        ax.set_xlim(0, 100)
        ax.set_xlabel("accuracy on target/test (%)")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(methods)), [LABELS.get(m, m).split(" (")[0] for m in methods])
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(loc="lower right", fontsize=7)
    note = " (n=: over fewer seeds)" if some_fewer else ""
    figure.suptitle(f"mean and 95% t-interval over seeds {', '.join(seeds)}{note}", fontsize=9)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(args.out)


if __name__ == "__main__":
    main()

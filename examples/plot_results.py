"""The results as a figure: per task, each method's accuracy on target/test (mean over seeds, with its 95%
t-interval), source-only and the oracle as reference lines; with --versus, a second row of each method minus
that one, paired seed by seed (the mean difference and its 95% t-interval, as results.md's paired table).
Needs matplotlib (pip install -e '.[plots]').

    python plot_results.py runs/cpu64 --tasks "depth-kv1 depth-kv2 nir" --seeds "0 1 2 3 4" \
        --methods "shot socket tent tgkt" --versus socket --out ../docs/img/results-cpu64.png

Reads the same files as results_table.py (RUNS/<task>/seed<seed>/metrics/<method>.json).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_table import LABELS, accuracy, mean_interval


def collect(runs: Path, task: str, seeds: list[str], method: str) -> list[float]:
    values = [accuracy(runs / task / f"seed{seed}" / "metrics" / f"{method}.json") for seed in seeds]
    return [v for v in values if v is not None]


def paired_differences(runs: Path, task: str, seeds: list[str], method: str, versus: str) -> list[float]:
    """`method` minus `versus`, seed by seed, over the seeds where both were run."""
    pairs = [(accuracy(runs / task / f"seed{seed}" / "metrics" / f"{method}.json"),
              accuracy(runs / task / f"seed{seed}" / "metrics" / f"{versus}.json")) for seed in seeds]
    return [a - b for a, b in pairs if a is not None and b is not None]


def draw(ax, row: int, values: list[float], seeds: list[str], signed: bool = False) -> bool:
    """One method's mean and 95% t-interval at `row`, its value beside it (with its sign for a difference);
    True where it had fewer seeds."""
    mean, half = mean_interval(values)
    ax.errorbar(mean, row, xerr=half, fmt="o", capsize=3, color="C0")
    # ablations run on fewer seeds than the headline methods: say so beside the mean
    fewer = f" (n={len(values)})" if len(values) < len(seeds) else ""
    ax.text(mean, row + 0.25, f"{mean:+.1f}{fewer}" if signed else f"{mean:.1f}{fewer}", ha="center", fontsize=7)
    return bool(fewer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--methods", required=True, help="the methods drawn as bars")
    parser.add_argument("--references", default="source-only oracle", help="drawn as vertical lines")
    parser.add_argument("--versus", help="a second row: each method minus this one, paired seed by seed")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    tasks, seeds, methods = args.tasks.split(), args.seeds.split(), args.methods.split()
    compared = [m for m in methods if m != args.versus] if args.versus else []
    rows = 2 if compared else 1
    figure, axes = plt.subplots(rows, len(tasks), figsize=(4.2 * len(tasks), (0.5 * len(methods) + 1.6) * rows),
                                sharex="row", sharey="row", squeeze=False)
    some_fewer = False
    for ax, task in zip(axes[0], tasks):
        for row, method in enumerate(methods):
            values = collect(args.runs, task, seeds, method)
            if values:
                some_fewer = draw(ax, row, values, seeds) or some_fewer
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
    if compared:
        versus = LABELS.get(args.versus, args.versus).split(" (")[0]
        for ax, task in zip(axes[1], tasks):
            for row, method in enumerate(compared):
                values = paired_differences(args.runs, task, seeds, method, args.versus)
                if values:
                    some_fewer = draw(ax, row, values, seeds, signed=True) or some_fewer
            ax.axvline(0, color="grey", linestyle="--")
            ax.set_title(f"{task}, minus {versus}")
            ax.set_xlabel(f"minus {versus}, paired by seed (points)")
            ax.grid(axis="x", alpha=0.3)
        axes[1][0].set_yticks(range(len(compared)), [LABELS.get(m, m).split(" (")[0] for m in compared])
        axes[1][0].invert_yaxis()
    note = " (n=: over fewer seeds)" if some_fewer else ""
    figure.suptitle(f"mean and 95% t-interval over seeds {', '.join(seeds)}{note}", fontsize=9)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(args.out)


if __name__ == "__main__":
    main()

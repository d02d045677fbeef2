"""Which label-free figure of a bridge run tracks how well the source model reads its translations? A markdown
table from score_epochs.py's files (development seeds only: the rule it picks is then fixed for the report).

    python criteria_table.py runs/cpu64 --tasks "depth-kv1 nir" --seeds "100 101" --bridges "unet unet-perc"

For each criterion (oriented so that higher should mean better), the Spearman rank correlation with the
test accuracy of the translations: across the epochs of one run (mean over runs), and across the runs'
final epochs (how well it ranks loss configurations). Then the test accuracy that selecting the epoch by each
criterion gets, against the last epoch and the best epoch in hindsight, and its paired difference from the
last epoch run by run with a 95% t-interval (runs of one seed share a benchmark instance: read it as indicative).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from results_table import mean_interval

# label-free figures in bridge.jsonl, and the sign that makes "higher is better"
CRITERIA = {"val_rec": -1, "val_psnr": 1, "val_kl": -1, "val_perc": -1, "val_source_agreement": 1,
            "tr_mean_entropy": -1, "tr_marginal_entropy": 1}


def ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    norm = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / norm if norm else None


def fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{scale * value:.{digits}f}"


def mean(values) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.fmean(found) if found else None


def gain_interval(points: list[float]) -> str:
    """Mean of paired differences (points of accuracy) and its 95% t-interval."""
    if len(points) < 2:
        return "-"
    m, half = mean_interval(points)
    return f"{m:+.1f} [{m - half:+.1f}, {m + half:+.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--bridges", required=True)
    parser.add_argument("--command", default="")
    args = parser.parse_args()
    runs = []
    for task in args.tasks.split():
        for seed in args.seeds.split():
            for bridge in args.bridges.split():
                path = args.runs / task / f"seed{seed}" / "scores" / f"epochs-{bridge}.json"
                if path.exists():
                    runs.append((task, bridge, json.loads(path.read_text())["epochs"]))
    if not runs:
        raise SystemExit(f"{args.runs}: no epochs-*.json scores")
    accuracy = lambda epochs: [e["test_accuracy"] for e in epochs]  # noqa: E731
    lines = [f"{len(runs)} bridge runs ({args.tasks}; seeds {args.seeds}; {args.bridges})"
             + (f", made by `{args.command}`" if args.command else "") + ".", "",
             "| criterion | within a run: rank corr. over epochs | across runs: rank corr. of final epochs | "
             "accuracy of the epoch it selects | its gain over the last epoch |", "|---|---:|---:|---:|---:|"]
    for name, sign in CRITERIA.items():
        usable = [(t, b, e) for t, b, e in runs if all(name in x for x in e)]
        if not usable:
            continue
        within = mean(spearman([sign * x[name] for x in e], accuracy(e)) for _, _, e in usable)
        across = spearman([sign * e[-1][name] for _, _, e in usable], [e[-1]["test_accuracy"] for _, _, e in usable])
        selected = [max(reversed(e), key=lambda x: sign * x[name])["test_accuracy"] for _, _, e in usable]
        gain = gain_interval([100 * (s - e[-1]["test_accuracy"]) for s, (_, _, e) in zip(selected, usable)])
        lines.append(f"| `{name}` | {fmt(within)} | {fmt(across)} | {fmt(mean(selected), 100, 1)} | {gain} |")
    lines.append(f"| last epoch | | | {fmt(mean(e[-1]['test_accuracy'] for _, _, e in runs), 100, 1)} |")
    lines.append(f"| best epoch in hindsight (labels: a ceiling, not a rule) | | | "
                 f"{fmt(mean(max(accuracy(e)) for _, _, e in runs), 100, 1)} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

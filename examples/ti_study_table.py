"""Markdown tables of the TI-scaling study (make ti-study): what the bridge makes of more TI pairs, and when TGKT
gains on SOCKET, as mean and standard deviation over the development seeds.

    python ti_study_table.py results/ti-study --tasks "depth-kv1 nir" --seeds "100 101 102" --counts "30 60 120 240" \
        --bridges "unet unet-guided"

Reads RUNS/<task>/seed<seed>/ti<count>/: scores/teacher-<bridge>.json (the source model on the bridge's TR
translations), scores/bridge-<bridge>.json (on its test translations), scores/rounds-<bridge>.json (every
round's translator: label-free figures and test accuracy), metrics/<method>.json (xmt evaluate).
With --figure PATH it also draws the teacher's accuracy against the TI pairs, one line per bridge (matplotlib).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_table import accuracy, cell, interval, read_json

TGKT_OF = {"unet": "tgkt", "unet-guided": "tgkt-guided"}  # the TGKT model that reads each bridge (Makefile)
TI_CLASSES = 8  # the synth benchmark's TI classes: pairs = count x 8


def score(path: Path) -> float | None:
    record = read_json(path)
    return None if record is None else 100 * record["accuracy"]


def rounds(path: Path) -> list[dict]:
    record = read_json(path)
    return [] if record is None else record["epochs"]


def last_round(path: Path, key: str) -> float | None:
    found = rounds(path)
    return found[-1].get(key) if found else None


def ran(runs: list[Path], bridge: str) -> bool:
    """Whether any seed's cell holds a result of this bridge or the SOCKET model beside it."""
    return any((r / "scores" / f"{name}-{bridge}.json").exists() for r in runs for name in ("teacher", "rounds")) \
        or any((r / "metrics" / "socket.json").exists() for r in runs)


def estimated_teacher(path: Path) -> float | None:
    """The teacher guard's label-free estimate of the teacher from the held-out TI pairs (score_translations.py)."""
    record = read_json(path)
    estimate = None if record is None else record.get("holdout_estimate")
    return None if estimate is None else 100 * estimate["estimate"]


def agreement(path: Path) -> float | None:
    value = last_round(path, "val_source_agreement")
    return None if value is None else 100 * value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--counts", required=True, help="TI pairs per class")
    parser.add_argument("--bridges", required=True)
    parser.add_argument("--command", default="make -C examples ti-study PRESET=cpu64")
    parser.add_argument("--figure", type=Path, help="also draw the teacher's accuracy against the TI pairs")
    parser.add_argument("--ablations", default="", help="the bridge options measured at one TI count (make "
                        "bridge-ablations), shown beside --bridges at that count")
    parser.add_argument("--cell", type=int, default=60, help="the TI pairs per class the ablations ran at")
    args = parser.parse_args()
    tasks, seeds, counts, bridges = (args.tasks.split(), args.seeds.split(), [int(c) for c in args.counts.split()],
                                     args.bridges.split())

    def at(task: str, seed: str, count: int) -> Path:
        return args.runs / task / f"seed{seed}" / f"ti{count}"

    print(f"TI-scaling study, made by `{args.command}` (development seeds {', '.join(seeds)}; mean ± sd over seeds, "
          "TGKT - SOCKET as the mean paired difference with its 95% t-interval). Teacher: the source model on the "
          "bridge's translations of the TR images (scored with their labels, which no method reads); test: on its "
          "translations of the held-out test images; PSNR and agreement: the held-out TI pairs, last round, no "
          "label read (agreement: how often the source model reads a translation as it reads the real RGB, a "
          "label-free estimate of how well the bridge keeps what the source model sees). Estimated: the teacher "
          "guard's label-free estimate of the teacher from those pairs, 1/K + kappa x (the source model's RGB "
          "validation accuracy - 1/K).\n")
    for task in tasks:
        print(f"### {task}\n")
        print("| bridge | TI pairs | teacher on TR (%) | teacher, estimated (%) | test translations (%) "
              "| held-out TI PSNR (dB) | held-out TI agreement (%) | SOCKET (%) | TGKT (%) | TGKT - SOCKET |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for bridge in bridges:
            for count in counts:
                runs = [at(task, seed, count) for seed in seeds]
                if not ran(runs, bridge):
                    continue  # a cell not run yet on any seed: left out (the seed counts say what is missing)
                socket = [accuracy(r / "metrics" / "socket.json") for r in runs]
                # a bridge no TGKT model reads (an ablation) has no TGKT column
                tgkt = [accuracy(r / "metrics" / f"{TGKT_OF[bridge]}.json") if bridge in TGKT_OF else None
                        for r in runs]
                gain = [t - s if t is not None and s is not None else None for t, s in zip(tgkt, socket)]
                print(f"| `{bridge}` | {count * TI_CLASSES} | "
                      f"{cell([score(r / 'scores' / f'teacher-{bridge}.json') for r in runs])} | "
                      f"{cell([estimated_teacher(r / 'scores' / f'teacher-{bridge}.json') for r in runs])} | "
                      f"{cell([score(r / 'scores' / f'bridge-{bridge}.json') for r in runs])} | "
                      f"{cell([last_round(r / 'scores' / f'rounds-{bridge}.json', 'val_psnr') for r in runs])} | "
                      f"{cell([agreement(r / 'scores' / f'rounds-{bridge}.json') for r in runs])} | "
                      f"{cell(socket)} | {cell(tgkt)} | {interval(gain)} |")
        print()
        print_budget(task, bridges, counts, seeds, at)
        print_ceiling(task, seeds, args.runs)
        print_guard(task, counts, seeds, at)
        print_fidelity(task, bridges, counts, seeds, at)
        print_ablations(task, bridges + args.ablations.split(), args.cell, seeds, at)
    if args.figure is not None:
        draw(args.figure, tasks, bridges, counts, seeds, at)


def print_ceiling(task: str, seeds: list[str], runs: Path) -> None:
    """The bridge trained on the TR images' own pairs (make bridge-ceiling), where it ran: the most a bridge of this
    kind makes of the modality, each round's translator on the test images."""
    found = [read_json(runs / task / f"seed{seed}" / "scores" / "rounds-ceiling.json") for seed in seeds]
    if not any(found):
        return
    steps = sorted({r["step"] for f in found if f for r in f["epochs"] if "step" in r})
    by_step = [{r["step"]: r for r in f["epochs"]} if f else {} for f in found]
    print(f"The ceiling ({task}): the `unet` bridge trained on pairs of the TR images themselves (their own classes, "
          "which the setting never gives), after each number of steps:\n")
    print("| | " + " | ".join(str(s) for s in steps) + " |")
    print("|---|" + "---|" * len(steps))
    for name, key, scale in (("test translations (%)", "test_accuracy", 100), ("held-out PSNR (dB)", "val_psnr", 1),
                             ("held-out kappa", "val_source_kappa", 1)):
        print(f"| {name} | " + " | ".join(cell([scale * run[step][key] if step in run and key in run[step] else None
                                                  for run in by_step], digits=2 if scale == 1 and "kappa" in key
                                                 else 1) for step in steps) + " |")
    print()


# the guarded TGKT runs (Makefile): which teacher each guards, and the unguarded TGKT that distils the same teacher
GUARDED = {"tgkt-guard": ("unet", "tgkt"),
           "tgkt-guard-oracle-teacher": ("oracle", "tgkt-oracle-teacher")}  # constructed: the TR images' own RGB


def print_guard(task: str, counts: list[int], seeds: list[str], at) -> None:
    """The teacher guard, where it ran: its two label-free estimates of the teacher beside the true accuracy, its
    decision, and what the unguarded and the guarded TGKT gained on SOCKET."""
    rows = []
    for guarded, (teacher, unguarded) in GUARDED.items():
        for count in counts:
            found = [at(task, seed, count) for seed in seeds]
            records = [read_json(r / "scores" / f"guard-{guarded}.json") for r in found]
            if any(records):
                rows.append(guard_row(guarded, teacher, unguarded, count, found, records))
    if not rows:
        return
    print(f"The teacher guard ({task}; `--guard-with` SOCKET, SHOT; the `oracle` teacher is constructed, the source "
          "model on the TR images' own RGB):\n")
    print("| teacher | TI pairs | teacher on TR (%) | estimated from held-out TI (%) | estimated from agreement (%) "
          "| best other, estimated (%) | weight on L_KL | TGKT - SOCKET | guarded TGKT - SOCKET |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows) + "\n")


def guard_row(guarded: str, teacher: str, unguarded: str, count: int, found: list[Path],
              records: list[dict | None]) -> str:
    def percent(key: str) -> str:
        return cell([100 * g[key] if g and g.get(key) is not None else None for g in records])

    def gain(method: str) -> str:
        socket = [accuracy(r / "metrics" / "socket.json") for r in found]
        return interval([m - s if m is not None and s is not None else None
                         for m, s in zip([accuracy(r / "metrics" / f"{method}.json") for r in found], socket)])

    return (f"| `{teacher}` | {count * TI_CLASSES} | {cell([score(r / 'scores' / f'teacher-{teacher}.json') for r in found])} "
            f"| {percent('guard_teacher_accuracy_holdout')} | {percent('guard_teacher_accuracy_agreement')} | "
            f"{cell([100 * max(g['guard_other_accuracies']) if g else None for g in records])} | "
            f"{cell([g['guard_weight'] if g else None for g in records], digits=2)} | {gain(unguarded)} | "
            f"{gain(guarded)} |")


def print_fidelity(task: str, bridges: list[str], counts: list[int], seeds: list[str], at) -> None:
    """Cohen's kappa of the source model's readings of translations and real RGB (teacher_fidelity.py): on the
    held-out TI pairs the guard reads, on the TI pairs trained on, and on the TR images; with the source model's
    median confidence on the real RGB of each."""
    files = {(b, c): [read_json(at(task, s, c) / "scores" / f"fidelity-{b}.json") for s in seeds]
             for b in bridges for c in counts}
    if not any(f for found in files.values() for f in found):
        return
    sets = (("ti_held_out", "held-out TI"), ("ti_trained", "TI trained on"), ("tr", "TR"))
    print(f"How much of the source model's reading the translations keep ({task}; Cohen's kappa of its readings of "
          "translation and real RGB, and its median confidence on the real RGB):\n")
    print("| bridge | TI pairs | " + " | ".join(f"kappa, {name}" for _, name in sets) + " | "
          + " | ".join(f"confidence, {name}" for _, name in sets) + " |")
    print("|---|---|" + "---|" * (2 * len(sets)))
    for (bridge, count), found in files.items():
        if not any(found):
            continue  # a cell not run yet
        kappas = [cell([f[key]["kappa"] if f else None for f in found], digits=2) for key, _ in sets]
        confidence = [cell([f[key]["median_confidence"] if f else None for f in found], digits=2) for key, _ in sets]
        print(f"| `{bridge}` | {count * TI_CLASSES} | " + " | ".join(kappas + confidence) + " |")
    print()


def print_ablations(task: str, bridges: list[str], count: int, seeds: list[str], at) -> None:
    """Every bridge option at one TI count (make bridge-ablations), beside the study's bridges there: the teacher,
    the guard's estimate of it, the test translations (the last round's translator, and the best round's, which
    only labels could pick), and the label-free figures of the held-out TI pairs."""
    runs = [at(task, seed, count) for seed in seeds]
    found = [b for b in bridges if any((r / "scores" / f"rounds-{b}.json").exists() for r in runs)]
    if not any(b not in TGKT_OF for b in found):
        return  # no ablation ran: the study's own tables say it all

    def best_round(path: Path) -> float | None:
        tested = [r["test_accuracy"] for r in rounds(path) if "test_accuracy" in r]
        return 100 * max(tested) if tested else None

    print(f"Every bridge option at {count * TI_CLASSES} TI pairs ({task}; `make bridge-ablations`; the best round is "
          "picked with the test labels, so it bounds what a label-free rule could reach, no more):\n")
    readings = [(what, cell([accuracy(r / "metrics" / f"{method}.json") for r in runs]))
                for method, what in (("source-rgb", "the test scenes' RGB"), ("source-gray", "a grey copy of it"),
                                     ("source-shaded", "a grey shading of their true depth"))]
    found_readings = [f"{what} {value}" for what, value in readings if value != "–"]
    if found_readings:  # what a translation would have to look like to be read
        print(f"What the source model reads (%): {'; '.join(found_readings)}.\n")
    print("| bridge | teacher on TR (%) | teacher, estimated (%) | test translations (%) | test, best round (%) "
          "| held-out TI PSNR (dB) | held-out TI kappa |")
    print("|---|---|---|---|---|---|---|")
    scores = [r / "scores" for r in runs]
    for bridge in found:
        print(f"| `{bridge}` | {cell([score(s / f'teacher-{bridge}.json') for s in scores])} | "
              f"{cell([estimated_teacher(s / f'teacher-{bridge}.json') for s in scores])} | "
              f"{cell([score(s / f'bridge-{bridge}.json') for s in scores])} | "
              f"{cell([best_round(s / f'rounds-{bridge}.json') for s in scores])} | "
              f"{cell([last_round(s / f'rounds-{bridge}.json', 'val_psnr') for s in scores])} | "
              f"{cell([last_round(s / f'rounds-{bridge}.json', 'val_source_kappa') for s in scores], digits=2)} |")
    print()


# the figures of each round, by steps: what the source model reads off the test translations (scored with labels)
# and the label-free ones a rule for the step budget may use
ROUND_FIGURES = (("Test translations read by the source model (%)", "test_accuracy", 100, 1),
                 ("Held-out TI kappa (the source model's readings of translation and RGB; no label)",
                  "val_source_kappa", 1, 2),
                 ("Held-out TI PSNR (dB; no label)", "val_psnr", 1, 1),
                 ("Held-out TI L_kl (the source model's KL from its reading of the RGB to that of the translation; "
                  "no label)", "val_kl", 1, 3),
                 ("Held-out TI L_perc (distance of the source model's features of translation and RGB; no label)",
                  "val_perc", 1, 3),
                 ("Entropy of the source model's mean prediction on TR translations (nats; no label)",
                  "tr_marginal_entropy", 1, 2))


def print_budget(task: str, bridges: list[str], counts: list[int], seeds: list[str], at) -> None:
    """The step budget: each round's figures, by steps."""
    steps = sorted({r["step"] for b in bridges for c in counts for s in seeds
                    for r in rounds(at(task, s, c) / "scores" / f"rounds-{b}.json") if "step" in r})
    if not steps:
        return
    for title, key, scale, digits in ROUND_FIGURES:
        print(f"{title} after each number of steps ({task}):\n")
        print("| bridge | TI pairs | " + " | ".join(str(s) for s in steps) + " |")
        print("|---|---|" + "---|" * len(steps))
        for bridge in bridges:
            for count in counts:
                if not ran([at(task, s, count) for s in seeds], bridge):
                    continue
                by_step = [{r["step"]: scale * r[key] for r in rounds(at(task, s, count) / "scores" /
                                                                      f"rounds-{bridge}.json") if key in r}
                           for s in seeds]
                print(f"| `{bridge}` | {count * TI_CLASSES} | "
                      + " | ".join(cell([run.get(step) for run in by_step], digits) for step in steps) + " |")
        print()


def teacher_curve(task: str, bridge: str, counts: list[int], seeds: list[str],
                  at) -> list[tuple[int, float, float, int]]:
    """(TI pairs, mean, sd, seeds) of a bridge's teacher accuracy on TR (%), at each TI count scored on any seed."""
    import statistics

    curve = []
    for count in counts:
        found = [v for v in (score(at(task, s, count) / "scores" / f"teacher-{bridge}.json") for s in seeds)
                 if v is not None]
        if found:
            curve.append((count * TI_CLASSES, statistics.mean(found),
                          statistics.stdev(found) if len(found) > 1 else 0.0, len(found)))
    return curve


def draw(path: Path, tasks: list[str], bridges: list[str], counts: list[int], seeds: list[str], at) -> None:
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # the seeds whose teachers are scored so far: a point from fewer of them says how many
    scored = [s for s in seeds if any(teacher_curve(t, b, counts, [s], at) for t in tasks for b in bridges)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.9), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for bridge in bridges:
            curve = teacher_curve(task, bridge, counts, seeds, at)
            if not curve:
                continue
            xs, ys, sds, ns = zip(*curve)
            line = ax.errorbar(xs, ys, yerr=sds, marker="o", capsize=3, label=bridge)
            for x, y, _, n in (point for point in curve if point[3] < len(scored)):
                ax.annotate(f"{n} seed{'s' if n > 1 else ''}", (x, y), textcoords="offset points",
                            xytext=(4, -10), fontsize=6, color=line[0].get_color())
        # what a teacher must beat to help: SOCKET's own accuracy on the test images, at each TI count
        xs, ys = [], []
        for count in counts:
            found = [v for v in (accuracy(at(task, s, count) / "metrics" / "socket.json") for s in seeds) if v is not None]
            if found:
                xs.append(count * TI_CLASSES)
                ys.append(statistics.mean(found))
        if xs:
            ax.plot(xs, ys, color="black", linestyle="--", marker=".", label="SOCKET (target model, test)")
        ax.axhline(10, color="grey", linestyle=":", label="chance (10 classes)")
        ax.set_xscale("log", base=2)
        ax.set_xticks([c * TI_CLASSES for c in counts], [str(c * TI_CLASSES) for c in counts])
        ax.set_xlabel("TI pairs")
        ax.set_ylabel("teacher accuracy on TR (%)")
        ax.set_title(task)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    over = f"seed{'s' if len(scored) > 1 else ''} {', '.join(scored)}"
    fig.suptitle(f"Teacher accuracy against TI pairs (mean ± sd over {over})", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110, metadata={"Software": "xmt"})


if __name__ == "__main__":
    main()

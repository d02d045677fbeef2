"""Markdown tables of a results run: every method's accuracy on target/test, and the source model's
accuracy on raw against translated target images, as mean and standard deviation over seeds.

    python results_table.py runs/small --tasks "depth-kv1 nir" --seeds "0 1 2" --methods "..." --bridges "..."

Reads RUNS/<task>/seed<seed>/metrics/<method>.json (xmt evaluate --out),
RUNS/<task>/seed<seed>/scores/bridge-<name>.json and teacher-<name>.json (score_translations.py on a bridge's
test and TR translations), guard-<method>.json (guard_record.py) and agreements-<method>.json (guard_agreements.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

LABELS = {
    "source-rgb": "source model on the target camera's RGB (reference)",
    "source-gray": "source model on grey copies of that RGB (reference)",
    "source-shaded": "source model on a grey shading of the test scenes' depth (reference)",
    "source-only": "source-only (source model on raw target)",
    "shot": "SHOT",
    "socket": "SOCKET",
    "tent": "TENT (BatchNorm affine only)",
    "tgkt": "TGKT (the paper's method, `unet` bridge)",
    "tgkt-light": "TGKT, `light` translator",
    "oracle": "oracle (trained on target labels: upper bound, not a method)",
    "tgkt-no-kl": "TGKT without L_KL",
    "tgkt-no-f": "TGKT without L_f",
    "tgkt-no-self": "TGKT without L_self",
    "tgkt-no-im": "TGKT without L_IM",
    "tgkt-no-bn": "TGKT without L_BN",
    "tgkt-kl-conf": "TGKT, L_KL weighted by teacher confidence (`--kl-weighting confidence`)",
    "tgkt-guided": "TGKT, teacher from the guided bridge (`unet` + L_perc + L_kl)",
    "tgkt-cluster": "TGKT, cluster votes (`--kl-target cluster`)",
    "tgkt-spl": "TGKT, SOCKET's clustering for L_self (`--clustering socket`)",
    "tgkt-no-kl-spl": "TGKT without L_KL, SOCKET's clustering (SOCKET's loss)",
    "tgkt-guard": "TGKT with the teacher guard (`--guard-with` SOCKET, SHOT; `--clustering socket`)",
}
REFERENCES = {"source-rgb", "source-gray", "source-shaded", "oracle"}  # not methods: left out of the paired differences
BRIDGE_LABELS = {
    "source-rgb": "source model on the target camera's RGB (reference)",
    "source-gray": "source model on grey copies of that RGB (reference)",
    "light": "`light` (L_rec + L_D + L_IM)",
    "unet": "`unet` (L_rec + L_D + L_IM)",
    "vq": "`vq` (L_rec + L_D + L_IM)",
    "unet-rec": "`unet`, L_rec only",
    "unet-rec-d": "`unet`, L_rec + L_D",
    "unet-bn": "`unet`, + L_bn",
    "unet-feat": "`unet`, + L_feat",
    "unet-perc": "`unet`, + L_perc",
    "unet-kl": "`unet`, + L_kl",
    "unet-guided": "`unet`, + L_perc + L_kl",
    "unet-d2": "`unet`, 2-layer discriminator",
    "unet-aug": "`unet`, paired augmentation",
    "unet-long": "`unet`, 100 epochs",
}


def accuracy(path: Path) -> float | None:
    return 100 * json.loads(path.read_text())["accuracy"] if path.exists() else None


def last_epoch(run: Path, bridge: str) -> dict | None:
    """The last line of a bridge's bridge.jsonl (the held-out TI figures of the bridge as saved), or the copy
    score_translations.py keeps in scores/bridge-<bridge>.json where the log itself is not at hand."""
    log = run / f"bridge-{bridge}" / "bridge.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    if lines:
        return json.loads(lines[-1])
    return (read_json(run / "scores" / f"bridge-{bridge}.json") or {}).get("bridge_last_epoch")


def cell(values: list[float | None], digits: int = 1) -> str:
    found = [v for v in values if v is not None]
    if not found:
        return "–"
    text = f"{statistics.mean(found):.{digits}f}"
    if len(found) > 1:
        text += f" ± {statistics.stdev(found):.{digits}f}"
    return text + ("" if len(found) == len(values) else f" ({len(found)}/{len(values)} seeds)")


# t_{0.975, df}: the two-sided 95% quantiles of Student's t (standard table values)
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t_975(df: int) -> float:
    """The quantile at df, or at the largest tabulated df below it (a slightly wider, conservative interval)."""
    return T_975[max(d for d in T_975 if d <= df)]


def mean_interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% t-interval, t * sd / sqrt(n) (0 for one value)."""
    if len(values) < 2:
        return statistics.mean(values), 0.0
    return statistics.mean(values), t_975(len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5


def interval(values: list[float | None]) -> str:
    """Mean paired difference and its 95% t-interval over the seeds where both runs exist."""
    found = [v for v in values if v is not None]
    if len(found) < 2:
        return cell(values)
    mean, half = mean_interval(found)
    seeds = "" if len(found) == len(values) else f" ({len(found)}/{len(values)} seeds)"
    return f"{mean:+.1f} [{mean - half:+.1f}, {mean + half:+.1f}]{seeds}"


def grouping(path: Path) -> float | None:
    """Accuracy (%) under the best one-to-one relabelling of the predicted classes (from the confusion matrix):
    how well a model groups the images by class, whatever it calls the groups."""
    from scipy.optimize import linear_sum_assignment

    if not path.exists():
        return None
    confusion = np.array(json.loads(path.read_text())["confusion_matrix"])
    rows, cols = linear_sum_assignment(-confusion)
    return 100 * confusion[rows, cols].sum() / confusion.sum()


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def teacher_rows(runs: dict[str, list[Path]], tasks: list[str], teachers: list[str],
                 guarded: list[str]) -> list[tuple[str, list[str]]]:
    """The teacher's true accuracy on the TR images (scored with their labels, which no method reads) and, for
    each guarded run, the guard's label-free estimate of it and the weight it gave L_KL."""
    rows = []
    for b in teachers:
        rows.append((f"true accuracy of the `{b}` teacher on TR (%)",
                     [cell([accuracy(r / "scores" / f"teacher-{b}.json") for r in runs[t]]) for t in tasks]))
    for m in guarded:
        records = {t: [read_json(r / "scores" / f"guard-{m}.json") for r in runs[t]] for t in tasks}
        rows.append((f"{m}: estimated teacher accuracy (%)",
                     [cell([100 * g["guard_teacher_accuracy"] if g else None for g in records[t]]) for t in tasks]))
        # both estimates of the teacher, where the bridge recorded its held-out TI figures (the guard used those)
        if any(g and g.get("guard_teacher_accuracy_holdout") is not None for t in tasks for g in records[t]):
            for kind, what in (("agreement", "from agreement"), ("holdout", "from the held-out TI pairs")):
                rows.append((f"{m}: estimated teacher accuracy {what} (%)",
                             [cell([100 * g[f"guard_teacher_accuracy_{kind}"]
                                    if g and g.get(f"guard_teacher_accuracy_{kind}") is not None else None
                                    for g in records[t]]) for t in tasks]))
        rows.append((f"{m}: estimated accuracy of the best other predictor (%)",
                     [cell([100 * max(g["guard_other_accuracies"]) if g else None for g in records[t]])
                      for t in tasks]))
        rows.append((f"{m}: weight on L_KL",
                     [cell([g["guard_weight"] if g else None for g in records[t]], digits=2) for t in tasks]))
        scored = {t: [read_json(r / "scores" / f"agreements-{m}.json") for r in runs[t]] for t in tasks}
        if any(a for t in tasks for a in scored[t]):
            rows.append((f"{m}: true accuracy on TR of the predictor estimated best (%)",
                         [cell([best_other(a) for a in scored[t]]) for t in tasks]))
            rows.append((f"{m}: the teacher's agreement beyond chance with the target models (Cohen's kappa, mean)",
                         [cell([model_kappa(a) for a in scored[t]], digits=3) for t in tasks]))
    return rows


def guard_run_rows(root: Path, tasks: list[str], seeds: list[str], guarded: str, teacher: str,
                   versus: str) -> tuple[list[str], str]:
    """One row a (task, seed) where the guarded run exists: the teacher's true accuracy on TR beside the versus
    method's model's on the same images, the guard's two label-free estimates of the teacher, the weight it gave
    L_KL, and TGKT without and with the guard against the versus method (points); then a line on how each
    estimate compares with the truth over the runs."""
    def points(run: Path, method: str) -> str:
        a, b = accuracy(run / "metrics" / f"{method}.json"), accuracy(run / "metrics" / f"{versus}.json")
        return f"{a - b:+.1f}" if a is not None and b is not None else "–"

    def percent(value: float | None) -> str:
        return f"{100 * value:.1f}" if value is not None else "–"

    rows, truths, estimates = [], [], {"held-out TI": [], "agreement": []}
    for t in tasks:
        for seed in seeds:
            run = root / t / f"seed{seed}"
            guard = read_json(run / "scores" / f"guard-{guarded}.json")
            if guard is None:
                continue
            true = (read_json(run / "scores" / f"teacher-{teacher}.json") or {}).get("accuracy")
            scored = (read_json(run / "scores" / f"agreements-{guarded}.json") or {}).get("predictors", [])
            other = next((p["true_accuracy"] for p in scored if p["predictor"].endswith(f"/{versus}.safetensors")),
                         None)
            holdout = guard.get("guard_teacher_accuracy_holdout")
            # a guard that predates the held-out estimate recorded only the agreement one, as its estimate
            agreement = guard.get("guard_teacher_accuracy_agreement",
                                  guard["guard_teacher_accuracy"] if holdout is None else None)
            rows.append("| " + " | ".join([t, seed, percent(true), percent(other), percent(holdout), percent(agreement),
                                           f"{guard['guard_weight']:.2f}", points(run, "tgkt"),
                                           points(run, guarded)]) + " |")
            if true is not None and holdout is not None and agreement is not None:
                truths.append(true)
                estimates["held-out TI"].append(holdout)
                estimates["agreement"].append(agreement)
    summary = ""
    if len(truths) > 2:
        parts = []
        for name, values in estimates.items():
            ratio = statistics.mean(e / t for e, t in zip(values, truths))
            below = sum(e < t for e, t in zip(values, truths))
            parts.append(f"the {name} estimate is {ratio:.2f} of the truth on average, below it on {below} runs of "
                         f"{len(truths)}, r = {np.corrcoef(values, truths)[0, 1]:+.2f}")
        summary = "Over these runs, " + "; ".join(parts) + "."
    return rows, summary


def best_other(agreements: dict | None) -> float | None:
    """The true accuracy of the other predictor the guard estimated best (guard_agreements.py's file)."""
    if not agreements:
        return None
    best = max(agreements["predictors"][1:], key=lambda p: p["estimated_accuracy"])
    return 100 * best["true_accuracy"]


def model_kappa(agreements: dict | None) -> float | None:
    """The teacher's mean kappa with the other predictors that are target models (they read the raw images)."""
    kappas = [p["kappa_with_teacher"] for p in (agreements or {}).get("predictors", [])[1:]
              if p["predictor"].endswith(".safetensors")]
    return sum(kappas) / len(kappas) if kappas else None


def table(header: str, rows: list[tuple[str, list[str]]], tasks: list[str]) -> list[str]:
    lines = [f"| {header} | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    return lines + [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--methods", required=True)
    parser.add_argument("--bridges", default="")
    parser.add_argument("--bridge-tasks", default="", help="tasks of the bridge table (default: all)")
    parser.add_argument("--versus", default="", help="a method to compare the others with, seed by seed")
    parser.add_argument("--teachers", default="", help="bridges whose TR translations' accuracy to report")
    parser.add_argument("--guarded", default="", help="guarded TGKT runs whose guard decisions to report")
    parser.add_argument("--guard-teacher", default="unet", help="the bridge whose teacher the guarded runs distil")
    parser.add_argument("--command", default="", help="the command that made the run, quoted in the output")
    parser.add_argument("--grouping", action="store_true", help="also each method's accuracy under the best "
                        "one-to-one relabelling of its classes")
    args = parser.parse_args()
    tasks, seeds = args.tasks.split(), args.seeds.split()
    runs = {task: [args.runs / task / f"seed{seed}" for seed in seeds] for task in tasks}

    out = [f"Accuracy (%) on `target/test`, mean ± standard deviation over seeds {', '.join(seeds)}."]
    if args.command:
        out += ["", f"Made by `{args.command}`."]
    out += ["", "### Methods", ""]
    rows = [(LABELS.get(m, m), [cell([accuracy(r / "metrics" / f"{m}.json") for r in runs[t]]) for t in tasks])
            for m in args.methods.split()]
    out += table("method", rows, tasks)
    if args.versus:
        out += ["", f"### Paired differences: each method minus {LABELS.get(args.versus, args.versus)}, seed by seed",
                "", "Points of accuracy: the mean difference and its 95% t-interval over the seeds where both "
                "runs exist; an interval above 0 says the method beats it on this benchmark.", ""]
        rows = []
        for m in args.methods.split():
            if m == args.versus or m in REFERENCES:
                continue
            cells = []
            for t in tasks:
                pairs = [(accuracy(r / "metrics" / f"{m}.json"), accuracy(r / "metrics" / f"{args.versus}.json"))
                         for r in runs[t]]
                cells.append(interval([a - b if a is not None and b is not None else None for a, b in pairs]))
            rows.append((LABELS.get(m, m), cells))
        out += table("method", rows, tasks)
    if args.grouping:
        out += ["", "### Grouping: accuracy under the best one-to-one relabelling of classes", "",
                "The same predictions, each predicted class renamed to the true class it best matches (one to one, "
                "from the confusion matrix): how well a method groups the target images by class, whatever it calls "
                "the groups. Far above the accuracy, it says the groups are right and their names wrong.", ""]
        rows = [(LABELS.get(m, m), [cell([grouping(r / "metrics" / f"{m}.json") for r in runs[t]]) for t in tasks])
                for m in args.methods.split() if m not in ("source-rgb", "source-gray", "source-shaded")]
        out += table("method", rows, tasks)
    if args.teachers.split() or args.guarded.split():
        out += ["", "### The teacher and the guard", "",
                "The teacher is the source model reading a bridge's translations of the TR (adaptation) images; its "
                "true accuracy is scored with their labels, which no method reads. The guard estimates it without "
                "labels (docs/methods.md, the teacher guard): from the held-out TI pairs where the bridge recorded "
                "them, otherwise from its agreement with the other predictors.", ""]
        out += table("teacher", teacher_rows(runs, tasks, args.teachers.split(), args.guarded.split()), tasks)
        versus = args.versus or "socket"
        for m in args.guarded.split():
            rows, summary = guard_run_rows(args.runs, tasks, seeds, m, args.guard_teacher, versus)
            name = LABELS.get(versus, versus)
            if rows:
                out += ["", f"Run by run, `{m}`: the `{args.guard_teacher}` teacher's true accuracy on TR (%) beside "
                        f"{name}'s model's on the same images, the guard's two estimates of the teacher (%), the "
                        f"weight it gave L_KL, and TGKT without and with the guard minus {name} (points).", "",
                        f"| task | seed | teacher, true | {name}'s model, true | estimate, held-out TI "
                        f"| estimate, agreement | weight on L_KL | TGKT - {name} | guarded - {name} |",
                        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows + ([summary] if summary else [])
    bridge_tasks = [t for t in tasks if t in args.bridge_tasks.split()] if args.bridge_tasks else tasks
    if args.bridges.split() and bridge_tasks:
        out += ["", "### Bridge: the source model on raw target images and on their translations", ""]
        rows = [("raw target images (replicated to 3 channels)",
                 [cell([accuracy(r / "metrics" / "source-only.json") for r in runs[t]]) for t in bridge_tasks])]
        rows += [(BRIDGE_LABELS.get(b, b), [cell([accuracy(r / "scores" / f"bridge-{b}.json") for r in runs[t]])
                                           for t in bridge_tasks]) for b in args.bridges.split()]
        out += table("source model reads", rows, bridge_tasks)
        out += ["", "Held-out TI pairs, last epoch (`bridge.jsonl`; no TR labels): PSNR of the translation against "
                "the real RGB (dB; the identity baseline, the target image replicated, in the first row), and "
                "agreement (%) between the source model's predictions on the translation and on the real RGB.", ""]
        rows = [("identity (target replicated)", [cell([(last_epoch(r, "unet") or {})
                                                        .get("identity_val_psnr") for r in runs[t]]) + " dB"
                                                  for t in bridge_tasks])]
        for b in args.bridges.split():
            cells = []
            for t in bridge_tasks:
                logs = [last_epoch(r, b) for r in runs[t]]
                psnr = cell([log["val_psnr"] if log else None for log in logs])
                agree = cell([100 * log["val_source_agreement"] if log else None for log in logs])
                cells.append(f"{psnr} dB / {agree}%")
            rows.append((BRIDGE_LABELS.get(b, b), cells))
        out += table("translator", rows, bridge_tasks)
    print("\n".join(out))


if __name__ == "__main__":
    main()

"""The scripts of examples/ that turn runs into the tables of docs/results.md."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import EXAMPLES
from xmt.engine.checkpoint import read_metadata



def write_metrics(path: Path, accuracy: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"accuracy": accuracy}))


def test_results_table_gives_mean_and_sample_std_over_seeds_and_flags_missing_runs(tmp_path):
    values = {"0": 0.20, "1": 0.30, "2": 0.40}
    for seed, acc in values.items():
        write_metrics(tmp_path / "depth-kv1" / f"seed{seed}" / "metrics" / "socket.json", acc)
    write_metrics(tmp_path / "depth-kv1" / "seed0" / "metrics" / "tgkt.json", 0.5)
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "depth-kv1",
                          "--seeds", "0 1 2", "--methods", "socket tgkt"], capture_output=True, text=True, check=True)
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| method")}
    std = statistics.stdev([20.0, 30.0, 40.0])
    assert rows["SOCKET"] == f"30.0 ± {std:.1f}"
    assert rows["TGKT (the paper's method, `unet` bridge)"] == "50.0 (1/3 seeds)"


def test_results_table_sets_the_guard_estimate_beside_the_teachers_true_accuracy(tmp_path):
    for seed, (true, estimate, other, weight) in {"0": (0.5, 0.45, 0.3, 1.0), "1": (0.3, 0.35, 0.4, 0.0)}.items():
        scores = tmp_path / "nir" / f"seed{seed}" / "scores"
        write_metrics(scores / "teacher-unet.json", true)
        (scores / "guard-tgkt-guard.json").write_text(json.dumps(
            {"guard_weight": weight, "guard_teacher_accuracy": estimate, "guard_other_accuracies": [0.1, other]}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "0 1", "--methods", "tgkt-guard", "--teachers", "unet", "--guarded", "tgkt-guard"],
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out[out.index("### The teacher"):]
            .splitlines() if line.startswith("| ")}
    assert rows["true accuracy of the `unet` teacher on TR (%)"] == f"40.0 ± {statistics.stdev([50.0, 30.0]):.1f}"
    assert rows["tgkt-guard: estimated teacher accuracy (%)"] == f"40.0 ± {statistics.stdev([45.0, 35.0]):.1f}"
    assert rows["tgkt-guard: estimated accuracy of the best other predictor (%)"].startswith("35.0 ± ")
    assert rows["tgkt-guard: weight on L_KL"] == f"0.50 ± {statistics.stdev([1.0, 0.0]):.2f}"
    assert not any("held-out" in name for name in rows)  # decisions made before held-out estimates: no such row


def test_results_table_shows_both_estimates_of_the_teacher(tmp_path):
    scores = tmp_path / "nir" / "seed0" / "scores"
    write_metrics(scores / "teacher-unet.json", 0.12)
    (scores / "guard-tgkt-guard.json").write_text(json.dumps(
        {"guard_weight": 0.0, "guard_teacher_accuracy": 0.11, "guard_other_accuracies": [0.5, 0.4],
         "guard_teacher_accuracy_agreement": 0.42, "guard_teacher_accuracy_holdout": 0.11}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "0", "--methods", "tgkt-guard", "--teachers", "unet", "--guarded", "tgkt-guard"],
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out[out.index("### The teacher"):]
            .splitlines() if line.startswith("| ")}
    assert rows["tgkt-guard: estimated teacher accuracy from agreement (%)"] == "42.0"
    assert rows["tgkt-guard: estimated teacher accuracy from the held-out TI pairs (%)"] == "11.0"


def test_results_table_lists_the_guard_run_by_run(tmp_path):
    # seeds 0 and 4: weak teachers switched off; seed 1: a good one let through; seed 2: no guarded run (no row)
    runs = {"0": (0.20, 0.11, 0.30, 0.0, 0.30, 0.50, 0.50), "1": (0.80, 0.70, 0.85, 1.0, 0.60, 0.65, 0.50),
            "4": (0.40, 0.10, 0.60, 0.0, 0.40, 0.50, 0.50)}
    for seed, (teacher, holdout, agreement, weight, tgkt, guarded, socket) in runs.items():
        run = tmp_path / "nir" / f"seed{seed}"
        write_metrics(run / "scores" / "teacher-unet.json", teacher)
        (run / "scores" / "guard-tgkt-guard.json").write_text(json.dumps(
            {"guard_weight": weight, "guard_teacher_accuracy": holdout, "guard_other_accuracies": [0.5],
             "guard_teacher_accuracy_holdout": holdout, "guard_teacher_accuracy_agreement": agreement}))
        for method, value in (("tgkt", tgkt), ("tgkt-guard", guarded), ("socket", socket)):
            write_metrics(run / "metrics" / f"{method}.json", value)
    # what SOCKET's model reads of the TR images, where the guard's predictors were scored (seed 0 only)
    (tmp_path / "nir" / "seed0" / "scores" / "agreements-tgkt-guard.json").write_text(json.dumps({"predictors": [
        {"predictor": p, "true_accuracy": t, "estimated_accuracy": e, "kappa_with_teacher": 0.1}
        for p, t, e in (("nir/seed0/bridge-unet/translated.h5", 0.20, 0.11),
                        ("nir/seed0/models/shot.safetensors", 0.45, 0.6),
                        ("nir/seed0/models/socket.safetensors", 0.55, 0.7))]}))
    write_metrics(tmp_path / "nir" / "seed2" / "metrics" / "socket.json", 0.5)
    # seed 3: a guard that predates the held-out estimate recorded the agreement one alone
    (tmp_path / "nir" / "seed3" / "scores").mkdir(parents=True)
    (tmp_path / "nir" / "seed3" / "scores" / "guard-tgkt-guard.json").write_text(json.dumps(
        {"guard_weight": 0.0, "guard_teacher_accuracy": 0.12, "guard_other_accuracies": [0.5]}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "0 1 2 3 4", "--methods", "socket tgkt tgkt-guard", "--teachers", "unet",
                          "--guarded", "tgkt-guard", "--versus", "socket"], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split("|")[1:-1] for line in out[out.index("Run by run"):].splitlines() if line.startswith("| nir")]
    assert [[c.strip() for c in row] for row in rows] == [
        ["nir", "0", "20.0", "55.0", "11.0", "30.0", "0.00", "-20.0", "+0.0"],
        ["nir", "1", "80.0", "–", "70.0", "85.0", "1.00", "+10.0", "+15.0"],
        ["nir", "3", "–", "–", "–", "12.0", "0.00", "–", "–"],
        ["nir", "4", "40.0", "–", "10.0", "60.0", "0.00", "-10.0", "+0.0"]]
    # over the three runs with both estimates and the truth (seed 3 has no truth): held-out 0.55, 0.875 and 0.25 of
    # it, all below; agreement 1.5, 1.0625 and 1.5 of it, none below
    holdout_r = np.corrcoef([0.11, 0.70, 0.10], [0.20, 0.80, 0.40])[0, 1]
    agreement_r = np.corrcoef([0.30, 0.85, 0.60], [0.20, 0.80, 0.40])[0, 1]
    assert (f"the held-out TI estimate is {(0.55 + 0.875 + 0.25) / 3:.2f} of the truth on average, below it on 3 runs "
            f"of 3, r = {holdout_r:+.2f}; the agreement estimate is {(1.5 + 1.0625 + 1.5) / 3:.2f} of the truth on "
            f"average, below it on 0 runs of 3, r = {agreement_r:+.2f}.") in out


def test_results_table_shows_what_the_guard_saw_scored(tmp_path):
    predictors = [("bridge-unet/translated.h5", 0.10, 0.12, 1.0), ("models/socket.safetensors", 0.60, 0.95, 0.02),
                  ("models/shot.safetensors", 0.40, 0.50, 0.04), ("bridge-light/translated.h5", 0.11, 0.13, 0.3)]
    scores = tmp_path / "nir" / "seed0" / "scores"
    scores.mkdir(parents=True)
    (scores / "guard-tgkt-guard.json").write_text(json.dumps(
        {"guard_weight": 0.0, "guard_teacher_accuracy": 0.12, "guard_other_accuracies": [0.95, 0.5, 0.13]}))
    (scores / "agreements-tgkt-guard.json").write_text(json.dumps({"predictors": [
        {"predictor": p, "true_accuracy": t, "estimated_accuracy": e, "kappa_with_teacher": k}
        for p, t, e, k in predictors]}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "0", "--methods", "tgkt-guard", "--guarded", "tgkt-guard"],
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in out.splitlines() if line.startswith("| ")}
    # SOCKET's model is the one estimated best; the light bridge's kappa is left out (it is not a target model)
    assert rows["tgkt-guard: true accuracy on TR of the predictor estimated best (%)"] == "60.0"
    assert rows["tgkt-guard: the teacher's agreement beyond chance with the target models (Cohen's kappa, mean)"] \
        == "0.030"


@pytest.mark.slow
def test_score_translations_scores_the_stored_probabilities(tiny_bridge, tiny_source, tmp_path):
    import h5py

    out = tmp_path / "scores.json"
    subprocess.run([sys.executable, str(EXAMPLES / "score_translations.py"), str(tiny_bridge / "translated.h5"),
                    "--out", str(out)], check=True)
    with h5py.File(tiny_bridge / "translated.h5") as f:
        expected = float((f["probs"][:].argmax(1) == f["labels"][:]).mean())
    assert json.loads(out.read_text())["accuracy"] == expected
    assert np.isfinite(json.loads(out.read_text())["mean_entropy"])
    # the guard's held-out estimate of this teacher, from the figures bridge recorded in the pack
    estimate = json.loads(out.read_text())["holdout_estimate"]
    source_accuracy = read_metadata(tiny_source)["val_accuracy"]
    assert estimate["source_accuracy"] == source_accuracy
    assert estimate["estimate"] == pytest.approx(0.1 + max(0.0, estimate["source_kappa"]) * (source_accuracy - 0.1))


def test_results_table_pairs_differences_seed_by_seed(tmp_path):
    for seed, (socket, tgkt) in {"0": (0.2, 0.3), "1": (0.4, 0.6)}.items():
        write_metrics(tmp_path / "nir" / f"seed{seed}" / "metrics" / "socket.json", socket)
        write_metrics(tmp_path / "nir" / f"seed{seed}" / "metrics" / "tgkt.json", tgkt)
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "0 1", "--methods", "socket tgkt", "--versus", "socket"],
                         capture_output=True, text=True, check=True).stdout
    paired = out[out.index("Paired"):]
    half = 12.706 * statistics.stdev([10.0, 20.0]) / 2 ** 0.5  # t_{0.975, 1} * sd / sqrt(n)
    assert f"| TGKT (the paper's method, `unet` bridge) | +15.0 [{15 - half:+.1f}, {15 + half:+.1f}] |" in paired


def test_criteria_table_ranks_criteria_by_how_they_track_test_accuracy(tmp_path):
    # two runs: val_rec falls as accuracy rises (a good criterion); val_kl rises with it (a misleading one)
    for bridge, accuracies in {"a": [0.2, 0.4, 0.5, 0.3], "b": [0.1, 0.3, 0.6, 0.7]}.items():
        epochs = [{"epoch": i + 1, "test_accuracy": acc, "val_rec": 1 - acc, "val_kl": acc}
                  for i, acc in enumerate(accuracies)]
        path = tmp_path / "nir" / "seed100" / "scores" / f"epochs-{bridge}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"epochs": epochs}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "criteria_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "100", "--bridges", "a b"], capture_output=True, text=True, check=True).stdout
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:6]] for line in out.splitlines()
            if line.startswith("| ")}
    assert rows["`val_rec`"][0] == "1.00" and rows["`val_rec`"][2] == "60.0"  # picks 0.5 and 0.7
    assert rows["`val_kl`"][0] == "-1.00" and rows["`val_kl`"][2] == "15.0"  # picks 0.2 and 0.1
    assert rows["last epoch"][2] == "50.0"
    # paired against the last epoch (0.3, 0.7): val_rec gains +20 and 0 points; t(1 df) = 12.706, sd = sqrt(200)
    half = 12.706 * statistics.stdev([20.0, 0.0]) / 2 ** 0.5
    assert rows["`val_rec`"][3] == f"+10.0 [{10 - half:+.1f}, {10 + half:+.1f}]"


def test_t_quantiles_fall_back_to_the_largest_tabulated_df_below():
    sys.path.insert(0, str(EXAMPLES))
    try:
        from results_table import t_975
    finally:
        sys.path.remove(str(EXAMPLES))
    assert t_975(4) == 2.776 and t_975(30) == 2.042 and t_975(35) == 2.042 and t_975(1000) == 1.980


def test_plot_results_draws_a_png_from_the_metrics(tmp_path):
    for seed, (socket, oracle) in {"0": (0.2, 0.8), "1": (0.4, 0.9)}.items():
        write_metrics(tmp_path / "nir" / f"seed{seed}" / "metrics" / "socket.json", socket)
        write_metrics(tmp_path / "nir" / f"seed{seed}" / "metrics" / "oracle.json", oracle)
    write_metrics(tmp_path / "nir" / "seed1" / "metrics" / "tgkt.json", 0.5)
    from PIL import Image

    for versus in ([], ["--versus", "socket"]):
        out = tmp_path / "img" / f"results{len(versus)}.png"
        subprocess.run([sys.executable, str(EXAMPLES / "plot_results.py"), str(tmp_path), "--tasks", "nir",
                        "--seeds", "0 1", "--methods", "socket tgkt", *versus, "--out", str(out)], check=True,
                       cwd=EXAMPLES)
        with Image.open(out) as image:
            assert image.format == "PNG" and image.width > 300
    assert Image.open(tmp_path / "img" / "results2.png").height > Image.open(tmp_path / "img" / "results0.png").height


def test_plot_results_pairs_differences_over_the_seeds_where_both_ran(tmp_path):
    runs = {"0": {"socket": 0.5, "tgkt": 0.25}, "1": {"socket": 0.5}, "2": {"socket": 0.25, "tgkt": 0.5}}
    for seed, accuracies in runs.items():
        for method, value in accuracies.items():
            write_metrics(tmp_path / "nir" / f"seed{seed}" / "metrics" / f"{method}.json", value)
    sys.path.insert(0, str(EXAMPLES))
    try:
        from plot_results import paired_differences
    finally:
        sys.path.remove(str(EXAMPLES))
    assert paired_differences(tmp_path, "nir", ["0", "1", "2", "3"], "tgkt", "socket") == [-25.0, 25.0]


def test_shaded_depth_lights_a_plane_facing_the_camera_evenly_and_turns_with_the_surface():
    sys.path.insert(0, str(EXAMPLES))
    try:
        from shaded_depth import LIGHT, shade
    finally:
        sys.path.remove(str(EXAMPLES))

    flat = np.full((16, 16), 2000, np.uint16)
    facing = shade(flat)
    expected = (0.15 + 0.8 * LIGHT[2]) * min(1.2 - 2000 / 8000, 1.0)  # normal (0, 0, 1)
    assert (facing == int(expected * 255)).all()
    tilted = shade((2000 + 40 * np.arange(16)[None, :].repeat(16, 0)).astype(np.uint16))  # farther to the right
    assert tilted[4:12, 4:12].std() < 3 and tilted[8, 8] != facing[8, 8]
    holes = flat.copy()
    holes[0, 0] = 0
    assert shade(holes)[0, 0] == int(0.1 * 255)


def test_paste_table_replaces_only_the_marked_part_and_moves_headings_down(tmp_path):
    page = tmp_path / "results.md"
    page.write_text("# Results\n\n<!-- report -->\nold numbers\n<!-- /report -->\n\n## After\n")
    table = tmp_path / "table.md"
    table.write_text("Made by make.\n\n### Methods\n\n| m | a |\n|---|---:|\n| SOCKET | 45.7 |\n")
    subprocess.run([sys.executable, str(EXAMPLES / "paste_table.py"), str(page), "report", str(table)], check=True,
                   capture_output=True)
    assert page.read_text() == ("# Results\n\n<!-- report -->\nMade by make.\n\n#### Methods\n\n| m | a |\n|---|---:|\n"
                                "| SOCKET | 45.7 |\n<!-- /report -->\n\n## After\n")


def test_paste_table_refuses_a_page_without_the_markers_and_leaves_it_as_it_was(tmp_path):
    page = tmp_path / "results.md"
    page.write_text("# Results\n<!-- /report -->\n<!-- report -->\n")
    table = tmp_path / "table.md"
    table.write_text("| m | a |\n")
    out = subprocess.run([sys.executable, str(EXAMPLES / "paste_table.py"), str(page), "report", str(table)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert str(page) in out.stderr and "Traceback" not in out.stderr
    assert page.read_text() == "# Results\n<!-- /report -->\n<!-- report -->\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.md", "table.md"]


def test_the_grouping_table_renames_classes_one_to_one(tmp_path):
    """Predictions that are a permutation of the truth score 0% accuracy and 100% grouping; a model that puts
    everything in one class groups one class in three right."""
    runs = tmp_path / "depth-kv1" / "seed0" / "metrics"
    runs.mkdir(parents=True)
    (runs / "shot.json").write_text(json.dumps({"accuracy": 0.0, "confusion_matrix": [[0, 5, 0], [0, 0, 5], [5, 0, 0]]}))
    (runs / "socket.json").write_text(json.dumps({"accuracy": 1 / 3, "confusion_matrix": [[5, 0, 0], [5, 0, 0],
                                                                                           [5, 0, 0]]}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "depth-kv1",
                          "--seeds", "0", "--methods", "shot socket", "--grouping"], capture_output=True, text=True,
                         check=True).stdout
    grouping = out.split("### Grouping")[1]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in grouping.splitlines()
            if line.startswith("| ") and "method" not in line}
    assert rows == {"SHOT": "100.0", "SOCKET": "33.3"}


def test_the_ti_study_table_pairs_tgkt_with_socket_seed_by_seed(tmp_path):
    for seed, (socket, tgkt, teacher) in {"100": (0.40, 0.50, 0.30), "101": (0.50, 0.54, 0.20)}.items():
        run = tmp_path / "nir" / f"seed{seed}" / "ti60"
        write_metrics(run / "metrics" / "socket.json", socket)
        write_metrics(run / "metrics" / "tgkt.json", tgkt)
        write_metrics(run / "scores" / "teacher-unet.json", teacher)
        scored = json.loads((run / "scores" / "teacher-unet.json").read_text())
        (run / "scores" / "teacher-unet.json").write_text(json.dumps({**scored, "holdout_estimate": {
            "estimate": teacher / 2}}))
        (run / "scores" / "rounds-unet.json").write_text(json.dumps(
            {"epochs": [{"epoch": 1, "step": 100, "val_psnr": 15.0, "test_accuracy": 0.1},
                        {"epoch": 2, "step": 200, "val_psnr": 17.0, "val_source_agreement": 0.25,
                         "test_accuracy": 0.2 + float(seed) - 100}]}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "ti_study_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "100 101", "--counts", "60", "--bridges", "unet"], capture_output=True, text=True,
                         check=True).stdout
    row = next(line for line in out.splitlines() if line.startswith("| `unet` | 480 |") and "dB" not in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == f"25.0 ± {statistics.stdev([30.0, 20.0]):.1f}"  # the teacher
    assert cells[3] == f"12.5 ± {statistics.stdev([15.0, 10.0]):.1f}"  # the guard's estimate of it
    assert cells[5] == "17.0 ± 0.0"  # the last round's held-out PSNR
    assert cells[6] == "25.0 ± 0.0"  # and agreement
    assert cells[9].startswith("+7.0 [")  # TGKT - SOCKET: +10 and +4 points
    assert "The teacher guard (" not in out  # no guarded run: no guard table
    steps = next(line for line in out.splitlines() if line.startswith("| `unet` | 480 |") and line != row)
    assert [c.strip() for c in steps.split("|")[3:5]] == ["10.0 ± 0.0", f"70.0 ± {statistics.stdev([20.0, 120.0]):.1f}"]


def test_the_ti_study_figure_averages_the_seeds_scored_at_each_count_and_says_how_many(tmp_path):
    for seed, count, teacher in (("100", 30, 0.30), ("100", 60, 0.40), ("101", 60, 0.50)):
        write_metrics(tmp_path / "nir" / f"seed{seed}" / f"ti{count}" / "scores" / "teacher-unet.json", teacher)
    sys.path.insert(0, str(EXAMPLES))
    try:
        from ti_study_table import teacher_curve
    finally:
        sys.path.remove(str(EXAMPLES))

    def at(task, seed, count):
        return tmp_path / task / f"seed{seed}" / f"ti{count}"

    curve = teacher_curve("nir", "unet", [30, 60, 120], ["100", "101", "102"], at)
    assert curve == [(240, 30.0, 0.0, 1), (480, 45.0, pytest.approx(statistics.stdev([40.0, 50.0])), 2)]
    figure = tmp_path / "ti-study.png"
    subprocess.run([sys.executable, str(EXAMPLES / "ti_study_table.py"), str(tmp_path), "--tasks", "nir",
                    "--seeds", "100 101 102", "--counts", "30 60 120", "--bridges", "unet", "--figure", str(figure)],
                   check=True, capture_output=True)
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_the_ti_study_table_shows_the_guard_where_it_ran(tmp_path):
    for seed, (teacher, holdout, weight, guarded) in {"100": (0.6, 0.55, 1.0, 0.7), "101": (0.1, 0.1, 0.0, 0.5)}.items():
        run = tmp_path / "nir" / f"seed{seed}" / "ti60"
        write_metrics(run / "metrics" / "socket.json", 0.5)
        write_metrics(run / "metrics" / "tgkt-guard.json", guarded)
        write_metrics(run / "scores" / "teacher-unet.json", teacher)
        (run / "scores" / "guard-tgkt-guard.json").write_text(json.dumps(
            {"guard_weight": weight, "guard_teacher_accuracy": holdout, "guard_other_accuracies": [0.4, 0.3],
             "guard_teacher_accuracy_agreement": 0.7, "guard_teacher_accuracy_holdout": holdout}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "ti_study_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "100 101", "--counts", "60", "--bridges", "unet"], capture_output=True, text=True,
                         check=True).stdout
    guard = out[out.index("The teacher guard (nir"):]
    cells = [c.strip() for c in next(line for line in guard.splitlines() if line.startswith("| `unet` | 480 |"))
             .split("|")[1:-1]]
    assert cells[2] == f"35.0 ± {statistics.stdev([60.0, 10.0]):.1f}"  # the true accuracy
    assert cells[3] == f"32.5 ± {statistics.stdev([55.0, 10.0]):.1f}"  # the held-out estimate
    assert cells[4] == "70.0 ± 0.0" and cells[5] == "40.0 ± 0.0"
    assert cells[6] == f"0.50 ± {statistics.stdev([1.0, 0.0]):.2f}"
    assert cells[7] == "–"  # no unguarded TGKT ran
    assert cells[8].startswith("+10.0 [")  # guarded TGKT - SOCKET: +20 and 0 points
    assert "| `oracle` |" not in guard  # the constructed teacher did not run


@pytest.mark.slow
def test_teacher_fidelity_splits_the_ti_pairs_as_the_bridge_did(tiny_bridge, tiny_source, tiny_ti, tiny_synth, tmp_path):
    """Given the TI pairs' own folders as 'TR', the TR figures cover every pair: held-out and trained together."""
    out = tmp_path / "fidelity.json"
    subprocess.run([sys.executable, str(EXAMPLES / "teacher_fidelity.py"), str(tiny_bridge), "--source-model",
                    str(tiny_source), "--ti", str(tiny_ti), "--tr-rgb", str(tiny_synth / "ti" / "rgb"), "--tr-target",
                    str(tiny_synth / "ti" / "depth"), "--out", str(out)], capture_output=True, text=True, check=True)
    found = json.loads(out.read_text())
    held_out, trained, everything = found["ti_held_out"], found["ti_trained"], found["tr"]
    check = read_metadata(tiny_bridge / "translator.safetensors")["config"]["holdout_check"]
    assert held_out["count"] == check["pairs"] and held_out["count"] + trained["count"] == everything["count"]
    agreeing = held_out["agreement"] * held_out["count"] + trained["agreement"] * trained["count"]
    assert everything["agreement"] == pytest.approx(agreeing / everything["count"])
    assert all(-1 <= f["kappa"] <= 1 and 0 < f["median_confidence"] <= 1 for f in found.values() if isinstance(f, dict))


def test_the_confident_estimate_keeps_the_most_confidently_read_pairs_wherever_they_are():
    """Half the pairs read confidently and kept by the translation, half read unsure and flipped: the confident half
    gives kappa 1 (the source model's own accuracy); all pairs give kappa 1/3 (agreement 1/2, chance 1/4)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        from guard_confidence import confident_estimate
    finally:
        sys.path.remove(str(EXAMPLES))
    k, classes = 4, np.array([0, 1, 2, 3, 0, 1, 2, 3])
    confidence = np.array([0.9] * 4 + [0.4] * 4)
    real = np.full((8, k), 0.0)
    real[np.arange(8), classes] = confidence
    real += (1 - real.sum(1, keepdims=True)) / k
    fake = np.eye(k)[np.concatenate([classes[:4], (classes[4:] + 1) % k])]
    order = np.random.default_rng(0).permutation(8)
    real, fake = real[order], fake[order]
    assert confident_estimate(real, fake, 0.5, 0.9) == pytest.approx(0.9)
    assert confident_estimate(real, fake, 1.0, 0.9) == pytest.approx(0.25 + (0.9 - 0.25) / 3)


@pytest.mark.slow
def test_the_oracle_teacher_is_a_translated_pack_transfer_accepts(tiny_source, tiny_synth, tmp_path):
    """The source model on the RGB beside each target image, in the target images' order, for those images."""
    import torch

    from xmt.artifacts import load_model
    from xmt.data.batches import load_native
    from xmt.data.packs.translated import read_translated_pack
    from xmt.data.sets.readers import open_image_set
    from xmt.methods.inference import predict
    from xmt.stages.inputs import open_target_images
    from xmt.stages.translations import check_translations

    out = tmp_path / "oracle" / "translated.h5"
    rgb, depth = tiny_synth / "ti" / "rgb", tiny_synth / "ti" / "depth"
    subprocess.run([sys.executable, str(EXAMPLES / "oracle_teacher.py"), "--source-model", str(tiny_source), "--tr-rgb",
                    str(rgb), "--tr-target", str(depth), "--modality", "depth", "--out", str(out)],
                   capture_output=True, text=True, check=True)
    source = load_model(tiny_source)
    tr_set = open_target_images(depth, "depth", source.recipe.size)
    teacher = check_translations(out, source, tr_set)  # what transfer --translated does with it
    expected, _ = predict(source.model, source.recipe, load_native(open_image_set(rgb, "rgb"), source.recipe),
                          torch.device("cpu"))
    torch.testing.assert_close(teacher, expected)
    made_by = read_translated_pack(out).provenance["inputs"]["translator"]
    assert made_by["holdout_check"] == {"pairs": len(tr_set), "source_agreement": 1.0, "source_kappa": 1.0}


def test_the_ti_study_table_shows_the_ceiling_bridge_by_step(tmp_path):
    for seed, last in {"100": 0.5, "101": 0.3}.items():
        write_metrics(tmp_path / "nir" / f"seed{seed}" / "ti60" / "metrics" / "socket.json", 0.5)
        (tmp_path / "nir" / f"seed{seed}" / "scores").mkdir(parents=True)
        (tmp_path / "nir" / f"seed{seed}" / "scores" / "rounds-ceiling.json").write_text(json.dumps({"epochs": [
            {"step": 100, "test_accuracy": 0.1, "val_psnr": 16.0, "val_source_kappa": 0.0},
            {"step": 200, "test_accuracy": last, "val_psnr": 17.0, "val_source_kappa": 0.5}]}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "ti_study_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "100 101", "--counts", "60", "--bridges", "unet"], capture_output=True, text=True,
                         check=True).stdout
    table = out[out.index("The ceiling (nir)"):]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table.splitlines()[:7]
            if line.startswith("| ") and "100" not in line}
    assert rows["test translations (%)"] == ["10.0 ± 0.0", f"40.0 ± {statistics.stdev([50.0, 30.0]):.1f}"]
    assert rows["held-out kappa"] == ["0.00 ± 0.00", "0.50 ± 0.00"]


def test_the_ti_study_table_shows_the_fidelity_where_it_was_measured(tmp_path):
    for seed, tr_kappa in {"100": 0.3, "101": 0.5}.items():
        run = tmp_path / "nir" / f"seed{seed}" / "ti60"
        write_metrics(run / "metrics" / "socket.json", 0.5)
        figures = {"ti_held_out": {"kappa": 0.1, "median_confidence": 0.4},
                   "ti_trained": {"kappa": 0.2, "median_confidence": 0.4},
                   "tr": {"kappa": tr_kappa, "median_confidence": 0.8}}
        (run / "scores" / "fidelity-unet.json").parent.mkdir(parents=True, exist_ok=True)
        (run / "scores" / "fidelity-unet.json").write_text(json.dumps(figures))
    out = subprocess.run([sys.executable, str(EXAMPLES / "ti_study_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "100 101", "--counts", "60", "--bridges", "unet"], capture_output=True, text=True,
                         check=True).stdout
    table = out[out.index("How much of the source model's reading"):]
    cells = [c.strip() for c in next(line for line in table.splitlines() if line.startswith("| `unet` |")).split("|")[1:-1]]
    assert cells[2:5] == ["0.10 ± 0.00", "0.20 ± 0.00", f"0.40 ± {statistics.stdev([0.3, 0.5]):.2f}"]
    assert cells[5:8] == ["0.40 ± 0.00", "0.40 ± 0.00", "0.80 ± 0.00"]


def test_the_ti_study_table_shows_the_bridge_ablations_beside_the_study_bridges(tmp_path):
    for seed, (teacher, last, best) in {"100": (0.3, 0.2, 0.4), "101": (0.5, 0.1, 0.3)}.items():
        scores = tmp_path / "depth-kv1" / f"seed{seed}" / "ti60" / "scores"
        write_metrics(scores.parent / "metrics" / "source-rgb.json", 0.9)
        write_metrics(scores.parent / "metrics" / "source-shaded.json", 0.2)
        for bridge in ("unet", "unet-adv"):
            write_metrics(scores / f"teacher-{bridge}.json", teacher)
            write_metrics(scores / f"bridge-{bridge}.json", last)
            (scores / f"rounds-{bridge}.json").write_text(json.dumps({"epochs": [
                {"step": 100, "test_accuracy": best, "val_psnr": 15.0, "val_source_kappa": 0.1},
                {"step": 200, "test_accuracy": last, "val_psnr": 16.0, "val_source_kappa": 0.2}]}))
    args = [sys.executable, str(EXAMPLES / "ti_study_table.py"), str(tmp_path), "--tasks", "depth-kv1", "--seeds",
            "100 101", "--counts", "60", "--bridges", "unet unet-guided", "--cell", "60"]
    out = subprocess.run(args + ["--ablations", "unet-adv unet-kl"], capture_output=True, text=True,
                         check=True).stdout
    table = out[out.index("Every bridge option at 480 TI pairs (depth-kv1"):]
    assert "reads (%): the test scenes' RGB 90.0 ± 0.0; a grey shading of their true depth 20.0 ± 0.0." in table
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table.splitlines()
            if line.startswith("| `")}
    assert list(rows) == ["`unet`", "`unet-adv`"]  # unet-guided and unet-kl did not run
    assert rows["`unet-adv`"][0] == f"40.0 ± {statistics.stdev([30.0, 50.0]):.1f}"  # the teacher
    assert rows["`unet-adv`"][2:6] == [f"15.0 ± {statistics.stdev([20.0, 10.0]):.1f}",  # the last round's translator
                                       f"35.0 ± {statistics.stdev([40.0, 30.0]):.1f}",  # the best round's
                                       "16.0 ± 0.0", "0.20 ± 0.00"]
    without = subprocess.run(args + ["--ablations", ""], capture_output=True, text=True, check=True).stdout
    assert "Every bridge option" not in without  # the study's bridges alone: their own tables say it all


def test_degraded_rgb_scores_the_originals_as_evaluate_does(source_model, pattern_data, tmp_path):
    out = tmp_path / "degraded.json"
    subprocess.run([sys.executable, str(EXAMPLES / "degraded_rgb.py"), "--source-model", str(source_model), "--data",
                    str(pattern_data["test"]), "--out", str(out)], capture_output=True, text=True, check=True)
    rows = {r["degradation"]: r for r in json.loads(out.read_text())["rows"]}
    evaluated = subprocess.run([sys.executable, "-m", "xmt", "evaluate", str(source_model), "--data",
                                str(pattern_data["test"]), "--json", "--device", "cpu", "-q"], capture_output=True,
                               text=True, check=True)
    assert rows["original"]["accuracy"] == pytest.approx(json.loads(evaluated.stdout)["accuracy"])
    assert rows["original"]["psnr"] is None and rows["blur 4"]["psnr"] < rows["blur 0.5"]["psnr"]
    assert rows["image mean colour"]["accuracy"] <= rows["original"]["accuracy"]


def test_the_bridge_table_reads_held_out_figures_from_the_committed_scores_when_the_log_is_gone(tmp_path):
    run = tmp_path / "nir" / "seed0"
    write_metrics(run / "metrics" / "source-only.json", 0.1)
    last = {"epoch": 20, "val_psnr": 16.5, "val_source_agreement": 0.25, "identity_val_psnr": 11.0}
    (run / "scores").mkdir()
    (run / "scores" / "bridge-unet.json").write_text(json.dumps({"accuracy": 0.12, "bridge_last_epoch": last}))
    out = subprocess.run([sys.executable, str(EXAMPLES / "results_table.py"), str(tmp_path), "--tasks", "nir",
                          "--seeds", "0", "--methods", "source-only", "--bridges", "unet"], capture_output=True,
                         text=True, check=True).stdout
    assert "| identity (target replicated) | 11.0 dB |" in out
    assert "16.5 dB / 25.0%" in out


# The paper64 tables of docs/results.md are made from the per-run JSON committed beside them; a table edited by
# hand, or a script changed without its tables remade, shows here.
@pytest.mark.parametrize("target, folder_variable, folder, table, marker", [
    ("report-table", "RUNS", "results/paper64", "results.md", "paper64 report table"),
    ("ti-table", "TI_RUNS", "results/paper64/ti-study", "ti-study.md", "paper64 ti-study table"),
    ("budget-table", "BUDGET_RUNS", "results/paper64/ti-study-steps1500", "ti-study.md", "paper64 budget table"),
    ("budget-table", "BUDGET_RUNS", "results/paper64/ti-study-steps1500", "guard-confidence.md",
     "paper64 guard confidence table"),
])
def test_the_committed_paper64_tables_are_what_the_committed_runs_give(tmp_path, target, folder_variable, folder,
                                                                         table, marker):
    copy = tmp_path / "runs"
    shutil.copytree(EXAMPLES / folder, copy)
    subprocess.run(["make", "-s", "-C", str(EXAMPLES), target, "PRESET=paper64", f"{folder_variable}={copy}",
                    f"PYTHON={sys.executable}"], check=True, capture_output=True)
    committed = EXAMPLES / folder / table
    assert (copy / table).read_text() == committed.read_text()
    page = tmp_path / "results.md"
    shutil.copy(EXAMPLES.parent / "docs" / "results.md", page)
    subprocess.run([sys.executable, str(EXAMPLES / "paste_table.py"), str(page), marker, str(committed)], check=True,
                   capture_output=True)
    assert page.read_text() == (EXAMPLES.parent / "docs" / "results.md").read_text()


def test_makefile_resumes_a_training_stage_only_from_the_state_its_interrupted_run_left(tmp_path):
    run = tmp_path / "depth-kv1" / "seed0"
    (run / "bench").mkdir(parents=True)
    for made in ("bench/manifest.json", "source.safetensors", "ti.h5"):
        (run / made).touch()
    targets = [str(run / "bridge-unet" / "translated.h5"), str(run / "models" / "socket.safetensors")]

    def commands() -> dict[str, str]:
        out = subprocess.run(["make", "-n", "-C", str(EXAMPLES), *targets, "PRESET=small", f"RUNS={tmp_path}",
                              "TASK=depth-kv1", "SEED=0"], check=True, capture_output=True, text=True).stdout
        out = out.replace("\\\n", " ")
        return {stage: next(line for line in out.splitlines() if line.startswith(f"xmt {stage} "))
                for stage in ("bridge", "transfer")}

    assert not any("--resume" in line for line in commands().values())  # nothing interrupted: start afresh
    (run / "bridge-unet.xmt-state").touch()  # the bridge was interrupted, the transfer never started
    lines = commands()
    assert "--resume" in lines["bridge"] and "--resume" not in lines["transfer"]
    (run / "models").mkdir()
    (run / "models" / "socket.safetensors.xmt-state").touch()
    assert "--resume" in commands()["transfer"]


def test_keep_time_gives_a_file_remade_bit_for_bit_the_time_it_was_first_made_and_records_one_that_differs(
        tmp_path):
    made, record = tmp_path / "source.safetensors", tmp_path / "source.safetensors.sha256"
    keep_time = [sys.executable, str(EXAMPLES / "keep_time.py"), str(made)]
    made.write_bytes(b"weights")
    os.utime(made, ns=(10**18, 10**18))
    subprocess.run(keep_time, check=True, capture_output=True)  # the first time: recorded, with its time
    assert record.read_text() == f"{hashlib.sha256(b'weights').hexdigest()} {10**18} source.safetensors\n"
    made.write_bytes(b"weights")  # remade, the same bytes: it takes the recorded time, whatever the record's own
    subprocess.run(keep_time, check=True, capture_output=True)
    assert made.stat().st_mtime_ns == 10**18
    made.write_bytes(b"other weights")  # remade differently: recorded anew, its own time kept
    subprocess.run(keep_time, check=True, capture_output=True)
    assert made.stat().st_mtime_ns != 10**18
    digest, when, name = record.read_text().split()
    assert digest == hashlib.sha256(b"other weights").hexdigest() and int(when) == made.stat().st_mtime_ns


def test_every_synthetic_input_a_study_makes_is_recorded_by_keep_time(tmp_path):
    """The benchmarks, source models (variants included) and packs of every study are remade bit for bit in a
    later session; a rule that forgot keep_time.py would make that study's committed results stale."""
    targets = ["ti-depth-kv1-seed0-ti30", "ceiling-depth-kv1-seed0", "read-depth-kv1-seed0"]
    out = subprocess.run(["make", "-n", "-C", str(EXAMPLES), *targets, "PRESET=small", f"TI_RUNS={tmp_path}",
                          "DEV_SEEDS=0", "XMT=xmt", "PYTHON=python"], check=True, capture_output=True,
                         text=True).stdout.replace("\\\n", " ").splitlines()
    makers = [line for line in out if re.match(r"xmt (synth|train-source|prepare-ti) ", line)]
    assert len(makers) >= 9  # bench, TI bench, source, TI pack, TR pairs, 5 variants, the big benchmark
    recorded = [line.split()[2] for line in out if line.startswith("python keep_time.py ")]
    for line in makers:
        words = line.split()
        made = words[words.index("--out") + 1] if "--out" in words else words[2] + "/manifest.json"
        assert made in recorded, line


@pytest.mark.slow
def test_a_source_model_remade_bit_for_bit_leaves_the_results_made_from_it_up_to_date(tmp_path):
    """A later session (or a fresh clone) has the committed results and the records beside them, not the
    benchmark and checkpoints: remaking the source model for a new result must not make the others stale."""
    seed = tmp_path / "depth-kv1" / "seed0"
    make = ["make", "-s", "-C", str(EXAMPLES), "PRESET=small", f"RUNS={tmp_path}", "TASK=depth-kv1", "SEED=0",
            f"XMT={sys.executable} -m xmt", f"PYTHON={sys.executable}"]
    committed, new = seed / "metrics" / "source-rgb.json", seed / "metrics" / "source-gray.json"
    subprocess.run([*make, str(committed)], check=True, capture_output=True)
    assert (seed / "bench.sha256").exists() and (seed / "source.safetensors.sha256").exists()
    up_to_date = [*make, "-q", str(committed)]
    assert subprocess.run(up_to_date).returncode == 0

    def remake_for_a_new_result() -> None:
        shutil.rmtree(seed / "bench")  # bench.sha256 and source.safetensors.sha256 stay (committed)
        (seed / "source.safetensors").unlink()
        new.unlink(missing_ok=True)
        subprocess.run([*make, str(new)], check=True, capture_output=True)
        assert (seed / "source.safetensors").exists() and new.exists()

    remake_for_a_new_result()
    assert subprocess.run(up_to_date).returncode == 0
    # a source model that differs from its record is recorded anew, and what came from the old one is stale
    (seed / "source.safetensors.sha256").write_text(f"{'0' * 64}  source.safetensors\n")
    remake_for_a_new_result()
    assert subprocess.run(up_to_date).returncode == 1

"""torchrun: two CPU processes (gloo) train one model, write it once, and learn as one process does.

Real launches of `python -m torch.distributed.run --standalone --nproc_per_node=N -m xmt ...`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from helpers import run_cli

PY = sys.executable
# Two processes see shards of 8 images where one process sees batches of 16: BatchNorm's batch statistics and
# SHOT-style batch terms differ, so the two runs are not equal, only alike. On 80 images one image is 1.25
# points; 0.15 leaves room for a dozen images, and a run that did not train (or trained on one shard only) is
# far outside it: the oracle reaches ~0.6-0.7 on its 10 classes in both runs, chance being 0.1.
TOLERANCE = 0.15

pytestmark = pytest.mark.slow


def torchrun(n: int, args: list) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([PY, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", "-m", "xmt",
                           *map(str, args)], capture_output=True, text=True, timeout=600, env=env)


def oracle_args(tiny_synth, tiny_source, out):
    return ["transfer", "--method", "oracle", "--source-model", tiny_source, "--target-data",
            tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out", out, "--epochs", "8",
            "--batch-size", "16", "--lr", "0.03", "--device", "cpu", "-q"]


def accuracy(model, data, capsys) -> float:
    code, out, err = run_cli(["evaluate", model, "--data", data, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)["accuracy"]


def test_two_processes_write_one_model_that_learns_as_one_process_does(tiny_synth, tiny_source, tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    single = torchrun(1, oracle_args(tiny_synth, tiny_source, one / "oracle.safetensors"))
    assert single.returncode == 0, single.stderr
    double = torchrun(2, oracle_args(tiny_synth, tiny_source, two / "oracle.safetensors"))
    assert double.returncode == 0, double.stderr
    assert double.stdout.strip() == str(two / "oracle.safetensors")  # printed once, by rank 0
    assert sorted(p.name for p in two.iterdir()) == ["oracle.jsonl", "oracle.safetensors"]
    log = [json.loads(line) for line in (two / "oracle.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == list(range(1, 9))  # one log, not one per process

    data = tiny_synth / "target" / "adapt" / "depth"
    acc_one, acc_two = accuracy(one / "oracle.safetensors", data, capsys), accuracy(two / "oracle.safetensors", data,
                                                                                      capsys)
    assert acc_one > 0.4  # well above chance (0.1): a setting where training shows
    assert abs(acc_two - acc_one) <= TOLERANCE, (acc_one, acc_two)


def test_one_process_under_torchrun_is_bit_identical_to_a_plain_run(pattern_data, tmp_path, capsys):
    args = ["train-source", pattern_data["train"], "--backbone", "smallcnn", "--epochs", "2", "--size", "32",
            "--device", "cpu", "-q"]
    plain = subprocess.run([PY, "-m", "xmt", *map(str, args), "--out", str(tmp_path / "plain.safetensors")],
                           capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert plain.returncode == 0, plain.stderr  # torchrun runs its processes with one thread each; so does this
    launched = torchrun(1, args + ["--out", tmp_path / "launched.safetensors"])
    assert launched.returncode == 0, launched.stderr
    a, b = load_file(str(tmp_path / "plain.safetensors")), load_file(str(tmp_path / "launched.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def test_two_processes_train_the_bridge_and_the_source_model(tiny_synth, tiny_source, tiny_ti, pattern_data,
                                                            tmp_path, capsys):
    bridge = torchrun(2, ["bridge", "--source-model", tiny_source, "--ti", tiny_ti, "--target-data",
                          tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--out", tmp_path / "bridge",
                          "--translator", "unet", "--translator-arg", "base_channels=8", "--epochs", "2",
                          "--batch-size", "16", "--device", "cpu", "-q"])
    assert bridge.returncode == 0, bridge.stderr
    assert sorted(p.name for p in (tmp_path / "bridge").iterdir()) == ["bridge.jsonl", "preview.png", "translated.h5",
                                                                      "translator.safetensors"]
    source = torchrun(2, ["train-source", pattern_data["train"], "--out", tmp_path / "src.safetensors", "--backbone",
                          "smallcnn", "--epochs", "4", "--size", "32", "--device", "cpu", "-q"])
    assert source.returncode == 0, source.stderr
    assert accuracy(tmp_path / "src.safetensors", pattern_data["test"], capsys) > 0.8

"""Every command is cli/<cmd>.py over stages/<cmd>.py: the CLI never reaches into data/ or models/, and the
stages of evaluate and predict check a pack's size against the model as transfer and bridge do."""

from __future__ import annotations

import ast
from pathlib import Path

from bad_inputs.harness import assert_refused, run_in_process

import xmt.cli
from helpers import run_cli

CPU = ["--device", "cpu", "-q"]


def _imported(module: Path) -> list[str]:
    """Every module name `module` imports, at its top or inside functions."""
    names = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_cli_module_imports_data_or_models():
    offending = [f"{module.name}: {name}" for module in sorted(Path(xmt.cli.__file__).parent.glob("*.py"))
                 for name in _imported(module) if name.split(".")[:2] in (["xmt", "data"], ["xmt", "models"])]
    assert not offending, offending


def test_evaluate_and_predict_refuse_a_pack_of_another_size(source_model, pattern_data, tmp_path, capsys):
    pack = tmp_path / "data" / "test16.h5"
    packed = run_in_process(["pack", pattern_data["test"], "--modality", "rgb", "--size", "16", "--out", pack, "-q"],
                            capsys, tmp_path)
    assert packed.code == 0, packed.err
    work = tmp_path / "work"
    work.mkdir()
    refused = ("test16.h5", "pack stores 16x16 images but the model reads 32x32", "re-pack with --size 32")
    for args in (["evaluate", source_model, "--data", pack, "--out", work / "metrics.json"],
                 ["predict", source_model, pack, "--out", work / "p.csv"]):
        assert_refused(run_in_process([*args, *CPU], capsys, tmp_path), 2, *refused)
    assert list(work.iterdir()) == []


def test_a_folder_of_another_size_is_still_resized(source_model, pattern_data, tmp_path, capsys):
    # the pattern images are 48x40 and the model reads 32x32
    outcome = run_in_process(["evaluate", source_model, "--data", pattern_data["test"], "--json", *CPU],
                             capsys, tmp_path)
    assert outcome.code == 0 and '"count": 45' in outcome.out, outcome.err
    outcome = run_in_process(["predict", source_model, pattern_data["test"], *CPU], capsys, tmp_path)
    assert outcome.code == 0 and len(outcome.out.splitlines()) == 46, outcome.err


def test_evaluate_prints_per_class_tables_only_when_asked(source_model, pattern_data, capsys):
    args = ["evaluate", source_model, "--data", pattern_data["test"], "--device", "cpu"]
    code, _, err = run_cli(args, capsys)
    assert code == 0 and "mean per-class" in err and "top-1 accuracy" not in err, err  # one line a model
    code, _, err = run_cli([*args, "--per-class"], capsys)
    assert code == 0 and "top-1 accuracy" in err and "hstripes" in err, err  # a row for each class
    code, out, err = run_cli([*args, "-q", "--json"], capsys)
    assert code == 0 and err == "" and "per_class_accuracy" in out

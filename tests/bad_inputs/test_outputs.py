"""Nothing lost: --force replaces only xmt's own outputs, outputs never overlap inputs, one run per
output, crash-safe commits, read-only and full disks, signals (issue 9, items 1-4)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import assert_refused, run_in_process, snapshot
from xmt.engine.output_kinds import JSONL_LOG, pack_of
from xmt.engine.outputs import LOCK_TAG, Output, claim_outputs

PY = sys.executable


def images(folder: Path, count: int = 4, size: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(count):
        (folder / ("a" if i % 2 else "b")).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(folder / ("a" if i % 2 else "b")
                                                                             / f"{i}.png")
    return folder


def pack_args(data: Path, out: Path, *extra) -> list:
    return ["pack", data, "--modality", "rgb", "--size", "8", "--out", out, "--workers", "0", "-q", *extra]


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images(tmp_path / "data")
    return tmp_path


# ---- 1. --force replaces only what xmt wrote ----------------------------------------------------------------

def test_force_refuses_a_user_file_and_keeps_it(work, capsys):
    (work / "notes.h5").write_text("my notes")
    outcome = run_in_process(pack_args(work / "data", work / "notes.h5", "--force"), capsys, work)
    assert_refused(outcome, 2, "notes.h5", "not an output of this kind that xmt wrote")
    assert (work / "notes.h5").read_text() == "my notes"


def test_force_refuses_a_checkpoint_where_a_pack_goes(work, capsys, source_model):
    shutil.copy(source_model, work / "model.h5")
    outcome = run_in_process(pack_args(work / "data", work / "model.h5", "--force"), capsys, work)
    assert_refused(outcome, 2, "model.h5", "not an output of this kind")


def test_force_replaces_xmt_own_pack(work, capsys):
    assert run_in_process(pack_args(work / "data", work / "p.h5"), capsys, work).code == 0
    outcome = run_in_process(pack_args(work / "data", work / "p.h5"), capsys, work)
    assert_refused(outcome, 2, "already exists; pass --force")
    inode = (work / "p.h5").stat().st_ino
    outcome = run_in_process(pack_args(work / "data", work / "p.h5", "--force"), capsys, work)
    assert outcome.code == 0 and not outcome.diff["added"] and not outcome.diff["removed"]
    assert (work / "p.h5").stat().st_ino != inode  # a new file renamed into place (the pack is deterministic)


def test_synth_force_refuses_a_folder_holding_other_files(work, capsys):
    (work / "bench").mkdir()
    (work / "bench" / "thesis.tex").write_text("years of work")
    outcome = run_in_process(["synth", work / "bench", "--force", "--size", "16", "--source-per-class", "1",
                              "--ti-per-class", "1", "--adapt-per-class", "1", "--test-per-class", "1", "-q"],
                             capsys, work)
    assert_refused(outcome, 2, "bench", "a folder holding other files")


def test_synth_force_replaces_its_own_benchmark(work, capsys):
    args = ["synth", work / "bench", "--size", "16", "--source-per-class", "1", "--ti-per-class", "1",
            "--adapt-per-class", "1", "--test-per-class", "1", "--workers", "1", "-q"]
    assert run_in_process(args, capsys, work).code == 0
    outcome = run_in_process([*args, "--seed", "5", "--force"], capsys, work)
    assert outcome.code == 0, outcome.err
    assert not [p for p in os.listdir(work) if p.startswith(".")]  # no lock, temporary or old copy left


# ---- 2. an output is never an input, inside one, or around one -------------------------------------------------

def test_predict_cannot_write_over_its_model(work, capsys, source_model):
    shutil.copy(source_model, work / "m.safetensors")
    outcome = run_in_process(["predict", work / "m.safetensors", work / "data", "--out", work / "m.safetensors",
                              "--force", "-q"], capsys, work)
    assert_refused(outcome, 2, "m.safetensors", "is the input")


def test_transfer_cannot_replace_its_source_model(work, capsys, source_model):
    shutil.copy(source_model, work / "src.safetensors")
    outcome = run_in_process(["transfer", "--source-model", work / "src.safetensors", "--target-data", work / "data",
                              "--method", "source-only", "--target", "nir", "--out", work / "src.safetensors",
                              "--force", "-q"], capsys, work)
    assert_refused(outcome, 2, "is the input")


def test_output_folder_containing_the_inputs_is_refused(work, capsys, source_model):
    (work / "sb").mkdir()
    shutil.copy(source_model, work / "sb" / "source.safetensors")
    outcome = run_in_process(["bridge", "--source-model", work / "sb" / "source.safetensors", "--ti", work / "sb/ti.h5",
                              "--target-data", work / "data", "--out", work / "sb", "--force", "-q"], capsys, work)
    assert_refused(outcome, 2, "contains the input")


def test_output_inside_an_input_folder_is_refused(work, capsys):
    outcome = run_in_process(pack_args(work / "data", work / "data" / "a" / "p.h5"), capsys, work)
    assert_refused(outcome, 2, "is inside the input")


def test_prepare_ti_cannot_replace_its_benchmark(work, capsys):
    (work / "bench").mkdir()
    outcome = run_in_process(["prepare-ti", "--format", "synth", "--root", work / "bench", "--out", work / "bench",
                              "--force", "-q"], capsys, work)
    assert_refused(outcome, 2, "is the input")


@pytest.mark.parametrize("where, fragment", [(".", "current folder"), ("data", "is an existing folder"),
                                             ("file.txt/p.h5", "is not a folder")])
def test_impossible_output_places(work, capsys, where, fragment):
    (work / "file.txt").write_text("x")
    data = images(work.with_name(work.name + "-in"))  # apart from the output, which is checked on its own
    outcome = run_in_process(pack_args(data, work / where), capsys, work)
    assert_refused(outcome, 2, fragment)


def test_refused_run_leaves_no_new_parent_folders(work, capsys):
    outcome = run_in_process(pack_args(work / "missing", work / "new" / "deeper" / "p.h5"), capsys, work)
    assert_refused(outcome, 2, "missing")
    assert not (work / "new").exists()


# ---- 3. one run per output ----------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from xmt.engine.output_kinds import pack_of
    from xmt.engine.outputs import Output, claim_outputs
    with claim_outputs([Output(sys.argv[1], pack_of("images"))], command="xmt pack (the first run)") as claim:
        print("holding", flush=True)
        time.sleep(60)
""")


def test_a_second_run_on_the_same_output_is_refused(work, capsys):
    holder = subprocess.Popen([PY, "-c", HOLDER, str(work / "p.h5")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        outcome = run_in_process(pack_args(work / "data", work / "p.h5"), capsys, work / "data")
        assert_refused(outcome, 2, "p.h5", "is being written by another xmt run", f"pid {holder.pid}",
                       "the first run")
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing anything: its lock is free at once
    outcome = run_in_process(pack_args(work / "data", work / "p.h5"), capsys, work)
    assert outcome.code == 0, outcome.err
    assert sorted(os.listdir(work)) == ["data", "p.h5"]


# ---- 4. crashes: outputs appear together, temporaries of dead runs are swept ---------------------------------

CRASH = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import xmt.engine.outputs as outputs
    from xmt.engine.output_kinds import JSONL_LOG, pack_of
    point, folder = sys.argv[1], Path(sys.argv[2])
    real_replace = outputs._replace
    def dying_replace(tmp, target):
        real_replace(tmp, target)
        os._exit(9)  # killed between the two renames of one commit
    if point == "mid-commit":
        outputs._replace = dying_replace
    claimed = [outputs.Output(folder / "m.h5", pack_of("images")),
               outputs.Output(folder / "m.jsonl", JSONL_LOG)]
    with outputs.claim_outputs(claimed) as claim:
        claim.temporary(folder / "m.jsonl").write_text('{"epoch": 1}\\n')
        claim.temporary(folder / "m.h5").write_bytes(b"half a pack")
        if point == "mid-write":
            os._exit(9)
        claim.temporary(folder / "m.h5").write_bytes(b"whole pack")
""")


def test_kill_mid_write_leaves_only_temporaries_that_the_next_run_sweeps(tmp_path):
    assert subprocess.run([PY, "-c", CRASH, "mid-write", str(tmp_path)]).returncode == 9
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "m.jsonl").exists()
    assert any(".xmt-tmp-" in p for p in os.listdir(tmp_path))
    with claim_outputs([Output(tmp_path / "m.h5", pack_of("images")), Output(tmp_path / "m.jsonl", JSONL_LOG)]) as c:
        c.temporary(tmp_path / "m.h5").write_bytes(b"new")
        c.temporary(tmp_path / "m.jsonl").write_text("{}\n")
    assert sorted(os.listdir(tmp_path)) == ["m.h5", "m.jsonl"]


def test_kill_mid_commit_is_finished_by_the_next_run(tmp_path):
    assert subprocess.run([PY, "-c", CRASH, "mid-commit", str(tmp_path)]).returncode == 9
    assert (tmp_path / "m.jsonl").exists() and not (tmp_path / "m.h5").exists()  # the orphan log of a dead run
    with pytest.raises(Exception, match="already exists"):
        with claim_outputs([Output(tmp_path / "m.h5", pack_of("images"))]):
            pass
    # the journal was rolled forward: both outputs of the dead run are there, complete, and nothing else
    assert sorted(os.listdir(tmp_path)) == ["m.h5", "m.jsonl"]
    assert (tmp_path / "m.h5").read_bytes() == b"whole pack"


def test_a_failure_inside_the_claim_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with claim_outputs([Output(tmp_path / "o" / "m.h5", pack_of("images"))]) as claim:
            claim.temporary(tmp_path / "o" / "m.h5").write_bytes(b"half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_lock_file_is_gone_after_a_run(work, capsys):
    assert run_in_process(pack_args(work / "data", work / "p.h5"), capsys, work).code == 0
    assert not (work / f".p.h5{LOCK_TAG}").exists()


# ---- read-only folders and full disks, in a private mount namespace ---------------------------------------------

def _namespace_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_namespace = pytest.mark.skipif(not _namespace_works(), reason="unshare -rm (a private mount namespace) "
                                     "is not allowed on this machine")


def _in_namespace(mount: str, args: list, cwd: Path) -> subprocess.CompletedProcess:
    xmt = " ".join(f"'{a}'" for a in [PY, "-m", "xmt", *map(str, args)])
    return subprocess.run(["unshare", "-rm", "sh", "-c", f"{mount} && {xmt}"], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@needs_namespace
def test_read_only_output_folder_fails_before_any_work(work):
    (work / "ro").mkdir()
    before = snapshot(work)
    proc = _in_namespace(f"mount --bind {work}/ro {work}/ro && mount -o remount,bind,ro {work}/ro",
                         pack_args(work / "data", work / "ro" / "p.h5"), work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot write in" in proc.stderr and "Read-only file system" in proc.stderr
    assert snapshot(work) == before


@needs_namespace
def test_too_little_free_space_is_refused_before_any_work(work):
    (work / "tiny").mkdir()
    proc = _in_namespace(f"mount -t tmpfs -o size=1m tmpfs {work}/tiny", pack_args(work / "data", work / "tiny/p.h5"),
                         work)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr  # a failure of the place, as a full disk
    assert "MiB free" in proc.stderr and not any((work / "tiny").iterdir())


@needs_namespace
def test_disk_full_during_the_write_is_one_line_and_leaves_nothing(work):
    rng = np.random.default_rng(0)
    big = work / "big" / "x"
    big.mkdir(parents=True)
    for i in range(700):  # about 8.6 MB of incompressible pixels: more than the 9 MiB disk has left
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(big / f"{i}.png", compress_level=0)
    (work / "full").mkdir()
    script = f"mount -t tmpfs -o size=9m tmpfs {work}/full && head -c 1000000 /dev/zero > {work}/full/ballast"
    proc = _in_namespace(script + " && " + " ".join(f"'{a}'" for a in [PY, "-m", "xmt", *map(str, [
        "pack", work / "big", "--modality", "rgb", "--size", "64", "--compression", "none", "--workers", "0",
        "--out", work / "full" / "p.h5", "-q"])]) + f"; rc=$?; ls -A {work}/full; exit $rc", [], work)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "no space left" in proc.stderr, proc.stderr
    assert proc.stdout.split() == ["ballast"]  # no pack, no temporary, no lock


@needs_namespace
def test_a_disk_too_full_for_the_lock_leaves_no_lock(work):
    (work / "full").mkdir()
    script = (f"mount -t tmpfs -o size=1m tmpfs {work}/full && (head -c 2000000 /dev/zero > {work}/full/ballast "
              "2>/dev/null; true)")
    proc = _in_namespace(script + " && " + " ".join(f"'{a}'" for a in [PY, "-m", "xmt", *map(str, pack_args(
        work / "data", work / "full" / "p.h5"))]) + f"; rc=$?; ls -A {work}/full; exit $rc", [], work)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "no space left" in proc.stderr and proc.stdout.split() == ["ballast"]  # no lock, no temporary

"""A stage's outputs: claimed for the whole run, written under temporary names, committed together.

    with claim_outputs([Output(out, checkpoint_of("target-model")), Output(log, JSONL_LOG)],
                       inputs=[source_model, data], force=force) as outputs:
        ...                                   # the long work
        write(outputs.temporary(out)); write(outputs.temporary(log))
    # here both exist, or (on any error, Ctrl-C, SIGTERM) neither changed

- Before any work: an output may not be, lie inside or contain an input, nor be the current folder;
  its folder must be writable with some space free; an existing output is refused unless --force,
  and --force replaces only what xmt itself wrote there (recognised by content: `output_kinds`),
  never a user's file or a folder that holds anything else.
- For the whole run each output is locked (`.NAME.xmt-lock` beside it, flock): a second run writing
  it is refused with the holder's pid and command. A dead run's lock is free again at once.
- Commit: every temporary is fsynced, a journal (`.NAME.xmt-commit`) lists the renames, then they
  happen (side files first, the main artifact last) and the journal goes. A run killed mid-commit
  is finished by the next run that claims one of its outputs; temporaries of dead runs are swept.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from xmt.engine.distributed import is_main
from xmt.engine.output_kinds import OutputKind
from xmt.errors import RunFailure, UserError

TMP_TAG, LOCK_TAG, COMMIT_TAG, OLD_TAG = ".xmt-tmp-", ".xmt-lock", ".xmt-commit", ".xmt-old-"
MIN_FREE_BYTES = 8 << 20  # refuse to start with less free space than this beside an output


# ---- one output, and the files beside it -------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    path: Path
    kind: OutputKind

    def __init__(self, path: str | Path, kind: OutputKind):
        object.__setattr__(self, "path", Path(os.path.abspath(path)))
        object.__setattr__(self, "kind", kind)

    def beside(self, tag: str) -> Path:
        return self.path.parent / f".{self.path.name}{tag}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _usual_mode(path: Path) -> None:
    """Give files the mode a new file gets here: some writers (safetensors) create theirs 0600."""
    for file in [path] if path.is_file() else path.rglob("*"):
        if file.is_file() and not file.is_symlink():
            os.chmod(file, 0o666 & ~_UMASK)


def _fsync(path: Path) -> None:
    """Data and folder entries on disk before a rename makes them visible."""
    paths = [path] + (sorted(path.rglob("*"), reverse=True) if path.is_dir() else [])
    for p in paths:
        if p.is_symlink():
            continue
        fd = os.open(p, os.O_RDONLY | (os.O_DIRECTORY if p.is_dir() else 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_folder(folder: Path) -> None:
    """The folder's entries (a rename) on disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(tmp: Path, target: Path) -> None:
    """Rename tmp onto target; a folder target (which os.replace cannot overwrite) is moved aside first."""
    if target.is_dir() and not target.is_symlink():
        old = target.parent / f".{target.name}{OLD_TAG}{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
        os.replace(tmp, target)
        _remove(old)
    else:
        os.replace(tmp, target)


# ---- checks made before any work -------------------------------------------------------------------------

def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _relation(output: Path, input_path: Path) -> str | None:
    """How an output collides with an input: 'is', 'is inside' or 'contains'; None when apart."""
    out, inp = _real(output), _real(input_path)
    if out == inp or (out.exists() and inp.exists() and os.path.samefile(out, inp)):
        return "is"
    if inp.is_dir() and out.is_relative_to(inp):
        return "is inside"
    if inp.is_relative_to(out):
        return "contains"
    return None


def check_utf8_name(path: str | Path) -> None:
    """A file name that is not valid UTF-8 is refused before any work: xmt records paths as UTF-8 text
    (provenance, packs, predictions, logs), so it could neither record nor print it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(str(path)).decode("utf-8", "backslashreplace")
        raise UserError("its name is not valid UTF-8 (xmt records file names as UTF-8 text); rename it",
                        path=shown) from None


def check_apart(outputs: Iterable[Output], inputs: Iterable[str | Path | None]) -> None:
    """Refuse an output that is, lies inside or contains an input (with or without --force)."""
    inputs = [Path(p) for p in inputs if p is not None]
    for output in outputs:
        for input_path in inputs:
            relation = _relation(output.path, input_path)
            if relation is not None:
                raise UserError(f"this output {relation} the input {input_path}; write it elsewhere "
                                "(xmt never writes over or into its inputs)", path=output.path)


def _check_place(output: Output, force: bool) -> None:
    path = output.path
    cwd = _real(Path.cwd())
    if cwd.is_relative_to(_real(path)):
        raise UserError("is the current folder or one above it; name a new file or folder to write", path=path)
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise UserError(f"cannot write here: {parent} is not a folder", path=path)
            break
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_symlink():
        raise UserError("is a symbolic link; xmt does not write through links, remove it or name another path",
                        path=path)
    if not output.kind.folder and path.is_dir():
        raise UserError(f"is an existing folder; --out names the {output.kind.name} file to write", path=path)
    if not force:
        raise UserError("already exists; pass --force to overwrite it", path=path)
    if not output.kind.owns(path):
        what = "a folder holding other files" if path.is_dir() else "a file"
        raise UserError(f"is {what}, not an output of this kind that xmt wrote ({output.kind.name}); --force "
                        "replaces only xmt's own outputs, so remove it yourself or name another path", path=path)


def _check_space(folder: Path, output: Path, need: int) -> None:
    """A nearly full disk is a failure of the run's place, not of its input: exit 1, as a full disk later is."""
    free = shutil.disk_usage(folder).free
    if free < need:
        raise RunFailure(f"only {free / 2**20:.1f} MiB free in {folder}; xmt needs at least "
                        f"{need / 2**20:.0f} MiB to write here", path=output)


# ---- the lock held for the whole run ------------------------------------------------------------------------

class _Lock:
    """An flock'ed file beside an output: released by the kernel if the process dies."""

    def __init__(self, output: Output, command: str):
        self.path, self.output, self.command, self.fd = output.beside(LOCK_TAG), output, command, None

    def acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise UserError(f"cannot write in {self.path.parent} ({exc.strerror})", path=self.output.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise UserError(f"is being written by another xmt run ({holder}); wait for it to finish, "
                                "or choose another output", path=self.output.path)
            # the file may have been removed and re-created by a run that just finished: retry then
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd  # held from here, so release() removes it whatever happens next (a full disk)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still held, so no other run is locking this inode
            os.close(self.fd)
            self.fd = None


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']} since {info['since']}: {info['command']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"


# ---- crash recovery: journals of interrupted commits, and stale temporaries -----------------------------

def _finish_interrupted_commits(output: Output) -> None:
    """Roll forward a commit that a killed run had begun for this output: its temporaries were complete."""
    folder = output.path.parent
    for journal in folder.glob(f".*{COMMIT_TAG}"):
        try:
            renames = [(Path(tmp), Path(target)) for tmp, target in json.loads(journal.read_text())["renames"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if all(target != output.path for _, target in renames):
            continue
        for tmp, target in renames:
            if tmp.exists():
                if target.exists() or target.is_symlink():
                    _remove(tmp)  # something is there since the crash: it may be a user's, so it stays
                else:
                    os.replace(tmp, target)
            _remove_stale_lock(target.parent / f".{target.name}{LOCK_TAG}")
        journal.unlink(missing_ok=True)
        fsync_folder(folder)


def _remove_stale_lock(path: Path) -> None:
    """The lock file a dead run left beside an output (one a live run holds stays)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sweep_temporaries(output: Output) -> None:
    """Temporaries of this output left by dead runs (we hold its lock, so no live run owns any)."""
    prefix = f".{output.path.name}"
    for entry in output.path.parent.iterdir():
        name = entry.name
        if any(name.startswith(prefix + tag) for tag in (TMP_TAG, OLD_TAG, COMMIT_TAG + TMP_TAG)):
            _remove(entry)


# ---- the claim ---------------------------------------------------------------------------------------------

class ClaimedOutputs:
    """The outputs of one stage run, between the checks before the work and the commit after it."""

    def __init__(self, outputs: list[Output], force: bool, command: str):
        self.outputs, self.force, self.command = outputs, force, command
        self.run_id = uuid.uuid4().hex[:8]
        self._locks: list[_Lock] = []
        self._created: list[Path] = []  # parent folders this run made, removed again if it fails

    def temporary(self, path: str | Path) -> Path:
        """Where to write the output `path` during the run (same suffix, so format-sniffing writers work)."""
        output = self._output(path)
        return output.beside(f"{TMP_TAG}{self.run_id}{output.path.suffix}")

    def _output(self, path: str | Path) -> Output:
        wanted = Path(os.path.abspath(path))
        for output in self.outputs:
            if output.path == wanted:
                return output
        raise KeyError(f"{path} is not an output claimed by this run")

    def _open(self) -> None:
        for output in self.outputs:
            _check_place(output, self.force)
        for output in self.outputs:
            self._make_parents(output.path.parent)
            lock = _Lock(output, self.command)
            self._locks.append(lock)
            lock.acquire()
            _check_space(output.path.parent, output.path, MIN_FREE_BYTES)
        for output in self.outputs:
            _finish_interrupted_commits(output)
            _sweep_temporaries(output)
        for output in self.outputs:  # a finished commit may have made one exist since the first check
            _check_place(output, self.force)

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except OSError as exc:
                raise UserError(f"cannot create the folder {path} ({exc.strerror})", path=path)
            self._created.append(path)

    def _commit(self) -> None:
        if not self.outputs:
            return
        written = []
        for output in self.outputs:
            _check_place(output, self.force)  # what is there now (a user may have put something there meanwhile)
            tmp = self.temporary(output.path)
            if tmp.exists():
                _usual_mode(tmp)
                _fsync(tmp)
                written.append((tmp, output.path))
            else:
                raise RuntimeError(f"internal error: nothing was written for {output.path}")
        journal = self.outputs[0].beside(COMMIT_TAG)
        journal_tmp = self._journal_temporary()
        journal_tmp.write_text(json.dumps({"renames": [[str(t), str(p)] for t, p in written]}))
        _fsync(journal_tmp)
        os.replace(journal_tmp, journal)
        for tmp, target in reversed(written):  # side files first: the main artifact appears last
            _replace(tmp, target)
        for folder in {target.parent for _, target in written}:
            fsync_folder(folder)
        journal.unlink()
        _COMMITTED.extend(target for _, target in written)

    def _journal_temporary(self) -> Path:
        return self.outputs[0].beside(f"{COMMIT_TAG}{TMP_TAG}{self.run_id}")

    def _abandon(self) -> None:
        for output in self.outputs:
            _remove(self.temporary(output.path))
        if self.outputs:
            _remove(self._journal_temporary())

    def _close(self) -> None:
        for lock in reversed(self._locks):
            lock.release()
        self._locks.clear()

    def _remove_created_folders(self) -> None:
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                pass


def _is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, also as HDF5 reports it (an OSError whose errno is unset but whose text says so)."""
    while exc is not None:
        if isinstance(exc, OSError) and (exc.errno in (errno.ENOSPC, errno.EDQUOT) or
                                         "No space left" in str(exc) or "Disk quota" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def command_line() -> str:
    return " ".join(["xmt", *sys.argv[1:]])[:300]


class DiscardedOutputs(ClaimedOutputs):
    """A helper process's outputs under torchrun: rank 0 writes the run's; the others write to a private
    folder that goes when the run ends, so that stage code need not know which process it runs in."""

    def __init__(self, outputs: list[Output], force: bool):
        super().__init__(outputs, force, command="")
        self.folder = Path(tempfile.mkdtemp(prefix="xmt-rank-"))

    def temporary(self, path: str | Path) -> Path:
        output = self._output(path)
        return self.folder / f"{len(self.outputs)}-{self.outputs.index(output)}{output.path.suffix}"


@contextmanager
def _discarded(outputs: list[Output], force: bool) -> Iterator[ClaimedOutputs]:
    for output in outputs:  # the same refusals as rank 0's, which does the claiming
        _check_place(output, force)
    claim = DiscardedOutputs(outputs, force)
    try:
        yield claim
    finally:
        shutil.rmtree(claim.folder, ignore_errors=True)


_COMMITTED: list[Path] = []  # the outputs this command has committed, for the message of a late interruption


def committed_outputs() -> list[Path]:
    """The outputs committed since the command began (`forget_committed`): whole on disk."""
    return list(_COMMITTED)


def forget_committed() -> None:
    _COMMITTED.clear()


@contextmanager
def claim_outputs(outputs: Iterable[Output | None], *, inputs: Iterable[str | Path | None] = (),
                  force: bool = False, command: str | None = None) -> Iterator[ClaimedOutputs]:
    """Check, lock and (on success) commit a stage's outputs; see the module's docstring."""
    outputs = [o for o in outputs if o is not None]
    inputs = [p for p in inputs if p is not None]
    for path in [o.path for o in outputs] + inputs:
        check_utf8_name(path)
    for i, output in enumerate(outputs):
        twin = next((o for o in outputs[:i] if o.path == output.path), None)
        if twin is not None:
            raise UserError(f"would be both this stage's {twin.kind.name} and its {output.kind.name}; name the "
                            "output otherwise", path=output.path)
    check_apart(outputs, inputs)
    if not is_main():
        with _discarded(outputs, force) as claim:
            yield claim
        return
    claim = ClaimedOutputs(outputs, force, command or command_line())
    try:
        claim._open()
        yield claim
        claim._commit()
    except BaseException as exc:
        claim._abandon()
        claim._close()  # the locks go before the folders this run made, so those are empty again
        claim._remove_created_folders()
        if _is_disk_full(exc):
            where = outputs[0].path if outputs else "an output"
            failure = RunFailure(f"no space left on the device while writing {where}; nothing was kept")
            failure.leave_at_once = True  # HDF5 would crash flushing its failed file again at exit
            raise failure from exc
        raise
    claim._close()


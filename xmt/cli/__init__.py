"""The `xmt` command: a thin layer that parses options, calls the library and prints results.

Exit codes: 0 success, 1 failure during the run, 2 bad usage or bad input.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading

import typer

from xmt import __version__
from xmt.engine.console import err_console
from xmt.errors import XmtError

app = typer.Typer(
    name="xmt",
    help="Source-free cross-modal knowledge transfer: adapt an RGB classifier to depth, near-infrared or "
    "thermal images using unlabelled target images and paired task-irrelevant data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xmt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    pass


@functools.cache
def _ready() -> typer.Typer:
    """The app with its subcommands, and the fork hook of decoding workers: set up once, on first use (importing
    xmt.cli does nothing else)."""
    from xmt.cli import (bridge, evaluate, import_source, inspect, pack, predict, prepare_ti, synth, train_source,
                         transfer, translate)

    # in pipeline order, as `xmt --help` lists them
    app.command("synth")(synth.command)
    app.command("import-source")(import_source.command)
    app.command("train-source")(train_source.command)
    app.command("prepare-ti")(prepare_ti.command)
    app.command("pack")(pack.command)
    app.command("bridge")(bridge.command)
    app.command("translate")(translate.command)
    app.command("transfer")(transfer.command)
    app.command("evaluate")(evaluate.command)
    app.command("predict")(predict.command)
    app.command("inspect")(inspect.command)
    os.register_at_fork(after_in_child=_worker_signals)
    return app


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that every claim of outputs is abandoned cleanly."""


class Interrupted(BaseException):
    """Ctrl-C. Not KeyboardInterrupt: typer turns that into a silent exit code before main() sees it."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def _on_sigint(signum, frame) -> None:
    raise Interrupted()


def _worker_signals() -> None:
    """In a forked decoding or rendering worker: SIGTERM ends it quietly (a pool's terminate() sends it), and
    Ctrl-C, which reaches the whole process group, is the parent's to handle."""
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is _on_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _leave_process_group() -> None:
    if "torch.distributed" in sys.modules:  # only a command that trained can have joined one
        from xmt.engine.distributed import shutdown

        shutdown()


def _install_signal_handlers() -> dict:
    """Our handlers for the run; returns the previous ones (a caller such as a test runner gets them back).
    SIGINT keeps being ignored where the caller ignores it (a background job)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_sigterm)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_sigint)
    return previous


NOTHING_KEPT = "nothing was written (a stage's outputs appear only when it completes)"


def _what_was_kept() -> str:
    from xmt.engine.outputs import committed_outputs
    from xmt.engine.run_state import kept_state

    written = committed_outputs()
    if written:  # it came after the outputs were committed: they are whole
        return f"it came after the outputs were written, whole: {', '.join(map(str, written))}"
    state = kept_state()
    if state is None:
        return NOTHING_KEPT
    return (f"no output was written; the run's state after epoch {state.epoch} of {state.epochs} is kept in "
            f"{state.path}: the same command with --resume goes on from there")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs a subcommand and maps errors to exit codes and one-line messages."""
    return _main(argv, exiting=False)[0]


def _main(argv: list[str] | None, exiting: bool) -> tuple[int, bool]:
    """main()'s work: the exit code, and whether library state (HDF5 after a full disk) must not be torn down at
    exit. `exiting`: the process ends with the command (`xmt` itself), so that once done it ignores SIGTERM and
    Ctrl-C: its outputs are whole or absent, and a signal in the second its interpreter takes to exit would only
    turn its exit code into 143 or 130."""
    from xmt.engine.outputs import forget_committed

    forget_committed()  # a caller may run several commands in one process
    previous_handlers = _install_signal_handlers()
    leave_at_once = False
    try:
        result = _ready()(args=argv, prog_name="xmt", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except typer.TyperException as exc:  # bad usage: unknown option, missing argument...
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ != "NoArgsIsHelpError":  # `xmt` alone: typer has printed the help
            command = f"xmt {context.info_name}" if context is not None and context.info_name != "xmt" else "xmt"
            err_console.print(f"{command}: error: {exc.format_message()}", markup=False, highlight=False)
        code = exc.exit_code
    except (Interrupted, typer.Abort, KeyboardInterrupt):
        err_console.print(f"xmt: interrupted; {_what_was_kept()}", markup=False, soft_wrap=True)
        code = 130
    except XmtError as exc:
        err_console.print(f"xmt: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        code = exc.exit_code
        leave_at_once = getattr(exc, "leave_at_once", False)
    except Terminated:
        err_console.print(f"xmt: terminated; {_what_was_kept()}", markup=False, soft_wrap=True)
        code = 143
    finally:
        for signum, handler in previous_handlers.items():  # `xmt` itself, once done, ignores them while it exits
            signal.signal(signum, signal.SIG_IGN if exiting else handler)
        _leave_process_group()
    sys.stdout.flush()
    return code, leave_at_once


def run() -> None:
    """The `xmt` command."""
    code, leave_at_once = _main(None, exiting=True)
    if leave_at_once:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)

"""The ``convo`` command: JSONL transcripts at scale (validate, transform, convert, stats, view,
diff, fixtures, run, serve, batch).

Layer: the top. This package is the only part of convo that prints, parses arguments or reads the
environment. Each command is one module (:mod:`~convo.cli.validate`, :mod:`~convo.cli.transform`,
:mod:`~convo.cli.convert`, :mod:`~convo.cli.stats`, :mod:`~convo.cli.view`, :mod:`~convo.cli.diff`,
:mod:`~convo.cli.fixtures`,
:mod:`~convo.cli.run`, :mod:`~convo.cli.batch`, :mod:`~convo.cli.serve`) with its parser
(``add_parser(sub)``) and its body (``command(args)``), which turns the arguments into plain
values for the layers below; this module builds the top parser and dispatches.
``main(argv) -> int`` never raises for a user's mistake: it prints the reason and returns 2 (bad
usage), 1 (violations, or lines lost to a damaged input), 0 otherwise, 130 when interrupted.
SIGTERM and SIGHUP stop a command the way Ctrl-C does (temporary files removed, workers stopped,
a resumable run's state kept) and return 128 + the signal's number; a second one ends the process
at once.

Every command reads several files and directories (their ``*.jsonl`` and ``*.jsonl.gz``), ``-`` for
stdin, gzip by magic bytes; writes ``-`` as stdout and ``.gz`` compressed; shows a progress bar on
stderr only when stderr is a terminal; and ends with a summary on stderr (lines in = out +
rejected, time, MB/s). No line is ever lost: one that cannot be used goes to the rejects file with
its file, line number, reason, ``$.path`` and original bytes.

>>> import os, tempfile
>>> out = os.path.join(tempfile.mkdtemp(), "convs.jsonl")
>>> main(["fixtures", "--count", "3", "--seed", "1", "-q", "-o", out])
0
>>> main(["validate", out, "-q"])
0
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from convo.cli._parser import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Formatter,
    Parser,
    UsageError,
)

__all__ = ["COMMANDS", "Terminated", "build_parser", "entry", "main"]

COMMANDS: dict[str, str] = {
    "validate": "check every line against the API's rules for its model",
    "transform": "apply transforms to every conversation",
    "convert": "convert between transcript formats",
    "fixtures": "generate reproducible conversations for test suites",
    "stats": "count lines, turns, models, tools, tokens, stop reasons; usage and cost",
    "view": "a self-contained HTML page (or a terminal view) of conversations",
    "diff": "what changed between two runs (exchange records) or two request files",
    "run": "send every request line to the API; write exchange records",
    "serve": "run the local Messages API emulator",
    "batch": "the Message Batches API: submit, status, results, cancel (resumable)",
}
"""Each command's one-line help, in the order ``convo --help`` lists them: the module
``convo.cli.NAME`` (its ``add_parser(sub)`` and ``command(args)``) is imported only when that
command runs or its parser is looked at, so ``convo --version`` or ``convo transform --help`` load
one command, not ten (``tests/test_cli_startup.py`` checks that each module passes this help)."""


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The subparsers of ``convo``: each listed by :data:`COMMANDS` at once (``convo --help``,
    the "invalid choice" error), its parser built by its module on first use (``choices[name]``,
    which argparse reads to run it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _LazyParsers(self)
        for name, help_ in COMMANDS.items():
            self._choices_actions.append(self._ChoicesPseudoAction(name, (), help_))
            dict.__setitem__(self._name_parser_map, name, None)

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if dict.get(self._name_parser_map, name, 0) is not None:  # not one of COMMANDS: as argparse does
            made: argparse.ArgumentParser = super().add_parser(name, **kwargs)
            return made
        # one of COMMANDS, its module building it: listed already, by the same help
        if kwargs.pop("help", None) != COMMANDS[name]:
            raise RuntimeError(f"convo.cli.{name} and convo.cli.COMMANDS give the command different help")
        kwargs.setdefault("prog", f"{self._prog_prefix} {name}")
        parser: argparse.ArgumentParser = self._parser_class(**kwargs)
        dict.__setitem__(self._name_parser_map, name, parser)
        return parser


class _LazyParsers(dict):  # type: ignore[type-arg]
    """Command name -> its parser, built by ``convo.cli.NAME.add_parser`` when first read."""

    def __init__(self, action: _Commands) -> None:
        super().__init__()
        self._action = action

    def __getitem__(self, name: str) -> argparse.ArgumentParser:
        parser = super().__getitem__(name)
        if parser is None:
            importlib.import_module(f"convo.cli.{name}").add_parser(self._action)
            parser = super().__getitem__(name)
        return parser  # type: ignore[no-any-return]

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def values(self) -> Any:
        return [self[k] for k in self]

    def items(self) -> Any:
        return [(k, self[k]) for k in self]


def build_parser(*, lazy: bool = True) -> argparse.ArgumentParser:
    """The argument parser of the ``convo`` command; each command's module is imported when its
    parser is first used (``lazy=False``: all at once, as argparse is used plainly).

    >>> args = build_parser().parse_args(["transform", "in.jsonl", "-t", "drop_images()", "-o", "out.jsonl"])
    >>> args.specs, args.output, args.workers
    (['drop_images()'], 'out.jsonl', 1)
    """
    parser = Parser(
        prog="convo",
        description="Claude Messages API conversations as data: JSONL transcripts at scale.",
        formatter_class=Formatter,
        epilog="Run `convo COMMAND --help` for a command's options and examples.",
    )
    parser.add_argument("--version", action=_VersionAction)
    if lazy:
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, action=_Commands)
        return parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"convo.cli.{name}").add_parser(sub)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked (importlib.metadata is slow
    to import, and every run would pay for it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit", **kw)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(f"convo {_version()}")
        parser.exit()


def _version() -> str:
    """convo's installed version, from its ``*.dist-info/METADATA`` on ``sys.path`` (what
    ``importlib.metadata.version`` reads; importing that costs ~20 ms, a fifth of the command's
    start, so it is the fallback only).

    >>> _version() != ""
    True
    """
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                found = [e.path for e in it if e.name.startswith("convo-") and e.name.endswith(".dist-info")]
        except OSError:
            continue
        for path in found:
            try:
                with open(os.path.join(path, "METADATA"), encoding="utf-8") as f:
                    for line in f:
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():
                            break
            except OSError:
                continue
    try:
        from importlib.metadata import version

        return version("convo")
    except Exception:  # not installed (running from a checkout)
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``convo`` command with *argv* (default ``sys.argv[1:]``); return the exit status.

    >>> main(["fixtures", "--count", "1", "--seed", "1", "--invalid", "no.such-rule", "-q"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(f"{e}\n(run `convo --help` or `convo COMMAND --help`)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help and --version
        return int(e.code) if isinstance(e.code, int) else EXIT_OK
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with warnings.catch_warnings(), _signals_stop():
            _quiet_warnings()
            status: int = args.func(args)
        return status
    except _usage_errors() as e:
        print(f"convo {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:
        how = f"stopped by {e.name}" if isinstance(e, Terminated) else "interrupted"
        note = getattr(args, "interrupted", "no output was written")
        print(f"\nconvo {args.command}: {how}; {note}", file=sys.stderr)
        return 128 + e.signum if isinstance(e, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of stdout went away (`| head`): stop quietly, as Unix tools do
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAIL
    except OSError as e:  # a file that cannot be opened or written (no such directory, disk full)
        print(f"convo {args.command}: error: {e}; no output was written", file=sys.stderr)
        return EXIT_FAIL


def _usage_errors() -> tuple[type[Exception], ...]:
    """What ``main`` reports as bad usage (status 2): evaluated only when a command raised, so
    the modules that define them need not be imported up front (an error from a module not
    loaded cannot have been raised)."""
    errors: list[type[Exception]] = [UsageError]
    for module, name in (("convo.stream.sources", "InputError"), ("convo.codec.jsonl", "OutputPathError")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            errors.append(getattr(loaded, name))
    return tuple(errors)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the command is, so that it stops as Ctrl-C stops it.

    >>> e = Terminated(signal.SIGTERM); (e.name, e.signum == signal.SIGTERM)
    ('SIGTERM', True)
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.name = signal.Signals(signum).name
        super().__init__(self.name)


_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


@contextlib.contextmanager
def _signals_stop() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread.

    Only signals left at their default are taken (an ignored SIGHUP under ``nohup`` stays
    ignored; a caller's own handler stays). The first one raises; after it both are back to
    their default, so a second one ends the process at once (a clean stop that waits for
    requests in flight can be cut short). The handlers are put back when the command returns.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    taken = [s for s in _STOP_SIGNALS if signal.getsignal(s) is signal.SIG_DFL]

    def stop(signum: int, frame: object) -> None:
        for s in taken:
            signal.signal(s, signal.SIG_DFL)
        raise Terminated(signum)

    for s in taken:
        signal.signal(s, stop)
    try:
        yield
    finally:
        for s in taken:
            signal.signal(s, signal.SIG_DFL)


def _quiet_warnings() -> None:
    """An unknown model is reported once per line by the rules (``model.unknown``) where it
    matters; a Python warning per model id on stderr would only interleave with the output."""
    from convo.profiles import UnknownModelWarning

    warnings.simplefilter("ignore", UnknownModelWarning)


def entry() -> NoReturn:
    """The ``convo`` program: :func:`main` on ``sys.argv``, then exit with its status.

    Everything it needs is imported by now, and those objects live until the process ends, so
    they are moved out of the cyclic garbage collector's sight (``gc.freeze``): collections during
    the run scan only what the run made, forked workers do not copy the pages of those objects
    to update them, and the interpreter's exit is about 12 ms (10 % of a small run) shorter.
    Only the program does this; ``main()`` called from Python leaves the collector alone.
    """
    import gc

    gc.freeze()
    sys.exit(main())

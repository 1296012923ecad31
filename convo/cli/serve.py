"""``convo serve``: the local Messages API emulator, until interrupted.

Layer: cli (the emulator is :mod:`convo.testing.emulator`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from convo.cli._common import EXIT_OK, UsageError, command_parser

__all__ = ["add_parser", "command"]

EPILOG = """\
A local Messages API emulator on 127.0.0.1 (for tests and dry runs): the API's rules, errors,
streaming and batches, with faults injected on a schedule.

examples:
  convo serve --port 8123
  convo serve --port 8123 --faults '529,429:retry-after=1,reset'
"""


def add_parser(sub: Any) -> None:
    """Register ``convo serve`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "serve", "run the local Messages API emulator", EPILOG)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8123, help="0 picks a free port (printed)")
    p.add_argument("--faults", metavar="SPEC", help="faults to inject, in order (see the emulator's docs)")
    p.add_argument("--batch-delay", type=float, default=0.5, metavar="S",
                   help="seconds a batch stays in progress")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo serve``: the local emulator, until interrupted."""
    try:
        from convo.testing.emulator import serve
    except ImportError as e:
        raise UsageError(f"convo serve is not available in this build ({e})") from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("the emulator listens on the loopback interface only (127.0.0.1)")

    def ready(url: str) -> None:
        print(f"convo serve: listening on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        serve(args.host, args.port, faults=args.faults, batch_delay=args.batch_delay, on_ready=ready)
    except ValueError as e:  # a fault schedule that does not parse
        raise UsageError(str(e)) from None
    return EXIT_OK

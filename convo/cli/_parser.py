"""The pieces of the ``convo`` parser that ``convo.cli`` needs before any command is chosen: the
exit statuses, :class:`UsageError`, :class:`Parser` and :class:`Formatter` (argparse only, so that
``convo --version`` and ``convo --help`` import nothing else; :mod:`convo.cli._common` re-exports
them).

Layer: cli.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["EXIT_FAIL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "Formatter", "Parser", "UsageError"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A command line that cannot run (a missing file, clashing options): exit status 2."""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples in epilogs as written."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise instead of exiting (``main`` decides the status)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")

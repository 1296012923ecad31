"""The command's start-up (issue 14): ``convo --version`` and ``convo COMMAND --help`` import
only what they need, and the lazy parser says exactly what the parser with every command loaded
says (help, errors)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from convo.cli import COMMANDS, build_parser
from convo.cli._parser import UsageError

CONVO = os.path.join(os.path.dirname(sys.executable), "convo")
HEAVY = ("httpx", "cattrs", "hypothesis", "pyarrow", "dask", "datasets")


_PROBE = """
import atexit, sys
atexit.register(lambda: print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["convo", *sys.argv[1:]]
from convo.cli import entry
entry()
"""


def _imported(*argv: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the ``convo`` program (its ``entry()``, as the installed script does) in a fresh
    interpreter; the modules in ``sys.modules`` when it exits."""
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=120)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return done, set(line.split()[1:])


def _top(mods: set[str], name: str) -> list[str]:
    return sorted(m for m in mods if m == name or m.startswith(name + "."))


def test_version_imports_no_command() -> None:
    """``convo --version`` imports no command module, no codec, rules or transforms, and nothing heavy."""
    done, mods = _imported("--version")
    assert done.returncode == 0 and done.stdout.startswith("convo ")
    assert "convo.cli" in mods  # the list is real
    for name in (*HEAVY, "attrs", "convo.codec", "convo.rules", "convo.transforms", "convo.stream",
                 "importlib.metadata", *(f"convo.cli.{c}" for c in COMMANDS)):
        assert not _top(mods, name), f"convo --version imported {_top(mods, name)}"


@pytest.mark.parametrize("command", ["transform", "validate"])
def test_command_help_imports_that_command_only(command: str) -> None:
    """``convo transform --help`` imports that command's module and none of the others, nor
    httpx, cattrs, hypothesis or pyarrow."""
    done, mods = _imported(command, "--help")
    assert done.returncode == 0 and f"usage: convo {command}" in done.stdout
    assert f"convo.cli.{command}" in mods
    others = [f"convo.cli.{c}" for c in COMMANDS if c != command and f"convo.cli.{c}" in mods]
    assert others == [], others
    for name in HEAVY:
        assert not _top(mods, name), f"convo {command} --help imported {_top(mods, name)}"
    if command == "transform":  # its parser needs neither the codec nor the engine nor the transforms
        for name in ("convo.codec", "convo.stream", "convo.transforms", "convo.rules"):
            assert not _top(mods, name), f"convo transform --help imported {_top(mods, name)}"


def test_parser_constants_are_the_engines() -> None:
    """The defaults convo.cli._common writes down (so that a parser imports neither the codec nor
    the line engine) are the values they copy."""
    from convo.cli import _common
    from convo.codec.lines import LINE_KINDS
    from convo.stream import sources

    assert _common.LINE_KINDS == LINE_KINDS
    assert _common.DEFAULT_CHUNK_BYTES == sources.DEFAULT_CHUNK_BYTES
    assert _common.DEFAULT_MAX_LINE_BYTES == sources.DEFAULT_MAX_LINE_BYTES
    assert _common.STDIN == sources.STDIN


def test_lazy_parser_says_what_the_eager_one_says() -> None:
    """``convo --help``, every ``convo COMMAND --help`` (and ``convo batch STEP --help``), and the
    errors for an unknown command or a bad option are the same text as with every module loaded."""
    lazy, eager = build_parser(), build_parser(lazy=False)
    assert lazy.format_help() == eager.format_help()
    for argv in (["nosuch"], ["transform", "--nosuch"], ["validate"], ["batch", "nosuch"], ["Transform"], []):
        errors = []
        for parser in (build_parser(), eager):
            try:
                parser.parse_args(argv)
                errors.append(None)
            except UsageError as e:
                errors.append(str(e))
        assert errors[0] == errors[1], argv
    lazy_subs = lazy._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    eager_subs = eager._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(lazy_subs) == list(eager_subs) == list(COMMANDS)
    for name in COMMANDS:
        assert lazy_subs[name].format_help() == eager_subs[name].format_help(), name
        assert lazy_subs[name].description == COMMANDS[name]  # the table's help is the module's


def test_help_table_must_match_the_module() -> None:
    """A module whose help differs from :data:`convo.cli.COMMANDS` is refused when loaded."""
    import convo.cli as cli

    saved = cli.COMMANDS["serve"]
    cli.COMMANDS["serve"] = "something else"
    try:
        with pytest.raises(RuntimeError, match="different help"):
            build_parser().parse_args(["serve", "--help"])
    finally:
        cli.COMMANDS["serve"] = saved

"""Generated code from build-time bytecode (``convo/_gencode.py``, ``convo/_gencode_data.py``).

The codec's hooks and lazy checks and the transforms' copy functions are generated from specs
when their modules load. ``scripts/make_gencode.py`` stores their functions as plain Python so
that they are compiled once, at install: the functions taken from there must be the very code
``compile`` makes (same bytecode, constants, names, lines, file name), the stored file must be
current, and a source it does not hold must still work (compiled as before).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from convo import _gencode

ROOT = Path(__file__).resolve().parents[1]


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/make_gencode.py", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _same(a: types.CodeType, b: types.CodeType) -> None:
    differ = [k for k in dir(a) if k.startswith("co_") and k not in ("co_filename", "co_name", "co_qualname", "co_lnotab")
              and not callable(getattr(a, k)) and getattr(a, k) != getattr(b, k)]
    assert not differ, [(k, getattr(a, k), getattr(b, k)) for k in differ]
    assert a == b  # bytecode, constants (nested code too), names, first line, line table
    assert (a.co_filename, a.co_name, a.co_qualname) == (b.co_filename, b.co_name, b.co_qualname)
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType):
            _same(x, y)


@pytest.mark.slow
def test_stored_file_is_current() -> None:
    """convo/_gencode_data.py is what the script writes for today's specs."""
    r = _script("--check")
    assert r.returncode == 0, r.stderr + "\nrun: python scripts/make_gencode.py"


@pytest.mark.slow
def test_stored_functions_are_the_compiled_ones() -> None:
    """Every source generated on load: the functions from the stored file are the ones compile()
    makes of the source (each one found there, none compiled)."""
    r = _script("--sources")
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert len(found) > 40
    table = _gencode._table()
    for filename, source in found:
        assert _gencode.digest(source, filename) in table, filename
        compiled: dict[str, object] = {}
        exec(compile(source, filename, "exec", dont_inherit=True), compiled)  # noqa: S102 - the codec's own source
        stored: dict[str, object] = {}
        _gencode.exec_generated(source, filename, stored)
        names = sorted(k for k in compiled if k != "__builtins__")
        assert sorted(stored) == names
        for name in names:
            f, g = compiled[name], stored[name]
            assert isinstance(f, types.FunctionType) and isinstance(g, types.FunctionType)
            _same(f.__code__, g.__code__)
            assert g.__globals__ is stored and g.__name__ == name


def test_unknown_source_is_compiled() -> None:
    """A source the file does not hold (a user's block class, a spec changed since the script
    ran) is compiled: same result, just slower."""
    ns = {"k": 3}
    _gencode.exec_generated("def f(x):\n    return {i: x * k for i in range(2)}\n", "<convo test>", ns)
    f = ns["f"]
    assert isinstance(f, types.FunctionType)
    assert f(2) == {0: 6, 1: 6} and f.__code__.co_filename == "<convo test>"


def test_errors_name_the_generated_source() -> None:
    """A shape error raised in a stored hook shows the hook's own file name in its traceback."""
    import traceback

    import convo
    from convo.errors import DecodeError

    with pytest.raises(DecodeError) as info:
        convo.loads(b'{"model": 5, "messages": []}')
    frames = traceback.extract_tb(info.value.__traceback__)
    seen = [f.filename for f in frames] + [
        f.filename for e in (info.value.__cause__, info.value.__context__) if e is not None
        for f in traceback.extract_tb(e.__traceback__)]
    assert not any("_gencode_data" in s for s in seen), seen


@pytest.mark.slow
def test_import_convo_loads_no_generated_code() -> None:
    """``import convo`` stays light: the stored functions load with the codec, not before."""
    out = subprocess.run([sys.executable, "-c", "import sys, convo; print('convo._gencode_data' in sys.modules); "
                          "import convo.codec; print('convo._gencode_data' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]

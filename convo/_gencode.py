"""Code convo generates from its own specs, compiled at build time instead of at every start.

The codec's hooks and lazy checks and the transforms' copy functions are Python source made from
field specs when their modules load; ``compile`` of that source cost about 40 ms of every command
that reads data. ``scripts/make_gencode.py`` runs the same generation once and writes every
source's functions into ``convo/_gencode_data.py`` (which the installer compiles to bytecode, as
it compiles every module), keyed by a digest of the source. :func:`exec_generated` then takes a
source's functions from there when the digest matches, and compiles only what it has not seen
(a user's own block class, a changed spec before the script is run again): the result is the
same either way (``tests/test_gencode.py`` compares the code objects).

Layer: base (standard library only).
"""

from __future__ import annotations

import types
from typing import Any

try:  # BLAKE2 as CPython builds it in: hashlib would load OpenSSL's libcrypto (3.7 MB of a command's memory)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python
    from hashlib import blake2b

RECORD: list[tuple[str, str]] | None = None
"""Where :func:`exec_generated` records each ``(filename, source)`` it runs, when set (by
``scripts/make_gencode.py``, which writes them out)."""

_TABLE: dict[str, tuple[tuple[str, Any, int], ...]] | None = None


def digest(source: str, filename: str) -> str:
    """The key of a generated source in ``convo/_gencode_data.py``.

    >>> digest("def f(): pass", "<x>") == digest("def f(): pass", "<x>") != digest("def f(): pass", "<y>")
    True
    """
    return blake2b(f"{filename}\0{source}".encode(), digest_size=16).hexdigest()


def _table() -> dict[str, tuple[tuple[str, Any, int], ...]]:
    global _TABLE
    if _TABLE is None:
        try:
            from convo._gencode_data import CODE
        except ImportError:  # (not generated yet: everything is compiled)
            CODE = {}
        _TABLE = CODE
    return _TABLE


def _relabel(code: types.CodeType, filename: str, stored: str, name: str, shift: int) -> types.CodeType:
    """*code* as if compiled from *filename*: that file name, its lines moved by *shift*, its
    qualified name starting with *name* instead of *stored* (the stored function's own), and
    likewise every code object inside it (comprehensions)."""
    consts = tuple(_relabel(c, filename, stored, name, shift) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    qual = code.co_qualname
    return code.replace(co_filename=filename, co_firstlineno=code.co_firstlineno + shift, co_consts=consts,
                        co_name=name if code.co_name == stored else code.co_name,
                        co_qualname=name + qual[len(stored):] if qual.startswith(stored) else qual)


def exec_generated(source: str, filename: str, ns: dict[str, Any]) -> None:
    """``exec(compile(source, filename, "exec"), ns)`` for generated *source* (top-level ``def``
    statements without defaults or decorators), from bytecode made at build time where there is
    some for this very source.

    >>> ns = {"k": 2}
    >>> exec_generated("def f(x):\\n    return [x * k for _ in range(2)]\\n", "<convo example>", ns)
    >>> ns["f"](3), ns["f"].__code__.co_filename
    ([6, 6], '<convo example>')
    """
    if RECORD is not None:
        RECORD.append((filename, source))
    found = _table().get(digest(source, filename))
    if found is None:
        exec(compile(source, filename, "exec", dont_inherit=True), ns)  # noqa: S102 - convo's own generated code
        return
    for name, fn, line in found:
        code = fn.__code__
        ns[name] = types.FunctionType(
            _relabel(code, filename, code.co_name, name, line - code.co_firstlineno), ns, name)

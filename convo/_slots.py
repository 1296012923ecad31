"""Making and copying frozen values slot by slot: the C functions of ``convo/_speedups.c`` where
they are built (and ``CONVO_PURE_PYTHON`` is not set), else generated Python that does the same.

Layer: base (standard library only; its generated code goes through :mod:`convo._gencode`).

>>> class P:
...     __slots__ = ("x", "y")
>>> make = maker(P, ("x", "y"))
>>> p = make(1, 2)
>>> (p.x, p.y), (CLONE or (lambda o: make(o.x, o.y)))(p).y
((1, 2), 2)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from convo._gencode import exec_generated

__all__ = ["CLONE", "all_slots", "maker", "packer", "slot", "speedups"]


def speedups() -> Any:
    """The module ``convo._speedups``, or None where it is not built or ``CONVO_PURE_PYTHON`` is set."""
    if os.environ.get("CONVO_PURE_PYTHON"):
        return None
    try:
        from convo import _speedups
    except ImportError:  # (built without a C compiler: the Python below does the same)
        return None
    return _speedups


_C = speedups()

CLONE: Callable[[Any], Any] | None = None if _C is None else _C.clone
"""``clone(obj)``: a new instance of *obj*'s class holding the same slot values, made without
``__new__`` or ``__init__`` (for a class whose values are all in slots: :func:`all_slots`); None
where the C part is not built (callers then copy each slot through its descriptor)."""

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement


def all_slots(cls: type) -> bool:
    """Whether *cls*'s instances keep every value in ``__slots__`` (what ``clone`` copies).

    >>> all_slots(int), all_slots(type("D", (), {})), all_slots(type("S", (), {"__slots__": ("a",)}))
    (False, False, True)
    """
    return cls.__dictoffset__ == 0 and all(b is object or b.__flags__ & _HEAPTYPE for b in cls.__mro__)


def slot(cls: type, name: str) -> Any:
    """The descriptor of attribute *name* in *cls* or its bases (a slot's member descriptor for
    a slot), or None.

    >>> class P:
    ...     __slots__ = ("x",)
    >>> slot(P, "x") is P.__dict__["x"], slot(P, "y")
    (True, None)
    """
    return next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)


def maker(cls: type, names: tuple[str, ...], *, pure: bool = False) -> Callable[..., Any]:
    """A function of one positional argument per name in *names* that returns a new *cls*
    (``object.__new__(cls)``, no ``__init__``) with each of those slots set to its argument; the
    other slots stay empty. In C where built (one call in all), else generated Python (one setter
    call per slot); *pure* asks for the Python one.

    >>> class P:
    ...     __slots__ = ("x", "y")
    >>> maker(P, ("y",), pure=True)(5).y
    5
    """
    if _C is not None and not pure:
        return _C.maker(cls, names)  # type: ignore[no-any-return]
    ns: dict[str, Any] = {"_new": object.__new__, "cls": cls}
    lines = [f"def make({', '.join(f'_{i}' for i in range(len(names)))}):", "    o = _new(cls)"]
    for i, n in enumerate(names):
        d = slot(cls, n)
        if d is None or not hasattr(d, "__set__") or not n.isidentifier():
            raise TypeError(f"{n!r} is not a slot of {cls.__name__}")
        ns[f"_s{i}"] = d.__set__
        lines.append(f"    _s{i}(o, _{i})")
    lines.append("    return o")
    exec_generated("\n".join(lines), f"<convo maker {cls.__name__}>", ns)
    fn: Callable[..., Any] = ns["make"]
    return fn


def packer(cls: type, names: tuple[str, ...], keys: tuple[str, ...], skip: Any) -> Callable[[Any], dict[str, Any]] | None:
    """A function of an instance of *cls* that returns a new dict of ``keys[i]``: the value of
    slot ``names[i]``, in that order, leaving out the slots that hold *skip* (an empty slot gives
    None); None where the C part is not built (callers keep their own Python for it).

    >>> class P:
    ...     __slots__ = ("x", "y", "z")
    >>> p = P(); p.x, p.y = 1, None
    >>> pack = packer(P, ("x", "y", "z"), ("a", "b", "c"), None)
    >>> pack is None or pack(p) == {"a": 1, "c": None}
    True
    """
    if _C is None:
        return None
    return _C.packer(cls, names, keys, skip)  # type: ignore[no-any-return]

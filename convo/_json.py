"""JSON values as convo holds them: frozen, with "absent" kept apart from ``null``.

The lowest layer. Everything read from JSON that convo does not model as a class is held as a
*frozen JSON value*: objects become :class:`FrozenDict` (a ``dict`` subclass that refuses
mutation, so orjson still writes it natively), arrays become tuples. :data:`UNSET` marks a field
that was absent in the input, which is written back as absent, never as ``null``.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any, Final, Literal, NoReturn, TypeAlias

__all__ = ["EMPTY", "REPR_DEPTH", "UNSET", "FrozenDict", "Json", "Unset", "freeze", "nested_repr", "thaw"]

Json: TypeAlias = Any
"""A JSON value as convo holds it: str, int, float, bool, None, tuple or FrozenDict."""


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    # a singleton: hashed by identity, in C (Enum's own hash is Python code, and UNSET is looked
    # up in sets and dicts on hot paths)
    __hash__ = object.__hash__


UNSET: Final = _Unset.UNSET
"""The value of a field that was absent in the input (distinct from ``None``, JSON ``null``)."""

Unset: TypeAlias = Literal[_Unset.UNSET]


class FrozenDict(dict[str, Any]):
    """A JSON object that cannot be changed after construction.

    Build one with :func:`freeze`, which freezes nested values too; ``freeze`` takes an existing
    FrozenDict as already deep-frozen.

    It is a real ``dict`` (orjson writes it at full speed, ``json.dumps`` too), but every mutating
    method raises ``TypeError``; it is hashable, so values holding it can be hashed.

    >>> d = FrozenDict({"type": "ephemeral"})
    >>> d["type"]
    'ephemeral'
    >>> d["ttl"] = "1h"
    Traceback (most recent call last):
    ...
    TypeError: FrozenDict is immutable
    """

    __slots__ = ()

    def _immutable(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("FrozenDict is immutable")

    __setitem__ = __delitem__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable
    __ior__ = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __repr__(self) -> str:
        return nested_repr(lambda: f"FrozenDict({dict.__repr__(self)})", "FrozenDict({...})")

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle's default for dict subclasses calls __setitem__, which we refuse.
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self


REPR_DEPTH: Final = 24
"""How deep ``repr`` shows nested values: a model object or JSON object nested deeper than this
shows as ``Name(...)`` / ``FrozenDict({...})``. Values as deep as the codec accepts (hundreds of
levels) then print without reaching Python's recursion limit."""

_REPR = threading.local()


def nested_repr(body: Callable[[], str], short: str) -> str:
    """``body()``, one level deeper than the repr that called it, or *short* past :data:`REPR_DEPTH`.

    >>> v = freeze({"a": 1})
    >>> for _ in range(30):
    ...     v = freeze({"a": v})
    >>> repr(v).count("FrozenDict({...})")
    1
    """
    depth = getattr(_REPR, "depth", 0)
    if depth >= REPR_DEPTH:
        return short
    _REPR.depth = depth + 1
    try:
        return body()
    finally:
        _REPR.depth = depth


EMPTY: Final = FrozenDict()
"""The shared empty :class:`FrozenDict` (the default ``extra`` of every model object)."""


_AS_IS = frozenset((_Unset, str, int, float, bool, type(None)))


def freeze(value: Any) -> Json:
    """Return *value* with every dict made a :class:`FrozenDict` and every list a tuple.

    >>> freeze({"a": [1, {"b": 2}]})
    FrozenDict({'a': (1, FrozenDict({'b': 2}))})
    """
    t = type(value)
    if t in _AS_IS:  # (the most common: an absent field, a string, a number)
        return value
    if t is FrozenDict:
        # Already frozen: FrozenDicts are built by freeze(), so their values are frozen too. This
        # keeps attrs.evolve (which re-runs field converters) from re-walking every JSON value.
        return value
    if t is dict:
        if not value:
            return EMPTY
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if t is list or t is tuple:
        return tuple([freeze(v) for v in value])
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple([freeze(v) for v in value])
    return value


def thaw(value: Json) -> Any:
    """Return a plain, mutable copy of a frozen JSON value (dicts and lists).

    >>> thaw(freeze({"a": [1]}))
    {'a': [1]}
    """
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value

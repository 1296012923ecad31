"""Slotted attrs classes for :mod:`convo.model` and the command, built without importing attrs.

Layer: beside ``errors`` and ``_json``; below the model. ``import convo`` built its 35 value
classes with ``attrs.frozen``, which cost about two thirds of the import: attrs itself (which
imports ``inspect``), an ``inspect.signature`` per converter, and a ``compile`` of generated
source per class. :func:`frozen` and :func:`field` take the same arguments as attrs' (the subset
the model uses) and make the same classes: the same ``__slots__``, an ``__init__`` with the same
signature, converters, defaults and ``__attrs_post_init__`` call, attrs' ``__eq__``, ``__ne__``,
``__hash__``, ``__repr__``, pickling and frozen ``__setattr__`` (raising attrs'
``FrozenInstanceError``), and ``__attrs_attrs__``, which attrs' own functions (``attrs.fields``,
``attrs.evolve``, ``attrs.has``) read: it is made by attrs itself, from the same field
definitions, the first time something reads it. The methods' code is generated at build time
into :mod:`convo._frozen_code` (``python scripts/make_frozen_code.py``; a test fails when it is
stale), so it is loaded as bytecode instead of compiled at every start; a class whose definition
differs from the generated code's gets its code compiled at import (:data:`COMPILED`), and
anything this module does not handle (a validator, an alias, another option) is handed to attrs
itself. :func:`define` makes attrs' mutable classes the same way (``attrs.define``: no frozen
``__setattr__``, no ``__hash__``), with ``factory=`` defaults, for the counts and tallies a data
command keeps: with them, a data command does not import attrs at all (67M instructions).

>>> @frozen
... class Point:
...     x: int
...     y: int = field(default=0, converter=int)
>>> Point(1, "2"), Point(1) == Point(1, 0), hash(Point(1)) == hash(Point(1, 0))
(Point(x=1, y=2), True, True)
>>> import attrs
>>> [a.name for a in attrs.fields(Point)], attrs.evolve(Point(1), y=5)
(['x', 'y'], Point(x=1, y=5))
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar, cast

if TYPE_CHECKING:
    from attrs import AttrsInstance

__all__ = ["COMPILED", "converters", "define", "evolve", "field", "field_names", "frozen", "has", "is_frozen", "source", "specs"]

T = TypeVar("T")


class _Nothing:
    """No value: no default, or (as a parameter's default) "make one with the factory"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOTHING"  # as attrs' own marker shows in a signature


_NOTHING: Any = _Nothing()


class _Field:
    """What :func:`field` returns: the arguments, until :func:`frozen` reads them."""

    __slots__ = ("converter", "default", "eq", "factory", "kw_only", "repr")

    def __init__(self, default: Any, converter: Callable[[Any], Any] | None, kw_only: bool, repr: Any,
                 eq: bool = True, factory: Callable[[], Any] | None = None) -> None:
        self.default = default
        self.converter = converter
        self.kw_only = kw_only
        self.repr = repr
        self.eq = eq  # False: left out of __eq__ and __hash__ (as attrs does)
        self.factory = factory  # a default made anew for each instance (attrs' ``factory=``)

    @property
    def optional(self) -> bool:
        """Whether the field has a default (a value or a factory)."""
        return self.default is not _NOTHING or self.factory is not None

    def copy(self, kw_only: bool) -> _Field:
        return _Field(self.default, self.converter, kw_only, self.repr, self.eq, self.factory)


def field(
    *,
    default: Any = _NOTHING,
    converter: Callable[[Any], Any] | None = None,
    kw_only: bool = False,
    repr: Any = True,
    eq: bool = True,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A field definition, as ``attrs.field`` (``default``, ``factory``, ``converter``, ``kw_only``,
    ``repr``, ``eq``)."""
    if factory is not None and default is not _NOTHING:
        raise ValueError("a field takes a default or a factory, not both")
    return _Field(default, converter, kw_only, repr, eq, factory)


class _Spec:
    """One class's fields, in attrs' order (inherited first), and what the generated code needs."""

    __slots__ = ("fields", "frozen", "kw_only", "own", "post_init", "qualname")

    def __init__(self, qualname: str, own: list[tuple[str, str, _Field]], fields: list[tuple[str, str, _Field]],
                 kw_only: bool, post_init: bool, frozen: bool = True) -> None:
        self.qualname = qualname
        self.own = own  # (name, annotation, field) defined by this class
        self.fields = fields  # every field: the bases' (attrs' order) and then this class's own
        self.kw_only = kw_only
        self.post_init = post_init
        self.frozen = frozen  # False: attrs.define's (mutable, unhashable)

    def key(self) -> str:
        """What the generated code depends on (it is reused only where this is the same)."""
        parts = [
            f"{n}:{int(f.default is not _NOTHING)}{int(f.converter is not None)}{int(f.kw_only)}"
            + ("" if f.eq else "e")  # (no eq)
            + ("f" if f.factory is not None else "")  # (a factory)
            for n, _, f in self.fields
        ]
        return f"{','.join(parts)};post_init={int(self.post_init)}" + ("" if self.frozen else ";mutable")


_SPECS: dict[str, _Spec] = {}
COMPILED: list[str] = []
"""The classes whose methods were compiled at import because :mod:`convo._frozen_code` did not
have them (empty unless the model changed without ``scripts/make_frozen_code.py``)."""


def specs() -> dict[str, _Spec]:
    """Every class built here, by ``module.qualname`` (what ``scripts/make_frozen_code.py`` writes)."""
    return dict(_SPECS)


def is_frozen(cls: type) -> TypeGuard[type[AttrsInstance]]:
    """Whether *cls* was made by :func:`frozen` or :func:`define` (without importing attrs;
    ``attrs.has`` also says so)."""
    return "_convo_spec" in cls.__dict__


def has(cls: type) -> TypeGuard[type[AttrsInstance]]:
    """``attrs.has``: whether *cls* is an attrs class, made here or by attrs (importing neither
    attrs nor, for a class made here, its attrs twin).

    >>> from convo.model import Message
    >>> has(Message), has(dict), has(int)
    (True, False, False)
    """
    return "_convo_spec" in cls.__dict__ or getattr(cls, "__attrs_attrs__", None) is not None


def field_names(cls: type) -> tuple[str, ...]:
    """The names of *cls*'s fields, in order (``attrs.fields`` without importing attrs, for a class
    made here; attrs' own for another attrs class)."""
    spec: _Spec | None = cls.__dict__.get("_convo_spec")
    if spec is None:
        import attrs

        return tuple(a.name for a in attrs.fields(cls))
    return tuple(n for n, _, _ in spec.fields)


def converters(cls: type) -> dict[str, Callable[[Any], Any] | None]:
    """Each field's converter (or None), by field name, for a class made here (``attrs.fields``'
    ``converter`` without importing attrs).

    >>> from convo.model import Message
    >>> converters(Message)["role"] is None
    True
    """
    spec: _Spec = cls.__dict__["_convo_spec"]
    return {n: f.converter for n, _, f in spec.fields}


def evolve(inst: T, **changes: Any) -> T:
    """A copy of *inst* with *changes*, through ``__init__`` (as ``attrs.evolve``)."""
    cls = type(inst)
    spec: _Spec | None = cls.__dict__.get("_convo_spec")
    if spec is None:
        import attrs

        return attrs.evolve(inst, **changes)  # type: ignore[misc]
    for name, _, _ in spec.fields:
        alias = name.lstrip("_")
        if alias not in changes:
            changes[alias] = getattr(inst, name)
    return cls(**changes)


def frozen(maybe_cls: type | None = None, /, *, kw_only: bool = False) -> Any:
    """``attrs.frozen`` (slots, eq, hash, repr), as a decorator with or without ``kw_only``."""

    def wrap(cls: type) -> type:
        return _build(cls, kw_only)

    return wrap if maybe_cls is None else wrap(maybe_cls)


def define(maybe_cls: type | None = None, /, *, kw_only: bool = False) -> Any:
    """``attrs.define`` (slots, eq, repr; mutable, so unhashable), as a decorator with or without
    ``kw_only``: the command's counts and tallies.

    >>> @define
    ... class Tally:
    ...     seen: dict = field(factory=dict)
    ...     n: int = 0
    >>> a = Tally(); a.n += 1; a.seen["x"] = 1
    >>> a, Tally().seen is Tally().seen, a == Tally({"x": 1}, 1), Tally.__hash__
    (Tally(seen={'x': 1}, n=1), False, True, None)
    """

    def wrap(cls: type) -> type:
        return _build(cls, kw_only, frozen=False)

    return wrap if maybe_cls is None else wrap(maybe_cls)


def _build(cls: type, kw_only: bool, frozen: bool = True) -> type:
    body = dict(cls.__dict__)
    own: list[tuple[str, str, _Field]] = []
    for name, ann in body.get("__annotations__", {}).items():
        if not isinstance(ann, str):
            return _with_attrs(cls, kw_only, frozen)
        if ann.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = body.get(name, _NOTHING)
        f = value if isinstance(value, _Field) else _Field(value, None, False, True)
        if kw_only and not f.kw_only:
            f = f.copy(True)
        own.append((name, ann, f))
    own_names = {n for n, _, _ in own}
    inherited: list[tuple[str, str, _Field]] = []
    seen: set[str] = set()
    for base in reversed(cls.__mro__[1:-1]):
        base_spec: _Spec | None = base.__dict__.get("_convo_spec")
        if base_spec is None:
            if "__attrs_attrs__" in base.__dict__:  # an attrs class of attrs' own making
                return _with_attrs(cls, kw_only, frozen)
            continue
        for n, a, f in base_spec.own:
            if n not in seen and n not in own_names:
                seen.add(n)
                inherited.append((n, a, f))
    fields = inherited + own
    mandatory_after_default = False
    had_default = False
    for _, _, f in fields:
        if f.kw_only:
            continue
        if f.optional:
            had_default = True
        elif had_default:
            mandatory_after_default = True
    uses_class_cell = any(
        isinstance(v, types.FunctionType) and "__class__" in v.__code__.co_freevars for v in body.values()
    )
    if (mandatory_after_default or uses_class_cell
            or any(k in body for k in ("__eq__", "__hash__", "__init__", "__setattr__", "__getstate__"))):
        return _with_attrs(cls, kw_only, frozen)
    if any(b.__dict__["_convo_spec"].frozen != frozen for b in cls.__mro__[1:-1] if is_frozen(b)):
        raise TypeError(f"{cls.__qualname__}: a frozen class and a mutable one cannot inherit from each other here")

    qualname = f"{cls.__module__}.{cls.__qualname__}"
    spec = _Spec(qualname, own, fields, kw_only, "__attrs_post_init__" in body or any(
        "__attrs_post_init__" in b.__dict__ for b in cls.__mro__[1:-1]), frozen)

    # the new class, with slots (as attrs makes it)
    names = [n for n, _, _ in own]
    for n in names:
        body.pop(n, None)
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    weakref_inherited = any(b.__dict__.get("__weakref__") is not None for b in cls.__mro__[1:-1])
    base_slots = {s for b in cls.__mro__[1:-1] for s in b.__dict__.get("__slots__", ())}
    slots = [n for n in names if n not in base_slots]
    if not weakref_inherited and "__weakref__" not in base_slots:
        slots.append("__weakref__")
    body["__slots__"] = tuple(slots)
    body["_convo_spec"] = spec
    body["__attrs_attrs__"] = _LazyAttributes()
    body["__match_args__"] = tuple(n for n, _, f in fields if not f.kw_only)
    body["__ne__"] = _ne
    if frozen:
        body["__setattr__"] = _frozen_setattr
        body["__delattr__"] = _frozen_delattr
    if "__repr__" not in body:
        body["__repr__"] = _repr
    new: type = type(cls)(cls.__name__, cls.__bases__, body)

    ns: dict[str, Any] = {"_h": hash(f"<attrs generated hash {qualname}>")}
    for n, _, f in fields:
        ns[f"_s_{n}"] = next(b.__dict__[n] for b in new.__mro__ if n in b.__dict__).__set__
        if f.default is not _NOTHING:
            ns[f"_d_{n}"] = f.default
        if f.factory is not None:
            ns[f"_d_{n}"] = _NOTHING
            ns[f"_f_{n}"] = f.factory
        if f.converter is not None:
            ns[f"_c_{n}"] = f.converter
    factory = _factory(spec)
    made = factory(**ns)
    for fn in made:
        fn.__qualname__ = f"{new.__qualname__}.{fn.__name__}"
        fn.__module__ = new.__module__
        setattr_ = type.__setattr__
        setattr_(new, fn.__name__, fn)
    if not frozen:
        type.__setattr__(new, "__hash__", None)  # mutable and compared by value: unhashable, as attrs makes it
    field_names_ = tuple(n for n, _, _ in fields)

    def __getstate__(self: Any) -> dict[str, Any]:
        return {n: getattr(self, n) for n in field_names_}

    def __setstate__(self: Any, state: Any) -> None:
        set_ = object.__setattr__
        if isinstance(state, tuple):
            for n, v in zip(field_names_, state, strict=False):
                set_(self, n, v)
        else:
            for n in field_names_:
                if n in state:
                    set_(self, n, state[n])

    for fn in (__getstate__, __setstate__):
        fn.__qualname__ = f"{new.__qualname__}.{fn.__name__}"
        type.__setattr__(new, fn.__name__, fn)
    _SPECS[qualname] = spec
    return new


def _factory(spec: _Spec) -> Callable[..., tuple[Any, ...]]:
    """The generated code of *spec*'s class: from :mod:`convo._frozen_code`, else compiled now."""
    from convo import _frozen_code

    known = _frozen_code.CODE.get(spec.qualname)
    if known is not None and known[0] == spec.key():
        return cast("Callable[..., tuple[Any, ...]]", known[1])
    COMPILED.append(spec.qualname)
    ns: dict[str, Any] = {}
    exec(compile(source(spec, "make"), f"<convo frozen {spec.qualname}>", "exec"), ns)  # noqa: S102 - field names only
    fn: Callable[..., tuple[Any, ...]] = ns["make"]
    return fn


def source(spec: _Spec, name: str) -> str:
    """The source of a function *name* that returns the class's ``__init__``, ``__eq__`` and (for a
    frozen class) ``__hash__``, given its slots' setters (``_s_x``), defaults (``_d_x``; for a factory, the
    "no value" marker), factories (``_f_x``), converters (``_c_x``) and the hash's salt (``_h``), as
    keyword arguments. Field names are identifiers (annotations)."""
    fields = spec.fields
    params = ["_h"]
    for n, _, f in fields:
        params.append(f"_s_{n}")
        if f.optional:
            params.append(f"_d_{n}")
        if f.factory is not None:
            params.append(f"_f_{n}")
        if f.converter is not None:
            params.append(f"_c_{n}")
    args = [n + (f"=_d_{n}" if f.optional else "") for n, _, f in fields if not f.kw_only]
    kw = [n.lstrip("_") + (f"=_d_{n}" if f.optional else "") for n, _, f in fields if f.kw_only]
    sig = ", ".join(["self", *args, *(["*", *kw] if kw else [])])
    lines = [f"def {name}(*, {', '.join(params)}):", f"    def __init__({sig}):"]
    for n, _, f in fields:
        arg = n.lstrip("_") if f.kw_only else n
        if f.factory is not None:
            arg = f"(_f_{n}() if {arg} is _d_{n} else {arg})"
        lines.append(f"        _s_{n}(self, {f'_c_{n}({arg})' if f.converter is not None else arg})")
    if spec.post_init:
        lines.append("        self.__attrs_post_init__()")
    if not fields and not spec.post_init:
        lines.append("        pass")
    compared = [n for n, _, f in fields if f.eq]
    lines += [
        "    def __eq__(self, other):",
        "        if other.__class__ is not self.__class__:",
        "            return NotImplemented",
        "        return (" + (" and ".join(f"self.{n} == other.{n}" for n in compared) or "True") + ")",
    ]
    if not spec.frozen:  # (mutable: no hash, as attrs.define makes it)
        return "\n".join([*lines, "    return __init__, __eq__"]) + "\n"
    lines += [
        "    def __hash__(self):",
        "        return hash((_h, " + "".join(f"self.{n}, " for n in compared) + "))",
        "    return __init__, __eq__, __hash__",
    ]
    return "\n".join(lines) + "\n"


def _with_attrs(cls: type, kw_only: bool, frozen: bool = True) -> type:
    """A class this module does not handle: attrs makes it, from attrs' own field definitions."""
    import attrs

    for name, value in list(cls.__dict__.items()):
        if isinstance(value, _Field):
            setattr(cls, name, _attrs_field(value))
    made: type = (attrs.frozen if frozen else attrs.define)(kw_only=kw_only)(cls)
    return made


def _attrs_field(f: _Field) -> Any:
    import attrs

    kwargs: dict[str, Any] = {"kw_only": f.kw_only, "repr": f.repr}
    if not f.eq:
        kwargs["eq"] = False
    if f.default is not _NOTHING:
        kwargs["default"] = f.default
    if f.factory is not None:
        kwargs["factory"] = f.factory
    if f.converter is not None:
        kwargs["converter"] = f.converter
    return attrs.field(**kwargs)


class _LazyAttributes:
    """``__attrs_attrs__``, made by attrs on first read: attrs builds a twin class from the same
    field definitions (its bases' twins as bases) and its attributes replace this descriptor."""

    def __get__(self, obj: Any, owner: type) -> Any:
        made = _twin(owner).__attrs_attrs__  # type: ignore[attr-defined]
        type.__setattr__(owner, "__attrs_attrs__", made)
        return made


_TWINS: dict[type, type] = {}


def _twin(cls: type) -> type:
    twin = _TWINS.get(cls)
    if twin is None:
        import attrs

        spec: _Spec = cls.__dict__["_convo_spec"]
        bases = tuple(_twin(b) if is_frozen(b) else object for b in cls.__bases__)
        ns: dict[str, Any] = {"__annotations__": {n: a for n, a, _ in spec.own}, "__module__": cls.__module__,
                              "__qualname__": cls.__qualname__}
        for n, _, f in spec.own:
            ns[n] = _attrs_field(f)
        make = attrs.frozen if spec.frozen else attrs.define
        twin = _TWINS[cls] = make(kw_only=spec.kw_only)(type(cls.__name__, bases, ns))
    return twin


def _ne(self: Any, other: Any) -> Any:
    result = self.__eq__(other)
    if result is NotImplemented:
        return NotImplemented
    return not result


_ne.__name__ = _ne.__qualname__ = "__ne__"


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    from attrs.exceptions import FrozenInstanceError

    raise FrozenInstanceError


def _frozen_delattr(self: Any, name: str) -> None:
    from attrs.exceptions import FrozenInstanceError

    raise FrozenInstanceError


def _repr(self: Any) -> str:
    """attrs' ``__repr__``: ``Name(field=value, ...)``, each field's ``repr=`` honoured."""
    spec: _Spec = type(self).__dict__.get("_convo_spec") or next(
        b.__dict__["_convo_spec"] for b in type(self).__mro__ if "_convo_spec" in b.__dict__)
    parts = []
    for n, _, f in spec.fields:
        if f.repr is False:
            continue
        v = getattr(self, n, _NOTHING)
        parts.append(f"{n}={f.repr(v) if callable(f.repr) else repr(v)}")
    return f"{type(self).__qualname__.rsplit('>.', 1)[-1]}({', '.join(parts)})"

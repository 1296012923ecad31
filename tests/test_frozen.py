"""convo._frozen (issue 14): the model's classes built without attrs at start-up are the classes
attrs builds from the same definitions, and their generated code is up to date."""

from __future__ import annotations

import copy
import importlib.util
import inspect
import os
import pickle
import subprocess
import sys
from typing import Any

import attrs
import pytest
from hypothesis import given

import convo.model as m
from convo import _frozen
from convo.strategies import conversations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = [c for c in vars(m).values() if isinstance(c, type) and _frozen.is_frozen(c)]


def test_every_model_class_is_built_here() -> None:
    assert len(CLASSES) >= 35 and m.Conversation in CLASSES and m.Message in CLASSES and m.ToolUse in CLASSES


def test_generated_code_is_up_to_date() -> None:
    """convo/_frozen_code.py is what scripts/make_frozen_code.py writes for today's model."""
    spec = importlib.util.spec_from_file_location("make_frozen_code", os.path.join(ROOT, "scripts", "make_frozen_code.py"))
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with open(os.path.join(ROOT, "convo", "_frozen_code.py"), encoding="utf-8") as f:
        assert f.read() == script.render(), "run python scripts/make_frozen_code.py"


def test_import_convo_compiles_nothing_and_skips_attrs() -> None:
    """``import convo`` takes every class's code from convo._frozen_code (none compiled) and does
    not import attrs."""
    code = "import sys, convo, convo._frozen as f; print(f.COMPILED, 'attrs' in sys.modules, 'attr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "False", "False"]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_class_is_what_attrs_makes(cls: type) -> None:
    """Slots, match args, ``__init__``'s signature and the attrs fields are those of the class
    attrs makes from the same field definitions."""
    twin: Any = _frozen._twin(cls)
    assert cls.__slots__ == twin.__slots__
    assert cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    ours, theirs = inspect.signature(cls.__init__).parameters, inspect.signature(twin.__init__).parameters
    marks = {_frozen._NOTHING: attrs.NOTHING}  # a factory's parameter: each side's own "no value" marker
    assert [(p.name, p.kind, marks.get(p.default, p.default) if type(p.default) is type(_frozen._NOTHING) else p.default)
            for p in ours.values()] == [(p.name, p.kind, p.default) for p in theirs.values()]
    assert attrs.fields(cls) == attrs.fields(twin)  # type: ignore[arg-type]
    assert [a.name for a in attrs.fields(cls)] == list(_frozen.field_names(cls))  # type: ignore[arg-type]
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    assert hasattr(cls, "__weakref__") == hasattr(twin, "__weakref__")


def _values(v: Any, out: list[Any], depth: int = 0) -> list[Any]:
    if depth > 6:
        return out
    if attrs.has(type(v)):
        out.append(v)
        for a in attrs.fields(type(v)):
            _values(getattr(v, a.name), out, depth + 1)
    elif isinstance(v, tuple):
        for x in v:
            _values(x, out, depth + 1)
    return out


def _twin_of(v: Any) -> Any:
    cls = type(v)
    return _frozen._twin(cls)(**{a.alias: getattr(v, a.name) for a in attrs.fields(cls)})


@given(conversations())
def test_values_behave_as_attrs_values(conv: m.Conversation) -> None:
    """Every value in a generated conversation: equal to itself rebuilt, copied, evolved and
    pickled, with equal hashes; equal to another value exactly when attrs' twin classes say so;
    built by ``__init__`` with the same converted fields as the twin; frozen."""
    values = _values(conv, [])
    for v in values:
        cls = type(v)
        again = cls(**{a.alias: getattr(v, a.name) for a in attrs.fields(cls)})
        for same in (again, copy.copy(v), attrs.evolve(v), pickle.loads(pickle.dumps(v))):  # noqa: S301 - our own bytes
            assert same == v and (same != v) is False and hash(same) == hash(v)
        twin = _twin_of(v)
        assert [getattr(v, a.name) for a in attrs.fields(cls)] == [getattr(twin, a.name) for a in attrs.fields(type(twin))]
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            v.extra = None
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            del v.extra
    for v, w in zip(values, values[1:] + values[:1], strict=True):
        assert (v == w) == (type(v) is type(w) and _twin_of(v) == _twin_of(w))
        assert (v == 1) is False and v.__eq__(1) is NotImplemented


def test_a_class_missing_from_the_generated_code_is_compiled() -> None:
    """A class the generated code does not know gets its code compiled at import (and works)."""

    @_frozen.frozen(kw_only=True)
    class Point:
        x: int
        y: int = _frozen.field(default=0, converter=int)

    assert f"{__name__}.test_a_class_missing_from_the_generated_code_is_compiled.<locals>.Point" in _frozen.COMPILED
    assert Point(x=1, y="2") == Point(x=1, y=2) and Point(x=1).y == 0  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'x'"):
        Point()  # type: ignore[call-arg]


def test_what_it_does_not_handle_goes_to_attrs() -> None:
    """A definition outside the subset (a mandatory field after a default one) is attrs' to make,
    so attrs' own error comes out."""
    with pytest.raises(ValueError, match="No mandatory attributes allowed after an attribute with a default"):

        @_frozen.frozen
        class Bad:
            x: int = 0
            y: int


# --------------------------------------------------------------------------- the command's classes

from convo.stream import counts, operation, ops  # noqa: E402

COMMAND_CLASSES = [counts.RunCounts, operation.OpSpec, operation.Result, ops.Tally, ops.TransformTally,
                   ops.ValidateTally, ops.StatsTally]


@pytest.mark.parametrize("cls", COMMAND_CLASSES, ids=lambda c: c.__name__)
def test_command_class_is_what_attrs_makes(cls: type) -> None:
    """The counts, the operation spec, a chunk's result and the tallies (attrs.define and
    attrs.frozen classes with factories, before) are made here, from generated code, and are
    what attrs makes: slots, signature, fields, equality, hashability, repr, pickling."""
    assert _frozen.is_frozen(cls) and f"{cls.__module__}.{cls.__qualname__}" not in _frozen.COMPILED
    test_class_is_what_attrs_makes(cls)
    twin: Any = _frozen._twin(cls)
    args = ("stats",) if cls is operation.OpSpec else ()
    a, b, t = cls(*args), cls(*args), twin(*args)
    assert a == b and repr(a) == repr(t).replace(twin.__qualname__, cls.__qualname__, 1)
    assert (cls.__hash__ is None) == (twin.__hash__ is None)
    for name in _frozen.field_names(cls):
        x, y = getattr(a, name), getattr(b, name)
        assert x == y == getattr(t, name)
        if isinstance(x, dict) and type(x) is dict:
            assert x is not y  # a factory: a new dict for each instance
    assert pickle.loads(pickle.dumps(a)) == a  # noqa: S301 - our own bytes


def test_define_is_mutable_and_unhashable_with_factories_and_converters() -> None:
    """``define``: fields can be set, equality by value, no hash; a factory runs per instance and
    its value goes through the converter, as attrs does."""

    @_frozen.define
    class Counts:
        seen: dict[str, int] = _frozen.field(factory=dict)
        n: int = 0
        tags: tuple[str, ...] = _frozen.field(factory=list, converter=tuple)

    c = Counts()
    c.n += 2
    c.seen["x"] = 1
    assert c == Counts({"x": 1}, 2) and c != Counts() and Counts().seen == {} and Counts().tags == ()
    assert Counts(tags=["a"]).tags == ("a",)
    with pytest.raises(TypeError, match="unhashable"):
        hash(c)
    assert repr(c).endswith("Counts(seen={'x': 1}, n=2, tags=())")
    assert attrs.has(Counts) and _frozen.has(Counts) and not _frozen.has(dict)
    assert [a.name for a in attrs.fields(Counts)] == ["seen", "n", "tags"]
    assert attrs.evolve(c, n=5).n == 5 and _frozen.evolve(c, n=6) == Counts({"x": 1}, 6)
    with pytest.raises(ValueError, match="not both"):
        _frozen.field(default={}, factory=dict)


def test_a_subclass_of_another_kind_is_refused() -> None:
    """A mutable class on a frozen base, or the other way round, is refused by name (it would
    inherit the other kind's ``__setattr__`` or ``__hash__``)."""

    @_frozen.frozen
    class Base:
        x: int = 0

    @_frozen.define
    class Counts:
        x: int = 0

    with pytest.raises(TypeError, match="Sub: a frozen class and a mutable one"):

        @_frozen.define
        class Sub(Base):
            y: int = 0

    with pytest.raises(TypeError, match="Sub2: a frozen class and a mutable one"):

        @_frozen.frozen
        class Sub2(Counts):
            y: int = 0


def test_generated_code_ignores_classes_made_elsewhere() -> None:
    """Classes a doctest or a test makes in the same process (convo._frozen's own doctest makes
    ``convo._frozen.Point``) are not part of the generated code, so the check above does not
    depend on which tests ran first in its process."""
    ns: dict[str, Any] = {"__name__": "convo._frozen", "frozen": _frozen.frozen, "define": _frozen.define}
    exec("@frozen\nclass Doctested:\n    x: int = 0\n@define\nclass Counted:\n    n: int = 0\n", ns)  # noqa: S102
    assert "convo._frozen.Doctested" in _frozen.specs() and "convo._frozen.Counted" in _frozen.specs()
    test_generated_code_is_up_to_date()

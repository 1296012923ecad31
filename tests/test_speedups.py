"""Slot copying in C (``convo/_speedups.c``) against the Python it stands for, and the codec's
fast conversation hooks against the general one.

``clone`` (a transform's copy of a value) and ``maker`` (a value made from one value per slot) are
optimisations only: where the C part is not built, or ``CONVO_PURE_PYTHON`` is set, generated
Python does the same (:mod:`convo._slots`, :func:`convo.transforms._base._make_replacer`). Each
must give the same values, the same lazy state, and never leak or crash.

The fast hooks (``convo.codec._converter._fast_hook``, one per key order of a request) take only
the plain case and hand everything else to the general lazy hook: on any input the two must give
the same value (equal, same repr, same bytes, same turns left parsed) or the same error.
"""

from __future__ import annotations

import gc
import pickle
import weakref
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
from convo import model as m
from convo import strategies as cs
from convo import transforms as t
from convo._json import UNSET
from convo._slots import all_slots, maker
from convo.codec import _converter as C
from convo.codec.lines import detect_kind
from convo.errors import DecodeError
from convo.model import lazy_turns
from convo.transforms import _base
from tests._helpers_cli import realworld_lines
from tests._helpers_leaks import memory_kept

speedups = pytest.importorskip("convo._speedups", reason="the C part is not built here (no C compiler at install)")

MODEL_CLASSES = sorted((c for c in vars(m).values() if isinstance(c, type) and hasattr(c, "__attrs_attrs__")),
                       key=lambda c: c.__name__)


def slots_of(obj: Any) -> dict[str, Any]:
    """Every slot of *obj* that holds a value (by name), for comparing copies slot by slot."""
    out = {}
    for k in type(obj).__mro__:
        for name in k.__dict__.get("__slots__", ()):
            if name != "__weakref__" and name not in out:
                try:  # (not getattr: a conversation's empty messages slot would build its turns)
                    out[name] = object.__getattribute__(obj, name)
                except AttributeError:
                    continue
    return out


class TestClone:
    @settings(max_examples=80)
    @given(cs.conversations(images=True, tools=True, thinking=True, mid_system=True, max_turns=5))
    def test_a_clone_holds_the_same_slots(self, conv: m.Conversation) -> None:
        for value in (conv, convo.loads(convo.dumps(conv)), *conv.messages):
            copy = speedups.clone(value)
            assert copy is not value and type(copy) is type(value)
            assert slots_of(copy).keys() == slots_of(value).keys()
            assert all(a is b for a, b in zip(slots_of(copy).values(), slots_of(value).values(), strict=True))
            assert copy == value and hash(copy) == hash(value) and repr(copy) == repr(value)

    def test_every_model_class_is_all_slots(self) -> None:
        """The model's classes are what clone is for: all their values are in slots."""
        assert MODEL_CLASSES and all(all_slots(c) for c in MODEL_CLASSES)

    def test_weak_references_are_the_copy_s_own(self) -> None:
        a = m.Text("a")
        ref = weakref.ref(a)
        b = speedups.clone(a)
        assert weakref.ref(b)() is b and ref() is a
        del a
        gc.collect()
        assert ref() is None and b.text == "a"

    @pytest.mark.parametrize("obj", [1, "s", [1], type("D", (), {})(), type("S", (dict,), {"__slots__": ()})()])
    def test_refuses_what_is_not_all_slots(self, obj: Any) -> None:
        with pytest.raises(TypeError, match="not a class whose values are all in __slots__"):
            speedups.clone(obj)

    def test_empty_slots_stay_empty(self) -> None:
        class P:
            __slots__ = ("x", "y")

        p = P()
        p.x = 1
        q = speedups.clone(p)
        assert q.x == 1 and not hasattr(q, "y")


class TestMaker:
    def test_c_and_python_makers_agree_on_every_model_class(self) -> None:
        for cls in MODEL_CLASSES:
            names = tuple(a.name for a in cls.__attrs_attrs__)
            values = tuple(object() for _ in names)
            a, b = maker(cls, names)(*values), maker(cls, names, pure=True)(*values)
            assert type(a) is type(b) is cls
            assert slots_of(a) == slots_of(b) == dict(zip(names, values, strict=True))

    @pytest.mark.parametrize("names, error", [
        (("nope",), "'nope' is not a slot of Text"),
        (("text", "text"), "'text' is named twice"),
        (("__weakref__",), "is not a slot of Text"),
    ])
    def test_bad_names(self, names: tuple[str, ...], error: str) -> None:
        with pytest.raises(TypeError, match=error):
            speedups.maker(m.Text, names)

    def test_bad_calls(self) -> None:
        make = speedups.maker(m.Text, ("text",))
        assert repr(make) == "<convo maker of Text>"
        with pytest.raises(TypeError, match=r"takes 1 arguments \(2 given\)"):
            make("a", "b")
        with pytest.raises(TypeError, match="positional arguments only"):
            make(text="a")
        with pytest.raises(TypeError):
            speedups.maker(int, ())

    def test_no_leak(self) -> None:
        """No function leaks a reference (a missing DECREF grows memory on every call)."""
        conv = convo.loads(orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        make = speedups.maker(m.Text, ("text", "cache_control", "citations", "extra"))
        pack = speedups.packer(m.Text, ("text", "cache_control"), ("text", "cache_control"), UNSET)

        def work() -> None:
            for _ in range(2000):
                speedups.clone(conv)
                pack(make("x" * 10, UNSET, UNSET, conv.extra))
                speedups.maker(m.Text, ("text",))
                speedups.packer(m.Text, ("text",), ("t",), None)

        grown = memory_kept(work, 20)
        assert grown < 64 * 1024, grown


class TestPacker:
    def test_every_model_class(self) -> None:
        """A packer gives each slot's value by key, in order, leaving out those holding skip and
        giving None for an empty slot."""
        for cls in MODEL_CLASSES:
            names = tuple(a.name for a in cls.__attrs_attrs__)
            values = tuple(UNSET if i % 3 == 1 else object() for i in range(len(names)))
            obj = maker(cls, names[1:])(*values[1:])  # (the first slot left empty)
            got = speedups.packer(cls, names, tuple(f"k{i}" for i in range(len(names))), UNSET)(obj)
            want = {f"k{i}": (None if i == 0 else v) for i, v in enumerate(values) if v is not UNSET or i == 0}
            assert list(got.items()) == list(want.items())

    def test_bad_calls(self) -> None:
        pack = speedups.packer(m.Text, ("text",), ("text",), UNSET)
        assert repr(pack) == "<convo packer of Text>"
        with pytest.raises(TypeError, match="a convo packer of Text got Image"):
            pack(m.Image.from_url("https://x/a.png"))
        with pytest.raises(TypeError, match="takes one value"):
            pack(m.Text("a"), m.Text("b"))
        with pytest.raises(TypeError, match="one key per name"):
            speedups.packer(m.Text, ("text",), (), UNSET)
        with pytest.raises(TypeError, match="keys are str"):
            speedups.packer(m.Text, ("text",), (1,), UNSET)


def replacers(cls: type) -> tuple[Any, Any]:
    """The replacer of *cls* with clone and the one without (each slot through its setter)."""
    return _base._make_replacer(cls, speedups.clone), _base._make_replacer(cls, None)


CHANGES: dict[type, Any] = {
    m.Conversation: st.dictionaries(st.sampled_from(["model", "system", "temperature"]),
                                    st.sampled_from([UNSET, "x"]), max_size=2),
}


class TestReplacers:
    @settings(max_examples=80)
    @given(cs.conversations(images=True, tools=True, thinking=True, mid_system=True, max_turns=5),
           CHANGES[m.Conversation], st.booleans())
    def test_clone_and_setters_give_the_same_copy(self, conv: m.Conversation, changes: dict[str, Any],
                                                  new_turns: bool) -> None:
        fast, slow = replacers(m.Conversation)
        for value in (conv, convo.loads(convo.dumps(conv))):
            ch = {**changes, **({"messages": value.messages[:1]} if new_turns else {})}
            a, b = fast(value, dict(ch)), slow(value, dict(ch))
            assert lazy_turns(a) == lazy_turns(b)  # (the turns not built are carried on alike)
            assert slots_of(a).keys() == slots_of(b).keys()
            assert a == b and repr(a) == repr(b) and convo.dumps(a) == convo.dumps(b)
            for msg in value.messages:  # a message's copy, whether its blocks are built or not
                fm, sm = replacers(m.Message)
                assert fm(msg, {}) == sm(msg, {}) == msg
                assert fm(msg, {"role": "user"}).role == "user"

    def test_the_replacer_in_use(self) -> None:
        """Where the C part is built, transforms copy with it (CONVO_PURE_PYTHON unset)."""
        import os

        if os.environ.get("CONVO_PURE_PYTHON"):
            pytest.skip("the Python copy is asked for")
        conv = convo.loads(orjson.dumps({"model": "m", "temperature": 1, "messages": []}))
        t.drop_sampling_params()(conv)
        assert "_clone" in _base._REPLACERS[m.Conversation].__code__.co_names


# --------------------------------------------------------------------------- the fast hooks


def general(d: Any) -> Any:
    """The general lazy hook alone (no fast hook), on a fresh copy of *d*."""
    real = C.fast_conversation
    C.fast_conversation = lambda d: None  # type: ignore[assignment]
    try:
        return C.structure_conversation_lazy(orjson.loads(orjson.dumps(d)))
    finally:
        C.fast_conversation = real  # type: ignore[assignment]


def hooked(specialize: int) -> Any:
    """structure_conversation_lazy with the fast hooks, a key order getting its own hook at its
    *specialize*-th sighting (1: at once; a large number: never, the hook for any order)."""
    def fn(d: Any) -> Any:
        was = C._SPECIALIZE
        C._SPECIALIZE = specialize
        C._FAST.clear()
        C._SEEN.clear()
        try:
            return C.structure_conversation_lazy(orjson.loads(orjson.dumps(d)))
        finally:
            C._SPECIALIZE = was
            C._FAST.clear()
            C._SEEN.clear()
    return fn


def outcome(fn: Any, d: Any) -> tuple[str, Any]:
    try:
        conv = fn(d)
    except Exception as e:  # (the error itself is compared)
        return "error", (type(e).__name__, str(e))
    turns = lazy_turns(conv)
    # (pickled, compared by value: pickle's bytes also tell which equal strings are one object,
    # which the codec's shared values may change from one line to the next)
    back = pickle.loads(pickle.dumps(conv))  # noqa: S301 (our own bytes)
    return "value", (repr(conv), convo.dumps(conv), turns, back == conv, repr(back), convo.dumps(back))


def agree(d: Any) -> None:
    """The fast hooks (one made for *d*'s key order, and the one for any order) and the general
    hook agree on *d*; so does convo.loads."""
    want = outcome(general, d)
    assert outcome(hooked(1), d) == want
    assert outcome(hooked(10**9), d) == want
    assert outcome(lambda x: convo.loads(orjson.dumps(x)), d) == outcome(general_loads, d)


def general_loads(d: Any) -> Any:
    """convo.loads of *d*'s JSON without its fast path."""
    import convo.codec as codec

    real = codec.fast_conversation
    codec.fast_conversation = lambda d: None  # type: ignore[assignment]
    try:
        return convo.loads(orjson.dumps(d))
    finally:
        codec.fast_conversation = real  # type: ignore[assignment]


def _requests() -> Iterator[dict[str, Any]]:
    for line in realworld_lines():
        d = orjson.loads(line)
        if detect_kind(d) == "request":
            yield d
        elif "params" in d:
            yield d["params"]
        elif "request" in d:
            yield d["request"]


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=4),
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3),
                     max_leaves=6)
_KEYS = [f.key for f in C.CONVERSATION_FIELDS] + ["x-extra", "zz"]


class TestFastHooks:
    def test_realworld_requests(self) -> None:
        reqs = list(_requests())
        assert len(reqs) > 100
        for d in reqs:
            agree(d)

    def test_fast_hooks_are_used(self) -> None:
        """A plain request is made by the fast hook for any key order, and once its key order
        has been seen often, by one made for that order (kept)."""
        C._FAST.clear()
        C._SEEN.clear()
        keys = ("model", "max_tokens", "messages")
        data = orjson.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        for _ in range(C._SPECIALIZE - 1):
            conv = convo.loads(data)
            assert lazy_turns(conv) is not None and convo.dumps(conv) == data
        assert keys not in C._FAST
        conv = convo.loads(data)
        assert lazy_turns(conv) is not None and convo.dumps(conv) == data
        assert C._FAST[keys] is not C._generic()
        C._FAST.clear()
        C._SEEN.clear()

    @settings(max_examples=150)
    @given(cs.conversations(images=True, tools=True, thinking=True, mid_system=True, max_turns=5),
           st.randoms(use_true_random=False),
           st.dictionaries(st.sampled_from(_KEYS), _json, max_size=3))
    def test_generated_and_mutated_requests(self, conv: m.Conversation, rnd: Any, changes: dict[str, Any]) -> None:
        """A generated request, its keys shuffled, some of its values replaced by any JSON (of
        the wrong type, huge numbers, unknown keys): both hooks give the same value or error."""
        d = orjson.loads(convo.dumps(conv))
        agree(d)
        items = [*d.items()]
        rnd.shuffle(items)
        d = dict(items)
        agree(d)
        d.update(changes)
        agree(d)

    @pytest.mark.parametrize("body", [
        {"messages": "hi"}, {"messages": [{"role": "user", "content": 5}]}, {"model": 1, "messages": []},
        {"messages": [], "temperature": 1e30}, {"messages": [], "metadata": {"n": 1e300}},
        {"messages": [], "system": [{"type": "text", "text": 1}]}, {"messages": [], "system": {"a": 1}},
        {"messages": [], "tools": {"a": 1}}, {"messages": [], "top_k": None, "inference_geo": None},
        {"messages": [], "stop_sequences": "x"}, {"messages": [], "stream": 1},
        {"messages": [{"content": "hi", "role": "user"}]}, {"x": {"y": [1, 2]}, "messages": []},
        {"model": "m"}, {},
    ])
    def test_edge_cases(self, body: dict[str, Any]) -> None:
        agree(body)

    @pytest.mark.parametrize("extra", [
        {"x" * 300: 1},  # a long key
        {f"k{i}": i for i in range(70)},  # many keys
        {"'; import os; '": 1, '"""': 2, "\n": 3, "\udcff": 4},  # keys that would be code if pasted as is
    ])
    def test_keys_from_the_data(self, extra: dict[str, Any]) -> None:
        """Keys are data: a key order of many or long keys gets no hook of its own (the general
        hook takes those requests), and odd keys are literals in a hook's source, never code."""
        d = {"model": "m", **extra, "messages": [{"role": "user", "content": "hi"}]}
        agree(d)
        made = C._fast_hook(tuple(d))
        assert (made is None) == (len(d) > 64 or any(len(k) > 256 for k in d))

    def test_errors_name_the_path(self) -> None:
        with pytest.raises(DecodeError, match=r"\$\.temperature: expected a number or null"):
            convo.loads(b'{"messages": [], "temperature": "hot"}')

    def test_a_new_check_makes_new_fast_hooks(self) -> None:
        """Switching between the C and the Python lazy check drops the fast hooks made with the
        other (each calls the check it was made with)."""
        hooked(1)({"messages": []})
        convo.loads(b'{"messages": []}')
        assert C._GENERIC
        was = C.check_messages is not C.check_messages_py
        try:
            C._use_c_check(not was)
            assert not C._FAST and not C._GENERIC
            assert convo.dumps(convo.loads(b'{"messages": [{"role": "user", "content": "a"}]}'))
            assert C._GENERIC[0].__globals__["_check"] is C.check_messages
        finally:
            C._use_c_check(was)

    def test_many_key_orders(self) -> None:
        """Past the number of fast hooks kept, requests go through the hook for any order, alike."""
        was = C._SPECIALIZE
        C._SPECIALIZE = 1
        C._FAST.clear()
        try:
            for i in range(C._FAST_SHAPES + 20):
                d = {"model": str(i), **({"top_k": i} if i % 2 else {}), f"x{i}": i,
                     "messages": [{"role": "user", "content": "a"}]}
                assert convo.dumps(convo.loads(orjson.dumps(d))) == convo.dumps(general_loads(d))
            assert len(C._FAST) == C._FAST_SHAPES
        finally:
            C._SPECIALIZE = was
            C._FAST.clear()
            C._SEEN.clear()

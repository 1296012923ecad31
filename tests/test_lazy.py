"""Lazy messages: a conversation decoded from JSON keeps each turn's parsed blocks until read.

The eager path (``convo.codec.structure`` on JSON the codec does not own builds every block at
once) is the oracle: a value decoded lazily must be indistinguishable from it (equality, hash,
repr, pickle, ``dumps`` bytes, the validate report, every transform's result), untouched turns
must stay unbuilt through the transforms that look before they build, and the lazy check must
never let through a turn that the hooks would refuse or write differently.
"""

from __future__ import annotations

import json
import pickle
import warnings
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
from convo import strategies as cs
from convo import transforms as t
from convo.codec import structure, unstructure
from convo.codec._converter import lazy_content, structure_blocks, unstructure_blocks
from convo.codec.lines import (
    RawLine,
    conversation_of,
    decode_line,
    decode_value,
    detect_kind,
    encode_value,
)
from convo.errors import DecodeError
from convo.model import Conversation, is_built, lazy_blocks, lazy_mask
from tests._helpers_cli import realworld_lines
from tests._helpers_transforms import parseable_transforms, stored_transcript_transforms

built = is_built  # (convo.model's: whether the content slot holds blocks or a string)


def lazy_and_eager(data: bytes) -> tuple[Conversation, Conversation]:
    """The conversation in *data* decoded lazily (``convo.loads``) and eagerly (the oracle)."""
    return convo.loads(data), structure(orjson.loads(data), Conversation)


def same(a: Any, b: Any) -> None:
    """*a* (lazy) and *b* (eager) are indistinguishable."""
    assert repr(a) == repr(b)
    assert a == b and b == a
    assert hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == b  # noqa: S301 - our own bytes


def transforms() -> list[t.Transform]:
    return [*parseable_transforms(), *stored_transcript_transforms()]


def check_transforms(data: bytes) -> None:
    """Every transform gives the same result (and the same bytes) on the lazy and eager value."""
    for tr in transforms():
        lazy, eager = lazy_and_eager(data)
        try:
            expected = tr(eager)
        except Exception as e:  # a transform refusing the input must refuse it lazily too
            with pytest.raises(type(e)):
                tr(lazy)
            continue
        got = tr(lazy)
        assert (got is lazy) == (expected is eager), tr
        assert convo.dumps(got) == convo.dumps(expected), tr
        same(got, expected)
        lazy, eager = lazy_and_eager(data)  # the changes each reports are the same too
        assert tr.explain(lazy)[1] == tr.explain(eager)[1], tr


REQUEST = orjson.dumps({
    "model": "claude-opus-4-8", "max_tokens": 1024,
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
                                     {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                                          {"type": "text", "text": "Calling"},
                                          {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"n": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "ok", "signature": "s2"},
                                          {"type": "text", "text": "It is 42."}]},
        {"role": "user", "content": "Thanks"},
    ],
})


class TestLazyDecoding:
    def test_block_turns_stay_parsed_until_read(self) -> None:
        """convo.loads keeps block turns unbuilt; reading content builds them once."""
        conv = convo.loads(REQUEST)
        lazy = [m for m in conv.messages if lazy_blocks(m) is not None]
        assert len(lazy) == 4 and not any(built(m) for m in lazy)
        first = conv.messages[0].content
        assert built(conv.messages[0]) and conv.messages[0].content is first

    def test_untouched_turns_are_written_as_read(self) -> None:
        """convo.dumps of a lazy conversation writes the same bytes as the eager one, unbuilt."""
        lazy, eager = lazy_and_eager(REQUEST)
        assert convo.dumps(lazy) == convo.dumps(eager) == REQUEST
        assert not any(built(m) for m in lazy.messages if lazy_blocks(m) is not None)

    def test_values_are_indistinguishable(self) -> None:
        """Equality, hash, repr and pickle are those of the eager value."""
        same(*lazy_and_eager(REQUEST))

    def test_evolve_and_frozen(self) -> None:
        """attrs.evolve works on a lazy message and a lazy message cannot be changed."""
        msg = convo.loads(REQUEST).messages[1]
        assert attrs.evolve(msg, role="user").content == msg.content
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            msg.content = ()  # type: ignore[misc]

    def test_an_unread_lazy_conversation_pickles(self) -> None:
        """A lazy conversation pickled before it is read comes back equal (built) and writes the
        same bytes."""
        conv = convo.loads(REQUEST)
        back = pickle.loads(pickle.dumps(conv))  # noqa: S301 - our own bytes
        assert convo.dumps(back) == REQUEST and back == conv

    @pytest.mark.parametrize("body, path, message", [
        ({"role": "user", "content": [{"type": "text", "text": 1}]},
         "$.messages[0].content[0].text", "expected a string, got an integer"),
        ({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}]},
         "$.messages[0].content[1].source", "missing required key"),
        ({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text"}]}]},
         "$.messages[0].content[0].content[0].text", "missing required key"),
        ({"role": 3, "content": [{"type": "text", "text": "a"}]}, "$.messages[0].role", "expected a string"),
    ])
    def test_shape_errors_surface_on_load(self, body: Any, path: str, message: str) -> None:
        """A bad turn fails convo.loads with its $.path, as it does eagerly (not when first read)."""
        data = orjson.dumps({"model": "m", "messages": [body]})
        with pytest.raises(DecodeError) as lazy_err:
            convo.loads(data)
        with pytest.raises(DecodeError) as eager_err:
            structure(orjson.loads(data), Conversation)
        assert lazy_err.value.path == eager_err.value.path == path
        assert message in str(lazy_err.value) and str(lazy_err.value) == str(eager_err.value)

    def test_huge_integer_in_an_untouched_turn_is_kept(self) -> None:
        """An integer beyond 64 bits in a tool input survives loads+dumps exactly."""
        data = (b'{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f",'
                b'"input":{"n":123456789012345678901234567890}}]}]}')
        conv = convo.loads(data)
        assert convo.dumps(conv) == data
        assert conv.messages[0].content[0].input["n"] == 123456789012345678901234567890  # type: ignore[union-attr]

    def test_keys_out_of_order_are_built_at_once(self) -> None:
        """A block whose keys are not in the order convo writes them is built on load (its bytes
        are convo's, as before), so lazy and eager bytes never differ."""
        data = b'{"messages":[{"role":"user","content":[{"text":"a","type":"text"}]}]}'
        conv = convo.loads(data)
        assert lazy_blocks(conv.messages[0]) is None and built(conv.messages[0])
        assert convo.dumps(conv) == convo.dumps(structure(orjson.loads(data), Conversation))

    def test_structure_on_user_dicts_is_eager(self) -> None:
        """convo.codec.structure never keeps the caller's dicts (they may change later)."""
        d = orjson.loads(REQUEST)
        conv = structure(d, Conversation)
        assert all(lazy_blocks(m) is None for m in conv.messages)


class TestTransformsLookBeforeBuilding:
    def test_untouched_turns_are_not_built(self) -> None:
        """drop_images and strip_thinking build only the turns they change."""
        conv = convo.loads(REQUEST)
        out = t.pipeline(t.drop_images(), t.strip_thinking(), t.inject_system("x", where="top"))(conv)
        # turn 0 held the image (rebuilt), turn 1's thinking was dropped on the parsed blocks
        assert not built(conv.messages[2]) and not built(conv.messages[3])
        assert not built(conv.messages[1]) and lazy_blocks(out.messages[1]) is not None
        assert convo.dumps(out) == convo.dumps(
            t.pipeline(t.drop_images(), t.strip_thinking(), t.inject_system("x", where="top"))(
                structure(orjson.loads(REQUEST), Conversation)))

    @pytest.mark.parametrize("tr", [t.drop_images(), t.strip_thinking(), t.redact("zzz"), t.drop_sampling_params(),
                                    t.keep_last_turns(n=5), t.pipeline(t.drop_images(), t.redact("q+"))])
    def test_nothing_to_do_returns_the_input(self, tr: t.Transform) -> None:
        """A transform with nothing to change returns its lazy input itself, unbuilt."""
        data = orjson.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]},
                                          {"role": "assistant", "content": [{"type": "text", "text": "b"}]}]})
        conv = convo.loads(data)
        assert tr(conv) is conv and not any(built(m) for m in conv.messages)

    @pytest.mark.parametrize("tr, untouched", [
        (t.redact("Calling"), (0, 2, 3)),
        (t.keep_last_turns(n=2), (0, 1, 2, 3)),
        (t.inject_system("Be brief.", where="top"), (0, 1, 2, 3)),
        (t.drop_sampling_params(), (0, 1, 2, 3)),
    ])
    def test_only_changed_turns_are_built(self, tr: t.Transform, untouched: tuple[int, ...]) -> None:
        """redact, keep_last_turns, inject_system and drop_sampling_params build no turn they
        leave alone, and agree with the eager result."""
        lazy, eager = lazy_and_eager(REQUEST)
        out = tr(lazy)
        assert not any(built(lazy.messages[i]) for i in untouched)
        assert convo.dumps(out) == convo.dumps(tr(eager)) and out == tr(eager)

    def test_strip_thinking_keeps_the_mask(self) -> None:
        """A turn stripped on its parsed blocks no longer claims to hold thinking."""
        out = t.strip_thinking()(convo.loads(REQUEST))
        assert lazy_mask(out.messages[1]) & convo.model.LAZY_BITS["thinking"] == 0

    def test_every_transform_on_the_example(self) -> None:
        """Every built-in transform gives the same result lazily and eagerly on a rich request."""
        check_transforms(REQUEST)


class TestLazyEqualsEager:
    @settings(max_examples=60)
    @given(cs.conversations(images=True, tools=True, thinking=True, mid_system=True, max_turns=8))
    def test_generated_conversations(self, conv: Conversation) -> None:
        """For generated conversations, lazy and eager decoding are indistinguishable, and every
        transform agrees on them."""
        data = convo.dumps(conv)
        lazy, eager = lazy_and_eager(data)
        assert convo.dumps(lazy) == convo.dumps(eager) == data
        same(lazy, eager)
        assert convo.validate(lazy) == convo.validate(eager)
        check_transforms(data)

    def test_realworld_lines(self) -> None:
        """Every realworld line decodes lazily to the value and the bytes of the eager decoding,
        and some of them keep turns parsed (the test is not empty)."""
        lazy_turns = 0
        for i, line in enumerate(realworld_lines()):
            obj = orjson.loads(line)
            kind = detect_kind(obj)
            lazy = decode_line(RawLine("realworld", i, line)).value
            eager = decode_value(obj, kind)
            assert encode_value(lazy) == encode_value(eager)  # before anything is read
            same(lazy, eager)
            conv, eager_conv = conversation_of(lazy), conversation_of(eager)
            if conv is not None and eager_conv is not None:
                lazy_turns += sum(1 for m in conv.messages if lazy_blocks(m) is not None)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # models without a profile: the default is used
                    assert convo.validate(conv) == convo.validate(eager_conv)
        assert lazy_turns > 0

    def test_realworld_transforms(self) -> None:
        """Every transform agrees lazily and eagerly on every realworld request."""
        for line in realworld_lines():
            if detect_kind(orjson.loads(line)) == "request":
                check_transforms(line)


# --------------------------------------------------------------------------- the lazy check

_json = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=3),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                     max_leaves=6)
_keys = st.sampled_from(["type", "text", "cache_control", "citations", "source", "id", "name", "input",
                         "tool_use_id", "content", "is_error", "thinking", "signature", "data", "caller",
                         "media_type", "url", "file_id", "x"])
_types = st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking",
                          "document", "base64", "url", "bogus"])


@st.composite
def _near_blocks(draw: st.DrawFn) -> Any:
    """Objects that look like content blocks: right and wrong keys, values, orders, nesting."""
    keys = draw(st.lists(_keys, max_size=5, unique=True))
    d: dict[str, Any] = {}
    for k in keys:
        if k == "type":
            d[k] = draw(_types | _json)
        elif k in ("source",):
            d[k] = draw(st.fixed_dictionaries({"type": _types}, optional={
                "media_type": st.text(max_size=3) | _json, "data": st.text(max_size=3) | _json,
                "url": st.text(max_size=3), "file_id": st.text(max_size=3)}) | _json)
        elif k == "content":
            d[k] = draw(st.text(max_size=3) | st.lists(_near_blocks(), max_size=2) | _json)
        elif k == "is_error":
            d[k] = draw(st.booleans() | _json)
        else:
            d[k] = draw(st.text(max_size=3) | _json)
    return d


_TEMPLATES = [
    {"type": "text", "text": "a"},
    {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
    {"type": "text", "text": "a", "citations": None},
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}},
    {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}, "cache_control": {"type": "ephemeral"}},
    {"type": "tool_use", "id": "t", "name": "f", "input": {"n": 1}},
    {"type": "tool_result", "tool_use_id": "t", "content": "r", "is_error": True},
    {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "r"}]},
    {"type": "thinking", "thinking": "h", "signature": "s"},
    {"type": "redacted_thinking", "data": "d"},
]


@st.composite
def _mutated_blocks(draw: st.DrawFn) -> Any:
    """Valid blocks in convo's key order, with at most one value replaced, a key dropped, or
    the keys reordered."""
    b = dict(draw(st.sampled_from(_TEMPLATES)))
    how = draw(st.sampled_from(["keep", "value", "drop", "reorder", "inner"]))
    key = draw(st.sampled_from(sorted(b)))
    if how == "value":
        b[key] = draw(_json | st.sampled_from([1e30, -1e30, [1e30], {"n": 2.0**70}]))
    elif how == "drop":
        del b[key]
    elif how == "reorder":
        b = dict(reversed(list(b.items())))
    elif how == "inner" and isinstance(b.get("content"), list):
        b["content"] = [draw(_mutated_blocks())]
    return b


class TestLazyCheck:
    @settings(max_examples=400)
    @given(st.lists(_mutated_blocks() | _near_blocks() | _json, max_size=4))
    def test_accepted_content_builds_and_writes_back_identically(self, content: list[Any]) -> None:
        """Whatever the lazy check accepts, the hooks build without error and write back as the
        same bytes (so a lazy turn can neither fail late nor be written differently)."""
        if lazy_content(content) < 0:
            return
        blocks = structure_blocks(content)
        assert orjson.dumps(unstructure_blocks(blocks)) == orjson.dumps(content)

    def test_valid_blocks_are_accepted(self) -> None:
        """Blocks as the API documents them, in convo's key order, pass the check."""
        content = orjson.loads(REQUEST)["messages"][1]["content"]
        assert lazy_content(content) > 0

    @settings(max_examples=300)
    @given(st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]),
                               "content": st.lists(_mutated_blocks(), min_size=1, max_size=3)})
        | st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]) | _json},
                                optional={"content": st.lists(_mutated_blocks() | _near_blocks() | _json, max_size=3)
                                          | st.text(max_size=3) | _json, "x": _json}),
        max_size=3))
    def test_loads_agrees_with_the_eager_hooks(self, messages: list[Any]) -> None:
        """For near-valid messages, convo.loads fails with the eager error (same $.path and
        words) or gives the eager value, written back as the same bytes."""
        data = orjson.dumps({"messages": messages})
        try:
            eager = structure(orjson.loads(data), Conversation)
        except DecodeError as e:
            with pytest.raises(DecodeError) as lazy_err:
                convo.loads(data)
            assert str(lazy_err.value) == str(e)
            return
        lazy = convo.loads(data)
        assert convo.dumps(lazy) == convo.dumps(eager)
        same(lazy, eager)


# --------------------------------------------------------------------------- the parsed request


def root_kept(conv: Conversation) -> bool:
    """Whether *conv* is written back from its parsed request object (convo.model._ParsedRoot)."""
    return getattr(conv, "_lazy", None) is not None


_SHUFFLED = orjson.dumps({
    "x-new": {"a": [1, 2.5, None]}, "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": orjson.loads(REQUEST)["messages"], "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    "model": "claude-opus-4-8", "temperature": 0.5, "max_tokens": 64,
})


class TestParsedRequest:
    @pytest.mark.parametrize("data", [REQUEST, _SHUFFLED])
    def test_untouched_request_is_written_from_its_parsed_object(self, data: bytes) -> None:
        """An untouched request keeps its parsed object and is written from it: the eager bytes
        (keys in convo's order, whatever order they were read in), nothing built."""
        lazy, eager = lazy_and_eager(data)
        assert root_kept(lazy) and not root_kept(eager)
        assert convo.dumps(lazy) == convo.dumps(eager)
        assert not any(built(m) for m in lazy.messages if lazy_blocks(m) is not None)
        same(lazy, eager)

    def test_callers_get_their_own_top_level_object(self) -> None:
        """convo.codec.unstructure gives a new top-level dict each time: a caller that pops or
        sets a key (the executors, the formats do) changes nothing kept."""
        conv = convo.loads(_SHUFFLED)
        d = unstructure(conv)
        d.pop("model")
        d["stream"] = True
        assert convo.dumps(conv) == convo.dumps(structure(orjson.loads(_SHUFFLED), Conversation))
        assert "model" in unstructure(conv) and "stream" not in unstructure(conv)

    def test_a_changed_copy_is_written_from_its_values(self) -> None:
        """attrs.evolve, a transform's copy and a pickled copy are new objects: written from their
        values, never from the parsed object of the one they came from."""
        conv = convo.loads(_SHUFFLED)
        evolved = attrs.evolve(conv, model="claude-haiku-4-5")
        assert not root_kept(evolved) and orjson.loads(convo.dumps(evolved))["model"] == "claude-haiku-4-5"
        changed = t.inject_system("More.", where="top")(conv)
        assert not root_kept(changed) and len(orjson.loads(convo.dumps(changed))["system"]) == 2
        back = pickle.loads(pickle.dumps(conv))  # noqa: S301 - our own bytes
        assert convo.dumps(back) == convo.dumps(conv)

    @pytest.mark.parametrize("body", [
        {"messages": [{"content": "hi", "role": "user"}]},  # a turn's keys in another order
        {"messages": [{"role": "user", "content": [{"text": "a", "type": "text"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "u"}}]}]},
        {"system": [{"text": "s", "type": "text"}], "messages": []},  # a system block's keys
        {"messages": [{"role": "user", "content": "hi", "x": 1}]},
    ])
    def test_parsed_object_kept_only_where_it_writes_as_read(self, body: Any) -> None:
        """Where a turn or the system would be written differently from how it was read, the
        request is written from its values (the eager bytes)."""
        data = orjson.dumps(body)
        lazy, eager = lazy_and_eager(data)
        assert not root_kept(lazy)
        assert convo.dumps(lazy) == convo.dumps(eager)

    @settings(max_examples=60)
    @given(cs.conversations(images=True, tools=True, thinking=True, mid_system=True, max_turns=6),
           st.randoms(use_true_random=False), st.dictionaries(st.sampled_from(["x-a", "x-b", "zz"]), _json, max_size=2))
    def test_any_key_order(self, conv: Conversation, rnd: Any, extra: dict[str, Any]) -> None:
        """A generated request with its top-level keys shuffled and unknown keys added: written
        lazily as eagerly, equal, same hash, repr and pickle, and every transform agrees."""
        items = [*orjson.loads(convo.dumps(conv)).items(), *extra.items()]
        rnd.shuffle(items)
        data = orjson.dumps(dict(items))
        lazy, eager = lazy_and_eager(data)
        assert convo.dumps(lazy) == convo.dumps(eager)
        same(lazy, eager)
        check_transforms(data)

    def test_realworld_requests_keep_their_parsed_object(self) -> None:
        """Some realworld request lines are written from their parsed object (the test above,
        test_realworld_lines, checks their bytes and values against the eager decoding)."""
        kept = sum(1 for line in realworld_lines()
                   if detect_kind(orjson.loads(line)) == "request" and root_kept(convo.loads(line)))
        assert kept > 0


class TestSharedJson:
    def test_repeated_tools_are_frozen_once(self) -> None:
        """Requests with the same tools share one frozen value, equal to a fresh freeze."""
        a, b = convo.loads(_SHUFFLED), convo.loads(_SHUFFLED)
        assert a.tools is b.tools
        assert a.tools == structure(orjson.loads(_SHUFFLED), Conversation).tools

    @pytest.mark.parametrize("values", [(1, 1.0, True), (0.0, -0.0, 0), ("a", "a\u00e9")])
    def test_values_that_compare_equal_stay_apart(self, values: tuple[Any, ...]) -> None:
        """Tools whose JSON differs are never shared, even where Python calls the values equal."""
        for v in values:
            data = orjson.dumps({"tools": [{"name": "f", "v": v}]})
            got = convo.loads(data).tools[0]["v"]  # type: ignore[index]
            assert type(got) is type(v) and repr(got) == repr(v) and convo.dumps(convo.loads(data)) == data

    @pytest.mark.parametrize("order", [(0, 1), (1, 0)])
    def test_huge_integers_in_tools_stay_exact(self, order: tuple[int, int]) -> None:
        """A huge integer in tools is kept exact, and a float written in exponent form stays a
        float, whichever of the two (same text once parsed by orjson) is read first."""
        lines = [b'{"tools":[{"n":1000000000000000000000000000000}]}', b'{"tools":[{"n":1e30}]}']
        want = [10**30, 1e30]
        for i in (*order, *order):
            got = convo.loads(lines[i]).tools[0]["n"]  # type: ignore[index]
            assert type(got) is type(want[i]) and got == want[i]
            assert json.loads(convo.dumps(convo.loads(lines[i]))) == json.loads(lines[i])  # (exact ints)


_IMG = {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
_THINK = {"type": "thinking", "thinking": "hmm", "signature": "sig"}


def _turn(role: str, *blocks: Any) -> dict[str, Any]:
    return {"role": role, "content": list(blocks)}


class TestParsedTurns:
    """Transforms that edit a request's turns as parsed JSON (convo.model.lazy_turns) give the
    eager result, report the same changes, and build no turn."""

    @pytest.mark.parametrize("messages", [
        [_turn("user", _IMG), _turn("assistant", {"type": "text", "text": "a"}), _turn("user", _IMG)],  # dropped; last stays
        [_turn("user", _IMG), {"role": "system", "content": "s"}, _turn("user", {"type": "text", "text": "b"})],
        [_turn("user", {"type": "text", "text": "a"}, _IMG, _IMG), _turn("assistant", _THINK)],
        [_turn("assistant", _THINK, {"type": "text", "text": "a"}), _turn("user", {"type": "text", "text": "b"}),
         {"role": "system", "content": "s"}, _turn("assistant", _THINK), _turn("user", {"type": "text", "text": "c"}),
         _turn("assistant", _THINK, {"type": "text", "text": "d"})],
        [_turn("assistant", _THINK), _turn("user", {"type": "text", "text": "b"}), _turn("assistant", _THINK)],
    ])
    @pytest.mark.parametrize("tr", [t.drop_images(), t.drop_images(placeholder="[img]"), t.strip_thinking(),
                                    t.pipeline(t.drop_images(), t.strip_thinking())])
    def test_parsed_edits_agree(self, messages: list[Any], tr: t.Transform) -> None:
        data = orjson.dumps({"model": "claude-opus-4-8", "messages": messages})
        lazy = convo.loads(data)
        assert convo.model.lazy_turns(lazy) is not None
        out = tr(lazy)
        assert convo.model.lazy_turns(out) is not None  # still not built
        check_transforms(data)

    @pytest.mark.parametrize("messages", [
        [_turn("user", {"type": "tool_result", "tool_use_id": "t", "content": [_IMG]}, _IMG)],
    ])
    def test_images_in_tool_results_are_built(self, messages: list[Any]) -> None:
        """drop_images builds the turns where an image may sit inside a tool result, with the
        eager result."""
        data = orjson.dumps({"model": "claude-opus-4-8", "messages": [*messages, _turn("assistant", {"type": "text", "text": "x"}),
                                                        _turn("user", {"type": "text", "text": "y"})]})
        assert convo.model.lazy_turns(t.drop_images()(convo.loads(data))) is None
        assert convo.model.lazy_turns(t.drop_images(placeholder="[img]")(convo.loads(data))) is None
        check_transforms(data)

    def test_a_copy_carries_unbuilt_turns(self) -> None:
        """inject_system (a change beside the turns) keeps them unbuilt; reading them builds the
        turns of the original request."""
        conv = convo.loads(REQUEST)
        out = t.inject_system("More.", where="top")(conv)
        assert convo.model.lazy_turns(out) is not None and convo.model.lazy_turns(conv) is not None
        assert out.messages == conv.messages and convo.model.lazy_turns(out) is None
        assert convo.dumps(out) == convo.dumps(t.inject_system("More.", where="top")(
            structure(orjson.loads(REQUEST), Conversation)))

    @pytest.mark.parametrize("tr", [t.drop_images(placeholder="[img]"), t.strip_thinking(), t.redact("Calling"),
                                    t.pipeline(t.drop_sampling_params(), t.inject_system("x", where="top"))])
    @pytest.mark.parametrize("kind", ["request", "exchange"])
    def test_line_engine_writes_unbuilt_turns(self, tr: t.Transform, kind: str) -> None:
        """The command's path (decode_json_line, a transform, encode_value with base) writes the
        eager bytes for a line whose turns were never built, as for one whose turns were."""
        from convo.codec.lines import decode_json_line

        req = orjson.loads(REQUEST)
        data = REQUEST if kind == "request" else orjson.dumps({"id": 1, "request": req, "error": {"type": "x"}})
        value, parsed = decode_json_line(RawLine("f", 1, data))
        conv = conversation_of(value)
        assert conv is not None and convo.model.lazy_turns(conv) is not None
        new_conv = tr(conv)
        new = value if new_conv is conv else (
            new_conv if kind == "request" else attrs.evolve(value, request=new_conv))  # type: ignore[arg-type]
        eager = decode_value(orjson.loads(data), kind)  # type: ignore[arg-type]
        eager_conv = conversation_of(eager)
        assert eager_conv is not None
        out_eager = tr(eager_conv)
        eager_new = out_eager if kind == "request" else attrs.evolve(eager, request=out_eager)  # type: ignore[arg-type]
        assert encode_value(new, base=(value, parsed)) == encode_value(eager_new)

    def test_unknown_attribute_error_is_plain(self) -> None:
        """Reading an attribute a conversation does not have says so, as for any object."""
        with pytest.raises(AttributeError, match="'Conversation' object has no attribute 'nope'"):
            convo.loads(REQUEST).nope  # type: ignore[attr-defined]  # noqa: B018

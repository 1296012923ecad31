"""The codec: lossless round trips on every real payload, exact numbers, and errors that name the place."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import orjson
import pytest

import convo
from convo import codec
from convo import model as m
from convo._json import UNSET, FrozenDict
from convo.codec import (
    dump_json,
    dumps,
    dumps_response,
    loads,
    loads_response,
    parse_json,
    parse_json_exact,
)
from convo.codec.lines import RawLine, decode_line, encode_value
from convo.errors import DecodeError
from tests._helpers_codec import Payload, exact, exchanges, of_kind, payloads, schema_for
from tests._spec_strategies import load_spec, validator


@cache
def _validator(spec: str, component: str, lenient: bool) -> Any:
    return validator(load_spec(spec), component, lenient=lenient)


def _errors(p: Payload, body: Any) -> list[str]:
    v = _validator(*schema_for(p))
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(body))


def _round_trip(p: Payload) -> Any:
    """What convo writes for the payload's body, parsed back exactly."""
    data = dump_json(p.body)
    if p.kind in ("request", "count_tokens"):
        return exact(dumps(loads(data)))
    if p.kind == "response":
        return exact(dumps_response(loads_response(data)))
    if p.kind == "batch_create":
        lines = [encode_value(decode_line(RawLine("x", 1, dump_json(r))).value)
                 for r in p.body["requests"]]
        return {**p.body, "requests": [exact(x) for x in lines]}
    # an error body travels in an exchange record
    line = dump_json({"id": p.id, "request": {"model": "m", "messages": []}, "error": p.body})
    return exact(encode_value(decode_line(RawLine("x", 1, line)).value))["error"]


class TestRealworldPayloads:
    def test_every_kind_of_payload_is_found(self) -> None:
        """The payload loader finds the recorded material SOURCE.md describes (nothing skipped silently)."""
        kinds = [p.kind for p in payloads()]
        assert kinds.count("request") == 89  # 13 cookbook + 8 SDK + 63 recorded + 5 guide
        assert kinds.count("response") == 61
        assert kinds.count("count_tokens") == 5
        assert kinds.count("batch_create") == 4
        assert kinds.count("error") == 5
        assert len(exchanges()) == 63

    @pytest.mark.parametrize("p", payloads(), ids=lambda p: p.id)
    def test_round_trip_is_identity(self, p: Payload) -> None:
        """Loading then dumping a real payload gives back the same JSON."""
        assert _round_trip(p) == p.body

    @pytest.mark.parametrize("p", payloads(), ids=lambda p: p.id)
    def test_output_validates_exactly_as_the_input_does(self, p: Payload) -> None:
        """convo's output meets the spec exactly where its input did (responses: nullable = optional)."""
        assert _errors(p, _round_trip(p)) == _errors(p, p.body)

    def test_nearly_all_recorded_requests_are_spec_valid(self) -> None:
        """The strict request check is meaningful: all but the known-invalid payloads pass it."""
        reqs = of_kind("request")
        invalid = [p.id for p in reqs if _errors(p, p.body)]
        # the cookbook cell with budget_tokens 500 (spec/SOURCE.md), and the SDK's shape-only
        # "with_all_params" bodies with parameters newer than the spec copy (user_profile_id, ...)
        assert invalid == ["cookbook-requests.jsonl:4"] + [
            f"sdk-python-generated-params.jsonl:{n}" for n in (2, 4, 10, 12)]

    def test_every_recorded_response_passes_the_lenient_check(self) -> None:
        """With nullable fields optional, every recorded Message validates (spec/SOURCE.md)."""
        assert [p.id for p in of_kind("response") if _errors(p, p.body)] == []

    @pytest.mark.parametrize("i", range(len(exchanges())), ids=lambda i: exchanges()[i][0])
    def test_recorded_exchanges_round_trip_as_exchange_lines(self, i: int) -> None:
        """A recorded request with its response (or error) written as an exchange line comes back the same."""
        _src, _beta, req, resp, status = exchanges()[i]
        record: dict[str, Any] = {"id": i, "request": req}
        if isinstance(resp, str):
            record["response_sse"] = resp  # an unknown key, kept verbatim
            record["error"] = None
        elif status == 200:
            record["response"] = resp
        else:
            record["error"] = resp
        line = dump_json(record)
        rec = decode_line(RawLine("x.jsonl", 1, line))
        assert rec.kind == "exchange"
        assert exact(encode_value(rec.value)) == record


class TestLossless:
    def test_absent_and_null_stay_apart(self) -> None:
        """A field that was absent is written absent, and one that was null is written null."""
        data = {"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b", "citations": None}]}],
            "temperature": None}
        conv = loads(orjson.dumps(data))
        a, b = conv.messages[0].content
        assert a.citations is UNSET and b.citations is None and conv.top_p is UNSET
        assert exact(dumps(conv)) == data

    def test_string_and_block_content_stay_as_given(self) -> None:
        """String content is written as a string and a one-block list as a list."""
        data = {"messages": [{"role": "user", "content": "hi"},
                             {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                "system": [{"type": "text", "text": "s"}]}
        conv = loads(orjson.dumps(data))
        assert conv.messages[0].content == "hi"
        assert isinstance(conv.messages[1].content, tuple)
        assert isinstance(conv.system, tuple)
        assert exact(dumps(conv)) == data

    def test_unknown_keys_survive_at_every_level(self) -> None:
        """Keys convo does not model are kept on the request, messages, blocks, sources and nested blocks."""
        data = {
            "model": "m", "x_top": {"a": [1]},
            "messages": [{"role": "user", "x_msg": 1, "content": [
                {"type": "image", "x_block": True,
                 "source": {"type": "base64", "media_type": "image/png", "data": "AA==", "x_src": None}},
                {"type": "tool_result", "tool_use_id": "t", "x_tr": "y",
                 "content": [{"type": "text", "text": "r", "x_inner": [{}]}]},
            ]}],
        }
        conv = loads(orjson.dumps(data))
        assert conv.extra == {"x_top": {"a": (1,)}}
        assert conv.messages[0].extra == {"x_msg": 1}
        assert conv.messages[0].content[0].source.extra == {"x_src": None}
        assert exact(dumps(conv)) == data

    def test_unknown_block_and_source_types_are_kept_verbatim(self) -> None:
        """A block or source type convo does not know comes back exactly as it was."""
        data = {"messages": [{"role": "assistant", "content": [
            {"type": "compaction", "content": "summary", "n": [1, 2.5, None]},
            {"type": "document", "source": {"type": "hologram", "uri": "x://y"}},
        ]}]}
        conv = loads(orjson.dumps(data))
        block, doc = conv.messages[0].content
        assert isinstance(block, m.UnknownBlock) and block.type == "compaction"
        assert isinstance(doc.source, m.UnknownSource) and doc.source.type == "hologram"
        assert exact(dumps(conv)) == data

    def test_unicode_is_unchanged(self) -> None:
        """Astral characters, combining marks, RTL text, NUL and line separators survive as text."""
        text = "😀 𝄞 e\u0301 مرحبا 日本語 \u0000 \u2028 \"q\" \\"
        data = {"messages": [{"role": "user", "content": text}], "x": {text: text}}
        out = dumps(loads(orjson.dumps(data)))
        assert exact(out) == data
        assert "😀".encode() in out  # written as UTF-8, not as \\u escapes

    def test_numbers_are_unchanged(self) -> None:
        """Integers stay integers, floats stay floats, and precision is kept."""
        data = {"max_tokens": 1, "temperature": 1.0, "top_p": 0.1 + 0.2, "top_k": 0,
                "metadata": {"a": -0.0, "b": 1e-300, "c": 2**63 - 1, "d": -(2**63), "e": 2**64 - 1,
                             "f": 1.7976931348623157e308}}
        back = exact(dumps(loads(orjson.dumps(data))))
        assert back == data
        assert type(back["temperature"]) is float and type(back["max_tokens"]) is int
        assert back["top_p"] == 0.30000000000000004

    def test_output_key_order_is_canonical(self) -> None:
        """Whatever order the input had, known keys are written in one fixed order (deep-equal JSON)."""
        a = dumps(loads(b'{"messages": [{"content": "x", "role": "user"}], "max_tokens": 5, "model": "m"}'))
        b = dumps(loads(b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}'))
        assert a == b == b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}'

    def test_decoded_values_are_frozen(self) -> None:
        """JSON objects inside a decoded value are FrozenDicts and arrays tuples."""
        conv = loads(b'{"messages": [], "metadata": {"user_id": "u", "l": [{"a": 1}]}}')
        assert isinstance(conv.metadata, FrozenDict)
        assert isinstance(conv.metadata["l"], tuple) and isinstance(conv.metadata["l"][0], FrozenDict)
        with pytest.raises(TypeError):
            conv.metadata["user_id"] = "v"  # type: ignore[index]

    def test_decoding_is_data_only(self) -> None:
        """Keys and values that look like class paths are kept as data, never imported or called."""
        data = {"py/object": "os.system", "__class__": "convo.model.Text",
                "messages": [{"role": "user", "content": [{"type": "__import__('os')", "!!python": 1}]}]}
        conv = loads(orjson.dumps(data))
        assert isinstance(conv.messages[0].content[0], m.UnknownBlock)
        assert conv.extra["py/object"] == "os.system"
        assert exact(dumps(conv)) == data


class TestHugeIntegers:
    BIG = 123456789012345678901234567890

    @pytest.mark.parametrize("where", ["max_tokens", "metadata", "tool_input", "extra", "top_k"])
    def test_integers_beyond_64_bits_round_trip_exactly(self, where: str) -> None:
        """An integer orjson would turn into a float is read and written exactly, wherever it is."""
        big, neg = self.BIG, -self.BIG
        data: dict[str, Any] = {"model": "m", "messages": []}
        if where == "max_tokens":
            data["max_tokens"] = big
        elif where == "top_k":
            data["top_k"] = neg
        elif where == "metadata":
            data["metadata"] = {"n": [big, neg, 2**64]}
        elif where == "tool_input":
            data["messages"] = [{"role": "assistant", "content": [
                {"type": "tool_use", "id": "t", "name": "n", "input": {"id": big}}]}]
        else:
            data["x_count"] = big
        raw = json.dumps(data).encode()
        assert orjson.loads(raw) != data  # the trap: orjson alone would change the number
        assert exact(dumps(loads(raw))) == data

    def test_boundaries_of_the_exact_range(self) -> None:
        """2**64 - 1 and -2**63 are exact through orjson; one step beyond goes through the fallback."""
        for n in (2**64 - 1, -(2**63), 2**64, -(2**63) - 1):
            raw = f'{{"messages": [], "metadata": {{"n": {n}}}}}'.encode()
            conv = loads(raw)
            assert conv.metadata["n"] == n and type(conv.metadata["n"]) is int
            assert exact(dumps(conv))["metadata"]["n"] == n

    def test_large_float_literals_stay_floats(self) -> None:
        """A float written as such (1e19, 1e300) is not mistaken for an integer by the fallback."""
        conv = loads(b'{"messages": [], "temperature": 1e19, "metadata": {"x": -1e300, "y": 2e19}}')
        assert conv.temperature == 1e19 and type(conv.temperature) is float
        assert type(conv.metadata["y"]) is float
        assert exact(dumps(conv)) == {"messages": [], "temperature": 1e19,
                                      "metadata": {"x": -1e300, "y": 2e19}}

    def test_the_fallback_runs_only_for_lines_that_need_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ordinary lines never reach the slower standard-library parser."""
        calls: list[bytes] = []
        real = codec.parse_json_exact

        def counting(data: Any) -> Any:
            calls.append(bytes(data))
            return real(data)

        monkeypatch.setattr(codec, "parse_json_exact", counting)
        for p in of_kind("request")[:20]:
            loads(dump_json(p.body))
        assert calls == []
        loads(b'{"messages": [], "metadata": {"n": 99999999999999999999999}}')
        assert len(calls) == 1

    def test_huge_integers_in_responses_and_batch_results(self) -> None:
        """Usage counts and batch result lines keep huge integers exact too."""
        resp = {"id": "msg", "type": "message", "content": [], "usage": {"input_tokens": self.BIG}}
        assert exact(dumps_response(loads_response(json.dumps(resp)))) == resp
        line = {"custom_id": "c", "result": {"type": "succeeded", "message": resp, "n": -self.BIG}}
        rec = decode_line(RawLine("f", 1, json.dumps(line).encode()))
        assert exact(encode_value(rec.value)) == line

    def test_a_wrong_type_is_reported_as_the_integer_it_is(self) -> None:
        """A huge integer where a string belongs is called an integer, not the float orjson made of it."""
        with pytest.raises(DecodeError) as e:
            loads(b'{"messages": [{"role": 123456789012345678901234567890, "content": "x"}]}')
        assert str(e.value) == "$.messages[0].role: expected a string, got an integer"

    def test_dump_json_writes_big_integers_and_deep_values(self) -> None:
        """The writer falls back to the standard library for what orjson refuses but JSON allows."""
        deep: Any = 1
        for _ in range(300):  # orjson's writer stops at 254 levels
            deep = [deep]
        assert exact(dump_json({"a": deep, "b": 2**70})) == {"a": deep, "b": 2**70}

    def test_dump_json_still_refuses_what_is_not_json(self) -> None:
        """A lone surrogate or a non-JSON object is refused with orjson's own error."""
        with pytest.raises(orjson.JSONEncodeError, match="surrogates"):
            dump_json({"a": "\ud800", "b": 2**70})
        with pytest.raises(orjson.JSONEncodeError):
            dump_json({"a": object()})


class TestDecodeErrors:
    def _error(self, data: bytes | str) -> DecodeError:
        with pytest.raises(DecodeError) as e:
            loads(data)
        return e.value

    def test_invalid_json_names_the_column(self) -> None:
        """Broken JSON is reported with the column where parsing failed."""
        e = self._error(b'{"model": "m", "messages": [}')
        assert e.path == "$" and "invalid JSON at column 29" in e.expected

    def test_invalid_utf8_names_the_byte(self) -> None:
        """Bytes that are not UTF-8 are reported as such, with their offset."""
        e = self._error(b'{"model": "\xff\xfe"}')
        assert e.expected.startswith("invalid UTF-8 at byte 11")

    def test_utf8_encoded_surrogates_are_invalid_utf8(self) -> None:
        """A surrogate encoded in UTF-8 bytes (CESU style) is invalid UTF-8."""
        assert self._error(b'{"model": "\xed\xa0\x80"}').expected.startswith("invalid UTF-8")

    @pytest.mark.parametrize("escape", [rb"\ud800", rb"\udc00", rb"\ud800\u0041"])
    def test_lone_surrogate_escapes_are_reported_clearly(self, escape: bytes) -> None:
        """A \\u escape of a lone surrogate is refused with a message that says so."""
        e = self._error(b'{"messages": [], "model": "' + escape + b'"}')
        assert "lone surrogate" in e.expected and "valid Unicode" in e.expected

    def test_lone_surrogates_in_text_input_are_reported(self) -> None:
        """A Python string holding a lone surrogate is refused with its position."""
        e = self._error('{"model": "a\ud800"}')
        assert e.expected.startswith("lone surrogate U+D800 at character 12")

    @pytest.mark.parametrize("data", [b"", b"NaN", b'{"temperature": Infinity}', b"[1e400]"])
    def test_non_json_values_are_refused(self, data: bytes) -> None:
        """Empty input, NaN, Infinity and out-of-range numbers are not JSON."""
        assert isinstance(self._error(data), DecodeError)

    def test_wrong_types_are_reported_at_their_path(self) -> None:
        """A wrong type deep inside is reported with its $.path and what was expected there."""
        data = b'{"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": [' \
               b'{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", ' \
               b'"source": {"type": "base64", "media_type": "image/png", "data": 5}}]}]}]}'
        e = self._error(data)
        assert e.path == "$.messages[1].content[0].content[0].source.data"
        assert e.expected == "expected a string, got an integer"

    def test_missing_required_keys_are_named(self) -> None:
        """A block without a required key is reported at that key."""
        e = self._error(b'{"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t"}]}]}')
        assert (e.path, e.expected) == ("$.messages[0].content[0].name", "missing required key")

    def test_nesting_beyond_orjsons_limit_is_a_decode_error(self) -> None:
        """More than 1024 levels is refused with the limit in the message."""
        deep = b"[" * 1100 + b"]" * 1100
        e = self._error(b'{"messages": [], "metadata": ' + deep + b"}")
        assert "1024" in e.expected

    @pytest.mark.parametrize("depth", [200, 600, 900, 1015])
    def test_deep_nesting_never_raises_recursion_error(self, depth: int) -> None:
        """Deep tool input either round-trips or is a DecodeError, never a RecursionError."""
        inner = b"[" * depth + b"]" * depth
        data = (b'{"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", '
                b'"name": "n", "input": {"x": ' + inner + b"}}]}]}")
        try:
            conv = loads(data)
        except DecodeError as e:
            assert "nested too deeply" in e.expected
        else:
            assert exact(dumps(conv)) == exact(data)

    def test_deeply_nested_blocks_never_raise_recursion_error(self) -> None:
        """Tool results nested in tool results a thousand deep give a DecodeError."""
        s = b'{"type": "text", "text": "x"}'
        for _ in range(500):
            s = b'{"type": "tool_result", "tool_use_id": "t", "content": [' + s + b"]}"
        e = self._error(b'{"messages": [{"role": "user", "content": [' + s + b"]}]}")
        assert "nested too deeply" in e.expected

    def test_moderate_nesting_round_trips(self) -> None:
        """Fifty nested tool results and 200-deep tool input (far beyond real use) round-trip."""
        s = b'{"type": "text", "text": "x"}'
        for _ in range(50):
            s = b'{"type": "tool_result", "tool_use_id": "t", "content": [' + s + b"]}"
        data = b'{"messages": [{"role": "user", "content": [' + s + b"]}], \"metadata\": " + \
            b"[" * 200 + b"]" * 200 + b"}"
        assert exact(dumps(loads(data))) == exact(data)

    def test_nesting_past_orjsons_writer_limit_round_trips(self) -> None:
        """300 levels (orjson writes at most 254) are read and written back through the fallback."""
        data = b'{"messages": [], "metadata": {"deep": ' + b"[" * 300 + b"]" * 300 + b"}}"
        assert exact(dumps(loads(data))) == exact(data)

    def test_a_response_is_checked_like_a_request(self) -> None:
        """loads_response reports shape errors with their path."""
        with pytest.raises(DecodeError) as e:
            loads_response(b'{"id": "x", "usage": {"input_tokens": "many"}}')
        assert e.value.path == "$.usage.input_tokens"


class TestParseHelpers:
    def test_parse_json_matches_orjson(self) -> None:
        """parse_json gives what orjson gives for valid input."""
        data = b'{"a": [1, 2.5, "\xc3\xa9", null, true]}'
        assert parse_json(data) == orjson.loads(data)

    def test_parse_json_exact_keeps_big_integers(self) -> None:
        """The exact parser keeps integers of any size."""
        assert parse_json_exact(b'{"n": -99999999999999999999999}') == {"n": -99999999999999999999999}

    def test_parse_json_exact_reports_errors_like_parse_json(self) -> None:
        """Invalid input to the exact parser is a DecodeError with orjson's description."""
        with pytest.raises(DecodeError, match="invalid JSON"):
            parse_json_exact(b'{"n": NaN}')
        with pytest.raises(DecodeError, match="invalid UTF-8"):
            parse_json_exact(b'"\xff"')


class TestConverter:
    def test_make_converter_structures_and_unstructures(self) -> None:
        """A cattrs converter configured by convo reads and writes model objects."""
        c = codec.make_converter()
        conv = c.structure({"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                           m.Conversation)
        assert conv.messages[0].content == "hi"
        assert c.unstructure(conv) == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

    def test_configure_converter_teaches_a_users_own_converter(self) -> None:
        """configure_converter adds convo's hooks to any cattrs converter (here cattrs' orjson preset)."""
        from cattrs.preconf.orjson import make_converter as make_orjson_converter

        c = make_orjson_converter()
        codec.configure_converter(c)
        raw = b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "x": 1}]}]}'
        conv = c.loads(raw, m.Conversation)
        assert conv.messages[0].content[0].extra == {"x": 1}
        assert orjson.loads(c.dumps(conv)) == orjson.loads(raw)

    def test_converter_errors_are_decode_errors(self) -> None:
        """Shape errors through the cattrs converter are DecodeErrors with a path."""
        with pytest.raises(DecodeError) as e:
            codec.converter.structure({"type": "text"}, m.Text)
        assert e.value.path == "$.text"

    def test_converter_takes_block_unions(self) -> None:
        """Structuring to the Block union dispatches on "type"."""
        block = codec.converter.structure({"type": "thinking", "thinking": "t", "signature": "s"}, m.Block)
        assert isinstance(block, m.Thinking)

    def test_structure_takes_python_floats_as_floats(self) -> None:
        """structure() on already-parsed data keeps a large float as a float (no fallback needed)."""
        conv = codec.structure({"messages": [], "metadata": {"f": 1e30}}, m.Conversation)
        assert conv.metadata["f"] == 1e30

    def test_top_level_names_are_the_codec(self) -> None:
        """convo.loads and convo.dumps are the codec's."""
        assert convo.loads is loads and convo.dumps is dumps

"""Line kinds: detection, decoding with located errors, and encoding back."""

from __future__ import annotations

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
from convo import model as m
from convo.codec import dump_json
from convo.codec.lines import (
    LINE_KINDS,
    RawLine,
    Record,
    decode_json_line,
    decode_line,
    decode_value,
    detect_kind,
    encode_value,
)
from convo.errors import DecodeError
from convo.strategies import conversations
from convo.transforms import Transform, drop_images, map_text
from tests._helpers_codec import exact
from tests._helpers_transforms import stored_transcript_transforms

REQUEST = {"model": "claude-opus-4-8", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
RESPONSE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-8",
            "content": [{"type": "text", "text": "Hello"}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 2}}
LINES = {
    "request": REQUEST,
    "batch_request": {"custom_id": "req-1", "params": REQUEST},
    "batch_result": {"custom_id": "req-1", "result": {"type": "succeeded", "message": RESPONSE}},
    "exchange": {"id": "line-7", "request": REQUEST, "response": RESPONSE},
}


def _raw(obj: object, line: int = 1, file: str = "in.jsonl") -> RawLine:
    return RawLine(file, line, orjson.dumps(obj))


class TestDetectKind:
    @pytest.mark.parametrize("kind", LINE_KINDS)
    def test_each_kind_is_detected(self, kind: str) -> None:
        """Each of the four line shapes is told by its keys."""
        assert detect_kind(LINES[kind]) == kind

    @pytest.mark.parametrize(("obj", "kind"), [
        ({"messages": []}, "request"),
        ({"model": "m"}, "request"),
        ({"custom_id": "a", "result": {"type": "errored", "error": {}}}, "batch_result"),
        ({"request": {}, "error": {"type": "x"}}, "exchange"),
        ({"request": {}, "id": 3}, "exchange"),
    ])
    def test_minimal_shapes(self, obj: dict[str, object], kind: str) -> None:
        """The fewest keys that identify each kind are enough."""
        assert detect_kind(obj) == kind

    @pytest.mark.parametrize("obj", [{}, {"custom_id": "a"}, {"request": {}}, {"prompt": "x"}])
    def test_unrecognised_lines_are_decode_errors(self, obj: dict[str, object]) -> None:
        """A line that fits no kind raises a DecodeError listing the kinds."""
        with pytest.raises(DecodeError, match="batch result"):
            detect_kind(obj)

    def test_line_kinds_lists_all_four(self) -> None:
        """LINE_KINDS names the four kinds in detection order."""
        assert LINE_KINDS == ("request", "batch_request", "batch_result", "exchange")


class TestDecodeLine:
    @pytest.mark.parametrize("kind", LINE_KINDS)
    def test_each_kind_decodes_to_its_class_and_back(self, kind: str) -> None:
        """A line decodes to the kind's class and encodes back to the same JSON."""
        cls = {"request": m.Conversation, "batch_request": m.BatchRequest,
               "batch_result": m.BatchResult, "exchange": m.Exchange}[kind]
        rec = decode_line(_raw(LINES[kind], line=12))
        assert isinstance(rec, Record) and rec.kind == kind and isinstance(rec.value, cls)
        assert (rec.file, rec.line, rec.raw) == ("in.jsonl", 12, orjson.dumps(LINES[kind]))
        assert exact(encode_value(rec.value)) == LINES[kind]

    def test_nested_values_are_model_objects(self) -> None:
        """A batch result's message is a Response and an exchange's request a Conversation."""
        result = decode_line(_raw(LINES["batch_result"])).value
        assert isinstance(result, m.BatchResult) and isinstance(result.message, m.Response)
        assert result.message.text == "Hello"
        exchange = decode_line(_raw(LINES["exchange"])).value
        assert isinstance(exchange, m.Exchange) and exchange.request.messages[0].content == "Hi"

    def test_a_forced_kind_overrides_detection(self) -> None:
        """With kind given, the line is read as that kind and errors say what it lacks."""
        with pytest.raises(DecodeError) as e:
            decode_line(_raw(REQUEST, line=4), kind="batch_request")
        assert str(e.value) == "in.jsonl:4: $.custom_id: missing required key"

    def test_an_unknown_forced_kind_is_refused(self) -> None:
        """A kind outside the four is a DecodeError, not a KeyError."""
        with pytest.raises(DecodeError, match="unknown line kind 'chat'"):
            decode_line(_raw(REQUEST), kind="chat")  # type: ignore[arg-type]

    @pytest.mark.parametrize(("data", "what"), [
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b'"text"', "expected a JSON object, got a string"),
        (b"null", "expected a JSON object, got null"),
        (b"42", "expected a JSON object, got an integer"),
    ])
    def test_non_object_lines_are_refused(self, data: bytes, what: str) -> None:
        """A line that is JSON but not an object says what it is instead."""
        with pytest.raises(DecodeError) as e:
            decode_line(RawLine("f.jsonl", 9, data))
        assert str(e.value) == f"f.jsonl:9: $: {what}"

    def test_errors_carry_file_line_and_path(self) -> None:
        """A shape error deep inside a batch line names the file, the line and the $.path."""
        bad = {"custom_id": "x", "params": {"messages": [{"role": "user", "content": [{"type": "text"}]}]}}
        with pytest.raises(DecodeError) as e:
            decode_line(_raw(bad, line=31, file="batch.jsonl"))
        err = e.value
        assert (err.file, err.line, err.path) == ("batch.jsonl", 31, "$.params.messages[0].content[0].text")
        assert err.expected == "missing required key"

    def test_invalid_json_is_located(self) -> None:
        """Broken JSON on a line is a DecodeError at that file and line."""
        with pytest.raises(DecodeError) as e:
            decode_line(RawLine("a.jsonl", 2, b'{"model": '))
        assert (e.value.file, e.value.line) == ("a.jsonl", 2)
        assert "invalid JSON" in e.value.expected

    def test_a_raw_line_with_an_error_raises_it(self) -> None:
        """A line the reader already rejected (too long) raises that error."""
        err = DecodeError("line longer than the limit", file="a", line=3)
        with pytest.raises(DecodeError) as e:
            decode_line(RawLine("a", 3, b"{", err))
        assert e.value is err

    def test_huge_integers_on_a_line_are_exact(self) -> None:
        """The huge-integer fallback works through decode_line for every kind."""
        data = b'{"id": 123456789012345678901234567890, "request": {"messages": []}, "error": null}'
        rec = decode_line(RawLine("f", 1, data))
        assert rec.kind == "exchange" and rec.value.id == 123456789012345678901234567890
        assert exact(encode_value(rec.value)) == exact(data)

    def test_batch_result_without_result_type_is_located(self) -> None:
        """A result object without its type is reported at $.result.type."""
        with pytest.raises(DecodeError) as e:
            decode_line(_raw({"custom_id": "a", "result": {}}))
        assert e.value.path == "$.result.type"


class TestDecodeValue:
    def test_decodes_parsed_json(self) -> None:
        """decode_value builds the value of an already-parsed line."""
        value = decode_value(LINES["batch_request"], "batch_request")
        assert isinstance(value, m.BatchRequest) and value.custom_id == "req-1"

    def test_refuses_non_objects_and_unknown_kinds(self) -> None:
        """A non-object or an unknown kind is a DecodeError."""
        with pytest.raises(DecodeError, match="got an array"):
            decode_value([], "request")
        with pytest.raises(DecodeError, match="unknown line kind"):
            decode_value({}, "nope")  # type: ignore[arg-type]

    def test_errors_have_paths(self) -> None:
        """Shape errors from decode_value carry the $.path."""
        with pytest.raises(DecodeError) as e:
            decode_value({"request": {"max_tokens": "ten"}, "id": 1}, "exchange")
        assert e.value.path == "$.request.max_tokens"


class TestEncodeValue:
    def test_a_request_encodes_exactly_like_convo_dumps(self) -> None:
        """For a request line, encode_value gives the same bytes as convo.dumps."""
        conv = decode_line(_raw(REQUEST)).value
        assert isinstance(conv, m.Conversation)
        assert encode_value(conv) == convo.dumps(conv)

    def test_an_edited_value_encodes_its_edit(self) -> None:
        """A value changed with attrs.evolve is written with the change (and nothing else changed)."""
        br = decode_line(_raw(LINES["batch_request"])).value
        assert isinstance(br, m.BatchRequest)
        edited = attrs.evolve(br, params=attrs.evolve(br.params, max_tokens=99))
        assert exact(encode_value(edited)) == {**LINES["batch_request"],
                                               "params": {**REQUEST, "max_tokens": 99}}

    def test_a_response_can_be_encoded(self) -> None:
        """encode_value also writes a bare Response (as dumps_response does)."""
        resp = convo.loads_response(orjson.dumps(RESPONSE))
        assert encode_value(resp) == convo.dumps_response(resp)

    @settings(max_examples=50, deadline=None)
    @given(st.sampled_from(LINE_KINDS), st.text(), st.integers())
    def test_values_round_trip_with_arbitrary_ids_and_text(self, kind: str, text: str, n: int) -> None:
        """Any text and any integer id (huge ones too) survive decode and encode."""
        line = {**LINES[kind]}
        if kind == "exchange":
            line["id"] = n
        elif kind != "request":
            line["custom_id"] = text
        else:
            line = {**REQUEST, "messages": [{"role": "user", "content": text}], "max_tokens": n}
        rec = decode_line(RawLine("f", 1, dump_json(line)))
        assert exact(encode_value(rec.value)) == line


def _wrap(kind: str, request: object) -> object:
    return {"request": request, "batch_request": {"custom_id": "c", "params": request},
            "exchange": {"id": 3, "request": request, "error": {"type": "overloaded_error"}}}[kind]


class TestEncodeWithBase:
    """encode_value(new, base=(value, parsed)) writes the turns a transform left alone from the
    parsed line: the same JSON as building them again, with their keys in input order."""

    @settings(max_examples=100, deadline=None)
    @given(
        conv=conversations(images=True, tools=True, thinking=True),
        kind=st.sampled_from(["request", "batch_request", "exchange"]),
        transform=st.sampled_from(stored_transcript_transforms()),
        reverse_keys=st.booleans(),
    )
    def test_same_json_as_building_every_turn_again(
        self, conv: m.Conversation, kind: str, transform: Transform, reverse_keys: bool
    ) -> None:
        request = orjson.loads(convo.dumps(conv))
        if reverse_keys:  # keys in an order convo would never write them
            request["messages"] = [dict(reversed(list(x.items()))) for x in request["messages"]]
        value, parsed = decode_json_line(_raw(_wrap(kind, request)))
        before = decode_line(_raw(_wrap(kind, request))).value
        conv_in = value.params if isinstance(value, m.BatchRequest) else (
            value.request if isinstance(value, m.Exchange) else value)
        try:
            new_conv = transform(conv_in)
        except convo.errors.ConvoError:
            return  # a transform may refuse a conversation; nothing to encode
        new = (attrs.evolve(value, params=new_conv) if isinstance(value, m.BatchRequest) else
               attrs.evolve(value, request=new_conv) if isinstance(value, m.Exchange) else new_conv)
        reused = encode_value(new, base=(value, parsed))
        assert exact(reused) == exact(encode_value(new))
        assert decode_line(RawLine("f", 1, reused)).value == new
        assert value == before  # the parsed JSON was only read

    def test_untouched_turns_keep_their_key_order_and_changed_ones_are_rebuilt(self) -> None:
        line = (b'{"messages": [{"content": "a", "role": "user"}, {"content": "b", "role": "assistant"}, '
                b'{"content": "c", "role": "user"}], "model": "m"}')
        value, parsed = decode_json_line(RawLine("f", 1, line))
        upper_last = map_text(lambda s: s.upper() if s == "c" else s)
        assert encode_value(upper_last(value), base=(value, parsed)) == (
            b'{"model":"m","messages":[{"content":"a","role":"user"},{"content":"b","role":"assistant"},'
            b'{"role":"user","content":"C"}]}')

    def test_turns_dropped_before_others_are_matched_by_identity(self) -> None:
        image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
        line = orjson.dumps({"messages": [
            {"content": [image], "role": "user"}, {"content": "ok", "role": "assistant"},
            {"content": "next", "role": "user"}]})
        value, parsed = decode_json_line(RawLine("f", 1, line))
        new = drop_images()(value)
        assert len(new.messages) == 2  # the image-only turn went
        assert encode_value(new, base=(value, parsed)) == (
            b'{"messages":[{"content":"ok","role":"assistant"},{"content":"next","role":"user"}]}')

    def test_a_line_with_a_huge_integer_reuses_the_exact_parse(self) -> None:
        """orjson turns 2**70 into a float; the turn is written from the exact parse instead."""
        line = b'{"messages": [{"content": "a", "role": "user", "n": 1180591620717411303424}]}'
        value, parsed = decode_json_line(RawLine("f", 1, line))
        out = encode_value(drop_images()(value).with_params(model="m"), base=(value, parsed))
        assert out == b'{"model":"m","messages":[{"content":"a","role":"user","n":1180591620717411303424}]}'

    def test_a_value_without_turns_or_a_batch_result_encodes_plainly(self) -> None:
        for obj in ({"model": "m"}, LINES["batch_result"]):
            value, parsed = decode_json_line(_raw(obj))
            assert encode_value(value, base=(value, parsed)) == encode_value(value)


class TestReprs:
    def test_raw_line_repr_hides_long_data(self) -> None:
        """A long line's repr shows its size, not its bytes."""
        assert "<1000 bytes>" in repr(RawLine("f", 1, b"x" * 1000))

    def test_record_repr_shows_where(self) -> None:
        """A record's repr names its kind, file and line."""
        r = repr(decode_line(_raw(REQUEST, line=5)))
        assert "kind='request'" in r and "file='in.jsonl'" in r and "line=5" in r

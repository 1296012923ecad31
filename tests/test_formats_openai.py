"""OpenAI chat completions (convo.codec.formats.openai): the recorded openai-python pairs, every
mapping, the losses, and round trips."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from convo._json import UNSET
from convo.codec.formats import get
from convo.codec.formats.openai import (
    completion_from_chunks,
    completion_from_sse,
    read,
    read_response,
    write,
)
from convo.errors import DecodeError
from convo.model import (
    Base64Source,
    Conversation,
    Document,
    FileSource,
    Image,
    Message,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
    URLSource,
)
from tests._helpers_formats import (
    REALWORLD,
    assert_round_trip,
    chat_conversations,
    jsonl,
    pairing_problems,
    plain,
    whats,
)

RECORDED = jsonl(REALWORLD / "openai-chat" / "openai-python-recorded-chat-completions.jsonl")


def _response_body(pair: dict[str, Any]) -> dict[str, Any]:
    body = pair["response"]["body"]
    return completion_from_sse(body) if isinstance(body, str) else body


def _name(pair: dict[str, Any]) -> str:
    return pair["source"].split("::")[1]


STOPS = {
    "test_parse_nothing": "end_turn", "test_parse_pydantic_model": "end_turn",
    "test_parse_pydantic_model_optional_default": "end_turn", "test_parse_pydantic_model_enum": "end_turn",
    "test_parse_pydantic_model_multiple_choices": "end_turn", "test_parse_pydantic_dataclass": "end_turn",
    "test_pydantic_tool_model_all_types": "tool_use", "test_parse_max_tokens_reached": "max_tokens",
    "test_parse_pydantic_model_refusal": "refusal", "test_parse_pydantic_tool": "tool_use",
    "test_parse_multiple_pydantic_tools": "tool_use", "test_parse_strict_tools": "tool_use",
    "test_parse_pydantic_raw_response": "end_turn", "test_content_logprobs_events": "end_turn",
    "test_refusal_logprobs_events": "refusal", "test_non_pydantic_response_format": "end_turn",
    "test_allows_non_strict_tools_but_no_parsing": "tool_use",
}


class TestRecordedPairs:
    def test_file_has_the_documented_pairs(self) -> None:
        """The recorded file holds 13 JSON and 12 SSE pairs (SOURCE.md)."""
        kinds = [isinstance(p["response"]["body"], str) for p in RECORDED]
        assert (kinds.count(False), kinds.count(True)) == (13, 12)

    @pytest.mark.parametrize("pair", RECORDED, ids=lambda p: p["source"].rsplit("/", 1)[1])
    def test_request_reads_and_round_trips(self, pair: dict[str, Any]) -> None:
        """Every recorded request body reads (user turns, model) and writes back the same body,
        except where a loss says why."""
        body = pair["request"]["body"]
        c = read(body)
        conv = c.conversation
        assert conv.model == "gpt-4o-2024-08-06"
        assert [m.role for m in conv.messages] == [m["role"] for m in body["messages"] if m["role"] != "system"]
        opts = {"max_tokens_field": "max_tokens"} if "max_tokens" in body else {}
        written, wl = write(conv, **opts)
        assert wl == ()
        assert_round_trip(body, written, c.losses)

    @pytest.mark.parametrize("pair", RECORDED, ids=lambda p: p["source"].rsplit("/", 1)[1])
    def test_response_reads_with_the_right_stop_reason(self, pair: dict[str, Any]) -> None:
        """Every recorded response (JSON, or SSE chunks added up) reads as a Response whose
        stop_reason and content match the recorded finish."""
        resp, losses = read_response(_response_body(pair))
        assert resp.stop_reason == STOPS[_name(pair)]
        assert resp.model == "gpt-4o-2024-08-06" and resp.id.startswith("chatcmpl-")
        assert resp.usage.output_tokens > 0 and resp.usage.input_tokens > 0
        kinds = {type(b) for b in resp.content}
        assert kinds == ({ToolUse} if resp.stop_reason == "tool_use" else {Text})
        assert "$.created" in [loss.path for loss in losses]

    def test_tool_calls_keep_their_ids_and_arguments(self) -> None:
        """The two parallel calls of test_parse_multiple_pydantic_tools keep ids and parsed input,
        in the JSON response and in the added-up stream alike."""
        got = []
        for pair in RECORDED:
            if _name(pair) == "test_parse_multiple_pydantic_tools":
                resp, _ = read_response(_response_body(pair))
                got.append([(b.id, b.name, dict(b.input)) for b in resp.content])
        assert got[0] == [
            ("call_fdNz3vOBKYgOIpMdWotB9MjY", "GetWeatherArgs", {"city": "Edinburgh", "country": "GB", "units": "c"}),
            ("call_h1DWI1POMJLb0KwIyQHWXD4p", "get_stock_price", {"ticker": "AAPL", "exchange": "NASDAQ"}),
        ]
        assert [(n, d) for _, n, d in got[1]] == [(n, d) for _, n, d in got[0]]
        assert [i for i, _, _ in got[1]] == ["call_JMW1whyEaYG438VE1OIflxA2", "call_DNYTawLBoN8fj3KN6qU9N1Ou"]

    def test_refusal_is_text_with_stop_reason_refusal(self) -> None:
        """A refusal message becomes its text, stop_reason refusal, and a reported loss."""
        pair = next(p for p in RECORDED if _name(p) == "test_parse_pydantic_model_refusal")
        resp, losses = read_response(pair["response"]["body"])
        assert resp.text == "I'm very sorry, but I can't assist with that."
        assert "$.choices[0].message.refusal: refusal" in whats(losses)

    def test_multiple_choices_report_the_others(self) -> None:
        """n=3: the request's n and the second and third choices are reported."""
        pair = next(p for p in RECORDED if _name(p) == "test_parse_pydantic_model_multiple_choices")
        assert whats(read(pair["request"]["body"]).losses) == ["$.n: n 3"]
        _, losses = read_response(pair["response"]["body"])
        assert [loss.path for loss in losses][:2] == ["$.choices[1]", "$.choices[2]"]

    def test_logprobs_are_reported_not_dropped(self) -> None:
        """logprobs in a request and in a streamed response are reported as losses."""
        pair = next(p for p in RECORDED if _name(p) == "test_content_logprobs_events")
        assert whats(read(pair["request"]["body"]).losses) == ["$.logprobs: logprobs True"]
        _, losses = read_response(_response_body(pair))
        assert "$.choices[0].logprobs" in [loss.path for loss in losses]

    def test_json_object_response_format_is_reported(self) -> None:
        """response_format json_object has no Messages API equivalent and is reported."""
        pair = next(p for p in RECORDED if _name(p) == "test_non_pydantic_response_format")
        assert whats(read(pair["request"]["body"]).losses) == ["$.response_format: response_format 'json_object'"]

    def test_strict_tool_maps_to_an_anthropic_tool(self) -> None:
        """A strict function tool becomes {name, input_schema, strict}."""
        pair = next(p for p in RECORDED if _name(p) == "test_parse_strict_tools")
        (tool,) = read(pair["request"]["body"]).conversation.tools
        assert plain(tool) == {"name": "get_weather", "strict": True, "input_schema": {
            "type": "object", "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
            "required": ["city", "state"], "additionalProperties": False}}

    @pytest.mark.parametrize("pair", [p for p in RECORDED if STOPS[_name(p)] == "tool_use"],
                             ids=lambda p: p["source"].rsplit("/", 1)[1])
    def test_request_response_and_tool_results_pair(self, pair: dict[str, Any]) -> None:
        """Request + response + one tool message per call reads as a conversation whose tool_use
        ids are exactly the ones the tool_results answer."""
        resp_msg = _response_body(pair)["choices"][0]["message"]
        results = [{"role": "tool", "tool_call_id": tc["id"], "content": "42"} for tc in resp_msg["tool_calls"]]
        body = {**pair["request"]["body"], "messages": [*pair["request"]["body"]["messages"], resp_msg, *results]}
        conv = read(body).conversation
        assert pairing_problems(conv) == []
        assert [b.tool_use_id for b in conv.messages[-1].content] == [tc["id"] for tc in resp_msg["tool_calls"]]


class TestReadMessages:
    def test_system_and_developer(self) -> None:
        """Leading system/developer messages become the system field; developer is reported."""
        c = read({"messages": [{"role": "developer", "content": "Rules."}, {"role": "user", "content": "Hi"}]})
        assert c.conversation.system == "Rules."
        assert whats(c.losses) == ["$.messages[0].role: role 'developer'"]

    def test_mid_conversation_system(self) -> None:
        """A system message after a user turn and before an assistant turn is a system turn, no
        loss; one before a user turn is kept and reported."""
        ok = read([{"role": "user", "content": "a"}, {"role": "system", "content": "s"},
                   {"role": "assistant", "content": "b"}])
        assert [m.role for m in ok.conversation.messages] == ["user", "system", "assistant"]
        assert ok.losses == ()
        bad = read([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                    {"role": "system", "content": "s"}, {"role": "user", "content": "c"}])
        assert whats(bad.losses) == ["$[2]: mid-conversation system message"]

    def test_tool_messages_group_into_one_user_turn(self) -> None:
        """Consecutive tool messages form one user turn of results; a following user message joins
        that turn after the results (as the API joins consecutive user turns); the body writes
        back unchanged."""
        body = {"messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": '{"city":"Paris"}'}},
                {"id": "c2", "type": "function", "function": {"name": "w", "arguments": '{"city":"Rome"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "21C"}]},
            {"role": "user", "content": "Thanks"}]}
        c = read(body)
        msgs = c.conversation.messages
        assert [m.role for m in msgs] == ["user", "assistant", "user"]
        assert msgs[1].content == (Text("Checking."), ToolUse("c1", "w", {"city": "Paris"}), ToolUse("c2", "w", {"city": "Rome"}))
        assert msgs[2].content == (ToolResult("c1", content="18C"), ToolResult("c2", content=(Text("21C"),)),
                                   Text("Thanks"))
        assert c.losses == () and pairing_problems(c.conversation) == []
        assert plain(write(c.conversation)[0]) == body

    def test_invalid_arguments_are_kept_raw_and_reported(self) -> None:
        """Arguments that are not a JSON object stay the raw string and write back unchanged."""
        body = {"messages": [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}}]}]}
        c = read(body)
        assert c.conversation.messages[0].content[0].input == '{"a": 1'
        assert whats(c.losses) == ['$.messages[0].tool_calls[0].function.arguments: arguments \'{"a": 1\'']
        assert plain(write(c.conversation)[0]) == body

    def test_images(self) -> None:
        """A data URL becomes a base64 image with its media type, an http URL a URL image, a file
        part's file id a document with a file source; detail and audio are reported."""
        c = read([{"role": "user", "content": [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklG", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://e.com/a.jpg"}},
            {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-1"}}]}])
        assert c.conversation.messages[0].content == (
            Text("Look"), Image(Base64Source("image/webp", "UklG")), Image(URLSource("https://e.com/a.jpg")),
            Document(FileSource("file-1")))
        assert whats(c.losses) == ["$[0].content[1].image_url.detail: field 'detail' = 'high'",
                                   "$[0].content[3]: audio"]

    def test_names_refusals_and_reasoning(self) -> None:
        """name is reported; a refusal becomes text; reasoning_content an unsigned thinking block."""
        c = read([{"role": "user", "content": "q", "name": "ann"},
                  {"role": "assistant", "content": "Sure.", "reasoning_content": "think"},
                  {"role": "user", "content": "q2"},
                  {"role": "assistant", "content": None, "refusal": "No."}])
        msgs = c.conversation.messages
        assert msgs[1].content == (Thinking("think", ""), Text("Sure."))
        assert msgs[3].content == (Text("No."),)
        assert whats(c.losses) == ["$[0].name: name 'ann'", "$[1].reasoning_content: thinking signature",
                                   "$[3].refusal: refusal"]

    def test_legacy_function_calling(self) -> None:
        """function_call and role function pair by a generated id; functions become tools."""
        c = read({"functions": [{"name": "f", "parameters": {"type": "object"}}], "function_call": "auto",
                  "messages": [{"role": "user", "content": "go"},
                               {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
                               {"role": "function", "name": "f", "content": "done"}]})
        conv = c.conversation
        assert conv.messages[1].content == (ToolUse("call_1_0", "f", {}),)
        assert conv.messages[2].content == (ToolResult("call_1_0", content="done"),)
        assert plain(conv.tools) == [{"name": "f", "input_schema": {"type": "object"}}]
        assert plain(conv.tool_choice) == {"type": "auto"}
        assert pairing_problems(conv) == []


BODY: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 50,
            "temperature": 0.5, "top_p": 0.9, "stop": ["END"], "user": "u1", "tool_choice": "required",
            "parallel_tool_calls": False, "reasoning_effort": "high",
            "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}}}}


class TestParams:

    def test_parameters_map(self) -> None:
        """Sampling, stop, user, tool choice, parallel calls, effort and JSON schema all map."""
        c = read(BODY)
        conv = c.conversation
        assert (conv.max_tokens, conv.temperature, conv.top_p, conv.stop_sequences) == (50, 0.5, 0.9, ("END",))
        assert plain(conv.metadata) == {"user_id": "u1"}
        assert plain(conv.tool_choice) == {"type": "any", "disable_parallel_tool_use": True}
        assert plain(conv.output_config) == {"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}}
        assert whats(c.losses) == ["$.response_format.json_schema.name: json_schema name"]

    def test_parameters_write_back(self) -> None:
        """The mapped parameters write back to the same body, except the reported schema name."""
        c = read(BODY)
        written, wl = write(c.conversation)
        assert wl == ()
        assert_round_trip(BODY, written, c.losses)
        assert written["response_format"]["json_schema"]["name"] == "response"

    def test_unmapped_parameters_are_reported(self) -> None:
        """seed, penalties and a temperature above 1 are reported."""
        c = read({"messages": [], "seed": 7, "frequency_penalty": 0.1, "temperature": 1.5})
        assert whats(c.losses) == ["$.seed: seed 7", "$.frequency_penalty: frequency_penalty 0.1",
                                   "$.temperature: temperature 1.5"]

    def test_max_tokens_name_is_a_documented_normalisation(self) -> None:
        """max_tokens reads as max_tokens and writes as max_completion_tokens unless asked."""
        c = read({"messages": [], "max_tokens": 9})
        assert c.conversation.max_tokens == 9
        assert whats(c.losses) == ["$.max_tokens: the name max_tokens"]
        assert write(c.conversation)[0] == {"messages": [], "max_completion_tokens": 9}
        assert write(c.conversation, max_tokens_field="max_tokens")[0] == {"messages": [], "max_tokens": 9}


class TestWrite:
    def test_what_chat_completions_cannot_hold_is_reported(self) -> None:
        """Files API images, error flags, cache_control, top_k and thinking config are losses; a
        base64 PDF is a file part."""
        conv = Conversation(model="m", max_tokens=5, top_k=3, thinking={"type": "adaptive"}, messages=(
            Message("user", (Image(FileSource("file_1")), Document(Base64Source("application/pdf", "JVBE")),
                             Text("hi", cache_control={"type": "ephemeral"}))),
            Message("assistant", (ToolUse("t1", "f", {}),)),
            Message("user", (ToolResult("t1", content="boom", is_error=True),))))
        body, losses = write(conv)
        assert body["messages"][0] == {"role": "user", "content": [
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "document.pdf"}},
            {"type": "text", "text": "hi"}]}
        assert body["messages"][2] == {"role": "tool", "tool_call_id": "t1", "content": "boom"}
        assert whats(losses) == [
            "$.messages[0].content[0]: image from the Files API",
            "$.messages[0].content[2].cache_control: cache_control", "$.messages[2].content[0].is_error: is_error",
            "$.thinking: thinking {'type': 'adaptive'}", "$.top_k: top_k 3"]

    def test_thinking_goes_to_reasoning_content(self) -> None:
        """By default thinking is reported (OpenAI's request has no place for it); with
        reasoning_field="reasoning_content" its text is written there and a signature is reported."""
        conv = Conversation().user("q").assistant(Thinking("hmm", "sig"), Text("a"))
        body, losses = write(conv, reasoning_field="reasoning_content")
        assert body["messages"][1] == {"role": "assistant", "content": "a", "reasoning_content": "hmm"}
        assert whats(losses) == ["$.messages[1].content[0].signature: thinking signature"]
        body, losses = write(conv)
        assert body["messages"][1] == {"role": "assistant", "content": "a"}
        assert whats(losses) == ["$.messages[1].content[0]: thinking block"]

    @settings(max_examples=80, deadline=None)
    @given(chat_conversations())
    def test_chat_conversations_round_trip_without_loss(self, conv: Conversation) -> None:
        """A conversation of text, images, tool calls and results survives convo -> openai -> convo."""
        body, losses = write(conv)
        assert losses == ()
        back = read(plain(body))
        assert back.losses == ()
        assert back.conversation == conv


class TestStreams:
    def test_chunks_add_up_tool_calls_by_index(self) -> None:
        """Tool-call deltas are joined by index into whole calls."""
        c = completion_from_chunks([
            {"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": '{"k"'}}]}}]},
            {"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": ': 1}'}}]}, "finish_reason": "tool_calls"}]}])
        assert c["choices"][0]["message"]["tool_calls"] == [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"k": 1}'}}]

    def test_bad_sse_data_names_the_line(self) -> None:
        """A data line that is not JSON raises a DecodeError with its line number."""
        with pytest.raises(DecodeError) as e:
            completion_from_sse("data: {}\n\ndata: {oops\n")
        assert e.value.line == 3


class TestMalformed:
    @pytest.mark.parametrize(("obj", "path"), [
        ({"model": "m"}, "$.messages"),
        ({"messages": {"role": "user"}}, "$.messages"),
        ({"messages": ["hi"]}, "$.messages[0]"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "$.messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "$.messages[0].content"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]},
         "$.messages[0].tool_calls[0].function.name"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]}, "$.messages[0].content[0].text"),
        ({"messages": [], "max_tokens": "9"}, "$.max_tokens"),
        (42, "$"),
    ])
    def test_decode_errors_name_the_place(self, obj: Any, path: str) -> None:
        """Malformed input raises DecodeError at the exact $.path."""
        with pytest.raises(DecodeError) as e:
            read(obj)
        assert e.value.path == path

    def test_registry_entry_is_this_module(self) -> None:
        """The registry's openai format reads with this module."""
        assert get("openai").read([{"role": "user", "content": "x"}]).conversation.system is UNSET

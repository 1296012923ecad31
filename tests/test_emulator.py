"""The local Messages API emulator over real sockets on 127.0.0.1, with plain httpx."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import jsonschema
import pytest

from convo import model as m
from convo.errors import OverloadedError
from convo.profiles import builtin_profiles, get_profile, profiles_from_models_response
from convo.testing import Emulator, Fault, FaultSchedule
from convo.testing._faults import parse_faults
from convo.testing._replies import (
    build_response,
    default_reply,
    estimate_input_tokens,
    stream_events,
)
from convo.transforms.tokens import text_tokens as estimate_tokens
from tests import _helpers_emulator as h

H26, H23, KEY, body_of = h.H26, h.H23, h.KEY, h.request_body
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "days", "unit"],
    },
}


@pytest.fixture
def emu():
    e = Emulator(batch_delay=0.2)
    e.start()
    yield e
    e.stop()


@pytest.fixture
def client(emu):
    with httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


def error_of(r: httpx.Response) -> dict[str, Any]:
    """The error body of a response, after checking the API's error shape."""
    data = r.json()
    assert set(data) == {"type", "error", "request_id"}
    assert data["type"] == "error"
    assert data["request_id"] == r.headers["request-id"]
    if data["error"]["type"] != "request_too_large":  # a type the spec lacks (facts §9.5)
        assert not h.schema_errors(data, "ErrorResponse")
    return data["error"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- messages


class TestMessages:
    def test_reply_echoes_the_last_user_turn(self, client):
        """A plain request gets a 200 whose text echoes the last user turn."""
        r = client.post("/v1/messages", headers=H26, json=body_of("  What is 2+2?  "))
        assert r.status_code == 200
        data = r.json()
        assert data["content"] == [{"type": "text", "text": "echo: What is 2+2?", "citations": None}]
        assert data["stop_reason"] == "end_turn"
        assert data["model"] == "claude-sonnet-4-5"
        assert data["id"].startswith("msg_")

    def test_every_response_has_request_and_organization_ids(self, client):
        """Success and error responses both carry request-id and anthropic-organization-id."""
        ok = client.post("/v1/messages", headers=H26, json=body_of())
        bad = client.post("/v1/messages", headers={"anthropic-version": "2026-10-21"},
                          json=body_of())
        for r in (ok, bad):
            assert r.headers["request-id"].startswith("req_")
            assert r.headers["anthropic-organization-id"]
        assert ok.headers["request-id"] != bad.headers["request-id"]

    def test_response_validates_against_the_spec(self, client):
        """The reply is a valid Message, even with the spec's nullable fields required."""
        data = client.post("/v1/messages", headers=H26, json=body_of()).json()
        assert h.schema_errors(data, "Message") == []
        assert h.schema_errors(data, "Message", lenient=False) == []

    def test_replies_are_deterministic(self, client):
        """The same request gets the same id and text; another request a different id."""
        a = client.post("/v1/messages", headers=H26, json=body_of("one")).json()
        b = client.post("/v1/messages", headers=H26, json=body_of("one")).json()
        c = client.post("/v1/messages", headers=H26, json=body_of("two")).json()
        assert a == b
        assert a["id"] != c["id"]

    def test_usage_is_plausible(self, client):
        """Usage has input tokens that grow with the input and at least one output token."""
        short = client.post("/v1/messages", headers=H26, json=body_of("hi")).json()["usage"]
        long = client.post("/v1/messages", headers=H26, json=body_of("hi " * 400)).json()["usage"]
        assert short["output_tokens"] >= 1
        assert 1 <= short["input_tokens"] < long["input_tokens"]
        assert long["input_tokens"] >= 1200 // 4

    def test_tiny_max_tokens_stops_with_max_tokens(self, client):
        """A max_tokens smaller than the reply cuts it and says max_tokens."""
        data = client.post("/v1/messages", headers=H26,
                           json=body_of("a long question indeed", max_tokens=2)).json()
        assert data["stop_reason"] == "max_tokens"
        assert data["usage"]["output_tokens"] == 2
        assert data["content"][0]["text"] == "echo: a "

    def test_stop_sequence_cuts_the_reply(self, client):
        """The first stop sequence found in the reply ends it, and is reported."""
        data = client.post("/v1/messages", headers=H26,
                           json=body_of("alpha STOP beta", stop_sequences=["beta", "STOP"])).json()
        assert data["stop_reason"] == "stop_sequence"
        assert data["stop_sequence"] == "STOP"
        assert data["content"][0]["text"] == "echo: alpha "

    def test_forced_tool_choice_answers_with_a_tool_use(self, client):
        """tool_choice of type tool gets a tool_use whose input validates against input_schema."""
        data = client.post("/v1/messages", headers=H26, json=body_of(
            "Paris", tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": "get_weather"},
        )).json()
        assert data["stop_reason"] == "tool_use"
        [block] = data["content"]
        assert block["type"] == "tool_use" and block["name"] == "get_weather"
        assert list(jsonschema.Draft202012Validator(WEATHER_TOOL["input_schema"]).iter_errors(
            block["input"])) == []
        assert {"city", "days", "unit"} <= set(block["input"])
        assert block["id"].startswith("toolu_")
        assert h.schema_errors(data, "Message", lenient=False) == []

    def test_thinking_comes_first_with_a_signature(self, client):
        """With thinking enabled the reply starts with a signed thinking block."""
        data = client.post("/v1/messages", headers=H26, json=body_of(
            "Hi", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024})).json()
        thinking, text = data["content"]
        assert thinking["type"] == "thinking" and thinking["thinking"] and thinking["signature"]
        assert text["text"] == "echo: Hi"

    def test_omitted_thinking_display_keeps_only_the_signature(self, client):
        """display omitted gives an empty thinking text with its signature kept."""
        data = client.post("/v1/messages", headers=H26, json=body_of(
            "Hi", max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024, "display": "omitted"})).json()
        assert data["content"][0]["thinking"] == ""
        assert data["content"][0]["signature"]

    def test_tool_result_turn_is_echoed(self, client):
        """When the last user turn holds tool results, their text is echoed."""
        msgs = [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21C"}]},
        ]
        data = client.post("/v1/messages", headers=H26,
                           json=body_of(messages=msgs, tools=[WEATHER_TOOL])).json()
        assert data["content"][0]["text"] == "echo: Sunny, 21C"


class TestHandlers:
    def test_text_handler_is_shaped_like_the_default(self, emu, client):
        """A handler returning text gets the default shaping (max_tokens applies)."""
        emu.handler = lambda conv: f"{len(conv.messages)} message(s) from {conv.model}"
        data = client.post("/v1/messages", headers=H26, json=body_of()).json()
        assert data["content"][0]["text"] == "1 message(s) from claude-sonnet-4-5"
        data = client.post("/v1/messages", headers=H26, json=body_of(max_tokens=1)).json()
        assert data["stop_reason"] == "max_tokens"

    def test_response_handler_keeps_what_it_says(self, emu, client):
        """A Response from the handler is sent as is, with only the missing fields filled."""
        emu.handler = lambda conv: m.Response(
            content=(m.Text("refused"),), stop_reason="refusal",
            stop_details=m.StopDetails("refusal", category="cyber", explanation=None),
            usage=m.Usage(output_tokens=7))
        data = client.post("/v1/messages", headers=H26, json=body_of()).json()
        assert data["stop_reason"] == "refusal"
        assert data["stop_details"] == {"type": "refusal", "category": "cyber", "explanation": None}
        assert data["usage"]["output_tokens"] == 7
        assert data["usage"]["input_tokens"] >= 1
        assert data["id"].startswith("msg_") and data["model"] == "claude-sonnet-4-5"
        assert h.schema_errors(data, "Message") == []

    def test_handler_can_answer_with_an_api_error(self, emu, client):
        """A handler raising APIStatusError makes the emulator answer with that error."""
        def handler(conv):
            raise OverloadedError("busy", status=529, type="overloaded_error")

        emu.handler = handler
        r = client.post("/v1/messages", headers=H26, json=body_of())
        assert r.status_code == 529
        assert error_of(r) == {"type": "overloaded_error", "message": "busy"}

    def test_crashing_handler_is_a_500(self, emu, client):
        """A handler that raises anything else gives a 500 api_error naming the exception."""
        emu.handler = lambda conv: 1 / 0
        r = client.post("/v1/messages", headers=H26, json=body_of())
        assert r.status_code == 500
        err = error_of(r)
        assert err["type"] == "api_error" and "ZeroDivisionError" in err["message"]

    def test_handler_of_the_wrong_type_is_a_500(self, emu, client):
        """A handler returning neither a Response nor text is reported, not crashed on."""
        emu.handler = lambda conv: 42
        r = client.post("/v1/messages", headers=H26, json=body_of())
        assert r.status_code == 500 and "int" in error_of(r)["message"]


    def test_cassette_replays_recorded_exchanges(self, tmp_path):
        """cassette= answers from a convo.executor cassette; a miss is a 404 naming the nearest."""
        from convo.codec import loads
        from convo.executor import Cassette, request_key

        body = body_of("a recorded question")
        conv = loads(json.dumps(body))
        path = tmp_path / "cassette.jsonl"
        Cassette(path).add({
            "key": request_key(conv), "endpoint": "messages", "request": body,
            "response": {"type": "message", "role": "assistant", "stop_reason": "end_turn",
                         "content": [{"type": "text", "text": "from the cassette"}]},
        })
        with Emulator(cassette=path) as url, httpx.Client(base_url=url) as c:
            hit = c.post("/v1/messages", headers=H26, json=body)
            streamed = h.parse_sse(c.post("/v1/messages", headers=H26,
                                          json={**body, "stream": True}).text)
            miss = c.post("/v1/messages", headers=H26, json=body_of("another question"))
        assert hit.status_code == 200
        assert hit.json()["content"][0]["text"] == "from the cassette"
        assert h.assemble(streamed)["content"][0]["text"] == "from the cassette"
        assert miss.status_code == 404
        err = error_of(miss)
        assert err["type"] == "not_found_error" and "nearest recorded request" in err["message"]


# --------------------------------------------------------------------------- streaming


def stream(client: httpx.Client, body: dict[str, Any], headers: dict[str, str] = H26):
    r = client.post("/v1/messages", headers=headers, json={**body, "stream": True})
    return r, h.parse_sse(r.text)


class TestStreaming:
    def test_sse_framing_and_order(self, client):
        """A stream is named SSE frames in the documented order, with a ping after the first block starts."""
        r, events = stream(client, body_of("Tell me a long story about ants and their queens"))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["transfer-encoding"] == "chunked"
        names = [n for n, _ in events]
        assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
        assert names[1:3] == ["content_block_start", "ping"]
        assert names.count("content_block_delta") >= 3
        start = events[0][1]["message"]
        assert start["content"] == [] and start["stop_reason"] is None

    def test_every_event_validates_against_the_spec(self, client):
        """Each event but ping is a valid MessageStreamEvent."""
        _, events = stream(client, body_of("Hi", max_tokens=2048, tools=[WEATHER_TOOL],
                                           thinking={"type": "enabled", "budget_tokens": 1024}))
        for name, ev in events:
            if name != "ping":
                assert h.schema_errors(ev, "MessageStreamEvent") == [], name

    def test_stream_assembles_to_the_plain_reply(self, client):
        """The assembled stream equals the non-streaming reply, usage included."""
        body = body_of("Please echo this sentence back to me, every word of it.")
        plain = client.post("/v1/messages", headers=H26, json=body).json()
        _, events = stream(client, body)
        assert h.assemble(events) == plain

    def test_message_delta_usage_is_cumulative(self, client):
        """message_start reports an early output count, message_delta the final total."""
        body = body_of("x" * 200)
        plain = client.post("/v1/messages", headers=H26, json=body).json()
        _, events = stream(client, body)
        assert events[0][1]["message"]["usage"]["output_tokens"] == 1
        delta = next(ev for n, ev in events if n == "message_delta")
        assert delta["usage"]["output_tokens"] == plain["usage"]["output_tokens"] > 1
        assert delta["delta"]["stop_reason"] == "end_turn"

    def test_tool_use_streams_json_fragments(self, client):
        """A tool_use streams its input as JSON fragments, the first one empty."""
        body = body_of("Paris", tools=[WEATHER_TOOL], tool_choice={"type": "any"})
        _, events = stream(client, body)
        starts = [ev for n, ev in events if n == "content_block_start"]
        assert starts[0]["content_block"]["input"] == {}
        frags = [ev["delta"]["partial_json"] for n, ev in events if n == "content_block_delta"]
        assert frags[0] == "" and len(frags) >= 3
        plain = client.post("/v1/messages", headers=H26, json=body).json()
        assert json.loads("".join(frags)) == plain["content"][0]["input"]
        assert h.assemble(events) == plain

    def test_thinking_streams_deltas_then_the_signature(self, client):
        """A thinking block streams thinking deltas and one signature delta right before its stop."""
        _, events = stream(client, body_of(
            "Hi", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024}))
        block0 = [(n, ev) for n, ev in events if ev.get("index") == 0]
        kinds = [ev["delta"]["type"] for n, ev in block0 if n == "content_block_delta"]
        assert kinds[0] == "thinking_delta" and kinds[-1] == "signature_delta"
        assert kinds.count("signature_delta") == 1
        assert block0[-1][0] == "content_block_stop"
        assert block0[0][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}

    def test_blocks_without_deltas_arrive_whole(self):
        """Redacted thinking and server tool results arrive whole in content_block_start."""
        conv = m.Conversation(model="claude-sonnet-4-5", max_tokens=64,
                              messages=[m.Message("user", "Hi")])
        resp = build_response(conv, m.Response(content=(
            m.RedactedThinking("opaque"),
            m.UnknownBlock("web_search_tool_result", extra={"tool_use_id": "srvtoolu_1",
                                                             "content": []}),
        )))
        events = [(n, json.loads(d)) for n, d in stream_events(resp)]
        assert [n for n, _ in events].count("content_block_delta") == 0
        starts = [ev["content_block"] for n, ev in events if n == "content_block_start"]
        assert starts == [{"type": "redacted_thinking", "data": "opaque"},
                          {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
                           "content": []}]

    def test_citations_stream_as_citation_deltas(self):
        """A text block with citations starts with an empty list and streams citations_delta."""
        cite = {"type": "char_location", "cited_text": "x", "document_index": 0,
                "document_title": None, "start_char_index": 0, "end_char_index": 1}
        conv = m.Conversation(model="claude-sonnet-4-5", max_tokens=64,
                              messages=[m.Message("user", "Hi")])
        resp = build_response(conv, m.Response(content=(m.Text("cited", citations=(cite,)),)))
        events = [(n, json.loads(d)) for n, d in stream_events(resp)]
        assert events[1][1]["content_block"]["citations"] == []
        deltas = [ev["delta"] for n, ev in events if n == "content_block_delta"]
        assert deltas[0] == {"type": "citations_delta", "citation": cite}
        assert h.assemble(events)["content"][0]["citations"] == [cite]

    def test_stream_delay_spaces_the_events(self, emu, client):
        """stream_delay sends the events one by one, spaced in time."""
        emu.stream_delay = 0.02
        t0 = time.monotonic()
        _, events = stream(client, body_of("Hi"))
        assert time.monotonic() - t0 >= 0.02 * (len(events) - 1)


# --------------------------------------------------------------------------- auth and versions


class TestAuth:
    def test_missing_key_is_401(self, client):
        """No key at all is a 401 authentication_error."""
        r = client.post("/v1/messages", headers={"anthropic-version": "2026-10-21"},
                        json=body_of())
        assert r.status_code == 401
        assert error_of(r)["type"] == "authentication_error"

    @pytest.mark.parametrize("headers", [H26, H23], ids=["bearer", "x-api-key"])
    def test_either_way_of_sending_the_key_works(self, emu, client, headers):
        """The key is accepted as Authorization: Bearer and as x-api-key."""
        assert client.post("/v1/messages", headers=headers, json=body_of()).status_code == 200
        assert emu.log[-1].api_key_scheme == ("bearer" if "authorization" in headers else "x-api-key")

    def test_a_key_set_restricts_the_keys(self):
        """With api_keys given, another key is a 401 and a listed one is accepted."""
        with Emulator(api_keys={KEY}) as url:
            wrong = httpx.post(f"{url}/v1/messages", json=body_of(),
                               headers={**H23, "x-api-key": "sk-other"})
            right = httpx.post(f"{url}/v1/messages", json=body_of(), headers=H23)
        assert wrong.status_code == 401 and error_of(wrong)["message"] == "invalid x-api-key"
        assert right.status_code == 200

    @pytest.mark.parametrize("auth", ["Basic abc", "Bearer", "Token xyz"])
    def test_malformed_authorization_is_401(self, client, auth):
        """An Authorization header that is not a Bearer token is a 401."""
        r = client.post("/v1/messages", json=body_of(),
                        headers={"authorization": auth, "anthropic-version": "2026-10-21"})
        assert r.status_code == 401

    def test_secrets_never_reach_the_log_or_repr(self, emu, client):
        """The log and the emulator's repr hold no key, only a redaction marker."""
        client.post("/v1/messages", headers=H26, json=body_of())
        client.post("/v1/messages", headers=H23, json=body_of())
        assert emu.log[0].headers["authorization"] == "Bearer <redacted>"
        assert emu.log[1].headers["x-api-key"] == "<redacted>"
        restricted = Emulator(api_keys=[KEY])
        for text in (repr(emu.log), repr(emu), repr(restricted)):
            assert KEY not in text


class TestVersions:
    def test_missing_version_is_400(self, client):
        """No anthropic-version header is a 400 in the API's style."""
        r = client.post("/v1/messages", headers={"x-api-key": KEY}, json=body_of())
        assert r.status_code == 400
        assert error_of(r) == {"type": "invalid_request_error",
                               "message": "anthropic-version: header is required"}

    @pytest.mark.parametrize("version", ["2023-01-01", "2026-10-22", "latest"])
    def test_unknown_version_is_400(self, client, version):
        """A version other than the two current ones is a 400 naming the header."""
        r = client.post("/v1/messages", json=body_of(),
                        headers={"x-api-key": KEY, "anthropic-version": version})
        assert r.status_code == 400
        assert error_of(r)["message"].startswith(f"anthropic-version: invalid version '{version}'")

    def test_sampling_params_depend_on_the_version(self, client):
        """temperature is accepted under 2023-06-01 and rejected under 2026-10-21."""
        body = body_of(temperature=0.2, top_p=0.9)
        old = client.post("/v1/messages", headers=H23, json=body)
        new = client.post("/v1/messages", headers=H26, json=body)
        assert old.status_code == 200
        assert new.status_code == 400
        assert error_of(new)["message"].startswith("temperature: ")

    def test_beta_header_is_accepted_and_logged(self, emu, client):
        """anthropic-beta is accepted as a comma list and kept in the log."""
        r = client.post("/v1/messages", json=body_of(),
                        headers={**H26, "anthropic-beta": "files-api-2025-04-14,context-1m-2025-08-07"})
        assert r.status_code == 200
        assert emu.log[-1].headers["anthropic-beta"] == "files-api-2025-04-14,context-1m-2025-08-07"

    def test_known_betas_restrict_the_header(self):
        """With betas given, an unknown beta name is a 400 naming it."""
        with Emulator(betas={"files-api-2025-04-14"}) as url:
            ok = httpx.post(f"{url}/v1/messages", json=body_of(),
                            headers={**H26, "anthropic-beta": "files-api-2025-04-14"})
            bad = httpx.post(f"{url}/v1/messages", json=body_of(),
                             headers={**H26, "anthropic-beta": "files-api-2025-04-14, nope-1"})
        assert ok.status_code == 200
        assert bad.status_code == 400 and "`nope-1`" in error_of(bad)["message"]


# --------------------------------------------------------------------------- validation


class TestValidation:
    def test_rule_violation_is_400_with_the_dotted_path(self, client):
        """A rule error is a 400 invalid_request_error located in the API's dotted style."""
        msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": [{"type": "text", "text": ""}]}]
        r = client.post("/v1/messages", headers=H26, json=body_of(messages=msgs))
        assert r.status_code == 400
        err = error_of(r)
        assert err["type"] == "invalid_request_error"
        assert err["message"].startswith("messages.2.content.0: ")

    def test_model_specific_rule(self, client):
        """A prefill is fine on claude-sonnet-4-5 and a 400 on claude-opus-4-8."""
        msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "The answer is"}]
        ok = client.post("/v1/messages", headers=H26, json=body_of(messages=msgs))
        bad = client.post("/v1/messages", headers=H26,
                          json=body_of(messages=msgs, model="claude-opus-4-8"))
        assert ok.status_code == 200
        # the API's own words for a prefill (facts §11, issue 12)
        assert bad.status_code == 400 and error_of(bad)["message"].startswith("This model does not support assistant message prefill.")

    def test_shape_error_names_the_path(self, client):
        """A body of the wrong shape is a 400 naming where, from the codec."""
        r = client.post("/v1/messages", headers=H26,
                        json=body_of(messages=[{"role": 5, "content": "Hi"}]))
        assert r.status_code == 400
        assert error_of(r)["message"].startswith("messages.0.role: expected a string")

    @pytest.mark.parametrize("key", ["model", "max_tokens", "messages"])
    def test_required_fields(self, client, key):
        """Each required field missing is a 400 'Field required'."""
        body = body_of()
        del body[key]
        r = client.post("/v1/messages", headers=H26, json=body)
        assert r.status_code == 400 and error_of(r)["message"] == f"{key}: Field required"

    @pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
    def test_bodies_that_are_not_objects(self, client, raw):
        """Invalid JSON, a non-object or an empty body is a 400 invalid_request_error."""
        r = client.post("/v1/messages", headers={**H26, "content-type": "application/json"},
                        content=raw)
        assert r.status_code == 400 and error_of(r)["type"] == "invalid_request_error"

    def test_warnings_do_not_fail_and_are_logged(self, emu, client):
        """Consecutive user turns only warn: the request succeeds and the log names the rule."""
        msgs = [{"role": "user", "content": "Hi"}, {"role": "user", "content": "again"}]
        r = client.post("/v1/messages", headers=H26, json=body_of(messages=msgs))
        assert r.status_code == 200
        assert "roles.consecutive" in emu.log[-1].warnings

    def test_validation_can_be_turned_off(self, emu, client):
        """validate_requests=False answers requests the rules would refuse."""
        emu.validate_requests = False
        r = client.post("/v1/messages", headers=H26, json=body_of(temperature=0.5))
        assert r.status_code == 200

    def test_request_over_the_size_limit_is_413(self):
        """A body over max_request_bytes is a 413 request_too_large, and the connection lives on."""
        with Emulator(max_request_bytes=2000) as url, httpx.Client(base_url=url) as c:
            r = c.post("/v1/messages", headers=H26, json=body_of("x" * 5000))
            assert r.status_code == 413 and error_of(r)["type"] == "request_too_large"
            assert c.post("/v1/messages", headers=H26, json=body_of()).status_code == 200


# --------------------------------------------------------------------------- count_tokens


class TestCountTokens:
    def test_count_matches_the_usage_of_a_reply(self, client):
        """count_tokens answers the input_tokens a message with the same input reports."""
        body = body_of("count me " * 30, system="Be brief.", tools=[WEATHER_TOOL])
        usage = client.post("/v1/messages", headers=H26, json=body).json()["usage"]
        counted = {k: v for k, v in body.items() if k != "max_tokens"}
        r = client.post("/v1/messages/count_tokens", headers=H26, json=counted)
        assert r.status_code == 200
        assert r.json() == {"input_tokens": usage["input_tokens"]}
        assert h.schema_errors(r.json(), "CountMessageTokensResponse") == []

    def test_create_only_fields_are_rejected(self, client):
        """max_tokens in a count_tokens body is 'Extra inputs are not permitted'."""
        r = client.post("/v1/messages/count_tokens", headers=H26, json=body_of())
        assert r.status_code == 400
        assert error_of(r)["message"] == "max_tokens: Extra inputs are not permitted"

    def test_count_tokens_checks_the_rules(self, client):
        """A body the model refuses is refused by count_tokens too."""
        msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure"}]
        r = client.post("/v1/messages/count_tokens", headers=H26,
                        json={"model": "claude-opus-4-8", "messages": msgs})
        assert r.status_code == 400 and error_of(r)["message"].startswith("This model does not support assistant message prefill.")


# --------------------------------------------------------------------------- models


class TestModels:
    def test_list_is_every_profile(self, client):
        """GET /v1/models lists every built-in profile with its limits, as a valid list response."""
        r = client.get("/v1/models", headers=H26, params={"limit": 1000})
        data = r.json()
        assert r.status_code == 200 and not h.schema_errors(data, "ListResponse_ModelInfo_")
        assert [info["id"] for info in data["data"]] == list(builtin_profiles())
        assert data["has_more"] is False and data["first_id"] == data["data"][0]["id"]
        opus = next(i for i in data["data"] if i["id"] == "claude-opus-4-8")
        prof = get_profile("claude-opus-4-8")
        assert (opus["max_input_tokens"], opus["max_tokens"]) == (prof.context_window, prof.max_output)
        assert opus["type"] == "model" and opus["display_name"] == "Claude Opus 4.8"

    def test_pagination_walks_every_model_once(self, client):
        """Pages of two, following last_id, cover the list once; before_id pages back."""
        everything = client.get("/v1/models", headers=H26, params={"limit": 1000}).json()["data"]
        seen, after = [], None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"after_id": after} if after else {})}
            page = client.get("/v1/models", headers=H26, params=params).json()
            seen += [i["id"] for i in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert seen == [i["id"] for i in everything]
        back = client.get("/v1/models", headers=H26,
                          params={"limit": 2, "before_id": seen[3]}).json()
        assert [i["id"] for i in back["data"]] == seen[1:3] and back["has_more"] is True

    def test_one_model_and_its_alias(self, client):
        """GET /v1/models/{id} answers a known id and an alias, and 404s an unknown one."""
        one = client.get("/v1/models/claude-sonnet-4-5", headers=H26)
        alias = client.get("/v1/models/claude-haiku-4-5-20251001", headers=H26)
        missing = client.get("/v1/models/claude-nope-1", headers=H26)
        assert one.status_code == 200 and not h.schema_errors(one.json(), "ModelInfo")
        assert alias.json()["id"] == "claude-haiku-4-5-20251001"
        assert alias.json()["max_tokens"] == get_profile("claude-haiku-4-5").max_output
        assert missing.status_code == 404 and error_of(missing)["type"] == "not_found_error"

    def test_profiles_read_back_from_the_list(self, client):
        """convo.profiles reads the emulator's list back into the same limits and capabilities."""
        data = client.get("/v1/models", headers=H26, params={"limit": 1000}).json()
        reg = profiles_from_models_response(data)
        for mid in builtin_profiles():
            built, read = get_profile(mid), reg.get_profile(mid)
            assert (read.context_window, read.max_output) == (built.context_window, built.max_output)
            assert set(read.effort_levels) == set(built.effort_levels)
            assert {x for x in read.thinking_modes if x != "disabled"} == \
                   {x for x in built.thinking_modes if x != "disabled"}

    @pytest.mark.parametrize("limit", ["0", "1001", "ten"])
    def test_bad_limit_is_400(self, client, limit):
        """A limit outside 1..1000 or not a number is a 400."""
        r = client.get("/v1/models", headers=H26, params={"limit": limit})
        assert r.status_code == 400 and error_of(r)["message"].startswith("limit: ")


# --------------------------------------------------------------------------- batches


@pytest.fixture
def clock():
    return h.FakeClock()


@pytest.fixture
def bemu(clock):
    e = Emulator(batch_delay=10.0, cancel_delay=1.0, clock=clock)
    e.start()
    yield e
    e.stop()


@pytest.fixture
def bclient(bemu):
    with httpx.Client(base_url=bemu.base_url, timeout=10) as c:
        yield c


def batch_requests(n: int, **params: Any) -> list[dict[str, Any]]:
    return [{"custom_id": f"req-{i}", "params": body_of(f"question {i}", **params)}
            for i in range(n)]


def create(c: httpx.Client, requests: list[dict[str, Any]]) -> dict[str, Any]:
    r = c.post("/v1/messages/batches", headers=H26, json={"requests": requests})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def results(c: httpx.Client, batch_id: str) -> list[dict[str, Any]]:
    r = c.get(f"/v1/messages/batches/{batch_id}/results",
              headers={**H26, "accept": "application/binary"})
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


class TestBatches:
    def test_create_is_in_progress(self, bclient):
        """A new batch is in_progress with every request processing and no results_url."""
        batch = create(bclient, batch_requests(3))
        assert batch["processing_status"] == "in_progress" and batch["id"].startswith("msgbatch_")
        assert batch["request_counts"] == {"processing": 3, "succeeded": 0, "errored": 0,
                                           "canceled": 0, "expired": 0}
        assert batch["results_url"] is None and batch["ended_at"] is None
        assert h.schema_errors(batch, "MessageBatch") == []
        assert batch["expires_at"] > batch["created_at"]

    def test_ends_after_the_delay_with_results(self, bemu, bclient, clock):
        """After batch_delay the batch has ended, counts are set and results_url points at results."""
        batch = create(bclient, batch_requests(4))
        clock.advance(9.9)
        assert bclient.get(f"/v1/messages/batches/{batch['id']}",
                           headers=H26).json()["processing_status"] == "in_progress"
        clock.advance(0.2)
        done = bclient.get(f"/v1/messages/batches/{batch['id']}", headers=H26).json()
        assert done["processing_status"] == "ended" and done["ended_at"]
        assert done["request_counts"]["succeeded"] == 4 and done["request_counts"]["processing"] == 0
        assert done["results_url"] == f"{bemu.base_url}/v1/messages/batches/{batch['id']}/results"
        assert not h.schema_errors(done, "MessageBatch")
        lines = results(bclient, batch["id"])
        assert sorted(x["custom_id"] for x in lines) == [f"req-{i}" for i in range(4)]
        for line in lines:
            assert h.schema_errors(line, "MessageBatchIndividualResponse") == []
            assert line["result"]["message"]["usage"]["service_tier"] == "batch"
            n = line["custom_id"].split("-")[1]
            assert line["result"]["message"]["content"][0]["text"] == f"echo: question {n}"

    def test_results_come_shuffled(self, bclient, clock):
        """The results file is not in input order (match by custom_id, facts §6.4)."""
        batch = create(bclient, batch_requests(20))
        clock.advance(11)
        ids = [x["custom_id"] for x in results(bclient, batch["id"])]
        assert sorted(ids) == sorted(f"req-{i}" for i in range(20))
        assert ids != [f"req-{i}" for i in range(20)]

    def test_results_before_the_end_are_refused(self, bclient):
        """Asking for the results of a batch still processing is a 400."""
        batch = create(bclient, batch_requests(1))
        r = bclient.get(f"/v1/messages/batches/{batch['id']}/results", headers=H26)
        assert r.status_code == 400

    @pytest.mark.parametrize("cid", ["", "a" * 65, "has space", "dot.ted", 7])
    def test_bad_custom_id_is_400(self, bclient, cid):
        """A custom_id outside ^[a-zA-Z0-9_-]{1,64}$ is refused at create with its path."""
        reqs = batch_requests(2)
        reqs[1]["custom_id"] = cid
        r = bclient.post("/v1/messages/batches", headers=H26, json={"requests": reqs})
        assert r.status_code == 400
        assert error_of(r)["message"].startswith("requests.1.custom_id: String should match")

    def test_duplicate_custom_id_is_400(self, bclient):
        """Two requests with the same custom_id are refused at create."""
        reqs = batch_requests(3)
        reqs[2]["custom_id"] = "req-0"
        r = bclient.post("/v1/messages/batches", headers=H26, json={"requests": reqs})
        assert r.status_code == 400 and "duplicate custom_id 'req-0'" in error_of(r)["message"]

    @pytest.mark.parametrize("body, message", [
        ({}, "requests: Field required"),
        ({"requests": []}, "requests: List should have at least 1 item"),
        ({"requests": {}}, "requests: Input should be a valid list"),
        ({"requests": [{"custom_id": "a"}]}, "requests.0.params: Field required"),
        ({"requests": [{"custom_id": "a", "params": [], }]}, "requests.0.params: Input should be"),
        ({"requests": [{"custom_id": "a", "params": {}, "x": 1}]}, "requests.0.x: Extra inputs"),
        ({"requests": [], "extra": 1}, "extra: Extra inputs are not permitted"),
    ])
    def test_create_body_shape(self, bclient, body, message):
        """The create body's shape is checked at once, with the API's messages."""
        r = bclient.post("/v1/messages/batches", headers=H26, json=body)
        assert r.status_code == 400 and error_of(r)["message"].startswith(message)

    def test_request_count_and_size_limits(self, clock):
        """Over max_batch_requests is a 400; over max_batch_bytes a 413."""
        with Emulator(max_batch_requests=3, max_batch_bytes=4000, clock=clock) as url:
            many = httpx.post(f"{url}/v1/messages/batches", headers=H26,
                              json={"requests": batch_requests(4)})
            big = httpx.post(f"{url}/v1/messages/batches", headers=H26,
                             json={"requests": batch_requests(2, system="x" * 5000)})
            ok = httpx.post(f"{url}/v1/messages/batches", headers=H26,
                            json={"requests": batch_requests(3)})
        assert many.status_code == 400
        assert error_of(many)["message"].startswith("requests: List should have at most 3 items")
        assert big.status_code == 413 and error_of(big)["type"] == "request_too_large"
        assert ok.status_code == 200

    def test_params_are_validated_asynchronously(self, bclient, clock):
        """Rule and shape errors in params are accepted at create and come back as errored results."""
        reqs = batch_requests(4)
        reqs[1]["params"]["messages"].append({"role": "assistant", "content": "Sure"})
        reqs[1]["params"]["model"] = "claude-opus-4-8"  # no prefill on this model
        reqs[2]["params"]["stream"] = True
        reqs[3]["params"]["messages"] = "not a list"
        batch = create(bclient, reqs)
        clock.advance(11)
        done = bclient.get(f"/v1/messages/batches/{batch['id']}", headers=H26).json()
        assert done["request_counts"]["errored"] == 3 and done["request_counts"]["succeeded"] == 1
        by_id = {x["custom_id"]: x["result"] for x in results(bclient, batch["id"])}
        assert by_id["req-0"]["type"] == "succeeded"
        for cid, start in (("req-1", "This model does not support assistant message prefill."), ("req-2", "stream"), ("req-3", "messages")):
            err = by_id[cid]["error"]
            assert by_id[cid]["type"] == "errored" and err["type"] == "error"
            assert err["error"]["type"] == "invalid_request_error"
            assert err["error"]["message"].startswith(start)
            assert err["request_id"].startswith("req_")

    def test_sampling_params_follow_the_batch_version(self, bclient, clock):
        """Params are checked under the anthropic-version the batch was created with."""
        reqs = batch_requests(1, temperature=0.3)
        old = bclient.post("/v1/messages/batches", headers=H23, json={"requests": reqs}).json()
        new = create(bclient, reqs)
        clock.advance(11)
        assert results(bclient, old["id"])[0]["result"]["type"] == "succeeded"
        assert results(bclient, new["id"])[0]["result"]["type"] == "errored"

    def test_injected_errors_by_custom_id(self, bemu, bclient, clock):
        """batch_errors maps custom_ids to errored (by type), canceled or expired results."""
        bemu.batch_errors = {"req-0": "overloaded_error", "req-1": "expired", "req-2": "canceled"}
        batch = create(bclient, batch_requests(4))
        clock.advance(11)
        done = bclient.get(f"/v1/messages/batches/{batch['id']}", headers=H26).json()
        assert done["request_counts"] == {"processing": 0, "succeeded": 1, "errored": 1,
                                          "canceled": 1, "expired": 1}
        by_id = {x["custom_id"]: x["result"] for x in results(bclient, batch["id"])}
        assert by_id["req-0"]["error"]["error"] == {"type": "overloaded_error", "message": "Overloaded"}
        assert by_id["req-1"] == {"type": "expired"} and by_id["req-2"] == {"type": "canceled"}
        assert by_id["req-3"]["type"] == "succeeded"

    def test_injected_errors_by_function(self, bemu, bclient, clock):
        """batch_errors may be a function of custom_id and params."""
        bemu.batch_errors = lambda cid, params: "api_error" if "odd" in str(params) else None
        reqs = [{"custom_id": f"r{i}", "params": body_of("odd" if i % 2 else "even")}
                for i in range(6)]
        batch = create(bclient, reqs)
        clock.advance(11)
        types = {x["custom_id"]: x["result"]["type"] for x in results(bclient, batch["id"])}
        assert types == {f"r{i}": "errored" if i % 2 else "succeeded" for i in range(6)}

    def test_cancel_right_away_cancels_everything(self, bclient, clock):
        """A cancel is canceling for cancel_delay, then ended with every request canceled."""
        batch = create(bclient, batch_requests(5))
        r = bclient.post(f"/v1/messages/batches/{batch['id']}/cancel", headers=H26)
        assert r.json()["processing_status"] == "canceling"
        assert r.json()["cancel_initiated_at"] is not None
        assert r.json()["request_counts"]["processing"] == 5
        clock.advance(1.01)
        done = bclient.get(f"/v1/messages/batches/{batch['id']}", headers=H26).json()
        assert done["processing_status"] == "ended"
        assert done["request_counts"]["canceled"] == 5
        assert {x["result"]["type"] for x in results(bclient, batch["id"])} == {"canceled"}

    def test_cancel_midway_keeps_finished_requests(self, bclient, clock):
        """Requests done before the cancel keep their results; the rest are canceled."""
        batch = create(bclient, batch_requests(10))
        clock.advance(5.0)  # half of batch_delay: half the requests are done
        bclient.post(f"/v1/messages/batches/{batch['id']}/cancel", headers=H26)
        clock.advance(5.0)
        counts = bclient.get(f"/v1/messages/batches/{batch['id']}", headers=H26).json()[
            "request_counts"]
        assert counts["succeeded"] == 5 and counts["canceled"] == 5

    def test_cancel_of_an_ended_batch_changes_nothing(self, bclient, clock):
        """Canceling a batch that has ended returns it unchanged."""
        batch = create(bclient, batch_requests(2))
        clock.advance(11)
        r = bclient.post(f"/v1/messages/batches/{batch['id']}/cancel", headers=H26).json()
        assert r["processing_status"] == "ended" and r["cancel_initiated_at"] is None

    def test_expire_on_demand(self, bemu, bclient, clock):
        """expire_batch ends a batch now; requests not yet done are expired."""
        batch = create(bclient, batch_requests(4))
        clock.advance(5.0)
        ended = bemu.expire_batch(batch["id"])
        assert ended["processing_status"] == "ended"
        assert ended["request_counts"]["expired"] == 2 and ended["request_counts"]["succeeded"] == 2
        with pytest.raises(ValueError, match="already ended"):
            bemu.expire_batch(batch["id"])

    def test_expires_after_24_hours(self, clock):
        """A batch still processing 24 hours after creation ends with its requests expired."""
        with Emulator(batch_delay=48 * 3600, clock=clock) as url:
            batch = httpx.post(f"{url}/v1/messages/batches", headers=H26,
                               json={"requests": batch_requests(3)}).json()
            clock.advance(24 * 3600 + 1)
            done = httpx.get(f"{url}/v1/messages/batches/{batch['id']}", headers=H26).json()
        # its three requests were due at 16, 32 and 48 hours: the first one made it
        assert done["processing_status"] == "ended"
        assert done["request_counts"]["expired"] == 2 and done["request_counts"]["succeeded"] == 1
        assert done["ended_at"] == done["expires_at"]

    def test_delete_only_once_ended(self, bclient, clock):
        """Deleting a batch in progress is a 400; once ended it is deleted and then 404."""
        batch = create(bclient, batch_requests(1))
        url = f"/v1/messages/batches/{batch['id']}"
        assert bclient.delete(url, headers=H26).status_code == 400
        clock.advance(11)
        r = bclient.delete(url, headers=H26)
        assert r.json() == {"id": batch["id"], "type": "message_batch_deleted"}
        assert not h.schema_errors(r.json(), "DeleteMessageBatchResponse")
        assert bclient.get(url, headers=H26).status_code == 404

    def test_unknown_batch_is_404(self, bclient):
        """Every batch endpoint answers 404 not_found_error for an unknown id."""
        for method, suffix in (("GET", ""), ("POST", "/cancel"), ("GET", "/results"),
                               ("DELETE", "")):
            r = bclient.request(method, f"/v1/messages/batches/msgbatch_nope{suffix}", headers=H26)
            assert r.status_code == 404 and error_of(r)["type"] == "not_found_error"

    def test_list_newest_first_with_pages(self, bclient):
        """The list is newest first, pages with limit, after_id and before_id."""
        ids = [create(bclient, batch_requests(1))["id"] for _ in range(5)]
        everything = bclient.get("/v1/messages/batches", headers=H26).json()
        assert [b["id"] for b in everything["data"]] == ids[::-1]
        assert not h.schema_errors(everything, "ListResponse_MessageBatch_")
        page = bclient.get("/v1/messages/batches", headers=H26, params={"limit": 2}).json()
        assert [b["id"] for b in page["data"]] == [ids[4], ids[3]] and page["has_more"]
        nxt = bclient.get("/v1/messages/batches", headers=H26,
                          params={"limit": 2, "after_id": page["last_id"]}).json()
        assert [b["id"] for b in nxt["data"]] == [ids[2], ids[1]] and nxt["has_more"]
        last = bclient.get("/v1/messages/batches", headers=H26,
                           params={"limit": 2, "after_id": nxt["last_id"]}).json()
        assert [b["id"] for b in last["data"]] == [ids[0]] and not last["has_more"]
        prev = bclient.get("/v1/messages/batches", headers=H26,
                           params={"limit": 2, "before_id": nxt["first_id"]}).json()
        assert [b["id"] for b in prev["data"]] == [ids[4], ids[3]] and not prev["has_more"]

    def test_log_proves_no_request_was_submitted_twice(self, bemu, bclient):
        """batch_requests_seen counts each (custom_id, params); a resubmission shows as a duplicate."""
        reqs = batch_requests(3)
        create(bclient, reqs)
        assert bemu.duplicate_batch_requests() == {}
        assert sum(bemu.batch_requests_seen.values()) == 3
        changed = [{"custom_id": "req-0", "params": body_of("something else")}]
        create(bclient, changed)  # same custom_id, other params: not the same request
        assert bemu.duplicate_batch_requests() == {}
        create(bclient, reqs[1:2])
        dupes = bemu.duplicate_batch_requests()
        assert [cid for cid, _ in dupes] == ["req-1"] and list(dupes.values()) == [2]

    def test_real_time_processing(self):
        """Without a fake clock a batch ends by itself after batch_delay."""
        with Emulator(batch_delay=0.1) as url, httpx.Client(base_url=url) as c:
            batch = create(c, batch_requests(2))
            time.sleep(0.15)
            done = c.get(f"/v1/messages/batches/{batch['id']}", headers=H26).json()
            assert done["processing_status"] == "ended"
            assert len(results(c, batch["id"])) == 2


# --------------------------------------------------------------------------- faults


def raw_exchange(url: str, body: dict[str, Any]) -> tuple[bytes, bytes]:
    """Send one POST /v1/messages over a raw socket; return (head, body bytes) read until close."""
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    head = (f"POST /v1/messages HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"x-api-key: {KEY}\r\nanthropic-version: 2026-10-21\r\n"
            f"content-length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(head + data)
        chunks = []
        while True:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            chunks.append(got)
    raw = b"".join(chunks)
    head_bytes, _, rest = raw.partition(b"\r\n\r\n")
    return head_bytes, rest


class TestFaults:
    def test_529_then_normal(self, emu, client):
        """A scheduled 529 is answered once with overloaded_error; the next request is normal."""
        emu.faults = "529"
        first = client.post("/v1/messages", headers=H26, json=body_of())
        second = client.post("/v1/messages", headers=H26, json=body_of())
        assert first.status_code == 529
        assert error_of(first) == {"type": "overloaded_error", "message": "Overloaded"}
        assert second.status_code == 200
        assert emu.log[0].fault == "529" and emu.log[1].fault is None
        assert len(emu.faults) == 0 and emu.faults.applied[0][1:] == ("POST", "/v1/messages")

    def test_429_with_retry_after_headers(self, emu, client):
        """A 429 carries retry-after and retry-after-ms as scheduled."""
        emu.faults = "429:retry-after=2:retry-after-ms=1500"
        r = client.post("/v1/messages", headers=H26, json=body_of())
        assert r.status_code == 429 and error_of(r)["type"] == "rate_limit_error"
        assert r.headers["retry-after"] == "2" and r.headers["retry-after-ms"] == "1500"

    def test_any_status_with_type_message_and_should_retry(self, emu, client):
        """Any status can be scheduled with its type, message and x-should-retry."""
        emu.faults = ["500:should-retry=false", "503:type=api_error:message=Down%2C%20sorry",
                      "402"]
        a = client.post("/v1/messages", headers=H26, json=body_of())
        b = client.post("/v1/messages", headers=H26, json=body_of())
        c = client.post("/v1/messages", headers=H26, json=body_of())
        assert a.status_code == 500 and a.headers["x-should-retry"] == "false"
        assert error_of(a)["type"] == "api_error"
        assert b.status_code == 503 and error_of(b) == {"type": "api_error", "message": "Down, sorry"}
        assert c.status_code == 402 and error_of(c)["type"] == "billing_error"

    def test_faults_come_before_auth(self, emu, client):
        """A fault answers even a request that would fail auth (it stands for the infrastructure)."""
        emu.faults = "529"
        r = client.post("/v1/messages", json=body_of())
        assert r.status_code == 529

    def test_reset_drops_the_connection(self, emu, client):
        """reset closes the connection with no response; the client sees a transport error."""
        emu.faults = "reset"
        with pytest.raises(httpx.TransportError):
            client.post("/v1/messages", headers=H26, json=body_of())
        assert emu.log[0].status is None and emu.log[0].fault == "reset"
        assert client.post("/v1/messages", headers=H26, json=body_of()).status_code == 200

    def test_reset_is_a_tcp_reset(self, emu):
        """reset sends RST: the socket read fails with ECONNRESET rather than reading EOF."""
        emu.faults = "reset"
        host, port = emu.base_url.removeprefix("http://").split(":")
        data = json.dumps(body_of()).encode()
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: "
                      + str(len(data)).encode() + b"\r\n\r\n" + data)
            with pytest.raises(ConnectionResetError):
                s.recv(1024)

    def test_close_ends_the_connection_cleanly(self, emu, client):
        """close ends the connection without a response (the server disconnected)."""
        emu.faults = "close"
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/messages", headers=H26, json=body_of())

    def test_slow_delays_the_answer(self, emu, client):
        """slow:S answers normally after S seconds; a shorter client timeout times out."""
        emu.faults = "slow:0.3, slow:0.5"
        t0 = time.monotonic()
        r = client.post("/v1/messages", headers=H26, json=body_of())
        assert r.status_code == 200 and time.monotonic() - t0 >= 0.3
        with pytest.raises(httpx.ReadTimeout):
            client.post("/v1/messages", headers=H26, json=body_of(), timeout=0.1)

    def test_truncate_sends_half_the_declared_body(self, emu):
        """truncate declares the full content-length, sends half, and closes."""
        emu.faults = "truncate"
        head, rest = raw_exchange(emu.base_url, body_of())
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        assert head.startswith(b"HTTP/1.1 200")
        assert len(rest) == length // 2 and length > 100

    def test_truncate_is_an_error_for_httpx(self, emu, client):
        """An httpx client reading a truncated body raises a protocol error."""
        emu.faults = "truncate"
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/messages", headers=H26, json=body_of())

    def test_truncate_applies_to_streams(self, emu, client):
        """A truncated stream declares a content-length and stops half-way."""
        emu.faults = "truncate"
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/messages", headers=H26, json={**body_of(), "stream": True})

    def test_sse_cut_ends_without_message_stop(self, emu, client):
        """sse-cut ends the stream cleanly mid-way: valid HTTP, no message_stop."""
        emu.faults = "sse-cut"
        r, events = stream(client, body_of("a reply long enough to have several deltas"))
        names = [n for n, _ in events]
        assert r.status_code == 200 and names[0] == "message_start"
        assert "message_stop" not in names and "message_delta" not in names
        assert 1 <= len(events) < 10

    def test_sse_cut_after_n_events(self, emu, client):
        """sse-cut:after=N sends exactly the first N events."""
        emu.faults = "sse-cut:after=3"
        _, events = stream(client, body_of())
        assert [n for n, _ in events] == ["message_start", "content_block_start", "ping"]

    def test_sse_drop_breaks_the_connection(self, emu, client):
        """sse-drop closes the connection mid-stream: an incomplete chunked body."""
        emu.faults = "sse-drop"
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/messages", headers=H26, json={**body_of(), "stream": True})

    def test_sse_error_after_200(self, emu, client):
        """sse-error sends an error event with overloaded_error after HTTP 200."""
        emu.faults = "sse-error"
        r, events = stream(client, body_of())
        assert r.status_code == 200
        name, ev = events[-1]
        assert name == "error"
        assert ev == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        assert "message_stop" not in [n for n, _ in events]
        assert not h.schema_errors(ev, "ErrorResponse")

    def test_sse_error_type_and_position(self, emu, client):
        """sse-error takes an error type and the number of events before it."""
        emu.faults = "sse-error:after=1:type=api_error:message=boom"
        _, events = stream(client, body_of())
        assert [n for n, _ in events] == ["message_start", "error"]
        assert events[1][1]["error"] == {"type": "api_error", "message": "boom"}

    def test_stream_faults_wait_for_a_stream(self, emu, client):
        """An sse-* fault skips non-streaming requests and hits the next stream."""
        emu.faults = "sse-error"
        assert client.post("/v1/messages", headers=H26, json=body_of()).status_code == 200
        assert len(emu.faults) == 1
        _, events = stream(client, body_of())
        assert events[-1][0] == "error"

    def test_scoped_faults(self, emu, client):
        """A fault scoped to a path (and method) only hits matching requests."""
        emu.faults = "500@/v1/models, 529@POST /v1/messages/count_tokens"
        assert client.post("/v1/messages", headers=H26, json=body_of()).status_code == 200
        assert client.get("/v1/models", headers=H26).status_code == 500
        counted = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]}
        assert client.post("/v1/messages/count_tokens", headers=H26, json=counted).status_code == 529
        assert len(emu.faults) == 0

    def test_glob_scope_and_repeat(self, emu, client):
        """*N repeats a fault; a path glob scopes it to the batch endpoints."""
        emu.faults = "503*2@/v1/messages/batches*"
        assert client.post("/v1/messages", headers=H26, json=body_of()).status_code == 200
        assert client.get("/v1/messages/batches", headers=H26).status_code == 503
        assert client.get("/v1/messages/batches/msgbatch_x", headers=H26).status_code == 503
        assert client.get("/v1/messages/batches", headers=H26).status_code == 200

    def test_ok_lets_a_request_through(self, emu, client):
        """ok is a placeholder: the first request is normal, the second gets the fault."""
        emu.faults = "ok,529"
        codes = [client.post("/v1/messages", headers=H26, json=body_of()).status_code
                 for _ in range(3)]
        assert codes == [200, 529, 200]

    def test_faults_can_be_added_and_cleared(self, emu, client):
        """The schedule can be extended and emptied while the server runs."""
        emu.faults.add("529")
        emu.faults.add(Fault(kind="status", status=500))
        assert str(emu.faults) == "529,500"
        emu.faults.clear()
        assert client.post("/v1/messages", headers=H26, json=body_of()).status_code == 200

    def test_concurrent_requests_share_one_schedule(self, emu):
        """Concurrent requests each take a different fault: none is applied twice."""
        emu.faults = "529*10"
        codes: list[int] = []

        def go():
            with httpx.Client(base_url=emu.base_url) as c:
                codes.append(c.post("/v1/messages", headers=H26, json=body_of()).status_code)

        threads = [threading.Thread(target=go) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200] * 6 + [529] * 10


class TestFaultSpec:
    def test_round_trip(self):
        """str() of a parsed fault parses back to the same fault."""
        spec = ("529,429:retry-after=1:retry-after-ms=250:should-retry=true,reset,close,"
                "slow:0.5@/v1/messages,truncate,sse-cut:after=2,sse-drop,"
                "sse-error:type=api_error:message=a%3Ab%2Cc@POST /v1/messages,ok@GET /v1/models")
        faults = parse_faults(spec)
        assert ",".join(map(str, faults)) == spec
        assert parse_faults(",".join(map(str, faults))) == faults

    def test_repeat_expands(self):
        """*N expands into N equal faults."""
        assert parse_faults("529*3") == [Fault(kind="status", status=529)] * 3

    @pytest.mark.parametrize("spec, message", [
        ("teapot", "unknown fault 'teapot'"),
        ("200", "a status fault needs a status from 400 to 599"),
        ("slow:soon", "bad value 'soon' for seconds"),
        ("529*0", "repeat count must be >= 1"),
        ("529*x", "bad repeat count"),
        ("reset:retry-after=1", "unknown argument 'retry-after' for a reset fault"),
        ("500:should-retry=maybe", "should-retry must be true or false"),
        ("sse-cut:after=-1", "after must be >= 0"),
    ])
    def test_bad_specs_say_why(self, spec, message):
        """A bad spec raises ValueError explaining what is wrong."""
        with pytest.raises(ValueError, match=message):
            parse_faults(spec)

    def test_defaults(self):
        """Status faults default their error type and message from the status."""
        assert Fault.parse("429").body_error() == (
            "rate_limit_error", "Number of requests has exceeded your rate limit.")
        assert Fault.parse("418").body_error()[0] == "invalid_request_error"
        assert Fault.parse("sse-error").body_error() == ("overloaded_error", "Overloaded")
        assert Fault.parse("500:retry-after=1").headers() == [("retry-after", "1")]
        assert Fault.parse("429:retry-after=3").headers()[0] == ("retry-after", "3")

    def test_schedule_matches_in_order(self):
        """A schedule gives each request the first matching fault and keeps the others."""
        s = FaultSchedule("sse-cut, 500@/v1/models, 529")
        assert s.take("GET", "/v1/models", streaming=False).status == 500
        assert s.take("POST", "/v1/messages", streaming=False).status == 529
        assert s.take("POST", "/v1/messages", streaming=False) is None
        assert s.take("POST", "/v1/messages", streaming=True).kind == "sse-cut"
        assert [f.kind for f, _, _ in s.applied] == ["status", "status", "sse-cut"]

    def test_emulator_accepts_every_form(self):
        """faults= takes a spec string, a list, Fault objects or a FaultSchedule."""
        sched = FaultSchedule("500")
        assert Emulator(faults=sched).faults is sched
        assert str(Emulator(faults=["529", Fault(kind="reset")]).faults) == "529,reset"
        assert str(Emulator(faults=Fault(kind="close")).faults) == "close"
        assert len(Emulator().faults) == 0


# --------------------------------------------------------------------------- the server


class TestServer:
    def test_context_manager_gives_the_base_url(self):
        """with Emulator() as url gives http://127.0.0.1:PORT, also kept on .base_url."""
        emu = Emulator()
        with emu as url:
            assert url == emu.base_url and url.startswith("http://127.0.0.1:")
            assert httpx.post(f"{url}/v1/messages", headers=H26, json=body_of()).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{url}/v1/messages", headers=H26, json=body_of(), timeout=2)

    def test_keep_alive_serves_many_requests_on_one_connection(self, emu):
        """One connection carries several requests (HTTP/1.1 keep-alive)."""
        host, port = emu.base_url.removeprefix("http://").split(":")
        data = json.dumps(body_of()).encode()
        req = (b"POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\n"
               b"anthropic-version: 2023-06-01\r\ncontent-length: "
               + str(len(data)).encode() + b"\r\n\r\n" + data)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            f = s.makefile("rb")
            for _ in range(3):
                s.sendall(req)
                assert f.readline().startswith(b"HTTP/1.1 200")
                length = 0
                while (line := f.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                assert json.loads(f.read(length))["type"] == "message"
        assert len(emu.log) == 3

    def test_http_1_0_streams_without_chunking(self, emu):
        """An HTTP/1.0 client gets the stream unchunked, ended by closing the connection."""
        host, port = emu.base_url.removeprefix("http://").split(":")
        data = json.dumps({**body_of("old client"), "stream": True}).encode()
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"POST /v1/messages HTTP/1.0\r\nx-api-key: k\r\n"
                      b"anthropic-version: 2023-06-01\r\ncontent-length: "
                      + str(len(data)).encode() + b"\r\n\r\n" + data)
            raw = b"".join(iter(lambda: s.recv(65536), b""))
        head, _, rest = raw.partition(b"\r\n\r\n")
        assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
        events = h.parse_sse(rest.decode())
        assert events[-1][0] == "message_stop"
        assert h.assemble(events)["content"][0]["text"] == "echo: old client"

    @pytest.mark.parametrize("length", [b"-5", b"ten"])
    def test_bad_content_length_closes_the_connection(self, emu, length):
        """A content-length that is not a size closes the connection instead of hanging."""
        host, port = emu.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"POST /v1/messages HTTP/1.1\r\ncontent-length: " + length + b"\r\n\r\n{}")
            assert s.recv(1024) == b""

    def test_chunked_request_bodies_are_read(self, emu):
        """A request body sent with chunked transfer encoding is read whole."""
        def chunks():
            data = json.dumps(body_of("chunked body")).encode()
            yield data[:10]
            yield data[10:]

        r = httpx.post(f"{emu.base_url}/v1/messages", headers=H26, content=chunks())
        assert r.status_code == 200 and r.json()["content"][0]["text"] == "echo: chunked body"

    def test_stop_closes_idle_connections(self):
        """stop() returns promptly even with a keep-alive connection open."""
        emu = Emulator()
        url = emu.start()
        c = httpx.Client(base_url=url)
        assert c.post("/v1/messages", headers=H26, json=body_of()).status_code == 200
        t0 = time.monotonic()
        emu.stop()
        assert time.monotonic() - t0 < 2
        emu.stop()  # idempotent
        c.close()

    def test_stop_interrupts_slow_faults(self):
        """stop() does not wait for a slow fault to finish sleeping."""
        emu = Emulator(faults="slow:30")
        url = emu.start()
        errors: list[Exception] = []

        def post() -> None:
            try:
                httpx.post(f"{url}/v1/messages", headers=H26, json=body_of(), timeout=10)
            except httpx.TransportError as e:
                errors.append(e)

        t = threading.Thread(target=post)
        t.start()
        while not emu.log:
            time.sleep(0.01)
        t0 = time.monotonic()
        emu.stop()
        t.join(5)
        assert time.monotonic() - t0 < 3 and not t.is_alive()
        assert len(errors) == 1  # the request got no answer

    def test_restart_after_stop(self):
        """An emulator can be started again after stop()."""
        emu = Emulator()
        with emu:
            pass
        with emu as url:
            assert httpx.get(f"{url}/v1/models", headers=H26).status_code == 200

    def test_log_records_requests(self, emu, client):
        """The log keeps method, path, query, parsed body, time and the status answered."""
        t0 = time.time()
        client.post("/v1/messages", headers=H26, json=body_of("logged"))
        client.get("/v1/models", headers=H26, params={"limit": 3})
        first, second = emu.log
        assert (first.method, first.path, first.status) == ("POST", "/v1/messages", 200)
        assert first.body["messages"][0]["content"] == "logged"
        assert first.headers["anthropic-version"] == "2026-10-21"
        assert second.query == {"limit": "3"} and t0 <= first.time <= second.time
        assert emu.requests("/v1/models") == [second]
        assert emu.requests(method="POST") == [first]

    def test_unknown_path_and_wrong_method(self, client):
        """An unknown path is 404 not_found_error; a known path with another method is 405."""
        missing = client.get("/v1/nothing", headers=H26)
        wrong = client.get("/v1/messages", headers=H26)
        assert missing.status_code == 404 and error_of(missing)["type"] == "not_found_error"
        assert wrong.status_code == 405 and error_of(wrong)["type"] == "invalid_request_error"

    def test_query_string_is_ignored_on_messages(self, client):
        """The ?beta=true form older SDKs use reaches the same endpoint."""
        r = client.post("/v1/messages?beta=true", headers=H26, json=body_of())
        assert r.status_code == 200

    def test_serve_runs_until_stopped(self):
        """serve() calls on_ready with the URL and returns once stop is set."""
        urls: list[str] = []
        stop = threading.Event()

        def ready(url: str) -> None:
            urls.append(url)
            r = httpx.post(f"{url}/v1/messages", headers=H26, json=body_of())
            urls.append(str(r.status_code))
            stop.set()

        from convo.testing.emulator import serve
        serve(faults="529", on_ready=ready, stop=stop)
        assert urls[0].startswith("http://127.0.0.1:") and urls[1] == "529"

    def test_main_in_a_subprocess(self):
        """python -m convo.testing.emulator serves with faults and prints its URL on stderr."""
        with subprocess.Popen(
            [sys.executable, "-m", "convo.testing.emulator", "--faults", "529", "--port", "0"],
            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        ) as proc:  # the pipe is closed on the way out
            try:
                assert proc.stderr is not None
                line = proc.stderr.readline()
                url = line.strip().rsplit(" ", 1)[-1]
                assert url.startswith("http://127.0.0.1:")
                assert httpx.post(f"{url}/v1/messages", headers=H26, json=body_of()).status_code == 529
                assert httpx.post(f"{url}/v1/messages", headers=H26, json=body_of()).status_code == 200
            finally:
                proc.terminate()
                proc.wait(10)

    def test_main_rejects_a_bad_fault_spec(self):
        """A bad --faults is a usage error (exit 2) naming the problem."""
        proc = subprocess.run(
            [sys.executable, "-m", "convo.testing.emulator", "--faults", "teapot"],
            capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and "unknown fault 'teapot'" in proc.stderr


# --------------------------------------------------------------------------- replies


class TestReplies:
    def test_default_reply(self):
        """The default reply echoes the last user text, stripped; 'echo' when there is none."""
        conv = m.Conversation(model="x", max_tokens=5, messages=[
            m.Message("user", "first"), m.Message("assistant", "ok"),
            m.Message("user", (m.Text(" last "), m.Text("turn ")))])
        assert default_reply(conv) == "echo: last  turn"
        assert default_reply(m.Conversation(model="x", max_tokens=5)) == "echo"
        long = m.Conversation(model="x", max_tokens=5, messages=[m.Message("user", "y" * 900)])
        assert default_reply(long) == "echo: " + "y" * 500

    def test_estimates(self):
        """Input tokens are convo's own estimate (four characters a token, images by their pixels,
        an image of unknown size at the model's cap, four per message): convo's one estimate."""
        from convo._samples import png
        from convo.transforms import estimate_tokens as convo_estimate

        assert estimate_tokens("abcd" * 10) == 10
        conv = m.Conversation(model="claude-opus-4-8", max_tokens=5, messages=[m.Message("user", "a" * 400)])
        assert estimate_input_tokens(conv) == 100 + 4
        url = m.Image.from_url("https://example.com/a.png")
        with_url = m.Conversation(model="claude-opus-4-8", max_tokens=5,
                                  messages=[m.Message("user", (m.Text("a" * 400), url))])
        assert estimate_input_tokens(with_url) == 100 + 4 + 4784  # the 4.7-and-later cap (facts §3.3)
        sized = m.Image.from_bytes(png(280, 56))
        with_png = m.Conversation(model="claude-opus-4-8", max_tokens=5,
                                  messages=[m.Message("user", (m.Text("a" * 400), sized))])
        assert estimate_input_tokens(with_png) == 100 + 4 + 10 * 2  # ceil(280/28) * ceil(56/28)
        for c in (conv, with_url, with_png):
            assert estimate_input_tokens(c) == convo_estimate(c)  # one estimate everywhere

    def test_max_tokens_zero_gives_no_text(self):
        """max_tokens 0 (a cache pre-warm) gives empty content, still reporting one output token."""
        conv = m.Conversation(model="claude-opus-4-8", max_tokens=0, messages=[m.Message("user", "Hi")])
        resp = build_response(conv, "echo: Hi")
        assert resp.content == () and resp.stop_reason == "max_tokens"
        assert resp.usage.output_tokens == 1

"""The emulator's replies that real test suites need: structured outputs, tool calls, 429s.

Issue 12's reproducers: ``output_config.format`` got ``echo: ...`` text (so the SDK's
``messages.parse(output_format=Model)`` raised), a forced ``tool_choice`` got placeholder input
that did not validate against ``input_schema``, and a 429 had no ``retry-after`` unless the fault
spec said so. Checked over real sockets, with ``jsonschema`` and the official SDK.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import anthropic
import httpx
import jsonschema
import pytest
from anthropic import beta_tool
from pydantic import BaseModel

from convo import Conversation, Message
from convo.executor import HttpExecutor
from convo.testing import Emulator
from convo.transforms.tokens import text_tokens
from tests import _helpers_emulator as h

KEY = h.KEY
MODEL = "claude-opus-4-8"
H26 = h.H26

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "email": {"type": "string", "format": "email"},
        "born": {"type": "string", "format": "date"},
        "id": {"type": "string", "format": "uuid"},
        "role": {"enum": ["admin", "user", "guest"]},
        "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]{3,8}$"},
                 "minItems": 1, "maxItems": 4},
        "manager": {"anyOf": [{"$ref": "#/$defs/ref"}, {"type": "null"}]},
        "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    },
    "required": ["name", "age", "email", "born", "id", "role", "tags", "manager", "score"],
    "additionalProperties": False,
    "$defs": {"ref": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}},
                      "required": ["id"], "additionalProperties": False}},
}
SEARCH_TOOL = {
    "name": "search_orders",
    "description": "Find orders",
    "strict": True,
    "input_schema": {
        "type": "object",
        "properties": {
            "customer": {"type": "string", "format": "email"},
            "status": {"type": "array", "items": {"enum": ["open", "paid", "shipped"]},
                       "minItems": 1},
            "since": {"type": "string", "format": "date-time"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        },
        "required": ["customer", "status", "limit"],
        "additionalProperties": False,
    },
}
CITY_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"], "additionalProperties": False},
}


def errors_of(value: Any, schema: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.FormatChecker()).iter_errors(value)]


def body(text: str = "Who is it?", **params: Any) -> dict[str, Any]:
    return h.request_body(text, model=params.pop("model", MODEL), **params)


def structured(schema: Any = PERSON) -> dict[str, Any]:
    return {"format": {"type": "json_schema", "schema": schema}}


@pytest.fixture
def emu():
    e = Emulator(api_keys={KEY})
    e.start()
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def client(emu):
    with httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


sdk = h.sdk  # an official SDK client on the emulator, closed after the test


# --------------------------------------------------------------------------- structured outputs


class TestStructuredOutputs:
    def test_output_config_format_gets_json_of_the_schema(self, client):
        """Reproducer: output_config.format gets a JSON text that validates (it was `echo: ...`)."""
        r = client.post("/v1/messages", headers=H26, json=body(output_config=structured()))
        assert r.status_code == 200
        [block] = r.json()["content"]
        value = json.loads(block["text"])
        assert errors_of(value, PERSON) == []
        assert r.json()["stop_reason"] == "end_turn"

    def test_same_request_same_json_and_stream_agrees(self, client):
        """The same request gets the same JSON, streamed or not; other requests get other JSON."""
        req = body(output_config=structured())
        a = client.post("/v1/messages", headers=H26, json=req).json()
        b = client.post("/v1/messages", headers=H26, json=req).json()
        events = h.parse_sse(client.post("/v1/messages", headers=H26,
                                         json={**req, "stream": True}).text)
        assert a == b == h.assemble(events)
        other = client.post("/v1/messages", headers=H26,
                            json=body("Someone else?", output_config=structured())).json()
        assert other["content"][0]["text"] != a["content"][0]["text"]

    def test_usage_counts_the_json(self, client):
        """output_tokens is the estimate of the JSON text; input_tokens is what count_tokens says."""
        req = body(output_config=structured())
        data = client.post("/v1/messages", headers=H26, json=req).json()
        assert data["usage"]["output_tokens"] == text_tokens(data["content"][0]["text"])
        counted = client.post("/v1/messages/count_tokens", headers=H26,
                              json={k: v for k, v in req.items() if k != "max_tokens"}).json()
        assert data["usage"]["input_tokens"] == counted["input_tokens"]

    def test_legacy_output_format_under_its_beta(self, client):
        """The beta top-level output_format works with structured-outputs-2025-11-13, and only then."""
        req = body(output_format={"type": "json_schema", "schema": PERSON})
        beta = {**H26, "anthropic-beta": "structured-outputs-2025-11-13"}
        r = client.post("/v1/messages", headers=beta, json=req)
        assert r.status_code == 200
        assert errors_of(json.loads(r.json()["content"][0]["text"]), PERSON) == []
        refused = client.post("/v1/messages", headers=H26, json=req)
        assert refused.status_code == 400
        assert "output_format: Extra inputs are not permitted" in refused.json()["error"]["message"]

    def test_a_schema_with_no_instance_is_a_400(self, client):
        """A schema no value satisfies is refused, naming where (the API compiles schemas first)."""
        bad = {"type": "object", "required": ["x"], "additionalProperties": False}
        r = client.post("/v1/messages", headers=H26, json=body(output_config=structured(bad)))
        assert r.status_code == 400
        assert r.json()["error"]["message"].startswith("output_config.format.schema: $.x:")

    def test_a_handler_still_has_the_last_word(self, emu, client):
        """A handler's text is the reply, structured output or not."""
        emu.handler = lambda conv: '{"mine": true}'
        r = client.post("/v1/messages", headers=H26, json=body(output_config=structured()))
        assert r.json()["content"][0]["text"] == '{"mine": true}'


class Address(BaseModel):
    city: str
    zip_code: str


class Person(BaseModel):
    name: str
    age: int
    role: Literal["admin", "user", "guest"]
    addresses: list[Address]
    nickname: str | None = None


class TestSdkStructuredOutputs:
    def test_messages_parse_returns_the_model(self, emu):
        """Reproducer: the SDK's messages.parse(output_format=Model) gives a parsed Model (it raised)."""
        msg = sdk(emu).messages.parse(model=MODEL, max_tokens=1024, output_format=Person,
                                      messages=[{"role": "user", "content": "Who?"}])
        assert isinstance(msg.parsed_output, Person)
        assert msg.parsed_output.role in ("admin", "user", "guest")
        assert msg.parsed_output == Person.model_validate_json(msg.content[0].text)

    def test_stream_gives_the_same_json(self, emu):
        """messages.stream with output_format assembles the text parse returns, parsed the same."""
        client = sdk(emu)
        kw = {"model": MODEL, "max_tokens": 1024, "output_format": Person,
              "messages": [{"role": "user", "content": "Who?"}]}
        parsed = client.messages.parse(**kw)
        with client.messages.stream(**kw) as s:
            chunks = list(s.text_stream)
            final = s.get_final_message()
        assert len(chunks) >= 2
        assert "".join(chunks) == parsed.content[0].text == final.content[0].text
        assert final.parsed_output == parsed.parsed_output

    def test_beta_parse(self, emu):
        """client.beta.messages.parse works too (the beta request types)."""
        msg = sdk(emu).beta.messages.parse(model=MODEL, max_tokens=1024, output_format=Address,
                                           messages=[{"role": "user", "content": "Where?"}])
        assert isinstance(msg.parsed_output, Address)


# --------------------------------------------------------------------------- tool calls


class TestToolCalls:
    def test_forced_tool_input_validates(self, client):
        """Reproducer: a forced tool_choice gets a tool_use whose input validates against input_schema."""
        for i, choice in enumerate(({"type": "any"}, {"type": "tool", "name": "search_orders"})):
            data = client.post("/v1/messages", headers=H26, json=body(
                f"orders {i}", tools=[CITY_TOOL, SEARCH_TOOL] if i else [SEARCH_TOOL, CITY_TOOL],
                tool_choice=choice)).json()
            [block] = data["content"]
            assert block["type"] == "tool_use" and block["name"] == "search_orders"
            assert errors_of(block["input"], SEARCH_TOOL["input_schema"]) == []
            assert data["stop_reason"] == "tool_use"

    def test_any_skips_tools_without_an_input_schema(self, client):
        """tool_choice any calls the first tool that has an input_schema, not a server tool."""
        server = {"type": "web_search_20250305", "name": "web_search"}
        data = client.post("/v1/messages", headers=H26, json=body(
            tools=[server, CITY_TOOL], tool_choice={"type": "any"})).json()
        assert data["content"][0]["name"] == "get_weather"

    def test_strict_tool_with_no_instance_is_a_400(self, client):
        """A strict tool whose schema admits no value is refused, naming the tool."""
        bad = {**SEARCH_TOOL, "input_schema": {"type": "object", "properties": {},
                                               "required": ["q"], "additionalProperties": False}}
        r = client.post("/v1/messages", headers=H26, json=body(tools=[bad], tool_choice={"type": "any"}))
        assert r.status_code == 400
        assert r.json()["error"]["message"].startswith("tools.0.custom.input_schema: $.q:")

    def test_unforced_tools_get_text_by_default(self, client):
        """tool_policy "text" (the default): tool_choice auto gets text, as the echo."""
        data = client.post("/v1/messages", headers=H26, json=body("Hi", tools=[SEARCH_TOOL])).json()
        assert data["content"][0] == {"type": "text", "text": "echo: Hi", "citations": None}

    def test_call_policy_calls_once_then_answers(self):
        """tool_policy "call": auto calls the first tool; after a tool_result the reply is text."""
        with Emulator(tool_policy="call") as url, httpx.Client(base_url=url) as c:
            first = c.post("/v1/messages", headers=H26, json=body(
                "orders?", tools=[SEARCH_TOOL, CITY_TOOL], tool_choice={"type": "auto"})).json()
            [call] = first["content"]
            assert call["name"] == "search_orders" and first["stop_reason"] == "tool_use"
            assert errors_of(call["input"], SEARCH_TOOL["input_schema"]) == []
            msgs = [{"role": "user", "content": "orders?"},
                    {"role": "assistant", "content": first["content"]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                                  "content": "2 open orders"}]}]
            second = c.post("/v1/messages", headers=H26, json=body(
                messages=msgs, tools=[SEARCH_TOOL, CITY_TOOL])).json()
            assert second["content"][0]["text"] == "echo: 2 open orders"
            assert second["stop_reason"] == "end_turn"
            none = c.post("/v1/messages", headers=H26, json=body(
                tools=[SEARCH_TOOL], tool_choice={"type": "none"})).json()
            assert none["content"][0]["type"] == "text"

    def test_unknown_policy_is_refused(self):
        """A tool_policy that is not text or call is a ValueError naming the choices."""
        with pytest.raises(ValueError, match="text, call"):
            Emulator(tool_policy="sometimes")


class TestSdkTools:
    def test_create_with_forced_tool(self, emu):
        """messages.create with a forced tool gets a ToolUseBlock whose input validates."""
        msg = sdk(emu).messages.create(model=MODEL, max_tokens=256, tools=[SEARCH_TOOL],
                                       tool_choice={"type": "tool", "name": "search_orders"},
                                       messages=[{"role": "user", "content": "orders"}])
        [block] = msg.content
        assert block.type == "tool_use" and msg.stop_reason == "tool_use"
        assert errors_of(block.input, SEARCH_TOOL["input_schema"]) == []

    def test_stream_tool_input_equals_create(self, emu):
        """The SDK's stream accumulator rebuilds the same input create returns."""
        client = sdk(emu)
        kw: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "tools": [SEARCH_TOOL],
                              "tool_choice": {"type": "any"},
                              "messages": [{"role": "user", "content": "orders"}]}
        with client.messages.stream(**kw) as s:
            final = s.get_final_message()
        assert final.content[0].input == client.messages.create(**kw).content[0].input

    @pytest.mark.parametrize("thread", [None, False])
    def test_tool_runner_completes_a_loop(self, thread):
        """The SDK's tool runner calls the tool with valid arguments, sends its result, and ends;
        threaded (its default) or not (thread=False: the full history every turn)."""
        calls: list[dict[str, Any]] = []

        @beta_tool
        def lookup_order(order_id: str, include_items: bool = False) -> str:
            """Look an order up.

            Args:
                order_id: the order's id
                include_items: whether to list its items
            """
            calls.append({"order_id": order_id, "include_items": include_items})
            return f"order {order_id} is shipped"

        emu = Emulator(tool_policy="call")
        with emu as url:
            client = anthropic.Anthropic(api_key=KEY, base_url=url)
            try:
                runner = client.beta.messages.tool_runner(
                    model=MODEL, max_tokens=512, tools=[lookup_order],
                    messages=[{"role": "user", "content": "Where is my order?"}],
                    **({} if thread is None else {"thread": thread}))
                messages = list(runner)
            finally:
                client.close()
        assert [m.stop_reason for m in messages] == ["tool_use", "end_turn"]
        assert len(calls) == 1 and isinstance(calls[0]["order_id"], str)
        assert messages[-1].content[0].text == f"echo: order {calls[0]['order_id']} is shipped"
        statuses = [r.status for r in emu.log]
        if thread is None:  # the threaded first try is refused the way the SDK recovers from
            assert statuses == [400, 200, 200]
            assert "thread" in emu.log[0].body and "thread" not in emu.log[1].body
        else:
            assert statuses == [200, 200]
        assert len(emu.log[-1].body["messages"]) == 3  # the full history, unthreaded

    def test_a_thread_is_refused_as_unsupported(self, client):
        """Under the message-threads beta a `thread` gets thread_unsupported_request details;
        without the beta it is an unknown key."""
        req = body(thread={"type": "new"})
        beta = {**H26, "anthropic-beta": "message-threads-2026-08-12"}
        r = client.post("/v1/messages", headers=beta, json=req)
        assert r.status_code == 400
        assert r.json()["error"]["details"] == {"error_code": "thread_unsupported_request"}
        plain = client.post("/v1/messages", headers=H26, json=req)
        assert plain.json()["error"]["message"] == "thread: Extra inputs are not permitted"


# --------------------------------------------------------------------------- 429


class TestRateLimits:
    def test_429_carries_retry_after_and_rate_limit_headers(self, emu):
        """Reproducer: a plain 429 fault carries retry-after and anthropic-ratelimit-* (SDK view)."""
        emu.faults = "429"
        before = datetime.now(UTC).replace(microsecond=0)
        with pytest.raises(anthropic.RateLimitError) as info:
            sdk(emu, max_retries=0).messages.create(model=MODEL, max_tokens=64,
                                                   messages=[{"role": "user", "content": "hi"}])
        got = info.value.response.headers
        assert info.value.status_code == 429 and got["retry-after"] == "1"
        for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
            for part in ("limit", "remaining", "reset"):
                assert f"anthropic-ratelimit-{kind}-{part}" in got
        assert got["anthropic-ratelimit-requests-remaining"] == "0"
        reset = datetime.fromisoformat(got["anthropic-ratelimit-requests-reset"])
        assert 1 <= (reset - before).total_seconds() <= 3
        assert int(got["anthropic-ratelimit-tokens-remaining"]) % 1000 == 0  # facts §5.2: rounded

    def test_explicit_retry_after_wins(self, emu):
        """retry-after=7 in the spec is what the 429 says; its requests reset 7 s on."""
        emu.faults = "429:retry-after=7"
        r = httpx.post(f"{emu.base_url}/v1/messages", headers=H26, json=body())
        assert r.headers["retry-after"] == "7"
        reset = datetime.fromisoformat(r.headers["anthropic-ratelimit-requests-reset"])
        assert 6 <= (reset - datetime.now(UTC)).total_seconds() <= 8

    def test_retry_after_none_and_ms(self, emu):
        """retry-after=none sends none (a spend-cap 429); retry-after-ms alone adds no retry-after."""
        emu.faults = "429:retry-after=none, 429:retry-after-ms=200"
        a = httpx.post(f"{emu.base_url}/v1/messages", headers=H26, json=body())
        b = httpx.post(f"{emu.base_url}/v1/messages", headers=H26, json=body())
        assert "retry-after" not in a.headers and "anthropic-ratelimit-requests-limit" in a.headers
        assert "retry-after" not in b.headers and b.headers["retry-after-ms"] == "200"

    def test_other_statuses_get_no_rate_limit_headers(self, emu):
        """A 529 has neither retry-after nor rate-limit headers unless asked."""
        emu.faults = "529"
        r = httpx.post(f"{emu.base_url}/v1/messages", headers=H26, json=body())
        assert r.status_code == 529
        assert not [k for k in r.headers if k.startswith(("retry-after", "anthropic-ratelimit"))]

    def test_http_executor_honours_the_default_retry_after(self, emu):
        """convo's HttpExecutor waits the default retry-after (1 s) before its retry."""
        emu.faults = "429"
        conv = Conversation(model=MODEL, max_tokens=64, messages=(Message("user", "hi"),))
        with HttpExecutor(KEY, base_url=emu.base_url) as ex:
            assert ex.execute(conv).text == "echo: hi"
        first, second = emu.log
        assert first.status == 429 and second.status == 200
        assert second.time - first.time >= 1.0


# --------------------------------------------------------------------------- convo serve


class TestServe:
    def test_serve_tool_policy_call(self):
        """`convo serve --tool-policy call` answers an unforced tool with a call."""
        with h.serving("--tool-policy", "call") as url:
            data = httpx.post(f"{url}/v1/messages", headers=H26, timeout=10,
                              json=body(tools=[CITY_TOOL])).json()
            assert data["content"][0]["type"] == "tool_use"
            assert errors_of(data["content"][0]["input"], CITY_TOOL["input_schema"]) == []

    def test_help_says_what_the_policies_do(self, capsys):
        """convo serve --help names --tool-policy and both choices."""
        from convo.cli import main

        assert main(["serve", "--help"]) == 0
        out = capsys.readouterr().out
        assert "--tool-policy" in out and "{text,call}" in out and "tool_result" in out


"""Tests for convo.executor._http: the HTTP executors over httpx.MockTransport (no sockets)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import attrs
import httpx
import orjson
import pytest

import convo
from convo import model as m
from convo.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConvoError,
    DecodeError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServiceUnavailableError,
    StreamError,
    UnprocessableEntityError,
    ValidationError,
)
from convo.executor import (
    AsyncHttpExecutor,
    HttpExecutor,
    RetryPolicy,
    assemble,
    events_from_response,
    iter_events,
)
from tests import _helpers_executor as H

KEY = H.KEY
BASE = "http://api.test"


def executor(script: Any, clock: Any = None, **kwargs: Any) -> HttpExecutor:
    clock = clock or H.FakeClock()
    kwargs.setdefault("retry", clock.policy())
    return HttpExecutor(KEY, base_url=BASE, client=httpx.Client(transport=httpx.MockTransport(script)), **kwargs)


def aexecutor(script: Any, clock: Any = None, **kwargs: Any) -> AsyncHttpExecutor:
    clock = clock or H.FakeClock()
    kwargs.setdefault("retry", clock.policy())
    return AsyncHttpExecutor(
        KEY, base_url=BASE, client=httpx.AsyncClient(transport=httpx.MockTransport(script)), **kwargs
    )


# --------------------------------------------------------------------------- configuration


class TestConfiguration:
    def test_environment_supplies_key_and_base_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL are read as the official SDK reads them."""
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://env.test/proxy/")
        script = H.Script(H.ok())
        ex = HttpExecutor(client=httpx.Client(transport=httpx.MockTransport(script)))
        ex.execute(H.conv())
        req = script.requests[0]
        assert str(req.url) == "http://env.test/proxy/v1/messages"
        assert req.headers["authorization"] == "Bearer sk-from-env"

    def test_arguments_beat_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An explicit key and base URL win over the environment."""
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://env.test")
        script = H.Script(H.ok())
        executor(script).execute(H.conv())
        assert str(script.requests[0].url) == f"{BASE}/v1/messages"
        assert script.requests[0].headers["authorization"] == f"Bearer {KEY}"

    def test_default_base_url_is_the_api(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without ANTHROPIC_BASE_URL the base URL is https://api.anthropic.com."""
        monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
        assert HttpExecutor(KEY).base_url == "https://api.anthropic.com"

    def test_missing_key_is_an_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No key anywhere raises ConvoError at construction, naming the variable."""
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        with pytest.raises(ConvoError, match="ANTHROPIC_API_KEY"):
            HttpExecutor()

    def test_2026_sends_a_bearer_token(self) -> None:
        """Under 2026-10-21 the key goes as Authorization: Bearer, never as x-api-key."""
        script = H.Script(H.ok())
        executor(script).execute(H.conv())
        h = script.requests[0].headers
        assert h["anthropic-version"] == "2026-10-21"
        assert h["authorization"] == f"Bearer {KEY}"
        assert "x-api-key" not in h
        assert h["content-type"] == "application/json"

    def test_2023_sends_x_api_key(self) -> None:
        """Under 2023-06-01 the key goes as x-api-key, never as a bearer token."""
        script = H.Script(H.ok())
        executor(script, api_version="2023-06-01").execute(H.conv())
        h = script.requests[0].headers
        assert h["anthropic-version"] == "2023-06-01"
        assert h["x-api-key"] == KEY
        assert "authorization" not in h

    def test_betas_are_comma_joined(self) -> None:
        """betas become one anthropic-beta header, comma-separated."""
        script = H.Script(H.ok())
        executor(script, betas=["files-api-2025-04-14", "context-1m-2025-08-07"]).execute(H.conv())
        assert script.requests[0].headers["anthropic-beta"] == "files-api-2025-04-14,context-1m-2025-08-07"
        script2 = H.Script(H.ok())
        executor(script2).execute(H.conv())
        assert "anthropic-beta" not in script2.requests[0].headers

    def test_injected_client_is_used_and_left_open(self) -> None:
        """An injected httpx.Client carries the requests and is not closed by close()."""
        script = H.Script(H.ok())
        client = httpx.Client(transport=httpx.MockTransport(script))
        with HttpExecutor(KEY, base_url=BASE, client=client) as ex:
            ex.execute(H.conv())
        assert len(script.requests) == 1
        assert not client.is_closed
        own = HttpExecutor(KEY, base_url=BASE)
        own.close()
        assert own._client.is_closed

    def test_repr_redacts_the_key(self) -> None:
        """The repr names the base URL and version and shows the key as <redacted>."""
        ex = HttpExecutor(KEY, base_url=BASE, betas=["b1"], stream=True)
        assert repr(ex) == (
            "HttpExecutor(base_url='http://api.test', api_version='2026-10-21', betas=('b1',), "
            "stream=True, api_key=<redacted>)"
        )
        assert KEY not in repr(vars(ex))


# --------------------------------------------------------------------------- requests


class TestRequests:
    def test_body_is_the_codec_output(self) -> None:
        """A non-streaming request body is exactly convo.dumps(conversation)."""
        script = H.Script(H.ok())
        c = H.conv("What is 2+2?", metadata={"user_id": "u1"})
        resp = executor(script).execute(c)
        assert script.requests[0].content == convo.dumps(c)
        assert resp == convo.loads_response(orjson.dumps(H.response_json()))

    def test_conversation_is_not_changed(self) -> None:
        """execute returns the reply and leaves the conversation as it was."""
        c = H.conv()
        before = convo.dumps(c)
        resp = executor(H.Script(H.ok(H.response_json("Four.")))).execute(c)
        assert convo.dumps(c) == before
        assert c.with_response(resp).messages[-1] == m.Message("assistant", (m.Text("Four."),))

    def test_count_tokens_body_and_answer(self) -> None:
        """count_tokens posts the request minus max_tokens, stream and sampling fields and returns the count."""
        script = H.Script(httpx.Response(200, json={"input_tokens": 42}))
        c = H.conv(system="Be brief.", stop_sequences=["END"], tools=[{"name": "f", "input_schema": {"type": "object"}}],
                   metadata={"user_id": "u"}, service_tier="auto", stream=False)
        assert executor(script).count_tokens(c) == 42
        req = script.requests[0]
        assert str(req.url) == f"{BASE}/v1/messages/count_tokens"
        assert orjson.loads(req.content) == {
            "model": H.MODEL, "messages": [{"role": "user", "content": "Hello, Claude"}],
            "system": "Be brief.", "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        }

    def test_count_tokens_without_a_count_is_an_error(self) -> None:
        """A count_tokens answer without an integer input_tokens raises APIError."""
        with pytest.raises(APIError, match="input_tokens"):
            executor(H.Script(httpx.Response(200, json={"tokens": 1}))).count_tokens(H.conv())

    def test_invalid_success_body_is_a_decode_error(self) -> None:
        """A 200 whose body is not a Messages API response raises DecodeError."""
        with pytest.raises(DecodeError):
            executor(H.Script(httpx.Response(200, content=b"<html>"))).execute(H.conv())


class TestValidation:
    def test_invalid_request_is_never_sent(self) -> None:
        """A request that breaks a rule raises ValidationError with the rule's path and hint; nothing is sent."""
        script = H.Script(H.ok())
        c = attrs.evolve(H.conv(), temperature=0.2)
        with pytest.raises(ValidationError) as info:
            executor(script).execute(c)
        assert script.requests == []
        errors = info.value.report.errors
        assert errors and errors[0].path == "$.temperature"
        assert errors[0].hint

    def test_rules_follow_the_api_version(self) -> None:
        """The same request is valid under 2023-06-01 and is sent there."""
        script = H.Script(H.ok())
        c = attrs.evolve(H.conv(), temperature=0.2)
        executor(script, api_version="2023-06-01").execute(c)
        assert orjson.loads(script.requests[0].content)["temperature"] == 0.2

    def test_validation_can_be_turned_off(self) -> None:
        """validate=False sends whatever it is given."""
        script = H.Script(H.ok())
        executor(script, validate=False).execute(attrs.evolve(H.conv(), temperature=0.2))
        assert len(script.requests) == 1

    def test_the_rules_module_is_what_decides(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The executor asks convo.rules.validate with its API version, and obeys the report."""
        seen: list[str] = []

        def fake(conversation: Any, *, api_version: str, **_: Any) -> Any:
            seen.append(api_version)
            return convo.Report((convo.Violation("x.rule", "error", "$.messages[0]", "no", "fix it"),))

        monkeypatch.setattr(convo.rules, "validate", fake)
        with pytest.raises(ValidationError, match=r"x\.rule"):
            executor(H.Script(H.ok()), api_version="2023-06-01").execute(H.conv())
        assert seen == ["2023-06-01"]


# --------------------------------------------------------------------------- retries


def _sdk_recorded_429s() -> list[dict[str, Any]]:
    import json

    path = H.REALWORLD / "sdk-python-recordings" / "_parse__test_messages__TestAsyncParse__d743d628-16aa-4c9f-ae78-51deb578f746.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


class TestRetries:
    def test_replays_the_sdk_recording_exactly(self) -> None:
        """The SDK's recorded 429, 429, 200 run gives the same retry counts and the SDK's backoff waits."""
        rec = _sdk_recorded_429s()
        answers = [httpx.Response(x["response"]["status_code"], json=x["response"]["body"],
                                  headers=x["response"]["headers"]) for x in rec]
        script = H.Script(*answers)
        clock = H.FakeClock(random_value=0.4)
        resp = executor(script, clock, api_version="2023-06-01").execute(H.conv())
        assert [r.headers["x-stainless-retry-count"] for r in script.requests] == [
            x["request"]["headers"]["x-stainless-retry-count"] for x in rec
        ] == ["0", "1", "2"]
        assert clock.sleeps == [0.5 * (1 - 0.25 * 0.4), 1.0 * (1 - 0.25 * 0.4)]
        assert resp.id == rec[-1]["response"]["body"]["id"]

    @pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504, 529])
    def test_retryable_statuses(self, code: int) -> None:
        """408, 409, 429 and every status >= 500 are retried."""
        script = H.Script(H.status(code), H.ok())
        assert executor(script).execute(H.conv()).id == "msg_test"
        assert len(script.requests) == 2

    @pytest.mark.parametrize(
        ("code", "kind", "cls"),
        [(400, "invalid_request_error", BadRequestError), (401, "authentication_error", AuthenticationError),
         (403, "permission_error", PermissionDeniedError), (404, "not_found_error", NotFoundError),
         (413, "request_too_large", RequestTooLargeError), (422, "invalid_request_error", UnprocessableEntityError)],
    )
    def test_final_statuses_raise_their_class(self, code: int, kind: str, cls: type[Exception]) -> None:
        """4xx other than 408/409/429 are not retried and raise the class of their status."""
        script = H.Script(H.status(code, kind, request_id="req_42"))
        with pytest.raises(cls) as info:
            executor(script).execute(H.conv())
        e = info.value
        assert isinstance(e, APIStatusError)
        assert (e.status, e.type, e.message, e.request_id) == (code, kind, "boom", "req_42")
        assert len(script.requests) == 1

    def test_gives_up_after_max_retries(self) -> None:
        """With the default two retries, three 529s raise OverloadedError after waits of the SDK's schedule."""
        clock = H.FakeClock(random_value=1.0)
        script = H.Script(H.status(529, "overloaded_error", request_id="req_9"))
        with pytest.raises(OverloadedError) as info:
            executor(script, clock).execute(H.conv())
        assert info.value.request_id == "req_9"
        assert len(script.requests) == 3
        assert clock.sleeps == [0.375, 0.75]

    def test_max_retries_is_configurable(self) -> None:
        """max_retries=5 makes six attempts, with waits doubling up to the cap."""
        clock = H.FakeClock(random_value=0.0)
        script = H.Script(H.status(500))
        with pytest.raises(InternalServerError):
            executor(script, clock, retry=clock.policy(max_retries=5, cap=4.0)).execute(H.conv())
        assert len(script.requests) == 6
        assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0]

    def test_x_should_retry_overrides_the_status(self) -> None:
        """x-should-retry: false stops a 529 from being retried; true retries a 400."""
        script = H.Script(H.status(529, "overloaded_error", x_should_retry="false"))
        with pytest.raises(OverloadedError):
            executor(script).execute(H.conv())
        assert len(script.requests) == 1
        script2 = H.Script(H.status(400, "invalid_request_error", x_should_retry="true"), H.ok())
        executor(script2).execute(H.conv())
        assert len(script2.requests) == 2

    def test_retry_after_ms_then_retry_after(self) -> None:
        """retry-after-ms wins over retry-after; retry-after in seconds is honoured exactly, no jitter."""
        clock = H.FakeClock()
        script = H.Script(H.status(429, "rate_limit_error", retry_after_ms="1500", retry_after="9"),
                          H.status(429, "rate_limit_error", retry_after="2.5"), H.ok())
        executor(script, clock).execute(H.conv())
        assert clock.sleeps == [1.5, 2.5]

    def test_retry_after_http_date(self) -> None:
        """A retry-after given as an HTTP date waits until that moment by the wall clock."""
        clock = H.FakeClock(start=784111777.0)
        script = H.Script(H.status(503, retry_after="Sun, 06 Nov 1994 08:49:44 GMT"), H.ok())
        executor(script, clock).execute(H.conv())
        assert clock.sleeps == [7.0]

    def test_long_retry_after_is_honoured_by_default(self) -> None:
        """Like the 2.x SDK, any positive retry-after is honoured (here 120 s)."""
        clock = H.FakeClock()
        executor(H.Script(H.status(429, "rate_limit_error", retry_after="120"), H.ok()), clock).execute(H.conv())
        assert clock.sleeps == [120.0]

    def test_max_retry_after_falls_back_to_backoff(self) -> None:
        """Above max_retry_after (the 0.x SDK's 60 s) the server's wait is ignored for the exponential one."""
        clock = H.FakeClock(random_value=0.0)
        ex = executor(H.Script(H.status(429, "rate_limit_error", retry_after="120"), H.ok()), clock,
                      retry=clock.policy(max_retry_after=60))
        ex.execute(H.conv())
        assert clock.sleeps == [0.5]

    def test_zero_or_bad_retry_after_uses_backoff(self) -> None:
        """A retry-after of 0, negative or unreadable falls back to the exponential wait."""
        clock = H.FakeClock(random_value=0.0)
        script = H.Script(H.status(429, retry_after="0"), H.status(429, retry_after="-3"), H.status(429, retry_after="soon"), H.ok())
        executor(script, clock, retry=clock.policy(max_retries=3)).execute(H.conv())
        assert clock.sleeps == [0.5, 1.0, 2.0]

    def test_connection_errors_are_retried(self) -> None:
        """A refused connection is retried, and raises APIConnectionError once retries run out."""
        clock = H.FakeClock(random_value=0.0)
        script = H.Script(httpx.ConnectError("refused"), H.ok())
        assert executor(script, clock).execute(H.conv()).id == "msg_test"
        assert clock.sleeps == [0.5]
        always = H.Script(httpx.ConnectError("refused"))
        with pytest.raises(APIConnectionError, match="ConnectError: refused") as info:
            executor(always).execute(H.conv())
        assert not isinstance(info.value, APITimeoutError)
        assert len(always.requests) == 3

    def test_timeouts_are_retried_and_raise_timeout_error(self) -> None:
        """A read timeout is retried, then raises APITimeoutError."""
        script = H.Script(httpx.ReadTimeout("slow"))
        with pytest.raises(APITimeoutError):
            executor(script).execute(H.conv())
        assert len(script.requests) == 3

    def test_connection_retries_can_be_turned_off(self) -> None:
        """connection_errors=False raises on the first connection failure."""
        clock = H.FakeClock()
        script = H.Script(httpx.ConnectError("refused"))
        with pytest.raises(APIConnectionError):
            executor(script, clock, retry=clock.policy(connection_errors=False)).execute(H.conv())
        assert len(script.requests) == 1

    def test_retry_statuses_are_configurable(self) -> None:
        """statuses and server_errors choose what is retried."""
        clock = H.FakeClock()
        policy = clock.policy(statuses={418}, server_errors=False)
        s1 = H.Script(H.status(500))
        with pytest.raises(InternalServerError):
            executor(s1, clock, retry=policy).execute(H.conv())
        assert len(s1.requests) == 1
        s2 = H.Script(H.status(418), H.ok())
        executor(s2, clock, retry=policy).execute(H.conv())
        assert len(s2.requests) == 2
        s3 = H.Script(H.status(409, "conflict_error"))
        with pytest.raises(ConflictError):
            executor(s3, clock, retry=policy).execute(H.conv())
        assert len(s3.requests) == 1

    def test_retry_after_holds_every_later_request(self) -> None:
        """A 429's retry-after pauses the executor's next requests, even when that 429 itself was final."""
        clock = H.FakeClock()
        script = H.Script(H.status(429, "rate_limit_error", retry_after="4"), H.ok())
        ex = executor(script, clock, retry=clock.policy(max_retries=0))
        with pytest.raises(RateLimitError):
            ex.execute(H.conv())
        assert clock.sleeps == []
        assert ex.backoff.remaining() == 4.0
        ex.execute(H.conv("next"))
        assert clock.sleeps == [4.0]

    def test_stats_count_attempts_and_retries(self) -> None:
        """stats.requests counts every attempt and stats.retries every retry."""
        ex = executor(H.Script(H.status(529), H.status(529), H.ok()))
        ex.execute(H.conv())
        assert (ex.stats.requests, ex.stats.retries) == (3, 2)

    def test_retries_are_logged_without_secrets(self, caplog: pytest.LogCaptureFixture) -> None:
        """Each retry is logged (path, wait, status), never with the key."""
        caplog.set_level(logging.DEBUG)
        executor(H.Script(H.status(529), H.ok()), H.FakeClock(random_value=0.0)).execute(H.conv())
        lines = [r.getMessage() for r in caplog.records if r.name == "convo.executor"]
        assert lines == ["retrying /v1/messages in 0.500 s after HTTP 529 (retry 1 of 2)"]


# --------------------------------------------------------------------------- errors


class TestErrors:
    def test_request_id_from_header_beats_body(self) -> None:
        """The request-id header names the error's request; without it the body's request_id is used."""
        with pytest.raises(NotFoundError) as info:
            executor(H.Script(H.status(404, "not_found_error", request_id="req_hdr"))).execute(H.conv())
        assert info.value.request_id == "req_hdr"
        with pytest.raises(NotFoundError) as info2:
            executor(H.Script(H.status(404, "not_found_error"))).execute(H.conv())
        assert info2.value.request_id == "req_body"

    def test_non_json_error_body(self) -> None:
        """An HTML 502 from a proxy still maps to InternalServerError."""
        clock = H.FakeClock()
        script = H.Script(httpx.Response(502, content=b"<html>bad gateway</html>"))
        with pytest.raises(InternalServerError) as info:
            executor(script, clock).execute(H.conv())
        assert info.value.status == 502
        assert info.value.body == "<html>bad gateway</html>"

    def test_503_has_its_own_class(self) -> None:
        """503 raises ServiceUnavailableError (an InternalServerError)."""
        with pytest.raises(ServiceUnavailableError):
            executor(H.Script(H.status(503))).execute(H.conv())


# --------------------------------------------------------------------------- streaming


def _sse_file(name: str) -> bytes:
    return (H.REALWORLD / "sdk-python-sse" / name).read_bytes()


class TestStreaming:
    def test_stream_true_sends_stream_and_assembles(self) -> None:
        """stream=True sends "stream": true and returns the reply the events add up to."""
        body = _sse_file("streaming__tool_use_response.sse")
        script = H.Script(H.sse(body))
        resp = executor(script, stream=True).execute(H.conv())
        assert orjson.loads(script.requests[0].content)["stream"] is True
        assert resp == assemble(iter_events([body]))

    def test_conversation_stream_flag_streams(self) -> None:
        """A conversation with stream: true is streamed even by a non-streaming executor."""
        body = _sse_file("streaming__basic_response.sse")
        resp = executor(H.Script(H.sse(body))).execute(H.conv(stream=True))
        assert resp.text == "Hello there!"

    def test_streamed_reply_equals_the_plain_one(self) -> None:
        """The same reply served as JSON and as SSE gives equal Response values."""
        plain = executor(H.Script(H.ok())).execute(H.conv())
        wire = H.to_sse(events_from_response(plain, chunk_size=2))
        streamed = executor(H.Script(H.sse(wire)), stream=True).execute(H.conv())
        assert streamed == plain

    def test_on_event_callbacks(self) -> None:
        """The executor's on_event and the call's on_event both see every event, in order."""
        body = _sse_file("streaming__basic_response.sse")
        a: list[str] = []
        b: list[str] = []
        ex = executor(H.Script(H.sse(body)), on_event=lambda e: a.append(e.type))
        ex.execute_stream(H.conv(), on_event=lambda e: b.append(e.type))
        assert a == b
        assert a[0] == "message_start" and a[-1] == "message_stop" and "ping" in a

    def test_stream_cut_short_is_a_stream_error(self) -> None:
        """A stream that ends before message_stop raises StreamError and is not retried."""
        body = _sse_file("streaming__basic_response.sse")
        script = H.Script(H.sse(body[: body.index(b"event: message_delta")]))
        with pytest.raises(StreamError, match="message_stop"):
            executor(script, stream=True).execute(H.conv())
        assert len(script.requests) == 1

    def test_error_event_after_200(self) -> None:
        """An error event inside a 200 stream raises OverloadedError (status 200) and is not retried."""
        body = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","content":[],'
                b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
                b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')
        script = H.Script(H.sse(body, **{"request-id": "req_s"}))
        with pytest.raises(OverloadedError) as info:
            executor(script, stream=True).execute(H.conv())
        assert (info.value.status, info.value.request_id) == (200, "req_s")
        assert len(script.requests) == 1

    def test_error_status_before_the_stream_is_retried(self) -> None:
        """A 529 answered instead of a stream is retried like any request."""
        body = _sse_file("streaming__basic_response.sse")
        script = H.Script(H.status(529, "overloaded_error"), H.sse(body))
        assert executor(script, stream=True).execute(H.conv()).text == "Hello there!"
        assert len(script.requests) == 2

    def test_broken_connection_mid_stream(self) -> None:
        """A connection that breaks mid-stream raises StreamError."""

        class Broken(httpx.SyncByteStream):
            def __iter__(self) -> Any:
                yield _sse_file("streaming__basic_response.sse")[:200]
                raise httpx.ReadError("connection reset")

        script = H.Script(lambda req: httpx.Response(200, stream=Broken(), headers={"content-type": "text/event-stream"}))
        with pytest.raises(StreamError, match="broke off"):
            executor(script, stream=True).execute(H.conv())


# --------------------------------------------------------------------------- the key never leaks


def _texts(obj: Any, depth: int = 0) -> list[str]:
    """str and repr of an exception, its args, attributes and its whole cause/context chain."""
    out: list[str] = []
    if obj is None or depth > 6:
        return out
    out += [str(obj), repr(obj)]
    if isinstance(obj, BaseException):
        out += [repr(a) for a in obj.args]
        out += [repr(v) for v in vars(obj).values()]
        out += _texts(obj.__cause__, depth + 1) + _texts(obj.__context__, depth + 1)
    return out


class TestSecrets:
    def test_key_never_appears(self, caplog: pytest.LogCaptureFixture) -> None:
        """Across errors of every kind, the key is in no exception text, repr, attribute or log line."""
        caplog.set_level(logging.DEBUG)
        failures = [
            H.Script(H.status(401, "authentication_error")),
            H.Script(H.status(529, "overloaded_error")),
            H.Script(httpx.ConnectError("refused")),
            H.Script(httpx.ReadTimeout("slow")),
            H.Script(H.sse(b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"x"}}\n\n')),
        ]
        seen: list[str] = []
        for script in failures:
            for stream in (False, True):
                ex = executor(script, stream=stream)
                with pytest.raises(ConvoError) as info:
                    ex.execute(H.conv())
                seen += [*_texts(info.value), repr(ex), repr(vars(ex)), str(ex.retry)]
        with pytest.raises(ValidationError) as vinfo:
            executor(H.Script(H.ok())).execute(attrs.evolve(H.conv(), temperature=1))
        seen += _texts(vinfo.value)
        seen += [r.getMessage() for r in caplog.records] + [caplog.text]
        assert all(KEY not in s for s in seen)
        assert len(seen) > 50


# --------------------------------------------------------------------------- async


class TestAsync:
    def test_execute_retries_with_async_sleep(self) -> None:
        """The async executor retries on the same schedule, sleeping through the policy's async sleep."""
        clock = H.FakeClock(random_value=1.0)
        script = H.Script(H.status(529, "overloaded_error"), H.status(429, "rate_limit_error", retry_after="3"), H.ok())

        async def main() -> m.Response:
            async with aexecutor(script, clock) as ex:
                return await ex.execute(H.conv())

        assert asyncio.run(main()).id == "msg_test"
        assert clock.sleeps == [0.375, 3.0]
        assert [r.headers["x-stainless-retry-count"] for r in script.requests] == ["0", "1", "2"]

    def test_stream_and_count_tokens(self) -> None:
        """The async executor streams (events to on_event) and counts tokens."""
        body = _sse_file("streaming__tool_use_response.sse")
        seen: list[str] = []

        async def main() -> tuple[m.Response, int]:
            ex = aexecutor(H.Script(H.sse(body)))
            resp = await ex.execute_stream(H.conv(), on_event=lambda e: seen.append(e.type))
            counter = aexecutor(H.Script(httpx.Response(200, json={"input_tokens": 7})))
            return resp, await counter.count_tokens(H.conv())

        resp, n = asyncio.run(main())
        assert resp == assemble(iter_events([body]))
        assert n == 7
        assert seen.count("content_block_delta") > 3

    def test_errors_and_validation(self) -> None:
        """The async executor raises the same error classes and refuses invalid requests unsent."""
        script = H.Script(H.status(404, "not_found_error"))

        async def main() -> None:
            ex = aexecutor(script)
            with pytest.raises(NotFoundError):
                await ex.execute(H.conv())
            with pytest.raises(ValidationError):
                await ex.execute(attrs.evolve(H.conv(), top_k=3))
            with pytest.raises(APIConnectionError):
                await aexecutor(H.Script(httpx.ConnectError("no"))).execute(H.conv())

        asyncio.run(main())
        assert len(script.requests) == 1

    def test_injected_async_client_left_open(self) -> None:
        """An injected AsyncClient is not closed by aclose; an owned one is."""

        async def main() -> tuple[bool, bool]:
            client = httpx.AsyncClient(transport=httpx.MockTransport(H.Script(H.ok())))
            async with AsyncHttpExecutor(KEY, base_url=BASE, client=client) as ex:
                await ex.execute(H.conv())
            own = AsyncHttpExecutor(KEY, base_url=BASE)
            await own.aclose()
            return client.is_closed, own._client.is_closed

        assert asyncio.run(main()) == (False, True)


class TestRetryPolicyValue:
    def test_defaults_are_the_sdks(self) -> None:
        """The default policy is the official SDK's: 2 retries, 0.5 s base, 8 s cap, 25 % jitter."""
        p = RetryPolicy()
        assert (p.max_retries, p.base, p.cap, p.jitter, p.max_retry_after) == (2, 0.5, 8.0, 0.25, None)
        assert p.statuses == frozenset({408, 409, 429})
        assert p.server_errors and p.connection_errors

    def test_jitter_only_shortens(self) -> None:
        """Jitter scales the wait down by at most 25 %, never up."""
        for r in (0.0, 0.3, 0.999):
            d = RetryPolicy(random=lambda r=r: r).delay(1)
            assert 0.75 <= d <= 1.0

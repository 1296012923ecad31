"""Tests of the HTTP executors over real sockets, against convo's local emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest

from convo import model as m
from convo.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConvoError,
    OverloadedError,
    RateLimitError,
    StreamError,
)
from convo.executor import AsyncHttpExecutor, HttpExecutor, RetryPolicy, arun_many
from convo.testing import Emulator
from tests import _helpers_executor as H

KEY = H.KEY
FAST = RetryPolicy(base=0.01, cap=0.05)  # the SDK's schedule, scaled down so tests stay quick


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator(api_keys=[KEY])
    e.start()
    try:
        yield e
    finally:
        e.stop()


def http(emu: Emulator, **kwargs: Any) -> HttpExecutor:
    kwargs.setdefault("retry", FAST)
    return HttpExecutor(KEY, base_url=emu.base_url, **kwargs)


def _retry_counts(emu: Emulator) -> list[str | None]:
    return [r.headers.get("x-stainless-retry-count") for r in emu.requests("/v1/messages")]


class TestWire:
    def test_round_trip_and_headers(self, emu: Emulator) -> None:
        """A request reaches the emulator with the 2026 headers and the deterministic reply comes back."""
        with http(emu, betas=["files-api-2025-04-14"]) as ex:
            r = ex.execute(H.conv("Hello"))
        assert r.text == "echo: Hello"
        assert r.stop_reason == "end_turn"
        (req,) = emu.log
        assert req.api_key_scheme == "bearer"
        assert req.headers["anthropic-version"] == "2026-10-21"
        assert req.headers["anthropic-beta"] == "files-api-2025-04-14"
        assert req.body["messages"] == [{"role": "user", "content": "Hello"}]
        assert KEY not in repr(req.headers)

    def test_2023_version_uses_x_api_key(self, emu: Emulator) -> None:
        """Under 2023-06-01 the emulator sees x-api-key, and sampling params are accepted there."""
        with http(emu, api_version="2023-06-01") as ex:
            r = ex.execute(attrs.evolve(H.conv("Hi"), temperature=0.3))
        assert r.text == "echo: Hi"
        assert emu.log[0].api_key_scheme == "x-api-key"
        assert emu.log[0].body["temperature"] == 0.3

    def test_wrong_key_is_an_authentication_error(self, emu: Emulator) -> None:
        """A key the server refuses raises AuthenticationError (401), not retried."""
        with HttpExecutor("sk-wrong", base_url=emu.base_url) as ex, pytest.raises(AuthenticationError) as info:
            ex.execute(H.conv())
        assert info.value.status == 401
        assert info.value.request_id and info.value.request_id.startswith("req_")
        assert len(emu.log) == 1

    def test_server_side_rule_error(self, emu: Emulator) -> None:
        """With local checks off, the server's 400 for a rule violation raises BadRequestError naming the field."""
        with http(emu, validate=False) as ex, pytest.raises(BadRequestError, match="temperature"):
            ex.execute(attrs.evolve(H.conv(), temperature=0.3))

    def test_local_check_saves_the_round_trip(self, emu: Emulator) -> None:
        """With local checks on, the same request never reaches the server."""
        from convo.errors import ValidationError

        with http(emu) as ex, pytest.raises(ValidationError):
            ex.execute(attrs.evolve(H.conv(), temperature=0.3))
        assert emu.log == []

    def test_count_tokens(self, emu: Emulator) -> None:
        """count_tokens reaches /v1/messages/count_tokens and returns the server's count."""
        with http(emu) as ex:
            n = ex.count_tokens(H.conv("How many tokens is this?"))
        assert isinstance(n, int) and n > 0
        (req,) = emu.log
        assert req.path == "/v1/messages/count_tokens"
        assert "max_tokens" not in req.body

    def test_streaming_gives_the_same_reply(self, emu: Emulator) -> None:
        """A streamed reply has the same content, stop reason and usage as the plain one."""
        with http(emu) as ex:
            plain = ex.execute(H.conv("Stream me"))
            events: list[str] = []
            streamed = ex.execute_stream(H.conv("Stream me"), on_event=lambda e: events.append(e.type))
        assert streamed.content == plain.content
        assert (streamed.stop_reason, streamed.usage) == (plain.stop_reason, plain.usage)
        assert emu.log[1].body["stream"] is True
        assert events[0] == "message_start" and events[-1] == "message_stop"


class TestFaults:
    @pytest.mark.parametrize("fault", ["529", "500", "503", "429", "408", "409", "reset", "close", "truncate"])
    def test_transient_faults_are_retried(self, emu: Emulator, fault: str) -> None:
        """Each transient fault is retried over a real socket and the second attempt succeeds."""
        emu.faults = fault
        with http(emu) as ex:
            assert ex.execute(H.conv("again")).text == "echo: again"
        assert _retry_counts(emu) == ["0", "1"]
        assert emu.log[0].fault is not None

    def test_retry_after_is_waited_out(self, emu: Emulator) -> None:
        """A 429 with retry-after=0.4 makes the retry arrive at least 0.4 s later (emulator timestamps)."""
        emu.faults = "429:retry-after=0.4"
        with http(emu) as ex:
            ex.execute(H.conv())
        first, second = emu.log
        assert second.time - first.time >= 0.4

    def test_retry_after_ms_is_preferred(self, emu: Emulator) -> None:
        """retry-after-ms (150 ms) wins over a long retry-after (30 s)."""
        emu.faults = "429:retry-after=30:retry-after-ms=150"
        t0 = time.monotonic()
        with http(emu) as ex:
            ex.execute(H.conv())
        assert 0.15 <= time.monotonic() - t0 < 5
        assert emu.log[1].time - emu.log[0].time >= 0.15

    def test_sdk_default_backoff_timing(self, emu: Emulator) -> None:
        """With the SDK's default policy two 529s wait 0.375-0.5 s and then 0.75-1.0 s."""
        emu.faults = "529*2"
        with HttpExecutor(KEY, base_url=emu.base_url) as ex:
            ex.execute(H.conv())
        t = [r.time for r in emu.log]
        # lower bounds are the policy; the upper ones only rule out a wrong schedule (a loaded
        # machine may add latency, never remove it)
        assert 0.375 <= t[1] - t[0] < 0.5 + 1.0
        assert 0.75 <= t[2] - t[1] < 1.0 + 1.0

    def test_should_retry_false_is_obeyed(self, emu: Emulator) -> None:
        """A 529 with x-should-retry: false is raised at once."""
        emu.faults = "529:should-retry=false"
        with http(emu) as ex, pytest.raises(OverloadedError) as info:
            ex.execute(H.conv())
        assert info.value.status == 529
        assert len(emu.log) == 1

    def test_exhausted_retries_raise_the_last_error(self, emu: Emulator) -> None:
        """Three 429s raise RateLimitError carrying the server's request id."""
        emu.faults = "429*3"
        with http(emu) as ex, pytest.raises(RateLimitError) as info:
            ex.execute(H.conv())
        assert info.value.request_id == emu.log[-1].request_id
        assert _retry_counts(emu) == ["0", "1", "2"]

    def test_resets_exhaust_into_a_connection_error(self, emu: Emulator) -> None:
        """A connection reset on every attempt raises APIConnectionError."""
        emu.faults = "reset*3"
        with http(emu) as ex, pytest.raises(APIConnectionError):
            ex.execute(H.conv())
        assert len(emu.log) == 3

    def test_slow_answer_times_out(self, emu: Emulator) -> None:
        """An answer slower than the timeout raises APITimeoutError after the retries."""
        emu.faults = "slow:1*2"
        ex = http(emu, timeout=0.2, retry=attrs.evolve(FAST, max_retries=1))
        with ex, pytest.raises(APITimeoutError):
            ex.execute(H.conv())
        assert len(emu.log) == 2

    def test_sse_cut_is_a_stream_error(self, emu: Emulator) -> None:
        """A stream that stops before message_stop raises StreamError and is not retried."""
        emu.faults = "sse-cut"
        with http(emu, stream=True) as ex, pytest.raises(StreamError, match="message_stop"):
            ex.execute(H.conv())
        assert len(emu.log) == 1

    def test_sse_drop_is_a_stream_error(self, emu: Emulator) -> None:
        """A connection dropped mid-stream raises StreamError."""
        emu.faults = "sse-drop"
        with http(emu, stream=True) as ex, pytest.raises(StreamError, match="broke off"):
            ex.execute(H.conv())

    def test_sse_error_event(self, emu: Emulator) -> None:
        """An error event after HTTP 200 raises OverloadedError with status 200, not retried."""
        emu.faults = "sse-error"
        with http(emu, stream=True) as ex, pytest.raises(OverloadedError) as info:
            ex.execute(H.conv())
        assert info.value.status == 200
        assert info.value.request_id == emu.log[0].request_id
        assert len(emu.log) == 1

    def test_error_before_stream_is_retried(self, emu: Emulator) -> None:
        """A 529 answered to a streaming request is retried and the stream then assembles."""
        emu.faults = "529"
        with http(emu, stream=True) as ex:
            assert ex.execute(H.conv("s")).text == "echo: s"
        assert _retry_counts(emu) == ["0", "1"]

    def test_key_absent_from_everything(self, emu: Emulator) -> None:
        """Forced failures over real sockets leave the key out of every exception text and repr."""
        texts: list[str] = []
        for fault in ("529*3", "reset*3", "sse-error", "sse-drop"):
            emu.faults = fault
            with http(emu, stream=fault.startswith("sse")) as ex:
                with pytest.raises(ConvoError) as info:
                    ex.execute(H.conv())
                e: BaseException | None = info.value
                while e is not None:
                    texts += [str(e), repr(e), repr(vars(e))]
                    e = e.__cause__ or e.__context__
                texts.append(repr(vars(ex)))
        assert texts and all(KEY not in t for t in texts)


class TestAsync:
    def test_async_faults_and_concurrency(self, emu: Emulator) -> None:
        """The async executor retries faults over real sockets and serves 20 concurrent requests."""
        emu.faults = "529,reset,429:retry-after=0.05"

        async def main() -> list[Any]:
            async with AsyncHttpExecutor(KEY, base_url=emu.base_url, retry=FAST) as ex:
                convs = [H.conv(f"q{i}") for i in range(20)]
                return await arun_many(convs, ex, concurrency=8)

        results = asyncio.run(main())
        assert [r.response.text for r in results] == [f"echo: q{i}" for i in range(20)]
        assert len(emu.log) == 23

    def test_async_stream_error_event(self, emu: Emulator) -> None:
        """The async stream raises the error event's class too."""
        emu.faults = "sse-error"

        async def main() -> m.Response:
            async with AsyncHttpExecutor(KEY, base_url=emu.base_url, stream=True) as ex:
                return await ex.execute(H.conv())

        with pytest.raises(OverloadedError):
            asyncio.run(main())

    def test_async_sse_drop_is_a_stream_error(self, emu: Emulator) -> None:
        """A connection dropped mid-stream raises StreamError from the async executor too."""
        emu.faults = "sse-drop"

        async def main() -> m.Response:
            async with AsyncHttpExecutor(KEY, base_url=emu.base_url, stream=True, retry=FAST) as ex:
                return await ex.execute(H.conv())

        with pytest.raises(StreamError, match="broke off"):
            asyncio.run(main())


    def test_one_executor_under_several_event_loops(self, emu: Emulator) -> None:
        """An executor used by several asyncio.run calls answers every time, and each loop's
        connections are closed with it (no socket is left for the garbage collector); with
        httpx's own client the second call would fail with "Event loop is closed"."""
        import gc
        import warnings

        ex = AsyncHttpExecutor(KEY, base_url=emu.base_url, retry=FAST)

        async def several() -> list[str]:
            async with ex:
                return [r.text for r in await asyncio.gather(*(ex.execute(H.conv(f"c{i}")) for i in range(4)))]

        gc.collect()  # what other tests left to the collector is not this test's concern
        port = str(httpx.URL(emu.base_url).port)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            assert asyncio.run(ex.execute(H.conv("one"))).text == "echo: one"
            first = ex._client
            assert asyncio.run(ex.execute(H.conv("two"))).text == "echo: two"
            assert first.is_closed and ex._client is not first
            assert asyncio.run(several()) == [f"echo: c{i}" for i in range(4)]
            gc.collect()
        leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
        assert [m for m in leaked if f", {port})" in m] == []  # no socket to this test's emulator
        assert len(emu.log) == 6

    def test_an_injected_client_is_left_to_its_owner(self, emu: Emulator) -> None:
        """With client=..., the executor neither replaces nor closes it at a loop's end."""

        async def main() -> tuple[str, bool]:
            async with httpx.AsyncClient() as client:
                ex = AsyncHttpExecutor(KEY, base_url=emu.base_url, client=client)
                text = (await ex.execute(H.conv("mine"))).text
                await ex.aclose()
                return text, ex._client is client and not client.is_closed

        assert asyncio.run(main()) == ("echo: mine", True)


class TestPool:
    def test_owned_clients_run_over_httpcore2(self, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        """Clients convo builds send through httpcore2's pool; an injected client is used as it is."""
        from convo.executor._pool import AsyncTransport, Transport

        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        with http(emu) as own:
            assert type(own._client._transport) is Transport
            assert own.execute(H.conv("own")).text == "echo: own"
        aown = AsyncHttpExecutor(KEY, base_url=emu.base_url)
        assert type(aown._client._transport) is AsyncTransport
        asyncio.run(aown.aclose())
        with httpx.Client() as injected:
            ex = HttpExecutor(KEY, base_url=emu.base_url, client=injected)
            assert type(ex._client._transport) is httpx.HTTPTransport
            assert ex.execute(H.conv("theirs")).text == "echo: theirs"

    def test_a_proxy_in_the_environment_keeps_httpx_transport(self, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        """With HTTPS_PROXY set, convo's clients are httpx's own, which route through the proxy."""
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
        with http(emu) as ex:
            assert type(ex._client._transport) is httpx.HTTPTransport
            assert any(t is not None for t in ex._client._mounts.values())  # the proxy is mounted

    @pytest.mark.parametrize(
        "name",
        ["PoolTimeout", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "ConnectError", "ReadError",
         "WriteError", "ProxyError", "UnsupportedProtocol", "RemoteProtocolError", "LocalProtocolError"],
    )
    def test_httpcore2_errors_are_raised_as_httpx_errors(self, name: str) -> None:
        """Each httpcore2 transport error comes out as the httpx exception of the same name."""
        import httpcore2

        from convo.executor._pool import _as_httpx

        with pytest.raises(getattr(httpx, name)) as caught, _as_httpx():
            raise getattr(httpcore2, name)("boom")
        assert type(caught.value) is getattr(httpx, name)
        assert str(caught.value) == "boom"

    def test_a_refused_connection_is_an_api_connection_error(self) -> None:
        """Nothing listening: httpcore2's ConnectError reaches the caller as APIConnectionError."""
        with HttpExecutor(KEY, base_url="http://127.0.0.1:9", retry=RetryPolicy(max_retries=0)) as ex, \
                pytest.raises(APIConnectionError):
            ex.execute(H.conv("nobody"))

    def test_many_concurrent_requests_through_the_pool(self, emu: Emulator) -> None:
        """300 requests at concurrency 64 (async) and 40 at 16 threads (sync) all succeed, in order."""
        from convo.executor import run_many

        async def main() -> list[Any]:
            async with AsyncHttpExecutor(KEY, base_url=emu.base_url, retry=FAST) as ex:
                return await arun_many([H.conv(f"a{i}") for i in range(300)], ex, concurrency=64)

        results = asyncio.run(main())
        assert [r.unwrap().text for r in results] == [f"echo: a{i}" for i in range(300)]
        with http(emu) as ex:
            sync_results = run_many([H.conv(f"s{i}") for i in range(40)], ex, concurrency=16)
        assert [r.unwrap().text for r in sync_results] == [f"echo: s{i}" for i in range(40)]
        assert len(emu.log) == 340  # no request was sent twice

"""Tests for the executor seam (convo.executor._base), the mock executors and the package's public face."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

import convo.executor as ex_pkg
from convo import model as m
from convo.errors import RateLimitError
from convo.executor import (
    AsyncExecutor,
    AsyncMockExecutor,
    Executor,
    MockExecutor,
    StreamEvent,
    assemble,
    reply,
)


def _conv(text: str = "Hi") -> m.Conversation:
    return m.Conversation(model="claude-sonnet-4-5", max_tokens=32, messages=[m.Message("user", text)])


class TestPublicFace:
    def test_all_is_pinned(self) -> None:
        """convo.executor exports exactly the intended names."""
        assert set(ex_pkg.__all__) == {
            "Executor", "AsyncExecutor", "EventCallback",
            "HttpExecutor", "AsyncHttpExecutor", "RetryPolicy", "SharedBackoff", "ExecutorStats",
            "DEFAULT_BASE_URL", "DEFAULT_TIMEOUT",
            "BatchClient", "BatchExecutor", "BatchInfo", "BatchResultError", "BatchStatus", "MessageBatch",
            "MockExecutor", "AsyncMockExecutor", "reply",
            "ReplayExecutor", "AsyncReplayExecutor", "Cassette", "CassetteMissError", "request_key",
            "json_diff", "load_cassette", "CassetteError", "Scrubber", "SecretDetector", "key_shapes",
            "known_secrets",
            "run_many", "run_iter", "arun_many", "arun_iter", "Result", "Progress", "run_file",
            "RunSummary", "error_record",
            "StreamEvent", "ServerSentEvent", "SSEDecoder", "StreamAssembler", "iter_sse",
            "iter_events", "aiter_events", "assemble", "events_from_response", "parse_partial_json",
        }
        for name in ex_pkg.__all__:
            assert hasattr(ex_pkg, name), name

    def test_job_names_are_the_jobs_layers(self) -> None:
        """BatchExecutor, run_file and friends are importable from convo.executor as before, and
        are the very objects of convo.jobs, which the executor package loads only when asked."""
        import convo.jobs

        for name in ("BatchExecutor", "BatchInfo", "BatchStatus", "RunSummary", "run_file"):
            assert getattr(ex_pkg, name) is getattr(convo.jobs, name)
        assert issubclass(convo.jobs.BatchExecutor, ex_pkg.BatchClient)
        code = "import sys, convo.executor; print('convo.jobs' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert out.stdout.strip() == "False", out.stderr
        with pytest.raises(AttributeError, match="no attribute 'Nope'"):
            ex_pkg.Nope  # noqa: B018

    def test_import_convo_does_not_load_httpx(self) -> None:
        """`import convo` loads neither httpx nor convo.executor; importing the executors does."""
        code = (
            "import sys, convo; "
            "assert 'httpx' not in sys.modules and 'convo.executor' not in sys.modules; "
            "import convo.executor; assert 'httpx' in sys.modules; print('ok')"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert out.stdout.strip() == "ok", out.stderr

    def test_pytest_plugin_import_is_light(self) -> None:
        """The pytest plugin (loaded by every pytest run) does not import httpx or the executors."""
        code = (
            "import sys, convo.testing.pytest_plugin; "
            "assert 'httpx' not in sys.modules and 'convo.executor' not in sys.modules; print('ok')"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert out.stdout.strip() == "ok", out.stderr


class TestExecutorBase:
    def test_execute_is_required(self) -> None:
        """A subclass without execute cannot be instantiated."""

        class Nothing(Executor):
            pass

        with pytest.raises(TypeError):
            Nothing()  # type: ignore[abstract]

    def test_defaults_count_tokens_and_close(self) -> None:
        """count_tokens is not implemented by default; close and the context manager work."""

        class Fixed(Executor):
            closed = 0

            def execute(self, conversation: m.Conversation) -> m.Response:
                return reply(conversation, "x")

            def close(self) -> None:
                self.closed += 1

        with Fixed() as f, pytest.raises(NotImplementedError, match="Fixed cannot count tokens"):
            f.count_tokens(_conv())
        assert f.closed == 1

    def test_default_execute_stream_synthesises_events(self) -> None:
        """An executor without a stream gives on_event the events its reply would stream as."""
        seen: list[StreamEvent] = []
        resp = MockExecutor(lambda c: "streamed text").execute_stream(_conv(), on_event=seen.append)
        assert seen[0].type == "message_start" and seen[-1].type == "message_stop"
        assert assemble(seen) == resp

    def test_async_base(self) -> None:
        """The async base: abstract execute, default aclose and count_tokens, async with."""

        class Echo(AsyncExecutor):
            async def execute(self, conversation: m.Conversation) -> m.Response:
                return reply(conversation, conversation.messages[-1].text)

        async def main() -> tuple[str, list[str]]:
            seen: list[str] = []
            async with Echo() as e:
                r = await e.execute_stream(_conv("yo"), on_event=lambda ev: seen.append(ev.type))
                with pytest.raises(NotImplementedError):
                    await e.count_tokens(_conv())
            return r.text, seen

        text, seen = asyncio.run(main())
        assert text == "yo"
        assert "content_block_delta" in seen


class TestMockExecutor:
    def test_string_becomes_a_complete_reply(self) -> None:
        """A string from the handler becomes an end_turn reply with id, model and usage."""
        r = MockExecutor(lambda c: "Hello!").execute(_conv())
        assert r.text == "Hello!"
        assert r.model == "claude-sonnet-4-5"
        assert r.stop_reason == "end_turn" and r.stop_sequence is None
        assert isinstance(r.id, str) and r.id.startswith("msg_mock_")
        assert isinstance(r.usage, m.Usage) and r.usage.output_tokens == 2

    def test_ids_are_deterministic(self) -> None:
        """The same conversation gets the same id; another gets another."""
        ex = MockExecutor(lambda c: "x")
        assert ex.execute(_conv("a")).id == ex.execute(_conv("a")).id != ex.execute(_conv("b")).id

    def test_response_passes_through(self) -> None:
        """A Response from the handler is returned as it is."""
        resp = m.Response(id="msg_x", content=(m.ToolUse("t", "f", {"a": 1}),), stop_reason="tool_use")
        assert MockExecutor(lambda c: resp).execute(_conv()) is resp

    def test_bad_return_is_a_type_error(self) -> None:
        """A handler returning something else raises TypeError saying what it returned."""
        with pytest.raises(TypeError, match="not int"):
            MockExecutor(lambda c: 42).execute(_conv())  # type: ignore[arg-type,return-value]

    def test_handler_errors_propagate(self) -> None:
        """An exception the handler raises reaches the caller unchanged."""

        def handler(c: m.Conversation) -> str:
            raise RateLimitError("slow down", status=429, type="rate_limit_error")

        with pytest.raises(RateLimitError, match="slow down"):
            MockExecutor(handler).execute(_conv())

    def test_calls_are_recorded_and_conversation_untouched(self) -> None:
        """Each conversation is kept in calls, in order, unchanged; the reply appends with with_response."""
        ex = MockExecutor(lambda c: "ok")
        c1, c2 = _conv("one"), _conv("two")
        r = ex.execute(c1)
        ex.execute(c2)
        assert ex.calls == [c1, c2]
        assert c1.messages == (m.Message("user", "one"),)
        assert c1.with_response(r).messages[-1].role == "assistant"

    def test_count_tokens(self) -> None:
        """count_tokens uses the given function, else a positive estimate."""
        assert MockExecutor(lambda c: "x", count_tokens=lambda c: 99).count_tokens(_conv()) == 99
        small, big = MockExecutor(lambda c: "x").count_tokens(_conv("a")), MockExecutor(lambda c: "x").count_tokens(_conv("a" * 400))
        assert 0 < small < big

    def test_async_mock_takes_plain_and_async_handlers(self) -> None:
        """AsyncMockExecutor awaits async handlers and calls plain ones."""

        async def ahandler(c: m.Conversation) -> str:
            await asyncio.sleep(0)
            return "async " + c.messages[-1].text

        async def main() -> tuple[str, str, int]:
            a = await AsyncMockExecutor(ahandler).execute(_conv("x"))
            b = await AsyncMockExecutor(lambda c: "plain").execute(_conv("y"))
            n = await AsyncMockExecutor(lambda c: "z", count_tokens=lambda c: 5).count_tokens(_conv())
            return a.text, b.text, n

        assert asyncio.run(main()) == ("async x", "plain", 5)

    def test_repr(self) -> None:
        """The repr names the handler."""

        def my_handler(c: m.Conversation) -> str:
            return ""

        assert repr(MockExecutor(my_handler)) == "MockExecutor(my_handler)"



"""Tests for convo.executor._replay: cassettes, record/replay/once, misses, scrubbing, the emulator hook."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convo
from convo import model as m
from convo.errors import (
    APIConnectionError,
    BadRequestError,
    NotFoundError,
    OverloadedError,
    ValidationError,
)
from convo.executor import (
    AsyncHttpExecutor,
    AsyncMockExecutor,
    AsyncReplayExecutor,
    Cassette,
    CassetteError,
    CassetteMissError,
    HttpExecutor,
    MockExecutor,
    ReplayExecutor,
    RetryPolicy,
    StreamEvent,
    json_diff,
    load_cassette,
    request_key,
)
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION
from convo.strategies import conversations
from convo.testing import Emulator
from tests import _helpers_executor as H

KEY = H.KEY


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _record(path: Path, *convs: m.Conversation, handler: Any = None) -> list[m.Response]:
    inner = MockExecutor(handler or (lambda c: "re: " + c.messages[-1].text))
    with ReplayExecutor(path, mode="record", inner=inner) as rec:
        return [rec.execute(c) for c in convs]


class TestKeys:
    def test_formatting_and_key_order_do_not_matter(self) -> None:
        """Requests that differ only in JSON formatting and key order have the same key."""
        a = convo.loads(b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}], "metadata": {"user_id": "u"}}')
        b = convo.loads(b'{\n  "metadata": {"user_id": "u"},\n  "messages": [{"content": "Hi", "role": "user"}],\n  "max_tokens": 5, "model": "m"\n}')
        assert request_key(a) == request_key(b)

    def test_content_and_endpoint_matter(self) -> None:
        """A different request, or the same one on another endpoint, has another key."""
        assert request_key(H.conv("a")) != request_key(H.conv("b"))
        assert request_key(H.conv("a")) != request_key(H.conv("a"), "count_tokens")

    def test_stream_flag_does_not_matter(self) -> None:
        """stream: true does not change the key (the assembled reply is the same)."""
        assert request_key(H.conv("a")) == request_key(H.conv("a", stream=True))

    def test_json_diff_paths(self) -> None:
        """json_diff names each differing JSON path with both values, including extra and missing items."""
        assert json_diff({"a": [1, 2], "b": {"c": "x"}}, {"a": [1], "b": {"c": "y"}, "d": None}) == [
            "$.a[1]: recorded 2 != requested absent",
            '$.b.c: recorded "x" != requested "y"',
            "$.d: recorded absent != requested null",
        ]
        assert json_diff({"n": 1}, {"n": 1.0}) == ["$.n: recorded 1 != requested 1.0"]
        long = json_diff({"t": "x" * 100}, {"t": "y"})[0]
        assert long.endswith('!= requested "y"') and "..." in long
        assert json_diff(list(range(20)), list(range(1, 21)), limit=3)[-1] == "... and 17 more"


class TestRecordAndReplay:
    def test_replay_gives_the_recorded_replies(self, tmp_path: Path) -> None:
        """Recorded replies come back in replay mode without the inner executor."""
        path = tmp_path / "c.jsonl"
        recorded = _record(path, H.conv("one"), H.conv("two"))
        with ReplayExecutor(path) as rep:
            assert [rep.execute(H.conv("two")), rep.execute(H.conv("one"))] == recorded[::-1]

    def test_cassette_is_readable_sorted_and_stable(self, tmp_path: Path) -> None:
        """One JSON line per exchange, sorted by key, holding the canonical request and the response."""
        p1, p2 = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        convs = [H.conv(t) for t in ("x", "y", "z", "w")]
        _record(p1, *convs)
        _record(p2, *reversed(convs))
        assert p1.read_bytes() == p2.read_bytes()  # the order of calls does not show
        lines = _lines(p1)
        assert [line["key"] for line in lines] == sorted(line["key"] for line in lines)
        first = lines[0]
        assert list(first) == ["key", "endpoint", "request", "response"]
        assert first["endpoint"] == "messages"
        assert first["request"] == orjson.loads(orjson.dumps(convo.codec.unstructure(convs[["x", "y", "z", "w"].index(first["request"]["messages"][0]["content"])])))
        assert first["response"]["content"][0]["text"].startswith("re: ")

    def test_repeated_requests_replay_in_order(self, tmp_path: Path) -> None:
        """The same request recorded twice replays its answers in order, then the last one again."""
        path = tmp_path / "c.jsonl"
        answers = iter(["first", "second"])
        _record(path, H.conv("q"), H.conv("q"), handler=lambda c: next(answers))
        with ReplayExecutor(path) as rep:
            assert [rep.execute(H.conv("q")).text for _ in range(3)] == ["first", "second", "second"]

    def test_recorded_errors_replay_as_errors(self, tmp_path: Path) -> None:
        """An API error met while recording is stored and raised again, same class, status and message."""
        path = tmp_path / "c.jsonl"

        def handler(c: m.Conversation) -> str:
            raise OverloadedError("Overloaded", status=529, type="overloaded_error", request_id="req_r")

        with ReplayExecutor(path, mode="record", inner=MockExecutor(handler)) as rec, pytest.raises(OverloadedError):
            rec.execute(H.conv())
        assert _lines(path)[0]["error"]["status"] == 529
        with ReplayExecutor(path) as rep, pytest.raises(OverloadedError) as info:
            rep.execute(H.conv())
        assert (info.value.status, info.value.type, info.value.message, info.value.request_id) == (
            529, "overloaded_error", "Overloaded", "req_r")

    def test_other_failures_are_not_recorded(self, tmp_path: Path) -> None:
        """A connection failure while recording is raised and leaves no exchange behind."""
        path = tmp_path / "c.jsonl"

        def handler(c: m.Conversation) -> str:
            raise APIConnectionError("refused")

        with ReplayExecutor(path, mode="record", inner=MockExecutor(handler)) as rec, pytest.raises(APIConnectionError):
            rec.execute(H.conv())
        assert not path.exists()

    def test_count_tokens_round_trip(self, tmp_path: Path) -> None:
        """count_tokens is recorded under its own endpoint and replayed."""
        path = tmp_path / "c.jsonl"
        with ReplayExecutor(path, mode="record", inner=MockExecutor(lambda c: "x", count_tokens=lambda c: 321)) as rec:
            assert rec.count_tokens(H.conv()) == 321
        assert _lines(path)[0]["endpoint"] == "count_tokens"
        with ReplayExecutor(path) as rep:
            assert rep.count_tokens(H.conv()) == 321
            with pytest.raises(CassetteMissError):
                rep.execute(H.conv())  # a messages request was never recorded

    def test_once_records_then_replays(self, tmp_path: Path) -> None:
        """once records when the cassette is missing and replays (without calling inner) when it exists."""
        path = tmp_path / "c.jsonl"
        inner = MockExecutor(lambda c: "live")
        with ReplayExecutor(path, mode="once", inner=inner) as ex:
            assert ex.recording
            ex.execute(H.conv())
        inner2 = MockExecutor(lambda c: "should not be called")
        with ReplayExecutor(path, mode="once", inner=inner2) as ex2:
            assert not ex2.recording
            assert ex2.execute(H.conv()).text == "live"
        assert inner2.calls == []

    def test_record_replaces_an_old_cassette(self, tmp_path: Path) -> None:
        """Recording again starts the cassette afresh."""
        path = tmp_path / "c.jsonl"
        _record(path, H.conv("old"))
        _record(path, H.conv("new"))
        assert [line["request"]["messages"][0]["content"] for line in _lines(path)] == ["new"]

    def test_lines_are_written_as_they_happen(self, tmp_path: Path) -> None:
        """Each exchange is on disk before close, so a crash mid-test loses nothing recorded."""
        path = tmp_path / "c.jsonl"
        rec = ReplayExecutor(path, mode="record", inner=MockExecutor(lambda c: "x"))
        rec.execute(H.conv("1"))
        rec.execute(H.conv("2"))
        assert len(_lines(path)) == 2
        rec.close()

    def test_modes_are_checked(self, tmp_path: Path) -> None:
        """An unknown mode, or recording without an inner executor, is refused."""
        with pytest.raises(ValueError, match="mode"):
            ReplayExecutor(tmp_path / "c.jsonl", mode="sometimes")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="inner"):
            ReplayExecutor(tmp_path / "c.jsonl", mode="record")

    def test_async_replay(self, tmp_path: Path) -> None:
        """AsyncReplayExecutor records through an async inner executor and replays."""
        path = tmp_path / "c.jsonl"

        async def main() -> tuple[str, str, int]:
            inner = AsyncMockExecutor(lambda c: "async reply", count_tokens=lambda c: 8)
            async with AsyncReplayExecutor(path, "record", inner) as rec:
                await rec.execute(H.conv())
                await rec.count_tokens(H.conv())
            async with AsyncReplayExecutor(path) as rep:
                r = await rep.execute(H.conv())
                n = await rep.count_tokens(H.conv())
                seen: list[str] = []
                await rep.execute_stream(H.conv(), on_event=lambda e: seen.append(e.type))
            return r.text, seen[-1], n

        assert asyncio.run(main()) == ("async reply", "message_stop", 8)


class TestMisses:
    def test_miss_names_the_nearest_request_and_the_difference(self, tmp_path: Path) -> None:
        """A miss shows the nearest recorded request's line and a JSON-path diff against it."""
        path = tmp_path / "c.jsonl"
        _record(path, H.conv("What is the capital of France?"), H.conv("Something else entirely", max_tokens=5))
        with ReplayExecutor(path) as rep, pytest.raises(CassetteMissError) as info:
            rep.execute(H.conv("What is the capital of Spain?"))
        text = str(info.value)
        assert "no exchange in" in text and str(path) in text
        assert "nearest recorded request" in text and ", line " in text
        assert '$.messages[0].content: recorded "What is the capital of France?" != requested "What is the capital of Spain?"' in text
        assert "max_tokens" not in text  # the nearest one has the same max_tokens
        assert "--convo-record" in text

    def test_missing_cassette(self, tmp_path: Path) -> None:
        """Replaying from a cassette that does not exist says so and how to record it."""
        with ReplayExecutor(tmp_path / "none.jsonl") as rep, pytest.raises(CassetteMissError, match="does not exist"):
            rep.execute(H.conv())

    def test_miss_is_a_lookup_error(self) -> None:
        """CassetteMissError is both a convo error and a LookupError."""
        assert issubclass(CassetteMissError, convo.ConvoError)
        assert issubclass(CassetteMissError, LookupError)

    def test_replay_checks_the_rules_first(self, tmp_path: Path) -> None:
        """In replay mode an invalid request raises ValidationError, as the HTTP executor would when recording."""
        path = tmp_path / "c.jsonl"
        _record(path, H.conv())
        bad = attrs.evolve(H.conv(), top_k=5)
        with ReplayExecutor(path) as rep, pytest.raises(ValidationError):
            rep.execute(bad)
        with ReplayExecutor(path, validate=False) as rep2, pytest.raises(CassetteMissError):
            rep2.execute(bad)
        with ReplayExecutor(path, api_version="2023-06-01") as rep3, pytest.raises(CassetteMissError):
            rep3.execute(bad)  # valid under 2023-06-01: looked up, and not recorded

    def test_corrupt_cassette_line(self, tmp_path: Path) -> None:
        """A cassette line that is not JSON is reported with its line number."""
        path = tmp_path / "c.jsonl"
        path.write_text('{"key": "k", "request": {}, "response": {}}\n{oops\n')
        with pytest.raises(convo.ConvoError, match=r"c\.jsonl:2"):
            ReplayExecutor(path)


class TestThroughHttp:
    def test_streamed_replies_are_recorded_as_events(self, tmp_path: Path) -> None:
        """Recording a streaming HttpExecutor against the emulator stores its events; replay gives them back."""
        path = tmp_path / "c.jsonl"
        with Emulator() as url:
            inner = HttpExecutor(KEY, base_url=url, stream=True)
            live: list[StreamEvent] = []
            with ReplayExecutor(path, mode="record", inner=inner) as rec:
                resp = rec.execute_stream(H.conv("stream this"), on_event=live.append)
                plain = rec.execute(H.conv("and this"))  # the inner executor streams every call
        lines = _lines(path)
        assert all("events" in line and "response" not in line for line in lines)
        assert {e["event"] for e in lines[0]["events"]} >= {"message_start", "content_block_delta", "message_stop"}
        replayed: list[StreamEvent] = []
        with ReplayExecutor(path) as rep:
            assert rep.execute_stream(H.conv("stream this"), on_event=replayed.append) == resp
            assert rep.execute(H.conv("and this")) == plain
        assert replayed == live

    def test_http_errors_recorded_through_the_emulator(self, tmp_path: Path) -> None:
        """A 400 from the server (local checks off) is recorded and replayed as BadRequestError."""
        path = tmp_path / "c.jsonl"
        bad = attrs.evolve(H.conv(), temperature=0.5)
        with Emulator() as url:
            inner = HttpExecutor(KEY, base_url=url, validate=False)
            with ReplayExecutor(path, mode="record", inner=inner) as rec, pytest.raises(BadRequestError):
                rec.execute(bad)
        with ReplayExecutor(path, validate=False) as rep, pytest.raises(BadRequestError, match="temperature"):
            rep.execute(bad)

    def test_secrets_are_scrubbed(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The inner key, the environment's key, given secrets and key-shaped strings never reach the file."""
        monkeypatch.setenv("ANTHROPIC_API_KEY", "env-secret-value-123")
        path = tmp_path / "c.jsonl"
        leaky = f"my keys: {KEY}, env-secret-value-123, custom-secret-xyz, sk-ant-oat01-AAAAAAAAAAAAAAAA"
        with Emulator() as url:
            inner = HttpExecutor(KEY, base_url=url)
            with ReplayExecutor(path, mode="record", inner=inner, secrets=["custom-secret-xyz"]) as rec:
                resp = rec.execute(H.conv(leaky))
        assert KEY in resp.text  # the emulator echoed it: the test would catch a leak
        data = path.read_text()
        for secret in (KEY, "env-secret-value-123", "custom-secret-xyz", "sk-ant-oat01-AAAAAAAAAAAAAAAA"):
            assert secret not in data
        assert data.count("<redacted>") >= 8
        assert "authorization" not in data.lower() and "x-api-key" not in data.lower()


CTX_BETA = "context-management-2025-06-27"


def _managed(text: str = "Hello, Claude") -> m.Conversation:
    """A request with a key that exists only under the context-management beta."""
    return H.conv(text, extra={"context_management": {"edits": []}})


class TestBetas:
    """Issue 12: replay refused a beta-only key that the API took when the cassette was recorded."""

    def test_recorded_betas_replay_the_request(self, tmp_path: Path) -> None:
        """Reproducer: recorded through HttpExecutor(betas=...) (the emulator checks them too),
        the request replays; the cassette keeps the beta names, and no header."""
        path = tmp_path / "c.jsonl"
        with Emulator() as url:
            inner = HttpExecutor(KEY, base_url=url, betas=[CTX_BETA])
            with ReplayExecutor(path, mode="record", inner=inner) as rec:
                live = rec.execute(_managed())
            with HttpExecutor(KEY, base_url=url, validate=False) as bare, pytest.raises(BadRequestError):
                bare.execute(_managed())  # the API's view: without the header, a 400
        with ReplayExecutor(path) as rep:
            assert rep.execute(_managed()) == live
            # a request that needs a beta and has no recorded exchange: refused, not a miss
            with pytest.raises(ValidationError, match="context_management"):
                rep.execute(_managed("never recorded"))
        (line,) = _lines(path)
        assert line["betas"] == [CTX_BETA]
        assert "anthropic-beta" not in path.read_text() and KEY not in path.read_text()

    def test_async_replay_uses_the_recorded_betas(self, tmp_path: Path) -> None:
        path = tmp_path / "c.jsonl"

        async def main() -> tuple[str, str]:
            with Emulator() as url:
                inner = AsyncHttpExecutor(KEY, base_url=url, betas=[CTX_BETA])
                async with AsyncReplayExecutor(path, "record", inner) as rec:
                    live = (await rec.execute(_managed())).text
            async with AsyncReplayExecutor(path) as rep:
                return live, (await rep.execute(_managed())).text

        live, replayed = asyncio.run(main())
        assert replayed == live == "echo: Hello, Claude"

    def test_betas_argument_wins_over_the_recorded_ones(self, tmp_path: Path) -> None:
        """betas= names the headers for a cassette recorded without them (a mock records none);
        betas=() checks with none even where some were recorded."""
        path = tmp_path / "c.jsonl"
        _record(path, _managed())
        assert "betas" not in _lines(path)[0]
        with ReplayExecutor(path) as rep, pytest.raises(ValidationError, match="beta-only"):
            rep.execute(_managed())
        with ReplayExecutor(path, betas=[CTX_BETA]) as rep:
            assert rep.execute(_managed()).text == "re: Hello, Claude"
        lines = [{**line, "betas": [CTX_BETA]} for line in _lines(path)]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        with ReplayExecutor(path) as rep:
            assert rep.execute(_managed()).text == "re: Hello, Claude"
        with ReplayExecutor(path, betas=()) as rep, pytest.raises(ValidationError):
            rep.execute(_managed())

    def test_recording_with_other_betas_than_the_inner_executors_is_refused(self, tmp_path: Path) -> None:
        inner = HttpExecutor(KEY, base_url="http://127.0.0.1:9", betas=[CTX_BETA])
        with pytest.raises(ValueError, match="inner executor"):
            ReplayExecutor(tmp_path / "c.jsonl", mode="record", inner=inner, betas=["other-2026-01-01"])
        inner.close()
        with pytest.raises(TypeError, match="not one string"):
            ReplayExecutor(tmp_path / "c.jsonl", betas=CTX_BETA)

    def test_a_bad_betas_field_is_a_cassette_error(self, tmp_path: Path) -> None:
        path = tmp_path / "c.jsonl"
        _record(path, H.conv())
        path.write_text(json.dumps({**_lines(path)[0], "betas": "x"}) + "\n")
        with pytest.raises(convo.ConvoError, match=r"c\.jsonl:1.*'betas' is not a list of strings"):
            ReplayExecutor(path)


OLD_API = "2023-06-01"


def _sampled(text: str = "Hello, Claude") -> m.Conversation:
    """A request that API 2023-06-01 takes and 2026-10-21 refuses (rule sampling.removed)."""
    return H.conv(text, temperature=0.5)


class TestApiVersion:
    """Issue 12: replay checked with the default API version, not the one the cassette was recorded under."""

    def test_recorded_version_replays_the_request(self, tmp_path: Path) -> None:
        """Reproducer: recorded through HttpExecutor(api_version="2023-06-01") against the
        emulator with a temperature, the request replays; the line keeps the version, no header."""
        path = tmp_path / "c.jsonl"
        with Emulator() as url:
            inner = HttpExecutor(KEY, base_url=url, api_version=OLD_API)
            with ReplayExecutor(path, mode="record", inner=inner) as rec:
                live = rec.execute(_sampled())
            with HttpExecutor(KEY, base_url=url, validate=False) as new, pytest.raises(BadRequestError):
                new.execute(_sampled())  # the API's view under 2026-10-21: a 400
        with ReplayExecutor(path) as rep:
            assert rep.execute(_sampled()) == live
            # not recorded, and refused under the recorded version too: refused, not a miss
            with pytest.raises(ValidationError, match=r"sampling\.range"):
                rep.execute(H.conv("never recorded", temperature=3.0))
        (line,) = _lines(path)
        assert line["api_version"] == OLD_API
        assert "anthropic-version" not in path.read_text() and KEY not in path.read_text()

    def test_async_replay_uses_the_recorded_version(self, tmp_path: Path) -> None:
        path = tmp_path / "c.jsonl"

        async def main() -> tuple[str, str, int]:
            with Emulator() as url:
                inner = AsyncHttpExecutor(KEY, base_url=url, api_version=OLD_API)
                async with AsyncReplayExecutor(path, "record", inner) as rec:
                    live = (await rec.execute(_sampled())).text
                    n = await rec.count_tokens(_sampled())
            async with AsyncReplayExecutor(path) as rep:
                assert await rep.count_tokens(_sampled()) == n
                return live, (await rep.execute(_sampled())).text, n

        live, replayed, _ = asyncio.run(main())
        assert replayed == live == "echo: Hello, Claude"
        assert {line["api_version"] for line in _lines(path)} == {OLD_API}

    def test_the_default_version_is_not_written(self, tmp_path: Path) -> None:
        """A cassette recorded under the default version has no api_version field (old cassettes
        stay as they were), and replays with the default: the temperature is refused."""
        path = tmp_path / "c.jsonl"
        with Emulator() as url:
            inner = HttpExecutor(KEY, base_url=url)
            with ReplayExecutor(path, mode="record", inner=inner) as rec:
                rec.execute(H.conv())
        assert "api_version" not in _lines(path)[0]
        _record(path, _sampled())  # a mock has no version: none recorded
        assert "api_version" not in _lines(path)[0]
        with ReplayExecutor(path) as rep, pytest.raises(ValidationError, match=r"sampling\.removed"):
            rep.execute(_sampled())

    def test_api_version_argument_wins_over_the_recorded_one(self, tmp_path: Path) -> None:
        path = tmp_path / "c.jsonl"
        _record(path, _sampled())
        with ReplayExecutor(path, api_version=OLD_API) as rep:
            assert rep.execute(_sampled()).text == "re: Hello, Claude"
        path.write_text(json.dumps({**_lines(path)[0], "api_version": OLD_API}) + "\n")
        with ReplayExecutor(path) as rep:
            assert rep.execute(_sampled()).text == "re: Hello, Claude"
        with ReplayExecutor(path, api_version="2026-10-21") as rep, pytest.raises(ValidationError):
            rep.execute(_sampled())

    def test_recording_with_another_version_than_the_inner_executors_is_refused(self, tmp_path: Path) -> None:
        inner = HttpExecutor(KEY, base_url="http://127.0.0.1:9", api_version=OLD_API)
        with pytest.raises(ValueError, match="inner executor"):
            ReplayExecutor(tmp_path / "c.jsonl", mode="record", inner=inner, api_version="2026-10-21")
        with ReplayExecutor(tmp_path / "c.jsonl", mode="record", inner=inner, api_version=OLD_API) as rec:
            assert rec.api_version == OLD_API
        with pytest.raises(ValueError, match="unknown API version"):
            ReplayExecutor(tmp_path / "c.jsonl", api_version="1999-01-01")

    @pytest.mark.parametrize("bad", [20230601, None, ["2023-06-01"]])
    def test_a_version_field_not_a_string_is_a_cassette_error(self, tmp_path: Path, bad: Any) -> None:
        path = tmp_path / "c.jsonl"
        _record(path, H.conv(), H.conv("second"))
        lines = _lines(path)
        lines[1]["api_version"] = bad
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        with pytest.raises(CassetteError, match=r"c\.jsonl:2: 'api_version' is .*not one of 2023-06-01, 2026-10-21"):
            ReplayExecutor(path)

    def test_an_unknown_version_is_a_cassette_error_naming_the_line(self, tmp_path: Path) -> None:
        """A version convo does not know (a newer convo's cassette) is an error where it is
        needed to check a request, naming the line; api_version= or validate=False replay it."""
        path = tmp_path / "c.jsonl"
        _record(path, H.conv(), H.conv("second"))
        lines = sorted(_lines(path), key=lambda line: line["request"]["messages"][0]["content"] != "second")
        lines[0]["api_version"] = "2099-01-01"  # "second" on line 1
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        with ReplayExecutor(path) as rep:
            assert rep.execute(H.conv()).text == "re: Hello, Claude"  # line 2: no version field
            with pytest.raises(CassetteError, match=r"c\.jsonl:1: 'api_version' is \"2099-01-01\", not one of") as e:
                rep.execute(H.conv("second"))
            assert e.value.path == "$.api_version"
        for ok in (ReplayExecutor(path, api_version="2026-10-21"), ReplayExecutor(path, validate=False)):
            with ok as rep:
                assert rep.execute(H.conv("second")).text == "re: second"

    def test_a_miss_is_checked_under_the_version_the_cassette_shares(self, tmp_path: Path) -> None:
        """A request with no recorded exchange is checked under the cassette's one version (its
        exchanges all have it), else the default; a valid one is then a miss."""
        path = tmp_path / "c.jsonl"
        with ReplayExecutor(path, "record", MockExecutor(lambda c: "ok"), api_version=OLD_API) as rec:
            rec.execute(_sampled())
            rec.execute(H.conv("plain"))
        assert [line["api_version"] for line in _lines(path)] == [OLD_API, OLD_API]
        with ReplayExecutor(path) as rep:
            assert rep.execute(_sampled()).text == "ok"
            with pytest.raises(CassetteMissError):
                rep.execute(_sampled("never recorded"))
        path.write_text(path.read_text() + json.dumps({**_lines(path)[0], "key": "other", "api_version": "2026-10-21"}) + "\n")
        with ReplayExecutor(path) as rep, pytest.raises(ValidationError, match=r"sampling\.removed"):
            rep.execute(_sampled("never recorded"))


class TestApiVersionProperty:
    @given(data=st.data())
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_what_a_version_accepts_replays_under_it(self, tmp_path_factory: pytest.TempPathFactory,
                                                      data: st.DataObject) -> None:
        """Every conversation valid under the version it was recorded with replays, whatever the
        version, and the line says the version exactly when it is not the default."""
        version = data.draw(st.sampled_from(API_VERSIONS))
        conv = data.draw(conversations(api_version=version, sampling=version != DEFAULT_API_VERSION, max_turns=4))
        path = tmp_path_factory.mktemp("v") / "c.jsonl"
        with ReplayExecutor(path, "record", MockExecutor(lambda c: "ok"), api_version=version) as rec:
            recorded = rec.execute(conv)
        with ReplayExecutor(path) as rep:
            assert rep.execute(conv) == recorded
        (line,) = _lines(path)
        assert line.get("api_version", DEFAULT_API_VERSION) == version
        assert ("api_version" in line) == (version != DEFAULT_API_VERSION)


class TestCassetteObject:
    def test_load_and_handler_for_the_emulator(self, tmp_path: Path) -> None:
        """load_cassette(...).handler() answers the emulator's requests from a recorded cassette."""
        path = tmp_path / "c.jsonl"
        _record(path, H.conv("recorded question"), handler=lambda c: "recorded answer")
        cassette = load_cassette(path)
        assert isinstance(cassette, Cassette) and len(cassette.entries) == 1
        with Emulator(cassette=str(path)) as url, HttpExecutor(KEY, base_url=url, retry=RetryPolicy(max_retries=0)) as ex:
            assert ex.execute(H.conv("recorded question")).text == "recorded answer"
            with pytest.raises(NotFoundError, match="nearest recorded request"):
                ex.execute(H.conv("never recorded"))

    def test_save_is_atomic(self, tmp_path: Path) -> None:
        """save() replaces the file whole and leaves no temporary file behind."""
        path = tmp_path / "c.jsonl"
        c = Cassette(path)
        c.add({"key": "b", "endpoint": "messages", "request": {}, "response": {}})
        c.add({"key": "a", "endpoint": "messages", "request": {}, "response": {}})
        c.save()
        assert [line["key"] for line in _lines(path)] == ["a", "b"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]



"""Tests for convo.executor._run (run_many / run_iter and their async forms) and convo.jobs.run (run_file, convo run)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from convo import model as m
from convo.errors import APIConnectionError, OverloadedError, RateLimitError, ValidationError
from convo.executor import (
    AsyncMockExecutor,
    HttpExecutor,
    MockExecutor,
    Progress,
    RetryPolicy,
    SharedBackoff,
    arun_iter,
    arun_many,
    error_record,
    run_file,
    run_iter,
    run_many,
)
from convo.testing import Emulator
from tests import _helpers_executor as H

KEY = H.KEY


def convs(n: int) -> list[m.Conversation]:
    return [H.conv(f"line {i}") for i in range(n)]


class Gauge:
    """Counts calls in progress and remembers the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.active -= 1


class TestRunMany:
    def test_order_is_kept_whatever_finishes_first(self) -> None:
        """Results come back in input order although later items finish first."""
        rng = random.Random(7)
        delays = [rng.random() * 0.01 for _ in range(40)]

        def handler(c: m.Conversation) -> str:
            i = int(c.messages[0].text.split()[1])
            time.sleep(delays[i])
            return f"answer {i}"

        results = run_many(convs(40), MockExecutor(handler), concurrency=8)
        assert [r.index for r in results] == list(range(40))
        assert [r.unwrap().text for r in results] == [f"answer {i}" for i in range(40)]

    def test_concurrency_is_bounded(self) -> None:
        """No more than `concurrency` requests run at once, and that many do."""
        gauge = Gauge()

        def handler(c: m.Conversation) -> str:
            with gauge:
                time.sleep(0.005)
            return "x"

        run_many(convs(40), MockExecutor(handler), concurrency=5)
        assert gauge.peak == 5

    def test_failures_are_results(self) -> None:
        """A failing item becomes a result with its error; every other item still runs."""

        def handler(c: m.Conversation) -> str:
            if c.messages[0].text in ("line 1", "line 3"):
                raise OverloadedError("Overloaded", status=529, type="overloaded_error")
            if c.messages[0].text == "line 4":
                raise ValueError("a bug in a handler")
            return "ok"

        results = run_many(convs(6), MockExecutor(handler), concurrency=2)
        assert [r.ok for r in results] == [True, False, True, False, False, True]
        assert isinstance(results[1].error, OverloadedError)
        assert isinstance(results[4].error, ValueError)
        with pytest.raises(OverloadedError):
            results[3].unwrap()

    def test_progress_is_reported_in_order(self) -> None:
        """on_progress sees done, succeeded, failed and total after each result, in input order."""
        seen: list[Progress] = []

        def handler(c: m.Conversation) -> str:
            if c.messages[0].text == "line 2":
                raise RateLimitError("slow", status=429)
            return "ok"

        run_many(convs(4), MockExecutor(handler), concurrency=3, on_progress=seen.append)
        assert [(p.done, p.succeeded, p.failed, p.total, p.last.index) for p in seen] == [
            (1, 1, 0, 4, 0), (2, 2, 0, 4, 1), (3, 2, 1, 4, 2), (4, 3, 1, 4, 3)]
        gen_seen: list[Progress] = []
        run_many((c for c in convs(2)), MockExecutor(lambda c: "x"), on_progress=gen_seen.append)
        assert [p.total for p in gen_seen] == [None, None]

    def test_input_is_consumed_lazily(self) -> None:
        """While the first item is stuck, at most 4 x concurrency items are taken from the input."""
        pulled = 0
        release = threading.Event()

        def source() -> Iterator[m.Conversation]:
            nonlocal pulled
            for c in convs(1000):
                pulled += 1
                yield c

        def handler(c: m.Conversation) -> str:
            if c.messages[0].text == "line 0":
                release.wait(5)
            return "x"

        it = run_iter(source(), MockExecutor(handler), concurrency=3)
        first: list[Any] = []
        t = threading.Thread(target=lambda: first.append(next(it)))
        t.start()
        deadline = time.monotonic() + 10
        while pulled < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # time enough to pull more, if the runner were not lazy
        assert pulled == 12  # the window: 4 x 3, none pulled beyond it
        release.set()
        t.join()
        assert sum(1 for _ in it) == 999

    def test_closing_early_stops_the_work(self) -> None:
        """Breaking out of run_iter cancels what has not started and returns promptly."""
        ex = MockExecutor(lambda c: (time.sleep(0.01), "x")[1])
        for r in run_iter(convs(500), ex, concurrency=2):
            if r.index == 2:
                break
        assert 3 <= len(ex.calls) <= 3 + 2 * 4

    def test_memory_is_flat_in_the_queue_length(self) -> None:
        """Peak traced memory of run_iter over 4,000 queued conversations stays near that of 400."""
        shared = m.Response(id="msg", content=(m.Text("x"),), stop_reason="end_turn")
        ex = MockExecutor(lambda c: shared)

        def peak(n: int) -> int:
            def source() -> Iterator[m.Conversation]:
                for i in range(n):
                    yield m.Conversation(model="m", max_tokens=8, messages=[m.Message("user", f"q{i}")])

            ex.calls.clear()
            tracemalloc.start()
            try:
                for _ in run_iter(source(), ex, concurrency=8):
                    ex.calls.clear()  # the mock's own log would grow; the runner must not
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

        small, big = peak(400), peak(4000)
        assert big < small * 1.5, (small, big)

    def test_rejects_bad_concurrency(self) -> None:
        """concurrency below 1 is refused."""
        with pytest.raises(ValueError, match="concurrency"):
            run_many(convs(1), MockExecutor(lambda c: "x"), concurrency=0)

    def test_async_executor_from_sync_code(self) -> None:
        """run_many drives an AsyncExecutor on a private event loop, with the bound respected."""
        gauge = Gauge()

        async def handler(c: m.Conversation) -> str:
            with gauge:
                await asyncio.sleep(0.005)
            return c.messages[0].text.upper()

        results = run_many(convs(30), AsyncMockExecutor(handler), concurrency=4)
        assert [r.unwrap().text for r in results] == [f"LINE {i}" for i in range(30)]
        assert gauge.peak == 4


class TestArunMany:
    def test_async_executor_natively(self) -> None:
        """arun_many runs an AsyncExecutor on the caller's loop, bounded, in order, errors captured."""
        gauge = Gauge()

        async def handler(c: m.Conversation) -> str:
            with gauge:
                await asyncio.sleep(random.random() * 0.01)
            if c.messages[0].text == "line 5":
                raise APIConnectionError("refused")
            return c.messages[0].text

        results = asyncio.run(arun_many(convs(25), AsyncMockExecutor(handler), concurrency=6))
        assert [r.index for r in results] == list(range(25))
        assert [r.ok for r in results].count(False) == 1 and isinstance(results[5].error, APIConnectionError)
        assert gauge.peak == 6

    def test_sync_executor_in_threads(self) -> None:
        """arun_many runs a sync Executor in threads, bounded by concurrency."""
        gauge = Gauge()

        def handler(c: m.Conversation) -> str:
            with gauge:
                time.sleep(0.005)
            return "t"

        results = asyncio.run(arun_many(convs(20), MockExecutor(handler), concurrency=3))
        assert all(r.ok for r in results) and gauge.peak == 3

    def test_async_iterable_input(self) -> None:
        """An async iterable of conversations is consumed lazily."""

        async def source() -> AsyncIterator[m.Conversation]:
            for c in convs(5):
                await asyncio.sleep(0)
                yield c

        async def main() -> list[str]:
            return [r.unwrap().text async for r in arun_iter(source(), AsyncMockExecutor(lambda c: c.messages[0].text))]

        assert asyncio.run(main()) == [f"line {i}" for i in range(5)]


class TestSharedBackoff:
    def test_retry_after_slows_every_worker(self) -> None:
        """After a 429 with retry-after=1, no worker sends anything until a second has passed (log timestamps)."""
        held: list[float] = []

        class Recording(SharedBackoff):
            def hold(self, seconds: float) -> None:
                held.append(time.time())  # the wall clock, as the emulator's log uses
                super().hold(seconds)

        emu = Emulator(faults="429:retry-after=1")
        url = emu.start()
        try:
            ex = HttpExecutor(KEY, base_url=url, retry=RetryPolicy(base=0.01, cap=0.02), backoff=Recording())
            results = run_many(convs(16), ex, concurrency=4)
            ex.close()
        finally:
            emu.stop()
        assert all(r.ok for r in results)
        assert len(held) == 1
        (limited,) = [r for r in emu.log if r.status == 429]
        t0 = held[0]  # when the client learnt of the limit
        after = [r.time - t0 for r in emu.log if r.time > t0]
        # requests that had passed the gate before the 429 came back may still arrive just after it;
        # then nothing may arrive until the second is over
        racing = [d for d in after if d < 0.2]
        early = [d for d in after if 0.2 <= d < 0.99]
        waited = [d for d in after if d >= 0.99]
        assert early == [], sorted(after)
        assert len(racing) <= 3  # at most one per other worker
        assert len(waited) >= 9  # most requests, from every worker, waited for the second
        assert limited.time < t0

    def test_without_retry_after_only_the_limited_worker_waits(self) -> None:
        """Control: a 429 without retry-after holds nobody else, so the other workers go on at once."""
        emu = Emulator(faults="429:retry-after=none")  # a 429 has one by default
        url = emu.start()
        try:
            ex = HttpExecutor(KEY, base_url=url, retry=RetryPolicy(base=1.0, cap=1.0, jitter=0.0))
            results = run_many(convs(16), ex, concurrency=4)
            ex.close()
        finally:
            emu.stop()
        assert all(r.ok for r in results)
        (limited,) = [r for r in emu.log if r.status == 429]
        soon = [r for r in emu.log if limited.time < r.time < limited.time + 0.9]
        assert len(soon) >= 10  # the other three workers kept sending during the limited one's wait


# --------------------------------------------------------------------------- run_file


def _write_lines(path: Path, lines: list[Any]) -> None:
    with path.open("w") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")


def _request(text: str) -> dict[str, Any]:
    return {"model": H.MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": text}]}


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class TestRunFile:
    def test_one_record_per_line_in_order(self, tmp_path: Path) -> None:
        """Each request line gives one exchange record, in input order, ids from file:line or custom_id."""
        src, out, rej = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
        _write_lines(src, [
            _request("a"),
            "",
            {"custom_id": "req-b", "params": _request("b")},
            "{not json",
            {"id": 77, "request": _request("c"), "error": {"type": "error"}},
            {"custom_id": "x", "result": {"type": "canceled"}},
            _request("d"),
        ])
        seen: list[tuple[Any, Any]] = []
        summary = run_file(src, out, executor=MockExecutor(lambda c: "re " + c.messages[0].text),
                           concurrency=3, rejects=rej, on_reject=lambda e, raw: seen.append((e, raw)))
        recs = _records(out)
        assert [r["id"] for r in recs] == [f"{src}:1", "req-b", 77, f"{src}:7"]
        assert [r["response"]["content"][0]["text"] for r in recs] == ["re a", "re b", "re c", "re d"]
        assert recs[0]["request"] == _request("a")
        assert (summary.total, summary.succeeded, summary.failures, summary.rejected) == (4, 4, 0, 2)
        assert summary.output_tokens == 4 and summary.input_tokens > 0  # "re x": one token each
        rejected = _records(rej)
        assert [r["line"] for r in rejected] == [4, 6]
        assert [r["code"] for r in rejected] == ["json", "kind"]
        assert "batch_result line is not a request" in rejected[1]["reason"]
        # nothing is lost: each reject keeps the line's original bytes
        assert [r["raw"] for r in rejected] == ["{not json", '{"custom_id": "x", "result": {"type": "canceled"}}']
        assert [(e.line, raw) for e, raw in seen] == [
            (4, b"{not json"), (6, b'{"custom_id": "x", "result": {"type": "canceled"}}')]
        assert seen[0][0].file == str(src)

    def test_errors_are_records_counted_by_type(self, tmp_path: Path) -> None:
        """Failures become error records in the API's shape and the summary counts them by type."""
        src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        _write_lines(src, [_request(t) for t in ("ok", "busy", "limit", "busy", "net")] + [
            {**_request("bad"), "temperature": 0.5}])
        errors = {
            "busy": OverloadedError("Overloaded", status=529, type="overloaded_error", request_id="req_1"),
            "limit": RateLimitError("Slow down", status=429, type="rate_limit_error"),
            "net": APIConnectionError("connection refused"),
        }

        def handler(c: m.Conversation) -> str:
            from convo import rules

            report = rules.validate(c)
            if not report.ok:
                raise ValidationError(report)
            e = errors.get(c.messages[0].text)
            if e is not None:
                raise e
            return "fine"

        summary = run_file(src, out, executor=MockExecutor(handler))
        recs = _records(out)
        assert "response" in recs[0] and "error" not in recs[0]
        assert recs[1]["error"] == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
                                    "status": 529, "request_id": "req_1"}
        assert recs[4]["error"]["error"]["type"] == "api_connection_error"
        assert recs[5]["error"]["error"]["type"] == "validation_error"
        assert recs[5]["error"]["error"]["violations"][0]["path"] == "$.temperature"
        assert dict(summary.failed) == {"overloaded_error": 2, "rate_limit_error": 1,
                                        "api_connection_error": 1, "validation_error": 1}
        assert summary.succeeded == 1 and summary.total == 6

    def test_resume_skips_lines_with_records(self, tmp_path: Path) -> None:
        """With resume, lines that already have a record are never sent again; errors stay unless retried."""
        src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        _write_lines(src, [_request(f"q{i}") for i in range(6)])
        flaky = MockExecutor(lambda c: (_ for _ in ()).throw(OverloadedError("x", status=529))
                             if c.messages[0].text in ("q1", "q4") else "ok")
        run_file(src, out, executor=flaky)
        again = MockExecutor(lambda c: "second")
        s2 = run_file(src, out, executor=again, resume=True)
        assert again.calls == [] and s2.skipped == 6 and s2.total == 6
        retry = MockExecutor(lambda c: "retried")
        s3 = run_file(src, out, executor=retry, resume=True, retry_errors=True)
        assert [c.messages[0].text for c in retry.calls] == ["q1", "q4"]
        assert (s3.succeeded, s3.skipped) == (2, 4)
        recs = _records(out)
        assert sorted(r["id"] for r in recs) == sorted(f"{src}:{i}" for i in range(1, 7))
        assert all("response" in r for r in recs)

    def test_torn_last_line_is_cut_and_rerun(self, tmp_path: Path) -> None:
        """A last line half-written by a killed run is removed and its input runs again."""
        src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        _write_lines(src, [_request(f"q{i}") for i in range(3)])
        run_file(src, out, executor=MockExecutor(lambda c: "ok"))
        data = out.read_bytes()
        out.write_bytes(data[: len(data) - 40])  # the third record torn in the middle
        ex = MockExecutor(lambda c: "again")
        run_file(src, out, executor=ex, resume=True)
        assert [c.messages[0].text for c in ex.calls] == ["q2"]
        assert [r["id"] for r in _records(out)] == [f"{src}:{i}" for i in (1, 2, 3)]

    def test_retries_and_tokens_in_the_summary(self, tmp_path: Path) -> None:
        """Against the emulator, the summary counts the executor's retries and the tokens used."""
        src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        _write_lines(src, [_request(f"q{i}") for i in range(4)])
        with Emulator(faults="529,500") as url:
            ex = HttpExecutor(KEY, base_url=url, retry=RetryPolicy(base=0.01, cap=0.02))
            summary = run_file(src, out, executor=ex, concurrency=1)
            ex.close()
        assert summary.retries == 2 and summary.succeeded == 4
        usage = [r["response"]["usage"] for r in _records(out)]
        assert summary.output_tokens == sum(u["output_tokens"] for u in usage)
        assert summary.input_tokens == sum(u["input_tokens"] for u in usage)

    def test_error_record_for_unknown_exceptions(self) -> None:
        """An exception that is not convo's is recorded as a client_error with its message."""
        assert error_record(KeyError("k"))["error"] == {"type": "client_error", "message": "'k'"}


_CHILD = """
import os, sys
from convo.executor import HttpExecutor, RetryPolicy, run_file
ex = HttpExecutor(os.environ["KEY"], base_url=os.environ["URL"], retry=RetryPolicy(base=0.01))
run_file(sys.argv[1], sys.argv[2], executor=ex, concurrency=4, resume=True)
"""


class TestKillAndResume:
    def test_sigkill_midway_then_resume(self, tmp_path: Path) -> None:
        """A run SIGKILLed mid-way and resumed ends with one record per line and never re-sends a recorded line."""
        n = 60
        src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        _write_lines(src, [_request(f"item {i}") for i in range(n)])

        def slow(c: m.Conversation) -> str:
            time.sleep(0.03)
            return "done " + c.messages[0].text

        emu = Emulator(handler=slow)
        url = emu.start()
        try:
            env = {**os.environ, "KEY": KEY, "URL": url}
            child = subprocess.Popen([sys.executable, "-c", _CHILD, str(src), str(out)], env=env)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if out.exists() and out.read_bytes().count(b"\n") >= 12:
                    break
                time.sleep(0.01)
            child.send_signal(signal.SIGKILL)
            child.wait()
            partial = out.read_bytes()
            done_before = [json.loads(line)["id"] for line in partial.split(b"\n")[:-1]]
            assert 12 <= len(done_before) < n
            sent_before = len(emu.log)

            ex = HttpExecutor(KEY, base_url=url)
            summary = run_file(src, out, executor=ex, concurrency=4, resume=True)
            ex.close()
        finally:
            emu.stop()
        recs = _records(out)
        ids = [r["id"] for r in recs]
        assert sorted(ids) == sorted(f"{src}:{i}" for i in range(1, n + 1))  # exactly one record each
        assert all(r["response"]["content"][0]["text"].startswith("done item") for r in recs)
        assert summary.skipped == len(done_before)
        # a request the kill cut off mid-body is logged without one: it was never answered
        texts = [r.body["messages"][0]["content"] for r in emu.log if r.body is not None]
        for rid in done_before:
            line = int(str(rid).rsplit(":", 1)[1])
            assert texts.count(f"item {line - 1}") == 1, rid  # recorded before the kill: sent once only
        assert len(emu.log) - sent_before == n - len(done_before)

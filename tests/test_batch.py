"""Tests for convo.jobs.batch: BatchExecutor against the local emulator over real sockets.

Time is a fake clock shared by the emulator's batches and the executor's waits, so polling,
settling and expiry are exact and instant. The kill-and-resume tests with real processes are in
tests/test_batch_kill.py; the command's in tests/test_batch_cli.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convo import model as m
from convo.errors import (
    APIConnectionError,
    BadRequestError,
    ConvoError,
    OverloadedError,
    ValidationError,
)
from convo.executor import (
    BatchExecutor,
    BatchResultError,
    HttpExecutor,
    MessageBatch,
    arun_many,
    run_file,
    run_many,
)
from convo.executor._batch import custom_id_for, parse_custom_id
from convo.testing import Emulator
from tests import _helpers_batch as H


@pytest.fixture
def clock() -> Any:
    return H.FakeTime()


@pytest.fixture
def emu(clock: Any) -> Iterator[Emulator]:
    e = Emulator(batch_delay=20.0, cancel_delay=2.0, clock=clock, api_keys=[H.KEY])
    e.start()
    try:
        yield e
    finally:
        e.stop()


def job(tmp_path: Path, name: str = "job.json") -> str:
    return str(tmp_path / name)


# --------------------------------------------------------------------------- values


class TestCustomIds:
    @settings(max_examples=100)
    @given(run=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=8),
           file=st.integers(0, 10**6), line=st.integers(1, 10**12), attempt=st.integers(0, 99))
    def test_valid_and_reversible(self, run: str, file: int, line: int, attempt: int) -> None:
        """Every custom_id matches the API's pattern and parses back to its run, file, line and attempt."""
        cid = custom_id_for(run, file, line, attempt)
        assert H.CUSTOM_ID.match(cid)
        assert parse_custom_id(cid) == (run, file, line, attempt)

    @pytest.mark.parametrize("cid", ["req-1", "a-b-c", "abc-1-2-x3", "abc-1-2-r", "", "abc-1-2-3-4"])
    def test_foreign_ids_do_not_parse(self, cid: str) -> None:
        """custom_ids this module did not make are not mistaken for its own."""
        assert parse_custom_id(cid) is None

    def test_too_long_is_refused(self) -> None:
        """An id over 64 characters is an error, never sent."""
        with pytest.raises(ValueError, match="longer than 64"):
            custom_id_for("r" * 61, 1, 1)


class TestMessageBatch:
    def test_reads_the_api_object(self) -> None:
        """from_json keeps the counts, the times and unknown keys."""
        b = MessageBatch.from_json({
            "id": "msgbatch_9", "type": "message_batch", "processing_status": "in_progress",
            "request_counts": {"processing": 4, "succeeded": 0, "errored": 0, "canceled": 0,
                               "expired": 0},
            "created_at": "2026-11-01T10:00:00.123456789Z", "archived_at": None,
        })
        assert not b.ended and b.total == 4
        assert b.created == pytest.approx(1793527200.123456)
        assert b.extra["type"] == "message_batch"

    def test_rejects_a_non_batch(self) -> None:
        """An answer without an id is an APIError, not a crash later."""
        with pytest.raises(ConvoError, match="message batch object"):
            MessageBatch.from_json({"type": "error"})


# --------------------------------------------------------------------------- the wire


class TestWire:
    def test_endpoints_and_headers(self, emu: Emulator, clock: Any) -> None:
        """create, retrieve, list, results and cancel speak the API's paths with the 2026 headers."""
        with H.executor(emu, clock) as ex:
            reqs = [m.BatchRequest(custom_id=f"r{i}", params=m.Conversation(
                model=H.MODEL, max_tokens=8, messages=[m.Message("user", f"q{i}")])) for i in range(3)]
            batch = ex.create_batch(reqs)
            assert batch.processing_status == "in_progress" and batch.total == 3
            assert [b.id for b in ex.list_batches()] == [batch.id]
            clock.sleep(21)
            assert ex.retrieve_batch(batch.id).ended
            results = sorted(ex.iter_results(batch.id), key=lambda r: r.custom_id)
            second = ex.create_batch(reqs[:1])
            canceling = ex.cancel_batch(second.id)
        assert [r.custom_id for r in results] == ["r0", "r1", "r2"]
        assert [r.message.text for r in results] == ["echo: q0", "echo: q1", "echo: q2"]
        assert canceling.processing_status == "canceling"
        for r in emu.log:
            assert r.api_key_scheme == "bearer" and r.headers["anthropic-version"] == "2026-10-21"
            assert H.KEY not in repr(r.headers)
        (res,) = [r for r in emu.log if r.path.endswith("/results")]
        assert res.headers["accept"] == "application/binary"

    def test_2023_version_sends_x_api_key(self, emu: Emulator, clock: Any) -> None:
        """Under 2023-06-01 the key goes in x-api-key, as that SDK generation sends it."""
        with H.executor(emu, clock, api_version="2023-06-01") as ex:
            list(ex.list_batches())
        (r,) = emu.log
        assert r.api_key_scheme == "x-api-key" and r.headers["anthropic-version"] == "2023-06-01"

    def test_list_pages_back_to_since(self, emu: Emulator, clock: Any) -> None:
        """list_batches follows after_id pages and stops at the first batch older than since."""
        with H.executor(emu, clock) as ex:
            reqs = [m.BatchRequest(custom_id="a", params=m.Conversation(
                model=H.MODEL, max_tokens=8, messages=[m.Message("user", "x")]))]
            ids = []
            for _ in range(5):
                ids.append(ex.create_batch(reqs).id)
                clock.sleep(10)
            everything = [b.id for b in ex.list_batches(page_size=2)]
            recent = [b.id for b in ex.list_batches(page_size=2, since=clock() - 25)]
        assert everything == ids[::-1]
        assert recent == ids[::-1][:2]
        assert sum(1 for r in emu.log if r.method == "GET" and r.query.get("after_id")) >= 2

    def test_retrieve_is_retried_but_create_errors_are_not_duplicates(self, emu: Emulator, clock: Any,
                                                                      tmp_path: Path) -> None:
        """A 529 on create and a 429 on retrieve are retried; the 529 made no batch, so no line repeats."""
        emu.faults = "529@POST /v1/messages/batches, 429:retry-after=0.01@GET /v1/messages/batches/*"
        src = H.write_requests(tmp_path / "in.jsonl", 5)
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None and summary.succeeded == 5
        assert [r.status for r in H.creates(emu)] == [529, 200]
        assert emu.duplicate_batch_requests() == {}
        assert len(emu.batches.ids()) == 1


# --------------------------------------------------------------------------- splitting


class TestSplitting:
    def test_request_limit(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """25 lines with max_requests=10 go in batches of 10, 10 and 5, in input order."""
        src = H.write_requests(tmp_path / "in.jsonl", 25)
        with H.executor(emu, clock, max_requests=10) as ex:
            status = ex.submit([src], job(tmp_path))
        assert [b.requests for b in status.batches] == [10, 10, 5]
        bodies = [r.body["requests"] for r in H.creates(emu)]
        assert [len(b) for b in bodies] == [10, 10, 5]
        texts = [item["params"]["messages"][0]["content"] for body in bodies for item in body]
        assert texts == [f"question {i}" for i in range(25)]

    def test_byte_limit(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Every create body stays within max_bytes, and each batch is as full as the limit allows."""
        src = H.write_requests(tmp_path / "in.jsonl", 40)
        limit = 1500
        with H.executor(emu, clock, max_bytes=limit) as ex:
            status = ex.submit([src], job(tmp_path))
        sizes = [len(orjson.dumps(r.body)) for r in H.creates(emu)]
        assert len(sizes) == len(status.batches) > 2
        assert all(size <= limit for size in sizes)
        item = len(orjson.dumps(H.creates(emu)[0].body["requests"][0])) + 1
        assert all(size + item > limit for size in sizes[:-1])  # the next line would not fit
        assert sum(b.requests for b in status.batches) == 40

    def test_one_request_over_the_byte_limit_is_rejected(self, emu: Emulator, clock: Any,
                                                         tmp_path: Path) -> None:
        """A request larger than a whole batch may be goes to the rejects, the rest is sent."""
        src = H.write_lines(tmp_path / "in.jsonl", [H.request("small"), H.request("x" * 3000),
                                                     H.request("small too")])
        with H.executor(emu, clock, max_bytes=2000) as ex:
            ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None and (summary.succeeded, summary.rejected) == (2, 1)
        (rej,) = H.read_jsonl(tmp_path / "out.rejects.jsonl")
        assert rej["line"] == 2 and rej["reason"].startswith("batch.too-large")
        assert len(H.submitted_ids(emu)) == 2

    def test_many_files_and_a_directory(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Several inputs (a directory counts as its sorted *.jsonl files) keep their order and names."""
        d = tmp_path / "dir"
        d.mkdir()
        a = H.write_requests(tmp_path / "a.jsonl", 3, prefix="a")
        H.write_requests(d / "2.jsonl", 2, prefix="d2")
        H.write_requests(d / "1.jsonl", 2, prefix="d1")
        with H.executor(emu, clock, max_requests=4) as ex:
            ex.submit([a, d], job(tmp_path))
            ex.results(job(tmp_path), tmp_path / "out.jsonl")
        records = H.exchanges(tmp_path / "out.jsonl")
        H.check_matches_input(records, [(str(a), a), (str(d / "1.jsonl"), d / "1.jsonl"),
                                        (str(d / "2.jsonl"), d / "2.jsonl")])
        ids = H.submitted_ids(emu)
        assert len(ids) == len(set(ids)) == 7 and all(H.CUSTOM_ID.match(c) for c in ids)


# --------------------------------------------------------------------------- joining


class TestResults:
    def test_records_in_input_order_despite_shuffled_results(self, emu: Emulator, clock: Any,
                                                             tmp_path: Path) -> None:
        """Results come shuffled; the output has one record per line, in input order, each its own."""
        src = H.write_requests(tmp_path / "in.jsonl", 30)
        with H.executor(emu, clock, max_requests=12) as ex:
            ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        raw = (tmp_path / "job.json.d")
        spool = sorted(raw.glob("msgbatch_*.jsonl"))[0].read_bytes().splitlines()
        lines = [int(orjson.loads(x)["custom_id"].split("-")[2]) for x in spool]
        assert lines != sorted(lines)  # the emulator really shuffled them
        H.check_matches_input(H.exchanges(tmp_path / "out.jsonl"), [(str(src), src)])
        assert summary is not None
        assert (summary.total, summary.succeeded, summary.failures, summary.rejected) == (30, 30, 0, 0)
        assert summary.output_tokens > 0 and summary.input_tokens > 0

    def test_every_kind_of_line(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Requests, batch request lines and exchanges are sent; bad lines go to the rejects, unsent."""
        lines: list[Any] = [
            H.request("plain"),
            b"{not json",
            {"custom_id": "mine-7", "params": H.request("from a batch line")},
            {"custom_id": "r", "result": {"type": "expired"}},
            {"id": "ex-1", "request": H.request("from an exchange"), "error": {"type": "error"}},
            H.request("prefill", model="claude-opus-4-8",
                      messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "A"}]),
            H.request("streamed", stream=True),
            H.request("prewarm", max_tokens=0),
            H.request("fast", speed="fast"),
            b"\xff\xfe",
        ]
        src = H.write_lines(tmp_path / "in.jsonl", lines)
        with H.executor(emu, clock) as ex:
            status = ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert status.lines == 10 and status.rejected == 7
        assert summary is not None and (summary.total, summary.rejected) == (3, 7)
        records = H.exchanges(tmp_path / "out.jsonl")
        assert [r.id for r in records] == [f"{src}:1", "mine-7", "ex-1"]
        assert [r.response.text for r in records] == ["echo: plain", "echo: from a batch line",
                                                      "echo: from an exchange"]
        rejects = H.read_jsonl(tmp_path / "out.rejects.jsonl")
        assert [(r["line"], r["code"]) for r in rejects] == [
            (2, "json"), (4, "kind"), (6, "rule"), (7, "rule"), (8, "rule"), (9, "rule"), (10, "utf8")]
        assert rejects[2]["reason"].startswith("prefill.unsupported")
        assert [r["reason"].split(":")[0] for r in rejects[3:6]] == [
            "batch.stream", "batch.max-tokens-zero", "batch.speed"]
        assert rejects[0]["raw"] == "{not json" and "raw_base64" in rejects[6]
        assert len(H.submitted_ids(emu)) == 3  # nothing rejected reached the API

    def test_rules_follow_the_api_version(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """temperature is rejected before submission under 2026-10-21 and sent under 2023-06-01."""
        src = H.write_lines(tmp_path / "in.jsonl", [H.request("warm", temperature=0.3)])
        with H.executor(emu, clock) as ex:
            new = ex.submit([src], job(tmp_path, "new.json"))
        with H.executor(emu, clock, api_version="2023-06-01") as ex:
            old = ex.submit([src], job(tmp_path, "old.json"))
        assert (new.rejected, len(new.batches)) == (1, 0)
        assert (old.rejected, len(old.batches)) == (0, 1)

    def test_results_are_saved_once_and_rewriting_fetches_nothing(self, emu: Emulator, clock: Any,
                                                                  tmp_path: Path) -> None:
        """Running results again writes the same output from the saved results, with no API call."""
        src = H.write_requests(tmp_path / "in.jsonl", 8)
        with H.executor(emu, clock, max_requests=3) as ex:
            ex.submit([src], job(tmp_path))
            ex.results(job(tmp_path), tmp_path / "out.jsonl")
            first = (tmp_path / "out.jsonl").read_bytes()
            calls = len(emu.log)
            ex.results(job(tmp_path), tmp_path / "again.jsonl")
        assert len(emu.log) == calls
        assert (tmp_path / "again.jsonl").read_bytes() == first
        assert set(H.results_fetches(emu).values()) == {1}

    def test_no_wait_returns_none_until_ended(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Without wait, results returns None and writes nothing while a batch is processing."""
        src = H.write_requests(tmp_path / "in.jsonl", 2)
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            assert ex.results(job(tmp_path), tmp_path / "out.jsonl", wait=False) is None
            assert not (tmp_path / "out.jsonl").exists()
            clock.sleep(21)
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl", wait=False)
        assert summary is not None and summary.succeeded == 2

    def test_polling_backs_off(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Waits between polls start at poll_interval and grow by half up to max_poll_interval."""
        src = H.write_requests(tmp_path / "in.jsonl", 1)
        with H.executor(emu, clock, poll_interval=1.0, max_poll_interval=4.0) as ex:
            ex.submit([src], job(tmp_path))
            ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert clock.slept[:5] == [1.0, 1.5, 2.25, 3.375, 4.0]
        assert set(clock.slept[5:]) == {4.0}
        polls = [r for r in emu.log if r.method == "GET" and r.path.count("/") == 4]
        assert len(polls) == len(clock.slept) + 1

    def test_the_key_is_in_no_file(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Neither the state file nor the saved results nor the output holds the API key."""
        src = H.write_requests(tmp_path / "in.jsonl", 2)
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            ex.results(job(tmp_path), tmp_path / "out.jsonl")
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert H.KEY.encode() not in path.read_bytes(), path


# --------------------------------------------------------------------------- outcomes


class TestOutcomes:
    def test_errored_canceled_expired_and_refused(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Each outcome gets its error record, an invalid request too (the API answered it: an API
        error, counted as failed, as ``run --via http`` counts a 400); nothing is rejected."""
        src = H.write_requests(tmp_path / "in.jsonl", 5)
        with H.executor(emu, clock) as ex:
            status = ex.submit([src], job(tmp_path))
            run = status.run
            emu.batch_errors = {f"{run}-0-1": "overloaded_error", f"{run}-0-2": "invalid_request_error",
                                f"{run}-0-3": "canceled", f"{run}-0-4": "expired"}
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None
        assert dict(summary.failed) == {"overloaded_error": 1, "invalid_request_error": 1, "canceled": 1,
                                        "expired": 1}
        assert (summary.succeeded, summary.rejected, summary.total) == (1, 0, 5)
        records = H.exchanges(tmp_path / "out.jsonl")
        assert [r.id for r in records] == [f"{src}:{i}" for i in (1, 2, 3, 4, 5)]
        assert records[0].error["error"]["type"] == "overloaded_error"
        assert records[0].error["request_id"].startswith("req_")
        assert records[1].error["error"]["type"] == "invalid_request_error"
        assert records[1].error["request_id"].startswith("req_")
        assert [r.error["error"]["type"] for r in records[2:4]] == ["canceled", "expired"]
        assert records[4].response.text == "echo: question 4"
        rejects = tmp_path / "out.rejects.jsonl"
        assert not rejects.exists() or H.read_jsonl(rejects) == []

    def test_retry_errored_resubmits_only_retryable_lines(self, emu: Emulator, clock: Any,
                                                          tmp_path: Path) -> None:
        """Retryable errors are sent again (as -r1) and succeed; invalid requests and canceled lines are
        not (they keep their error records)."""
        src = H.write_requests(tmp_path / "in.jsonl", 6)

        def first_time(cid: str, params: Any) -> str | None:
            if cid.endswith("-r1"):
                return None
            return {"1": "overloaded_error", "2": "api_error", "3": "invalid_request_error",
                    "4": "canceled"}.get(cid.split("-")[2])

        emu.batch_errors = first_time
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl", retry_errored=True)
        assert summary is not None
        assert (summary.succeeded, summary.rejected, dict(summary.failed)) == (
            4, 0, {"invalid_request_error": 1, "canceled": 1})
        assert summary.retries == 2
        resent = [c for c in H.submitted_ids(emu) if c.endswith("-r1")]
        assert sorted(c.split("-")[2] for c in resent) == ["1", "2"]
        assert emu.duplicate_batch_requests() == {}
        records = H.exchanges(tmp_path / "out.jsonl")
        assert [r.response.text if r.response else r.error["error"]["type"] for r in records] == [
            "echo: question 0", "echo: question 1", "invalid_request_error", "canceled", "echo: question 4",
            "echo: question 5"]

    def test_retries_stop_after_max_rounds(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """A line that keeps failing is resubmitted max_retry_rounds times, then reported as failed."""
        src = H.write_requests(tmp_path / "in.jsonl", 2)
        emu.batch_errors = lambda cid, params: "overloaded_error" if cid.split("-")[2] == "2" else None
        with H.executor(emu, clock, max_retry_rounds=2) as ex:
            ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl", retry_errored=True)
        assert summary is not None and dict(summary.failed) == {"overloaded_error": 1}
        assert sorted(c.split("-", 3)[3] for c in H.submitted_ids(emu) if c.count("-") == 3) == ["r1", "r2"]
        assert H.submitted_lines(emu)[(0, 2)] == 3

    def test_expired_batch_is_reported_and_can_be_retried(self, emu: Emulator, clock: Any,
                                                          tmp_path: Path) -> None:
        """A batch that expires reports its lines as expired; retry_expired sends them again."""
        src = H.write_requests(tmp_path / "in.jsonl", 3)
        with H.executor(emu, clock) as ex:
            status = ex.submit([src], job(tmp_path))
            emu.expire_batch(status.batches[0].batch_id)
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
            assert summary is not None and dict(summary.failed) == {"expired": 3}
            assert {r.error["error"]["type"] for r in H.exchanges(tmp_path / "out.jsonl")} == {"expired"}
            retried = ex.results(job(tmp_path), tmp_path / "out.jsonl", retry_expired=True)
        assert retried is not None and retried.succeeded == 3 and retried.retries == 3
        H.check_matches_input(H.exchanges(tmp_path / "out.jsonl"), [(str(src), src)])

    def test_cancel(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Cancel stops the batches; their lines are reported canceled and nothing more is submitted."""
        src = H.write_requests(tmp_path / "in.jsonl", 4)
        with H.executor(emu, clock, max_requests=2) as ex:
            ex.submit([src], job(tmp_path))
            status = ex.cancel(job(tmp_path))
            assert [b.processing_status for b in status.batches] == ["canceling", "canceling"]
            assert status.canceled
            with pytest.raises(ConvoError, match="was canceled"):
                ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl", retry_errored=True)
        assert summary is not None and dict(summary.failed) == {"canceled": 4}
        assert len(H.submitted_ids(emu)) == 4


# --------------------------------------------------------------------------- never twice


class TestNeverTwice:
    def test_a_create_cut_off_after_the_batch_was_made_is_adopted(self, emu: Emulator, clock: Any,
                                                                 tmp_path: Path) -> None:
        """The server made the batch but the answer broke: it is found, proven by its results, adopted."""
        emu.faults = "ok@POST /v1/messages/batches, truncate@POST /v1/messages/batches"
        src = H.write_requests(tmp_path / "in.jsonl", 9)
        with H.executor(emu, clock, max_requests=3) as ex:
            status = ex.submit([src], job(tmp_path))
            assert [b.status for b in status.batches] == ["submitted", "uncertain", "submitted"]
            assert status.batches[1].candidates == (emu.batches.ids()[1],)
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None and summary.succeeded == 9
        assert emu.duplicate_batch_requests() == {}
        assert set(H.submitted_lines(emu).values()) == {1}
        H.check_matches_input(H.exchanges(tmp_path / "out.jsonl"), [(str(src), src)])
        state = orjson.loads((tmp_path / "job.json").read_bytes())
        assert state["batches"][1]["batch_id"] == emu.batches.ids()[1]

    @pytest.mark.parametrize("fault", ["reset", "close"])
    def test_a_create_that_never_arrived_is_sent_again_after_settling(
        self, emu: Emulator, clock: Any, tmp_path: Path, fault: str
    ) -> None:
        """A connection dropped before the server made a batch: after settle, the same ids are sent once."""
        emu.faults = f"{fault}@POST /v1/messages/batches"
        src = H.write_requests(tmp_path / "in.jsonl", 4)
        with H.executor(emu, clock, settle=7.0) as ex:
            start = clock()
            status = ex.submit([src], job(tmp_path))
            assert clock() - start >= 7.0  # it waited for a late batch to show up
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert [b.status for b in status.batches] == ["submitted"]
        assert [r.status for r in H.creates(emu)] == [None, 200]
        assert H.creates(emu)[0].body == H.creates(emu)[1].body
        assert summary is not None and summary.succeeded == 4
        assert emu.duplicate_batch_requests() == {} and len(emu.batches.ids()) == 1

    def test_killed_between_create_and_state_write(self, emu: Emulator, clock: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """A process dying right after the create returns leaves an intent; the resumed one adopts the batch."""
        src = H.write_requests(tmp_path / "in.jsonl", 10)
        real = BatchExecutor._create
        calls = []

        def dies_after_second(self: BatchExecutor, body: bytes) -> MessageBatch:
            out = real(self, body)
            calls.append(out.id)
            if len(calls) == 2:
                raise SystemExit("killed")  # as if SIGKILL came before the state was saved
            return out

        monkeypatch.setattr(BatchExecutor, "_create", dies_after_second)
        with H.executor(emu, clock, max_requests=4) as ex, pytest.raises(SystemExit):
            ex.submit([src], job(tmp_path))
        state = orjson.loads((tmp_path / "job.json").read_bytes())
        assert [b["status"] for b in state["batches"]] == ["submitted", "submitting"]
        monkeypatch.setattr(BatchExecutor, "_create", real)
        with H.executor(emu, clock, max_requests=4) as ex:
            status = ex.submit([src], job(tmp_path))
            assert [b.status for b in status.batches] == ["submitted", "uncertain", "submitted"]
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None and summary.succeeded == 10
        assert emu.duplicate_batch_requests() == {} and len(emu.batches.ids()) == 3
        H.check_matches_input(H.exchanges(tmp_path / "out.jsonl"), [(str(src), src)])

    def test_rejects_survive_a_kill_mid_submit(self, emu: Emulator, clock: Any, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
        """Bad lines between batches are rejected once each, in order, however the submission was cut."""
        lines: list[Any] = []
        for i in range(12):
            lines.append(H.request(f"q{i}"))
            if i % 3 == 1:
                lines.append(f"bad {i}")
        src = H.write_lines(tmp_path / "in.jsonl", lines)
        real = BatchExecutor._create
        calls: list[str] = []

        def dies_after_second(self: BatchExecutor, body: bytes) -> MessageBatch:
            out = real(self, body)
            calls.append(out.id)
            if len(calls) == 2:
                raise SystemExit("killed")
            return out

        monkeypatch.setattr(BatchExecutor, "_create", dies_after_second)
        with H.executor(emu, clock, max_requests=4) as ex, pytest.raises(SystemExit):
            ex.submit([src], job(tmp_path))
        monkeypatch.setattr(BatchExecutor, "_create", real)
        with H.executor(emu, clock, max_requests=4) as ex:
            status = ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert (status.lines, status.rejected) == (16, 4)
        assert summary is not None and (summary.succeeded, summary.rejected) == (12, 4)
        rejects = H.read_jsonl(tmp_path / "out.rejects.jsonl")
        assert [r["raw"] for r in rejects] == ["bad 1", "bad 4", "bad 7", "bad 10"]
        assert [r.response.text for r in H.exchanges(tmp_path / "out.jsonl")] == [
            f"echo: q{i}" for i in range(12)]
        assert emu.duplicate_batch_requests() == {} and set(H.submitted_lines(emu).values()) == {1}

    def test_a_same_sized_stranger_is_not_adopted(self, emu: Emulator, clock: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """A batch of someone else with the same size is a candidate until its results disprove it."""
        src = H.write_requests(tmp_path / "in.jsonl", 2)
        real = BatchExecutor._create

        def never_arrives(self: BatchExecutor, body: bytes) -> MessageBatch:
            # someone else's batch of two appears just as ours is about to be sent
            stranger = [{"custom_id": f"other-{i}", "params": H.request("not yours")} for i in range(2)]
            real(self, orjson.dumps({"requests": stranger}))
            raise SystemExit("killed before sending ours")

        monkeypatch.setattr(BatchExecutor, "_create", never_arrives)
        with H.executor(emu, clock) as ex, pytest.raises(SystemExit):
            ex.submit([src], job(tmp_path))
        monkeypatch.setattr(BatchExecutor, "_create", real)
        with H.executor(emu, clock) as ex:
            status = ex.submit([src], job(tmp_path))
            assert status.batches[0].status == "uncertain"  # the stranger has our size
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None and summary.succeeded == 2
        assert len(emu.batches.ids()) == 2  # the stranger, and ours sent once it was disproven
        assert set(H.submitted_lines(emu).values()) == {1}
        state = orjson.loads((tmp_path / "job.json").read_bytes())
        assert state["excluded"] == [emu.batches.ids()[0]]
        assert state["batches"][0]["batch_id"] == emu.batches.ids()[1]

    def test_results_already_saved_are_not_fetched_again(self, emu: Emulator, clock: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
        """Killed while saving the second batch's results, the resumed run fetches only what was missing."""
        src = H.write_requests(tmp_path / "in.jsonl", 9)
        real = BatchExecutor.download_results
        seen: list[str] = []

        def dies_on_second(self: BatchExecutor, batch_id: str, dest: str, accept: Any = None) -> bool:
            seen.append(batch_id)
            if len(seen) == 2:
                raise SystemExit("killed mid-download")
            return real(self, batch_id, dest, accept)

        with H.executor(emu, clock, max_requests=3) as ex:
            ex.submit([src], job(tmp_path))
            monkeypatch.setattr(BatchExecutor, "download_results", dies_on_second)
            with pytest.raises(SystemExit):
                ex.results(job(tmp_path), tmp_path / "out.jsonl")
            monkeypatch.setattr(BatchExecutor, "download_results", real)
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None and summary.succeeded == 9
        assert H.results_fetches(emu) == dict.fromkeys(emu.batches.ids(), 1)

    @pytest.mark.parametrize("proving", [False, True])
    def test_killed_after_saving_results_before_recording_it(
        self, emu: Emulator, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proving: bool
    ) -> None:
        """Results saved whole just before a kill are used as they are, for a known batch or a candidate."""
        if proving:  # the create's answer is lost: the batch is a candidate, proven by its results
            emu.faults = "truncate@POST /v1/messages/batches"
        src = H.write_requests(tmp_path / "in.jsonl", 4)
        real = BatchExecutor.download_results

        def saved_then_killed(self: BatchExecutor, batch_id: str, dest: str, accept: Any = None) -> bool:
            assert real(self, batch_id, dest, accept)
            raise SystemExit("killed before the state was saved")

        with H.executor(emu, clock) as ex:
            status = ex.submit([src], job(tmp_path))
            assert status.batches[0].status == ("uncertain" if proving else "submitted")
            monkeypatch.setattr(BatchExecutor, "download_results", saved_then_killed)
            with pytest.raises(SystemExit):
                ex.results(job(tmp_path), tmp_path / "out.jsonl")
            monkeypatch.setattr(BatchExecutor, "download_results", real)
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert summary is not None and summary.succeeded == 4
        assert H.results_fetches(emu) == dict.fromkeys(emu.batches.ids(), 1)
        H.check_matches_input(H.exchanges(tmp_path / "out.jsonl"), [(str(src), src)])

    def test_a_second_process_cannot_work_on_the_same_job(self, emu: Emulator, clock: Any,
                                                          tmp_path: Path) -> None:
        """While one process holds a job's lock, another is refused instead of racing it."""
        from convo.jobs.batch import _Job

        src = H.write_requests(tmp_path / "in.jsonl", 1)
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            with _Job(ex, job(tmp_path)), pytest.raises(ConvoError, match="another process"):
                ex.results(job(tmp_path), tmp_path / "out.jsonl")
            assert ex.status(job(tmp_path)).lines == 1  # status only reads


# --------------------------------------------------------------------------- the state


class TestState:
    def test_state_records_the_mapping(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """The state lists the files, each batch's line ranges, count and digest, with no key."""
        src = H.write_lines(tmp_path / "in.jsonl", [H.request("a"), "oops", H.request("b"), "",
                                                     H.request("c")])
        with H.executor(emu, clock) as ex:
            status = ex.submit([src], job(tmp_path))
        state = orjson.loads((tmp_path / "job.json").read_bytes())
        st = src.stat()
        assert state["files"] == [{
            "name": str(src), "path": str(src), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "dev": st.st_dev, "ino": st.st_ino,  # the file's identity (convo.jobs._state)
            "head": hashlib.sha256(src.read_bytes()[:65536]).hexdigest()}]
        (b,) = state["batches"]
        assert b["ranges"] == [[0, 1, 1], [0, 3, 5]]  # split around the rejected line 2
        assert b["count"] == 3 and len(b["digest"]) == 64 and b["batch_id"].startswith("msgbatch_")
        ids = [item["custom_id"] for item in H.creates(emu)[0].body["requests"]]
        assert ids == [f"{status.run}-0-{n}" for n in (1, 3, 5)]

    def test_state_is_replaced_whole_keeping_its_mode(self, emu: Emulator, clock: Any,
                                                      tmp_path: Path) -> None:
        """Every save renames a complete file into place: no temporary file stays, the mode is kept."""
        src = H.write_requests(tmp_path / "in.jsonl", 2)
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            os.chmod(tmp_path / "job.json", 0o600)
            ex.results(job(tmp_path), tmp_path / "out.jsonl")
        state = orjson.loads((tmp_path / "job.json").read_bytes())
        assert state["output"]["records"] == 2  # the last save (after the output) is the one read
        assert (tmp_path / "job.json").stat().st_mode & 0o777 == 0o600
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "in.jsonl", "job.json", "job.json.d", "out.jsonl", "out.rejects.jsonl"]

    def test_rejects_default_beside_a_gzip_output(self, emu: Emulator, clock: Any,
                                                  tmp_path: Path) -> None:
        """Without a rejects path, a ``.jsonl.gz`` output gets ``OUT.rejects.jsonl`` beside it."""
        src = H.write_lines(tmp_path / "in.jsonl", [H.request("a"), "oops"])
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            summary = ex.results(job(tmp_path), tmp_path / "out.jsonl.gz")
        assert summary is not None and (summary.succeeded, summary.rejected) == (1, 1)
        (rej,) = H.read_jsonl(tmp_path / "out.rejects.jsonl")
        assert (rej["line"], rej["code"], rej["raw"]) == (2, "json", "oops")

    def test_changed_input_is_refused(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """An input edited after submission is caught before results are joined to the wrong lines."""
        src = H.write_requests(tmp_path / "in.jsonl", 3)
        with H.executor(emu, clock) as ex:
            ex.submit([src], job(tmp_path))
            text = src.read_bytes().replace(b"question 1", b"question X")
            src.write_bytes(text)
            with pytest.raises(ConvoError, match="changed since it was submitted"):
                ex.results(job(tmp_path), tmp_path / "out.jsonl")
            src.write_bytes(text + b'{"model": "m"}\n')
            with pytest.raises(ConvoError, match="changed since it was submitted"):
                ex.results(job(tmp_path), tmp_path / "out.jsonl")
        assert not (tmp_path / "out.jsonl").exists()

    def test_other_inputs_or_server_are_refused(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """Resuming a job with other files or another base URL is an error, not a new job."""
        a = H.write_requests(tmp_path / "a.jsonl", 1)
        b = H.write_requests(tmp_path / "b.jsonl", 1)
        with H.executor(emu, clock) as ex:
            ex.submit([a], job(tmp_path))
            with pytest.raises(ConvoError, match="started for other inputs"):
                ex.submit([b], job(tmp_path))
            assert ex.submit(None, job(tmp_path)).submitted  # no inputs: resume
        with BatchExecutor(H.KEY, base_url="http://127.0.0.1:9") as other, \
                pytest.raises(ConvoError, match="was submitted to"):
            other.status(job(tmp_path))

    def test_status(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """status asks the API for fresh counts unless told not to, and says when all is done."""
        src = H.write_requests(tmp_path / "in.jsonl", 5)
        with H.executor(emu, clock, max_requests=3) as ex:
            ex.submit([src], job(tmp_path))
            before = ex.status(job(tmp_path))
            assert before.counts["processing"] == 5 and not before.done and before.pending == 2
            clock.sleep(21)
            calls = len(emu.log)
            stale = ex.status(job(tmp_path), refresh=False)
            assert len(emu.log) == calls and stale.counts["processing"] == 5
            fresh = ex.status(job(tmp_path))
            assert fresh.counts["succeeded"] == 5 and fresh.counts["processing"] == 0
            ex.results(job(tmp_path), tmp_path / "out.jsonl")
            done = ex.status(job(tmp_path))
        assert done.done and done.output == str(tmp_path / "out.jsonl")
        assert done.to_json()["batches"][0]["status"] == "fetched"


# --------------------------------------------------------------------------- in memory


class TestRunMany:
    def test_run_many_through_batches(self, emu: Emulator, clock: Any) -> None:
        """run_many hands a BatchExecutor the whole list: one batch, results in order, errors as exceptions."""
        convs = [m.Conversation(model=H.MODEL, max_tokens=16, messages=[m.Message("user", f"n{i}")])
                 for i in range(5)]
        convs[2] = m.Conversation(model="claude-opus-4-8", max_tokens=16, messages=[
            m.Message("user", "q"), m.Message("assistant", "prefill")])
        convs[4] = m.Conversation(model=H.MODEL, max_tokens=0, messages=[m.Message("user", "z")])
        emu.batch_errors = lambda cid, params: {"n1": "overloaded_error", "n3": "expired"}.get(
            params["messages"][0]["content"])
        with H.executor(emu, clock) as ex:
            results = run_many(convs, ex, concurrency=4)
        assert [r.index for r in results] == [0, 1, 2, 3, 4]
        assert results[0].response.text == "echo: n0"
        assert isinstance(results[1].error, OverloadedError)
        assert isinstance(results[2].error, ValidationError)
        assert isinstance(results[3].error, BatchResultError) and results[3].error.result_type == "expired"
        assert isinstance(results[4].error, ValidationError)
        assert "batch.max-tokens-zero" in str(results[4].error)
        assert len(emu.batches.ids()) == 1 and len(H.submitted_ids(emu)) == 3  # not the invalid two

    def test_invalid_request_from_the_api_is_a_bad_request(self, emu: Emulator, clock: Any) -> None:
        """A result errored with invalid_request_error comes back as BadRequestError with its message."""
        emu.batch_errors = lambda cid, params: "invalid_request_error"
        with H.executor(emu, clock) as ex:
            (r,) = ex.run_many([m.Conversation(model=H.MODEL, max_tokens=8,
                                               messages=[m.Message("user", "q")])])
        assert isinstance(r.error, BadRequestError) and r.error.message == "Invalid request"

    def test_execute_and_async(self, emu: Emulator, clock: Any) -> None:
        """execute sends a batch of one; arun_many runs the whole list as one job too."""
        conv = m.Conversation(model=H.MODEL, max_tokens=8, messages=[m.Message("user", "one")])
        with H.executor(emu, clock) as ex:
            assert ex.execute(conv).text == "echo: one"
            results = asyncio.run(arun_many([conv, conv], ex))
        assert [r.response.text for r in results] == ["echo: one", "echo: one"]
        assert len(emu.batches.ids()) == 2

    def test_progress(self, emu: Emulator, clock: Any) -> None:
        """on_progress sees every result in order with running counts."""
        convs = [m.Conversation(model=H.MODEL, max_tokens=8, messages=[m.Message("user", f"{i}")])
                 for i in range(3)]
        seen = []
        with H.executor(emu, clock) as ex:
            ex.run_many(convs, on_progress=seen.append)
        assert [(p.done, p.succeeded, p.total) for p in seen] == [(1, 1, 3), (2, 2, 3), (3, 3, 3)]

    def test_uncertain_create_raises_without_retry(self, emu: Emulator, clock: Any) -> None:
        """create_batch alone never retries a create cut off mid-answer (it may exist)."""
        emu.faults = "truncate@POST /v1/messages/batches"
        with H.executor(emu, clock) as ex, pytest.raises(APIConnectionError):
            ex.create_batch([m.BatchRequest(custom_id="a", params=m.Conversation(
                model=H.MODEL, max_tokens=8, messages=[m.Message("user", "x")]))])
        assert len(H.creates(emu)) == 1 and len(emu.batches.ids()) == 1


class TestRunFile:
    def test_same_records_as_http(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """run_file with a BatchExecutor writes the records the HTTP executor writes (ids, requests, text)."""
        src = H.write_lines(tmp_path / "in.jsonl", [H.request(f"r{i}") for i in range(4)] + ["nope"])
        with H.executor(emu, clock) as ex:
            bs = run_file(src, tmp_path / "batch.jsonl", executor=ex, rejects=tmp_path / "b.rej")
        with HttpExecutor(H.KEY, base_url=emu.base_url) as hx:
            hs = run_file(src, tmp_path / "http.jsonl", executor=hx, rejects=tmp_path / "h.rej")
        batch, http = H.exchanges(tmp_path / "batch.jsonl"), H.exchanges(tmp_path / "http.jsonl")
        assert [(r.id, r.request, r.response.text) for r in batch] == [
            (r.id, r.request, r.response.text) for r in http]
        assert {r.response.usage.service_tier for r in batch} == {"batch"}
        assert (bs.succeeded, bs.rejected) == (hs.succeeded, hs.rejected) == (4, 1)
        assert (tmp_path / "batch.jsonl.batch.json").exists()

    def test_resume_and_start_over(self, emu: Emulator, clock: Any, tmp_path: Path) -> None:
        """With resume the earlier job is continued (nothing resent); without it the run starts over."""
        src = H.write_requests(tmp_path / "in.jsonl", 3)
        out = tmp_path / "out.jsonl"
        with H.executor(emu, clock) as ex:
            run_file(src, out, executor=ex)
            run_file(src, out, executor=ex, resume=True)
            assert len(emu.batches.ids()) == 1
            run_file(src, out, executor=ex)
        assert len(emu.batches.ids()) == 2
        H.check_matches_input(H.exchanges(out), [(str(src), src)])


def test_helpers_see_duplicates(emu: Emulator, clock: Any, tmp_path: Path) -> None:
    """The duplicate checks used above do fail when a line is really submitted twice."""
    src = H.write_requests(tmp_path / "in.jsonl", 2)
    with H.executor(emu, clock) as ex:
        ex.submit([src], job(tmp_path, "one.json"))
        state = orjson.loads((tmp_path / "one.json").read_bytes())
        os.remove(tmp_path / "one.json")
        ex.submit([src], job(tmp_path, "one.json"))
    run2 = orjson.loads((tmp_path / "one.json").read_bytes())["run"]
    assert state["run"] != run2  # a new job: new ids, so only the line count shows the repeat
    assert set(H.submitted_lines(emu).values()) == {2}

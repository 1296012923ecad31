"""Tests for ``convo batch submit|status|results|cancel`` and ``convo run --via batch`` (convo.cli.batch)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from convo.cli import main
from convo.testing import Emulator
from tests import _helpers_batch as H

FAST = ["--poll-interval", "0.05", "--max-poll-interval", "0.1", "--settle", "0.5"]


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    e = Emulator(batch_delay=0.2, api_keys=[H.KEY])
    url = e.start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", H.KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestSteps:
    def test_submit_status_results(self, emu: Emulator, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The three steps in a row: summaries on stderr, a status table, records in input order."""
        H.write_lines(here / "in.jsonl", [H.request(f"q{i}") for i in range(7)] + ["not json"])
        assert main(["batch", "submit", "in.jsonl", "-o", "job.json", "--max-requests", "3", *FAST]) == 0
        err = capsys.readouterr().err
        assert "8 lines in = 7 submitted + 1 rejected (not requests); 3 batches" in err
        assert "next: convo batch results job.json -o OUT" in err
        assert main(["batch", "status", "job.json"]) == 0
        table = capsys.readouterr().out
        assert table.splitlines()[0].split() == ["batch", "round", "requests", "state", "id", "processing",
                                                 "succeeded", "errored", "canceled", "expired"]
        assert "8 lines read, 1 rejected before submission" in table
        assert main(["batch", "results", "job.json", "-o", "out.jsonl", *FAST]) == 0
        err = capsys.readouterr().err
        assert "8 lines in = 7 succeeded + 0 failed (API errors) + 1 rejected (not requests)" in err
        assert [r.response.text for r in H.exchanges(here / "out.jsonl")] == [f"echo: q{i}" for i in range(7)]
        (rej,) = H.read_jsonl(here / "out.rejects.jsonl")
        assert (rej["file"], rej["line"], rej["code"]) == ("in.jsonl", 8, "json")

    def test_status_json(self, emu: Emulator, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """status --json prints one JSON object with the batches and the added-up counts."""
        H.write_requests(here / "in.jsonl", 4)
        main(["batch", "submit", "in.jsonl", "-o", "job.json", "-q"])
        capsys.readouterr()
        assert main(["batch", "status", "job.json", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["lines"] == 4 and data["submitted"] and not data["done"]
        assert data["batches"][0]["requests"] == 4 and data["batches"][0]["batch_id"].startswith("msgbatch_")
        assert data["counts"]["processing"] + data["counts"]["succeeded"] == 4

    def test_results_without_waiting(self, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """--no-wait exits 3 while a batch processes, 0 once it has ended."""
        clock = H.FakeTime()
        with Emulator(batch_delay=30.0, clock=clock) as url:
            monkeypatch.setenv("ANTHROPIC_API_KEY", H.KEY)
            monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
            H.write_requests(here / "in.jsonl", 2)
            main(["batch", "submit", "in.jsonl", "-o", "job.json", "-q"])
            assert main(["batch", "results", "job.json", "-o", "out.jsonl", "--no-wait", "-q"]) == 3
            assert not (here / "out.jsonl").exists()
            clock.sleep(31)
            assert main(["batch", "results", "job.json", "-o", "out.jsonl", "--no-wait", "-q"]) == 0
        assert len(H.exchanges(here / "out.jsonl")) == 2

    def test_failures_exit_1_and_retry_errored(self, emu: Emulator, here: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """An errored line is counted failed (exit 0 as convo run: others succeeded; exit 1 with
        --fail-on-error); --retry-errored resubmits it and exits 0 even with --fail-on-error."""
        emu.batch_errors = lambda cid, params: None if cid.endswith("-r1") else (
            "overloaded_error" if cid.endswith("-2") else None)
        H.write_requests(here / "in.jsonl", 3)
        main(["batch", "submit", "in.jsonl", "-o", "job.json", "-q"])
        assert main(["batch", "results", "job.json", "-o", "out.jsonl", *FAST]) == 0
        err = capsys.readouterr().err
        assert "overloaded_error x 1" in err and "2 succeeded + 1 failed (API errors)" in err
        assert main(["batch", "results", "job.json", "-o", "out.jsonl", "--fail-on-error", *FAST]) == 1
        capsys.readouterr()
        assert main(["batch", "results", "job.json", "-o", "out.jsonl", "--retry-errored", "--fail-on-error",
                     *FAST]) == 0
        assert "retries: 1" in capsys.readouterr().err
        H.check_matches_input(H.exchanges(here / "out.jsonl"), [("in.jsonl", here / "in.jsonl")])

    def test_cancel(self, emu: Emulator, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """cancel reports the batches canceling; results then reports every line canceled."""
        emu.batches.delay = 30.0
        H.write_requests(here / "in.jsonl", 3)
        main(["batch", "submit", "in.jsonl", "-o", "job.json", "-q"])
        assert main(["batch", "cancel", "job.json"]) == 0
        assert "1 batches canceling" in capsys.readouterr().err
        assert main(["batch", "results", "job.json", "-o", "out.jsonl", *FAST]) == 1  # none succeeded
        assert {r.error["error"]["type"] for r in H.exchanges(here / "out.jsonl")} == {"canceled"}

    def test_stdin(self, emu: Emulator, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """'-' reads stdin once, keeps a copy beside the state, and joins the results to it."""
        data = b"".join(json.dumps(H.request(f"s{i}")).encode() + b"\n" for i in range(3))
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert main(["batch", "submit", "-", "-o", "job.json", "-q"]) == 0
        assert (here / "job.json.d" / "stdin.jsonl").read_bytes() == data
        assert main(["batch", "results", "job.json", "-o", "out.jsonl", "-q", *FAST]) == 0
        records = H.exchanges(here / "out.jsonl")
        assert [r.id for r in records] == ["<stdin>:1", "<stdin>:2", "<stdin>:3"]


class TestErrors:
    def test_no_step_shows_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`convo batch` alone prints its help and exits 2."""
        assert main(["batch"]) == 2
        assert "submit" in capsys.readouterr().err

    def test_unknown_state(self, emu: Emulator, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A state file that does not exist is a usage error that says so."""
        assert main(["batch", "results", "nope.json", "-o", "out.jsonl"]) == 2
        assert "no batch job in" in capsys.readouterr().err

    def test_api_failure_is_one_line(self, emu: Emulator, here: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
        """A key the API refuses exits 1 with the API's message, no traceback, and nothing sent."""
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-wrong")
        H.write_requests(here / "in.jsonl", 1)
        assert main(["batch", "submit", "in.jsonl", "-o", "job.json"]) == 1
        err = capsys.readouterr().err
        assert "the API failed: 401 authentication_error" in err and "Traceback" not in err
        assert emu.batches.ids() == []
        monkeypatch.setenv("ANTHROPIC_API_KEY", H.KEY)
        assert main(["batch", "submit", "in.jsonl", "-o", "job.json", "-q"]) == 0  # resumes
        assert len(emu.batches.ids()) == 1

    def test_directory_without_jsonl(self, emu: Emulator, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A directory with no *.jsonl files is a usage error, and no job is started."""
        (here / "empty").mkdir()
        assert main(["batch", "submit", "empty", "-o", "job.json"]) == 2
        assert "no *.jsonl or *.jsonl.gz files in empty" in capsys.readouterr().err
        assert not (here / "job.json").exists() and not (here / "job.json.d").exists()

    def test_no_key(self, here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        """Without ANTHROPIC_API_KEY the command says how to give one and exits 2."""
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        H.write_requests(here / "in.jsonl", 1)
        assert main(["batch", "submit", "in.jsonl", "-o", "job.json"]) == 2
        assert "ANTHROPIC_API_KEY" in capsys.readouterr().err

    def test_other_base_url_is_refused(self, emu: Emulator, here: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
        """A job cannot be continued against another server; without the env var the job's own URL
        is not used (a state file never chooses where the key goes) until --base-url confirms it."""
        H.write_requests(here / "in.jsonl", 1)
        main(["batch", "submit", "in.jsonl", "-o", "job.json", "-q"])
        assert main(["batch", "status", "job.json", "--base-url", "http://127.0.0.1:9"]) == 2
        assert "was submitted to" in capsys.readouterr().err
        monkeypatch.delenv("ANTHROPIC_BASE_URL")
        assert main(["batch", "status", "job.json"]) == 2
        assert f"confirm it with --base-url {emu.base_url}" in capsys.readouterr().err
        assert main(["batch", "status", "job.json", "--base-url", str(emu.base_url)]) == 0


class TestRunVia:
    def test_run_via_batch(self, emu: Emulator, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`convo run --via batch` writes the same kind of records through one batch, resumably."""
        emu.batches.delay = 0.0  # `convo run` polls every 10 s at first: let the batch end at once
        H.write_lines(here / "in.jsonl", [H.request(f"v{i}") for i in range(4)] + ["{}"])
        assert main(["run", "in.jsonl", "-o", "out.jsonl", "--via", "batch"]) == 0
        assert "5 lines in = 4 succeeded + 0 failed (API errors) + 1 rejected (not requests)" in capsys.readouterr().err
        records = H.exchanges(here / "out.jsonl")
        assert [(r.id, r.response.text) for r in records] == [(f"in.jsonl:{i + 1}", f"echo: v{i}") for i in range(4)]
        assert len(emu.batches.ids()) == 1 and (here / "out.jsonl.batch.json").exists()
        (rej,) = H.read_jsonl(here / "out.rejects.jsonl")
        assert rej["line"] == 5
        assert main(["run", "in.jsonl", "-o", "out.jsonl", "--via", "batch", "--resume", "-q"]) == 0
        assert len(emu.batches.ids()) == 1  # resumed: nothing sent again

    def test_run_via_batch_polls_at_the_given_interval(self, emu: Emulator, here: Path) -> None:
        """--poll-interval sets the first wait: a batch that takes 0.3 s is seen done within
        about a second (the default first wait is 10 s)."""
        import time

        emu.batches.delay = 0.3
        H.write_lines(here / "in.jsonl", [H.request("p0"), H.request("p1")])
        start = time.perf_counter()
        assert main(["run", "in.jsonl", "-o", "out.jsonl", "--via", "batch", "-q",
                     "--poll-interval", "0.1", "--max-poll-interval", "0.2"]) == 0
        assert time.perf_counter() - start < 5
        assert [r.response.text for r in H.exchanges(here / "out.jsonl")] == ["echo: p0", "echo: p1"]
        assert main(["run", "in.jsonl", "-o", "o2.jsonl", "--via", "batch", "--poll-interval", "x"]) == 2

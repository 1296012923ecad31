"""``convo run`` and ``convo serve``: wired to the executor's run_file and the local emulator."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

import convo
from convo import Conversation
from convo.cli import main
from convo.testing import Emulator

CONVO = [sys.executable, "-m", "convo.cli"]


def requests_file(path: Path, n: int) -> Path:
    lines = [convo.dumps(Conversation(model="claude-opus-4-8", max_tokens=32).user(f"question {i}")) for i in range(n)]
    path.write_bytes(b"\n".join(lines) + b"\n{not a request\n")
    return path


class TestRun:
    def test_writes_one_exchange_per_line_in_order(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each request line gets an exchange record, in input order; the bad line is rejected."""
        src = requests_file(tmp_path / "in.jsonl", 12)
        out = tmp_path / "out.jsonl"
        with Emulator() as url:
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-key")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
            code = main(["run", str(src), "-o", str(out), "--concurrency", "4"])
        err = capsys.readouterr().err
        assert code == 0
        records = [orjson.loads(x) for x in out.read_bytes().splitlines()]
        assert [r["id"] for r in records] == [f"{src}:{i}" for i in range(1, 13)]
        assert all("question" in r["request"]["messages"][0]["content"] for r in records)
        assert all(r["response"]["type"] == "message" for r in records)
        assert "13 lines in = 12 succeeded + 0 failed (API errors) + 1 rejected (not requests)" in err
        assert "sk-test-key" not in err

    def test_resume_log_shows_no_repeat(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The emulator's log proves the resumed run sent no request again."""
        src = requests_file(tmp_path / "in.jsonl", 4)
        out = tmp_path / "out.jsonl"
        emu = Emulator()
        with emu as url:
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
            main(["run", str(src), "-o", str(out), "-q"])
            first = len(emu.log)
            assert main(["run", str(src), "-o", str(out), "-q", "--resume"]) == 0
            assert len(emu.log) == first == 4
        assert len(out.read_bytes().splitlines()) == 4

    def test_failures_exit_1(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        """A line against the request rules is rejected unsent (as --via batch does), not given an
        error record; lines came in and none succeeded: the status is 1."""
        bad = Conversation(model="claude-opus-4-8", max_tokens=32).user("Hi").assistant("Sure")  # prefill
        src = tmp_path / "in.jsonl"
        src.write_bytes(convo.dumps(bad) + b"\n")
        out = tmp_path / "out.jsonl"
        with Emulator() as url:
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
            code = main(["run", str(src), "-o", str(out)])
        assert code == 1
        assert out.read_bytes() == b""
        (rej,) = [orjson.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_bytes().splitlines()]
        assert rej["code"] == "rule" and rej["line"] == 1
        err = capsys.readouterr().err
        assert "1 lines in = 0 succeeded + 0 failed (API errors) + 1 rejected (not requests)" in err
        assert "nothing succeeded" in err

    def test_missing_key_is_bad_usage(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        """Without ANTHROPIC_API_KEY the command says so and exits 2."""
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        src = requests_file(tmp_path / "in.jsonl", 1)
        assert main(["run", str(src), "-o", str(tmp_path / "o.jsonl")]) == 2
        assert "ANTHROPIC_API_KEY" in capsys.readouterr().err


class TestServe:
    def test_serves_until_interrupted(self) -> None:
        """`convo serve --port 0` prints its URL, answers the Messages API, and stops on Ctrl-C."""
        p = subprocess.Popen([*CONVO, "serve", "--port", "0"], stderr=subprocess.PIPE, text=True)
        try:
            assert p.stderr is not None
            line = p.stderr.readline()
            assert "listening on http://127.0.0.1:" in line
            url = line.split("listening on ")[1].split()[0]
            body = orjson.loads(convo.dumps(Conversation(model="claude-opus-4-8", max_tokens=16).user("ping")))
            r = httpx.post(f"{url}/v1/messages", json=body, timeout=10,
                           headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
            assert r.status_code == 200
            assert r.json()["type"] == "message"
        finally:
            p.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 20
            while p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if p.poll() is None:
                p.kill()
            p.communicate()  # reaps it and closes the stderr pipe
        assert p.returncode == 0

    def test_loopback_only(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The emulator refuses to listen beyond the loopback interface."""
        assert main(["serve", "--host", "0.0.0.0"]) == 2  # noqa: S104 - the point: it is refused
        assert "loopback" in capsys.readouterr().err


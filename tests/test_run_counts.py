"""``convo run`` counts one input the same way by either route (issue 13: one vocabulary, one
exit rule): ``N lines in = S succeeded + F failed (API errors) + R rejected (not requests)``.

Real processes of the command against the emulator on 127.0.0.1, ``--via http`` and
``--via batch``, on the same input of request lines and lines that are not requests (not JSON,
not a request, against the request rules).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from convo import model as m
from convo.errors import error_for_status
from convo.testing import Emulator

KEY = "sk-ant-api03-RUNCOUNTS-0123456789abcdef"
MODEL = "claude-sonnet-4-5"

GOOD = [{"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": f"hello {i}"}]}
        for i in range(6)]
NOT_REQUESTS = [
    b"not json",
    b"[1, 2]",
    b'"a string"',
    b'{"foo": 1}',  # no request fields
    b'{"model": "m"}',  # no messages, no max_tokens: against the request rules
    b'{"messages": []}',
    orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": "no max_tokens"}]}),
    orjson.dumps({"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": [{"type": []}]}]}),
    b'{"role": "user", "content": "a message, not a request"}',
]
# a request the API answers with an error (a 400 from the emulator's handler, an errored result in a batch)
API_ERROR = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "please fail"}]}


def _handler(conv: m.Conversation) -> str:
    if "please fail" in str(conv.messages[0].content):
        raise error_for_status(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                "message": "refused on purpose"}})
    return "ok"


def _batch_errors(custom_id: str, params: Any) -> str | None:
    return "invalid_request_error" if "please fail" in orjson.dumps(params).decode() else None


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    e = Emulator(handler=_handler, batch_errors=_batch_errors, batch_delay=0.05)
    e.start()
    try:
        yield e
    finally:
        e.stop()


def _input(path: Path, with_api_error: bool) -> None:
    lines = [orjson.dumps(g) for g in GOOD] + NOT_REQUESTS
    if with_api_error:
        lines.append(orjson.dumps(API_ERROR))
    # interleaved, so that rejects fall between requests
    mixed = [x for pair in zip(lines[::2], lines[1::2], strict=False) for x in pair]
    mixed += lines[len(mixed):]
    path.write_bytes(b"".join(x + b"\n" for x in mixed))


def _run(cwd: Path, emu: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": str(emu.base_url)}
    return subprocess.run(
        [sys.executable, "-m", "convo.cli", "run", "in.jsonl", "-o", "out.jsonl", "--poll-interval", "0.02",
         "--max-poll-interval", "0.05", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


SUMMARY = re.compile(r"convo run: (\d+) lines in = (\d+) succeeded \+ (\d+) failed \(API errors\) "
                     r"\+ (\d+) rejected \(not requests\)")


def _counts(stderr: str) -> tuple[int, ...]:
    found = SUMMARY.search(stderr)
    assert found, stderr
    return tuple(int(x) for x in found.groups())


def _records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


class TestOneVocabulary:
    @pytest.mark.parametrize("api_error", [False, True])
    def test_both_routes_count_the_same(self, emu: Emulator, tmp_path: Path, api_error: bool) -> None:
        """The same input by --via http and --via batch: the same summary, the same exit status,
        the same records and the same rejects (file, line, code)."""
        seen = {}
        for via in ("http", "batch"):
            d = tmp_path / via
            d.mkdir()
            _input(d / "in.jsonl", api_error)
            r = _run(d, emu, "--via", via)
            n_in = len(GOOD) + len(NOT_REQUESTS) + api_error
            assert _counts(r.stderr) == (n_in, len(GOOD), int(api_error), len(NOT_REQUESTS)), (via, r.stderr)
            assert r.returncode == 0, (via, r.stderr)
            recs = _records(d / "out.jsonl")
            rejects = _records(d / "out.rejects.jsonl")
            assert len(recs) + len(rejects) == n_in
            assert sum("response" in x for x in recs) == len(GOOD)
            assert sum("error" in x for x in recs) == int(api_error)
            seen[via] = (r.returncode, [x["id"] for x in recs],
                         [(x["file"], x["line"], x["code"]) for x in rejects])
        assert seen["http"] == seen["batch"]

    @pytest.mark.parametrize("via", ["http", "batch"])
    def test_nothing_succeeded_exits_1(self, emu: Emulator, tmp_path: Path, via: str) -> None:
        """Lines came in and none succeeded (all rejected, or all API errors): exit 1, and the
        summary says why."""
        (tmp_path / "in.jsonl").write_bytes(b"".join(x + b"\n" for x in NOT_REQUESTS[:4]))
        r = _run(tmp_path, emu, "--via", via)
        assert r.returncode == 1, r.stderr
        assert _counts(r.stderr) == (4, 0, 0, 4)
        assert "nothing succeeded" in r.stderr
        (tmp_path / "in.jsonl").write_bytes(orjson.dumps(API_ERROR) + b"\n")
        r = _run(tmp_path, emu, "--via", via)
        assert r.returncode == 1, r.stderr
        assert _counts(r.stderr) == (1, 0, 1, 0)

    @pytest.mark.parametrize("via", ["http", "batch"])
    def test_fail_on_reject(self, emu: Emulator, tmp_path: Path, via: str) -> None:
        """--fail-on-reject: any rejected line makes the exit status 1, the records still written."""
        _input(tmp_path / "in.jsonl", False)
        r = _run(tmp_path, emu, "--via", via, "--fail-on-reject")
        assert r.returncode == 1, r.stderr
        assert len(_records(tmp_path / "out.jsonl")) == len(GOOD)

    @pytest.mark.parametrize("via", ["http", "batch"])
    def test_fail_on_error(self, emu: Emulator, tmp_path: Path, via: str) -> None:
        """Some requests succeed and one gets an API error: exit 0, or 1 with --fail-on-error
        (for scripts that want any failure to count); the records are written either way."""
        _input(tmp_path / "in.jsonl", True)
        assert _run(tmp_path, emu, "--via", via).returncode == 0
        r = _run(tmp_path, emu, "--via", via, "--fail-on-error")
        assert r.returncode == 1, r.stderr
        assert _counts(r.stderr)[1:3] == (len(GOOD), 1)
        assert sum("error" in x for x in _records(tmp_path / "out.jsonl")) == 1

    def test_help_says_what_failed_and_rejected_mean(self) -> None:
        """`convo run --help` defines both words and gives the exit rule."""
        r = subprocess.run([sys.executable, "-m", "convo.cli", "run", "--help"], capture_output=True,
                           text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
        text = " ".join(r.stdout.split())
        assert "failed (API errors)" in text and "rejected (not requests)" in text
        assert "exit status" in text and "--fail-on-reject" in text

"""Shared helpers for the Message Batches tests: inputs, a fake clock, executors, log readers.

Loaded by path from tests/test_batch*.py (tests/ is not a package).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from convo import model as m
from convo.executor import BatchExecutor, RetryPolicy
from convo.testing import Emulator

KEY = "sk-ant-api03-BATCHKEY-do-not-leak-0123456789abcdef"
MODEL = "claude-sonnet-4-5"  # takes both API versions; no prefill restriction problems here
FAST = RetryPolicy(base=0.01, cap=0.05)
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # facts §6.4


class FakeTime:
    """One clock for the emulator's batches and the executor: sleeping moves it forward."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def request(text: str, **params: Any) -> dict[str, Any]:
    """A request line's JSON: one user turn asking *text*."""
    return {
        "model": params.pop("model", MODEL),
        "max_tokens": params.pop("max_tokens", 32),
        "messages": params.pop("messages", [{"role": "user", "content": text}]),
        **params,
    }


def write_lines(path: Path, lines: Iterable[Any]) -> Path:
    """Write JSON values (or raw bytes / str lines) one per line."""
    with open(path, "wb") as f:
        for line in lines:
            if isinstance(line, bytes):
                f.write(line + b"\n")
            elif isinstance(line, str):
                f.write(line.encode() + b"\n")
            else:
                f.write(orjson.dumps(line) + b"\n")
    return path


def write_requests(path: Path, n: int, *, start: int = 0, prefix: str = "question") -> Path:
    """*n* distinct valid request lines: ``{prefix} {i}``."""
    return write_lines(path, (request(f"{prefix} {i}") for i in range(start, start + n)))


def read_jsonl(path: str | os.PathLike[str]) -> list[Any]:
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def executor(emu: Emulator, clock: FakeTime | None = None, **kwargs: Any) -> BatchExecutor:
    """A BatchExecutor on *emu*; with *clock*, every wait is on the fake clock (instant)."""
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("poll_interval", 1.0)
    kwargs.setdefault("max_poll_interval", 5.0)
    kwargs.setdefault("settle", 3.0)
    if clock is not None:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sleep", clock.sleep)
    return BatchExecutor(KEY, base_url=emu.base_url, **kwargs)


def creates(emu: Emulator) -> list[Any]:
    """The logged create calls (whatever they were answered)."""
    return emu.requests("/v1/messages/batches", "POST")


def submitted_ids(emu: Emulator) -> list[str]:
    """Every custom_id in every create body the emulator received, in order."""
    out: list[str] = []
    for r in creates(emu):
        if isinstance(r.body, dict):
            out.extend(item["custom_id"] for item in r.body.get("requests", ()))
    return out


def submitted_lines(emu: Emulator) -> Counter[tuple[int, int]]:
    """How often each (file, line) went into a batch the emulator made, over every attempt.

    Read from the emulator's own count of submitted requests (``batch_requests_seen``), so a
    line sent again under another custom_id (a resubmission's ``-rN``) counts twice here.
    """
    from convo.executor._batch import parse_custom_id

    out: Counter[tuple[int, int]] = Counter()
    for (cid, _digest), n in emu.batch_requests_seen.items():
        parsed = parse_custom_id(cid)
        if parsed is not None:  # other people's requests are not lines of ours
            out[(parsed[1], parsed[2])] += n
    return out


def results_fetches(emu: Emulator) -> Counter[str]:
    """How often the results of each batch were asked for."""
    out: Counter[str] = Counter()
    for r in emu.log:
        if r.method == "GET" and r.path.endswith("/results"):
            out[r.path.split("/")[4]] += 1
    return out


def exchanges(path: str | os.PathLike[str]) -> list[m.Exchange]:
    """The exchange records of an output file, decoded with convo's codec."""
    from convo.codec.jsonl import read_records

    out = []
    for rec in read_records(os.fspath(path), kind="exchange"):
        assert not isinstance(rec, Exception), rec
        assert isinstance(rec.value, m.Exchange)
        out.append(rec.value)
    return out


def check_matches_input(records: list[m.Exchange], inputs: list[tuple[str, Path]]) -> None:
    """Each record is its input line's: same id (file:line), same request, the echo reply."""
    from convo import loads

    expected = []
    for name, path in inputs:
        with open(path, "rb") as f:
            for lineno, data in enumerate(f, 1):
                if data.strip():
                    expected.append((f"{name}:{lineno}", loads(data.rstrip(b"\n"))))
    assert [r.id for r in records] == [e[0] for e in expected]
    for rec, (_, conv) in zip(records, expected, strict=True):
        assert rec.request == conv
        assert isinstance(rec.response, m.Response), rec.error
        assert rec.response.text == "echo: " + conv.messages[-1].text

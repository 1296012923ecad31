"""One validation per request on ``run_file`` with an HTTP executor, and the executor's own
``anthropic-beta`` headers in its check.

``run_file`` rejects a line that breaks a request rule before it is sent (code ``rule``); the
HTTP executor then did the same check again on send (two full validations per request, ~38 µs
each on a short request). Now the executor takes the caller's clean verdict for that very value
(``rules_check(..., sending=True)``), and still checks everything else it is given. Real sockets:
the emulator on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import orjson
import pytest

import convo
from convo import rules
from convo.errors import ValidationError
from convo.executor import AsyncHttpExecutor, HttpExecutor, run_file
from convo.testing import Emulator

KEY = "sk-ant-api03-ONCE-0123456789abcdef0123"
MODEL = "claude-sonnet-4-5"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    e = Emulator()
    e.start()
    try:
        yield e
    finally:
        e.stop()


class _Counting:
    """Counts calls of rules.validate (the executors and run_file look it up per call)."""

    def __init__(self) -> None:
        self.calls = 0
        self._real = rules.validate

    def __call__(self, *a, **k):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self._real(*a, **k)


def _lines(n: int) -> list[bytes]:
    return [orjson.dumps({"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": f"hi {i}"}]})
            for i in range(n)]


@pytest.mark.parametrize("cls", [HttpExecutor, AsyncHttpExecutor])
def test_each_request_is_validated_once(emu, tmp_path: Path, cls):
    bad = orjson.dumps({"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "x"}],
                        "stop_sequence": ["END"]})  # a typo: rejected unsent, as code "rule"
    (tmp_path / "in.jsonl").write_bytes(b"\n".join([*_lines(5), bad, *_lines(2)]) + b"\n")
    counting = _Counting()
    ex = cls(api_key=KEY, base_url=str(emu.base_url))
    with mock.patch.object(rules, "validate", counting):
        summary = run_file(tmp_path / "in.jsonl", tmp_path / "out.jsonl", executor=ex, concurrency=3,
                           rejects=tmp_path / "rej.jsonl")
    if cls is HttpExecutor:
        ex.close()
    assert (summary.succeeded, summary.rejected) == (7, 1)
    assert counting.calls == 8  # one per line: 7 sent, 1 refused
    assert ex._prechecked == {}  # nothing left waiting
    rej = orjson.loads((tmp_path / "rej.jsonl").read_bytes())
    assert rej["code"] == "rule" and rej["path"] == "$.stop_sequence"


def test_a_value_not_checked_by_the_caller_is_still_checked(emu):
    ex = HttpExecutor(api_key=KEY, base_url=str(emu.base_url))
    try:
        ok = convo.loads(_lines(1)[0])
        assert ex.rules_check(ok).ok  # a check without sending=True leaves nothing behind
        assert ex._prechecked == {}
        typo = convo.loads(orjson.dumps({"model": MODEL, "max_tokens": 16, "stop_sequence": ["x"],
                                         "messages": [{"role": "user", "content": "hi"}]}))
        assert not ex.rules_check(typo, sending=True).ok  # a bad verdict is never remembered
        with pytest.raises(ValidationError):
            ex.execute(typo)
        # an equal value that is another object is checked again: the memo is by identity
        assert ex.rules_check(ok, sending=True).ok
        twin = convo.loads(_lines(1)[0])
        counting = _Counting()
        with mock.patch.object(rules, "validate", counting):
            ex.execute(twin)
            assert counting.calls == 1
            ex.execute(ok)  # the one the caller checked: not checked twice
            assert counting.calls == 1
            ex.execute(ok)  # once only: the next send of it is checked
            assert counting.calls == 2
    finally:
        ex.close()


def test_the_executors_betas_are_in_its_check(emu):
    """A beta-only key is fine when the executor sends its header (it was refused before: the
    check ignored the executor's betas)."""
    conv = convo.loads(orjson.dumps({"model": MODEL, "max_tokens": 16, "context_management": {"edits": []},
                                     "messages": [{"role": "user", "content": "hi"}]}))
    plain = HttpExecutor(api_key=KEY, base_url=str(emu.base_url))
    beta = HttpExecutor(api_key=KEY, base_url=str(emu.base_url), betas=("context-management-2025-06-27",))
    try:
        with pytest.raises(ValidationError) as e:
            plain.execute(conv)
        assert "schema.beta-only" in str(e.value)
        assert beta.rules_check(conv).ok
        assert beta.execute(conv).stop_reason == "end_turn"
    finally:
        plain.close()
        beta.close()

"""Shared helpers for the emulator tests: spec schemas, SSE checks, a fake clock, headers, `convo serve`.

Loaded by path from tests/test_emulator*.py (tests/ is not a package).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from typing import Any

from convo.codec import dumps_response
from convo.executor import assemble as sse_assemble
from convo.executor import iter_sse
from tests._spec_strategies import load_spec
from tests._spec_strategies import validator as spec_validator

KEY = "sk-emulator-test-key-0123456789"
H26 = {"authorization": f"Bearer {KEY}", "anthropic-version": "2026-10-21"}
H23 = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}

_SDK_CLIENTS: list[Any] = []  # closed after each test (tests/conftest.py), so no socket is left open


def sdk(emu: Any, *, api_key: str = KEY, **kw: Any) -> Any:
    """An official SDK client (``anthropic.Anthropic``) on the running emulator *emu*, closed
    when the test ends."""
    import anthropic

    client = anthropic.Anthropic(api_key=api_key, base_url=emu.base_url, **kw)
    _SDK_CLIENTS.append(client)
    return client


def close_sdk_clients() -> None:
    """Close every client :func:`sdk` opened."""
    while _SDK_CLIENTS:
        _SDK_CLIENTS.pop().close()


def request_body(text: str = "Hello, Claude", **params: Any) -> dict[str, Any]:
    """A minimal valid request body (a model that takes both API versions)."""
    return {
        "model": params.pop("model", "claude-sonnet-4-5"),
        "max_tokens": params.pop("max_tokens", 256),
        "messages": params.pop("messages", [{"role": "user", "content": text}]),
        **params,
    }


# --------------------------------------------------------------------------- spec schemas


@cache
def validator(name: str, *, lenient: bool = True) -> Any:
    """A validator for ``components.schemas[name]``; lenient: nullable fields are optional."""
    return spec_validator(load_spec(), name, lenient=lenient)


def schema_errors(instance: Any, name: str, *, lenient: bool = True) -> list[str]:
    """Every schema error of *instance* against the spec's *name* (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(name, lenient=lenient).iter_errors(instance)]


# --------------------------------------------------------------------------- SSE


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, parsed data) for each frame of an SSE body, decoded by convo's SSE decoder.

    Checks the emulator's framing too: only ``event:`` and ``data:`` lines, every frame named,
    with data, and its name repeated as the data's ``type``.
    """
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    bad = [line for line in lines if not line.startswith(("event: ", "data: "))]
    assert not bad, f"unexpected SSE lines {bad[:3]!r}"
    events = []
    for sse in iter_sse([text.encode()]):
        assert sse.event is not None, f"a frame without an event line: {sse!r}"
        payload = json.loads(sse.data)
        assert payload["type"] == sse.event, f"event {sse.event!r} carries type {payload['type']!r}"
        events.append((sse.event, payload))
    named = sum(line.startswith("event: ") for line in lines)
    assert named == len(events), f"{named - len(events)} frame(s) without data"
    return events


def assemble(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The message a complete stream describes, as plain JSON (folded by convo's StreamAssembler).

    Also checks that blocks start in index order, one after the other.
    """
    starts = [ev["index"] for name, ev in events if name == "content_block_start"]
    assert starts == list(range(len(starts))), f"blocks start out of order: {starts}"
    data: dict[str, Any] = json.loads(dumps_response(sse_assemble(ev for _, ev in events)))
    return data


class FakeClock:
    """A clock tests move by hand (for batch timing)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@contextlib.contextmanager
def serving(*options: str) -> Iterator[str]:
    """`convo serve --port 0 OPTIONS` in a subprocess: its URL, until the block ends (then Ctrl-C)."""
    p = subprocess.Popen([sys.executable, "-m", "convo.cli", "serve", "--port", "0", "--api-key", KEY, *options],
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None
        line = p.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line + p.stderr.read()
        yield line.split("listening on ")[1].split()[0]
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
    assert p.returncode == 0

"""Shared helpers for the executor tests: a fake clock, request builders, recorded material.

Loaded by path (tests/ is not a package): ``H = load_helpers()`` in each test module, through
the tiny loader each module carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from convo import model as m

SHARED = Path(__file__).parents[1].parent / "shared"
REALWORLD = SHARED / "realworld" / "anthropic"
SSE_FILES = sorted(REALWORLD.glob("*/*.sse"))

KEY = "sk-ant-api03-TESTKEY-do-not-leak-0123456789abcdef"
MODEL = "claude-sonnet-4-5"  # a model that takes both API versions and prefill-free requests


def conv(text: str = "Hello, Claude", *, model: str = MODEL, max_tokens: int = 64, **params: Any) -> m.Conversation:
    """A small valid request: one user turn."""
    return m.Conversation(
        model=model, max_tokens=max_tokens, messages=[m.Message("user", text)], **params
    )


def response_json(text: str = "Hi!", *, id: str = "msg_test", stop_reason: str = "end_turn") -> dict[str, Any]:
    """A Messages API response body."""
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 3},
    }


def error_json(kind: str, message: str = "boom") -> dict[str, Any]:
    """A Messages API error body."""
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_body"}


class FakeClock:
    """Time that moves only when slept: sleep, async sleep, monotonic and wall clocks, random."""

    def __init__(self, start: float = 1_000.0, random_value: float = 0.5) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.random_value = random_value

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def random(self) -> float:
        return self.random_value

    def policy(self, **kwargs: Any) -> Any:
        from convo.executor import RetryPolicy

        return RetryPolicy(
            sleep=self.sleep,
            async_sleep=self.async_sleep,
            clock=self.monotonic,
            wall_clock=self.time,
            random=self.random,
            **kwargs,
        )


class Script:
    """An httpx MockTransport handler that answers from a list and records every request."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def bodies(self) -> list[Any]:
        return [orjson.loads(r.content) for r in self.requests]


def ok(body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else response_json(), headers=headers)


def status(code: int, kind: str = "api_error", **headers: str) -> httpx.Response:
    return httpx.Response(code, json=error_json(kind), headers={k.replace("_", "-"): v for k, v in headers.items()})


def sse(body: bytes | str, **headers: str) -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return httpx.Response(200, content=data, headers={"content-type": "text/event-stream", **headers})


def recorded_exchanges() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every recorded HTTP exchange (Python SDK recordings and Go cassettes), with its file name."""
    for folder in ("sdk-python-recordings", "sdk-go-cassettes"):
        for path in sorted((REALWORLD / folder).glob("*.json")):
            for i, ex in enumerate(json.loads(path.read_text())):
                yield f"{path.name}#{i}", ex


def recorded_responses() -> list[tuple[str, dict[str, Any]]]:
    """Every recorded 200 Message body (JSON, not streamed)."""
    out = [
        (name, ex["response"]["body"])
        for name, ex in recorded_exchanges()
        if ex["response"]["status_code"] == 200 and isinstance(ex["response"]["body"], dict)
    ]
    with open(REALWORLD / "sdk-python-runner-responses.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                out.append((f"runner-responses:{n}", json.loads(line)["response"]))
    return out


def recorded_streams() -> list[tuple[str, str]]:
    """Every recorded SSE body inside the HTTP recordings (not the .sse files)."""
    return [
        (name, ex["response"]["body"])
        for name, ex in recorded_exchanges()
        if isinstance(ex["response"]["body"], str)
    ]


def sdk_snapshot(events: list[Any]) -> dict[str, Any]:
    """The official SDK's (beta) accumulator run over decoded events: its final message as JSON."""
    from anthropic.lib.streaming._beta_messages import accumulate_event

    snap = None
    bufs: dict[int, bytes] = {}
    for ev in events:
        if ev.type == "ping":
            continue
        snap = accumulate_event(event=ev.data, current_snapshot=snap, json_bufs=bufs, request_headers={})
    assert snap is not None
    return snap.model_dump(mode="json")  # type: ignore[no-any-return]


def to_sse(events: list[Any], *, newline: str = "\n") -> bytes:
    """SSE bytes for stream events (``StreamEvent`` values), as the API frames them."""
    out = []
    for ev in events:
        out.append(f"event: {ev.event}{newline}data: {json.dumps(ev.data)}{newline}{newline}")
    return "".join(out).encode("utf-8")

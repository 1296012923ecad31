"""Test helpers for the codec: every real Messages API payload in shared/, and exact JSON equality."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from tests._spec_strategies import BETA_SPEC, GA_SPEC

SHARED = Path(__file__).parents[1].parent / "shared"
ANTHROPIC = SHARED / "realworld" / "anthropic"
GUIDE = SHARED / "reference" / "guide-examples.jsonl"

Kind = Literal["request", "count_tokens", "batch_create", "response", "error"]


@dataclass(frozen=True)
class Payload:
    """One JSON body from the recorded material: where it came from and what it is."""

    id: str
    kind: Kind
    beta: bool
    body: Any
    exchange: int | None = None  # index into exchanges() when it came from a recorded exchange


def exact(data: bytes | str) -> Any:
    """Parse JSON with the standard library (integers of any size stay exact)."""
    return json.loads(data)


def _endpoint_kind(endpoint: str) -> Kind:
    if "count_tokens" in endpoint:
        return "count_tokens"
    if "batches" in endpoint:
        return "batch_create"
    return "request"


@cache
def exchanges() -> tuple[tuple[str, bool, Any, Any, int], ...]:
    """(source id, beta, request body, response body, HTTP status) of every recorded exchange."""
    out: list[tuple[str, bool, Any, Any, int]] = []
    for path in sorted(ANTHROPIC.glob("sdk-*/*.json")):
        with open(path, encoding="utf-8") as f:
            items = json.load(f)
        for i, x in enumerate(items):
            if "request" in x:
                req, resp = x["request"]["body"], x["response"]["body"]
                status, url = x["response"]["status_code"], x["request"]["url"]
            else:  # nock
                req, resp, status, url = x["body"], x["response"], x["status"], x["path"]
            out.append((f"{path.parent.name}/{path.name}#{i}", "beta=true" in url, req, resp, status))
    return tuple(out)


@cache
def payloads() -> tuple[Payload, ...]:
    """Every request and response body in realworld/anthropic and the guide examples."""
    out: list[Payload] = []
    for name in ("cookbook-requests.jsonl", "sdk-python-generated-params.jsonl"):
        with open(ANTHROPIC / name, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                d = json.loads(line)
                endpoint = d.get("endpoint", "POST /v1/messages")
                out.append(Payload(f"{name}:{n}", _endpoint_kind(endpoint), "beta=true" in endpoint,
                                   d["body"]))
    with open(ANTHROPIC / "sdk-python-runner-responses.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            out.append(Payload(f"sdk-python-runner-responses.jsonl:{n}", "response", True,
                               json.loads(line)["response"]))
    for i, (src, beta, req, resp, _status) in enumerate(exchanges()):
        out.append(Payload(f"{src}:request", "request", beta, req, i))
        if isinstance(resp, dict):  # a string body is a raw SSE stream: the executor's to test
            kind: Kind = "response" if resp.get("type") == "message" else "error"
            out.append(Payload(f"{src}:response", kind, beta, resp, i))
    with open(GUIDE, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            d = json.loads(line)
            out.append(Payload(f"guide-examples.jsonl:{n}:request", "request", False, d["request"]))
            if d["response"] is not None:
                out.append(Payload(f"guide-examples.jsonl:{n}:response", "response", False,
                                   d["response"]))
    return tuple(out)


def of_kind(*kinds: Kind) -> list[Payload]:
    """The payloads of the given kinds."""
    return [p for p in payloads() if p.kind in kinds]


_SCHEMA = {
    "request": "CreateMessageParams",
    "count_tokens": "CountMessageTokensParams",
    "batch_create": "CreateMessageBatchParams",
    "response": "Message",
    "error": "ErrorResponse",
}


def schema_for(p: Payload) -> tuple[str, str, bool]:
    """(spec file, component, lenient) that a payload is checked against."""
    name = _SCHEMA[p.kind]
    lenient = p.kind in ("response", "error")
    return (BETA_SPEC, f"Beta{name}", lenient) if p.beta else (GA_SPEC, name, lenient)

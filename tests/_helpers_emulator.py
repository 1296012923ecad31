"""Shared helpers for the emulator tests: spec schemas, an SSE parser, a fake clock, headers.

Loaded by path from tests/test_emulator*.py (tests/ is not a package).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SHARED = Path(__file__).parents[1].parent / "shared"
SPEC_PATH = SHARED / "spec" / "anthropic-openapi-messages.json"

KEY = "sk-emulator-test-key-0123456789"
H26 = {"authorization": f"Bearer {KEY}", "anthropic-version": "2026-10-21"}
H23 = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


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
def _spec() -> dict[str, Any]:
    with open(SPEC_PATH, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _accepts_null(schema: Any, schemas: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        return name not in seen and _accepts_null(schemas[name], schemas, seen | {name})
    t = schema.get("type")
    if t == "null" or (isinstance(t, list) and "null" in t):
        return True
    if schema.get("nullable") is True or ("const" in schema and schema["const"] is None):
        return True
    return any(_accepts_null(s, schemas, seen) for key in ("anyOf", "oneOf")
               for s in schema.get(key, ()))


def _relax(node: Any, schemas: dict[str, Any]) -> None:
    """Drop from ``required`` every property whose schema accepts null (spec/SOURCE.md)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(node.get("required"), list):
            node["required"] = [r for r in node["required"]
                                if not _accepts_null(props.get(r), schemas)]
        for value in node.values():
            _relax(value, schemas)
    elif isinstance(node, list):
        for value in node:
            _relax(value, schemas)


@cache
def _document(lenient: bool) -> dict[str, Any]:
    doc = copy.deepcopy(_spec())
    if lenient:
        _relax(doc["components"], doc["components"]["schemas"])
    return doc


@cache
def validator(name: str, *, lenient: bool = True) -> jsonschema.protocols.Validator:
    """A validator for ``components.schemas[name]``; lenient: nullable fields are optional."""
    root = dict(_document(lenient))
    root["$ref"] = f"#/components/schemas/{name}"
    cls = jsonschema.Draft202012Validator
    return cls(root)  # type: ignore[no-any-return]


def schema_errors(instance: Any, name: str, *, lenient: bool = True) -> list[str]:
    """Every schema error of *instance* against the spec's *name* (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(name, lenient=lenient).iter_errors(instance)]


# --------------------------------------------------------------------------- SSE


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, parsed data) for each frame of an SSE body; checks the framing as it goes."""
    events = []
    for frame in text.replace("\r\n", "\n").split("\n\n"):
        if not frame.strip():
            continue
        name, data = None, []
        for line in frame.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        assert name is not None, f"a frame without an event line: {frame!r}"
        payload = json.loads("\n".join(data))
        assert payload["type"] == name, f"event {name!r} carries type {payload['type']!r}"
        events.append((name, payload))
    return events


def assemble(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The message a stream describes (a tiny accumulator, independent of convo's)."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for name, ev in events:
        if name == "message_start":
            message = copy.deepcopy(ev["message"])
        elif name == "content_block_start":
            assert ev["index"] == len(message["content"])
            message["content"].append(copy.deepcopy(ev["content_block"]))
        elif name == "content_block_delta":
            block, delta = message["content"][ev["index"]], ev["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[ev["index"]] = partial.get(ev["index"], "") + delta["partial_json"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "citations_delta":
                block["citations"].append(delta["citation"])
        elif name == "content_block_stop":
            if ev["index"] in partial:
                message["content"][ev["index"]]["input"] = json.loads(partial.pop(ev["index"]))
        elif name == "message_delta":
            message.update(ev["delta"])
            message["usage"].update(ev["usage"])
    return message


class FakeClock:
    """A clock tests move by hand (for batch timing)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

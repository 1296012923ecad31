"""Small pieces of the API's wire format the emulator's parts share: errors, paths, times, pages.

Layer: testing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

__all__ = [
    "ApiError",
    "dotted",
    "error_body",
    "error_json",
    "new_request_id",
    "paginate",
    "rfc3339",
]

T = TypeVar("T")


class ApiError(Exception):
    """An error answer: HTTP status, the API's ``error.type`` and message, extra headers.

    >>> ApiError(404, "not_found_error", "model: nope").status
    404
    """

    def __init__(
        self, status: int, type: str, message: str, headers: Sequence[tuple[str, str]] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.headers = list(headers)
        self.details = details


def new_request_id() -> str:
    """A fresh ``req_...`` id (random: request ids identify one HTTP exchange)."""
    return "req_" + secrets.token_hex(12)


def error_json(error_type: str, message: str, request_id: str | None = None,
               details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The API's error object (facts §5.1); without *request_id*, an SSE ``error`` event's data (§8).

    *details* is the ``error.details`` object the SDK 2.17's types describe (``error_code``, ...).

    >>> error_json("overloaded_error", "Overloaded")
    {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}
    """
    error: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = dict(details)
    out: dict[str, Any] = {"type": "error", "error": error}
    if request_id is not None:
        out["request_id"] = request_id
    return out


def error_body(error_type: str, message: str, request_id: str,
               details: Mapping[str, Any] | None = None) -> bytes:
    """The API's error JSON of an HTTP error answer (facts §5.1).

    >>> error_body("overloaded_error", "Overloaded", "req_1")
    b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}'
    """
    return orjson.dumps(error_json(error_type, message, request_id, details))


def dotted(path: str) -> str:
    """The API's dotted location for a convo ``$.path`` (as in ``messages.1.content.0``).

    >>> dotted("$.messages[1].content[0].text"), dotted("$"), dotted("$.temperature")
    ('messages.1.content.0.text', '', 'temperature')
    """
    out = path[1:] if path.startswith("$") else path
    out = out.replace("[", ".").replace("]", "")
    return out[1:] if out.startswith(".") else out


def located(path: str, message: str) -> str:
    """``"<dotted path>: <message>"``, or the message alone at the root.

    >>> located("$.messages[0].role", "expected a string")
    'messages.0.role: expected a string'
    """
    where = dotted(path)
    return f"{where}: {message}" if where else message


def rfc3339(t: float) -> str:
    """An RFC 3339 UTC time with microseconds, as the API writes them.

    >>> rfc3339(0.5)
    '1970-01-01T00:00:00.500000Z'
    """
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> float:
    """The wall clock (the default clock of the emulator)."""
    return time.time()


def paginate(
    items: Sequence[T],
    query: Mapping[str, str],
    key: Callable[[T], str],
    render: Callable[[T], Any],
) -> dict[str, Any]:
    """One page of a list endpoint: ``limit`` (1-1000, default 20), ``before_id``/``after_id``.

    >>> paginate(["a", "b", "c"], {"limit": "2"}, str, str)
    {'data': ['a', 'b'], 'has_more': True, 'first_id': 'a', 'last_id': 'b'}
    >>> paginate(["a", "b", "c"], {"after_id": "b"}, str, str)["data"]
    ['c']
    """
    raw = query.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request_error",
                       f"limit: Input should be a valid integer, unable to parse string as an integer: '{raw}'") from None
    if not 1 <= limit <= 1000:
        raise ApiError(400, "invalid_request_error",
                       f"limit: Input should be {'greater than or equal to 1' if limit < 1 else 'less than or equal to 1000'}")
    before, after = query.get("before_id"), query.get("after_id")
    if before is not None and after is not None:
        raise ApiError(400, "invalid_request_error",
                       "Only one of before_id and after_id may be given")
    ids = [key(x) for x in items]
    if after is not None:
        start = ids.index(after) + 1 if after in ids else len(ids)
        page = items[start : start + limit]
        more = start + limit < len(items)
    elif before is not None:
        end = ids.index(before) if before in ids else 0
        page = items[max(0, end - limit) : end]
        more = end - limit > 0
    else:
        page = items[:limit]
        more = len(items) > limit
    data = [render(x) for x in page]
    return {
        "data": data,
        "has_more": more,
        "first_id": key(page[0]) if page else None,
        "last_id": key(page[-1]) if page else None,
    }

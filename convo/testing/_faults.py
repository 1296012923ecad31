"""Fault injection for the emulator: a schedule of per-request actions, and its spec syntax.

Layer: testing. A :class:`FaultSchedule` is a queue of :class:`Fault` values; every request the
emulator receives takes the first pending fault whose scope matches it (its path glob, its method,
and for the ``sse-*`` kinds a streaming ``POST /v1/messages``). Requests that match no pending
fault are answered normally.

The spec syntax (``convo serve --faults SPEC``; also what ``str(fault)`` prints) is
:data:`SPEC_SYNTAX`, which ``convo serve --help`` prints.

>>> [str(f) for f in parse_faults("529*2, 429:retry-after=1@/v1/messages, sse-cut:after=3")]
['529', '529', '429:retry-after=1@/v1/messages', 'sse-cut:after=3']
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote, unquote

from attrs import field, frozen

from convo.testing._ratelimit import RateLimiter, RateLimits

SPEC_SYNTAX = """\
SPEC   := ENTRY ("," ENTRY)*            e.g.  529,429:retry-after=1,ok,reset
ENTRY  := ACTION ["*" COUNT] ["@" SCOPE]   the action COUNT times (default once), on SCOPE only
ACTION := KIND (":" ARG)*                  ARG is key=value or a bare value; %-escapes allowed
SCOPE  := [METHOD " "] PATH-GLOB            e.g.  @/v1/messages   @GET /v1/messages/batches/*

KIND          what the request gets
ok            a normal answer (a placeholder that lets one request through)
400..599      that status with the API's error body. Args: type=ERROR_TYPE (default from the
              status: 429 rate_limit_error, 529 overloaded_error, 500 api_error, ...),
              message=TEXT, retry-after=SECONDS (or an HTTP date), retry-after-ms=MS,
              should-retry=true|false (the x-should-retry header). A 429 carries what the
              API's does: retry-after (default 1; retry-after=none sends none, like a
              spend-cap 429) and the anthropic-ratelimit-* headers
reset         the connection is reset (TCP RST) without a response
close         the connection is closed cleanly (FIN) without a response
slow:SECONDS  the normal answer, after SECONDS (also seconds=SECONDS)
truncate      the normal answer with its full content-length declared, half the body sent,
              then the connection closed
sse-cut       (streaming only) the stream ends cleanly mid-way, without message_stop;
              after=N sends the first N events (default: half of them)
sse-drop      (streaming only) the connection drops mid-stream (incomplete chunked body)
sse-error     (streaming only) HTTP 200, then after N events (after=N, default half) an
              event: error frame (type=overloaded_error, message=Overloaded by default)
              and the end of the stream"""
"""The fault spec syntax, as ``convo serve --help`` shows it."""

__all__ = [
    "DEFAULT_ERROR_TYPES",
    "KINDS",
    "RATE_LIMITS",
    "RATE_LIMIT_RETRY_AFTER",
    "SPEC_SYNTAX",
    "Fault",
    "FaultSchedule",
    "parse_faults",
    "rate_limit_headers",
]

KINDS = ("ok", "status", "reset", "close", "slow", "truncate", "sse-cut", "sse-drop", "sse-error")
STREAM_KINDS = frozenset({"sse-cut", "sse-drop", "sse-error"})

# The API's error type for each status (facts §5.1); other 4xx are invalid_request_error and other
# 5xx api_error, as the docs say for statuses they do not list.
DEFAULT_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_DEFAULT_MESSAGES = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "conflict_error": "Conflict",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of requests has exceeded your rate limit.",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
    "overloaded_error": "Overloaded",
}

RATE_LIMIT_RETRY_AFTER = "1"
"""The ``retry-after`` (seconds) of a 429 fault that names none: whole seconds, as the API sends."""

_DEFAULT_LIMITS = RateLimits()
RATE_LIMITS = {"requests": _DEFAULT_LIMITS.requests, "tokens": _DEFAULT_LIMITS.tokens,
               "input-tokens": _DEFAULT_LIMITS.input_tokens,
               "output-tokens": _DEFAULT_LIMITS.output_tokens}
"""The limits a 429's headers report by default (a live recording's, a tier-1 organization's;
``tokens`` is input plus output, as recorded): :class:`~convo.testing.RateLimits`."""

_STATUS_ARGS = {"type", "message", "retry-after", "retry-after-ms", "should-retry"}


def default_error_type(status: int) -> str:
    """The API's ``error.type`` for an HTTP status.

    >>> default_error_type(529), default_error_type(418), default_error_type(503)
    ('overloaded_error', 'invalid_request_error', 'api_error')
    """
    if status in DEFAULT_ERROR_TYPES:
        return DEFAULT_ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def default_message(error_type: str) -> str:
    """A plausible ``error.message`` for an error type.

    >>> default_message("overloaded_error")
    'Overloaded'
    """
    return _DEFAULT_MESSAGES.get(error_type, error_type.replace("_", " ").capitalize())


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@frozen(kw_only=True)
class Fault:
    """One scheduled action: what the next matching request gets instead of a normal answer.

    >>> Fault.parse("429:retry-after=0.5:should-retry=true")
    Fault(kind='status', status=429, error_type=None, message=None, retry_after='0.5', retry_after_ms=None, should_retry='true', seconds=0.0, after=None, method=None, path=None)
    >>> Fault(kind="status", status=529).body_error()
    ('overloaded_error', 'Overloaded')
    """

    kind: str = field()
    status: int | None = None
    error_type: str | None = None
    message: str | None = None
    retry_after: str | None = field(default=None, converter=_opt_str)
    retry_after_ms: str | None = field(default=None, converter=_opt_str)
    should_retry: str | None = None
    seconds: float = 0.0
    after: int | None = None
    method: str | None = None
    path: str | None = None

    @kind.validator
    def _check_kind(self, _: object, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
        if kind == "status" and (self.status is None or not 400 <= self.status <= 599):
            raise ValueError(f"a status fault needs a status from 400 to 599, got {self.status!r}")
        if kind != "status" and self.status is not None:
            raise ValueError(f"a {kind} fault takes no status")
        if self.should_retry is not None and self.should_retry not in ("true", "false"):
            raise ValueError(f"should-retry must be true or false, got {self.should_retry!r}")
        if self.seconds < 0:
            raise ValueError(f"slow needs seconds >= 0, got {self.seconds}")
        if self.after is not None and self.after < 0:
            raise ValueError(f"after must be >= 0, got {self.after}")

    # ------------------------------------------------------------------ spec text

    @classmethod
    def parse(cls, text: str) -> Fault:
        """One fault from its spec text (without a ``*COUNT``); see the module docstring.

        >>> Fault.parse("slow:2@POST /v1/messages").seconds
        2.0
        """
        faults = parse_faults(text)
        if len(faults) != 1:
            raise ValueError(f"expected one fault, got {len(faults)} in {text!r}")
        return faults[0]

    def __str__(self) -> str:
        head = str(self.status) if self.kind == "status" else self.kind
        args: list[str] = []
        if self.kind == "slow":
            args.append(_fmt_num(self.seconds))
        for key, value in (
            ("type", self.error_type),
            ("message", self.message),
            ("retry-after", self.retry_after),
            ("retry-after-ms", self.retry_after_ms),
            ("should-retry", self.should_retry),
            ("after", None if self.after is None else str(self.after)),
        ):
            if value is not None:
                args.append(f"{key}={quote(value, safe=' ./-_')}")
        text = ":".join([head, *args])
        if self.path is not None or self.method is not None:
            scope = self.path or "*"
            text += f"@{self.method} {scope}" if self.method else f"@{scope}"
        return text

    # ------------------------------------------------------------------ behaviour

    def matches(self, method: str, path: str, streaming: bool) -> bool:
        """Whether a request (method, path without query, streaming or not) is in this fault's scope.

        >>> Fault(kind="sse-cut").matches("POST", "/v1/messages", streaming=False)
        False
        >>> Fault(kind="status", status=500, path="/v1/messages/batches/*").matches(
        ...     "GET", "/v1/messages/batches/msgbatch_1", streaming=False)
        True
        """
        if self.kind in STREAM_KINDS and not streaming:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or fnmatchcase(path, self.path)

    def body_error(self) -> tuple[str, str]:
        """The (error type, message) a status or ``sse-error`` fault puts in its error body."""
        if self.kind == "sse-error":
            etype = self.error_type or "overloaded_error"
        else:
            etype = self.error_type or default_error_type(self.status or 500)
        return etype, self.message if self.message is not None else default_message(etype)

    def headers(
        self, now: datetime | None = None,
        rate_limits: Callable[[float], list[tuple[str, str]]] | None = None,
    ) -> list[tuple[str, str]]:
        """The extra response headers of a status fault (retry-after, x-should-retry).

        A 429 has, as the API's do (facts §5.2), a ``retry-after`` (:data:`RATE_LIMIT_RETRY_AFTER`
        seconds unless the spec gives one; ``retry-after=none`` sends none) and the
        ``anthropic-ratelimit-*`` headers, the requests' reset *now* plus the wait:
        ``rate_limits(wait)`` makes them (an emulator's counters), else
        :func:`rate_limit_headers`.

        >>> Fault.parse("500:retry-after=2").headers()
        [('retry-after', '2')]
        >>> t = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
        >>> dict(Fault.parse("429").headers(t))["anthropic-ratelimit-requests-reset"]
        '2026-12-07T10:00:01Z'
        """
        out = []
        retry_after = self.retry_after
        if self.status == 429 and retry_after is None and self.retry_after_ms is None:
            retry_after = RATE_LIMIT_RETRY_AFTER
        if retry_after is not None and retry_after.lower() != "none":
            out.append(("retry-after", retry_after))
        if self.retry_after_ms is not None:
            out.append(("retry-after-ms", self.retry_after_ms))
        if self.should_retry is not None:
            out.append(("x-should-retry", self.should_retry))
        if self.status == 429:
            wait = _wait_seconds(self.retry_after_ms, retry_after)
            out.extend(rate_limits(wait) if rate_limits is not None
                       else rate_limit_headers(now or datetime.now(UTC), wait))
        return out


def _wait_seconds(retry_after_ms: str | None, retry_after: str | None) -> float:
    for raw, scale in ((retry_after_ms, 0.001), (retry_after, 1.0)):
        try:
            wait = float(raw) * scale if raw is not None else None
        except ValueError:
            wait = None  # an HTTP date, or none
        if wait is not None and math.isfinite(wait) and wait >= 0:
            return wait
    return float(RATE_LIMIT_RETRY_AFTER)


def rate_limit_headers(now: datetime, wait: float) -> list[tuple[str, str]]:
    """The ``anthropic-ratelimit-*`` headers of a 429 whose request limit resets in *wait* s.

    Names from facts §5.2 [DOC]: ``{requests,tokens,input-tokens,output-tokens}-{limit,
    remaining,reset}``, resets in RFC 3339, token counts rounded to thousands; the request limit
    is the one spent (remaining 0). The limits are :class:`~convo.testing.RateLimits`'
    defaults (a live recording's); an emulator reports its own (``Emulator(rate_limits=...)``).

    >>> dict(rate_limit_headers(datetime(2026, 1, 1, tzinfo=UTC), 2.5))[
    ...     "anthropic-ratelimit-requests-remaining"]
    '0'
    """
    return RateLimiter(_DEFAULT_LIMITS, clock=now.timestamp).refused(wait)


def _fmt_num(x: float) -> str:
    return str(int(x)) if x == int(x) else repr(x)


def _number(conv: Any, value: str, key: str, entry: str) -> Any:
    try:
        return conv(value)
    except ValueError:
        raise ValueError(f"bad value {value!r} for {key} in fault {entry!r}") from None


def _parse_entry(entry: str) -> list[Fault]:
    action, _, scope = entry.partition("@")
    action = action.strip()
    count = 1
    if "*" in action:
        action, _, n = action.rpartition("*")
        try:
            count = int(n)
        except ValueError:
            raise ValueError(f"bad repeat count {n!r} in fault {entry!r}") from None
        if count < 1:
            raise ValueError(f"repeat count must be >= 1 in fault {entry!r}")
    head, *args = action.split(":")
    head = head.strip().lower()
    kw: dict[str, Any] = {}
    if head.isdigit():
        kw["kind"], kw["status"] = "status", int(head)
    elif head in KINDS and head != "status":
        kw["kind"] = head
    else:
        raise ValueError(
            f"unknown fault {head!r} in {entry!r}: expected a status (400-599), ok, reset, close, "
            "slow:SECONDS, truncate, sse-cut, sse-drop or sse-error"
        )
    kind = kw["kind"]
    for arg in args:
        key, eq, value = arg.partition("=")
        key, value = key.strip().lower(), unquote(value.strip())
        if not eq:  # a bare value: slow's seconds, or an sse fault's event count
            key, value = ("seconds" if kind == "slow" else "after"), unquote(arg.strip())
        if key == "seconds" and kind == "slow":
            kw["seconds"] = _number(float, value, key, entry)
        elif key == "after" and kind in STREAM_KINDS:
            kw["after"] = _number(int, value, key, entry)
        elif key in _STATUS_ARGS and (
            kind == "status" or (kind == "sse-error" and key in ("type", "message"))
        ):
            name = {"type": "error_type", "should-retry": "should_retry"}.get(key, key)
            kw[name.replace("-", "_")] = value.lower() if key == "should-retry" else value
        else:
            raise ValueError(f"unknown argument {key!r} for a {head} fault in {entry!r}")
    scope = scope.strip()
    if scope:
        method, sp, path = scope.partition(" ")
        if sp and method.isalpha() and method.isupper():
            kw["method"], kw["path"] = method, path.strip()
        else:
            kw["path"] = scope
    try:
        fault = Fault(**kw)
    except ValueError as e:
        raise ValueError(f"{e} in fault {entry!r}") from None
    return [fault] * count


def parse_faults(spec: str | Fault | Iterable[str | Fault] | None) -> list[Fault]:
    """Faults from a spec string (comma-separated), a Fault, or a list of either; ``*N`` repeats.

    >>> [f.kind for f in parse_faults(["reset", Fault(kind="truncate"), "slow:0.1*2"])]
    ['reset', 'truncate', 'slow', 'slow']
    >>> parse_faults("teapot")
    Traceback (most recent call last):
    ...
    ValueError: unknown fault 'teapot' in 'teapot': expected a status (400-599), ok, reset, close, slow:SECONDS, truncate, sse-cut, sse-drop or sse-error
    """
    if spec is None:
        return []
    if isinstance(spec, Fault):
        return [spec]
    items: Iterable[str | Fault] = spec.split(",") if isinstance(spec, str) else spec
    out: list[Fault] = []
    for item in items:
        if isinstance(item, Fault):
            out.append(item)
        elif isinstance(item, str):
            for part in item.split(","):
                if part.strip():
                    out.extend(_parse_entry(part))
        else:
            raise TypeError(f"a fault is a spec string or a Fault, got {type(item).__name__}")
    return out


class FaultSchedule:
    """The pending faults of an emulator, consumed in order by matching requests (thread-safe).

    >>> s = FaultSchedule("500@/v1/models, 529")
    >>> s.take("POST", "/v1/messages", streaming=False).status
    529
    >>> len(s), str(s)
    (1, '500@/v1/models')
    """

    def __init__(self, faults: str | Fault | Iterable[str | Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = parse_faults(faults)
        self.applied: list[tuple[Fault, str, str]] = []
        """Every fault taken so far, with the method and path of the request it hit."""

    def take(self, method: str, path: str, streaming: bool) -> Fault | None:
        """Remove and return the first pending fault that matches the request, if any."""
        if not self._pending:  # the common case: no lock needed to see an empty list
            return None
        with self._lock:
            for i, fault in enumerate(self._pending):
                if fault.matches(method, path, streaming):
                    del self._pending[i]
                    self.applied.append((fault, method, path))
                    return fault
        return None

    def add(self, faults: str | Fault | Iterable[str | Fault]) -> None:
        """Append faults to the end of the schedule."""
        parsed = parse_faults(faults)
        with self._lock:
            self._pending.extend(parsed)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()

    @property
    def pending(self) -> list[Fault]:
        """A copy of the faults not yet taken, in order."""
        with self._lock:
            return list(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.pending)

    def __str__(self) -> str:
        return ",".join(str(f) for f in self.pending)

    def __repr__(self) -> str:
        return f"FaultSchedule({str(self)!r})"

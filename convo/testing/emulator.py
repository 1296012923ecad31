"""A local Messages API: a real HTTP/1.1 server on 127.0.0.1 for tests, benchmarks and ``convo serve``.

Layer: testing (uses the model, codec, rules and profiles; stdlib ``http.server`` only, no new
dependencies). It speaks the API's wire protocol closely enough that the official SDK works
against it (facts §5, §6, §8, §10):

- ``POST /v1/messages`` (JSON, or SSE with ``stream: true``), ``POST /v1/messages/count_tokens``,
  ``GET /v1/models``, ``GET /v1/models/{id}``, and the Message Batches endpoints (create, list,
  retrieve, cancel, delete, results).
- The key is checked (``x-api-key`` or ``Authorization: Bearer``; any non-empty key unless
  ``api_keys`` restricts them: 401 ``authentication_error``), and ``anthropic-version`` must be
  ``2023-06-01`` or ``2026-10-21`` (400). ``anthropic-beta`` is accepted as a comma list (or a set
  of known names given as ``betas`` restricts it).
- Bodies are decoded with convo's codec and checked with :func:`convo.validate` for the request's
  model, API version and ``anthropic-beta`` headers, closed-world like the API (facts §11): the
  first error is a 400 ``invalid_request_error`` in the API's words and location style
  (``messages.0.content.0.text.foo: Extra inputs are not permitted``); an unknown model id
  is a 404 ``not_found_error`` (``model: claude-nope``). Warnings do not fail a request.
  ``strict=False`` (``convo serve --lenient``) accepts unknown keys, types and models, as
  convo 0.x did.
- Every response carries ``request-id`` and ``anthropic-organization-id``; errors have the API's
  body ``{"type": "error", "error": {"type", "message"}, "request_id"}``.
- Every answer of ``POST /v1/messages`` (200, streamed or not, and 400/404/429 errors; not a
  401, nor an injected fault other than 429) carries ``anthropic-ratelimit-{requests,tokens,input-tokens,
  output-tokens}-{limit,remaining,reset}`` as the API's do (LIVE, facts §5.2): counted per
  window by the emulator's :class:`~convo.testing.RateLimits` (``rate_limits=``;
  see :mod:`convo.testing._ratelimit`). count_tokens answers carry its own ``requests-*``.
- It holds no server-side message threads: a ``thread`` under the ``message-threads-2026-08-12``
  beta is refused with ``error.details.error_code: "thread_unsupported_request"``, on which the
  SDK's thread helpers and tool runner go on unthreaded (full history each turn).
- Replies are deterministic (see :mod:`convo.testing._replies`): ``handler(conversation)`` returns
  a :class:`~convo.model.Response` or the reply text; the default echoes the last user turn, and
  a structured-output request (``output_config.format``) gets JSON that validates against its
  schema. A tool call's input validates against the tool's ``input_schema``. A handler may raise
  :class:`convo.errors.APIStatusError` to answer with that error.
- Faults are scheduled with ``faults=`` (a spec string or a list; syntax in
  :mod:`convo.testing._faults`, repeated here): each request takes the first pending fault whose
  scope matches it.

  ``529``, ``429:retry-after=1``, ``500:should-retry=false``, any ``4xx``/``5xx`` (``type=``,
  ``message=``, ``retry-after=``, ``retry-after-ms=``, ``should-retry=``), ``reset`` (TCP RST,
  no response), ``close`` (clean close, no response), ``slow:SECONDS``, ``truncate`` (half the
  declared body), ``sse-cut`` / ``sse-drop`` / ``sse-error`` (streams only; ``after=N`` events),
  ``ok`` (a normal answer); ``*N`` repeats an entry, ``@[METHOD ]PATH-GLOB`` scopes it. Entries
  are comma-separated: ``"529*2,429:retry-after=0.1@/v1/messages,reset"``.

>>> import httpx
>>> with Emulator() as url:
...     r = httpx.post(f"{url}/v1/messages", headers={"x-api-key": "k",
...         "anthropic-version": "2023-06-01"}, json={"model": "claude-sonnet-4-5",
...         "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]})
>>> r.status_code, r.json()["content"][0]["text"], r.headers["request-id"][:4]
(200, 'echo: Hello', 'req_')
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import http
import io
import logging
import os
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import orjson
from attrs import define, field

from convo import model as m
from convo.codec import dumps_response, structure, unstructure
from convo.errors import APIStatusError, DecodeError
from convo.profiles import API_VERSIONS, ProfileRegistry, builtin_profiles
from convo.rules import Violation, api_location, validate
from convo.testing._batches import BatchStore
from convo.testing._faults import Fault, FaultSchedule, default_error_type, default_message
from convo.testing._models import model_info, model_infos
from convo.testing._ratelimit import RateLimiter, RateLimits, parse_rate_limits
from convo.testing._replies import (
    TOOL_POLICIES,
    build_response,
    default_reply,
    estimate_input_tokens,
    request_digest,
    stream_events,
    structured_reply,
)
from convo.testing._wire import (
    ApiError,
    error_body,
    error_json,
    located,
    new_request_id,
    now,
    paginate,
)

__all__ = [
    "Emulator",
    "Fault",
    "FaultSchedule",
    "LoggedRequest",
    "RateLimits",
    "main",
    "serve",
    "stream_events",
]

log = logging.getLogger("convo.testing.emulator")

Handler: TypeAlias = Callable[[m.Conversation], "m.Response | str"]
BatchErrors: TypeAlias = Mapping[str, str] | Callable[[str, Any], "str | None"]
FaultsArg: TypeAlias = str | Fault | Iterable[str | Fault] | FaultSchedule | None
RateLimitsArg: TypeAlias = RateLimits | Mapping[str, Any] | None

MB = 1024 * 1024
MESSAGES_MAX_BYTES = 32 * MB  # facts §6.3 (count_tokens too)
BATCH_MAX_BYTES = 256 * MB  # facts §6.4
BATCH_MAX_REQUESTS = 100_000
ORGANIZATION_ID = "00000000-0000-4000-8000-00000000c0de"
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization"})

_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_REQUIRED_CREATE = ("model", "max_tokens", "messages")
_REQUIRED_COUNT = ("model", "messages")
# facts §6.2: count_tokens takes the create body without these (the API: "Extra inputs are not
# permitted"); unknown keys pass, as beta features add their own
_NOT_IN_COUNT = ("max_tokens", "stream", "stop_sequences", "metadata", "temperature", "top_p",
                 "top_k", "service_tier", "container", "inference_geo")
_BATCH_ONLY_ERRORS = {"canceled", "expired"}
MESSAGE_THREADS_BETA = "message-threads-2026-08-12"  # SDK 2.17: its tool runner sends it


@define
class LoggedRequest:
    """One request the emulator received (secrets scrubbed from the headers).

    ``status`` is what it answered (None when no response was sent, as with ``reset``), ``fault``
    the spec text of the fault applied, ``warnings`` the rule ids of validation warnings.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    time: float
    request_id: str
    status: int | None = None
    fault: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def api_key_scheme(self) -> str | None:
        """How the key was sent: ``"x-api-key"``, ``"bearer"`` or None."""
        if "x-api-key" in self.headers:
            return "x-api-key"
        if self.headers.get("authorization", "").lower().startswith("bearer "):
            return "bearer"
        return None


def _scrub(name: str, value: str) -> str:
    if name not in SECRET_HEADERS:
        return value
    scheme, sp, _ = value.partition(" ")
    return f"{scheme} <redacted>" if sp and name != "x-api-key" else "<redacted>"


@define
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(factory=list)
    events: list[tuple[str, bytes]] | None = None
    usage: tuple[int, int] = (0, 0)  # the input and output tokens it spends (rate limits)
    head_lines: str = ""  # more header lines, rendered ("k: v\r\nk: v"): one string, no tuples

    @classmethod
    def json(cls, data: Any, status: int = 200) -> _Reply:
        return cls(status, orjson.dumps(data))

    @classmethod
    def error(cls, e: ApiError, request_id: str) -> _Reply:
        return cls(e.status, error_body(e.type, e.message, request_id, e.details),
                   headers=e.headers)


def _frame(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Overloaded" if status == 529 else "Unknown"


# --------------------------------------------------------------------------- the emulator


class Emulator:
    """A local Messages API server on 127.0.0.1 (see the module docstring).

    ``with Emulator() as url:`` starts it and gives the base URL; ``start()`` / ``stop()`` do the
    same by hand. ``log`` lists every request received; ``faults`` is the fault schedule (assign a
    new list or spec string between tests); ``handler`` and ``batch_errors`` may be replaced too.

    Keyword arguments:

    - ``handler``: ``(Conversation) -> Response | str``; None: the echo reply. ``cassette``: a
      cassette file of :class:`convo.executor.ReplayExecutor` to answer from instead.
    - ``faults``: the fault schedule (spec string, list of specs or :class:`Fault`, a
      :class:`FaultSchedule`). ``api_keys``: the keys accepted (None: any non-empty key).
      ``betas``: the beta names accepted (None: any).
    - ``batch_delay``: seconds a batch processes; ``cancel_delay``: seconds it stays
      ``canceling`` (default batch_delay / 5); ``clock``: the time source of batches and
      rate-limit windows (a fake one makes their tests exact). ``batch_errors`` injects
      per-request batch outcomes: a mapping custom_id -> error type (``"overloaded_error"``,
      ``"invalid_request_error"``, ...; or ``"canceled"`` / ``"expired"``), or a function
      ``(custom_id, params) -> error type | None``.
    - ``profiles``: the model profiles for validation and ``/v1/models`` (default: built-in);
      ``validate_requests=False`` skips the rules; ``strict=False`` skips only the closed-world
      checks (unknown keys, types and models pass: the old, lenient behaviour);
      ``tool_policy``: what a reply does when tools are offered and ``tool_choice`` is ``auto``
      (or absent): ``"text"`` (default) answers text, as if the model chose not to call;
      ``"call"`` calls the first tool that has an ``input_schema`` whenever the last user turn
      holds no ``tool_result``, and answers text once results come back (so an agent loop, such
      as the SDK's tool runner, runs one round trip). A forced ``tool_choice`` (``any``,
      ``tool``) always calls, whatever the policy. ``stream_delay``: seconds between SSE
      events; ``organization_id``: the ``anthropic-organization-id`` header;
      ``max_request_bytes`` / ``max_batch_bytes`` / ``max_batch_requests``: the API's limits
      (32 MB, 256 MB, 100,000), lowerable so tests can reach them.
    - ``rate_limits``: a :class:`~convo.testing.RateLimits` (or a dict of its
      fields): the limits the ``anthropic-ratelimit-*`` headers report, counted per window
      (default: a tier-1 organization's 50 requests, 30,000 input and 8,000 output tokens a
      minute, not enforced); ``enforce=True`` answers a 429 with ``retry-after`` once a limit
      is spent. Assigning ``emu.rate_limits`` starts the counts afresh.

    >>> emu = Emulator(faults="529")
    >>> emu.faults.pending[0].status, emu.base_url
    (529, None)
    >>> import httpx
    >>> h = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    >>> body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [
    ...     {"role": "user", "content": "Hi"}]}
    >>> with Emulator(rate_limits={"requests": 2, "enforce": True}) as url:
    ...     rs = [httpx.post(f"{url}/v1/messages", headers=h, json=body) for _ in range(3)]
    >>> [(r.status_code, r.headers["anthropic-ratelimit-requests-remaining"]) for r in rs]
    [(200, '1'), (200, '0'), (429, '0')]
    >>> rs[2].headers["retry-after"] in {str(s) for s in range(1, 61)}
    True
    """

    def __init__(
        self,
        *,
        handler: Handler | None = None,
        cassette: str | os.PathLike[str] | None = None,
        faults: FaultsArg = None,
        api_keys: str | Iterable[str] | None = None,
        batch_delay: float = 0.5,
        host: str = "127.0.0.1",
        port: int = 0,
        cancel_delay: float | None = None,
        batch_errors: BatchErrors | None = None,
        betas: Iterable[str] | None = None,
        profiles: ProfileRegistry | None = None,
        validate_requests: bool = True,
        strict: bool = True,
        tool_policy: str = "text",
        stream_delay: float = 0.0,
        organization_id: str = ORGANIZATION_ID,
        clock: Callable[[], float] = now,
        max_request_bytes: int = MESSAGES_MAX_BYTES,
        max_batch_bytes: int = BATCH_MAX_BYTES,
        max_batch_requests: int = BATCH_MAX_REQUESTS,
        rate_limits: RateLimitsArg = None,
    ) -> None:
        self.handler = handler
        self.cassette = cassette
        self._cassette_handler = _cassette_handler(cassette) if cassette is not None else None
        self._faults = faults if isinstance(faults, FaultSchedule) else FaultSchedule(faults)
        self._api_keys = None if api_keys is None else (
            frozenset({api_keys}) if isinstance(api_keys, str) else frozenset(api_keys))
        self.batch_errors = batch_errors
        self.betas = None if betas is None else frozenset(betas)
        self.profiles = profiles
        self.validate_requests = validate_requests
        self.strict = strict
        if tool_policy not in TOOL_POLICIES:
            raise ValueError(f"tool_policy must be one of {', '.join(TOOL_POLICIES)}, "
                             f"got {tool_policy!r}")
        self.tool_policy = tool_policy
        self.stream_delay = stream_delay
        self.organization_id = organization_id
        self.max_request_bytes = max_request_bytes
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_requests = max_batch_requests
        self._clock = clock
        self.rate_limits = rate_limits
        self.host, self.port = host, port
        self.base_url: str | None = None
        self.log: list[LoggedRequest] = []
        self.batches = BatchStore(
            delay=batch_delay,
            cancel_delay=batch_delay / 5 if cancel_delay is None else cancel_delay,
            clock=clock,
            process=self._process_batch_request,
            results_url=lambda bid: f"{self.base_url}/v1/messages/batches/{bid}/results",
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    # ------------------------------------------------------------------ public face

    @property
    def faults(self) -> FaultSchedule:
        """The pending faults (``.pending``, ``.applied``); assign a spec or list to replace them."""
        return self._faults

    @faults.setter
    def faults(self, value: FaultsArg) -> None:
        self._faults = value if isinstance(value, FaultSchedule) else FaultSchedule(value)

    @property
    def rate_limits(self) -> RateLimits:
        """The rate limits the headers report; assign new ones (or a dict) to start afresh."""
        return self._rate_limits

    @rate_limits.setter
    def rate_limits(self, value: RateLimitsArg) -> None:
        limits = (value if isinstance(value, RateLimits)
                  else RateLimits() if value is None else RateLimits(**value))
        self._rate_limits = limits
        # facts §5.2 (DOC): count_tokens has its own limit, independent of messages'
        self._limiters = {
            "/v1/messages": RateLimiter(limits, clock=self._clock),
            "/v1/messages/count_tokens": RateLimiter(limits, clock=self._clock, tokens=False),
        }

    @property
    def batch_requests_seen(self) -> Counter[tuple[str, str]]:
        """How often each (custom_id, params digest) was submitted in a batch, over all batches.

        A count above 1 means the same request was submitted twice; :meth:`duplicate_batch_requests`
        lists those.
        """
        return self.batches.seen

    def duplicate_batch_requests(self) -> dict[tuple[str, str], int]:
        """Every (custom_id, params digest) submitted more than once."""
        return {k: n for k, n in self.batches.seen.items() if n > 1}

    def expire_batch(self, batch_id: str) -> dict[str, Any]:
        """End a batch now as if it had expired: requests not yet done get ``expired`` results."""
        return self.batches.expire(batch_id)

    def requests(self, path: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        """The logged requests to *path* (exact) with *method*, in arrival order."""
        return [r for r in list(self.log)
                if (path is None or r.path == path) and (method is None or r.method == method)]

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL (``http://127.0.0.1:PORT``)."""
        if self._server is not None:
            assert self.base_url is not None
            return self.base_url
        self._stopping.clear()
        server = _Server((self.host, self.port), _RequestHandler)
        server.emulator = self
        host, port = server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02},
            name=f"convo-emulator-{port}", daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        keys = "any" if self._api_keys is None else f"<{len(self._api_keys)} keys>"
        return f"Emulator(base_url={self.base_url!r}, api_keys={keys}, faults={str(self._faults)!r})"

    # ------------------------------------------------------------------ request pipeline

    def _limit_for(self, path: str) -> int:
        return self.max_batch_bytes if path == "/v1/messages/batches" else self.max_request_bytes

    def _route(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str],
               parsed: Any, bad_json: str | None, entry: LoggedRequest) -> _Reply:
        self._check_key(headers)  # a 401 has no organization, so no rate limits either
        limiter = self._limiters.get(path)
        if limiter is None:
            return self._routed(method, path, query, headers, parsed, bad_json, entry)
        ticket = limiter.admit()  # the 429 when limits are enforced and one is spent
        try:
            reply = self._routed(method, path, query, headers, parsed, bad_json, entry)
        except ApiError as e:
            e.headers.extend(limiter.headers(ticket))
            raise
        # one string, not twelve tuples: fewer objects per request for the garbage collector
        reply.head_lines = limiter.lines(ticket, *reply.usage)
        return reply

    def _routed(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str],
                parsed: Any, bad_json: str | None, entry: LoggedRequest) -> _Reply:
        version = self._check_version(headers)
        self._check_betas(headers)
        betas = tuple(b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip())
        ctx = _Context(version, parsed, bad_json, entry, betas)
        if path == "/v1/messages":
            return self._post(method, ctx, self._create_message)
        if path == "/v1/messages/count_tokens":
            return self._post(method, ctx, self._count_tokens)
        if path == "/v1/messages/batches":
            if method == "POST":
                return self._create_batch(ctx)
            if method == "GET":
                return _Reply.json(self.batches.page(query))
            raise _method_not_allowed(method)
        if path.startswith("/v1/messages/batches/"):
            parts = path[len("/v1/messages/batches/"):].split("/")
            if len(parts) == 1 and parts[0]:
                if method == "GET":
                    return _Reply.json(self.batches.retrieve(parts[0]))
                if method == "DELETE":
                    return _Reply.json(self.batches.delete(parts[0]))
                raise _method_not_allowed(method)
            if len(parts) == 2 and parts[1] == "cancel":
                if method != "POST":
                    raise _method_not_allowed(method)
                return _Reply.json(self.batches.cancel(parts[0]))
            if len(parts) == 2 and parts[1] == "results":
                if method != "GET":
                    raise _method_not_allowed(method)
                return _Reply(200, self.batches.results(parts[0]), "application/x-jsonl")
        if path == "/v1/models":
            if method != "GET":
                raise _method_not_allowed(method)
            return _Reply.json(paginate(model_infos(self._registry()), query,
                                        lambda info: info["id"], lambda info: info))
        if path.startswith("/v1/models/") and len(path) > len("/v1/models/"):
            if method != "GET":
                raise _method_not_allowed(method)
            return _Reply.json(self._model(path[len("/v1/models/"):]))
        raise ApiError(404, "not_found_error", "Not Found")

    def _post(self, method: str, ctx: _Context, fn: Callable[[_Context], _Reply]) -> _Reply:
        if method != "POST":
            raise _method_not_allowed(method)
        return fn(ctx)

    # The wording of the emulator's own error messages follows the API's style: "<dotted path>:
    # <what>", pydantic-like "Field required" / "Extra inputs are not permitted" (seen by third
    # parties, facts §1.5 and §10 [OBS]); the exact texts of the auth and version errors are
    # UNCONFIRMED, so clients should match on status and error.type, never on the message.

    def _check_key(self, headers: Mapping[str, str]) -> None:
        key = headers.get("x-api-key")
        if key is None:
            auth = headers.get("authorization")
            if auth is not None:
                scheme, _, token = auth.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise ApiError(401, "authentication_error", "invalid authorization header")
                key = token.strip()
        if not key:
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        if self._api_keys is not None and key not in self._api_keys:
            raise ApiError(401, "authentication_error", "invalid x-api-key")

    def _check_version(self, headers: Mapping[str, str]) -> str:
        version = headers.get("anthropic-version")
        if version is None:
            raise ApiError(400, "invalid_request_error", "anthropic-version: header is required")
        version = version.strip()
        if version not in API_VERSIONS:
            raise ApiError(
                400, "invalid_request_error",
                f"anthropic-version: invalid version '{version}'; "
                f"supported versions are {' and '.join(API_VERSIONS)}",
            )
        return version

    def _check_betas(self, headers: Mapping[str, str]) -> None:
        if self.betas is None:
            return
        given = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
        unknown = [b for b in given if b not in self.betas]
        if unknown:  # facts §6.1
            raise ApiError(
                400, "invalid_request_error",
                f"Unexpected value(s) `{', '.join(unknown)}` for the `anthropic-beta` header. "
                "Please consult our documentation at docs.claude.com or try again without the header.",
            )

    def _registry(self) -> ProfileRegistry:
        return self.profiles if self.profiles is not None else builtin_profiles()

    def _model(self, model_id: str) -> dict[str, Any]:
        reg = self._registry()
        canonical = model_id if model_id in reg else reg.aliases.get(model_id)
        if canonical is None:
            raise ApiError(404, "not_found_error", f"model: {model_id}")
        return model_info(reg[canonical], model_id)

    # ------------------------------------------------------------------ messages

    def _decode(self, parsed: Any, bad_json: str | None, required: Sequence[str]) -> m.Conversation:
        if bad_json is not None:
            raise ApiError(400, "invalid_request_error",
                           f"There was an error parsing the body of your request: {bad_json}")
        if not isinstance(parsed, dict):
            raise ApiError(400, "invalid_request_error",
                           "Input should be a valid dictionary or object to extract fields from")
        for key in required:
            if key not in parsed:
                raise ApiError(400, "invalid_request_error", f"{key}: Field required")
        try:
            conv: m.Conversation = structure(parsed, m.Conversation)
        except DecodeError as e:
            raise ApiError(400, "invalid_request_error", located(e.path, e.expected)) from None
        return conv

    def _check_rules(self, conv: m.Conversation, version: str, entry: LoggedRequest | None, *,
                     body: Any = None, betas: Sequence[str] = (), endpoint: str = "messages") -> None:
        if not self.validate_requests:
            return
        report = validate(conv, api_version=version, registry=self.profiles, betas=betas,
                          endpoint=endpoint)
        if entry is not None and report.warnings:
            entry.warnings = tuple(v.rule for v in report.warnings)
        errors = report.errors
        if not self.strict:
            errors = tuple(v for v in errors if not v.rule.startswith("schema."))
        # the API checks a request's shape before its meaning: a closed-world error first, then
        # the model (LIVE: an unknown model id is a 404 on messages and count_tokens), then rules
        shape = [v for v in errors if v.rule.startswith("schema.")]
        if shape:
            raise ApiError(400, "invalid_request_error", api_words(shape[0], body, endpoint))
        # a retired model (lifecycle "retired") is still answered: what the API does then is not
        # recorded, and the live cassettes ran claude-3-opus-latest with a 200 (recorded before
        # its retirement)
        if self.strict and isinstance(conv.model, str) and conv.model:
            reg = self._registry()
            if conv.model not in reg and conv.model not in reg.aliases:
                raise ApiError(404, "not_found_error", f"model: {conv.model}")
        if errors:
            raise ApiError(400, "invalid_request_error", api_words(errors[0], body, endpoint))

    def _default_reply(self, conv: m.Conversation, digest: str) -> str:
        return structured_reply(conv, digest) or default_reply(conv)

    def _answer(self, conv: m.Conversation, service_tier: str) -> m.Response:
        digest = request_digest(conv)
        handler = self.handler or self._cassette_handler
        try:
            out = handler(conv) if handler is not None else self._default_reply(conv, digest)
        except APIStatusError as e:
            raise ApiError(e.status, e.type or default_error_type(e.status), e.message) from None
        except ApiError:
            raise
        except Exception as e:
            log.exception("the emulator's handler raised")
            raise ApiError(500, "api_error",
                           f"the emulator's handler raised {type(e).__name__}: {e}") from None
        if not isinstance(out, m.Response | str):
            raise ApiError(500, "api_error",
                           f"the emulator's handler returned a {type(out).__name__}, "
                           "not a Response or a string")
        return build_response(conv, out, digest=digest, service_tier=service_tier,
                              tool_policy=self.tool_policy)

    def _create_message(self, ctx: _Context) -> _Reply:
        if (MESSAGE_THREADS_BETA in ctx.betas and isinstance(ctx.parsed, dict)
                and "thread" in ctx.parsed):
            # the emulator holds no server-side message threads: it refuses a threaded request
            # with the rejection the SDK 2.17 types describe (ThreadUnsupportedRequestErrorDetails;
            # the words are UNCONFIRMED), on which the SDK's thread helpers and tool runner go on
            # without a thread, sending the full conversation
            raise ApiError(400, "invalid_request_error",
                           "thread: this request cannot be threaded; send the full conversation "
                           "without `thread`", details={"error_code": "thread_unsupported_request"})
        conv = self._decode(ctx.parsed, ctx.bad_json, _REQUIRED_CREATE)
        self._check_rules(conv, ctx.version, ctx.entry, body=ctx.parsed, betas=ctx.betas)
        resp = self._answer(conv, "standard")
        usage = _spent(resp)
        if conv.stream is True:
            return _Reply(200, content_type="text/event-stream; charset=utf-8",
                          headers=[("cache-control", "no-cache")], events=stream_events(resp),
                          usage=usage)
        return _Reply(200, dumps_response(resp), usage=usage)

    def _count_tokens(self, ctx: _Context) -> _Reply:
        if isinstance(ctx.parsed, dict):
            for key in _NOT_IN_COUNT:
                if key in ctx.parsed:
                    raise ApiError(400, "invalid_request_error",
                                   f"{key}: Extra inputs are not permitted")
        conv = self._decode(ctx.parsed, ctx.bad_json, _REQUIRED_COUNT)
        self._check_rules(conv, ctx.version, ctx.entry, body=ctx.parsed, betas=ctx.betas,
                          endpoint="count_tokens")
        return _Reply.json({"input_tokens": estimate_input_tokens(conv)})

    # ------------------------------------------------------------------ batches

    def _create_batch(self, ctx: _Context) -> _Reply:
        if ctx.bad_json is not None:
            raise ApiError(400, "invalid_request_error",
                           f"There was an error parsing the body of your request: {ctx.bad_json}")
        body = ctx.parsed
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request_error",
                           "Input should be a valid dictionary or object to extract fields from")
        for key in body:
            if key != "requests":
                raise ApiError(400, "invalid_request_error", f"{key}: Extra inputs are not permitted")
        reqs = body.get("requests")
        if reqs is None:
            raise ApiError(400, "invalid_request_error", "requests: Field required")
        if not isinstance(reqs, list):
            raise ApiError(400, "invalid_request_error", "requests: Input should be a valid list")
        if not reqs:
            raise ApiError(400, "invalid_request_error",
                           "requests: List should have at least 1 item after validation, not 0")
        if len(reqs) > self.max_batch_requests:
            raise ApiError(400, "invalid_request_error",
                           f"requests: List should have at most {self.max_batch_requests} items "
                           f"after validation, not {len(reqs)}")
        seen: set[str] = set()
        out: list[tuple[str, Any]] = []
        for i, item in enumerate(reqs):
            where = f"requests.{i}"
            if not isinstance(item, dict):
                raise ApiError(400, "invalid_request_error",
                               f"{where}: Input should be a valid dictionary or object")
            for key in item:
                if key not in ("custom_id", "params"):
                    raise ApiError(400, "invalid_request_error",
                                   f"{where}.{key}: Extra inputs are not permitted")
            for key in ("custom_id", "params"):
                if key not in item:
                    raise ApiError(400, "invalid_request_error", f"{where}.{key}: Field required")
            cid = item["custom_id"]
            if not isinstance(cid, str) or not _CUSTOM_ID.fullmatch(cid):
                raise ApiError(400, "invalid_request_error",
                               f"{where}.custom_id: String should match pattern "
                               "'^[a-zA-Z0-9_-]{1,64}$'")
            if cid in seen:
                raise ApiError(400, "invalid_request_error",
                               f"{where}.custom_id: duplicate custom_id '{cid}'; "
                               "each custom_id must be unique within a batch")
            seen.add(cid)
            if not isinstance(item["params"], dict):
                raise ApiError(400, "invalid_request_error",
                               f"{where}.params: Input should be a valid dictionary or object")
            out.append((cid, item["params"]))
        return _Reply.json(self.batches.create(out, ctx.version))

    def _injected(self, custom_id: str, params: Any) -> str | None:
        inject = self.batch_errors
        if inject is None:
            return None
        if callable(inject):
            return inject(custom_id, params)
        return inject.get(custom_id)

    def _process_batch_request(self, custom_id: str, params: Any, version: str) -> dict[str, Any]:
        """The result of one batch request once it has been processed (facts §6.4)."""
        try:
            injected = self._injected(custom_id, params)
            if injected in _BATCH_ONLY_ERRORS:
                return {"type": injected}
            if injected is not None:  # an errored result carries no HTTP status: 0 is unused
                raise ApiError(0, injected, default_message(injected))
            # facts §6.4: not allowed in a batch; checked when processed, like every param (the
            # API's wording for these is UNCONFIRMED)
            if params.get("stream") is True:
                raise ApiError(400, "invalid_request_error",
                               "stream: streaming is not supported in Message Batches")
            if params.get("max_tokens") == 0:
                raise ApiError(400, "invalid_request_error",
                               "max_tokens: must be at least 1 in Message Batches")
            if "speed" in params:
                raise ApiError(400, "invalid_request_error",
                               "speed: fast mode is not supported in Message Batches")
            conv = self._decode(params, None, _REQUIRED_CREATE)
            self._check_rules(conv, version, None, body=params)
            resp = self._answer(conv, "batch")
            return {"type": "succeeded", "message": unstructure(resp)}
        except ApiError as e:
            return {"type": "errored", "error": error_json(e.type, e.message, new_request_id())}


def _spent(resp: m.Response) -> tuple[int, int]:
    """The input and output tokens a response counts against the rate limits (input with cache
    writes; cache reads do not count, DOC rate-limits)."""
    u = resp.usage
    if not isinstance(u, m.Usage):
        return 0, 0
    i, c, o = u.input_tokens, u.cache_creation_input_tokens, u.output_tokens
    return ((i if type(i) is int else 0) + (c if type(c) is int else 0),
            o if type(o) is int else 0)


@define
class _Context:
    version: str
    parsed: Any
    bad_json: str | None
    entry: LoggedRequest
    betas: tuple[str, ...] = ()


# The API's own words for rules whose message clients match on (facts §11). Sources: DOC for
# prefill; OBS (public issues quoting the API) for the others.
_PREFILL_WORDS = ("This model does not support assistant message prefill. The conversation must "
                  "end with a user message.")  # DOC
_WHITESPACE_WORDS = "messages: final assistant content cannot end with trailing whitespace"  # OBS


def api_words(v: Violation, body: Any, endpoint: str = "messages") -> str:
    """The API's error message for the violation *v* of the request JSON *body*: its words where
    facts §11 gives them, else ``<location>: <convo's message>``, the location in the API's style
    (tags of the unions crossed: ``tools.0.custom.name``).

    >>> from convo.rules import Violation
    >>> body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "foo": 1}]}]}
    >>> api_words(Violation("schema.unknown-key", "error", "$.messages[0].content[0].foo",
    ...                     "Extra inputs are not permitted", "", "OBS"), body)
    'messages.0.content.0.text.foo: Extra inputs are not permitted'
    """
    rule = v.rule
    if rule == "prefill.unsupported":
        return _PREFILL_WORDS
    if rule == "prefill.trailing-whitespace":
        return _WHITESPACE_WORDS
    if rule == "tools.duplicate-name":
        return "tools: Tool names must be unique."  # OBS
    if rule == "sampling.removed":  # OBS: a removed parameter is an unknown key under 2026-10-21
        return located(v.path, "Extra inputs are not permitted")
    if rule == "tool-use.missing-result":  # OBS, the ids of the whole assistant turn
        m_index = _message_index(v.path)
        ids = _unanswered_ids(body, m_index)
        if m_index is not None and ids:
            return (f"messages.{m_index}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(ids)}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message.")
    where = v.path
    if isinstance(body, dict):
        try:
            loc = api_location(body, where, endpoint="count_tokens" if endpoint == "count_tokens" else "create")
        except (ValueError, KeyError, TypeError, IndexError):
            loc = None
        if loc is not None:
            return f"{loc}: {v.message}" if loc else v.message
    return located(where, v.message)


def _message_index(path: str) -> int | None:
    m_ = re.match(r"\$\.messages\[(\d+)\]", path)
    return int(m_.group(1)) if m_ else None


def _unanswered_ids(body: Any, index: int | None) -> list[str]:
    """The tool_use ids of message *index* of *body* that the next message does not answer."""
    try:
        msgs = body["messages"]
        turn = msgs[index]["content"]
        nxt = msgs[index + 1]["content"] if index is not None and index + 1 < len(msgs) else []
    except (KeyError, IndexError, TypeError):
        return []
    answered = {b.get("tool_use_id") for b in nxt if isinstance(b, dict)} if isinstance(nxt, list) else set()
    if not isinstance(turn, list):
        return []
    return [b["id"] for b in turn if isinstance(b, dict) and b.get("type") == "tool_use"
            and isinstance(b.get("id"), str) and b["id"] not in answered]


def _method_not_allowed(method: str) -> ApiError:
    # facts §5.1: the API answers statuses it does not list with invalid_request_error
    return ApiError(405, "invalid_request_error", f"Method Not Allowed: {method}")


def _cassette_handler(path: str | os.PathLike[str]) -> Handler:
    """A handler answering from a cassette recorded by :class:`convo.executor.ReplayExecutor`.

    A request the cassette does not hold gets a 404 ``not_found_error`` naming the nearest
    recorded request; a recorded error is answered as that error. (count_tokens is not replayed:
    it keeps the emulator's estimate.)
    """
    from convo.executor import load_cassette  # the executor layer (httpx) loads only when asked

    return load_cassette(path).handler()


# --------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    emulator: Emulator
    daemon_threads = True
    # ThreadingMixIn joins every handler thread on close; a client holding a keep-alive
    # connection open would make stop() hang, so the emulator closes connections itself instead
    block_on_close = False
    request_queue_size = 1024  # benchmarks open 128+ connections at once


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "convo-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # SSE frames go out as they are written
    server: _Server
    _head_lines = ""  # header lines rendered already (the rate limits), set per request by _send

    def setup(self) -> None:
        super().setup()
        emu = self.server.emulator
        with emu._conns_lock:
            emu._conns.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        emu = self.server.emulator
        with emu._conns_lock:
            emu._conns.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    # ------------------------------------------------------------------ reading

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or None when it is over *limit* (it is read and dropped then, so
        the connection stays usable and the client reads the 413 instead of a reset)."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                data = self.rfile.read(size)
                if total <= limit:
                    parts.append(data)
                self.rfile.readline()
            return b"".join(parts) if total <= limit else None
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative content-length")
        if length <= limit:
            return self.rfile.read(length) if length else b""
        while length > 0:
            got = self.rfile.read(min(length, 1 << 16))
            if not got:
                break
            length -= len(got)
        return None

    # ------------------------------------------------------------------ the pipeline

    def _dispatch(self) -> None:
        emu = self.server.emulator
        request_id = new_request_id()
        split = urlsplit(self.path)
        path, method = split.path, self.command
        query = dict(parse_qsl(split.query))
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        entry = LoggedRequest(
            method=method, path=path, query=query,
            headers={k: _scrub(k, v) for k, v in headers.items()},
            body=None, time=time.time(), request_id=request_id,
        )
        try:
            raw = self._read_body(emu._limit_for(path))
        except (OSError, ValueError):
            self.close_connection = True
            return
        emu.log.append(entry)
        if raw is None:  # facts §6.3: over the size limit -> 413
            limit_error = ApiError(413, "request_too_large",
                                   "Request exceeds the maximum allowed number of bytes.")
            self._send(_Reply.error(limit_error, request_id), None, entry)
            return
        parsed: Any = None
        bad_json = None
        if raw:
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                bad_json = str(e)
                parsed = raw
        entry.body = parsed
        streaming = (method == "POST" and path == "/v1/messages" and isinstance(parsed, dict)
                     and parsed.get("stream") is True)
        fault = emu.faults.take(method, path, streaming)
        if fault is not None:
            entry.fault = str(fault)
            if self._pre_fault(fault, entry, request_id):
                return
        try:
            reply = emu._route(method, path, query, headers, parsed, bad_json, entry)
        except ApiError as e:
            reply = _Reply.error(e, request_id)
        except Exception as e:  # a bug in the emulator must not kill the connection thread
            log.exception("emulator error on %s %s", method, path)
            reply = _Reply.error(ApiError(500, "api_error", f"emulator error: {e}"), request_id)
        self._send(reply, fault, entry)

    def _pre_fault(self, fault: Fault, entry: LoggedRequest, request_id: str) -> bool:
        """Apply a fault that acts before routing; True when the request is fully handled."""
        emu = self.server.emulator
        kind = fault.kind
        if kind == "reset":
            self._reset()
            return True
        if kind == "close":
            self.close_connection = True
            return True
        if kind == "status":
            etype, message = fault.body_error()
            limiter = emu._limiters.get(entry.path)
            e = ApiError(fault.status or 500, etype, message,
                         fault.headers(rate_limits=None if limiter is None else limiter.refused))
            self._send(_Reply.error(e, request_id), None, entry)
            return True
        if kind == "slow" and emu._stopping.wait(fault.seconds):
            self.close_connection = True  # stopping: give up on this request
            return True
        return False

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send RST; the streams must close first, or their references
        # keep the socket open and the close is a clean FIN instead
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass
        # http.server flushes wfile after every request and finish() closes both: hand it stand-ins
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()

    # ------------------------------------------------------------------ writing

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_phrase(status)}",
                 f"date: {email.utils.formatdate(usegmt=True)}",
                 f"server: {self.server_version}"]
        lines.extend(f"{k}: {v}" for k, v in headers)
        if self._head_lines:
            lines.append(self._head_lines)
        if self.close_connection:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, reply: _Reply, fault: Fault | None, entry: LoggedRequest) -> None:
        emu = self.server.emulator
        headers = [
            ("content-type", reply.content_type),
            ("request-id", entry.request_id),
            ("anthropic-organization-id", emu.organization_id),
            *reply.headers,
        ]
        self._head_lines = reply.head_lines  # this request's, for _head
        entry.status = reply.status
        kind = fault.kind if fault is not None else None
        try:
            if reply.events is not None:
                frames = [_frame(name, data) for name, data in reply.events]
                if kind == "truncate":
                    self._send_truncated(headers, reply.status, b"".join(frames))
                else:
                    self._send_stream(headers, reply.status, frames, fault)
            elif kind == "truncate":
                self._send_truncated(headers, reply.status, reply.body)
            else:
                headers.append(("content-length", str(len(reply.body))))
                self.wfile.write(self._head(reply.status, headers) + reply.body)
        except OSError:  # the client went away
            self.close_connection = True

    def _send_truncated(self, headers: list[tuple[str, str]], status: int, body: bytes) -> None:
        self.close_connection = True
        headers.append(("content-length", str(len(body))))
        self.wfile.write(self._head(status, headers) + body[: len(body) // 2])
        self.connection.shutdown(socket.SHUT_RDWR)

    def _send_stream(self, headers: list[tuple[str, str]], status: int, frames: list[bytes],
                     fault: Fault | None) -> None:
        emu = self.server.emulator
        kind = fault.kind if fault is not None else None
        if kind in ("sse-cut", "sse-drop", "sse-error"):
            assert fault is not None
            last = len(frames) - 1  # never message_stop: the point is a stream that lacks it
            after = fault.after if fault.after is not None else max(1, len(frames) // 2)
            frames = frames[: max(0, min(after, last))]
            if kind == "sse-error":
                etype, message = fault.body_error()
                # facts §8: an SSE error event's data is the error body without a request_id
                frames.append(_frame("error", orjson.dumps(error_json(etype, message))))
        chunked = self.request_version != "HTTP/1.0"
        if chunked:
            headers.append(("transfer-encoding", "chunked"))
        else:
            self.close_connection = True
        out = [self._head(status, headers)]
        for frame in frames:
            out.append(b"%x\r\n%s\r\n" % (len(frame), frame) if chunked else frame)
            if emu.stream_delay > 0:
                self.wfile.write(b"".join(out))
                out.clear()
                if emu._stopping.wait(emu.stream_delay):
                    self.close_connection = True
                    return
        if kind == "sse-drop":
            self.wfile.write(b"".join(out))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if chunked:
            out.append(b"0\r\n\r\n")
        self.wfile.write(b"".join(out))


# --------------------------------------------------------------------------- convo serve


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    faults: FaultsArg = None,
    on_ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    **options: Any,
) -> None:
    """Run an emulator until interrupted (``convo serve``); *on_ready* gets the base URL.

    *options* are :class:`Emulator`'s keyword arguments. Returns when *stop* is set, or on
    KeyboardInterrupt.

    >>> done = threading.Event()
    >>> serve(faults="529", on_ready=lambda url: done.set(), stop=done)
    """
    emu = Emulator(host=host, port=port, faults=faults, **options)
    url = emu.start()
    try:
        if on_ready is not None:
            on_ready(url)
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m convo.testing.emulator [--host H] [--port P] [--faults SPEC] ...``.

    Prints the base URL on stderr once listening (this is a program entry point, like the CLI).
    """
    p = argparse.ArgumentParser(prog="python -m convo.testing.emulator",
                                description="A local Messages API emulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--faults", default=None, help="a fault schedule, e.g. '529,429:retry-after=1'")
    p.add_argument("--api-key", action="append", dest="api_keys", default=None,
                   help="accept only this key (repeatable); default: any non-empty key")
    p.add_argument("--batch-delay", type=float, default=0.5)
    p.add_argument("--tool-policy", choices=TOOL_POLICIES, default="text")
    p.add_argument("--lenient", action="store_true")
    p.add_argument("--rate-limits", default=None, help="e.g. requests=50,input_tokens=30000,window=60")
    p.add_argument("--enforce-rate-limits", action="store_true")
    args = p.parse_args(argv)
    try:
        schedule = FaultSchedule(args.faults)
    except ValueError as e:
        p.error(str(e))
    try:
        limits = (RateLimits(enforce=args.enforce_rate_limits) if args.rate_limits is None
                  else parse_rate_limits(args.rate_limits, enforce=args.enforce_rate_limits))
    except ValueError as e:
        p.error(f"--rate-limits: {e}")

    def ready(url: str) -> None:
        sys.stderr.write(f"convo emulator listening on {url}\n")
        sys.stderr.flush()

    serve(args.host, args.port, faults=schedule, on_ready=ready, api_keys=args.api_keys,
          batch_delay=args.batch_delay, tool_policy=args.tool_policy, strict=not args.lenient,
          rate_limits=limits)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

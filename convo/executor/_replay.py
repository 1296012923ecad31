"""Record and replay: cassettes of exchanges, so tests run offline against recorded replies.

Layer: executor. A cassette is a JSONL file, one exchange per line, readable and diffable::

    {"key": "5c0f…", "endpoint": "messages", "request": {…}, "response": {…}}
    {"key": "9e1a…", "endpoint": "messages", "request": {…}, "events": [{"event": …, "data": …}, …]}
    {"key": "c2d4…", "endpoint": "messages", "request": {…}, "error": {"status": 429, …}}
    {"key": "77b0…", "endpoint": "count_tokens", "request": {…}, "response": {"input_tokens": 12}}
    {"key": "a3f9…", "endpoint": "messages", "betas": ["…"], "api_version": "2023-06-01", …}

``key`` is a hash of the endpoint and the CANONICAL request: the conversation decoded and written
again with sorted keys and no whitespace (``stream`` left out: a streamed reply assembles to the
same response), so the formatting and key order of the test's input do not matter. Lines are
sorted by key (calls with the same key keep their order), so recording the same test again gives
the same file whatever order concurrent calls finished in. Streamed replies are kept as their
events. ``betas`` and ``api_version`` are the ``anthropic-beta`` names and the
``anthropic-version`` the request went with (absent: none, and the default version); replay
checks the request under them.

No header is ever stored, and every line is scrubbed before it is written, structurally
(:class:`Scrubber`): the values of fields named like credentials (``authorization``,
``x-api-key``, ``api_key``, ...) anywhere in the exchange are replaced by ``<redacted>``, and each
string *value* (never a JSON key, never the structure) is handed to the secret detectors, whose
findings are replaced: text shaped like an Anthropic key, and the known secrets (the inner
executor's API key, ``ANTHROPIC_API_KEY``, ``ANTHROPIC_AUTH_TOKEN``, anything passed as
``secrets``) where they are long enough to be told from words (:data:`MIN_SECRET_LENGTH`). A key
``test`` therefore never turns the prompt "write a unit test" into something else, while a real
key pasted into a prompt is caught; more detectors plug in as ``detectors=``. Then every string of
the request and the response goes through the detectors of :func:`~convo.transforms.scrub_secrets`
(``[REDACTED:aws-access-key]``): a credential in a tool result never reaches the file. The key of
a line is the hash of the request as sent, so a scrubbed cassette still replays.

In replay mode a request with no recorded exchange raises :class:`CassetteMissError`, which names
the nearest recorded request and the JSON paths where the two differ. A cassette line that is not
an exchange raises :class:`CassetteError` naming the file and line.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

import orjson

from convo import model as m
from convo.codec import structure, unstructure
from convo.codec.jsonl import commit_temp, temp_beside
from convo.errors import APIStatusError, ConvoError, DecodeError, ValidationError, error_for_status
from convo.executor._base import AsyncExecutor, EventCallback, Executor
from convo.executor._sse import StreamEvent, assemble, events_from_response
from convo.profiles import API_VERSIONS, DEFAULT_API_VERSION
from convo.transforms.secrets import scrub_json

__all__ = [
    "MIN_SECRET_LENGTH",
    "AsyncReplayExecutor",
    "Cassette",
    "CassetteError",
    "CassetteMissError",
    "Mode",
    "ReplayExecutor",
    "Scrubber",
    "SecretDetector",
    "json_diff",
    "key_shapes",
    "known_secrets",
    "load_cassette",
    "request_key",
]

Mode = Literal["replay", "record", "once"]
_MODES = ("replay", "record", "once")
_REDACTED = "<redacted>"
# Anthropic keys and tokens: sk-ant-api03-…, sk-ant-admin01-…, sk-ant-oat01-…
_KEY_SHAPE = re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}")


class CassetteMissError(ConvoError, LookupError):
    """A replayed request that no exchange of the cassette answers (the message shows the nearest)."""


class CassetteError(DecodeError):
    """A cassette line that is not a recorded exchange; the message names the file and the line.

    A :class:`~convo.errors.DecodeError` (data that is not the shape it must be): ``file`` and
    ``line`` say where, ``path`` is the JSON path in that line's entry when one is known.

    >>> e = CassetteError("status is not an HTTP status", path="c.jsonl", line=3)
    >>> str(e), e.file, e.line
    ('c.jsonl:3: status is not an HTTP status', 'c.jsonl', 3)
    """

    def __init__(self, message: str, *, path: object = None, line: int | None = None,
                 json_path: str = "$") -> None:
        super().__init__(message, path=json_path, file=None if path is None else str(path), line=line)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file is not None and self.line is not None else ""
        return where + self.expected

    def located(self, *, file: str | None = None, line: int | None = None) -> DecodeError:
        """The same error, told where in which file it happened."""
        return CassetteError(self.expected, path=file if file is not None else self.file,
                             line=line if line is not None else self.line, json_path=self.path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_cassette_error, (self.expected, self.file, self.line, self.path))


def _rebuild_cassette_error(message: str, file: str | None, line: int | None, json_path: str) -> CassetteError:
    return CassetteError(message, path=file, line=line, json_path=json_path)


# --------------------------------------------------------------------------- scrubbing secrets

SecretDetector: TypeAlias = Callable[[str], Iterable[tuple[int, int]]]
"""Finds secrets in one string value: the ``(start, end)`` spans to redact."""

MIN_SECRET_LENGTH = 16
"""A known secret shorter than this is not looked for in text: it cannot be told from words (a
key ``test`` would turn "write a unit test" into "write a unit <redacted>"). It is still
redacted where secrets live (fields named like credentials); real API keys are ~100 characters."""

_SECRET_FIELDS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "api_key", "apikey",
    "anthropic-api-key", "x-goog-api-key", "cookie", "set-cookie", "anthropic-auth-token",
})


def key_shapes(text: str) -> Iterable[tuple[int, int]]:
    """A :data:`SecretDetector`: text shaped like an Anthropic key or token (``sk-ant-…``).

    >>> list(key_shapes("use sk-ant-api03-AAAAAAAAAAAA here"))
    [(4, 29)]
    """
    return (m_.span() for m_ in _KEY_SHAPE.finditer(text))


def known_secrets(secrets: Iterable[str]) -> SecretDetector:
    """A :data:`SecretDetector` for these exact secrets (those of :data:`MIN_SECRET_LENGTH` or more).

    >>> find = known_secrets(["test", "a-long-proxy-token-42"])
    >>> list(find("write a unit test with a-long-proxy-token-42"))
    [(23, 44)]
    """
    wanted = sorted({s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH},
                    key=len, reverse=True)
    if not wanted:
        return lambda text: ()
    pattern = re.compile("|".join(re.escape(s) for s in wanted))
    return lambda text: (m_.span() for m_ in pattern.finditer(text))


class Scrubber:
    """Redacts secrets from a cassette entry, structurally: JSON keys and structure are never touched.

    A field named like a credential (``authorization``, ``x-api-key``, ``api_key``, ...) has its
    string value replaced whole; every other string value goes through the detectors
    (:func:`key_shapes`, :func:`known_secrets` of *secrets*, then any *detectors* given: they add
    to these, never replace them), and each span one of them finds is replaced by ``<redacted>``.

    >>> s = Scrubber(secrets=["test", "sk-live-0123456789abcdef"])
    >>> s.scrub({"test": "write a unit test", "x-api-key": "test",
    ...          "n": ["token sk-live-0123456789abcdef", 5]})
    {'test': 'write a unit test', 'x-api-key': '<redacted>', 'n': ['token <redacted>', 5]}
    """

    def __init__(self, *, secrets: Iterable[str] = (), detectors: Iterable[SecretDetector] = ()) -> None:
        self.secrets = tuple(s for s in secrets if isinstance(s, str) and s)
        self.detectors: tuple[SecretDetector, ...] = (
            key_shapes, known_secrets(self.secrets), *detectors)

    def scrub(self, value: Any) -> Any:
        """*value* with its secrets redacted (a new value; *value* is left as it was)."""
        if isinstance(value, Mapping):
            return {k: (_REDACTED if isinstance(v, str) and isinstance(k, str)
                        and k.casefold() in _SECRET_FIELDS else self.scrub(v))
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        if isinstance(value, str):
            return self.scrub_text(value)
        return value

    def scrub_text(self, text: str) -> str:
        """*text* with every span a detector finds replaced by ``<redacted>``."""
        spans = sorted(span for d in self.detectors for span in d(text))
        if not spans:
            return text
        out: list[str] = []
        at = 0
        for start, end in spans:
            if end <= at:
                continue
            start = max(start, at)
            out.append(text[at:start])
            out.append(_REDACTED)
            at = end
        out.append(text[at:])
        return "".join(out)


# --------------------------------------------------------------------------- keys and diffs


def _canonical(request: Any) -> bytes:
    return orjson.dumps(request, option=orjson.OPT_SORT_KEYS)


def _request_json(conversation: m.Conversation) -> dict[str, Any]:
    """The request as plain JSON, ``stream`` left out (it does not change the reply)."""
    d: dict[str, Any] = orjson.loads(orjson.dumps(unstructure(conversation)))
    d.pop("stream", None)
    return d


def request_key(conversation: m.Conversation, endpoint: str = "messages") -> str:
    """The cassette key of a request: a hash of the endpoint and the canonical request JSON.

    Key order and formatting of the input do not matter, since the key is computed from the
    decoded conversation written with sorted keys.

    >>> from convo import loads
    >>> a = loads(b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}')
    >>> b = loads(b'{"messages":[{"content":"Hi","role":"user"}],"max_tokens":5,"model":"m"}')
    >>> request_key(a) == request_key(b), len(request_key(a))
    (True, 20)
    """
    return _key_of(_request_json(conversation), endpoint)


def _key_of(request: Any, endpoint: str) -> str:
    h = hashlib.sha256(endpoint.encode("utf-8") + b"\n" + _canonical(request))
    return h.hexdigest()[:20]


def _show(v: Any) -> str:
    if v is _ABSENT:
        return "absent"
    text = orjson.dumps(v).decode("utf-8")
    return text if len(text) <= 60 else text[:57] + "..."


class _Absent:
    pass


_ABSENT = _Absent()


def _diff(a: Any, b: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            _diff(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            _diff(a[i] if i < len(a) else _ABSENT, b[i] if i < len(b) else _ABSENT, f"{path}[{i}]", out)
    elif a != b or type(a) is not type(b):
        out.append((path, a, b))


def json_diff(recorded: Any, requested: Any, *, limit: int | None = None) -> list[str]:
    """The JSON paths where two JSON values differ, one line each (``$.path: recorded X != requested Y``).

    >>> json_diff({"max_tokens": 64, "messages": [{"content": "Hello"}]},
    ...           {"max_tokens": 64, "messages": [{"content": "Hi"}], "top_k": 5})
    ['$.messages[0].content: recorded "Hello" != requested "Hi"', '$.top_k: recorded absent != requested 5']
    """
    out: list[tuple[str, Any, Any]] = []
    _diff(recorded, requested, "$", out)
    lines = [f"{p}: recorded {_show(x)} != requested {_show(y)}" for p, x, y in out]
    if limit is not None and len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _distance(a: Any, b: Any) -> int:
    out: list[tuple[str, Any, Any]] = []
    _diff(a, b, "$", out)
    return len(out)


# --------------------------------------------------------------------------- the cassette file


class Cassette:
    """The exchanges of one cassette file, looked up by key; thread-safe.

    Calls with the same key get the recorded exchanges for it in order, then the last one again.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "c.jsonl")
    >>> c = Cassette(path)
    >>> c.add({"key": "k1", "endpoint": "messages", "request": {}, "response": {"content": []}})
    >>> c.save()
    >>> Cassette(path).next("k1")["response"]
    {'content': []}
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        secrets: Iterable[str] = (),
        load: bool = True,
        detectors: Iterable[SecretDetector] = (),
    ) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._scrubber = Scrubber(secrets=secrets, detectors=detectors)
        self.entries: list[dict[str, Any]] = []
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        self._played: dict[str, int] = {}
        self._appended = False
        if load and self.path.exists():  # a recording starts empty: it replaces the file
            self._load()

    @property
    def exists(self) -> bool:
        """Whether the file is there."""
        return self.path.exists()

    def _load(self) -> None:
        with self.path.open("rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise CassetteError(f"not a cassette line ({e})", path=self.path, line=n) from None
                problem = _entry_problem(entry)
                if problem is not None:
                    raise CassetteError(problem, path=self.path, line=n)
                entry.setdefault("endpoint", "messages")
                entry["_line"] = n
                self.entries.append(entry)
                self._by_key.setdefault(entry["key"], []).append(entry)

    def next(self, key: str) -> dict[str, Any] | None:
        """The next recorded exchange for *key*, or None when there is none."""
        with self._lock:
            found = self._by_key.get(key)
            if not found:
                return None
            i = self._played.get(key, 0)
            self._played[key] = i + 1
            return found[min(i, len(found) - 1)]

    def peek(self, key: str) -> dict[str, Any] | None:
        """The exchange :meth:`next` would give for *key* now, without taking it."""
        with self._lock:
            found = self._by_key.get(key)
            if not found:
                return None
            return found[min(self._played.get(key, 0), len(found) - 1)]

    def nearest(self, request: Any, endpoint: str) -> dict[str, Any] | None:
        """The recorded exchange of *endpoint* whose request differs from *request* the least."""
        best, best_d = None, -1
        for e in self.entries:
            if e.get("endpoint") != endpoint:
                continue
            rec = e.get("request")
            if isinstance(rec, dict):
                rec = {k: v for k, v in rec.items() if k != "stream"}
            d = _distance(rec, request)
            if best is None or d < best_d:
                best, best_d = e, d
        return best

    def add(self, entry: dict[str, Any]) -> None:
        """Record one exchange: kept, and appended to the file at once (a crash loses nothing)."""
        line = self._line(entry)
        with self._lock:
            self.entries.append(entry)
            self._by_key.setdefault(entry["key"], []).append(entry)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # the first exchange of a recording session replaces what the file held before
            with self.path.open("ab" if self._appended else "wb") as f:
                f.write(line)
            self._appended = True

    def _line(self, entry: dict[str, Any]) -> bytes:
        # the key and the endpoint are the cassette's own (a hash and a name): not scrubbed
        fixed = {k: entry[k] for k in ("key", "endpoint") if k in entry}
        rest = self._scrubber.scrub({k: v for k, v in entry.items() if k not in fixed and k != "_line"})
        # then the detectors of scrub_secrets() over the request and the response (or events, or
        # error): a credential in a tool result never reaches the file
        return orjson.dumps({**fixed, **scrub_json(rest)}) + b"\n"

    def handler(self) -> Callable[[m.Conversation], m.Response]:
        """A function answering conversations from this cassette (the emulator's ``cassette=``).

        A recorded error is raised as its :mod:`convo.errors` class; a request with no recorded
        exchange raises a 404 ``not_found_error`` naming the nearest recorded request.
        """

        def answer(conversation: m.Conversation) -> m.Response:
            request = _request_json(conversation)
            key = _key_of(request, "messages")
            entry = self.next(key)
            if entry is None:
                message = _miss_message(self, request, key, "messages")
                raise error_for_status(404, {"type": "error", "error": {"type": "not_found_error", "message": message}})
            return _ReplayCore._play(entry, None, self.path)

        return answer

    def save(self) -> None:
        """Write every exchange, sorted by key, atomically (temp file, then rename)."""
        with self._lock:
            order = sorted(range(len(self.entries)), key=lambda i: (self.entries[i]["key"], i))
            data = b"".join(self._line(self.entries[i]) for i in order)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # the codec's temporary file: locked while written, swept when a killed save left it
            tmp, f = temp_beside(str(self.path))
            try:
                f.write(data)
                commit_temp(f, tmp, str(self.path))
            except BaseException:
                f.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise


_ENDPOINTS = ("messages", "count_tokens")


def _entry_problem(entry: Any) -> str | None:
    """What makes a cassette line's value not a recorded exchange, or None when it is one."""
    if not isinstance(entry, dict):
        return f"a cassette line is a JSON object, not {type(entry).__name__}"
    if not isinstance(entry.get("key"), str):
        return "a cassette line needs a string 'key'"
    endpoint = entry.get("endpoint", "messages")
    if endpoint not in _ENDPOINTS:
        return f"'endpoint' is {_show(endpoint)}, not one of {', '.join(_ENDPOINTS)}"
    if "request" in entry and not isinstance(entry["request"], dict):
        return "'request' is not a JSON object"
    betas = entry.get("betas", [])
    if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
        return "'betas' is not a list of strings"
    if "api_version" in entry and not isinstance(entry["api_version"], str):
        return _version_problem(entry["api_version"])
    outcomes = [k for k in ("response", "events", "error") if k in entry]
    if len(outcomes) != 1:
        return ("an exchange holds one of 'response', 'events' or 'error'"
                + (f", not {' and '.join(outcomes)}" if outcomes else ""))
    if "error" in entry:
        err = entry["error"]
        if not isinstance(err, dict):
            return "'error' is not a JSON object"
        status = err.get("status")
        if type(status) is not int or not 100 <= status <= 599:
            return f"'error.status' is {_show(status)}, not an HTTP status"
        for k in ("type", "message", "request_id"):
            if err.get(k) is not None and not isinstance(err[k], str):
                return f"'error.{k}' is not a string"
        return None
    if "events" in entry:
        events = entry["events"]
        if endpoint != "messages":
            return "only a messages exchange has 'events'"
        if not isinstance(events, list):
            return "'events' is not a list"
        for i, ev in enumerate(events):
            if not isinstance(ev, dict) or not isinstance(ev.get("data"), dict):
                return f"'events[{i}]' is not an object with 'event' and a 'data' object"
            if ev.get("event") is not None and not isinstance(ev["event"], str):
                return f"'events[{i}].event' is not a string"
        return None
    resp = entry["response"]
    if not isinstance(resp, dict):
        return "'response' is not a JSON object"
    if endpoint == "count_tokens" and type(resp.get("input_tokens")) is not int:
        return "a count_tokens response needs an integer 'input_tokens'"
    return None


def _version_problem(version: object) -> str:
    return f"'api_version' is {_show(version)}, not one of {', '.join(API_VERSIONS)}"


def _miss_message(cassette: Cassette, request: Any, key: str, endpoint: str) -> str:
    """What a replay miss says: the nearest recorded request and the JSON paths that differ."""
    path = cassette.path
    if not cassette.exists and not cassette.entries:
        return (
            f"cassette {path} does not exist; record it first (pytest --convo-record, "
            'or mode="record" with an inner executor)'
        )
    lines = [f"no exchange in {path} matches this {endpoint} request (key {key})"]
    near = cassette.nearest(request, endpoint)
    if near is None:
        lines.append(f"the cassette holds no {endpoint} request")
    else:
        recorded = near.get("request")
        if isinstance(recorded, dict):
            recorded = {k: v for k, v in recorded.items() if k != "stream"}
        where = f", line {near['_line']}" if "_line" in near else ""
        lines.append(f"nearest recorded request (key {near['key']}{where}) differs at:")
        lines += ["  " + d for d in json_diff(recorded, request, limit=8)]
    lines.append('re-record with pytest --convo-record, or mode="record"')
    return "\n".join(lines)


def load_cassette(path: str | os.PathLike[str]) -> Cassette:
    """Read a cassette file (for the emulator's ``cassette=`` option, or to inspect one).

    >>> import tempfile, os
    >>> load_cassette(os.path.join(tempfile.mkdtemp(), "none.jsonl")).entries
    []
    """
    return Cassette(path)


# --------------------------------------------------------------------------- the executors


def _env_secrets() -> list[str]:
    return [v for v in (os.environ.get("ANTHROPIC_API_KEY"), os.environ.get("ANTHROPIC_AUTH_TOKEN")) if v]


class _ReplayCore:
    """What the sync and async replay executors share: modes, keys, lookups, recording."""

    def __init__(
        self,
        cassette: str | os.PathLike[str],
        mode: Mode,
        inner: Any,
        *,
        validate: bool,
        api_version: str | None,
        secrets: Iterable[str],
        detectors: Iterable[SecretDetector] = (),
        betas: Iterable[str] | None = None,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
        if isinstance(betas, str):
            raise TypeError("betas is a collection of names, not one string")
        if api_version is not None and api_version not in API_VERSIONS:
            raise ValueError(f"unknown API version {api_version!r} (known: {', '.join(API_VERSIONS)})")
        inner_key = getattr(inner, "_api_key", None)
        all_secrets = [*secrets, *_env_secrets(), *([str(inner_key)] if inner_key else [])]
        if mode == "once":
            mode = "replay" if Path(cassette).exists() else "record"
        self.cassette = Cassette(cassette, secrets=all_secrets, load=mode == "replay", detectors=detectors)
        if mode == "record" and inner is None:
            raise ValueError("recording needs an inner executor to send the requests (inner=...)")
        self.mode: Literal["replay", "record"] = mode
        self.inner = inner
        self.validate = validate
        self.api_version = api_version
        self.betas = None if betas is None else tuple(betas)
        # what the inner executor sends as anthropic-beta, recorded with each exchange
        self._sent_betas = [str(b) for b in getattr(inner, "betas", None) or ()]
        if mode == "record" and self.betas is not None and set(self.betas) != set(self._sent_betas):
            raise ValueError(
                f"betas={list(self.betas)!r} differs from the inner executor's "
                f"{self._sent_betas!r}: recording sends the inner executor's headers")
        # the anthropic-version it is sent with (HttpExecutor.api_version), recorded with each
        # exchange when not the default; an inner executor without one (a mock) takes api_version=
        sent_version = getattr(inner, "api_version", None)
        if not isinstance(sent_version, str):
            sent_version = None
        if mode == "record" and None not in (api_version, sent_version) and api_version != sent_version:
            raise ValueError(
                f"api_version={api_version!r} differs from the inner executor's {sent_version!r}: "
                "recording sends the inner executor's headers")
        self._sent_version = sent_version if sent_version is not None else api_version
        # a request with no recorded exchange is checked under the version all exchanges share
        versions = {e.get("api_version", DEFAULT_API_VERSION) for e in self.cassette.entries}
        self._version_entry = self.cassette.entries[0] if len(versions) == 1 else None
        self._dirty = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.cassette.path)!r}, mode={self.mode!r}, inner={self.inner!r})"

    @property
    def recording(self) -> bool:
        """Whether requests go to the inner executor and are written down."""
        return self.mode == "record"

    def _check(self, conversation: m.Conversation, entry: dict[str, Any] | None) -> None:
        # in record mode the inner executor checks (with its own settings, its betas and API
        # version included); replay checks the same way, with the headers the request would go
        # with: betas= and api_version= when given, else those recorded with the exchange that
        # answers it, so a request the API's rules refuse fails alike in both modes, and one the
        # API took replays
        from convo import rules

        betas = self.betas
        if betas is None:
            betas = tuple(entry.get("betas", ())) if entry is not None else ()
        report = rules.validate(conversation, api_version=self._version_for(entry), betas=betas)
        if not report.ok:
            raise ValidationError(report)

    def _version_for(self, entry: dict[str, Any] | None) -> str:
        """The API version a replayed request is checked under (see :meth:`_check`)."""
        if self.api_version is not None:
            return self.api_version
        if entry is None:
            entry = self._version_entry
        version = DEFAULT_API_VERSION if entry is None else entry.get("api_version", DEFAULT_API_VERSION)
        if version not in API_VERSIONS:  # a newer convo's cassette: said where, when it matters
            raise CassetteError(_version_problem(version) + "; pass api_version= to check under one of those",
                                path=self.cassette.path, line=entry.get("_line") if entry else None,
                                json_path="$.api_version")
        return str(version)

    def _lookup(self, conversation: m.Conversation, endpoint: str) -> dict[str, Any]:
        request = _request_json(conversation)
        key = _key_of(request, endpoint)
        if self.validate and endpoint == "messages":  # before the lookup: a miss is no excuse
            self._check(conversation, self.cassette.peek(key))
        entry = self.cassette.next(key)
        if entry is not None:
            return entry
        raise self._miss(request, key, endpoint)

    def _replay(self, entry: dict[str, Any], on_event: EventCallback | None) -> m.Response:
        return self._play(entry, on_event, self.cassette.path)

    def _miss(self, request: Any, key: str, endpoint: str) -> CassetteMissError:
        return CassetteMissError(_miss_message(self.cassette, request, key, endpoint))

    @staticmethod
    def _play(entry: dict[str, Any], on_event: EventCallback | None, path: object = None) -> m.Response:
        if "error" in entry:
            raise _replayed_error(entry["error"])
        line = entry.get("_line")
        try:
            if "events" in entry:
                events = [StreamEvent(e.get("event") or "message", e["data"]) for e in entry["events"]]
                return assemble(events, on_event=on_event)
            resp: m.Response = structure(entry["response"], m.Response)
        except APIStatusError:
            raise  # a recorded `error` event: the answer as it was recorded
        except Exception as e:  # the recorded reply does not make a message: say where it is
            what = str(e) if isinstance(e, ConvoError) else f"{type(e).__name__}: {e}"
            raise CassetteError(f"the recorded reply cannot be replayed ({what})", path=path, line=line,
                                json_path=e.path if isinstance(e, DecodeError) else "$") from None
        if on_event is not None:
            for ev in events_from_response(resp):
                on_event(ev)
        return resp

    def _count(self, entry: dict[str, Any]) -> int:
        if "error" in entry:
            raise _replayed_error(entry["error"])
        n = entry.get("response", {}).get("input_tokens") if isinstance(entry.get("response"), dict) else None
        if type(n) is not int:
            raise CassetteError("a count_tokens exchange without an integer input_tokens",
                                path=self.cassette.path, line=entry.get("_line"))
        return n

    def _record(self, conversation: m.Conversation, endpoint: str, **outcome: Any) -> None:
        request = _request_json(conversation)
        entry = {"key": _key_of(request, endpoint), "endpoint": endpoint, "request": request, **outcome}
        if self._sent_betas:  # the anthropic-beta header it went with: replay checks with them
            entry["betas"] = self._sent_betas
        if self._sent_version not in (None, DEFAULT_API_VERSION):  # absent: the default
            entry["api_version"] = self._sent_version
        self.cassette.add(entry)
        self._dirty = True

    def _streams(self, conversation: m.Conversation) -> bool:
        return conversation.stream is True or bool(getattr(self.inner, "stream", False))

    def _save(self) -> None:
        if self._dirty:
            self.cassette.save()
            self._dirty = False


def _recorded_error(e: APIStatusError) -> dict[str, Any]:
    out: dict[str, Any] = {"status": e.status, "type": e.type, "message": e.message}
    if e.request_id:
        out["request_id"] = e.request_id
    if e.body is not None:
        out["body"] = e.body
    return out


def _replayed_error(err: dict[str, Any]) -> APIStatusError:
    body = err.get("body")
    if body is None:
        body = {"type": "error", "error": {"type": err.get("type"), "message": err.get("message")}}
    rid = err.get("request_id")
    return error_for_status(int(err["status"]), body, {"request-id": rid} if rid else None)


class _Collector:
    """Gathers events for the cassette and passes each on to the caller's callback."""

    def __init__(self, then: EventCallback | None) -> None:
        self.events: list[dict[str, Any]] = []
        self._then = then

    def __call__(self, ev: StreamEvent) -> None:
        self.events.append({"event": ev.event, "data": ev.data})
        if self._then is not None:
            self._then(ev)


class ReplayExecutor(_ReplayCore, Executor):
    """Replays recorded exchanges from a cassette, or records them through an inner executor.

    ``mode="replay"`` answers from the cassette only (a miss raises
    :class:`CassetteMissError`); ``"record"`` sends every request through ``inner`` and writes
    the exchanges; ``"once"`` records when the cassette does not exist yet, else replays.
    In replay mode the request is first checked with :func:`convo.validate` (``validate=False``
    turns that off), as the HTTP executor checks it when recording. What is recorded is scrubbed
    (:class:`Scrubber`): ``secrets`` are more secrets to redact, ``detectors`` more
    :data:`SecretDetector` functions.

    Betas: a recorded exchange keeps the ``anthropic-beta`` names its request went with (the
    inner executor's ``betas``, as a ``"betas"`` list; cassettes store no headers), and replay
    checks the request with them, so a key that exists only under a beta replays as it was
    recorded. ``betas=`` names them instead, for every request (for cassettes recorded without
    them, or to check against other headers); ``betas=()`` checks with none. In record mode
    ``betas`` must be the inner executor's (the headers actually sent), or it is a ValueError.

    API version: likewise, an exchange keeps the ``anthropic-version`` it was sent with (the
    inner executor's ``api_version``, as ``"api_version"``; left out when it is the default
    ``2026-10-21``, so cassettes recorded under it are unchanged), and replay checks under it. A
    request with no recorded exchange is checked under the version every exchange of the
    cassette shares, else the default. ``api_version=`` names the version instead, for every
    request; in record mode it must be the inner executor's (ValueError), and an inner executor
    without one (a mock) records under it. A version convo does not know in a cassette line is
    a :class:`CassetteError` naming the line when a request needs it.

    >>> import tempfile, os
    >>> from convo.executor import MockExecutor
    >>> path = os.path.join(tempfile.mkdtemp(), "t.jsonl")
    >>> conv = m.Conversation(model="m", max_tokens=8, messages=[m.Message("user", "Hi")])
    >>> with ReplayExecutor(path, mode="record", inner=MockExecutor(lambda c: "Hello")) as rec:
    ...     rec.execute(conv).text
    'Hello'
    >>> with ReplayExecutor(path, validate=False) as rep:
    ...     rep.execute(conv).text
    'Hello'

    A request with a beta-only key, recorded through an executor that sends no betas (a mock),
    replays once ``betas=`` names its header:

    >>> import attrs
    >>> from convo.errors import ValidationError
    >>> managed = attrs.evolve(conv, model="claude-sonnet-4-5",
    ...                        extra={"context_management": {"edits": []}})
    >>> with ReplayExecutor(path, "record", MockExecutor(lambda c: "Managed")) as rec:
    ...     rec.execute(managed).text
    'Managed'
    >>> with ReplayExecutor(path) as rep:
    ...     try:
    ...         rep.execute(managed)
    ...     except ValidationError as e:
    ...         print(e.report.errors[0].rule, e.report.errors[0].path)
    schema.beta-only $.context_management
    >>> with ReplayExecutor(path, betas=["context-management-2025-06-27"]) as rep:
    ...     rep.execute(managed).text
    'Managed'

    A temperature, refused under API 2026-10-21 and taken under 2023-06-01, replays under the
    version it was recorded with:

    >>> sampled = attrs.evolve(conv, model="claude-sonnet-4-5", temperature=0.5)
    >>> with ReplayExecutor(path, "record", MockExecutor(lambda c: "Warm"),
    ...                     api_version="2023-06-01") as rec:
    ...     rec.execute(sampled).text
    'Warm'
    >>> with ReplayExecutor(path) as rep:
    ...     rep.execute(sampled).text
    'Warm'
    >>> with ReplayExecutor(path, api_version="2026-10-21") as rep:
    ...     try:
    ...         rep.execute(sampled)
    ...     except ValidationError as e:
    ...         print(e.report.errors[0].rule, e.report.errors[0].path)
    sampling.removed $.temperature
    """

    def __init__(
        self,
        cassette: str | os.PathLike[str],
        mode: Mode = "replay",
        inner: Executor | None = None,
        *,
        validate: bool = True,
        api_version: str | None = None,
        secrets: Iterable[str] = (),
        detectors: Iterable[SecretDetector] = (),
        betas: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            cassette, mode, inner, validate=validate, api_version=api_version, secrets=secrets,
            detectors=detectors, betas=betas,
        )

    def execute(self, conversation: m.Conversation) -> m.Response:
        """The recorded reply to *conversation* (or the inner executor's, recorded)."""
        if self.recording and self._streams(conversation):
            return self.execute_stream(conversation)
        return self._run(conversation, None, stream=False)

    def execute_stream(
        self, conversation: m.Conversation, *, on_event: EventCallback | None = None
    ) -> m.Response:
        """The reply with its events: replayed as recorded, or streamed through the inner executor."""
        return self._run(conversation, on_event, stream=True)

    def _run(self, conversation: m.Conversation, on_event: EventCallback | None, *, stream: bool) -> m.Response:
        if not self.recording:
            return self._replay(self._lookup(conversation, "messages"), on_event)
        inner = self._inner()
        try:
            if stream:
                collect = _Collector(on_event)
                resp = inner.execute_stream(conversation, on_event=collect)
                self._record(conversation, "messages", events=collect.events)
            else:
                resp = inner.execute(conversation)
                self._record(conversation, "messages", response=unstructure(resp))
        except APIStatusError as e:
            self._record(conversation, "messages", error=_recorded_error(e))
            raise
        return resp

    def _inner(self) -> Executor:
        assert self.inner is not None
        inner: Executor = self.inner
        return inner

    def count_tokens(self, conversation: m.Conversation) -> int:
        """The recorded token count of *conversation* (or the inner executor's, recorded)."""
        if not self.recording:
            return self._count(self._lookup(conversation, "count_tokens"))
        try:
            n = self._inner().count_tokens(conversation)
        except APIStatusError as e:
            self._record(conversation, "count_tokens", error=_recorded_error(e))
            raise
        self._record(conversation, "count_tokens", response={"input_tokens": n})
        return n

    def save(self) -> None:
        """Write the cassette now (sorted, atomically); :meth:`close` does it too."""
        self._save()

    def close(self) -> None:
        """Write the recorded exchanges and close the inner executor."""
        self._save()
        if self.inner is not None:
            self.inner.close()


class AsyncReplayExecutor(_ReplayCore, AsyncExecutor):
    """:class:`ReplayExecutor` for async code: the inner executor is an :class:`AsyncExecutor`.

    >>> import asyncio, tempfile, os
    >>> from convo.executor import AsyncMockExecutor
    >>> path = os.path.join(tempfile.mkdtemp(), "t.jsonl")
    >>> conv = m.Conversation(model="m", max_tokens=8, messages=[m.Message("user", "Hi")])
    >>> async def main():
    ...     async with AsyncReplayExecutor(path, "record", AsyncMockExecutor(lambda c: "Yo")) as r:
    ...         await r.execute(conv)
    ...     async with AsyncReplayExecutor(path, validate=False) as r:
    ...         return (await r.execute(conv)).text
    >>> asyncio.run(main())
    'Yo'
    """

    def __init__(
        self,
        cassette: str | os.PathLike[str],
        mode: Mode = "replay",
        inner: AsyncExecutor | None = None,
        *,
        validate: bool = True,
        api_version: str | None = None,
        secrets: Iterable[str] = (),
        detectors: Iterable[SecretDetector] = (),
        betas: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            cassette, mode, inner, validate=validate, api_version=api_version, secrets=secrets,
            detectors=detectors, betas=betas,
        )

    async def execute(self, conversation: m.Conversation) -> m.Response:
        """The recorded reply to *conversation* (or the inner executor's, recorded)."""
        if self.recording and self._streams(conversation):
            return await self.execute_stream(conversation)
        return await self._run(conversation, None, stream=False)

    async def execute_stream(
        self, conversation: m.Conversation, *, on_event: EventCallback | None = None
    ) -> m.Response:
        """The reply with its events: replayed as recorded, or streamed through the inner executor."""
        return await self._run(conversation, on_event, stream=True)

    async def _run(
        self, conversation: m.Conversation, on_event: EventCallback | None, *, stream: bool
    ) -> m.Response:
        if not self.recording:
            return self._replay(self._lookup(conversation, "messages"), on_event)
        inner = self._inner()
        try:
            if stream:
                collect = _Collector(on_event)
                resp = await inner.execute_stream(conversation, on_event=collect)
                self._record(conversation, "messages", events=collect.events)
            else:
                resp = await inner.execute(conversation)
                self._record(conversation, "messages", response=unstructure(resp))
        except APIStatusError as e:
            self._record(conversation, "messages", error=_recorded_error(e))
            raise
        return resp

    def _inner(self) -> AsyncExecutor:
        assert self.inner is not None
        inner: AsyncExecutor = self.inner
        return inner

    async def count_tokens(self, conversation: m.Conversation) -> int:
        """The recorded token count of *conversation* (or the inner executor's, recorded)."""
        if not self.recording:
            return self._count(self._lookup(conversation, "count_tokens"))
        try:
            n = await self._inner().count_tokens(conversation)
        except APIStatusError as e:
            self._record(conversation, "count_tokens", error=_recorded_error(e))
            raise
        self._record(conversation, "count_tokens", response={"input_tokens": n})
        return n

    def save(self) -> None:
        """Write the cassette now (sorted, atomically); :meth:`aclose` does it too."""
        self._save()

    async def aclose(self) -> None:
        """Write the recorded exchanges and close the inner executor."""
        self._save()
        if self.inner is not None:
            await self.inner.aclose()

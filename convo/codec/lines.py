"""JSONL line kinds: what one line holds, how to tell, and how to read and write it.

Layer: codec. A transcript line is one of four kinds (DESIGN.md, "Line formats"): a Messages API
request, a Message Batches request line, a batch result line, or an exchange record that
``convo run`` writes. :func:`detect_kind` tells them apart by their keys; :func:`decode_line`
turns one :class:`RawLine` (bytes, file, line number) into a :class:`Record` or raises a
:class:`~convo.errors.DecodeError` that names the file, the line and the ``$.path``.
:func:`encode_value` writes any of the four values back as one JSON line.

Decoding is data-only: the keys of a line choose among four fixed classes; nothing in the input
names a class or a function.

>>> rec = decode_line(RawLine("in.jsonl", 3, b'{"custom_id": "a", "params": {"model": "m", '
...                                          b'"max_tokens": 8, "messages": []}}'))
>>> rec.kind, rec.value.custom_id, rec.value.params.model, f"{rec.file}:{rec.line}"
('batch_request', 'a', 'm', 'in.jsonl:3')
>>> encode_value(rec.value)
b'{"custom_id":"a","params":{"model":"m","max_tokens":8,"messages":[]}}'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from convo import model as m
from convo.codec import (
    _converter,
    dump_json,
    parse_json,
    plain_request,
    structure,
    structure_exactly,
)
from convo.codec._converter import REUSE, UNSTRUCTURE, describe
from convo.errors import DecodeError

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import field, frozen
else:
    from convo._frozen import field, frozen


__all__ = [
    "BOM",
    "JSON_WHITESPACE",
    "LINE_KINDS",
    "REQUEST_FIELDS",
    "LineKind",
    "RawLine",
    "Record",
    "Value",
    "conversation_of",
    "decode_json_line",
    "decode_line",
    "decode_value",
    "detect_kind",
    "encode_value",
    "is_blank",
    "lazy_masks",
]

LineKind: TypeAlias = Literal["request", "batch_request", "batch_result", "exchange"]
LINE_KINDS: tuple[LineKind, ...] = get_args(LineKind)
"""Every line kind, in the order :func:`detect_kind` considers them."""

Value: TypeAlias = m.Conversation | m.BatchRequest | m.BatchResult | m.Exchange
"""What a line holds once decoded."""

BOM = b"\xef\xbb\xbf"
"""A UTF-8 byte order mark. At the start of a line it is no part of the JSON text and is skipped,
as RFC 8259 §8.1 allows: a file's own (line 1), or one that concatenating files left mid-file.
Readers keep it in the line's bytes, so a rejected line keeps it too."""

JSON_WHITESPACE = b" \t\r\n"
"""What JSON calls whitespace (RFC 8259 §2). A line of nothing else is blank; any other byte
(``\\x0b``, ``\\x0c``, ``\\x1c``, a no-break space) makes a line that is read, and rejected."""

_WS_OR_BOM = frozenset(JSON_WHITESPACE + BOM[:1])


def is_blank(data: bytes | memoryview) -> bool:
    """Whether a line holds no JSON text: only JSON whitespace, after a byte order mark.

    Every command and reader skips exactly these lines (and counts them as blank).

    >>> is_blank(b" \\t\\r"), is_blank(b""), is_blank(BOM + b" ")
    (True, True, True)
    >>> is_blank(b"\\x0b"), is_blank(b"\\x0c \\x0c"), is_blank(b"\\xc2\\xa0")
    (False, False, False)
    """
    if not data:
        return True
    if data[0] not in _WS_OR_BOM:  # the common case: a line that starts with its JSON
        return False
    b = bytes(data)
    if b.startswith(BOM):
        b = b[len(BOM):]
    return not b.strip(JSON_WHITESPACE)

_CLASSES: dict[str, type[Any]] = {
    "request": m.Conversation,
    "batch_request": m.BatchRequest,
    "batch_result": m.BatchResult,
    "exchange": m.Exchange,
}

_UNKNOWN_KIND = (
    "a line convo can read: a request (with \"messages\" or \"model\"), a batch request "
    "(\"custom_id\" and \"params\"), a batch result (\"custom_id\" and \"result\") or an exchange "
    "(\"request\" and \"response\", \"error\" or \"id\")"
)


def detect_kind(obj: dict[str, Any]) -> LineKind:
    """The kind of a decoded JSONL line, told by its keys (raises DecodeError when none fits).

    >>> detect_kind({"model": "claude-opus-4-8", "max_tokens": 8, "messages": []})
    'request'
    >>> detect_kind({"custom_id": "r1", "result": {"type": "canceled"}})
    'batch_result'
    >>> detect_kind({"id": 7, "request": {}, "response": {}})
    'exchange'
    >>> detect_kind({"prompt": "hi"})
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: $: expected a line convo can read: a request (with "messages" or ...
    """
    if "messages" in obj or "model" in obj:
        return "request"
    if "custom_id" in obj:
        if "params" in obj:
            return "batch_request"
        if "result" in obj:
            return "batch_result"
    if "request" in obj and ("response" in obj or "error" in obj or "id" in obj):
        return "exchange"
    raise DecodeError(f"expected {_UNKNOWN_KIND}")


@frozen
class RawLine:
    """One line of input, before decoding: where it came from and its bytes.

    ``line`` is 1-based and counts blank lines. ``error`` is set when the line could not even be
    read whole (it is longer than the reader's limit, or the file is corrupt); ``data`` then holds
    at most the first :data:`~convo.codec.jsonl.ERROR_HEAD_BYTES` bytes, for the reader's eyes.

    >>> RawLine("-", 1, b"{}")
    RawLine(file='-', line=1, data=b'{}', error=None)
    """

    file: str
    line: int
    data: bytes = field(repr=lambda d: repr(d) if len(d) <= 80 else f"<{len(d)} bytes>")
    error: DecodeError | None = None


@frozen
class Record:
    """One decoded line: its kind, the value, and where it came from (``raw``: the line's bytes)."""

    kind: LineKind
    value: Value
    file: str
    line: int
    raw: bytes = field(repr=lambda d: f"<{len(d)} bytes>")


def decode_line(raw: RawLine, *, kind: LineKind | None = None) -> Record:
    """Decode one line into a :class:`Record`; *kind* forces the kind instead of detecting it.

    Every failure is a :class:`~convo.errors.DecodeError` located at ``file:line`` with the
    ``$.path`` inside the line.

    >>> decode_line(RawLine("a.jsonl", 2, b'{"model": "m", "messages": [{"role": 1}]}'))
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: a.jsonl:2: $.messages[0].role: expected a string, got an integer
    >>> decode_line(RawLine("a.jsonl", 5, b'{"model": "m"}'), kind="exchange")
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: a.jsonl:5: $.request: missing required key
    """
    kind, value, _ = _decode(raw, kind)
    return Record(kind, value, raw.file, raw.line, raw.data)


def decode_json_line(raw: RawLine, *, kind: LineKind | None = None) -> tuple[Value, Any]:
    """:func:`decode_line`'s value and the parsed JSON it was built from, for
    ``encode_value(new, base=(value, parsed))``: the turns of the line's conversation that are
    unchanged in *new* are then written from that JSON as they were read, not built again.

    >>> value, parsed = decode_json_line(RawLine("a.jsonl", 1, b'{"messages": [{"content": "hi", '
    ...                                                       b'"role": "user"}], "model": "m"}'))
    >>> encode_value(value.with_params(model="n"), base=(value, parsed))
    b'{"model":"n","messages":[{"content":"hi","role":"user"}]}'
    >>> encode_value(value.with_params(model="n"))
    b'{"model":"n","messages":[{"role":"user","content":"hi"}]}'
    """
    if raw.error is not None:
        raise raw.error
    _, value, parsed = _decode_bytes(raw.file, raw.line, raw.data, kind)
    return value, parsed


def decode_json_bytes(file: str, line: int, data: bytes, kind: LineKind | None = None, *,
                      parsed: Any = None) -> tuple[Value, Any]:
    """:func:`decode_json_line` of ``RawLine(file, line, data)`` (the line engine's, which holds
    the three already). *parsed* is ``orjson.loads(data)`` where the caller has it already (a
    JSON object, owned by the codec from now on), so as not to parse it twice.

    >>> decode_json_bytes("a.jsonl", 3, b'{"model": 1}')
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: a.jsonl:3: $.model: expected a string, got an integer
    """
    _, value, parsed = _decode_bytes(file, line, data, kind, parsed)
    return value, parsed


def lazy_masks(turns: list[Any]) -> list[int] | None:
    """The codec's lazy check of a parsed ``messages`` array (in C where it is built): the
    :data:`~convo.model.LAZY_BITS` of each turn, or None where they are not all kept parsed when
    decoded. Read only.

    >>> lazy_masks([{"role": "user", "content": "hi"}]), lazy_masks([{"content": "hi", "role": "user"}])
    ([0], None)
    """
    return _converter.check_messages(turns)


def _decode(raw: RawLine, kind: LineKind | None) -> tuple[LineKind, Value, Any]:
    if raw.error is not None:
        raise raw.error
    return _decode_bytes(raw.file, raw.line, raw.data, kind)


def _decode_bytes(file: str, line: int, data: bytes, kind: LineKind | None,
                  obj: Any = None) -> tuple[LineKind, Value, Any]:
    if data[:3] == BOM:  # no part of the JSON text (kept in the line's bytes)
        data = data[3:]
    try:
        if obj is None:
            obj = parse_json(data)
        if obj.__class__ is not dict:
            raise DecodeError(f"expected a JSON object, got {describe(obj)}")
        if kind is None:
            kind = detect_kind(obj)
            if kind == "request":  # the plain request straight: what the general path does, fewer calls
                conv = plain_request(obj)
                if conv is not None:
                    return kind, conv, obj
        cls = _CLASSES.get(kind)
        if cls is None:
            raise DecodeError(f"unknown line kind {kind!r}: expected one of {', '.join(LINE_KINDS)}")
        value, obj = structure_exactly(data, obj, cls)
    except DecodeError as e:
        raise e.located(file=file, line=line) from None
    return kind, value, obj


def decode_value(obj: Any, kind: LineKind) -> Value:
    """The value of an already-parsed JSON line of *kind* (numbers are taken as they are).

    >>> decode_value({"id": 1, "request": {"model": "m", "messages": []},
    ...               "error": {"type": "overloaded_error"}}, "exchange").error["type"]
    'overloaded_error'
    """
    cls = _CLASSES.get(kind)
    if cls is None:
        raise DecodeError(f"unknown line kind {kind!r}: expected one of {', '.join(LINE_KINDS)}")
    if obj.__class__ is not dict:
        raise DecodeError(f"expected a JSON object, got {describe(obj)}")
    return structure(obj, cls)  # type: ignore[no-any-return]


def encode_value(value: Value | m.Response, *, base: tuple[Value, Any] | None = None) -> bytes:
    """One JSON line (no newline) for a decoded value; for a request it is ``convo.dumps``.

    *base* is ``(value, parsed)`` from :func:`decode_json_line` for the line *value* came from
    (through transforms): each turn still unchanged is written from *parsed*, with its keys in the
    order they were read, which is the same JSON and costs nothing to build.

    >>> encode_value(m.BatchResult(custom_id="r1", result_type="expired"))
    b'{"custom_id":"r1","result":{"type":"expired"}}'
    """
    if base is not None:
        reuse = _reusable(*base)
        if reuse is not None:
            token = REUSE.set(reuse)
            try:
                return dump_json(UNSTRUCTURE[value.__class__](value))
            finally:
                REUSE.reset(token)
    return dump_json(UNSTRUCTURE[value.__class__](value))


REQUEST_FIELDS: dict[type[Any], str] = {m.BatchRequest: "params", m.Exchange: "request"}
"""Where a batch request line and an exchange hold their request (attribute and JSON key)."""


def conversation_of(value: Value) -> m.Conversation | None:
    """The conversation a line holds: the request, a batch line's params, an exchange's request.

    A batch *result* line holds none.

    >>> conversation_of(m.BatchRequest(custom_id="a", params=m.Conversation(model="x"))).model
    'x'
    """
    if isinstance(value, m.Conversation):
        return value
    key = _request_field(value)
    return None if key is None else getattr(value, key)


def _request_field(value: Value) -> str | None:
    """The :data:`REQUEST_FIELDS` entry of *value*'s class (or of the class it derives from)."""
    key = REQUEST_FIELDS.get(value.__class__)
    if key is None:
        key = next((k for cls, k in REQUEST_FIELDS.items() if isinstance(value, cls)), None)
    return key


def _reusable(before: Value, parsed: Any) -> tuple[tuple[m.Message, ...], list[Any]] | None:
    """The messages of *before*'s conversation and the parsed JSON of each (None: no turns)."""
    if isinstance(before, m.Conversation):
        conv, req = before, parsed
    else:
        key = _request_field(before)
        if key is None:  # a batch result line: no request
            return None
        conv, req = getattr(before, key), parsed.get(key)
    if m.lazy_turns(conv) is not None:  # its turns were never built: none can be reused
        return None
    msgs = conv.messages
    if msgs.__class__ is not tuple or req.__class__ is not dict:  # no "messages" key: UNSET
        return None
    js = req.get("messages")
    if js.__class__ is not list or len(js) != len(msgs):
        return None
    return msgs, js

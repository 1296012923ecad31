"""Conversations as Arrow tables: columns a data user queries, and every line kept losslessly.

Layer: datasets (with :mod:`convo.hf`; above the codec, beside the executor, below the line
engine that reads and writes Parquet with it). The optional extra ``convo[arrow]`` (pyarrow);
``import convo`` never imports this module.

One row per JSONL line convo reads (a request, a batch request or result line, an exchange
record). The schema (:data:`SCHEMA`, version :data:`SCHEMA_VERSION`):

================  ===========================  =================================================
column            type                         what
================  ===========================  =================================================
``kind``          string                       ``request``, ``batch_request``, ``batch_result``
                                               or ``exchange``
``id``            string                       an exchange's ``id`` (as text), a batch line's
                                               ``custom_id``; null for a request
``model``         string                       the request's model (else the response's)
``messages``      list<struct>                 the dialogue in the Hugging Face chat convention:
                                               ``role``, ``content`` (always a string), and
                                               ``reasoning_content``, ``tool_calls`` (``id``,
                                               ``type: "function"``, ``function``: ``name``,
                                               ``arguments`` as JSON), ``tool_call_id``, ``name``
                                               (null where they do not apply); an exchange's or a
                                               batch result's response is the last assistant turn
``tools``         list<json>                   tool definitions as chat templates take them
                                               (``{"type": "function", "function": {...}}``)
``n_turns``       int32                        turns (messages, the response included)
``n_images``      int32                        images (those inside tool results too)
``n_tool_calls``  int32                        ``tool_use`` and ``server_tool_use`` blocks
``est_tokens``    int64                        the request's input tokens, estimated
                                               (:func:`convo.transforms.estimate_tokens`)
``stop_reason``   string                       the response's stop reason
``usage``         struct<int64 x 4>            the response's ``input_tokens``, ``output_tokens``,
                                               ``cache_creation_input_tokens``,
                                               ``cache_read_input_tokens``
``json``          large_string                 **the line itself**: convo's lossless JSON
================  ===========================  =================================================

``json`` is the truth; every other column is a view of it, computed when the row is written.
Reading a table back (:func:`from_table`, ``convo convert --from parquet``) uses ``json`` alone,
so JSONL -> Parquet -> JSONL gives the same JSON value for every line: unknown fields and block
types, thinking signatures, ``null`` vs absent and integers beyond 64 bits included. The views
are lossy by design: in ``messages`` text blocks are joined (a blank line between them; as
written in assistant turns, where the API splits one answer at its citations), images and other
blocks are counted, not shown, and a JSON integer beyond 64 bits in tool arguments or tool
definitions becomes a float (the ``datasets`` JSON decoder refuses larger ones).
``arguments`` and ``tools`` have Arrow's JSON type (``arrow.json``): ``datasets`` turns them into
Python objects, which is what chat templates expect (``tool_call.arguments | tojson``), and DuckDB
reads them as ``JSON``. ``json`` stays a plain string so that nothing decodes it on the way
(``datasets``' decoder would fail on a big integer there).

Why a JSON column beside flat views, and not the request as nested structs. Measured with
``benchmarks/parquet.py`` on 52 MB of logged conversations (4,122 lines; CPU seconds, best of 3;
zstd), three layouts, each checked to read back the same JSON values:

==============  =======  ========  ===============  =====================================
layout          write s  read s    size             DuckDB "tool calls per model", wall
==============  =======  ========  ===============  =====================================
JSON column     0.60     0.33      1.01x JSONL.gz   8.3 s (``unnest(json_extract(...))``)
nested structs  1.68     1.48      0.99x JSONL.gz   3.8 s (``unnest(flatten(...))``)
convo (both)    2.14     0.57      1.24x JSONL.gz   0.07 s (``sum(n_tool_calls)``)
==============  =======  ========  ===============  =====================================

- A lossless nested layout needs a JSON escape anyway (tool inputs, ``extra``, unknown blocks and
  big integers have no fixed Arrow type), and a rule that sends null and mistyped values there
  to keep ``null`` apart from absent. Against one JSON column it wrote 2.8x slower and read back
  to JSONL 4.5x slower (each line rebuilt in Python), for the same size.
- What users query (models, counts, stop reasons, usage, the chat) is fastest as flat columns:
  50x faster than nested structs and 110x faster than JSON functions, and the SQL is one line.
  Anything else is one DuckDB expression away: ``json->>'$.metadata.user_id'``.
- So convo writes both: the views (+23% on disk, and the cost of decoding each line to build
  them, which also checks it) and the JSON column, which reading back only copies.

>>> import convo
>>> conv = convo.Conversation(model="claude-opus-4-8", max_tokens=64).user("Hi").assistant("Hello!")
>>> table = to_table([conv])
>>> table.column("messages")[0].as_py()[1]["content"], table.column("n_turns")[0].as_py()
('Hello!', 2)
>>> [v == conv for v in from_table(table)]
[True]
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson
import pyarrow as pa

from convo import model as m
from convo._json import UNSET
from convo.codec.lines import (
    RawLine,
    Value,
    conversation_of,
    decode_json_line,
    decode_line,
    encode_value,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "batch_of_lines",
    "batch_of_values",
    "from_batches",
    "from_table",
    "IPC_MAGIC",
    "ipc_bytes",
    "json_lines",
    "read_ipc",
    "row_of",
    "to_batches",
    "to_polars",
    "to_table",
]

SCHEMA_VERSION: Final = 1

_JSON = pa.json_()
_CALL = pa.struct([
    ("id", pa.string()),
    ("type", pa.string()),
    ("function", pa.struct([("name", pa.string()), ("arguments", _JSON)])),
])
_MESSAGE = pa.struct([
    ("role", pa.string()),
    ("content", pa.string()),
    ("reasoning_content", pa.string()),
    ("tool_calls", pa.list_(pa.field("element", _CALL))),
    ("tool_call_id", pa.string()),
    ("name", pa.string()),
])
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_USAGE = pa.struct([(k, pa.int64()) for k in _USAGE_KEYS])

SCHEMA: Final = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("model", pa.string()),
        pa.field("messages", pa.list_(pa.field("element", _MESSAGE))),
        pa.field("tools", pa.list_(pa.field("element", _JSON))),
        pa.field("n_turns", pa.int32(), nullable=False),
        pa.field("n_images", pa.int32(), nullable=False),
        pa.field("n_tool_calls", pa.int32(), nullable=False),
        pa.field("est_tokens", pa.int64(), nullable=False),
        pa.field("stop_reason", pa.string()),
        pa.field("usage", _USAGE),
        pa.field("json", pa.large_string(), nullable=False),
    ],
    metadata={b"convo": orjson.dumps({"schema_version": SCHEMA_VERSION})},
)
"""The Arrow schema of a convo table (the module docstring says what each column holds)."""

COLUMNS: Final = tuple(SCHEMA.names)


def _storage(t: pa.DataType) -> pa.DataType:
    """*t* with every JSON extension type replaced by its storage (a string): what pyarrow can
    build from Python values; the result is then cast to *t*."""
    if isinstance(t, pa.BaseExtensionType):
        return t.storage_type
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _storage(f.type), f.nullable) for f in t])
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, _storage(t.value_type)))
    return t


_STORAGE = {f.name: _storage(f.type) for f in SCHEMA}
_KINDS: dict[type[Any], str] = {
    m.Conversation: "request",
    m.BatchRequest: "batch_request",
    m.BatchResult: "batch_result",
    m.Exchange: "exchange",
}
_INT64 = (-(1 << 63), (1 << 63) - 1)


# --------------------------------------------------------------------------- the views


def _int64(v: Any) -> int | None:
    """*v* when it is an integer that fits an int64 column, else None."""
    if v.__class__ is int and _INT64[0] <= v <= _INT64[1]:
        return v
    return None


def _lossy_json(value: Any) -> str:
    """JSON text of *value* for a view column: integers beyond 64 bits become floats."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return orjson.dumps(_floats(value)).decode()


def _floats(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    if isinstance(v, tuple | list):
        return [_floats(x) for x in v]
    if v.__class__ is int and not _INT64[0] <= v <= _INT64[1]:
        return float(v)
    return v


def _text(blocks: Iterable[Any], sep: str) -> str:
    return sep.join(b.text for b in blocks if b.__class__ is m.Text)


def _result_text(r: m.ToolResult) -> str:
    c = r.content
    if c is UNSET:
        return ""
    if isinstance(c, str):
        return c
    return _text(c, "\n\n")


class _Dialogue:
    """The chat messages and counts of one row, built turn by turn."""

    __slots__ = ("calls", "images", "messages", "names", "turns")

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}  # tool_use id -> tool name, for the tool messages
        self.turns = 0
        self.images = 0
        self.calls = 0

    def system(self, system: Any) -> None:
        if isinstance(system, str):
            self.messages.append(_chat("system", system))
        elif isinstance(system, tuple):
            self.messages.append(_chat("system", _text(system, "\n\n")))

    def count(self, blocks: Iterable[Any]) -> None:
        for b in blocks:
            cls = b.__class__
            if cls is m.Image:
                self.images += 1
            elif cls is m.ToolUse or cls is m.ServerToolUse:
                self.calls += 1
            elif cls is m.ToolResult and b.content.__class__ is tuple:
                self.count(b.content)  # images inside tool results count too (facts §3.3)

    def turn(self, role: Any, content: Any) -> None:
        self.turns += 1
        role = role if isinstance(role, str) else str(role)
        if isinstance(content, str):
            self.messages.append(_chat(role, content))
            return
        if not isinstance(content, tuple):  # absent (or null) content: an empty turn
            content = ()
        self.count(content)
        texts: list[Any] = []
        reasoning: list[str] = []
        calls: list[dict[str, Any]] = []
        for b in content:
            cls = b.__class__
            if cls is m.Text:
                texts.append(b)
            elif cls is m.ToolResult:
                msg = _chat("tool", _result_text(b))
                msg["tool_call_id"] = b.tool_use_id
                msg["name"] = self.names.get(b.tool_use_id)
                self.messages.append(msg)
            elif cls is m.ToolUse:
                self.names[b.id] = b.name
                calls.append({"id": b.id, "type": "function",
                              "function": {"name": b.name, "arguments": _lossy_json(b.input)}})
            elif cls is m.Thinking:
                reasoning.append(b.thinking)
        if texts or calls or reasoning or not content or role != "user":
            # a user turn of tool results alone is those tool messages, nothing more
            msg = _chat(role, _text(texts, "" if role == "assistant" else "\n\n"))
            if reasoning:
                msg["reasoning_content"] = "\n\n".join(reasoning)
            if calls:
                msg["tool_calls"] = calls
            self.messages.append(msg)


def _chat(role: str, content: str) -> dict[str, Any]:
    return {"role": role, "content": content}


def _tools(conv: m.Conversation) -> list[str] | None:
    if not isinstance(conv.tools, tuple):
        return None
    out = []
    for t in conv.tools:
        if not isinstance(t, dict) or "input_schema" not in t or not isinstance(t.get("name"), str):
            continue  # server tools (web search, code execution, ...) have no function schema
        fn: dict[str, Any] = {"name": t["name"]}
        if isinstance(t.get("description"), str):
            fn["description"] = t["description"]
        fn["parameters"] = t["input_schema"]
        out.append(_lossy_json({"type": "function", "function": fn}))
    return out


_ESTIMATORS: dict[Any, Any] = {}


def _estimate(conv: m.Conversation) -> int:
    """:func:`convo.transforms.estimate_tokens`, with the estimator of each model built once."""
    est = _ESTIMATORS.get(conv.model)
    if est is None:
        from convo.profiles import UnknownModelWarning
        from convo.transforms.tokens import estimator

        with warnings.catch_warnings():
            # a model without a profile is estimated with the default; a table is no place to say so
            warnings.simplefilter("ignore", UnknownModelWarning)
            est = estimator(conv)
        if len(_ESTIMATORS) < 1024:  # model names come from the data: keep the cache bounded
            _ESTIMATORS[conv.model] = est
    try:
        msgs = conv.messages if isinstance(conv.messages, tuple) else ()
        return int(est.base(conv) + sum(est.message(x) for x in msgs))
    except Exception:  # an estimate is advisory: never lose a row over it
        return 0


def row_of(value: Value, json: bytes | None = None) -> dict[str, Any]:
    """The row of one line's value (*json*: its JSON, when the caller has it already).

    >>> row = row_of(m.Exchange(id=7, request=m.Conversation(model="m").user("Hi"),
    ...                         response=m.Response(stop_reason="end_turn", content=(m.Text("Yo"),))))
    >>> row["kind"], row["id"], [c["role"] for c in row["messages"]], row["stop_reason"]
    ('exchange', '7', ['user', 'assistant'], 'end_turn')
    """
    kind = _KINDS.get(value.__class__)
    if kind is None:
        kind = next((k for cls, k in _KINDS.items() if isinstance(value, cls)), None)
        if kind is None:
            raise TypeError(f"expected a Conversation, BatchRequest, BatchResult or Exchange, "
                            f"got {type(value).__name__}")
    ident: Any = None
    resp: m.Response | None = None
    if isinstance(value, m.Exchange):
        ident = value.id
        if isinstance(value.response, m.Response):
            resp = value.response
    elif isinstance(value, m.BatchRequest | m.BatchResult):
        ident = value.custom_id
        if isinstance(value, m.BatchResult) and isinstance(value.message, m.Response):
            resp = value.message
    conv = conversation_of(value)
    d = _Dialogue()
    model: Any = None
    tools = None
    tokens = 0
    if conv is not None:
        model = conv.model
        d.system(conv.system)
        if isinstance(conv.messages, tuple):  # absent in a line that had no "messages"
            for msg in conv.messages:
                d.turn(msg.role, msg.content)
        tools = _tools(conv)
        tokens = _estimate(conv)
    usage = None
    stop = None
    if resp is not None:
        d.turn("assistant", resp.blocks)
        if not isinstance(model, str):
            model = resp.model
        stop = resp.stop_reason if isinstance(resp.stop_reason, str) else None
        u = resp.usage
        if isinstance(u, m.Usage):
            usage = {k: _int64(getattr(u, k)) for k in _USAGE_KEYS}
    return {
        "kind": kind,
        "id": None if ident is None or ident is UNSET else str(ident),
        "model": model if isinstance(model, str) else None,
        "messages": d.messages if conv is not None or resp is not None else None,
        "tools": tools,
        "n_turns": d.turns,
        "n_images": d.images,
        "n_tool_calls": d.calls,
        "est_tokens": tokens,
        "stop_reason": stop,
        "usage": usage,
        "json": (encode_value(value) if json is None else json).decode("utf-8"),
    }


def _batch(rows: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    arrays = []
    for f in SCHEMA:
        arr = pa.array([r[f.name] for r in rows], type=_STORAGE[f.name])
        if arr.type != f.type:
            arr = arr.cast(f.type)
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


# --------------------------------------------------------------------------- values <-> Arrow


def to_batches(values: Iterable[Value], *, rows: int = 4096) -> Iterator[pa.RecordBatch]:
    """Record batches of at most *rows* rows for a stream of values (flat memory).

    >>> import convo
    >>> [b.num_rows for b in to_batches([convo.Conversation(model="m")] * 5, rows=2)]
    [2, 2, 1]
    """
    buf: list[dict[str, Any]] = []
    for v in values:
        buf.append(row_of(v))
        if len(buf) >= rows:
            yield _batch(buf)
            buf = []
    if buf:
        yield _batch(buf)


def to_table(values: Iterable[Value]) -> pa.Table:
    """A table of *values* (requests, batch lines, exchanges), in :data:`SCHEMA`.

    >>> to_table([]).num_rows, to_table([]).schema.names[-1]
    (0, 'json')
    """
    return pa.Table.from_batches(list(to_batches(values)), schema=SCHEMA)


def json_lines(batch: pa.RecordBatch | pa.Table) -> list[bytes]:
    """The ``json`` column as JSONL lines (bytes, no newline), without decoding anything.

    >>> import convo
    >>> json_lines(to_table([convo.Conversation(model="m")]))
    [b'{"model":"m","messages":[]}']
    """
    col = batch.column("json")
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out: list[bytes] = []
    for arr in chunks:
        if arr.type != pa.large_string():
            arr = arr.cast(pa.large_string())
        out.extend(b"" if v is None else v.encode("utf-8") for v in arr.to_pylist())
    return out


def from_batches(
    batches: Iterable[pa.RecordBatch], *, source: str = "<arrow>"
) -> Iterator[Value]:
    """The values of a stream of batches, in order, decoded losslessly from ``json``.

    A row that does not decode raises :class:`~convo.errors.DecodeError` naming *source*, the
    row (1-based) as its line, and the ``$.path``.

    >>> import convo
    >>> [v.model for v in from_batches(to_batches([convo.Conversation(model="m")]))]
    ['m']
    """
    row = 0
    for batch in batches:
        kinds = batch.column("kind").to_pylist() if "kind" in batch.schema.names else None
        for i, line in enumerate(json_lines(batch)):
            row += 1
            kind = kinds[i] if kinds is not None else None
            yield decode_line(RawLine(source, row, line), kind=kind).value


def from_table(table: pa.Table, *, source: str = "<arrow>") -> list[Value]:
    """The values of a table (see :func:`from_batches`).

    >>> import convo
    >>> [v.model for v in from_table(to_table([convo.Conversation(model="m")]))]
    ['m']
    """
    return list(from_batches(table.to_batches(), source=source))


def to_polars(data: Iterable[Value] | pa.Table) -> pl.DataFrame:
    """A polars frame of *data* (values, or a table from :func:`to_table` or a Parquet file),
    JSON columns as strings (polars keeps no JSON type).

    >>> import convo
    >>> to_polars([convo.Conversation(model="m").user("Hi")]).select("model", "n_turns").row(0)
    ('m', 1)
    """
    import polars as pl

    table = data if isinstance(data, pa.Table) else to_table(data)
    return pl.from_arrow(_plain(table))  # type: ignore[return-value]


def _plain(table: pa.Table) -> pa.Table:
    """*table* with JSON extension types cast to their string storage."""
    return table.cast(pa.schema([pa.field(f.name, _storage(f.type), f.nullable) for f in table.schema],
                                metadata=table.schema.metadata))


# --------------------------------------------------------------------------- lines <-> batches


def batch_of_lines(lines: Sequence[bytes | memoryview], *, source: str = "<lines>") -> pa.RecordBatch:
    """The batch of JSONL lines that convo wrote (each decodes as a line kind; ``json`` holds the
    line as given).

    >>> batch_of_lines([b'{"model":"m","messages":[]}']).column("model").to_pylist()
    ['m']
    """
    rows = []
    for i, raw in enumerate(lines, 1):
        data = bytes(raw)
        value, _ = decode_json_line(RawLine(source, i, data))
        rows.append(row_of(value, data))
    return _batch(rows)


def batch_of_values(values: Sequence[Value], lines: Sequence[bytes]) -> pa.RecordBatch:
    """The batch of *values*, whose JSON lines (:func:`~convo.codec.lines.encode_value`) are
    *lines*: nothing is decoded or encoded again.

    >>> import convo
    >>> conv = convo.Conversation(model="m")
    >>> batch_of_values([conv], [convo.dumps(conv)]).column("json").to_pylist()
    ['{"model":"m","messages":[]}']
    """
    return _batch([row_of(v, bytes(d)) for v, d in zip(values, lines, strict=True)])


def ipc_bytes(batch: pa.RecordBatch) -> bytes:
    """*batch* as an Arrow IPC stream (what a worker process hands back to the writer).

    >>> len(read_ipc(ipc_bytes(batch_of_lines([b'{"messages":[]}']))))
    1
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def read_ipc(data: bytes) -> list[pa.RecordBatch]:
    """The batches of an Arrow IPC stream (:func:`ipc_bytes`)."""
    return list(pa.ipc.open_stream(data))


IPC_MAGIC: Final = b"\xff\xff\xff\xff"
"""How an Arrow IPC stream starts (its continuation marker); JSON text never does."""

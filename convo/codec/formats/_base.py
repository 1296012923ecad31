"""What every foreign format shares: :class:`Loss`, :class:`Conversion`, :class:`Format`, and the
helpers the readers and writers use (shape checks, data URLs, tool-call ids, the chat builder).

Layer: codec. A reader turns one foreign value into a :class:`~convo.model.Conversation` and says,
in :class:`Loss` records, everything it could not carry or had to change; a writer does the same the
other way. Nothing is dropped without a record. Paths in a reader's losses point into the foreign
value (``$.messages[2].name``); paths in a writer's losses point into the conversation's Messages
API JSON (``$.messages[3].content[1]``).
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, cast

import attrs
import orjson
from attrs import field, frozen

from convo._json import UNSET, FrozenDict, Json, Unset, freeze, thaw
from convo.codec import dump_json, parse_json
from convo.codec.jsonl import iter_lines, sniff_gzip
from convo.codec.lines import BOM, RawLine
from convo.errors import DecodeError
from convo.model import (
    NO_MESSAGES,
    Base64Source,
    Block,
    ContentSource,
    Conversation,
    Document,
    FileSource,
    Image,
    Message,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
    URLSource,
)

__all__ = [
    "Conversion",
    "Format",
    "Loss",
    "ImageLoader",
]

ImageLoader = Callable[[str], Image]
"""Turns an image reference that is neither a data URL nor an http(s) URL (a local path, usually)
into an :class:`~convo.model.Image`; the command passes one that reads files next to the input."""


# --------------------------------------------------------------------------- records


@frozen
class Loss:
    """One thing a conversion could not carry, or had to change: where, what, and why.

    >>> str(Loss("$.messages[0].name", "name 'alice'", "the Messages API has no message names"))
    "$.messages[0].name: name 'alice' (the Messages API has no message names)"
    >>> str(Loss("$.summary", "summary line", "not part of the conversation", line=3))
    'line 3: $.summary: summary line (not part of the conversation)'
    """

    path: str
    what: str
    why: str
    line: int | None = field(default=None, kw_only=True)

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.what} ({self.why})"

    @property
    def key(self) -> str:
        """The path with its indices generalised: what to count losses by across many lines.

        >>> Loss("$.messages[12].tool_calls[0].view", "view", "bookkeeping").key
        '$.messages[*].tool_calls[*].view'
        """
        return _INDEX.sub("[*]", self.path)


_INDEX = re.compile(r"\[\d+\]")


def _losses(value: Iterable[Loss]) -> tuple[Loss, ...]:
    return value if type(value) is tuple else tuple(value)


@frozen
class Conversion:
    """A conversation read from a foreign value, what it could not carry, and where it came from.

    A preference record reads as a pair that stays paired: *conversation* is the chosen side and
    *rejected* the other (TRL and LLaMA-Factory DPO, HH-RLHF); a KTO record has a *label* (whether
    the completion is desirable). *meta* says where the conversation sits among others (a Claude
    Code subagent's ``session_id``, ``agent_id`` and the ``parent_tool_use_id`` that started it) and
    how the record was written, so that a writer of the same format can write it the same way.

    >>> c = Conversion(Conversation(), [Loss("$.id", "id 'x'", "no place for it")], source="a.json[0]")
    >>> c.losses[0].path, c.source, c.rejected, c.label, c.meta
    ('$.id', 'a.json[0]', None, None, {})
    """

    conversation: Conversation
    losses: tuple[Loss, ...] = field(default=(), converter=_losses)
    source: str | None = None
    rejected: Conversation | None = field(default=None, kw_only=True)
    label: bool | None = field(default=None, kw_only=True)
    meta: dict[str, Any] = field(factory=dict, kw_only=True, eq=False)

    @property
    def paired(self) -> bool:
        """Whether this is a preference record: a rejected side, or a KTO label."""
        return self.rejected is not None or self.label is not None


Reader = Callable[..., Conversion]
Writer = Callable[..., "tuple[Any, tuple[Loss, ...]]"]
FileReader = Callable[..., Iterator[Conversion]]


@frozen
class Format:
    """A foreign transcript format: its name, and how to read and write it.

    Line formats (``openai``, ``sharegpt``, ...) read one JSON value at a time with :meth:`read`;
    whole-file formats (``inspect``, ``claude-code``) read a file with :meth:`read_file`. Every
    reading format has :meth:`read_file`; for line formats it reads JSONL or a JSON array.

    >>> fmt = Format("upper", "text in capitals", reader=lambda obj, source=None: Conversion(
    ...     Conversation().user(obj.upper()), source=source))
    >>> fmt.reads, fmt.writes, fmt.per_line
    (True, False, True)
    >>> fmt.read("hi").conversation.messages[0].content
    'HI'
    """

    name: str
    summary: str
    reader: Reader | None = field(default=None, kw_only=True, repr=False)
    writer: Writer | None = field(default=None, kw_only=True, repr=False)
    file_reader: FileReader | None = field(default=None, kw_only=True, repr=False)
    pairs: bool = field(default=False, kw_only=True)
    """Whether the writer takes a preference pair (``rejected=``, ``label=``, ``meta=``)."""
    takes_meta: bool = field(default=False, kw_only=True)
    """Whether the writer takes ``meta=`` (what a reader of the same format recorded)."""
    reads_past_errors: bool = field(default=False, kw_only=True)
    """Whether the file reader takes ``on_error=``: its units stand alone (an ``.eval`` log's
    samples), so it reports one it cannot read and goes on with the next."""

    @property
    def reads(self) -> bool:
        """Whether convo can read this format."""
        return self.reader is not None or self.file_reader is not None

    @property
    def writes(self) -> bool:
        """Whether convo can write this format."""
        return self.writer is not None

    @property
    def per_line(self) -> bool:
        """Whether one JSON value (a JSONL line) holds one conversation."""
        return self.reader is not None and self.file_reader is None

    def read(self, obj: Any, *, source: str | None = None, **options: Any) -> Conversion:
        """Read one JSON value (dicts and lists, as ``orjson.loads`` gives them)."""
        if self.reader is None:
            raise ValueError(f"format {self.name!r} reads whole files: use read_file()")
        c: Conversion = guarded(self.reader, obj, source=source, **options)
        return c

    def write(self, conv: Conversation, **options: Any) -> tuple[Any, tuple[Loss, ...]]:
        """Write *conv* as one JSON value of this format, with what could not be carried.

        The value is JSON-ready as it is (frozen objects are ``dict`` subclasses, arrays may be
        tuples): ``orjson.dumps`` and ``json.dumps`` write it directly.
        """
        if self.writer is None:
            raise ValueError(f"format {self.name!r} can only be read")
        if conv.messages is NO_MESSAGES and self.name != "anthropic":  # a request without messages
            value, losses = self.writer(attrs.evolve(conv, messages=()), **options)
            return value, (Loss("$.messages", "no messages key", "the format always has a message list: "
                                "written as an empty one"), *losses)
        return self.writer(conv, **options)

    def write_conversion(self, c: Conversion, **options: Any) -> tuple[Any, tuple[Loss, ...]]:
        """Write what was read, pair and all: a format that holds preference pairs writes both
        sides (and a KTO label); any other writes the chosen side and reports the rest.

        >>> from convo.codec.formats import get
        >>> pair = Conversion(Conversation().user("Hi").assistant("Hello"),
        ...                   rejected=Conversation().user("Hi").assistant("Go away"))
        >>> get("hh").write_conversion(pair)[0]["rejected"]
        '\\n\\nHuman: Hi\\n\\nAssistant: Go away'
        >>> [loss.path for loss in get("openai").write_conversion(pair)[1]]
        ['$.rejected']
        """
        if self.writer is None:
            raise ValueError(f"format {self.name!r} can only be read")
        if self.pairs:
            return self.write(c.conversation, rejected=c.rejected, label=c.label, meta=c.meta, **options)
        if self.takes_meta:
            options = {"meta": c.meta, **options}
        value, losses = self.write(c.conversation, **options)
        extra: list[Loss] = []
        if c.rejected is not None:
            extra.append(Loss("$.rejected", "the rejected side of a preference pair", f"{self.name} holds "
                              "one conversation per line; the chosen side is written (write hh, hf or "
                              "sharegpt to keep the pair)"))
        if c.label is not None:
            extra.append(Loss("$.label", f"the KTO label {c.label!r}", f"{self.name} has no place for it"))
        return value, (*losses, *extra) if extra else losses

    def read_file(self, path: str | os.PathLike[str], **options: Any) -> Iterator[Conversion]:
        """Read every conversation in a file (``.gz`` is read transparently)."""
        if self.file_reader is not None:
            return self.file_reader(path, **options)
        if self.reader is None:
            raise ValueError(f"format {self.name!r} cannot be read")
        return _read_values(self.reader, path, options)


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open *path* for reading bytes, through gzip when its bytes are gzip (as every reader decides)."""
    with open(path, "rb") as f:
        is_gzip, _ = sniff_gzip(f)
    if is_gzip:
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _read_values(reader: Reader, path: str | os.PathLike[str], options: dict[str, Any]) -> Iterator[Conversion]:
    """Each record of a JSONL file, of a file holding one JSON array, or of a file holding one JSON
    document, told apart by content, not by the file's name.

    A file is JSONL when its first line is a whole JSON value and more lines follow; a file that
    is one array (written over many lines, or alone on one line) holds one record per element,
    unless it is a single list of chat messages, which is one record; a file that is one object
    written over many lines is one record. Lines come from
    :func:`~convo.codec.jsonl.iter_lines` (gzip told by its magic bytes, CRLF, a BOM) with no size
    limit: a one-line array may be a whole dataset.
    """
    name = os.fspath(path)
    lines = iter_lines(path, max_line_bytes=sys.maxsize)
    first = next(lines, None)
    if first is None:
        return
    try:
        value: Any = parse_json(_data(first))
    except DecodeError as e:
        if not _data(first).lstrip().startswith((b"[", b"{")):
            raise e.located(file=name, line=first.line) from None
        value = UNSET  # an array or one object written over many lines
    second = next(lines, None)
    if value is UNSET or (second is None and isinstance(value, list) and not _is_message_list(value)):
        if value is UNSET:
            rest = (_data(r) for r in itertools.chain([first], [second] if second else [], lines))
            try:
                value = parse_json(b"\n".join(rest))
            except DecodeError as e:
                raise e.located(file=name) from None
            if _is_message_list(value) or not isinstance(value, list):
                value = [value]  # one pretty-printed record is one record
        for i, item in enumerate(value):
            try:
                yield guarded(reader, item, source=f"{name}[{i}]", **options)
            except DecodeError as e:
                raise DecodeError(e.expected, path=f"$[{i}]{e.path[1:]}", file=name) from None
        return
    yield _read_line(reader, value, name, first.line, options)
    for raw in itertools.chain([second] if second else [], lines):
        try:
            obj = parse_json(_data(raw))
        except DecodeError as e:
            raise e.located(file=name, line=raw.line) from None
        yield _read_line(reader, obj, name, raw.line, options)


def _data(raw: RawLine) -> bytes:
    """The JSON text of a line (without a leading byte order mark, which readers keep in the
    line's bytes); a stream that broke (corrupt gzip) raises its located error."""
    if raw.error is not None:
        raise raw.error
    data = raw.data
    return data[len(BOM):] if data.startswith(BOM) else data


def _read_line(reader: Reader, obj: Any, name: str, n: int, options: dict[str, Any]) -> Conversion:
    try:
        c: Conversion = guarded(reader, obj, source=f"{name}:{n}", **options)
    except DecodeError as e:
        raise e.located(file=name, line=n) from None
    return c


def _is_message_list(value: Any) -> bool:
    return bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with a value nested too deeply to walk reported as a DecodeError
    (orjson accepts 1024 levels; walking them recursively can pass Python's recursion limit)."""
    try:
        return fn(*args, **kwargs)
    except RecursionError:
        raise DecodeError("nested too deeply to read") from None


# --------------------------------------------------------------------------- shape checks


def describe(v: Any) -> str:
    """How a JSON value is named in error messages.

    >>> describe([]), describe(None), describe(1.5)
    ('an array', 'null', 'a number')
    """
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list | tuple):
        return "an array"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if v is None:
        return "null"
    return type(v).__name__


def fail(expected: str, got: Any, path: str) -> DecodeError:
    """A :class:`~convo.errors.DecodeError` saying what was expected at *path* and what was there."""
    return DecodeError(f"expected {expected}, got {describe(got)}", path=path)


def need_dict(v: Any, path: str, what: str = "an object") -> dict[str, Any]:
    """*v* if it is a JSON object, else a DecodeError at *path*."""
    if isinstance(v, dict):
        return v
    raise fail(what, v, path)


def need_list(v: Any, path: str, what: str = "an array") -> list[Any]:
    """*v* if it is a JSON array, else a DecodeError at *path*."""
    if isinstance(v, list | tuple):
        return v  # type: ignore[return-value]
    raise fail(what, v, path)


def need_str(v: Any, path: str) -> str:
    """*v* if it is a string, else a DecodeError at *path*."""
    if isinstance(v, str):
        return v
    raise fail("a string", v, path)


def get_str(d: dict[str, Any], key: str, path: str) -> str:
    """The string at ``d[key]``, or a DecodeError naming ``path.key`` when absent or not a string."""
    v = d.get(key, UNSET)
    if v is UNSET:
        raise DecodeError("missing required key", path=f"{path}.{key}")
    if isinstance(v, str):
        return v
    raise fail("a string", v, f"{path}.{key}")


# --------------------------------------------------------------------------- JSON in strings


def parse_arguments(raw: Any) -> tuple[Json, bool]:
    """Tool-call arguments as an object: ``(value, True)`` when *raw* is an object or a JSON string
    holding one; ``(raw, False)`` otherwise (kept raw, for the caller to report). The value is not
    frozen here: ``ToolUse`` freezes its input once.

    >>> parse_arguments('{"city": "Paris"}')
    ({'city': 'Paris'}, True)
    >>> parse_arguments('{"city": ')
    ('{"city": ', False)
    """
    if isinstance(raw, dict):
        return raw, True
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw, False
        if isinstance(value, dict):
            return value, True
    return raw, False


def compact_json(value: Any) -> str:
    """*value* as compact JSON text (OpenAI's ``function.arguments`` shape); integers beyond 64
    bits are written exactly (:func:`convo.codec.dump_json`).

    >>> compact_json({"a": [1, 2]})
    '{"a":[1,2]}'
    >>> compact_json({"big": 2**70})
    '{"big":1180591620717411303424}'
    """
    return dump_json(value).decode()


def python_json(value: Any) -> str:
    """*value* as Python's ``json.dumps`` writes it by default (``", "`` and ``": "`` separators,
    non-ASCII escaped): the shape of the JSON strings inside ShareGPT and LLaMA-Factory datasets,
    so that writing one back gives the same string.

    >>> python_json({"name": "f", "arguments": {"x": "é"}})
    '{"name": "f", "arguments": {"x": "\\\\u00e9"}}'
    """
    return json.dumps(value)


# --------------------------------------------------------------------------- images


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64 data)`` of a base64 ``data:`` URL, else None.

    >>> parse_data_url("data:image/png;base64,iVBO")
    ('image/png', 'iVBO')
    >>> parse_data_url("https://example.com/a.png") is None
    True
    """
    if not url.startswith("data:"):
        return None
    header, comma, data = url[5:].partition(",")
    if not comma:
        return None
    params = header.split(";")
    if "base64" not in params[1:]:
        return None
    return params[0] or "application/octet-stream", data


def is_web_url(ref: str) -> bool:
    """Whether *ref* is an http(s) URL the API can fetch."""
    return ref.startswith(("https://", "http://"))


def image_from_ref(
    ref: str, path: str, losses: list[Loss], loader: ImageLoader | None, origin: str
) -> Image:
    """An image from a foreign reference: a data URL, an http(s) URL, or (through *loader*) a path.

    Without a loader, a reference that is neither is kept as a URL source, which the API cannot
    fetch; a loss says so. The relative path is a relative URL reference, so the value is honest,
    and writing the conversation back to a foreign format gives the same path.
    """
    parsed = parse_data_url(ref)
    if parsed is not None:
        return Image(Base64Source(parsed[0], parsed[1]))
    if is_web_url(ref):
        return Image(URLSource(ref))
    if loader is not None:
        return loader(ref)
    losses.append(Loss(path, f"image {ref!r}", f"{origin} gives the image as a local path; kept as "
                       "a URL source the API cannot fetch (pass image_loader= to embed the file)"))
    return Image(URLSource(ref))


def image_ref(img: Image) -> str | None:
    """The string a foreign format holds for *img*: a data URL or the URL; None for file sources.

    >>> image_ref(Image(Base64Source("image/gif", "R0lG")))
    'data:image/gif;base64,R0lG'
    """
    src = img.source
    if isinstance(src, Base64Source):
        return f"data:{src.media_type};base64,{src.data}"
    if isinstance(src, URLSource):
        return src.url
    return None


def written_image_ref(img: Image, path: str, losses: list[Loss], who: str) -> str | None:
    """:func:`image_ref` for a writer: None, with a loss saying *who* cannot refer to it, for an
    image from the Files API; otherwise the reference, with the block's dropped keys reported.

    >>> losses = []
    >>> written_image_ref(Image(URLSource("https://x/a.png")), "$.messages[0].content[0]", losses, "ShareGPT")
    'https://x/a.png'
    """
    ref = image_ref(img)
    if ref is None:
        losses.append(Loss(path, "image from the Files API", f"{who} cannot refer to it"))
        return None
    note_block_extras(img, path, losses)
    return ref


# --------------------------------------------------------------------------- documents

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def document_from_file(
    data: str | None, file_id: str | None, url: str | None, fmt: str | None, path: str, losses: list[Loss]
) -> Block | None:
    """A Messages API block for an OpenAI file (chat ``file`` part, Responses ``input_file``).

    As litellm maps it (``anthropic_process_openai_file_message``): a base64 data URL is a
    ``document`` with a base64 source (an image's media type gives an ``image``); a file id is a
    ``file`` source (an ``image`` when *fmt* names an image type); a URL is a ``url`` source.

    >>> document_from_file("data:application/pdf;base64,JVBERi0=", None, None, None, "$", [])
    Document(source=Base64Source(media_type='application/pdf', data=<8 chars>))
    >>> document_from_file(None, "file-abc", None, None, "$", []).source
    FileSource(file_id='file-abc')
    """
    if data is not None:
        parsed = parse_data_url(data)
        if parsed is None:
            losses.append(Loss(path, "file data that is not a base64 data URL", "cannot be carried"))
            return None
        media = fmt or parsed[0]
        if media == "text/plain":
            try:
                return Document(TextSource(base64.b64decode(parsed[1], validate=True).decode("utf-8")))
            except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
                losses.append(Loss(path, "a text/plain file that is not base64 UTF-8", "kept as base64, "
                                   "which the Messages API takes for PDFs only"))
        if media in _IMAGE_TYPES:
            return Image(Base64Source(media, parsed[1]))
        return Document(Base64Source(media, parsed[1]))
    if file_id is not None:
        if is_web_url(file_id):
            return Document(URLSource(file_id))
        return Image(FileSource(file_id)) if fmt in _IMAGE_TYPES else Document(FileSource(file_id))
    if url is not None:
        return Document(URLSource(url))
    losses.append(Loss(path, "a file part without data, id or URL", "nothing to carry"))
    return None


def file_from_document(doc: Document, path: str, losses: list[Loss], *, urls: bool) -> dict[str, Any] | str | None:
    """What an OpenAI format holds for a ``document`` block: ``{"file_data", "filename"}`` for a
    base64 PDF, ``{"file_id"}`` for a file source, ``{"file_url"}`` for a URL where *urls* (the
    Responses API), the text itself (a ``str``: write it as a text part) for a plain-text or
    text-only content document; None (with a loss) for anything else.

    >>> file_from_document(Document(Base64Source("application/pdf", "JVBERi0=")), "$", [], urls=False)
    {'file_data': 'data:application/pdf;base64,JVBERi0=', 'filename': 'document.pdf'}
    >>> file_from_document(Document(TextSource("Hello")), "$.d", [], urls=False)
    'Hello'
    """
    src = doc.source
    for k in ("cache_control", "citations", "context"):
        v = getattr(doc, k)
        if v is not UNSET and v is not None:
            losses.append(Loss(f"{path}.{k}", f"document {k}", "OpenAI file inputs have no such field"))
    for k in doc.extra:
        losses.append(Loss(f"{path}.{k}", f"document field {k!r}", "OpenAI file inputs have no such field"))
    title = doc.title if isinstance(doc.title, str) else None
    if isinstance(src, Base64Source):
        if title is not None:
            losses.append(Loss(f"{path}.title", "document title", "written as the file name, which is not "
                               "read back as a title"))
        ext = src.media_type.rsplit("/", 1)[-1] or "bin"
        return {"file_data": f"data:{src.media_type};base64,{src.data}", "filename": title or f"document.{ext}"}
    if title is not None:
        losses.append(Loss(f"{path}.title", "document title", "OpenAI file inputs have no title"))
    if isinstance(src, FileSource):
        return {"file_id": src.file_id}
    if isinstance(src, URLSource) and urls:
        return {"file_url": src.url}
    if isinstance(src, TextSource):
        losses.append(Loss(path, "a plain-text document", "written as a text part (the text is kept; "
                           "it is read back as a text block, not a document)"))
        return src.data
    if isinstance(src, ContentSource):
        c = src.content
        if isinstance(c, str) or all(isinstance(b, Text) for b in c):
            losses.append(Loss(path, "a custom-content document", "written as a text part (the text is "
                               "kept; it is read back as a text block, not a document)"))
            return c if isinstance(c, str) else "".join(b.text for b in c if isinstance(b, Text))
    what = {"url": "a document by URL"}.get(getattr(src, "type", ""), f"a document with a {getattr(src, 'type', '?')} source")
    losses.append(Loss(path, what, "this OpenAI format has no file input that takes it"))
    return None


# --------------------------------------------------------------------------- tools


def generated_id(turn: int, index: int) -> str:
    """The id given to a tool call that arrived without one: fixed by its place, so that reading
    the same value twice gives the same ids and results pair with calls.

    >>> generated_id(3, 0)
    'call_3_0'
    """
    return f"call_{turn}_{index}"


_EMPTY_SCHEMA: FrozenDict = freeze({"type": "object", "properties": {}})


def tool_from_function(
    fn: dict[str, Any], path: str, losses: list[Loss], extra_keys: Iterable[str] = ()
) -> dict[str, Any] | None:
    """An Anthropic client tool from an OpenAI-style function definition (``{"name",
    "description", "parameters", "strict"}``), or None when it has no name."""
    name = fn.get("name")
    if not isinstance(name, str):
        losses.append(Loss(path, "tool without a name", "a Messages API tool needs a name"))
        return None
    tool: dict[str, Any] = {"name": name}
    if "description" in fn:
        tool["description"] = fn["description"]
    params = fn.get("parameters", UNSET)
    if params is UNSET or params is None:
        losses.append(Loss(f"{path}.parameters", "no parameters", "a Messages API tool needs an "
                           "input_schema; written as an empty object schema"))
        tool["input_schema"] = _EMPTY_SCHEMA
    else:
        tool["input_schema"] = params
    if "strict" in fn:
        tool["strict"] = fn["strict"]
    for k in fn:
        if k not in ("name", "description", "parameters", "strict") and k not in extra_keys:
            losses.append(Loss(f"{path}.{k}", f"tool field {k!r}", "the Messages API tool has no such field"))
    return tool


def function_from_tool(tool: Any, path: str, losses: list[Loss]) -> dict[str, Any] | None:
    """An OpenAI-style function definition from an Anthropic tool, or None for a server tool."""
    if not isinstance(tool, dict) or "input_schema" not in tool or tool.get("type", "custom") != "custom":
        kind = tool.get("type", "?") if isinstance(tool, dict) else describe(tool)
        losses.append(Loss(path, f"tool of type {kind!r}", "only client tools with an input_schema "
                           "have a function equivalent"))
        return None
    fn: dict[str, Any] = {"name": tool.get("name")}
    if "type" in tool:
        losses.append(Loss(f"{path}.type", "tool type 'custom'", "the default; written without it"))
    if "description" in tool:
        fn["description"] = tool["description"]
    fn["parameters"] = tool["input_schema"]
    if "strict" in tool:
        fn["strict"] = tool["strict"]
    for k in tool:
        if k not in ("name", "description", "input_schema", "strict", "type"):
            losses.append(Loss(f"{path}.{k}", f"tool field {k!r}", "function definitions have no such field"))
    return fn


def tools_value(raw: Any, path: str, losses: list[Loss]) -> list[Any]:
    """A ``tools`` value as a list: datasets often hold it as a JSON string."""
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise DecodeError("expected a JSON array of tools in the string", path=path) from None
    return need_list(raw, path)


def anthropic_tools(raw: Any, path: str, losses: list[Loss]) -> tuple[Any, ...]:
    """Anthropic tools from a foreign ``tools`` value: OpenAI-wrapped (``{"type": "function",
    "function": {...}}``) or bare function definitions (glaive style)."""
    items = tools_value(raw, path, losses)
    tools = []
    for i, t in enumerate(items):
        p = f"{path}[{i}]"
        t = need_dict(t, p)
        if "function" in t or t.get("type") == "function":
            if t.get("type", "function") != "function":
                losses.append(Loss(p, f"tool of type {t.get('type')!r}", "only function tools map to Messages API tools"))
                continue
            fn = need_dict(t.get("function"), f"{p}.function")
            for k in t:
                if k not in ("type", "function"):
                    losses.append(Loss(f"{p}.{k}", f"tool field {k!r}", "the Messages API tool has no such field"))
            tool = tool_from_function(fn, f"{p}.function", losses)
        elif "name" in t:
            tool = tool_from_function(t, p, losses)
        else:
            losses.append(Loss(p, "tool without a function definition", "only function tools map to Messages API tools"))
            continue
        if tool is not None:
            tools.append(tool)
    return tuple(tools)


# --------------------------------------------------------------------------- reasoning


def unsigned_thinking(text: str, path: str, losses: list[Loss], origin: str) -> Thinking:
    """A thinking block for reasoning text that came without a signature, with a loss saying so."""
    losses.append(Loss(path, "thinking signature", f"{origin} reasoning has no signature; kept as a "
                       "thinking block with an empty signature, which the API rejects when it is "
                       "sent back (strip_thinking() removes it)"))
    return Thinking(text, "")


# --------------------------------------------------------------------------- the chat builder


class ChatBuilder:
    """Builds Messages API turns from a foreign chat, one foreign message at a time.

    It owns the rules every chat-shaped format shares: leading system messages become the
    top-level ``system``, later ones mid-conversation system messages; consecutive tool results
    form one user turn; results without ids pair, in order, with the calls of the assistant turn
    before them; and whatever cannot pair is reported.
    """

    __slots__ = ("_group", "_leading", "_pending", "_sys_paths", "losses", "messages", "origin")

    def __init__(self, losses: list[Loss], origin: str) -> None:
        self.losses = losses
        self.origin = origin
        self.messages: list[Message] = []
        self._leading: list[tuple[str | tuple[Block, ...], str]] = []
        self._sys_paths: dict[int, str] = {}
        self._pending: list[tuple[str, str, str]] = []  # (id, name, source path) awaiting results
        self._group: list[Block] | None = None  # the tool results of the user turn being built

    def system(self, content: str | tuple[Block, ...], path: str) -> None:
        """A system (or developer) message."""
        if not self.messages:
            self._leading.append((content, path))
            return
        self._close()
        self._sys_paths[len(self.messages)] = path
        self.messages.append(Message("system", content))

    def user(self, content: str | tuple[Block, ...]) -> None:
        """A user message; right after tool results it joins their turn (results first), as the
        Messages API would merge the two user turns (facts §1.3)."""
        joins = self._group is not None
        self._close()
        if joins:
            more = content if isinstance(content, tuple) else (Text(content),) if content else ()
            self.messages[-1] = Message("user", (*self.messages[-1].blocks, *more))
            return
        self.messages.append(Message("user", content))

    def assistant(self, content: str | tuple[Block, ...], call_paths: Iterable[str] = ()) -> None:
        """An assistant message; *call_paths* are the source paths of its tool uses, in order."""
        self._close()
        self.messages.append(Message("assistant", content))
        if not isinstance(content, str):
            paths = iter(call_paths)
            for b in content:
                if isinstance(b, ToolUse):
                    self._pending.append((b.id, b.name, next(paths, "$")))

    def tool_result(
        self,
        tool_use_id: str | None,
        name: str | None,
        content: str | tuple[Block, ...] | Unset,
        path: str,
        *,
        is_error: bool | Unset = UNSET,
    ) -> ToolResult:
        """A tool result: joins the user turn of results being built, or starts one."""
        pending = self._pending
        if tool_use_id is None:
            k = -1
            if name is not None:
                k = next((i for i, p in enumerate(pending) if p[1] == name), -1)
            if k < 0 and pending:
                k = 0
            if k >= 0:
                tool_use_id = pending[k][0]
            else:
                turn = len(self.messages) - (self._group is not None)  # the user turn it joins
                tool_use_id = f"call_orphan_{turn}_{len(self._group or ())}"
                self.losses.append(Loss(path, f"tool result without a call (given the id {tool_use_id!r})",
                                        "no tool call before it to answer; its id pairs with nothing"))
        else:
            k = next((i for i, p in enumerate(pending) if p[0] == tool_use_id), -1)
            if k < 0:
                self.losses.append(Loss(path, f"tool result for {tool_use_id!r}", "no tool call with "
                                        "this id comes right before it; the API rejects an unpaired result"))
        if k >= 0:
            called = pending.pop(k)[1]
            if name is not None and name != called:
                self.losses.append(Loss(path, f"tool name {name!r} on a result for {called!r}",
                                        "the result answers a call of another name; its name is not kept"))
        block = ToolResult(tool_use_id, content=content, is_error=is_error)
        if self._group is None:
            self._group = [block]
            self.messages.append(Message("user", (block,)))
        else:
            self._group.append(block)
            self.messages[-1] = Message("user", tuple(self._group))
        return block

    def _close(self) -> None:
        if self._pending:
            for tid, name, p in self._pending:
                self.losses.append(Loss(p, f"tool call {tid!r} ({name})", "no tool result answers it "
                                        "before the next turn; the API needs one for every tool_use"))
            self._pending = []
        self._group = None

    def finish(self) -> tuple[str | tuple[Text, ...] | Unset, tuple[Message, ...]]:
        """The top-level system value and the messages; reports misplaced system messages."""
        system: str | tuple[Text, ...] | Unset = UNSET
        leading = self._leading
        if len(leading) == 1 and isinstance(leading[0][0], str):
            system = leading[0][0]
        elif leading:
            texts: list[Text] = []
            for content, p in leading:
                if isinstance(content, str):
                    texts.append(Text(content))
                    continue
                for j, b in enumerate(content):
                    if isinstance(b, Text):
                        texts.append(b)
                    else:
                        self.losses.append(Loss(f"{p}.content[{j}]", f"{type(b).__name__} in a system "
                                                "message", "the top-level system holds text only"))
            if len(leading) > 1:
                self.losses.append(Loss(leading[1][1], f"{len(leading)} leading system messages",
                                        "joined into one top-level system field, one text block each"))
            system = tuple(texts)
        self._check_system_placement()
        return system, tuple(self.messages)

    def _check_system_placement(self) -> None:
        msgs = self.messages
        i, n = 0, len(msgs)
        while i < n:
            if msgs[i].role != "system":
                i += 1
                continue
            j = i
            while j < n and msgs[j].role == "system":
                j += 1
            after_user = i > 0 and msgs[i - 1].role == "user"
            before_ok = j == n or msgs[j].role == "assistant"
            if not (after_user and before_ok):
                self.losses.append(Loss(self._sys_paths.get(i, "$"), "mid-conversation system message",
                                        "kept in place, but the API accepts one only right after a user "
                                        "turn and before an assistant turn or the end (rule system-message.not-after-user)"))
            i = j


# --------------------------------------------------------------------------- writer helpers


def system_text(conv: Conversation, losses: list[Loss]) -> str | list[str] | None:
    """The top-level system as one string (string system) or a list of strings (block system)."""
    s = conv.system
    if s is UNSET:
        return None
    if isinstance(s, str):
        return s
    out = []
    for j, b in enumerate(s):
        note_block_extras(b, f"$.system[{j}]", losses)
        out.append(b.text)
    return out


def note_block_extras(b: Any, path: str, losses: list[Loss]) -> None:
    """Report ``cache_control``, ``citations`` and unknown keys of a block that a foreign format
    drops."""
    caller = getattr(b, "caller", UNSET)
    if caller is not UNSET:
        losses.append(Loss(f"{path}.caller", "caller", "the format has no record of which tool made the call"))
    cc = getattr(b, "cache_control", UNSET)
    if cc is not UNSET:
        losses.append(Loss(f"{path}.cache_control", "cache_control", "the format has no prompt caching"))
    cit = getattr(b, "citations", UNSET)
    if cit is not UNSET and cit is not None:
        losses.append(Loss(f"{path}.citations", "citations", "the format has no citations"))
    if b.extra:
        for k in b.extra:
            losses.append(Loss(f"{path}.{k}", f"field {k!r}", "the format has no such field"))


def note_joined_turns(conv: Conversation, losses: list[Loss]) -> None:
    """Report each user turn that follows a turn of nothing but tool results: a chat format
    writes both as tool messages then a user message, which read back as one turn (as the
    Messages API itself joins consecutive user turns, facts §1.3)."""
    msgs = conv.messages
    for i in range(1, len(msgs)):
        prev, m = msgs[i - 1], msgs[i]
        if m.role == "user" and prev.role == "user" and isinstance(prev.content, tuple) and prev.content \
                and all(isinstance(b, ToolResult) for b in prev.content):
            losses.append(Loss(f"$.messages[{i}]", "a user turn right after a turn of tool results",
                               "read back joined to that turn"))


def note_message_extras(m: Message, path: str, losses: list[Loss]) -> None:
    """Report unknown keys on a message."""
    for k in m.extra:
        losses.append(Loss(f"{path}.{k}", f"message field {k!r}", "the format has no such field"))


def result_text(r: ToolResult, path: str, losses: list[Loss]) -> str | list[str]:
    """A tool result's content as a string (string content) or a list of text strings."""
    c = r.content
    if c is UNSET:
        losses.append(Loss(f"{path}.content", "a tool result without content", "written as an empty string"))
        return ""
    if isinstance(c, str):
        return c
    out = []
    for j, b in enumerate(c):
        if isinstance(b, Text):
            note_block_extras(b, f"{path}.content[{j}]", losses)
            out.append(b.text)
        else:
            losses.append(Loss(f"{path}.content[{j}]", f"{type(b).__name__} in a tool result",
                               "the format's tool results hold text only"))
    return out


def block_name(b: Any) -> str:
    """The Messages API type of a block, for messages."""
    return str(getattr(b, "type", type(b).__name__))


def params_losses(conv: Conversation, keep: Iterable[str], losses: list[Loss]) -> None:
    """Report every request parameter of *conv* other than ``messages``/``system`` and *keep*."""
    keep = set(keep) | {"messages", "system", "extra"}
    for name in _PARAMS:
        if name in keep:
            continue
        v = getattr(conv, name)
        if v is not UNSET:
            losses.append(Loss(f"$.{name}", f"{name} {_short(v)}", "the format has no such parameter"))
    for k, v in conv.extra.items():
        losses.append(Loss(f"$.{k}", f"{k} {_short(v)}", "the format has no such parameter"))


_PARAMS = tuple(
    a.name for a in Conversation.__attrs_attrs__ if a.name not in ("messages", "system", "extra")
)


def _short(v: Any) -> str:
    r = repr(thaw(v) if isinstance(v, FrozenDict | tuple) else v)
    return r if len(r) <= 60 else r[:57] + "..."

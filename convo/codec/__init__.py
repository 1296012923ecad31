"""The codec: Messages API JSON in and out, losslessly, with cattrs hooks and orjson.

Layer: above the model and transforms; the only layer that touches bytes. The shape is cattrs'
preconf one: :func:`configure_converter` registers convo's hooks on any converter,
:func:`make_converter` builds a configured one, and :data:`converter` is built once per process
and used on every line.

Lazy turns: :func:`loads` (and the line engine, which owns the JSON it parsed) keeps each block
turn's parsed content and builds its blocks when ``content`` is first read; :func:`dumps` writes
an untouched turn from its parsed JSON. Shape errors still surface here, on load, with their
``$.path``: a turn is kept parsed only after a structural check (generated from the hooks' field
specs) that it would decode without error and with its keys in the order convo writes them;
any other turn is built at once, as before. :func:`structure` on a caller's dicts builds at once.
Where every turn passes (and a block ``system`` too), the request keeps its parsed object: its
``messages`` are made when first read, and an untouched request is written from that object
(keys in convo's order). The check is the same, so shape errors surface on load as before.

>>> conv = loads(b'{"model": "claude-opus-4-8", "max_tokens": 64, '
...              b'"messages": [{"role": "user", "content": "Hi"}], "x-new-field": [1]}')
>>> conv.messages[0].content
'Hi'
>>> orjson.loads(dumps(conv))["x-new-field"]
[1]
"""

from __future__ import annotations

import json
import math
import sys
from typing import TYPE_CHECKING, Any

import orjson

from convo import model as m
from convo.codec._converter import (
    LAZY_STRUCTURE,
    STRUCTURE,
    UNSTRUCTURE,
    BigNumber,
    Shape,
    fast_conversation,
    structure_block,
    trusting,
)
from convo.errors import DecodeError

if TYPE_CHECKING:  # cattrs is imported when a converter is first asked for (it costs ~8 ms)
    import cattrs

__all__ = [
    "configure_converter",
    "converter",
    "dump_json",
    "dumps",
    "dumps_response",
    "loads",
    "loads_response",
    "make_converter",
    "parse_json",
    "parse_json_exact",
    "structure",
    "structure_exactly",
    "structure_parsed",
    "unstructure",
]


def configure_converter(c: cattrs.Converter) -> None:
    """Register convo's structure and unstructure hooks for every model class on *c*.

    >>> import cattrs
    >>> c = cattrs.Converter()
    >>> configure_converter(c)
    >>> c.unstructure(m.Message("user", "Hi"))
    {'role': 'user', 'content': 'Hi'}
    """
    # Python data handed to a converter: structure() takes its floats as real floats.
    for cls in STRUCTURE:
        c.register_structure_hook(cls, _hook(cls))
    for cls, ufn in list(UNSTRUCTURE.items()):
        c.register_unstructure_hook(cls, ufn)
    c.register_structure_hook_func(lambda t: t is m.Block, _hook(m.Block))


def _hook(cls: Any) -> Any:
    return lambda d, _: structure(d, cls)


def make_converter() -> cattrs.Converter:
    """A new cattrs converter configured with convo's hooks.

    >>> make_converter().structure({"role": "user", "content": "Hi"}, m.Message).content
    'Hi'
    """
    import cattrs

    c = cattrs.Converter()
    configure_converter(c)
    return c


_CONVERTER: list[cattrs.Converter] = []


def __getattr__(name: str) -> Any:
    # ``converter``: the process-wide converter, built once, when first used (the codec's own
    # functions never need it, so the command does not pay for importing cattrs)
    if name == "converter":
        if not _CONVERTER:
            _CONVERTER.append(make_converter())
        return _CONVERTER[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def structure(data: Any, cls: type[Any]) -> Any:
    """Build a model object of *cls* from decoded JSON (dicts and lists).

    Numbers are taken as given: parse with the standard library (or :func:`loads`) where the JSON
    may hold integers beyond 64 bits, which orjson turns into floats.

    >>> structure({"type": "text", "text": "hi"}, m.Text)
    Text(text='hi')
    >>> structure({"type": "text", "text": 1}, m.Text)
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: $.text: expected a string, got an integer
    """
    with trusting():
        return _build(data, cls)


def unstructure(obj: Any) -> Any:
    """The JSON-ready form (dicts, lists, frozen values) of a model object.

    >>> unstructure(m.Text("hi"))
    {'type': 'text', 'text': 'hi'}
    """
    return UNSTRUCTURE[obj.__class__](obj)


# --------------------------------------------------------------------------- bytes <-> JSON

_BLOCK: Any = m.Block  # a Union: structured by its "type" tag, not by a class's hook
_TOO_DEEP = ("JSON nested too deeply to decode: building it went past Python's recursion limit "
             "(real requests nest far less; orjson itself allows 1024 levels)")
_DEPTH_LIMIT = 1024  # orjson refuses deeper documents [OBS orjson 3.13: "depth limit exceeded"]


def _build(obj: Any, cls: type[Any], *, owned: bool = False) -> Any:
    """STRUCTURE[cls](obj) with shape errors as DecodeError (BigNumber passes through); for JSON
    the codec parsed itself (*owned*), the hooks whose conversations keep turns parsed until read."""
    fn = structure_block if cls is _BLOCK else (owned and LAZY_STRUCTURE.get(cls)) or STRUCTURE[cls]
    try:
        return fn(obj)
    except Shape as e:
        raise DecodeError(e.expected, path=e.dollar_path()) from None
    except RecursionError:
        raise DecodeError(_TOO_DEEP) from None


def parse_json(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON text with orjson; every failure is a :class:`DecodeError` that says why.

    >>> parse_json(b'{"a": [1, 2.5, null]}')
    {'a': [1, 2.5, None]}
    >>> parse_json(b'{"a": }')
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: $: invalid JSON at column 7: unexpected character, expected a JSON value

    An integer of any size is kept exactly; a float beyond a double's range is refused:

    >>> parse_json(b'[' + b'9' * 400 + b']')[0] == 10**400 - 1
    True
    >>> parse_json(b'[1e400]')
    Traceback (most recent call last):
    ...
    convo.errors.DecodeError: $: number 1e400 is too large for a 64-bit float (JSON allows it; convo keeps integers of any size exactly, but not such floats)
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        if e.msg.startswith("number is infinity"):
            # an integer beyond a double's range is valid JSON, and convo keeps it exactly
            # (orjson refuses it [OBS orjson 3.11]); a float that large is refused
            return _parse_beyond_double(data, e)
        raise _why_not_json(data, e) from None


def _parse_beyond_double(data: bytes | bytearray | memoryview | str, e: orjson.JSONDecodeError) -> Any:
    """*data*, which orjson refused for a number beyond a double, parsed by the standard library."""
    try:
        return _parse_exact(data)
    except _NotJson as x:
        raise DecodeError(str(x)) from None
    except RecursionError:
        raise DecodeError(_TOO_DEEP) from None
    except json.JSONDecodeError as x:  # something else is wrong too, further on
        raise DecodeError(f"invalid JSON at column {x.colno}: {x.msg}") from None
    except (ValueError, UnicodeDecodeError):
        raise _why_not_json(data, e) from None


def _why_not_json(data: bytes | bytearray | memoryview | str, e: orjson.JSONDecodeError) -> DecodeError:
    # The error path only: find the plainest true description of what is wrong.
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as u:
            return DecodeError(f"lone surrogate U+{ord(data[u.start]):04X} at character {u.start}: "
                               "JSON text must be valid Unicode")
    else:
        try:
            bytes(data).decode("utf-8")
        except UnicodeDecodeError as u:
            bad = bytes(data)[u.start:u.end]
            return DecodeError(f"invalid UTF-8 at byte {u.start} ({bad!r}: {u.reason})")
    msg = e.msg
    if "surrogate" in msg:
        return DecodeError(f"lone surrogate in a \\u escape at column {e.colno} ({msg}): "
                           "JSON text must be valid Unicode, and orjson refuses it")
    if "depth limit" in msg:
        return DecodeError(f"JSON nested deeper than {_DEPTH_LIMIT} levels (the decoder's limit)")
    if "zero-length" in msg or "input data is empty" in msg:  # (the second: whitespace only)
        return DecodeError("expected a JSON value, got an empty line")
    return DecodeError(f"invalid JSON at column {e.colno}: {msg}")


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; parse_json_exact then lets orjson say what is wrong.
    raise ValueError(name)


class _NotJson(ValueError):
    """What the exact parse refuses that orjson would describe wrongly: say this instead."""


def _finite(text: str) -> float:
    f = float(text)
    if f in (math.inf, -math.inf):
        raise _NotJson(f"number {text[:40]} is too large for a 64-bit float (JSON allows it; convo "
                       "keeps integers of any size exactly, but not such floats)")
    return f


def _exact_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # Python refuses to convert more than sys.get_int_max_str_digits() digits
        raise _NotJson(f"integer of {len(text.lstrip('-'))} digits: more than Python converts "
                       f"({sys.get_int_max_str_digits()} digits, sys.set_int_max_str_digits)") from None


def _parse_exact(data: bytes | bytearray | memoryview | str) -> Any:
    """The standard library's parse: integers of any size exact, floats finite, no NaN."""
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_exact_int)


def parse_json_exact(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON with the standard library, which keeps integers beyond 64 bits exact.

    Slower than orjson; the codec uses it only for a line that holds such an integer.

    >>> parse_json_exact(b'[123456789012345678901234567890]')
    [123456789012345678901234567890]
    """
    try:
        return _parse_exact(data)
    except RecursionError:
        raise DecodeError(_TOO_DEEP) from None
    except _NotJson as e:
        raise DecodeError(str(e)) from None
    except (ValueError, UnicodeDecodeError):
        return parse_json(data)  # orjson tells what is wrong (it is stricter)


def structure_parsed(data: bytes | bytearray | memoryview | str, obj: Any, cls: type[Any]) -> Any:
    """The *cls* object for *obj*, which :func:`parse_json` parsed from *data*.

    Where orjson turned an integer beyond 64 bits into a float, *data* is parsed again exactly.

    >>> data = b'{"messages": [], "metadata": {"n": 123456789012345678901234567890}}'
    >>> structure_parsed(data, parse_json(data), m.Conversation).metadata["n"]
    123456789012345678901234567890
    """
    return structure_exactly(data, obj, cls)[0]


def structure_exactly(data: bytes | bytearray | memoryview | str, obj: Any, cls: type[Any]) -> tuple[Any, Any]:
    """:func:`structure_parsed`, and the JSON the object was built from: *obj*, or *data* parsed
    again where *obj* lost an integer beyond 64 bits.

    The conversations built keep turns parsed (lazy turns): *obj* must be the codec's own, fresh
    from :func:`parse_json`, and nobody may change it afterwards.

    >>> data = b'{"metadata": {"n": 123456789012345678901234567890}}'
    >>> structure_exactly(data, parse_json(data), m.Conversation)[1]["metadata"]["n"]
    123456789012345678901234567890
    """
    try:
        return _build(obj, cls, owned=True), obj
    except BigNumber:
        pass
    exact = parse_json_exact(data)
    with trusting():
        return _build(exact, cls, owned=True), exact


def dump_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON for a JSON-ready value, falling back to the standard library for what
    orjson refuses but JSON allows (integers beyond 64 bits, nesting deeper than 254 levels).

    >>> dump_json({"n": 2**70, "s": "é"})
    b'{"n":1180591620717411303424,"s":"\xc3\xa9"}'
    """
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError as e:
        try:
            text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            return text.encode("utf-8")
        except (TypeError, ValueError, RecursionError):
            raise e from None  # orjson's reason is the one to tell


def loads(data: bytes | bytearray | memoryview | str) -> m.Conversation:
    """A :class:`~convo.model.Conversation` from Messages API request JSON.

    >>> loads(b'{"model": "claude-opus-4-8", "max_tokens": 16, "messages": []}').max_tokens
    16
    """
    obj = parse_json(data)
    conv = plain_request(obj)  # the plain case, straight; every other one is the general path's
    return conv if conv is not None else structure_parsed(data, obj, m.Conversation)


def plain_request(obj: Any) -> m.Conversation | None:
    """The conversation of *obj*, a request object fresh from :func:`parse_json`, where the
    codec's fast hook takes it (the plain case: see ``_converter.fast_conversation``), else None:
    the general path (:func:`structure_exactly`) then takes it, and words any error.

    >>> plain_request({"model": "m", "messages": []}).model, plain_request({"model": 1}), plain_request([])
    ('m', None, None)
    """
    if obj.__class__ is not dict:
        return None
    try:
        return fast_conversation(obj)
    except (BigNumber, RecursionError):  # (a huge number, deep nesting: the general path's too)
        return None


def dumps(conv: m.Conversation) -> bytes:
    """Messages API request JSON for *conv* (compact UTF-8).

    >>> dumps(m.Conversation(model="claude-opus-4-8", max_tokens=16))
    b'{"model":"claude-opus-4-8","max_tokens":16,"messages":[]}'
    """
    if conv.__class__ is m.Conversation:
        root = getattr(conv, "_lazy", None)
        if root is not None and root[1] is None and root[0] is not None:
            # decoded and untouched, its keys read in convo's order: the parsed request is what
            # unstructure would copy (see unstructure_conversation)
            try:
                return orjson.dumps(root[0])
            except orjson.JSONEncodeError:
                pass
    return dump_json(UNSTRUCTURE[m.Conversation](conv))


def loads_response(data: bytes | bytearray | memoryview | str) -> m.Response:
    """A :class:`~convo.model.Response` from Messages API response JSON.

    >>> loads_response(b'{"id": "msg_1", "type": "message", "content": []}').id
    'msg_1'
    """
    return structure_parsed(data, parse_json(data), m.Response)  # type: ignore[no-any-return]


def dumps_response(resp: m.Response) -> bytes:
    """Messages API response JSON for *resp*.

    >>> dumps_response(m.Response(id="msg_1"))
    b'{"id":"msg_1","type":"message","role":"assistant","content":[]}'
    """
    return dump_json(UNSTRUCTURE[m.Response](resp))

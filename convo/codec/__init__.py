"""The codec: Messages API JSON in and out, losslessly, with cattrs hooks and orjson.

Layer: above the model and transforms; the only layer that touches bytes. The shape is cattrs'
preconf one: :func:`configure_converter` registers convo's hooks on any converter,
:func:`make_converter` builds a configured one, and :data:`converter` is built once per process
and used on every line.

>>> conv = loads(b'{"model": "claude-opus-4-8", "max_tokens": 64, '
...              b'"messages": [{"role": "user", "content": "Hi"}], "x-new-field": [1]}')
>>> conv.messages[0].content
'Hi'
>>> orjson.loads(dumps(conv))["x-new-field"]
[1]
"""

from __future__ import annotations

from typing import Any

import cattrs
import orjson

from convo import model as m
from convo.codec._converter import STRUCTURE, UNSTRUCTURE, Shape, structure_block
from convo.errors import DecodeError

__all__ = [
    "configure_converter",
    "converter",
    "dumps",
    "dumps_response",
    "loads",
    "loads_response",
    "make_converter",
    "structure",
    "unstructure",
]


def configure_converter(c: cattrs.Converter) -> None:
    """Register convo's structure and unstructure hooks for every model class on *c*."""
    for cls, fn in STRUCTURE.items():
        c.register_structure_hook(cls, _adapt(fn))
    for cls, ufn in list(UNSTRUCTURE.items()):
        c.register_unstructure_hook(cls, ufn)
    c.register_structure_hook_func(lambda t: t is m.Block, lambda d, _: _shaped(structure_block, d))


def _adapt(fn: Any) -> Any:
    return lambda d, _: _shaped(fn, d)


def _shaped(fn: Any, d: Any) -> Any:
    try:
        return fn(d)
    except Shape as e:
        raise DecodeError(e.expected, path=e.dollar_path()) from None


def make_converter() -> cattrs.Converter:
    """A new cattrs converter configured with convo's hooks."""
    c = cattrs.Converter()
    configure_converter(c)
    return c


converter = make_converter()
"""The process-wide converter (built once)."""


def structure(data: Any, cls: type[Any]) -> Any:
    """Build a model object of *cls* from decoded JSON (dicts and lists).

    >>> structure({"type": "text", "text": "hi"}, m.Text)
    Text(text='hi', cache_control=UNSET, citations=UNSET, extra={})
    """
    fn = STRUCTURE[cls] if cls is not m.Block else structure_block
    try:
        return fn(data)
    except Shape as e:
        raise DecodeError(e.expected, path=e.dollar_path()) from None


def unstructure(obj: Any) -> Any:
    """The JSON-ready form (dicts, lists, frozen values) of a model object."""
    return UNSTRUCTURE[obj.__class__](obj)


def _parse(data: bytes | bytearray | memoryview | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise DecodeError(f"invalid JSON: {e}") from None


def loads(data: bytes | bytearray | memoryview | str) -> m.Conversation:
    """A :class:`~convo.model.Conversation` from Messages API request JSON."""
    return structure(_parse(data), m.Conversation)  # type: ignore[no-any-return]


def dumps(conv: m.Conversation) -> bytes:
    """Messages API request JSON for *conv* (compact UTF-8)."""
    return orjson.dumps(UNSTRUCTURE[m.Conversation](conv))


def loads_response(data: bytes | bytearray | memoryview | str) -> m.Response:
    """A :class:`~convo.model.Response` from Messages API response JSON."""
    return structure(_parse(data), m.Response)  # type: ignore[no-any-return]


def dumps_response(resp: m.Response) -> bytes:
    """Messages API response JSON for *resp*."""
    return orjson.dumps(UNSTRUCTURE[m.Response](resp))

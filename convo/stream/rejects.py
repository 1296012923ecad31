"""Reject records: one JSON line per input line the command could not use, with its original bytes.

A reject is ``{"file", "line", "code", "reason", "path", "raw"}``: ``raw`` holds the original line
(without its ``\\n``) as text when it is valid UTF-8, otherwise the key is ``raw_base64``. A line
over the size limit is always kept as ``raw_base64`` and gets a trailing ``"size"``: the reader
streams such a line to disk in pieces (it is never held whole in memory), so its record is written
the same way wherever it is caught, and the bytes of the rejects file do not depend on chunk sizes
or the number of workers.

``code`` is one of :data:`CODES`. :func:`original_bytes` gives back the exact input line.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, BinaryIO

import orjson

from convo.codec.rejects import CODES, reject  # the one record format (codec layer); re-exported

__all__ = [
    "CODES",
    "B64Stream",
    "original_bytes",
    "reject",
    "too_long",
    "too_long_head",
    "too_long_tail",
]

def too_long_head(file: str, line: int, limit: int) -> bytes:
    """The start of a too-long line's record, up to the opening quote of ``raw_base64``."""
    head = orjson.dumps(
        {
            "file": file,
            "line": line,
            "code": "too_long",
            "reason": f"line longer than the limit of {limit} bytes",
            "path": "$",
        }
    )
    return head[:-1] + b',"raw_base64":"'


def too_long_tail(size: int) -> bytes:
    """The end of a too-long line's record: the closing quote and the line's size."""
    return b'","size":%d}' % size


def too_long(file: str, line: int, limit: int, raw: bytes) -> bytes:
    """The record of a too-long line held in memory (same bytes as the streamed form).

    >>> import orjson
    >>> rec = orjson.loads(too_long("a.jsonl", 9, 4, b"12345"))
    >>> rec["code"], rec["size"], original_bytes(rec)
    ('too_long', 5, b'12345')
    """
    return (
        too_long_head(file, line, limit)
        + base64.b64encode(raw)
        + too_long_tail(len(raw))
    )


class B64Stream:
    """Base64 written to a binary file in pieces (keeps the 0-2 bytes that do not fill a group).

    >>> import io
    >>> buf = io.BytesIO()
    >>> s = B64Stream(buf)
    >>> for piece in (b"he", b"llo w", b"orld"):
    ...     s.write(piece)
    >>> s.close()
    >>> base64.b64decode(buf.getvalue())
    b'hello world'
    """

    __slots__ = ("_out", "_rest")

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._rest = b""

    def write(self, data: bytes | memoryview) -> None:
        """Encode *data* after what came before."""
        if self._rest:
            data = self._rest + data
        cut = len(data) - len(data) % 3
        self._rest = bytes(data[cut:])
        if cut:
            self._out.write(base64.b64encode(data[:cut]))

    def close(self) -> None:
        """Write the last group (with padding)."""
        if self._rest:
            self._out.write(base64.b64encode(self._rest))
            self._rest = b""


def original_bytes(record: Mapping[str, Any]) -> bytes:
    """The exact input line a decoded reject record stands for.

    >>> original_bytes({"raw": "{oops"}), original_bytes({"raw_base64": "/w=="})
    (b'{oops', b'\\xff')
    """
    if "raw" in record:
        return str(record["raw"]).encode("utf-8")
    return base64.b64decode(record["raw_base64"])

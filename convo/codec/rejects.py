"""Reject records: the one line format for input convo could not use, whichever command met it.

Layer: codec (bytes in, bytes out), so that the command, ``run_file`` and the batch executor all
write the same records. A reject is ``{"file", "line", "code", "reason", "path", "raw"}``:
``raw`` holds the original line (without its newline) as text when it is valid UTF-8, otherwise
the key is ``raw_base64``; nothing of the input is lost. ``code`` is one of :data:`CODES`.
"""

from __future__ import annotations

import base64
from typing import Any, Final

import orjson

from convo.codec import parse_json
from convo.codec.lines import BOM
from convo.errors import DecodeError

__all__ = ["CODES", "classify", "reject", "rejects_path_for"]

CODES: Final = {
    "utf8": "not valid UTF-8",
    "json": "not valid JSON",
    "shape": "not the shape of a conversation line",
    "too_long": "over the line-size limit",
    "transform": "a transform raised",
    "rule": "breaks a rule of the target model",
    "encode": "the result could not be written as JSON",
    "internal": "a bug in convo: it raised where it must not (please report it)",
    "format": "could not be read in the source format",
    "api": "the API refused the request (invalid_request_error)",
    "kind": "not a line this command can use",
}
"""Reject codes and what each means (the summaries print them)."""


def reject(
    file: str, line: int, code: str, reason: str, path: str, raw: bytes | memoryview, **more: Any
) -> bytes:
    """The reject record for one line, as a JSON line without its newline (*more*: extra keys).
    *raw* may be a view of the bytes read (the command reads lines so).

    >>> reject("a.jsonl", 3, "json", "unexpected end of input", "$", b'{"model": ')
    b'{"file":"a.jsonl","line":3,"code":"json","reason":"unexpected end of input","path":"$","raw":"{\\\\"model\\\\": "}'
    >>> reject("a.jsonl", 4, "utf8", "invalid UTF-8", "$", b"\\xff")[-20:]
    b'"raw_base64":"/w=="}'
    """
    rec: dict[str, Any] = {"file": file, "line": line, "code": code, "reason": reason, "path": path}
    raw = bytes(raw)  # (no copy of bytes)
    try:
        rec["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        rec["raw_base64"] = base64.b64encode(raw).decode("ascii")
    if more:
        rec.update(more)
    return orjson.dumps(rec)


def classify(raw: bytes | memoryview) -> str:
    """Why a line did not decode: ``utf8``, ``json`` or (it parsed) ``shape``.

    Runs on the reject path only, so the cost of a second parse does not matter.

    >>> classify(b"\\xff{}"), classify(b'{"a": '), classify(memoryview(b'{"a": 1}'))
    ('utf8', 'json', 'shape')
    >>> classify(b"\\xef\\xbb\\xbf[1]"), classify(b"[" + b"9" * 400 + b"]"), classify(b"\\x0b")
    ('shape', 'shape', 'json')
    """
    data = bytes(raw)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "utf8"
    if data.startswith(BOM):  # skipped by the decoder, as here
        data = data[len(BOM):]
    try:
        parse_json(data)  # the codec's own parse: an integer beyond a double is JSON
    except DecodeError:
        return "json"
    return "shape"


def rejects_path_for(output: str) -> str:
    """The default rejects file of an output: ``OUT.rejects.jsonl`` beside it.

    >>> rejects_path_for("clean.jsonl"), rejects_path_for("out/clean.jsonl.gz")
    ('clean.rejects.jsonl', 'out/clean.rejects.jsonl')
    >>> rejects_path_for("-"), rejects_path_for("corpus.parquet")
    ('convo.rejects.jsonl', 'corpus.rejects.jsonl')
    """
    if output == "-":
        return "convo.rejects.jsonl"
    base = output
    for suffix in (".gz", ".jsonl", ".json", ".parquet"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base + ".rejects.jsonl"

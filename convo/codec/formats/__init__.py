"""Foreign transcript formats: read them into conversations and write conversations out, saying
what could not be carried.

Layer: codec. :data:`FORMATS` maps each name to a :class:`Format`; :func:`register` adds one (a new
format registers itself, it does not grow an ``if`` chain). Every conversion returns the
converted value and a tuple of :class:`Loss` records: what was dropped or changed, where, and
why; nothing is dropped silently. Tool-call ids stay paired across formats (an OpenAI
``tool_call_id`` is the ``tool_use_id``); formats without ids get ids fixed by position.

======================  =====  =====  ====================================================
name                    read   write  what
======================  =====  =====  ====================================================
``anthropic``           yes    yes    Messages API request JSON (lossless, convo's codec)
``openai``              yes    yes    chat completions bodies, message lists, responses
``openai-finetune``     yes    yes    OpenAI fine-tuning JSONL lines
``responses``           yes    yes    OpenAI Responses API bodies and response objects
``bedrock``             yes    yes    Claude InvokeModel bodies on Amazon Bedrock
``vertex``              yes    yes    Claude rawPredict bodies on Google Vertex AI
``bedrock-converse``    yes    yes    Amazon Bedrock Converse requests
``sharegpt``            yes    yes    ShareGPT ``conversations`` / role-content records
``hf``                  yes    yes    Hugging Face ``messages`` (TRL, LLaMA-Factory v1)
``hh``                  yes    yes    ``\\n\\nHuman: / \\n\\nAssistant:`` text (HH-RLHF)
``inspect``             yes    no     inspect_ai eval logs (``.json``, ``.eval``), per sample
``claude-code``         yes    no     Claude Code session JSONL, per session and subagent
``recorded``            yes    no     HTTP cassettes and wrapped bodies (body detected)
======================  =====  =====  ====================================================

:func:`detect` and :func:`detect_file` tell a value's or a file's format by its content;
:func:`read_file` does so by default. Preference records (TRL, LLaMA-Factory, ShareGPT DPO,
HH-RLHF) read as pairs (:attr:`Conversion.rejected`, :attr:`Conversion.label`) that
:meth:`Format.write_conversion` writes back paired.

>>> value, losses = convert({"messages": [{"role": "user", "content": "Hi", "name": "ann"}]},
...                         from_="openai", to="anthropic")
>>> value, [str(l) for l in losses]
({'messages': [{'role': 'user', 'content': 'Hi'}]}, ["$.messages[0].name: name 'ann' (the Messages API has no participant names)"])
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from convo.codec.formats import (
    anthropic,
    bedrock,
    claude_code,
    converse,
    hf,
    hh,
    inspect_logs,
    openai,
    openai_finetune,
    openai_responses,
    recorded,
    sharegpt,
)
from convo.codec.formats._base import Conversion, Format, ImageLoader, Loss
from convo.codec.formats._registry import FORMATS, get, register
from convo.codec.formats.detect import detect, detect_file

__all__ = [
    "FORMATS",
    "Conversion",
    "Format",
    "ImageLoader",
    "Loss",
    "convert",
    "detect",
    "detect_file",
    "get",
    "read_file",
    "register",
]

for _fmt in (anthropic.FORMAT, openai.FORMAT, openai_finetune.FORMAT, openai_responses.FORMAT,
             bedrock.BEDROCK, bedrock.VERTEX, converse.FORMAT, sharegpt.FORMAT, hf.FORMAT, hh.FORMAT,
             inspect_logs.FORMAT, claude_code.FORMAT, recorded.FORMAT):
    register(_fmt)


def convert(
    obj: Any,
    *,
    from_: str,
    to: str,
    read_options: Mapping[str, Any] | None = None,
    write_options: Mapping[str, Any] | None = None,
) -> tuple[Any, tuple[Loss, ...]]:
    """Convert one JSON value from one format to another: the value, and the read losses followed
    by the write losses (read losses point into *obj*, write losses into the conversation). A
    preference pair stays paired where the target holds pairs.

    >>> convert({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello"}, from_="hh", to="openai")[0]
    {'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}]}
    """
    src, dst = get(from_), get(to)
    if not dst.writes:
        raise ValueError(f"format {to!r} can only be read")
    c = src.read(obj, **dict(read_options or {}))
    value, wl = dst.write_conversion(c, **dict(write_options or {}))
    return value, c.losses + wl


def read_file(path: str | os.PathLike[str], *, format: str = "auto", **options: Any) -> Iterator[Conversion]:
    """Every conversation in a file of the named format, or of the format its content shows
    (``format="auto"``, the default: :func:`detect_file`); ``.gz`` is read transparently.

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "chat.jsonl"
    >>> _ = p.write_text('{"messages": [{"role": "user", "content": "Hi"}]}\\n')
    >>> [c.source.endswith("chat.jsonl:1") for c in read_file(p, format="openai-finetune")]
    [True]
    >>> [c.conversation.messages[0].content for c in read_file(p)]
    ['Hi']
    """
    if format == "auto":
        found = detect_file(path)
        if found is None:
            raise ValueError(f"{os.fspath(path)}: no format convo reads fits its content")
        format = found
    return get(format).read_file(path, **options)

"""The convert operation: between every format the codec knows, with a loss summary.

Layer: stream (the command ``convo convert`` drives it).

Line formats (one conversation per JSON line) run through the engine like any other operation;
whole-file formats (``inspect`` logs, ``claude-code`` sessions) are read a file at a time. On top
of :data:`convo.codec.formats.FORMATS` the command knows two envelopes of convo's own line kinds:
``batch`` (Message Batches request lines, read and written; the ``custom_id`` written is
``<file stem>-<line>``) and ``exchange`` (what ``convo run`` writes, read only: the request with
its response appended as the assistant's turn). ``anthropic`` reads and writes with convo's codec,
so it is lossless (huge integers included).

Losses are counted by place and reason (array indices folded, ``$.messages[*].name``), so a
summary over a million lines stays a short table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any, Protocol

import attrs
import orjson
from attrs import define, field

from convo import model as m
from convo._json import UNSET
from convo.codec import dump_json, parse_json
from convo.codec.formats._base import Conversion
from convo.codec.lines import RawLine, conversation_of, decode_line, encode_value
from convo.errors import DecodeError
from convo.stream.counts import RunCounts
from convo.stream.operation import OpSpec, classify, register
from convo.stream.ops import Tally, TallyOp, _add, _merge, with_conversation
from convo.stream.rejects import reject
from convo.stream.sinks import Sink
from convo.stream.sources import DEFAULT_MAX_LINE_BYTES, InputError, expand, open_binary

__all__ = ["ConvertOp", "ConvertTally", "check_formats", "convert_files", "loss_key", "write_failure"]

ENVELOPES = {"batch": (True, True), "exchange": (True, False), "parquet": (True, True)}  # name: (reads, writes)
_OWN = ("anthropic", "batch", "exchange", "parquet")
_INDEX = re.compile(r"\[\d+\]")
_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def _formats() -> dict[str, Any]:
    from convo.codec.formats import FORMATS

    return FORMATS


def check_formats(from_: str, to: str) -> None:
    """Raise :class:`InputError` unless *from_* can be read and *to* written."""
    formats = _formats()
    known = sorted({*formats, *ENVELOPES, "auto"})
    reads = {n for n, f in formats.items() if f.reads} | {n for n, (r, _) in ENVELOPES.items() if r} | {"auto"}
    writes = {n for n, f in formats.items() if f.writes} | {n for n, (_, w) in ENVELOPES.items() if w}
    for name in (from_, to):
        if name not in known:
            raise InputError(f"unknown format {name!r} (known: {', '.join(known)})")
    if from_ not in reads:
        raise InputError(f"format {from_!r} cannot be read")
    if to not in writes:
        raise InputError(f"format {to!r} can only be read; writable: {', '.join(sorted(writes))}")


def loss_key(side: str, loss: Any) -> str:
    """How a loss is counted: read/write, its path with indices folded, and why.

    >>> from convo.codec.formats import Loss
    >>> loss_key("read", Loss("$.messages[3].name", "name 'ann'", "no participant names"))
    'read $.messages[*].name: no participant names'
    """
    return f"{side} {_INDEX.sub('[*]', loss.path)}: {loss.why}"


def batch_id(file: str, line: int) -> str:
    """A valid, deterministic ``custom_id`` for a line: ``<file stem>-<line>``.

    >>> batch_id("logs/2025 June.jsonl", 12)
    '2025_June-12'
    """
    base = os.path.basename(file)
    for suffix in (".gz", ".jsonl", ".json"):
        base = base.removesuffix(suffix)
    tail = f"-{line}"
    stem = _ID_UNSAFE.sub("_", base)[: 64 - len(tail)] or "line"
    return stem + tail


@define
class ConvertTally(Tally):
    """Losses by :func:`loss_key`, how many conversations lost anything, and the formats
    detected (``--from auto``) with how many conversations each gave."""

    losses: dict[str, int] = field(factory=dict)
    lossy: int = 0
    detected: dict[str, int] = field(factory=dict)

    def merge(self, other: Tally) -> None:
        """Add *other* into this tally."""
        assert isinstance(other, ConvertTally)
        super().merge(other)
        _merge(self.losses, other.losses)
        _merge(self.detected, other.detected)
        self.lossy += other.lossy


class Invalid(Exception):
    """A written line that is not a valid example of the target format (``valid_only``)."""


class _Converter:
    """Conversation in (from one format), JSON line out (in another), losses counted."""

    def __init__(self, from_: str, to: str, model: str | None, max_tokens: int | None,
                 set_model: str | None = None, valid_only: bool = False) -> None:
        formats = _formats()
        self.from_ = from_
        self.to = to
        self.reader = formats.get(from_)
        self.writer = formats.get(to)
        self.model = model
        self.set_model = set_model
        self.max_tokens = max_tokens
        self.valid_only = valid_only

    def fill(self, conv: m.Conversation) -> m.Conversation:
        changes: dict[str, Any] = {}
        if self.set_model and conv.model != self.set_model:
            changes["model"] = self.set_model
        elif self.model and conv.model is UNSET:
            changes["model"] = self.model
        if self.max_tokens and conv.max_tokens is UNSET:
            changes["max_tokens"] = self.max_tokens
        return attrs.evolve(conv, **changes) if changes else conv

    def write(self, c: Conversion, file: str, line: int, stats: ConvertTally, lost: bool) -> bytes:
        conv = self.fill(c.conversation)
        if c.rejected is not None:
            c = attrs.evolve(c, conversation=conv, rejected=self.fill(c.rejected))
        else:
            c = attrs.evolve(c, conversation=conv)
        extra: tuple[Any, ...] = ()
        if self.to in ("anthropic", "batch", "parquet") and c.paired:
            from convo.codec.formats import FORMATS

            _, extra = FORMATS["anthropic"].write_conversion(c)
        if self.to in ("anthropic", "parquet"):
            data = encode_value(conv)
        elif self.to == "batch":
            data = encode_value(m.BatchRequest(custom_id=batch_id(file, line), params=conv))
        else:
            assert self.writer is not None  # check_formats made sure
            value, extra = self.writer.write_conversion(c)
            if self.valid_only and self.to == "openai-finetune":
                from convo.codec.formats.openai_finetune import invalid

                why = invalid(value)
                if why is not None:
                    raise Invalid(why)
            data = dump_json(value)
        for loss in extra:
            _add(stats.losses, loss_key("write", loss))
        if lost or extra:
            stats.lossy += 1
        return data


@register
class ConvertOp(TallyOp):
    """One line in one format to one line in another (``from_="auto"``: each line's format told
    by its content)."""

    name = "convert"
    tally = ConvertTally

    def __init__(
        self,
        *,
        from_: str,
        to: str,
        model: str | None = None,
        max_tokens: int | None = None,
        set_model: str | None = None,
        valid_only: bool = False,
        **kw: Any,
    ) -> None:
        if to == "parquet":
            kw.setdefault("out_format", "parquet")
        super().__init__(**kw)
        self.conv = _Converter(from_, to, model, max_tokens, set_model, valid_only)
        self.kind = {"anthropic": "request", "batch": "batch_request", "exchange": "exchange"}.get(from_)
        self.as_is = _kept_as_is(from_, to)

    def _read(self, file: str, lineno: int, raw: bytes, stats: ConvertTally) -> tuple[Conversion, bool]:
        if self.kind is not None or self.conv.from_ == "parquet":  # convo's own lines: the lossless codec
            value = decode_line(RawLine(file, lineno, raw), kind=self.kind).value  # type: ignore[arg-type]
            if isinstance(value, m.BatchResult):
                raise DecodeError("a batch result line holds no request to convert")
            if isinstance(value, m.BatchRequest):
                return Conversion(value.params), False
            if isinstance(value, m.Exchange):
                conv = value.request
                if isinstance(value.response, m.Response):
                    conv = conv.with_response(value.response)
                return Conversion(conv), False
            assert isinstance(value, m.Conversation)
            return Conversion(value), False
        obj = parse_json(raw)
        reader = self.conv.reader
        if self.conv.from_ == "auto":
            from convo.codec.formats import FORMATS, detect

            name = detect(obj)
            if name is None or not FORMATS[name].per_line:
                raise DecodeError("no format convo reads line by line fits this line (--from names one)")
            _add(stats.detected, name)
            reader = FORMATS[name]
        assert reader is not None  # check_formats made sure
        c = reader.read(obj, source=f"{file}:{lineno}")
        for loss in c.losses:
            _add(stats.losses, loss_key("read", loss))
        return c, bool(c.losses)

    def line(
        self,
        file: str,
        lineno: int,
        raw: bytes,
        out: list[bytes],
        rejects: list[bytes],
        stats: Any,
    ) -> bool:
        if self.as_is:
            return self._line_as_is(file, lineno, raw, out, rejects, stats)
        try:
            c, lost = self._read(file, lineno, raw, stats)
        except DecodeError as e:
            code = classify(raw)
            if code == "shape" and self.kind is None:
                code = "format"  # it is JSON; the foreign format's reader refused it
            self.reject_undecodable(file, lineno, raw, e, code, rejects, stats)
            return False
        try:
            out.append(self.conv.write(c, file, lineno, stats, lost))
        except Invalid as e:  # --valid-only: not a valid example of the target format
            rejects.append(reject(file, lineno, "rule", str(e), "$.messages", raw))
            _add(stats.rejects, "rule")
            return False
        except Exception as e:  # one line, never the run; a bug is said to be one
            code, reason = write_failure(self.conv.to, e)
            rejects.append(reject(file, lineno, code, reason, "$", raw))
            _add(stats.rejects, code)
            return False
        return True

    def _line_as_is(
        self, file: str, lineno: int, raw: bytes, out: list[bytes], rejects: list[bytes], stats: Any
    ) -> bool:
        """Parquet in or out: convo's own line, whatever its kind, decoded and written as it is
        (an exchange stays an exchange; ``--model`` / ``--max-tokens`` fill its request)."""
        try:
            value = decode_line(RawLine(file, lineno, raw)).value
        except DecodeError as e:
            self.reject_undecodable(file, lineno, raw, e, classify(raw), rejects, stats)
            return False
        conv = conversation_of(value)
        filled = self.conv.fill(conv) if conv is not None else None
        if filled is not conv:
            value = with_conversation(value, filled)  # type: ignore[arg-type]
        elif self.conv.from_ == "parquet":
            out.append(raw)  # the json column holds the codec's own output: decoded (checked), kept
            self.keep(value)
            return True
        out.append(encode_value(value))
        self.keep(value)
        return True


def _kept_as_is(from_: str, to: str) -> bool:
    """Whether lines go through as they are: into Parquet from convo's own kinds, or out of
    Parquet to ``anthropic`` (the lines it holds, of any kind).

    >>> _kept_as_is("exchange", "parquet"), _kept_as_is("parquet", "anthropic"), _kept_as_is("openai", "parquet")
    (True, True, False)
    """
    return (to == "parquet" and from_ in _OWN) or (from_ == "parquet" and to == "anthropic")


def write_failure(to: str, e: Exception) -> tuple[str, str]:
    """The reject code and reason for a conversation that could not be written as *to*.

    ``encode``: it cannot be JSON (nested deeper than a writer can walk, a value JSON has no
    form for). Anything else a writer raises is a bug in convo, ``internal``, and said so.

    >>> write_failure("openai", RecursionError("maximum recursion depth exceeded"))[0]
    'encode'
    >>> write_failure("openai", KeyError("role"))
    ('internal', "a bug in convo: the openai writer raised KeyError: 'role' (please report it, with this line)")
    """
    if isinstance(e, orjson.JSONEncodeError | RecursionError):
        what = "nested too deeply to write" if isinstance(e, RecursionError) else str(e)
        return "encode", f"cannot be written as {to}: {what}"
    return "internal", f"a bug in convo: the {to} writer raised {type(e).__name__}: {e} (please report it, with this line)"


# --------------------------------------------------------------------------- the command's driver

_WHOLE_FILE_PATTERNS = {"inspect": ("*.json", "*.eval"), "claude-code": ("*.jsonl",)}
_LINE_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.json", "*.parquet")


def _is_json_array(path: str) -> bool:
    """Whether a file holds one JSON array (ShareGPT datasets often do) rather than JSONL."""
    if path == "-":
        return False
    f, raw = open_binary(path)  # gzip told by its magic bytes, as the engine reads it
    try:
        head = f.read(4096).lstrip()
    finally:
        f.close()
        raw.close()
    return head.startswith(b"[")


class RunFn(Protocol):
    """How :func:`convert_files` runs the engine over a group of JSONL files (the caller's, so
    that it can show progress): :func:`convo.stream.runner.run_operation` with its settings."""

    def __call__(
        self, spec: OpSpec, sources: Sequence[str], *, out: Sink | None, rejects: Sink | None
    ) -> tuple[RunCounts, Any, list[str]]: ...


def convert_files(
    inputs: Sequence[str],
    *,
    from_: str,
    to: str,
    model: str | None = None,
    max_tokens: int | None = None,
    set_model: str | None = None,
    valid_only: bool = False,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    out: Sink,
    rejects: Sink,
    run: RunFn,
    detected: dict[str, str] | None = None,
) -> tuple[RunCounts, ConvertTally, list[str]]:
    """Convert *inputs* in order: JSONL through the engine (*run*: every bad line rejected, the
    run goes on), whole files (a format's log files, or a JSON array of records) through the
    format's file reader. With ``from_="auto"`` each file's format is told by its content
    (:func:`convo.codec.formats.detect_file`; stdin line by line) and *detected* receives
    ``{path: format}``. *model* fills a missing model; *set_model* sets it on every line. Returns
    the counts, the tally and file-level problems."""
    formats = _formats()
    fmt = formats.get(from_)
    whole_format = fmt is not None and not fmt.per_line
    if whole_format and (not inputs or "-" in inputs):
        raise InputError(f"--from {from_} reads whole files: give paths, not stdin")
    if from_ == "auto":
        patterns: tuple[str, ...] = (*_LINE_PATTERNS, "*.eval")
    else:
        patterns = _WHOLE_FILE_PATTERNS.get(from_, ("*",)) if whole_format else _LINE_PATTERNS
    files = expand(list(inputs) or ["-"], patterns=patterns)
    if not files:
        raise InputError(f"no input files in {', '.join(inputs)}")
    settings = {"to": to, "model": model, "max_tokens": max_tokens, "set_model": set_model,
                "valid_only": valid_only, "max_line_bytes": max_line_bytes}
    counts = RunCounts()
    tally = ConvertTally()
    problems: list[str] = []
    group: list[str] = []
    group_from = from_

    def flush_group() -> None:
        if group:
            spec = OpSpec("convert", {"from_": group_from, **settings})
            c, t, found = run(spec, list(group), out=out, rejects=rejects)
            counts.add(c)
            tally.merge(t)
            if from_ == "auto" and group_from != "auto":
                _add(tally.detected, group_from, c.out)
            problems.extend(found)
            group.clear()

    for path in files:
        name = from_
        if from_ == "auto" and path != "-":
            from convo.codec.formats import detect_file

            found_name = detect_file(path)
            if found_name is None:
                flush_group()
                problems.append(f"{path}: no format convo reads fits its content; skipped whole (see the rejects)")
                _reject_file(path, "no format convo reads fits the file's content", counts, tally, rejects)
                continue
            name = found_name
            if detected is not None:
                detected[path] = name
        elif from_ == "auto" and detected is not None:
            detected[path] = "auto (line by line)"
        line_format = name in ENVELOPES or name == "auto" or formats[name].per_line
        if not line_format or _is_json_array(path) or (from_ == "auto" and _is_one_document(path)):
            flush_group()
            c, t = _convert_whole_file(path, _Converter(name, to, model, max_tokens, set_model, valid_only),
                                       name, out=out, rejects=rejects, max_bytes=max_line_bytes)
            counts.add(c)
            tally.merge(t)
            if from_ == "auto":
                _add(tally.detected, name, c.out)
            continue
        if name != group_from:
            flush_group()
            group_from = name
        group.append(path)
    flush_group()
    return counts, tally, problems


def _is_one_document(path: str) -> bool:
    """Whether a file is one JSON object written over several lines (a pretty-printed record)."""
    if path == "-":
        return False
    f, raw = open_binary(path)
    try:
        head = f.read(1 << 16)
    finally:
        f.close()
        raw.close()
    first = head.lstrip().split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return False
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return True
    return False


def _reject_file(path: str, reason: str, counts: RunCounts, tally: ConvertTally, rejects: Sink) -> None:
    counts.files += 1
    counts.lines_in += 1
    counts.rejected += 1
    _add(tally.rejects, "format")
    rejects.write_line(orjson.dumps({"file": path, "line": 0, "code": "format", "reason": reason,
                                     "path": "$", "raw": None}))


def _convert_whole_file(
    path: str, conv: _Converter, from_: str, *, out: Sink, rejects: Sink, max_bytes: int
) -> tuple[RunCounts, ConvertTally]:
    """One file through its format's file reader: each conversation is a unit ("line"). A
    whole-file format's reader bounds each JSON document (an ``.eval`` member, a session line)
    by *max_bytes* before it inflates or parses it."""
    import time

    reader_fmt = _formats()[from_]
    options: dict[str, Any] = {} if reader_fmt.per_line else {"max_bytes": max_bytes}
    tally = ConvertTally()
    counts = RunCounts(files=1, bytes_in=os.path.getsize(path))
    start = time.perf_counter()
    index = 0

    def unreadable(e: DecodeError, *, last: bool = False) -> None:
        # one reject names the file and the place (it stays on disk); *last*: nothing after it is read
        nonlocal index
        index += 1
        counts.lines_in += 1
        counts.rejected += 1
        _add(tally.rejects, "format")
        rejects.write_line(orjson.dumps({
            "file": path, "line": e.line if e.line is not None else (0 if last else index), "code": "format",
            "reason": e.expected, "path": e.path, "raw": None,
            **({"after_conversations": index - 1} if last else {}),
            **({"source": e.file} if e.file and e.file != path else {}),  # e.g. an .eval's member
        }))

    if reader_fmt.reads_past_errors:
        options["on_error"] = unreadable  # a reader whose units stand alone goes on past a bad one
    try:
        for c in reader_fmt.read_file(path, **options):
            index += 1
            counts.lines_in += 1
            for loss in c.losses:
                _add(tally.losses, loss_key("read", loss))
            try:
                line = conv.write(c, path, index, tally, bool(c.losses))
            except Invalid as e:
                counts.rejected += 1
                _add(tally.rejects, "rule")
                rejects.write_line(orjson.dumps({
                    "file": path, "line": index, "code": "rule", "reason": str(e), "path": "$.messages",
                    "raw": None, "source": c.source,
                }))
                continue
            except Exception as e:
                code, reason = write_failure(conv.to, e)
                counts.rejected += 1
                _add(tally.rejects, code)
                rejects.write_line(orjson.dumps({
                    "file": path, "line": index, "code": code,
                    "reason": reason, "path": "$", "raw": None,
                    "source": c.source,
                }))
                continue
            out.write_line(line)
            counts.out += 1
    except DecodeError as e:
        unreadable(e, last=True)  # the file cannot be read further
    counts.seconds = time.perf_counter() - start
    return counts, tally

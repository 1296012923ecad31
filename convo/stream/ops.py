"""The per-line operations of the command: transform, validate and stats (convert: its module).

Each is registered by name and built from plain-data options, in the main process or in a worker
(see :mod:`convo.stream.operation`). Every line is decoded with the codec's :func:`decode_line` (so line
kinds, huge integers and error paths are the codec's), and every failure becomes a reject record
with the line's original bytes or a diagnostic: no line is ever dropped. Each operation keeps a
:class:`Tally` per chunk (reject codes, and what the operation counts), merged in input order.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from convo import _frozen
from convo import model as m
from convo.codec.lines import (
    REQUEST_FIELDS,
    LineKind,
    RawLine,
    Value,
    conversation_of,
    decode_json_bytes,
    decode_line,
    encode_value,
)
from convo.errors import DecodeError
from convo.stream.operation import Operation, classify, register, reject_error
from convo.stream.rejects import reject
from convo.stream.sources import Oversize
from convo.transforms import ChangeLog

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import define, field
else:
    from convo._frozen import define, field

__all__ = [
    "StatsOp",
    "StatsTally",
    "Tally",
    "TallyOp",
    "TransformOp",
    "TransformTally",
    "ValidateOp",
    "ValidateTally",
    "conversation_of",
    "line_path",
    "with_conversation",
]


def _drop_spool(item: Oversize) -> None:
    """Delete an over-long line's spool file now (it may be large) when nothing will copy it."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(item.spool)


def _add(counts: dict[Any, int], key: Any, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def _merge(total: dict[Any, int], part: dict[Any, int]) -> None:
    for k, v in part.items():
        total[k] = total.get(k, 0) + v


@define
class Tally:
    """What a chunk counted; :meth:`merge` adds another tally of the same class."""

    rejects: dict[str, int] = field(factory=dict)  # by reject code

    def merge(self, other: Tally) -> None:
        """Add *other* (a tally of the same operation) into this one."""
        _merge(self.rejects, other.rejects)


class TallyOp(Operation):
    """An operation whose statistics are a :class:`Tally` (its ``tally`` class), merged in order.

    A line over the size limit gets the base's ``too_long`` reject and is counted by that code.
    """

    tally: ClassVar[type[Tally]] = Tally

    def new_stats(self) -> Tally:
        return self.tally()

    def merge_stats(self, total: Any, part: Any) -> Any:
        total.merge(part)
        return total

    def oversize(self, item: Oversize) -> Any:
        result = super().oversize(item)
        _add(result.stats.rejects, "too_long")
        return result

    def reject_too_long(
        self, file: str, lineno: int, raw: bytes, out: list[bytes], rejects: list[bytes], stats: Any
    ) -> None:
        super().reject_too_long(file, lineno, raw, out, rejects, stats)
        _add(stats.rejects, "too_long")

    def reject_undecodable(
        self, file: str, lineno: int, raw: bytes, error: DecodeError, code: str,
        rejects: list[bytes], stats: Any,
    ) -> None:
        """Reject a line that did not decode, by *code* (see :func:`~convo.stream.operation.classify`)."""
        rejects.append(reject_error(file, lineno, raw, error, code))
        _add(stats.rejects, code)


# --------------------------------------------------------------------------- conversations in lines


def with_conversation(value: Value, conv: m.Conversation) -> Value:
    """*value* holding *conv* in place of its conversation (the same object when unchanged).

    >>> line = m.BatchRequest(custom_id="a", params=m.Conversation(model="x"))
    >>> with_conversation(line, m.Conversation(model="y")).params.model
    'y'
    """
    if isinstance(value, m.Conversation):
        return conv
    for cls, key in REQUEST_FIELDS.items():
        if isinstance(value, cls):
            new: Value = value if getattr(value, key) is conv else _frozen.evolve(value, **{key: conv})
            return new
    return value


_PATH_PREFIX: dict[type[Any], str] = {cls: f"$.{key}" for cls, key in REQUEST_FIELDS.items()}


def line_path(value: Value, path: str) -> str:
    """A ``$.path`` inside a line's conversation, as a path inside the line itself.

    >>> line_path(m.BatchRequest(custom_id="a", params=m.Conversation()), "$.messages[0]")
    '$.params.messages[0]'
    """
    prefix = _PATH_PREFIX.get(type(value))
    if prefix is None:
        return path
    return prefix + path[1:]


# --------------------------------------------------------------------------- transform



class _CountingLog(ChangeLog):
    """A change log that only counts, by ``(transform, what)``: what the summary reports, without
    a :class:`~convo.transforms.Change` record per change (about 4% of a line's time). Changes
    go into ``cell[0]`` and notes into ``cell[1]`` (the caller puts fresh dicts there for each
    line), so one log and its sub-logs serve every line of a thread."""

    __slots__ = ("_subs", "cell")

    def __init__(self, transform: str, cell: list[dict[tuple[str, str], int]]) -> None:
        super().__init__(transform)
        self.paths = False  # only counted: transforms need not build them
        self.cell = cell
        self._subs: dict[str, _CountingLog] = {}

    def add(self, what: str, path: str, why: str) -> None:
        counts, key = self.cell[0], (self.transform, what)  # (_add, inlined: once per change)
        counts[key] = counts.get(key, 0) + 1

    def add_many(self, what: str, why: str, n: int) -> None:
        if n:
            counts, key = self.cell[0], (self.transform, what)
            counts[key] = counts.get(key, 0) + n

    def note(self, what: str, path: str, why: str) -> None:
        _add(self.cell[1], (self.transform, what))

    def sub(self, transform: str) -> ChangeLog:
        log = self._subs.get(transform)
        if log is None:
            log = self._subs[transform] = _CountingLog(transform, self.cell)
        return log


@define
class TransformTally(Tally):
    """Changes the transforms reported, by ``(transform, what)``, lines changed, and notes
    (what a transform reports of every line, changed or not: data it could not look into).

    >>> TransformTally(changes={("drop_images", "dropped an image"): 3}).changes_by_text()
    {'drop_images: dropped an image': 3}
    """

    changes: dict[tuple[str, str], int] = field(factory=dict)
    changed: int = 0
    rules: dict[str, int] = field(factory=dict)  # --validate-for rejections, by rule
    notes: dict[tuple[str, str], int] = field(factory=dict)

    def merge(self, other: Tally) -> None:
        """Add *other* into this tally."""
        assert isinstance(other, TransformTally)
        Tally.merge(self, other)  # (no super(): a class convo._frozen builds takes no __class__ cell)
        _merge(self.changes, other.changes)
        _merge(self.rules, other.rules)
        _merge(self.notes, other.notes)
        self.changed += other.changed

    def changes_by_text(self) -> dict[str, int]:
        """The changes keyed ``"transform: what"``, as the summary shows them."""
        return {f"{t}: {what}": n for (t, what), n in self.changes.items()}

    def notes_by_text(self) -> dict[str, int]:
        """The notes keyed ``"transform: what"``."""
        return {f"{t}: {what}": n for (t, what), n in self.notes.items()}


@register
class TransformOp(TallyOp):
    """Apply a pipeline to each line's conversation (and, for a transform that asks for it, to
    the rest of the line: ``scrub_secrets``); optionally check it for a target model."""

    name = "transform"
    tally = TransformTally
    takes_views = True  # orjson reads a view as it reads bytes, and so do reject records

    def __init__(
        self,
        *,
        specs: Sequence[str] = (),
        pipeline_path: str | None = None,
        validate_for: str | None = None,
        api_version: str | None = None,
        betas: Sequence[str] = (),
        allow: Sequence[str] = (),
        kind: LineKind | None = None,
        run_key: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        from convo.stream.pipelines import load_pipeline

        self.transform = load_pipeline(specs, pipeline_path)
        if run_key is not None:
            # one key for the run, whichever worker builds this: keyed markers agree
            from convo.transforms.secrets import with_run_key

            self.transform = with_run_key(self.transform, run_key)
        self.outside = self.transform.outside
        self._local = threading.local()  # one counting log per thread (convo.dask shares ops)
        self.kind = kind
        self.profile: Any = None
        self.api_version = api_version or ""
        self.betas = tuple(betas)  # what --validate-for checks with (anthropic-beta headers)
        self.allow = tuple(allow)  # and the unknown keys it accepts
        if validate_for:
            from convo.profiles import DEFAULT_API_VERSION, get_profile

            self.profile = get_profile(validate_for)
            self.api_version = api_version or DEFAULT_API_VERSION
            from convo.rules import validate

            self._validate = validate

    def _transform(
        self, file: str, lineno: int, raw: bytes, value: Value, conv: m.Conversation | None,
        rejects: list[bytes], stats: Any,
    ) -> Value | None:
        """One line's value transformed (its conversation, then the rest of the line when the
        pipeline asks for it); None when the line went to the rejects."""
        before = value
        changes: dict[tuple[str, str], int] = {}
        notes: dict[tuple[str, str], int] = {}
        local = self._local
        log = getattr(local, "log", None)
        if log is None:
            log = local.log = _CountingLog(self.transform.name, [changes, notes])
        log.cell[0] = changes
        log.cell[1] = notes
        new = conv
        inside = True  # paths of errors raised inside the conversation are made the line's
        try:
            if conv is not None:
                new = self.transform.apply(conv, log)
                if new is not conv:
                    value = with_conversation(value, new)
            inside = False
            if self.outside:
                value = self.transform.apply_outside(value, log)
        except Exception as e:  # a transform that raises costs one line, never the run
            path = getattr(e, "path", "$")
            if not isinstance(path, str):
                path = "$"
            elif inside:
                path = line_path(before, path)
            rejects.append(reject(file, lineno, "transform", f"{type(e).__name__}: {e}", path, raw))
            _add(stats.rejects, "transform")
            return None
        if notes:
            _merge(stats.notes, notes)
        if new is not None and self.profile is not None:
            report = self._validate(new, profile=self.profile, api_version=self.api_version,
                                    betas=self.betas, allow=self.allow)
            if not report.ok:
                first = report.errors[0]
                more = len(report.errors) - 1
                reason = f"{first.rule}: {first.message}" + (f" ({first.hint})" if first.hint else "")
                if more:
                    reason += f" (and {more} more: " + ", ".join(
                        sorted({v.rule for v in report.errors[1:]})
                    ) + ")"
                rejects.append(
                    reject(file, lineno, "rule", reason, line_path(value, first.path), raw)
                )
                _add(stats.rejects, "rule")
                for v in report.errors:
                    _add(stats.rules, v.rule)
                return None
        if value is not before:
            stats.changed += 1
            if changes:
                _merge(stats.changes, changes)
        return value

    def line(
        self,
        file: str,
        lineno: int,
        raw: bytes,
        out: list[bytes],
        rejects: list[bytes],
        stats: Any,
    ) -> bool:
        try:
            value, parsed = decode_json_bytes(file, lineno, raw, self.kind)
        except DecodeError as e:
            self.reject_undecodable(file, lineno, raw, e, classify(raw), rejects, stats)
            return False
        before = value
        conv = value if value.__class__ is m.Conversation else conversation_of(value)
        if conv is not None or self.outside:
            new_value = self._transform(file, lineno, raw, value, conv, rejects, stats)
            if new_value is None:
                return False
            value = new_value
        try:
            # the turns a transform left alone are written from the parsed line, not built again
            out.append(encode_value(value, base=(before, parsed)))
        except Exception as e:  # e.g. a user transform put a non-JSON value in `extra`
            rejects.append(reject(file, lineno, "encode", f"{type(e).__name__}: {e}", "$", raw))
            _add(stats.rejects, "encode")
            return False
        self.keep(value)
        return True


# --------------------------------------------------------------------------- validate


@define
class ValidateTally(Tally):
    """Violations by ``(rule, severity)``; lines with errors, with warnings only, skipped."""

    rules: dict[tuple[str, str], int] = field(factory=dict)
    with_errors: int = 0
    with_warnings: int = 0
    skipped: int = 0  # batch result lines: no request to check

    def merge(self, other: Tally) -> None:
        """Add *other* into this tally."""
        assert isinstance(other, ValidateTally)
        Tally.merge(self, other)
        _merge(self.rules, other.rules)
        self.with_errors += other.with_errors
        self.with_warnings += other.with_warnings
        self.skipped += other.skipped


DECODE_RULES = {
    "utf8": "decode.utf8",
    "json": "decode.json",
    "shape": "decode.shape",
    "too_long": "decode.too-long",
}
"""The rule id a line gets in ``convo validate`` when it cannot even be decoded."""


def diagnostic_text(file: str, line: int, rule: str, severity: str, path: str, message: str, hint: str) -> bytes:
    """One diagnostic: ``FILE:LINE: RULE $.path message (hint)`` (warnings say so first).

    >>> diagnostic_text("a.jsonl", 3, "prefill.unsupported", "error", "$.messages[1]",
    ...                 "this model does not accept prefill", "drop the last assistant turn")
    b'a.jsonl:3: prefill.unsupported $.messages[1] this model does not accept prefill (drop the last assistant turn)'
    """
    text = f"{file}:{line}: {rule} {path} "
    if severity != "error":
        text += f"{severity}: "
    text += message
    if hint:
        text += f" ({hint})"
    return text.encode("utf-8", "backslashreplace")


def diagnostic_json(file: str, line: int, rule: str, severity: str, path: str, message: str, hint: str) -> bytes:
    """One diagnostic as a JSON line (``--json``).

    >>> diagnostic_json("a.jsonl", 2, "text.empty", "error", "$.messages[0].content[1]", "empty", "")[:40]
    b'{"type":"diagnostic","file":"a.jsonl","l'
    """
    return orjson.dumps(
        {
            "type": "diagnostic",
            "file": file,
            "line": line,
            "rule": rule,
            "severity": severity,
            "path": path,
            "message": message,
            "hint": hint,
        }
    )


@register
class ValidateOp(TallyOp):
    """Check each line's conversation against the API's rules; out = diagnostics."""

    name = "validate"
    tally = ValidateTally
    lines_in_output = True  # diagnostics are FILE:LINE: ...
    takes_views = True  # only decoded, or copied into a reject record

    def __init__(
        self,
        *,
        model: str | None = None,
        api_version: str | None = None,
        json: bool = False,
        strict: bool = False,
        keep_rejects: bool = False,
        kind: LineKind | None = None,
        betas: tuple[str, ...] | list[str] = (),
        allow: tuple[str, ...] | list[str] = (),
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        from convo.profiles import DEFAULT_API_VERSION, get_profile
        from convo.rules import validate

        self.betas = tuple(betas)  # anthropic-beta headers the lines are sent with (closed world)
        self.allow = tuple(allow)  # unknown keys to accept

        self._validate = validate
        self.profile = get_profile(model) if model else None
        self.api_version = api_version or DEFAULT_API_VERSION
        self.fmt = diagnostic_json if json else diagnostic_text
        self.strict = strict
        self.keep_rejects = keep_rejects
        self.kind = kind
        # a plain request judged on its parsed JSON: a clean one is never decoded
        # (convo.rules._plain; with --beta or --allow the full path decides: the check knows neither)
        self._plain: Callable[[Any], bool] | None = None
        if not self.betas and not self.allow and kind in (None, "request"):
            from convo.codec.lines import lazy_masks
            from convo.rules._plain import PlainCheck

            self._plain = PlainCheck(lazy_masks, self.profile, api_version=self.api_version)

    def _undecodable(
        self, file: str, lineno: int, raw: bytes, code: str, path: str, message: str,
        out: list[bytes], rejects: list[bytes], stats: ValidateTally,
    ) -> None:
        rule = DECODE_RULES[code]
        out.append(self.fmt(file, lineno, rule, "error", path, message, ""))
        _add(stats.rules, (rule, "error"))
        _add(stats.rejects, code)
        stats.with_errors += 1

    def oversize(self, item: Oversize) -> Any:
        result = Operation.oversize(self, item)  # the diagnostic below counts the line
        stats = result.stats
        out: list[bytes] = []
        self._undecodable(
            item.file, item.line, b"", "too_long", "$",
            f"line of {item.size} bytes is longer than the limit of {self.max_line_bytes} bytes",
            out, [], stats,
        )
        result.out = b"\n".join(out) + b"\n"
        if not self.keep_rejects:
            _drop_spool(item)
            result.spool = None
        return result

    def reject_too_long(
        self, file: str, lineno: int, raw: bytes, out: list[bytes], rejects: list[bytes], stats: Any
    ) -> None:
        self._undecodable(
            file, lineno, raw, "too_long", "$",
            f"line of {len(raw)} bytes is longer than the limit of {self.max_line_bytes} bytes",
            out, rejects, stats,
        )
        if self.keep_rejects:  # the record only: the diagnostic above counted the line
            Operation.reject_too_long(self, file, lineno, raw, out, rejects, stats)

    def line(
        self,
        file: str,
        lineno: int,
        raw: bytes,
        out: list[bytes],
        rejects: list[bytes],
        stats: Any,
    ) -> bool:
        parsed = None
        plain = self._plain
        if plain is not None:
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = None  # (the decode words why, or takes a number beyond a double)
            else:
                if plain(parsed):
                    return True  # nothing to report: as the report below would say
                if parsed.__class__ is not dict:
                    parsed = None
        try:
            value = decode_json_bytes(file, lineno, raw, self.kind, parsed=parsed)[0]
        except DecodeError as e:
            code = classify(raw)
            self._undecodable(file, lineno, raw, code, e.path, e.expected, out, rejects, stats)
            if self.keep_rejects:
                rejects.append(reject_error(file, lineno, raw, e, code))
            return False
        conv = conversation_of(value)
        if conv is None:
            stats.skipped += 1
            return True
        report = self._validate(conv, profile=self.profile, api_version=self.api_version,
                                betas=self.betas, allow=self.allow)
        if not report.violations:
            return True
        fmt = self.fmt
        for v in report.violations:
            out.append(fmt(file, lineno, v.rule, v.severity, line_path(value, v.path), v.message, v.hint))
            _add(stats.rules, (v.rule, v.severity))
        bad = bool(report.errors) or (self.strict and bool(report.warnings))
        if report.errors:
            stats.with_errors += 1
        else:
            stats.with_warnings += 1
        if bad:
            _add(stats.rejects, "rule")
            if self.keep_rejects:
                first = (report.errors or report.warnings)[0]
                rejects.append(
                    reject(file, lineno, "rule", f"{first.rule}: {first.message}",
                           line_path(value, first.path), raw)
                )
        return not bad


# --------------------------------------------------------------------------- stats


_USAGE_KEYS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "web_search", "web_fetch")


@define
class StatsTally(Tally):
    """Counts over conversations, usage by model, and the distributions ``convo stats`` draws.

    Usage is kept by ``(model, batch)`` as the seven billable counts of
    :class:`convo.pricing.TokenCounts` (plus the number of responses); Claude Code repeats one
    API message over several lines (one per content block, output tokens growing as it streams),
    so those are kept by message id, the line with the most output tokens winning, and counted
    once when the tally is read (:meth:`usage`).
    """

    lines: int = 0
    kinds: dict[str, int] = field(factory=dict)
    conversations: int = 0
    turns: int = 0
    max_turns: int = 0
    roles: dict[str, int] = field(factory=dict)
    models: dict[str, int] = field(factory=dict)
    images: int = 0
    documents: int = 0
    tool_calls: int = 0
    tool_results: int = 0
    thinking: int = 0
    with_system: int = 0
    tokens: int = 0
    stop_reasons: dict[str, int] = field(factory=dict)
    results: dict[str, int] = field(factory=dict)  # batch result types, exchange outcomes
    bytes: int = 0
    usage_by: dict[tuple[str, bool], list[int]] = field(factory=dict)  # (model, batch) -> 7 counts + responses
    claude_code: dict[str, tuple[int, str, tuple[int, ...]]] = field(factory=dict)  # message id -> (output, model, counts)
    hist_turns: dict[int, int] = field(factory=dict)  # log2 buckets (convo.view.charts.log2_bucket)
    hist_tokens: dict[int, int] = field(factory=dict)
    hist_cost: dict[int, int] = field(factory=dict)  # responses of exchanges and batch results

    def merge(self, other: Tally) -> None:
        """Add *other* into this tally."""
        assert isinstance(other, StatsTally)
        Tally.merge(self, other)
        for name in ("lines", "conversations", "turns", "images", "documents", "tool_calls",
                     "tool_results", "thinking", "with_system", "tokens", "bytes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_turns = max(self.max_turns, other.max_turns)
        for name in ("kinds", "roles", "models", "stop_reasons", "results", "hist_turns", "hist_tokens", "hist_cost"):
            _merge(getattr(self, name), getattr(other, name))
        for key, counts in other.usage_by.items():
            mine = self.usage_by.get(key)
            if mine is None:
                self.usage_by[key] = list(counts)
            else:
                for i, v in enumerate(counts):
                    mine[i] += v
        for mid, entry in other.claude_code.items():
            have = self.claude_code.get(mid)
            if have is None or entry[0] > have[0]:
                self.claude_code[mid] = entry

    def add_usage(self, model: str, batch: bool, counts: Any) -> None:
        """Add one response's billable counts (a :class:`convo.pricing.TokenCounts`)."""
        row = self.usage_by.get((model, batch))
        if row is None:
            row = self.usage_by[(model, batch)] = [0] * 8
        for i, k in enumerate(_USAGE_KEYS):
            row[i] += getattr(counts, k)
        row[7] += 1

    def usage(self) -> dict[tuple[str, bool], tuple[Any, int]]:
        """``(model, batch) -> (TokenCounts, responses)``, Claude Code messages counted once each."""
        from convo.pricing import TokenCounts

        out: dict[tuple[str, bool], list[int]] = {k: list(v) for k, v in self.usage_by.items()}
        for _, model, counts in self.claude_code.values():
            row = out.setdefault((model, False), [0] * 8)
            for i, v in enumerate(counts):
                row[i] += v
            row[7] += 1
        return {k: (TokenCounts(*v[:7]), v[7]) for k, v in out.items()}

    def as_json(self) -> dict[str, Any]:
        """The tally as plain JSON (``convo stats --json``; usage and cost are the command's)."""
        import attrs

        d = attrs.asdict(self)
        for key in ("usage_by", "claude_code"):
            d.pop(key)
        d["claude_code_messages"] = len(self.claude_code)
        for key in ("hist_turns", "hist_tokens", "hist_cost"):
            d[key] = {str(k): v for k, v in sorted(getattr(self, key).items())}
        d["mean_turns"] = round(self.turns / self.conversations, 2) if self.conversations else 0
        return d


def _count_blocks(blocks: Sequence[Any], t: StatsTally) -> None:
    for b in blocks:
        cls = b.__class__
        if cls is m.Image:
            t.images += 1
        elif cls is m.ToolUse:
            t.tool_calls += 1
        elif cls is m.ToolResult:
            t.tool_results += 1
            c = b.content
            if c.__class__ is tuple:
                _count_blocks(c, t)  # images inside tool results count too (facts §3.3)
        elif cls is m.Thinking or cls is m.RedactedThinking:
            t.thinking += 1
        elif cls is m.Document:
            t.documents += 1
        elif cls is m.ServerToolUse:
            t.tool_calls += 1


_CLAUDE_CODE_TYPES = frozenset(("assistant", "user", "system", "summary", "progress", "file-history-snapshot",
                                "queue-operation", "attachment"))


def _claude_code_line(obj: Any) -> tuple[str | None, str, dict[str, Any]] | None:
    """A Claude Code session line's API message: (message id, model, usage); ``(None, "", {})``
    for a session line that carries no usage (a user turn, progress, a snapshot); None when the
    line is not Claude Code's. Claude Code writes a line per content block, with ``sessionId``,
    ``requestId`` or a ``type`` of its own; only assistant messages carry usage."""
    if obj.__class__ is not dict:
        return None
    kind = obj.get("type")
    if not ("sessionId" in obj or "requestId" in obj or (isinstance(kind, str) and kind in _CLAUDE_CODE_TYPES)):
        return None
    msg = obj.get("message")
    usage = msg.get("usage") if msg.__class__ is dict else None
    if usage.__class__ is not dict:
        return (None, "", {})
    assert isinstance(msg, dict) and isinstance(usage, dict)
    mid = msg.get("id")
    if not isinstance(mid, str):
        rid = obj.get("requestId")
        mid = rid if isinstance(rid, str) else None
    model = msg.get("model")
    return (mid, model if isinstance(model, str) else "(unknown model)", usage)


@register
class StatsOp(TallyOp):
    """Count lines, turns, models, images, tool calls, tokens, stop reasons, usage and cost."""

    name = "stats"
    tally = StatsTally
    takes_views = True  # only decoded and measured

    def __init__(self, *, kind: LineKind | None = None, prices: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.kind = kind
        self._estimate: Callable[[m.Conversation], int] | None = None
        try:
            from convo.transforms import estimate_tokens
        except ImportError:  # pragma: no cover - only while transforms are incomplete
            pass
        else:
            self._estimate = estimate_tokens
        from convo.pricing import builtin_prices, counts_of_usage, load_prices

        self.prices = load_prices(prices) if prices else builtin_prices()
        self._counts = counts_of_usage

    def oversize(self, item: Oversize) -> Any:
        result = super().oversize(item)
        _drop_spool(item)
        result.spool = None
        return result

    def reject_too_long(
        self, file: str, lineno: int, raw: bytes, out: list[bytes], rejects: list[bytes], stats: Any
    ) -> None:
        _add(stats.rejects, "too_long")  # counted only: stats writes no rejects

    def _response(self, t: StatsTally, resp: m.Response, fallback_model: Any, batch: bool) -> int:
        """Count a response's usage and cost; return its tokens (input of every kind + output)."""
        if not isinstance(resp.usage, m.Usage):
            return 0
        counts = self._counts(resp.usage)
        model = resp.model if isinstance(resp.model, str) else (fallback_model if isinstance(fallback_model, str) else "(unknown model)")
        batch = batch or resp.usage.service_tier == "batch"
        t.add_usage(model, batch, counts)
        cost = self.prices.cost(counts, model, batch=batch)
        if cost is not None:
            _add(t.hist_cost, _log2_bucket(cost.total))
        return counts.total_input + counts.output

    def _claude_code(self, t: StatsTally, raw: bytes, file: str, lineno: int) -> bool:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False
        found = _claude_code_line(obj)
        if found is None:
            return False
        t.lines += 1
        t.bytes += len(raw)
        _add(t.kinds, "claude-code")
        mid, model, usage = found
        if not usage:
            return True
        counts = self._counts(usage)
        key = mid if mid is not None else f"{file}:{lineno}"  # no id: a line of its own
        entry = (counts.output, model, (counts.input, counts.output, counts.cache_write_5m, counts.cache_write_1h,
                                        counts.cache_read, counts.web_search, counts.web_fetch))
        have = t.claude_code.get(key)
        if have is None or entry[0] > have[0]:
            t.claude_code[key] = entry
        return True

    def line(
        self,
        file: str,
        lineno: int,
        raw: bytes,
        out: list[bytes],
        rejects: list[bytes],
        stats: Any,
    ) -> bool:
        t: StatsTally = stats
        try:
            rec = decode_line(RawLine(file, lineno, raw), kind=self.kind)
        except DecodeError:
            code = classify(raw)
            if code == "shape" and self.kind is None and self._claude_code(t, bytes(raw), file, lineno):
                return True
            _add(t.rejects, code)
            return False
        t.lines += 1
        t.bytes += len(raw)
        _add(t.kinds, rec.kind)
        value = rec.value
        used = 0
        if isinstance(value, m.Exchange):
            resp = value.response
            if isinstance(resp, m.Response):
                _add(t.results, "exchange: response")
                _add(t.stop_reasons, str(resp.stop_reason))
                used = self._response(t, resp, value.request.model, False)
            else:
                err = value.error
                etype = err.get("type") if isinstance(err, dict) else None
                _add(t.results, f"exchange: error {etype or ''}".rstrip())
        elif isinstance(value, m.BatchResult):
            _add(t.results, f"batch: {value.result_type}")
            if isinstance(value.message, m.Response):
                _add(t.stop_reasons, str(value.message.stop_reason))
                used = self._response(t, value.message, None, True)
        conv = conversation_of(value)
        if conv is None:
            if used:
                _add(t.hist_tokens, _log2_bucket(used))
            return True
        t.conversations += 1
        msgs = conv.messages if conv.messages.__class__ is tuple else ()  # absent "messages": none
        n = len(msgs)
        t.turns += n
        if n > t.max_turns:
            t.max_turns = n
        _add(t.hist_turns, _log2_bucket(n))
        if isinstance(conv.model, str):
            _add(t.models, conv.model)
        else:
            _add(t.models, "(none)")
        if conv.system:
            t.with_system += 1
        for msg in msgs:
            _add(t.roles, msg.role)
            c = msg.content
            if c.__class__ is tuple:
                _count_blocks(c, t)
        estimate = len(raw) // 4
        if self._estimate is not None:
            try:
                estimate = self._estimate(conv)
            except Exception:  # an estimate is advisory: never lose a line over it
                estimate = len(raw) // 4
        t.tokens += estimate
        _add(t.hist_tokens, _log2_bucket(used or estimate))
        return True


def _log2_bucket(v: float) -> int:
    """0 for 0; k for 2^(k-1) <= v < 2^k; fractions below 1 in negative buckets (as
    :func:`convo.view.charts.log2_bucket`, which draws them)."""
    if v <= 0:
        return 0
    if v >= 1:
        return int(v).bit_length()
    import math

    return -math.ceil(-math.log2(v))

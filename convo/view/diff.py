"""What changed when a corpus was re-run: line-by-line comparisons, a summary, CI thresholds.

Layer: view. :func:`digest` reads what matters from one line (exchange record, batch result,
request or batch request): stop reason, refusal, API error, tool calls, text, usage and cost,
and (when asked) the rules it breaks for a target model. :func:`compare` sets two digests side
by side; :class:`Summary` counts over every pair; :class:`Matcher` pairs the lines of two files
by record id (``convo run``'s ``FILE:LINE`` ids by file and position, so a re-run of a transformed copy of
the input pairs with its original), by ``custom_id``, else by position (:class:`Keys`).
:func:`parse_condition` reads ``--fail-if`` thresholds in a small grammar of its own (never
``eval``)::

    condition  := or
    or         := and ("or" and)*
    and        := atom ("and" atom)*
    atom       := "(" or ")" | METRIC OP NUMBER ["%"]
    OP         := ">" | ">=" | "<" | "<=" | "==" | "!="

A count metric with ``%`` is its share of the matched lines; ``cost_change``,
``input_tokens_change`` and ``output_tokens_change`` with ``%`` are relative to BEFORE;
``mean_similarity`` with ``%`` is out of 100.

>>> s = Summary()
>>> s.add(compare(digest_value(_ex("end_turn", "Hi there")), digest_value(_ex("refusal", "No."))))
>>> s.refusals_appeared, s.stop_reason_changed, parse_condition("refusals_appeared > 0").holds(s)
(1, 1, True)
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from attrs import define, field, frozen

from convo import model as m
from convo._json import UNSET
from convo.codec import parse_json, structure
from convo.codec.lines import decode_value, detect_kind
from convo.errors import DecodeError
from convo.pricing import PriceTable, TokenCounts, counts_of_usage

__all__ = [
    "METRICS",
    "Condition",
    "ConditionError",
    "Digest",
    "Keys",
    "LineDiff",
    "Matcher",
    "Summary",
    "compare",
    "digest",
    "digest_value",
    "json_diff",
    "parse_condition",
    "similarity",
]

_WORD = re.compile(r"\w+", re.UNICODE)


# --------------------------------------------------------------------------- one line


@define
class Digest:
    """What one line says, for comparing: where it is, its key, and the outcome it records.

    Read-only by convention, not frozen: two are built per pair of lines, and a mutable attrs
    class builds in less than half the time of a frozen one; nothing changes a digest."""

    key: Any
    file: str = ""
    line: int = 0
    kind: str = "request"
    model: str | None = None
    stop_reason: str | None = None
    refusal: bool = False
    refusal_category: str | None = None
    error: str | None = None  # the API error's type (exchange error, errored batch result)
    undecodable: str | None = None  # why the line could not be read
    tool_calls: tuple[tuple[str, Any], ...] = ()  # (name, input) in order, client and server tools
    text: str = ""
    counts: TokenCounts | None = None
    cost: float | None = None
    rules: tuple[str, ...] | None = None  # rule ids of errors for the target model; None: not checked
    params: tuple[tuple[str, Any], ...] | None = None  # a request's parameters (not for run records)
    raw: bytes | None = field(default=None, eq=False, repr=False)  # the line, kept for a side-by-side report

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}" if self.file else f"line {self.line}"


def _calls(blocks: Iterable[Any]) -> list[tuple[str, Any]]:
    return [(b.name, b.input) for b in blocks if isinstance(b, m.ToolUse | m.ServerToolUse)]


def _text(blocks: Iterable[Any]) -> str:
    return "\n".join(b.text for b in blocks if isinstance(b, m.Text))


def digest_value(
    value: Any,
    *,
    key: Any = ("line", 0),
    file: str = "",
    line: int = 0,
    prices: PriceTable | None = None,
    check: Any = None,
) -> Digest:
    """The :class:`Digest` of a decoded line value. *check*: a function conversation -> rule ids
    of its errors (the target model's rules), or None not to check.

    >>> d = digest_value(_ex("tool_use", "Let me look.", tool=("lookup", {"q": 1})))
    >>> d.stop_reason, d.tool_calls, d.text
    ('tool_use', (('lookup', FrozenDict({'q': 1})),), 'Let me look.')
    """
    resp: m.Response | None = None
    conv: m.Conversation | None = None
    error: str | None = None
    kind = "request"
    batch = False
    if isinstance(value, m.Exchange):
        kind, conv = "exchange", value.request
        resp = value.response if isinstance(value.response, m.Response) else None
        if value.error is not UNSET and value.error is not None:
            error = _error_type(value.error)
    elif isinstance(value, m.BatchResult):
        kind, batch = "batch_result", True
        resp = value.message if isinstance(value.message, m.Response) else None
        if value.result_type != "succeeded":
            error = _error_type(value.error) if value.error is not UNSET else value.result_type
    elif isinstance(value, m.BatchRequest):
        kind, conv = "batch_request", value.params
    elif isinstance(value, m.Conversation):
        conv = value
    elif isinstance(value, m.Response):
        kind, resp = "response", value
    rules = tuple(check(conv)) if check is not None and conv is not None else None
    if resp is not None:
        details = resp.stop_details
        refusal = resp.stop_reason == "refusal" or (isinstance(details, m.StopDetails) and details.type == "refusal")
        category = details.category if isinstance(details, m.StopDetails) and isinstance(details.category, str) else None
        model = resp.model if isinstance(resp.model, str) else (conv.model if conv is not None and isinstance(conv.model, str) else None)
        counts = counts_of_usage(resp.usage) if isinstance(resp.usage, m.Usage) else None
        cost = None
        if counts is not None and prices is not None:
            c = prices.cost(counts, model, batch=batch or getattr(resp.usage, "service_tier", None) == "batch")
            cost = c.total if c is not None else None
        return Digest(key=key, file=file, line=line, kind=kind, model=model,
                      stop_reason=resp.stop_reason if isinstance(resp.stop_reason, str) else None,
                      refusal=refusal, refusal_category=category, error=error,
                      tool_calls=tuple(_calls(resp.blocks)), text=_text(resp.blocks),
                      counts=counts, cost=cost, rules=rules)
    if conv is None or kind == "exchange":  # an exchange without a response: its error is the outcome
        return Digest(key=key, file=file, line=line, kind=kind, error=error or "no response", rules=rules,
                      model=conv.model if conv is not None and isinstance(conv.model, str) else None)
    # a request: the conversation itself is what is compared (a transformed copy of a corpus)
    msgs = conv.messages if isinstance(conv.messages, tuple) else ()
    calls: list[tuple[str, Any]] = []
    texts: list[str] = []
    for msg in msgs:
        if isinstance(msg.content, str):
            texts.append(msg.content)
        else:
            calls.extend(_calls(msg.content))
            texts.append(_text(msg.content))
    model = conv.model if isinstance(conv.model, str) else None
    params = [(a.name, getattr(conv, a.name)) for a in _PARAMS if getattr(conv, a.name) is not UNSET]
    params.extend((str(k), v) for k, v in conv.extra.items())
    if isinstance(conv.system, str | tuple):
        params.append(("system", conv.system if isinstance(conv.system, str) else _text(conv.system)))
    params.append(("turns", len(msgs)))
    from convo.transforms import estimate_tokens

    try:
        counts = TokenCounts(input=estimate_tokens(conv))
    except Exception:  # an estimate is advisory: a line it cannot size is compared without it
        counts = None
    cost = None
    if counts is not None and prices is not None:
        c = prices.cost(counts, model)
        cost = c.total if c is not None else None
    return Digest(key=key, file=file, line=line, kind=kind, model=model, tool_calls=tuple(calls),
                  text="\n".join(t for t in texts if t), counts=counts, cost=cost, rules=rules, params=tuple(params))


_PARAMS = tuple(a for a in m.Conversation.__attrs_attrs__ if a.name not in ("messages", "system", "extra"))


def _error_type(error: Any) -> str:
    if isinstance(error, Mapping):
        inner = error.get("error", error)
        if isinstance(inner, Mapping) and isinstance(inner.get("type"), str):
            return str(inner["type"])
        if isinstance(error.get("type"), str):
            return str(error["type"])
    return "error"


def digest(raw: bytes, *, file: str = "", line: int = 0, prices: PriceTable | None = None, check: Any = None,
           keys: Keys | None = None, keep: bool = False) -> Digest:
    """The :class:`Digest` of one JSONL line (bytes), keyed for pairing by *keys* (one
    :class:`Keys` per file; without it, by line number); a line that cannot be read is a digest
    with ``undecodable`` set; *keep* keeps the line's bytes (for a side-by-side report).

    >>> digest(b'{"id": "in.jsonl:3", "request": {"model": "m", "messages": []}, '
    ...        b'"response": {"content": [], "stop_reason": "end_turn"}}', line=3, keys=Keys()).key
    ('run', 0, 1)
    """
    try:
        obj = parse_json(raw)
        if check is None and obj.__class__ is dict and "request" in obj and "messages" not in obj and "model" not in obj:
            dg = _fast_exchange(obj, keys, file, line, prices)
            if dg is not None:
                return attrs.evolve(dg, raw=bytes(raw)) if keep else dg
        value = _decode(obj, check is None)
    except DecodeError as e:
        return Digest(key=("line", line), file=file, line=line, kind="undecodable",
                      undecodable=str(e.located(file=file or "<line>", line=line)), raw=bytes(raw) if keep else None)
    key = keys(value) if keys is not None else ("line", line)
    dg = digest_value(value, key=key, file=file, line=line, prices=prices, check=check)
    return attrs.evolve(dg, raw=bytes(raw)) if keep else dg


_USAGE_INTS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _fast_exchange(obj: dict[str, Any], keys: Keys | None, file: str, line: int,
                   prices: PriceTable | None) -> Digest | None:
    """The digest of a well-formed exchange record read straight from its JSON (what the codec
    would build and :func:`digest_value` read, at a third of the cost); None for anything
    unusual, which then takes the codec's way (and gets its error, with the ``$.path``)."""
    req = obj["request"]
    if req.__class__ is not dict or not ("response" in obj or "error" in obj):
        return None
    ident = obj.get("id", UNSET)
    if ident is not UNSET and ident.__class__ is not str and ident.__class__ is not int:
        return None
    if "response" not in obj:
        if "error" not in obj or obj["error"] is None:
            return None
        model = req.get("model")
        return Digest(key=keys.of(ident) if keys is not None else ("line", line), file=file, line=line,
                      kind="exchange", model=model if model.__class__ is str else None, error=_error_type(obj["error"]))
    r = obj["response"]
    if r.__class__ is not dict or "error" in obj:
        return None
    content = r.get("content", [])
    if content.__class__ is not list:
        return None
    texts: list[str] = []
    calls: list[tuple[str, Any]] = []
    for b in content:
        if b.__class__ is not dict:
            return None
        t = b.get("type")
        if t == "text":
            x = b.get("text")
            if x.__class__ is not str:
                return None
            texts.append(x)
        elif t == "tool_use" or t == "server_tool_use":
            name, inp = b.get("name"), b.get("input")
            if name.__class__ is not str or inp.__class__ is not dict or b.get("id").__class__ is not str:
                return None
            calls.append((name, inp))
        elif t.__class__ is not str:
            return None
    stop = r.get("stop_reason")
    if stop is not None and stop.__class__ is not str:
        return None
    details = r.get("stop_details")
    if details is not None and details.__class__ is not dict:
        return None
    refusal = stop == "refusal" or (details is not None and details.get("type") == "refusal")
    category = details.get("category") if details is not None else None
    model = r.get("model")
    if model.__class__ is not str:
        model = req.get("model")
        model = model if model.__class__ is str else None
    usage = r.get("usage")
    counts = None
    cost = None
    if usage is not None:
        if usage.__class__ is not dict:
            return None
        for k in _USAGE_INTS:
            v = usage.get(k)
            if v is not None and v.__class__ is not int:
                return None
        counts = counts_of_usage(usage)
        if prices is not None:
            c = prices.cost(counts, model, batch=usage.get("service_tier") == "batch")
            cost = c.total if c is not None else None
    return Digest(key=keys.of(ident) if keys is not None else ("line", line), file=file, line=line,
                  kind="exchange", model=model, stop_reason=stop, refusal=refusal,
                  refusal_category=category if category.__class__ is str else None,
                  tool_calls=tuple(calls), text="\n".join(texts), counts=counts, cost=cost)


def _decode(obj: Any, light: bool) -> Any:
    """A parsed line's value; *light*: an exchange's request is read for its model only (the
    response is what a diff compares; building the whole history is most of a line's cost), the
    rest of the line is decoded and checked as the codec does."""
    if obj.__class__ is not dict:
        raise DecodeError("expected a JSON object")
    kind = detect_kind(obj)
    if not light or kind != "exchange":
        return decode_value(obj, kind)
    req = obj.get("request")
    if req.__class__ is not dict:
        raise DecodeError("expected an object (the request)", path="$.request")
    model = req.get("model", UNSET)
    ident = obj.get("id", UNSET)
    if ident is not UNSET and not isinstance(ident, str | int):
        raise DecodeError("expected a string or an integer", path="$.id")
    response: Any = UNSET
    if "response" in obj:
        try:
            response = structure(obj["response"], m.Response)
        except DecodeError as e:
            raise DecodeError(e.expected, path="$.response" + e.path[1:]) from None
    error = obj.get("error", UNSET)
    stub = _STUBS.get(model) if isinstance(model, str) else _NO_MODEL
    if stub is None:
        stub = m.Conversation(model=model)
        if len(_STUBS) < 1024:
            _STUBS[model] = stub
    return m.Exchange(id=ident, request=stub, response=response, error=error)


_NO_MODEL = m.Conversation()
_STUBS: dict[str, m.Conversation] = {}  # a light exchange's request: its model, one value per model


class Keys:
    """How one file's lines are keyed for pairing, as they come: ``convo run``'s ``FILE:LINE`` ids
    by the order of FILE in this file and the record's position among FILE's records (so a re-run
    of a transformed copy pairs with its original even where the transform dropped bad lines and
    the line numbers moved); other ids and ``custom_id`` as they are; lines without an id by their
    position among the file's readable lines.

    >>> k = Keys()
    >>> k(m.Exchange(id="before.jsonl:12", request=m.Conversation())), k(m.Exchange(id="before.jsonl:14", request=m.Conversation()))
    (('run', 0, 1), ('run', 0, 2))
    >>> k(m.BatchResult(custom_id="r-7", result_type="expired")), k(m.Conversation())
    (('id', 'r-7'), ('n', 1))
    """

    def __init__(self) -> None:
        self.runs: dict[str, list[int]] = {}  # FILE -> [its order, records seen]
        self.plain = 0

    def __call__(self, value: Any) -> Any:
        ident: Any = None
        if isinstance(value, m.Exchange):
            ident = value.id
        elif isinstance(value, m.BatchRequest | m.BatchResult):
            ident = value.custom_id
        return self.of(ident)

    def of(self, ident: Any) -> Any:
        """The key of a line whose id is *ident* (None or UNSET: it has none)."""
        if ident is None or ident is UNSET:
            self.plain += 1
            return ("n", self.plain)
        if ident.__class__ is str:
            head, colon, tail = ident.rpartition(":")
            if colon and head and tail.isdigit() and tail.isascii():
                run = self.runs.get(head)
                if run is None:
                    run = self.runs[head] = [len(self.runs), 0]
                run[1] += 1
                return ("run", run[0], run[1])
        return ("id", str(ident))


# --------------------------------------------------------------------------- two lines


def similarity(a: str, b: str) -> float:
    """How alike two texts are, 0..1: the overlap of their words (Dice on word counts; case and
    punctuation ignored). Two empty texts are alike.

    >>> similarity("The cat sat.", "the cat sat"), similarity("a b", "c d"), round(similarity("a b c d", "a b c e"), 2)
    (1.0, 0.0, 0.75)
    """
    if a == b:
        return 1.0
    wa, wb = Counter(_WORD.findall(a.lower())), Counter(_WORD.findall(b.lower()))
    na, nb = sum(wa.values()), sum(wb.values())
    if na + nb == 0:
        return 1.0
    common = sum((wa & wb).values())
    return 2.0 * common / (na + nb)


def json_diff(a: Any, b: Any, path: str = "$", *, limit: int = 20) -> list[tuple[str, Any, Any]]:
    """Where two JSON values differ: ``(path, before, after)``; absent is ``UNSET``.

    >>> json_diff({"q": "a", "n": 1}, {"q": "b", "k": [1]})
    [('$.q', 'a', 'b'), ('$.n', 1, UNSET), ('$.k', UNSET, (1,))]
    """
    out: list[tuple[str, Any, Any]] = []

    def walk(x: Any, y: Any, p: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            for k in x:
                sub = f"{p}.{k}" if isinstance(k, str) and k.isidentifier() else f"{p}[{k!r}]"
                walk(x[k], y.get(k, UNSET) if k in y else UNSET, sub)
            for k in y:
                if k not in x:
                    sub = f"{p}.{k}" if isinstance(k, str) and k.isidentifier() else f"{p}[{k!r}]"
                    walk(UNSET, y[k], sub)
        elif isinstance(x, list | tuple) and isinstance(y, list | tuple):
            for i in range(max(len(x), len(y))):
                walk(x[i] if i < len(x) else UNSET, y[i] if i < len(y) else UNSET, f"{p}[{i}]")
        elif x != y or type(x) is not type(y):
            out.append((p, _frozen(x), _frozen(y)))

    walk(a, b, path)
    return out


def _outcome(d: Digest) -> str:
    """A line's stop reason, or what it has instead (an API error, nothing)."""
    if d.stop_reason is not None:
        return d.stop_reason
    if d.error:
        return f"(error: {d.error})"
    return "(none)" if d.kind != "request" else "(request)"


def _frozen(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v


@define
class LineDiff:
    """Two digests of one record, and what changed between them (read-only by convention, as
    :class:`Digest`)."""

    before: Digest
    after: Digest
    stop_changed: bool = False
    refusal: str | None = None  # "appeared" / "vanished"
    error: str | None = None  # "appeared" / "vanished" / "changed"
    tool_names_changed: bool = False
    tool_args_changed: bool = False
    arg_diffs: tuple[tuple[int, str, tuple[tuple[str, Any, Any], ...]], ...] = ()  # (call, name, diffs)
    text_changed: bool = False
    similarity: float = 1.0
    validity: str | None = None  # "became invalid" / "became valid"
    params: tuple[tuple[str, Any, Any], ...] = ()  # a request's parameters that changed: (name, before, after)
    score: float = 0.0

    @property
    def tool_calls_changed(self) -> bool:
        """The calls differ in name, number or arguments."""
        return self.tool_names_changed or self.tool_args_changed

    @property
    def changed(self) -> bool:
        """Anything at all changed."""
        return (self.stop_changed or self.refusal is not None or self.error is not None
                or self.tool_calls_changed or self.text_changed or self.validity is not None or bool(self.params))

    def reasons(self) -> list[str]:
        """What changed, in words, most important first.

        >>> compare(digest_value(_ex("end_turn", "Yes")), digest_value(_ex("refusal", "No"))).reasons()[:2]
        ['refusal appeared (cyber)', 'stop_reason end_turn -> refusal']
        """
        out = []
        b, a = self.before, self.after
        if self.refusal:
            out.append(f"refusal {self.refusal}" + (f" ({a.refusal_category})" if self.refusal == "appeared" and a.refusal_category else ""))
        if self.error:
            out.append(f"API error {self.error}: {b.error or '-'} -> {a.error or '-'}")
        if self.validity:
            rules = a.rules if self.validity == "became invalid" else b.rules
            out.append(f"{self.validity} ({', '.join(dict.fromkeys(rules or ()))})")
        if self.stop_changed:
            out.append(f"stop_reason {_outcome(b)} -> {_outcome(a)}")
        if self.tool_names_changed:
            out.append(f"tool calls {[n for n, _ in b.tool_calls]} -> {[n for n, _ in a.tool_calls]}")
        elif self.tool_args_changed:
            n = sum(len(d) for _, _, d in self.arg_diffs)
            out.append(f"tool arguments changed ({n} value{'s' if n != 1 else ''})")
        if self.params:
            shown = [f"{k} {_short(x)} -> {_short(y)}" for k, x, y in self.params[:4]]
            more = f" and {len(self.params) - 4} more" if len(self.params) > 4 else ""
            out.append("parameters: " + "; ".join(shown) + more)
        if self.text_changed:
            out.append(f"text {len(b.text):,} -> {len(a.text):,} chars, similarity {self.similarity:.2f}")
        if b.cost is not None and a.cost is not None and abs(a.cost - b.cost) > max(1e-6, 0.1 * b.cost):
            change = f" ({100 * (a.cost - b.cost) / b.cost:+.0f} %)" if b.cost else ""
            out.append(f"cost ${b.cost:.6f} -> ${a.cost:.6f}{change}")
        return out


def _short(v: Any) -> str:
    if v is UNSET:
        return "(absent)"
    text = v if isinstance(v, str) else json_text_compact(v)
    return text if len(text) <= 40 else text[:39] + "\u2026"


def json_text_compact(v: Any) -> str:
    """A JSON value on one line (integers beyond 64 bits kept).

    >>> json_text_compact({"type": "adaptive"})
    '{"type":"adaptive"}'
    """
    from convo.view._html import json_text

    return json_text(v, indent=False)


def compare(before: Digest, after: Digest) -> LineDiff:
    """What changed between two digests of one record.

    >>> d = compare(digest_value(_ex("tool_use", "", tool=("lookup", {"q": "a"}))),
    ...             digest_value(_ex("tool_use", "", tool=("lookup", {"q": "b"}))))
    >>> d.tool_names_changed, d.tool_args_changed, d.arg_diffs
    (False, True, ((0, 'lookup', (('$.q', 'a', 'b'),)),))
    """
    if (before.text == after.text and before.stop_reason == after.stop_reason and before.refusal == after.refusal
            and before.error == after.error and before.tool_calls == after.tool_calls and before.params == after.params
            and (before.rules is None or after.rules is None or bool(before.rules) == bool(after.rules))):
        return LineDiff(before, after)  # the common case on a re-run: nothing compared changed
    stop_changed = before.stop_reason != after.stop_reason
    refusal = "appeared" if after.refusal and not before.refusal else ("vanished" if before.refusal and not after.refusal else None)
    error = None
    if after.error and not before.error:
        error = "appeared"
    elif before.error and not after.error:
        error = "vanished"
    elif before.error != after.error:
        error = "changed"
    names_b = [n for n, _ in before.tool_calls]
    names_a = [n for n, _ in after.tool_calls]
    names_changed = names_b != names_a
    arg_diffs = []
    for i, ((nb, ib), (na, ia)) in enumerate(zip(before.tool_calls, after.tool_calls, strict=False)):
        if nb == na and ib != ia:
            arg_diffs.append((i, nb, tuple(json_diff(ib, ia))))
    text_changed = before.text != after.text
    sim = similarity(before.text, after.text) if text_changed else 1.0
    validity = None
    if before.rules is not None and after.rules is not None:
        if after.rules and not before.rules:
            validity = "became invalid"
        elif before.rules and not after.rules:
            validity = "became valid"
    params: list[tuple[str, Any, Any]] = []
    if before.params is not None and after.params is not None and before.params != after.params:
        pb, pa = dict(before.params), dict(after.params)
        params = [(k, pb.get(k, UNSET), pa.get(k, UNSET)) for k in dict.fromkeys([*pb, *pa])
                  if pb.get(k, UNSET) != pa.get(k, UNSET)]
    score = ((100 if refusal == "appeared" else 30 if refusal else 0) + (80 if error == "appeared" else 20 if error else 0)
             + (60 if validity == "became invalid" else 0) + (40 if names_changed else 25 if arg_diffs else 0)
             + (20 if stop_changed else 0) + (1.0 - sim) * 20 + 2 * len(params))
    return LineDiff(before, after, stop_changed=stop_changed, refusal=refusal, error=error,
                    tool_names_changed=names_changed, tool_args_changed=bool(arg_diffs), arg_diffs=tuple(arg_diffs),
                    text_changed=text_changed, similarity=sim, validity=validity, params=tuple(params), score=score)


# --------------------------------------------------------------------------- every line

COUNTS = (
    "matched", "only_before", "only_after", "undecodable_before", "undecodable_after", "changed",
    "stop_reason_changed", "refusals_appeared", "refusals_vanished", "errors_appeared", "errors_vanished",
    "tool_calls_changed", "tool_names_changed", "tool_args_changed", "text_changed", "low_similarity",
    "became_invalid", "became_valid", "params_changed",
)
"""The counts a :class:`Summary` keeps (each a ``--fail-if`` metric; with ``%``: of ``matched``)."""

CHANGES = ("cost_change", "input_tokens_change", "output_tokens_change")
"""Totals AFTER minus BEFORE (with ``%``: relative to BEFORE)."""

METRICS = (*COUNTS, *CHANGES, "mean_similarity")
"""Every name ``--fail-if`` knows."""

LOW_SIMILARITY = 0.5


@define
class Summary:
    """Counts over every pair of lines, totals of usage and cost, stop-reason transitions, and
    the lines most worth reading (highest :attr:`LineDiff.score` first)."""

    top: int = 20
    matched: int = 0
    only_before: int = 0
    only_after: int = 0
    undecodable_before: int = 0
    undecodable_after: int = 0
    changed: int = 0
    stop_reason_changed: int = 0
    refusals_appeared: int = 0
    refusals_vanished: int = 0
    errors_appeared: int = 0
    errors_vanished: int = 0
    tool_calls_changed: int = 0
    tool_names_changed: int = 0
    tool_args_changed: int = 0
    text_changed: int = 0
    low_similarity: int = 0
    became_invalid: int = 0
    became_valid: int = 0
    params_changed: int = 0
    validated: bool = False
    similarity_sum: float = 0.0
    _before: list[int] = field(factory=lambda: [0] * 7, repr=False)  # TokenCounts' fields, summed
    _after: list[int] = field(factory=lambda: [0] * 7, repr=False)
    before_cost: float = 0.0
    after_cost: float = 0.0
    unpriced_before: int = 0
    unpriced_after: int = 0
    transitions: Counter[tuple[str, str]] = field(factory=Counter)
    models: Counter[tuple[str, str]] = field(factory=Counter)
    _heap: list[tuple[float, int, LineDiff]] = field(factory=list, repr=False)
    _seq: int = 0
    unmatched: list[Digest] = field(factory=list, repr=False)  # a sample of lines found on one side only

    def add(self, d: LineDiff) -> None:
        """Count one pair."""
        self.matched += 1
        b, a = d.before, d.after
        if d.changed:
            self._count_changes(d)
        else:
            self.similarity_sum += 1.0
        self.validated = self.validated or b.rules is not None
        key = (_outcome(b), _outcome(a))
        self.transitions[key] = self.transitions.get(key, 0) + 1
        key = (str(b.model), str(a.model))
        self.models[key] = self.models.get(key, 0) + 1
        if b.counts is not None:
            _accumulate(self._before, b.counts)
            if b.cost is not None:
                self.before_cost += b.cost
            else:
                self.unpriced_before += 1
        if a.counts is not None:
            _accumulate(self._after, a.counts)
            if a.cost is not None:
                self.after_cost += a.cost
            else:
                self.unpriced_after += 1

    def _count_changes(self, d: LineDiff) -> None:
        self.changed += 1
        self.stop_reason_changed += d.stop_changed
        self.refusals_appeared += d.refusal == "appeared"
        self.refusals_vanished += d.refusal == "vanished"
        self.errors_appeared += d.error == "appeared"
        self.errors_vanished += d.error == "vanished"
        self.tool_calls_changed += d.tool_calls_changed
        self.tool_names_changed += d.tool_names_changed
        self.tool_args_changed += d.tool_args_changed and not d.tool_names_changed
        self.text_changed += d.text_changed
        self.low_similarity += d.similarity < LOW_SIMILARITY
        self.became_invalid += d.validity == "became invalid"
        self.became_valid += d.validity == "became valid"
        self.params_changed += bool(d.params)
        self.similarity_sum += d.similarity
        if self.top:
            self._seq += 1
            item = (d.score, -self._seq, d)
            if len(self._heap) < self.top:
                heapq.heappush(self._heap, item)
            elif item[:2] > self._heap[0][:2]:
                heapq.heapreplace(self._heap, item)

    def add_unmatched(self, dg: Digest, side: str) -> None:
        """Count a line found in one file only (or one that could not be read)."""
        if dg.undecodable is not None:
            if side == "before":
                self.undecodable_before += 1
            else:
                self.undecodable_after += 1
        elif side == "before":
            self.only_before += 1
        else:
            self.only_after += 1
        if len(self.unmatched) < self.top:
            self.unmatched.append(dg)

    @property
    def before_counts(self) -> TokenCounts:
        """BEFORE's usage, summed over the matched lines."""
        return TokenCounts(*self._before)

    @property
    def after_counts(self) -> TokenCounts:
        """AFTER's usage, summed over the matched lines."""
        return TokenCounts(*self._after)

    @property
    def worth_reading(self) -> list[LineDiff]:
        """The changed lines most worth reading first."""
        return [d for _, _, d in sorted(self._heap, key=lambda x: (-x[0], -x[1]))]

    @property
    def mean_similarity(self) -> float:
        """The mean text similarity of the matched lines (1.0 when none)."""
        return self.similarity_sum / self.matched if self.matched else 1.0

    def metric(self, name: str, percent: bool) -> float:
        """A ``--fail-if`` metric: a count (or its percentage of the matched lines), a change of
        totals (or relative to BEFORE, in percent), or the mean similarity."""
        if name in COUNTS:
            n = float(getattr(self, name))
            if not percent:
                return n
            return 100.0 * n / self.matched if self.matched else 0.0
        if name == "mean_similarity":
            return self.mean_similarity * (100.0 if percent else 1.0)
        before, after = {
            "cost_change": (self.before_cost, self.after_cost),
            "input_tokens_change": (float(self.before_counts.total_input), float(self.after_counts.total_input)),
            "output_tokens_change": (float(self.before_counts.output), float(self.after_counts.output)),
        }[name]
        if not percent:
            return after - before
        if before == 0:
            return 0.0 if after == 0 else float("inf")
        return 100.0 * (after - before) / before

    def as_json(self) -> dict[str, Any]:
        """The summary as plain JSON."""
        d: dict[str, Any] = {k: getattr(self, k) for k in COUNTS}
        d["mean_similarity"] = round(self.mean_similarity, 4)
        d["validated"] = self.validated
        d["usage_before"] = attrs.asdict(self.before_counts)
        d["usage_after"] = attrs.asdict(self.after_counts)
        d["cost_before"], d["cost_after"] = round(self.before_cost, 6), round(self.after_cost, 6)
        d["unpriced_before"], d["unpriced_after"] = self.unpriced_before, self.unpriced_after
        d["stop_reasons"] = [{"before": b, "after": a, "lines": n} for (b, a), n in ranked(self.transitions)]
        d["models"] = [{"before": b, "after": a, "lines": n} for (b, a), n in ranked(self.models)]
        d["worth_reading"] = [
            {"before": x.before.where, "after": x.after.where, "score": round(x.score, 2), "changes": x.reasons(),
             "usage_before": attrs.asdict(x.before.counts) if x.before.counts is not None else None,
             "usage_after": attrs.asdict(x.after.counts) if x.after.counts is not None else None,
             "cost_before": x.before.cost, "cost_after": x.after.cost}
            for x in self.worth_reading
        ]
        return d


def _accumulate(total: list[int], c: TokenCounts) -> None:
    total[0] += c.input
    total[1] += c.output
    total[2] += c.cache_write_5m
    total[3] += c.cache_write_1h
    total[4] += c.cache_read
    total[5] += c.web_search
    total[6] += c.web_fetch


def ranked(c: Counter[tuple[str, str]]) -> list[tuple[tuple[str, str], int]]:
    """Most frequent first; ties by name (so the order does not depend on the input's)."""
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))


class Matcher:
    """Pairs the digests of two files as they come (in step when both are in the same order,
    so memory stays small), and counts the pairs and the lines left over in a :class:`Summary`.

    >>> mt = Matcher(Summary())
    >>> mt.before(Digest(key=("line", 1))); mt.after(Digest(key=("line", 1)))
    >>> mt.finish().matched
    1
    """

    def __init__(self, summary: Summary, *, on_pair: Any = None) -> None:
        self.summary = summary
        self.on_pair = on_pair
        self._b: dict[Any, Digest] = {}
        self._a: dict[Any, Digest] = {}
        self._seen_b: dict[Any, int] = {}
        self._seen_a: dict[Any, int] = {}

    def _key(self, dg: Digest, seen: dict[Any, int]) -> Any:
        k = dg.key
        n = seen.get(k, 0) + 1  # a key seen twice in one file is matched by occurrence
        seen[k] = n
        return (k, n)

    def before(self, dg: Digest) -> None:
        """A digest of the BEFORE file."""
        if dg.undecodable is not None:
            self.summary.add_unmatched(dg, "before")
            return
        k = self._key(dg, self._seen_b)
        other = self._a.pop(k, None)
        if other is None:
            self._b[k] = dg
        else:
            self._pair(dg, other)

    def after(self, dg: Digest) -> None:
        """A digest of the AFTER file."""
        if dg.undecodable is not None:
            self.summary.add_unmatched(dg, "after")
            return
        k = self._key(dg, self._seen_a)
        other = self._b.pop(k, None)
        if other is None:
            self._a[k] = dg
        else:
            self._pair(other, dg)

    def _pair(self, b: Digest, a: Digest) -> None:
        d = compare(b, a)
        self.summary.add(d)
        if self.on_pair is not None:
            self.on_pair(d)

    def finish(self) -> Summary:
        """Count what was never matched; return the summary."""
        for dg in self._b.values():
            self.summary.add_unmatched(dg, "before")
        for dg in self._a.values():
            self.summary.add_unmatched(dg, "after")
        self._b.clear()
        self._a.clear()
        return self.summary


# --------------------------------------------------------------------------- --fail-if


class ConditionError(ValueError):
    """A ``--fail-if`` expression that cannot be read (the message shows where)."""


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)(?P<pct>\s*%)?|(?P<op>>=|<=|==|!=|>|<)|(?P<paren>[()])|(?P<word>[A-Za-z_]+))")
_OPS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__,
        "==": float.__eq__, "!=": float.__ne__}


@frozen
class Condition:
    """A parsed ``--fail-if`` expression; :meth:`holds` evaluates it on a summary."""

    text: str
    tree: Any = field(repr=False)

    def holds(self, summary: Summary) -> bool:
        """Whether the condition is true of *summary*."""
        return bool(_eval(self.tree, summary))

    def explain(self, summary: Summary) -> str:
        """Each comparison with the value it saw, e.g. ``tool_calls_changed = 3.4% > 2%``."""
        parts: list[str] = []

        def walk(node: Any) -> None:
            if node[0] in ("and", "or"):
                walk(node[1])
                walk(node[2])
            else:
                _, name, op, value, pct = node
                got = summary.metric(name, pct)
                unit = "%" if pct else ""
                parts.append(f"{name} = {got:,.4g}{unit} {op} {value:g}{unit}")

        walk(self.tree)
        return "; ".join(parts)


def _eval(node: Any, s: Summary) -> bool:
    if node[0] == "and":
        return _eval(node[1], s) and _eval(node[2], s)
    if node[0] == "or":
        return _eval(node[1], s) or _eval(node[2], s)
    _, name, op, value, pct = node
    result: bool = _OPS[op](float(s.metric(name, pct)), float(value))
    return result


def parse_condition(text: str) -> Condition:
    """Read a ``--fail-if`` expression (see the module's grammar); raises :class:`ConditionError`.

    >>> parse_condition("tool_calls_changed > 2% or (refusals_appeared >= 1 and cost_change > 10%)").tree[0]
    'or'
    >>> parse_condition("tool_calls_changed >> 2")
    Traceback (most recent call last):
    ...
    convo.view.diff.ConditionError: --fail-if: expected a number after '>' at column 21: tool_calls_changed >> 2
                                                                                                            ^
    """
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        mt = _TOKEN.match(text, pos)
        if mt is None or mt.end() == pos:
            raise _error(text, pos + len(text[pos:]) - len(text[pos:].lstrip()), "unexpected character")
        start = mt.start() + len(mt.group(0)) - len(mt.group(0).lstrip())
        if mt.group("num") is not None:
            tokens.append(("num", (float(mt.group("num")), mt.group("pct") is not None), start))
        elif mt.group("op"):
            tokens.append(("op", mt.group("op"), start))
        elif mt.group("paren"):
            tokens.append((mt.group("paren"), mt.group("paren"), start))
        else:
            word = mt.group("word")
            tokens.append(("kw" if word in ("and", "or") else "name", word, start))
        pos = mt.end()
    tokens.append(("end", None, len(text)))
    i = 0

    def peek() -> tuple[str, Any, int]:
        return tokens[i]

    def take() -> tuple[str, Any, int]:
        nonlocal i
        t = tokens[i]
        i += 1
        return t

    def parse_or() -> Any:
        node = parse_and()
        while peek()[0] == "kw" and peek()[1] == "or":
            take()
            node = ("or", node, parse_and())
        return node

    def parse_and() -> Any:
        node = parse_atom()
        while peek()[0] == "kw" and peek()[1] == "and":
            take()
            node = ("and", node, parse_atom())
        return node

    def parse_atom() -> Any:
        kind, value, at = take()
        if kind == "(":
            node = parse_or()
            if peek()[0] != ")":
                raise _error(text, peek()[2], "expected ')'")
            take()
            return node
        if kind != "name":
            raise _error(text, at, f"expected a metric ({', '.join(METRICS)})")
        if value not in METRICS:
            raise _error(text, at, f"unknown metric {value!r} (known: {', '.join(METRICS)})")
        kind2, op, at2 = take()
        if kind2 != "op":
            raise _error(text, at2, "expected one of > >= < <= == != after the metric")
        kind3, num, at3 = take()
        if kind3 != "num":
            raise _error(text, at3, f"expected a number after {op!r}")
        number, pct = num
        return ("cmp", value, op, number, pct)

    tree = parse_or()
    if peek()[0] != "end":
        raise _error(text, peek()[2], "expected 'and', 'or' or the end")
    return Condition(text, tree)


def _error(text: str, at: int, why: str) -> ConditionError:
    return ConditionError(f"--fail-if: {why} at column {at + 1}: {text}\n{' ' * (len('--fail-if: ' + why + ' at column : ') + len(str(at + 1)) + at)}^")


# --------------------------------------------------------------------------- reports


def summary_rows(s: Summary) -> list[tuple[str, str, str]]:
    """``(what, lines, share of matched)`` rows for the text and HTML reports."""
    def pct(n: int) -> str:
        return f"{100.0 * n / s.matched:.1f} %" if s.matched else "-"

    rows = [("matched lines", f"{s.matched:,}", "")]
    for label, n in (
        ("only in BEFORE", s.only_before), ("only in AFTER", s.only_after),
        ("undecodable in BEFORE", s.undecodable_before), ("undecodable in AFTER", s.undecodable_after),
    ):
        if n:
            rows.append((label, f"{n:,}", ""))
    for label, n in (
        ("changed at all", s.changed), ("stop_reason changed", s.stop_reason_changed),
        ("refusals appeared", s.refusals_appeared), ("refusals vanished", s.refusals_vanished),
        ("API errors appeared", s.errors_appeared), ("API errors vanished", s.errors_vanished),
        ("tool calls changed", s.tool_calls_changed), ("  tool names or count", s.tool_names_changed),
        ("  arguments only", s.tool_args_changed), ("text changed", s.text_changed),
        (f"  similarity under {LOW_SIMILARITY}", s.low_similarity),
    ):
        rows.append((label, f"{n:,}", pct(n)))
    if s.params_changed:
        rows.append(("request parameters changed", f"{s.params_changed:,}", pct(s.params_changed)))
    if s.validated:
        rows.append(("became invalid", f"{s.became_invalid:,}", pct(s.became_invalid)))
        rows.append(("became valid", f"{s.became_valid:,}", pct(s.became_valid)))
    rows.append(("mean text similarity", f"{s.mean_similarity:.3f}", ""))
    return rows


def usage_rows(s: Summary) -> list[tuple[str, str, str, str]]:
    """``(what, before, after, change)`` rows for tokens and cost."""
    def change(b: float, a: float) -> str:
        if b == 0:
            return "" if a == 0 else "new"
        return f"{100.0 * (a - b) / b:+.1f} %"

    bc, ac = s.before_counts, s.after_counts
    rows = []
    for label, b, a in (("input tokens (all kinds)", bc.total_input, ac.total_input), ("output tokens", bc.output, ac.output)):
        rows.append((label, f"{b:,}", f"{a:,}", change(b, a)))
    rows.append(("cost (USD)", f"${s.before_cost:,.4f}", f"${s.after_cost:,.4f}", change(s.before_cost, s.after_cost)))
    if s.unpriced_before or s.unpriced_after:
        rows.append(("lines not priced", f"{s.unpriced_before:,}", f"{s.unpriced_after:,}", ""))
    return rows


def _ex(stop: str, text: str, *, tool: tuple[str, Any] | None = None) -> m.Exchange:
    """A small exchange record for the examples above."""
    content: list[Any] = [m.Text(text)] if text else []
    if tool is not None:
        content.append(m.ToolUse("t1", tool[0], tool[1]))
    details = m.StopDetails("refusal", category="cyber") if stop == "refusal" else UNSET
    return m.Exchange(id="x:1", request=m.Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi"),
                      response=m.Response(content=tuple(content), stop_reason=stop, stop_details=details,
                                          model="claude-opus-4-8", usage=m.Usage(input_tokens=10, output_tokens=5)))


"""The terminal view: a conversation as sections of styled lines, drawn in ANSI colours or, where
the optional ``rich`` package is installed (``pip install 'convo[view]'``), as rich panels.

Layer: view. Nothing here writes to a terminal: :func:`to_text` returns a string and
:func:`rich_renderables` returns what a ``rich.console.Console`` prints; the command chooses, and
pages. Text from a transcript is shown, never obeyed: control characters (an ANSI escape that
would recolour the screen or move the cursor, a bidi override that would reorder it) are written
as visible ``\\x1b`` / ``\\u202e`` escapes.

>>> from convo import Conversation
>>> print(to_text(Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi \\x1b[2J there"), validate=False))
── request · claude-opus-4-8 · 1 turns ─────────────────────────────────────────────────────────────
params  model=claude-opus-4-8  max_tokens=8
USER #0
│ Hi \\x1b[2J there
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from attrs import frozen

from convo import model as m
from convo._json import UNSET
from convo.pricing import PriceTable, counts_of_usage
from convo.view._html import clean, json_text, truncate
from convo.view.render import Item
from convo.view.render import messages_of as _msgs

__all__ = ["Section", "rich_renderables", "sections", "to_text"]

Span = tuple[str, str]  # (style, text)

_ANSI = {
    "user": "1;36", "assistant": "1;32", "system": "1;33", "dim": "2", "err": "1;31", "warn": "33",
    "tool": "35", "think": "2;35", "bold": "1", "ok": "32", "refusal": "1;97;41", "head": "1;7", "": "",
}
_RICH = {
    "user": "bold cyan", "assistant": "bold green", "system": "bold yellow", "dim": "dim", "err": "bold red",
    "warn": "yellow", "tool": "magenta", "think": "dim magenta", "bold": "bold", "ok": "green",
    "refusal": "bold white on red", "head": "bold reverse", "": "",
}


@frozen
class Section:
    """A titled group of lines (a turn, the response, the violations); *style* colours its
    title and border; *boxed* sections are drawn with a left rule."""

    title: tuple[Span, ...]
    lines: tuple[tuple[Span, ...], ...]
    style: str = ""
    boxed: bool = True


class _Builder:
    def __init__(self, width: int, thinking: bool, limit: int) -> None:
        self.width, self.thinking, self.limit = width, thinking, limit
        self.lines: list[tuple[Span, ...]] = []
        self.uses: dict[str, str] = {}  # tool id -> where its call is ("#3")
        self.results: dict[str, str] = {}

    def para(self, text: str, style: str = "", indent: int = 0) -> None:
        text = clean(truncate(text, self.limit))
        room = max(20, self.width - 2 - indent)
        for raw in text.split("\n"):
            wrapped = textwrap.wrap(raw, room, replace_whitespace=False, drop_whitespace=False) or [""]
            for w in wrapped:
                self.lines.append(((style, " " * indent + w),))

    def line(self, *spans: Span) -> None:
        self.lines.append(tuple((s, clean(t)) for s, t in spans))

    def take(self) -> tuple[tuple[Span, ...], ...]:
        out, self.lines = tuple(self.lines), []
        return out


def _blocks(blocks: Iterable[Any], b: _Builder, where: str, indent: int = 0) -> None:
    for blk in blocks:
        cls = type(blk)
        if cls is m.Text:
            b.para(blk.text, indent=indent)
            if isinstance(blk.citations, tuple) and blk.citations:
                for c in blk.citations:
                    cited = c.get("cited_text", "") if isinstance(c, Mapping) else ""
                    src = (c.get("document_title") or c.get("title") or c.get("url") or "") if isinstance(c, Mapping) else ""
                    b.line(("dim", " " * indent + f"  [cite] “{truncate(str(cited), 120)}” {src}"))
        elif cls is m.Thinking:
            if b.thinking:
                b.line(("think", " " * indent + f"▾ thinking · {len(blk.thinking):,} characters"))
                b.para(blk.thinking, "think", indent + 2)
            else:
                b.line(("think", " " * indent + f"▸ thinking · {len(blk.thinking):,} characters (folded; --thinking shows it)"))
        elif cls is m.RedactedThinking:
            b.line(("think", " " * indent + f"▸ redacted thinking · {len(blk.data):,} characters of encrypted data"))
        elif cls is m.ToolUse or cls is m.ServerToolUse:
            kind = "server tool" if cls is m.ServerToolUse else "tool_use"
            res = b.results.get(blk.id)
            b.line(("tool", " " * indent + f"▶ {kind} "), ("bold", blk.name), ("dim", f"  {blk.id}"),
                   ("dim", f"  → result in {res}" if res else "  (no result in this record)"))
            b.para(json_text(blk.input, indent=False), "dim", indent + 2)
        elif cls is m.ToolResult:
            call = b.uses.get(blk.tool_use_id)
            err = blk.is_error is True
            b.line(("tool", " " * indent + "◀ tool_result "), ("dim", blk.tool_use_id),
                   ("dim", f"  for {call}" if call else ""), ("err", "  (answers no tool_use)" if not call else ""),
                   ("err", "  ERROR" if err else ""))
            c = blk.content
            if isinstance(c, str):
                b.para(c, "err" if err else "", indent + 2)
            elif isinstance(c, tuple):
                _blocks(c, b, where, indent + 2)
        elif isinstance(blk, m.ServerToolResult):
            call = b.uses.get(blk.tool_use_id)
            content = blk.content
            err = isinstance(content, Mapping) and ("error_code" in content or str(content.get("type", "")).endswith("error"))
            b.line(("tool", " " * indent + f"◀ {blk.type} "), ("dim", blk.tool_use_id),
                   ("dim", f"  for {call}" if call else ""), ("err", "  ERROR" if err else ""))
            if isinstance(content, tuple) and all(isinstance(r, Mapping) and ("url" in r or "title" in r) for r in content):
                for r in content:
                    age = f" ({r['page_age']})" if r.get("page_age") else ""
                    b.line(("", " " * (indent + 2) + f"• {r.get('title') or '(untitled)'}"), ("dim", f"  {r.get('url', '')}{age}"))
            elif isinstance(content, Mapping) and any(k in content for k in ("stdout", "stderr", "return_code")):
                for key in ("stdout", "stderr"):
                    if isinstance(content.get(key), str) and content[key]:
                        b.line(("dim", " " * (indent + 2) + key + ":"))
                        b.para(content[key], "err" if key == "stderr" else "", indent + 4)
                if "return_code" in content:
                    b.line(("err" if content["return_code"] not in (0, None) else "dim",
                            " " * (indent + 2) + f"return code {content['return_code']}"))
            else:
                b.para(json_text(content, indent=False, limit=1000), "err" if err else "dim", indent + 2)
        elif cls is m.Image:
            src = blk.source
            if isinstance(src, m.Base64Source):
                size = None
                try:
                    size = blk.size()
                except Exception:  # a damaged header: shown without its size
                    size = None
                dims = f" {size[0]}\u00d7{size[1]}" if size else ""
                b.line(("dim", " " * indent + f"[image {src.media_type}{dims}, {len(src.data) * 3 // 4:,} bytes]"))
            elif isinstance(src, m.URLSource):
                b.line(("dim", " " * indent + f"[image {src.url}]"))
            else:
                b.line(("dim", " " * indent + f"[image {src.type}]"))
        elif cls is m.Document:
            title = blk.title if isinstance(blk.title, str) else "untitled"
            src = blk.source
            desc = getattr(src, "media_type", None) or src.type
            b.line(("dim", " " * indent + f"[document “{title}” {desc}]"))
            if isinstance(src, m.TextSource):
                b.para(truncate(src.data, 400), "dim", indent + 2)
        elif cls is m.SearchResult:
            b.line(("dim", " " * indent + f"[search result “{blk.title}” {blk.source}]"))
            _blocks(blk.content, b, where, indent + 2)
        elif cls is m.MidConvSystem:
            b.line(("system", " " * indent + "[mid_conv_system]"))
            _blocks(blk.content, b, where, indent + 2)
        else:
            b.line(("dim", " " * indent + f"[{getattr(blk, 'type', '?')}] "),
                   ("dim", json_text(dict(getattr(blk, "extra", {})), indent=False, limit=300)))


def _index(conv: m.Conversation | None, resp: m.Response | None, b: _Builder) -> None:
    def scan(blocks: Iterable[Any], where: str) -> None:
        for blk in blocks:
            if isinstance(blk, m.ToolUse | m.ServerToolUse):
                b.uses.setdefault(blk.id, f"{where} ({blk.name})")
            elif isinstance(blk, m.ToolResult | m.ServerToolResult):
                b.results.setdefault(blk.tool_use_id, where)

    if conv is not None:
        for i, msg in enumerate(_msgs(conv)):
            if isinstance(msg.content, tuple):
                scan(msg.content, f"#{i}")
    if resp is not None:
        scan(resp.blocks, "the response")


def sections(
    item: Item,
    *,
    violations: Sequence[Any] = (),
    prices: PriceTable | None = None,
    width: int = 100,
    thinking: bool = False,
    limit: int = 4000,
) -> list[Section]:
    """One item as sections: a header, the violations, the system prompt, each turn, the
    response with its stop reason and usage, an API error.

    >>> [s.title for s in sections(Item(m.Conversation(model="m").user("Hi")))][-1]
    (('user', 'USER'), ('dim', ' #0'))
    """
    b = _Builder(width, thinking, limit)
    value = item.value
    out: list[Section] = []
    if item.error is not None:
        b.para(item.error, "err")
        return [Section((("head", f" {item.where} · undecodable "),), b.take(), "err")]
    conv: m.Conversation | None = None
    resp: m.Response | None = None
    error: Any = UNSET
    kind = "request"
    ident = ""
    if isinstance(value, m.Conversation):
        conv = value
    elif isinstance(value, m.Exchange):
        kind, conv, error = "exchange", value.request, value.error
        resp = value.response if isinstance(value.response, m.Response) else None
        ident = f"id {value.id}" if value.id is not UNSET else ""
    elif isinstance(value, m.BatchRequest):
        kind, conv, ident = "batch request", value.params, f"custom_id {value.custom_id}"
    elif isinstance(value, m.BatchResult):
        kind, ident, error = f"batch result {value.result_type}", f"custom_id {value.custom_id}", value.error
        resp = value.message if isinstance(value.message, m.Response) else None
    elif isinstance(value, m.Response):
        kind, resp = "response", value
    _index(conv, resp, b)
    head = [x for x in (item.where, kind, conv.model if conv is not None and isinstance(conv.model, str) else "",
                        f"{len(_msgs(conv))} turns" if conv is not None else "", ident) if x]
    title = f"── {' · '.join(head)} "
    out.append(Section((("bold", clean(title + "─" * max(0, width - len(title)))),), (), "", boxed=False))
    if conv is not None:
        params = [("dim", "params ")]
        for name in m.Conversation.__attrs_attrs__:
            key = name.name
            if key in ("messages", "system", "tools", "extra"):
                continue
            v = getattr(conv, key)
            if v is not UNSET:
                params.append(("", f" {key}={v if isinstance(v, str) else json_text(v, indent=False, limit=120)}"))
        for key, v in conv.extra.items():
            params.append(("", f" {key}={json_text(v, indent=False, limit=120)}"))
        b.line(*params)
        if isinstance(conv.tools, tuple) and conv.tools:
            names = [str(t.get("name", "?")) if isinstance(t, Mapping) else "?" for t in conv.tools]
            b.line(("dim", "tools  "), ("", " " + ", ".join(names)))
        out.append(Section((), b.take(), "", boxed=False))
    if violations:
        for v in violations:
            style = "err" if v.severity == "error" else "warn"
            b.line((style, f"✗ {v.severity} "), ("bold", v.rule), ("dim", f" {v.path} "), ("", v.message))
            if v.hint:
                b.line(("dim", f"    hint: {v.hint}"))
        n_err = sum(1 for v in violations if v.severity == "error")
        n_warn = len(violations) - n_err
        title = f"RULES · {n_err} error{'s' if n_err != 1 else ''}, {n_warn} warning{'s' if n_warn != 1 else ''}"
        out.append(Section((("err" if n_err else "warn", title),),
                           b.take(), "err" if n_err else "warn"))
    if conv is not None:
        if conv.system is not UNSET:
            s = conv.system
            if isinstance(s, str):
                b.para(s)
            else:
                _blocks(s, b, "system")
            out.append(Section((("system", "SYSTEM"), ("dim", " top-level")), b.take(), "system"))
        for i, msg in enumerate(_msgs(conv)):
            role = msg.role if isinstance(msg.role, str) else str(msg.role)
            style = role if role in ("user", "assistant", "system") else "bold"
            note = ""
            if role == "system":
                note = " mid-conversation"
            elif isinstance(msg.content, tuple) and msg.content and all(
                    isinstance(x, m.ToolResult | m.ServerToolResult) for x in msg.content):
                note = " tool results"
            if isinstance(msg.content, str):
                b.para(msg.content) if msg.content else b.line(("dim", "(empty)"))
            else:
                _blocks(msg.content, b, f"#{i}") if msg.content else b.line(("dim", "(no content)"))
            out.append(Section(((style, role.upper()), ("dim", f" #{i}{note}")), b.take(), style))
    if resp is not None:
        details = resp.stop_details
        refused = resp.stop_reason == "refusal" or (isinstance(details, m.StopDetails) and details.type == "refusal")
        if refused:
            cat = details.category if isinstance(details, m.StopDetails) and isinstance(details.category, str) else "no category"
            b.line(("refusal", f" REFUSED · category: {cat} "))
            if isinstance(details, m.StopDetails) and isinstance(details.explanation, str):
                b.para(details.explanation, "err")
        if resp.blocks:
            _blocks(resp.blocks, b, "the response")
        else:
            b.line(("dim", "(empty content)"))
        if isinstance(resp.usage, m.Usage):
            c = counts_of_usage(resp.usage)
            bits = [f"in {c.input:,}", f"out {c.output:,}"]
            if c.cache_write:
                bits.append(f"cache write {c.cache_write:,}")
            if c.cache_read:
                bits.append(f"cache read {c.cache_read:,}")
            if c.web_search:
                bits.append(f"web searches {c.web_search:,}")
            if prices is not None:
                cost = prices.cost(c, resp.model, batch=isinstance(value, m.BatchResult) or resp.usage.service_tier == "batch")
                bits.append(f"${cost.total:,.6f}" if cost is not None else "not priced")
            b.line(("dim", "usage  " + " · ".join(bits)))
        stop = "null" if resp.stop_reason is None else ("(absent)" if resp.stop_reason is UNSET else str(resp.stop_reason))
        stop_style = "refusal" if refused else ("warn" if stop in ("max_tokens", "model_context_window_exceeded") else "ok")
        model = f" {resp.model}" if isinstance(resp.model, str) else ""
        out.append(Section((("assistant", "RESPONSE"), ("dim", model + "  stop: "), (stop_style, stop)), b.take(),
                           "err" if refused else "assistant"))
    if error is not UNSET and error is not None:
        b.para(json_text(error), "err")
        out.append(Section((("err", "API ERROR"),), b.take(), "err"))
    return out


def _ansi(spans: Iterable[Span], color: bool) -> str:
    if not color:
        return "".join(t for _, t in spans)
    out = []
    for style, text in spans:
        code = _ANSI.get(style, "")
        out.append(f"\x1b[{code}m{text}\x1b[0m" if code and text else text)
    return "".join(out)


def render_sections(secs: Iterable[Section], *, color: bool = False) -> Iterator[str]:
    """Sections as lines of text (ANSI-coloured when *color*).

    >>> list(render_sections([Section((("user", "USER"),), ((("", "Hi"),),), "user")]))
    ['USER', '│ Hi']
    """
    for s in secs:
        if s.title:
            yield _ansi(s.title, color)
        rule = _ansi([(s.style or "dim", "│")], color) + " " if s.boxed else ""
        for line in s.lines:
            yield rule + _ansi(line, color)


def _check(item: Item, validate: bool, model: str | None, api_version: str | None) -> tuple[Any, ...]:
    if not validate or item.error is not None or isinstance(item.value, m.Response):
        return ()
    from convo.codec.lines import conversation_of
    from convo.profiles import DEFAULT_API_VERSION
    from convo.rules import validate as run

    conv = conversation_of(item.value)
    if conv is None:
        return ()
    return tuple(run(conv, profile=model, api_version=api_version or DEFAULT_API_VERSION).violations)


def to_text(
    value: Any,
    *,
    color: bool = False,
    width: int = 100,
    thinking: bool = False,
    validate: bool = True,
    model: str | None = None,
    api_version: str | None = None,
    prices: PriceTable | None = None,
    limit: int = 4000,
) -> str:
    """One value (or :class:`~convo.view.render.Item`) as terminal text: plain, or ANSI-coloured
    with *color*; thinking folded unless *thinking*; each text cut at *limit* characters."""
    item = value if isinstance(value, Item) else Item(value)
    secs = sections(item, violations=_check(item, validate, model, api_version), prices=prices,
                    width=width, thinking=thinking, limit=limit)
    return "\n".join(render_sections(secs, color=color))


def rich_renderables(secs: Iterable[Section]) -> list[Any]:
    """Sections as ``rich`` renderables (panels for boxed sections); needs the ``rich`` package.

    >>> type(rich_renderables([Section((("user", "USER"),), ((("", "Hi"),),), "user")])[0]).__name__
    'Panel'
    """
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    def text(spans: Iterable[Span]) -> Text:
        t = Text()
        for style, s in spans:
            t.append(s, style=_RICH.get(style, ""))
        return t

    out: list[Any] = []
    for s in secs:
        body = Group(*(text(line) for line in s.lines)) if s.lines else Text("")
        if s.boxed:
            out.append(Panel(body, title=text(s.title) if s.title else None, title_align="left",
                             border_style=_RICH.get(s.style, "") or "dim", padding=(0, 1)))
        else:
            if s.title:
                out.append(text(s.title))
            if s.lines:
                out.append(body)
    return out

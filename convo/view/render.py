"""The page components: one conversation, exchange, batch line or response as HTML.

Layer: view. :func:`render_item` turns one decoded line into an ``<article>``: what the API sees
(the top-level ``system``, the parameters, the tools, every turn with its role, mid-conversation
system messages), each block as people read it (text with its citations, images as thumbnails,
documents as cards, thinking folded away, each ``tool_use`` linked to its ``tool_result`` and back,
server tools and their results), the response with its ``stop_reason`` (a refusal stands out) and
usage with its cost, and every rule violation at its ``$.path``. :mod:`convo.view.page` puts
articles in a page; :mod:`convo.view.diff` puts two side by side.

Element ids are made from the item's prefix and the ``$.path`` of what they show
(``L12-messages-3-content-0``), so a violation's path is a link, and a tool call's result is
``#`` + the id of the block that holds it. Nothing read from the transcript becomes an id, a tag
or an attribute name; every string is escaped (:mod:`convo.view._html`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import define, field, frozen

from convo import model as m
from convo._json import UNSET
from convo.pricing import PriceTable, counts_of_usage
from convo.view._html import Safe, _escape, anchor, attr_id, el, join, json_text, safe_url, truncate

__all__ = [
    "IMAGE_TYPES",
    "Context",
    "Item",
    "messages_of",
    "render_blocks",
    "render_conversation",
    "render_item",
    "render_response",
    "render_usage",
    "render_violations",
    "stop_badge",
]

IMAGE_TYPES = frozenset(("image/png", "image/jpeg", "image/gif", "image/webp"))
"""The media types an ``<img>`` may show from inline data (the API's four, facts §3.3)."""

_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_HOME = re.compile(r"^\$\.messages\[(\d+)\](?:\.content\[(\d+)\])?")
_TOP = re.compile(r"^\$\.([A-Za-z_]+)")


def _msgs(conv: m.Conversation) -> tuple[m.Message, ...]:
    """The conversation's messages (none where the line had no ``messages`` key)."""
    msgs = conv.messages
    return msgs if isinstance(msgs, tuple) else ()


messages_of = _msgs


@frozen
class Item:
    """One line to show: its decoded value, or why it could not be decoded; where it came from.

    >>> Item(m.Conversation(model="x"), file="a.jsonl", line=3).where
    'a.jsonl:3'
    """

    value: Any  # a line value (Conversation, Exchange, BatchRequest, BatchResult) or a Response
    file: str = ""
    line: int = 0
    error: str | None = None  # the decode error, for a line that could not be read
    raw: bytes | None = field(default=None, repr=False)  # the line's bytes (shown for an error)

    @property
    def where(self) -> str:
        """``file:line``, or what there is of it."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or (f"line {self.line}" if self.line else "")


@define
class Context:
    """What rendering one item needs and learns: the id prefix, the violations by the element
    that shows them, the tool calls and results by id, and the limits on inline data."""

    prefix: str = "c"
    violations: Sequence[Any] = ()  # convo.rules.Violation (paths inside the conversation)
    path_prefix: str = ""  # where the conversation sits in the line ("$.request"), for display
    prices: PriceTable | None = None
    batch: bool = False  # a batch result: priced with the Batch API's discount
    max_image_chars: int = 512 * 1024
    max_text_chars: int = 200_000
    fold_request: bool = False  # the request folded away (a diff shows the responses side by side)
    by_home: dict[str, list[Any]] = field(factory=dict)
    uses: dict[str, str] = field(factory=dict)  # tool_use id -> element id
    results: dict[str, str] = field(factory=dict)  # tool_use id -> element id of its result
    names: dict[str, str] = field(factory=dict)  # tool_use id -> tool name
    homes: set[str] = field(factory=set)  # the homes that were rendered (violation links)

    def __attrs_post_init__(self) -> None:
        for v in self.violations:
            self.by_home.setdefault(home_of(v.path), []).append(v)

    def id(self, path: str) -> str:
        """The element id of what shows *path*."""
        return f"{self.prefix}-{_path_id(path)}"

    def marks(self, home: str) -> Safe:
        """The violation markers of the element at *home* (and note that it was rendered)."""
        self.homes.add(home)
        found = self.by_home.get(home)
        if not found:
            return Safe("")
        return join(
            el("div", el("span", v.severity, class_="sev"), " ", el("code", v.rule), " ",
               el("span", v.message, class_="msg"),
               el("span", f" — {v.hint}", class_="hint") if v.hint else None,
               class_=f"violation {v.severity}", title=self.path_prefix + v.path[1:] if self.path_prefix else v.path)
            for v in found
        )


@functools.lru_cache(maxsize=4096)
def _path_id(path: str) -> str:
    return attr_id(path)


def home_of(path: str) -> str:
    """The path of the element that shows a violation at *path*: its block, its message, the
    system prompt, the tools, the parameter it names, or the whole request.

    >>> home_of("$.messages[3].content[0].source.media_type"), home_of("$.thinking.budget_tokens"), home_of("$")
    ('$.messages[3].content[0]', '$.thinking', '$')
    """
    mt = _HOME.match(path)
    if mt:
        i, j = mt.groups()
        return f"$.messages[{i}]" + (f".content[{j}]" if j is not None else "")
    top = _TOP.match(path)
    if top:
        return f"$.{top.group(1)}"
    return "$"


# --------------------------------------------------------------------------- small pieces


def _text(text: str, ctx: Context, class_: str = "text") -> Safe:
    # the hottest path of a page: written out rather than through el()
    return Safe(f'<div class="{class_}">{_escape(truncate(text, ctx.max_text_chars))}</div>')


def _json(value: Any, ctx: Context, class_: str = "json") -> Safe:
    return el("pre", json_text(value, limit=ctx.max_text_chars), class_=class_)


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def _label(kind: str, *rest: Any, class_: str = "") -> Safe:
    return el("div", el("span", kind, class_="kind"), *rest, class_=f"blabel {class_}".strip())


def stop_badge(reason: Any) -> Safe:
    """A badge for a ``stop_reason``; a refusal, a cut-off and an overflow stand out.

    >>> stop_badge("refusal")
    '<span class="stop stop-refusal">refusal</span>'
    """
    if reason is UNSET:
        return Safe("")
    text = "null" if reason is None else str(reason)
    cls = {"refusal": "stop-refusal", "max_tokens": "stop-warn", "model_context_window_exceeded": "stop-warn",
           "pause_turn": "stop-info", "tool_use": "stop-tool", "end_turn": "stop-ok"}.get(text, "stop-other")
    return el("span", text, class_=f"stop {cls}")


# --------------------------------------------------------------------------- blocks


def _citations(citations: Any) -> Safe:
    if not isinstance(citations, tuple) or not citations:
        return Safe("")
    items = []
    for c in citations:
        if not isinstance(c, Mapping):
            items.append(el("li", json_text(c, indent=False)))
            continue
        kind = c.get("type", "?")
        where = []
        if "document_title" in c or "document_index" in c:
            where.append(f"document {c.get('document_index', '?')}" + (f" “{c['document_title']}”" if c.get("document_title") else ""))
        if "start_page_number" in c:
            where.append(f"pages {c.get('start_page_number')}\u2013{c.get('end_page_number')}")
        if "start_char_index" in c:
            where.append(f"characters {c.get('start_char_index')}\u2013{c.get('end_char_index')}")
        if "start_block_index" in c:
            where.append(f"blocks {c.get('start_block_index')}\u2013{c.get('end_block_index')}")
        link: Any = None
        url = c.get("url") or (c.get("source") if isinstance(c.get("source"), str) else None)
        if url:
            ok = safe_url(url)
            title = c.get("title") or url
            link = el("a", title, href=ok, rel="noopener noreferrer", target="_blank") if ok else el("span", f"{title} <{url}>")
        items.append(el("li", el("q", c.get("cited_text", "")), " ", el("span", kind, class_="kind"), " ",
                        "; ".join(where), " ", link))
    return el("ol", *items, class_="citations")


def _text_block(b: m.Text, path: str, ctx: Context) -> Safe:
    n = len(b.citations) if isinstance(b.citations, tuple) else 0
    sup = el("sup", f"[{n} citation{'s' if n != 1 else ''}]", class_="cite-mark") if n else None
    return join([_text(b.text, ctx), sup, _citations(b.citations)])


def _image(b: m.Image, path: str, ctx: Context) -> Safe:
    src = b.source
    if isinstance(src, m.Base64Source):
        size = None
        try:
            size = b.size()
        except Exception:  # a damaged header: shown without its size
            size = None
        dims = f" · {size[0]}\u00d7{size[1]} px" if size else ""
        caption = f"{src.media_type} · {_kb(len(src.data) * 3 // 4)}{dims}"
        if src.media_type not in IMAGE_TYPES:
            body: Any = el("div", f"not shown: media type {src.media_type!r} is not an image type", class_="note")
        elif len(src.data) > ctx.max_image_chars:
            body = el("div", f"not embedded: {_kb(len(src.data))} of base64 is over the page's limit", class_="note")
        elif not _B64.fullmatch(src.data):
            body = el("div", "not shown: the data is not base64", class_="note bad")
        else:
            body = el("img", src=f"data:{src.media_type};base64,{src.data}", alt="image", class_="thumb", loading="lazy")
        return el("figure", body, el("figcaption", caption), class_="image")
    if isinstance(src, m.URLSource):
        ok = safe_url(src.url)
        link = el("a", src.url, href=ok, rel="noopener noreferrer", target="_blank") if ok else el("code", src.url)
        return el("figure", el("div", "image by URL (not loaded: the page fetches nothing)", class_="note"),
                  el("figcaption", link), class_="image")
    if isinstance(src, m.FileSource):
        return el("figure", el("div", "image from the Files API", class_="note"),
                  el("figcaption", el("code", src.file_id)), class_="image")
    return el("figure", el("div", f"image source of type {src.type!r}", class_="note"), class_="image")


def _document(b: m.Document, path: str, ctx: Context) -> Safe:
    src = b.source
    kind = "PDF" if getattr(src, "media_type", "") == "application/pdf" else {
        "text": "TEXT", "content": "CONTENT", "url": "URL", "file": "FILE"}.get(src.type, "DOC")
    head = [el("span", kind, class_="doc-kind")]
    title = b.title if isinstance(b.title, str) else None
    head.append(el("strong", title or "(untitled document)"))
    parts: list[Any] = []
    if isinstance(src, m.Base64Source):
        head.append(el("span", f" {src.media_type} · {_kb(len(src.data) * 3 // 4)}", class_="meta"))
        if src.media_type == "application/pdf" and len(src.data) <= ctx.max_image_chars and _B64.fullmatch(src.data):
            parts.append(el("a", "download the PDF", href=f"data:application/pdf;base64,{src.data}",
                            download="document.pdf"))
    elif isinstance(src, m.TextSource):
        head.append(el("span", f" plain text · {len(src.data):,} characters", class_="meta"))
        parts.append(el("details", el("summary", truncate(src.data, 160)), _text(src.data, ctx)))
    elif isinstance(src, m.ContentSource):
        head.append(el("span", " custom content", class_="meta"))
        c = src.content
        parts.append(_text(c, ctx) if isinstance(c, str) else render_blocks(c, f"{path}.source.content", ctx, nested=True))
    elif isinstance(src, m.URLSource):
        ok = safe_url(src.url)
        parts.append(el("a", src.url, href=ok, rel="noopener noreferrer", target="_blank") if ok else el("code", src.url))
    elif isinstance(src, m.FileSource):
        parts.append(el("span", "Files API: ", el("code", src.file_id)))
    else:
        parts.append(el("span", f"source of type {src.type!r}", class_="note"))
    if isinstance(b.context, str) and b.context:
        parts.append(el("div", "context: ", b.context, class_="meta"))
    if b.citations is not UNSET:
        parts.append(el("div", "citations: ", json_text(b.citations, indent=False), class_="meta"))
    return el("div", el("div", *head, class_="doc-head"), *parts, class_="document")


def _search_result(b: m.SearchResult, path: str, ctx: Context) -> Safe:
    ok = safe_url(b.source)
    src = el("a", b.source, href=ok, rel="noopener noreferrer", target="_blank") if ok else el("code", b.source)
    return el("div", _label("search_result", " ", el("strong", b.title), " ", src),
              render_blocks(b.content, f"{path}.content", ctx, nested=True), class_="search-result")


def _tool_use(b: m.ToolUse | m.ServerToolUse, path: str, ctx: Context) -> Safe:
    server = isinstance(b, m.ServerToolUse)
    target = ctx.results.get(b.id)
    link: Any
    if target:
        link = anchor(target, "→ result", class_="link", title="go to its result")
    else:
        link = el("span", "no result in this record", class_="note")
    caller = el("span", f" caller {json_text(b.caller, indent=False)}", class_="meta") if b.caller is not UNSET else None
    return el(
        "div",
        _label("server tool" if server else "tool_use", " ", el("strong", b.name, class_="tool-name"), " ",
               el("code", b.id, class_="tool-id"), caller, " ", link),
        _json(b.input, ctx, "json tool-input"),
        class_="tool-use server" if server else "tool-use",
    )


def _back_link(tool_use_id: str, ctx: Context) -> Safe:
    target = ctx.uses.get(tool_use_id)
    if target:
        return anchor(target, f"← {ctx.names.get(tool_use_id, 'call')}", class_="link", title="go to its call")
    return el("span", "answers no tool_use of this conversation", class_="note bad")


def _tool_result(b: m.ToolResult, path: str, ctx: Context) -> Safe:
    error = b.is_error is True
    content = b.content
    if content is UNSET:
        body: Any = el("div", "(no content)", class_="note")
    elif isinstance(content, str):
        body = _text(content, ctx, "text tool-output")
    else:
        body = render_blocks(content, f"{path}.content", ctx, nested=True)
    return el(
        "div",
        _label("tool_result", " ", el("code", b.tool_use_id, class_="tool-id"), " ", _back_link(b.tool_use_id, ctx),
               el("span", " error", class_="err-flag") if error else None),
        body,
        class_="tool-result error" if error else "tool-result",
    )


def _server_result_body(content: Any, ctx: Context) -> tuple[Safe, bool]:
    """A server tool's result content as HTML, and whether it is an error."""
    if isinstance(content, Mapping):
        kind = str(content.get("type", ""))
        if "error_code" in content or kind.endswith("error"):
            return el("div", f"{kind or 'error'}: {content.get('error_code', '')}", class_="note bad"), True
        parts: list[Any] = []
        for key in ("stdout", "stderr"):
            if isinstance(content.get(key), str) and content[key]:
                parts.append(el("div", key, class_="meta"))
                parts.append(el("pre", truncate(content[key], ctx.max_text_chars), class_=f"out {key}"))
        if "return_code" in content:
            rc = content["return_code"]
            parts.append(el("div", f"return code {rc}", class_="meta bad" if rc not in (0, None) else "meta"))
        if "url" in content:
            ok = safe_url(content["url"])
            parts.append(el("a", content["url"], href=ok, rel="noopener noreferrer", target="_blank") if ok else el("code", content["url"]))
        if parts:
            return join(parts), isinstance(content.get("return_code"), int) and content["return_code"] != 0
        return _json(content, ctx), False
    if isinstance(content, tuple):
        rows = []
        for r in content:
            if isinstance(r, Mapping) and ("url" in r or "title" in r):
                ok = safe_url(r.get("url"))
                title = r.get("title") or r.get("url") or "(untitled)"
                link = el("a", title, href=ok, rel="noopener noreferrer", target="_blank") if ok else el("span", title)
                rows.append(el("li", link, el("span", f" · {r['page_age']}", class_="meta") if r.get("page_age") else None))
            else:
                rows.append(el("li", json_text(r, indent=False, limit=2000)))
        return el("ul", *rows, class_="results"), False
    return _json(content, ctx), False


def _server_result(b: m.ServerToolResult, path: str, ctx: Context) -> Safe:
    body, error = _server_result_body(b.content, ctx)
    return el(
        "div",
        _label(b.type, " ", el("code", b.tool_use_id, class_="tool-id"), " ", _back_link(b.tool_use_id, ctx),
               el("span", " error", class_="err-flag") if error else None),
        body,
        class_="tool-result server error" if error else "tool-result server",
    )


def _thinking(b: m.Thinking, path: str, ctx: Context) -> Safe:
    return el("details", el("summary", f"thinking · {len(b.thinking):,} characters"),
              _text(b.thinking, ctx), class_="thinking")


def _redacted(b: m.RedactedThinking, path: str, ctx: Context) -> Safe:
    return el("details", el("summary", f"redacted thinking · {len(b.data):,} characters of encrypted data"),
              el("code", truncate(b.data, 120), class_="opaque"), class_="thinking redacted")


def _mid_conv_system(b: m.MidConvSystem, path: str, ctx: Context) -> Safe:
    return el("div", _label("mid_conv_system"), render_blocks(b.content, f"{path}.content", ctx, nested=True),
              class_="system-block")


def _container_upload(b: m.ContainerUpload, path: str, ctx: Context) -> Safe:
    return _label("container_upload", " ", el("code", b.file_id))


def _tool_reference(b: m.ToolReference, path: str, ctx: Context) -> Safe:
    return _label("tool_reference", " ", el("code", b.tool_name))


def _unknown(b: Any, path: str, ctx: Context) -> Safe:
    return el("div", _label(getattr(b, "type", "?"), el("span", " (a block type convo does not model)", class_="meta")),
              _json(getattr(b, "extra", {}), ctx), class_="unknown")


_RENDER: dict[type[Any], Callable[[Any, str, Context], Safe]] = {
    m.Text: _text_block,
    m.Image: _image,
    m.Document: _document,
    m.SearchResult: _search_result,
    m.ToolUse: _tool_use,
    m.ServerToolUse: _tool_use,
    m.ToolResult: _tool_result,
    m.Thinking: _thinking,
    m.RedactedThinking: _redacted,
    m.MidConvSystem: _mid_conv_system,
    m.ContainerUpload: _container_upload,
    m.ToolReference: _tool_reference,
    m.UnknownBlock: _unknown,
}
for _cls in m.SERVER_TOOL_RESULTS:
    _RENDER[_cls] = _server_result
_RENDER[m.ServerToolResult] = _server_result


def render_blocks(blocks: Iterable[Any], path: str, ctx: Context, *, nested: bool = False) -> Safe:
    """Content blocks as HTML; each top-level block is an element with the id of its path.

    >>> render_blocks([m.Text("a < b")], "$.messages[0].content", Context(prefix="x"))
    '<div class="block b-text" id="x-messages-0-content-0"><div class="text">a &lt; b</div></div>'
    """
    out = []
    for j, b in enumerate(blocks):
        bpath = f"{path}[{j}]"
        fn = _RENDER.get(type(b))
        if fn is None:
            fn = _server_result if isinstance(b, m.ServerToolResult) else _unknown
        inner = fn(b, bpath, ctx)
        if nested:
            out.append(el("div", inner, class_="block nested"))
        else:
            extra = " has-violation" if bpath in ctx.by_home else ""
            out.append(el("div", ctx.marks(bpath), inner, class_=f"block b-{getattr(b, 'type', 'x')}{extra}", id=ctx.id(bpath)))
    return join(out)


def _content(content: Any, path: str, ctx: Context) -> Safe:
    if isinstance(content, str):
        if not content:
            return el("div", "(empty)", class_="note")
        home = f"{path}[0]"  # a plain string is one text block to the rules
        return Safe(f'<div class="block b-text" id="{ctx.id(home)}">{ctx.marks(home)}{_text(content, ctx)}</div>')
    if not content:
        return el("div", "(no content)", class_="note")
    return render_blocks(content, path, ctx)


# --------------------------------------------------------------------------- conversations


def _index_tools(conv: m.Conversation | None, response: m.Response | None, ctx: Context) -> None:
    """First pass: where each tool call and each result is, so links can run both ways."""
    def scan(blocks: Iterable[Any], path: str) -> None:
        for j, b in enumerate(blocks):
            bpath = f"{path}[{j}]"
            if isinstance(b, m.ToolUse | m.ServerToolUse):
                ctx.uses.setdefault(b.id, ctx.id(bpath))
                ctx.names.setdefault(b.id, b.name)
            elif isinstance(b, m.ToolResult | m.ServerToolResult):
                ctx.results.setdefault(b.tool_use_id, ctx.id(bpath))

    if conv is not None:
        for i, msg in enumerate(_msgs(conv)):
            if isinstance(msg.content, tuple):
                scan(msg.content, f"$.messages[{i}].content")
    if response is not None:
        scan(response.blocks, "R.content")


_PARAM_SKIP = frozenset(("model", "max_tokens", "messages", "system", "tools", "extra"))


def _chip(key: str, value: Any, ctx: Context, *, extra: bool = False) -> Safe:
    home = f"$.{key}"
    ctx.homes.add(home)
    bad = ctx.by_home.get(home)
    text = "(absent)" if value is UNSET else (value if isinstance(value, str) else json_text(value, indent=False, limit=300))
    cls = "chip" + (" extra" if extra else "") + (" bad" if bad else "")
    title = "; ".join(f"{v.rule}: {v.message}" for v in bad) if bad else (
        "a parameter convo does not model, kept as given" if extra else None)
    t = f' title="{_escape(title)}"' if title else ""
    return Safe(f'<span class="{cls}"{t} id="{ctx.id(home)}"><b>{_escape(key)}</b> {_escape(text)}</span>')


def _params(conv: m.Conversation, ctx: Context) -> Safe:
    chips = [_chip("model", conv.model, ctx), _chip("max_tokens", conv.max_tokens, ctx)]
    for a in m.Conversation.__attrs_attrs__:  # every other request parameter, in the model's order
        key = a.name
        if key in _PARAM_SKIP:
            continue
        v = getattr(conv, key)
        if v is not UNSET:
            chips.append(_chip(key, v, ctx))
    for key, v in conv.extra.items():
        chips.append(_chip(str(key), v, ctx, extra=True))
    tools: Any = None
    if isinstance(conv.tools, tuple) and conv.tools:
        rows = []
        for t in conv.tools:
            name = t.get("name", "?") if isinstance(t, Mapping) else "?"
            kind = t.get("type") if isinstance(t, Mapping) else None
            desc = t.get("description") if isinstance(t, Mapping) else None
            rows.append(el("details", el("summary", el("strong", name), f" · {kind}" if kind else "",
                                         f" — {truncate(desc, 120)}" if isinstance(desc, str) else ""),
                           _json(t, ctx)))
        tools = el("details", el("summary", f"tools ({len(conv.tools)})"), ctx.marks("$.tools"), *rows,
                   class_="tools", id=ctx.id("$.tools"))
    return el("div", el("div", *chips, class_="chips"), tools, class_="params")


def _system(conv: m.Conversation, ctx: Context) -> Safe:
    sys_ = conv.system
    if sys_ is UNSET:
        return ctx.marks("$.system")
    if isinstance(sys_, str):
        body: Any = _text(sys_, ctx)
    else:
        body = render_blocks(sys_, "$.system", ctx, nested=True)
    return el("section", el("div", "system", el("span", " top-level", class_="meta"), class_="role"),
              ctx.marks("$.system"), body, class_="turn system top", id=ctx.id("$.system"))


def render_conversation(conv: m.Conversation, ctx: Context) -> Safe:
    """A request: parameters and tools, the top-level system prompt, then every turn.

    >>> html = render_conversation(m.Conversation(model="m", system="Be brief.").user("Hi"), Context())
    >>> 'class="turn system top"' in html, 'class="turn user"' in html
    (True, True)
    """
    parts = [_params(conv, ctx), _system(conv, ctx)]
    prev_role = None
    for i, msg in enumerate(_msgs(conv)):
        path = f"$.messages[{i}]"
        role = msg.role if isinstance(msg.role, str) else str(msg.role)
        note = ""
        cls = role if role in ("user", "assistant", "system") else "other"
        if role == "system":
            note = " mid-conversation" + (f", after a {prev_role} turn" if prev_role else "")
        elif isinstance(msg.content, tuple) and msg.content and all(
                isinstance(b, m.ToolResult | m.ServerToolResult) for b in msg.content):
            note = " tool results"
        extra = el("span", f" {json_text(dict(msg.extra), indent=False, limit=200)}", class_="meta") if msg.extra else ""
        bad = " has-violation" if path in ctx.by_home else ""
        parts.append(Safe(
            f'<section class="turn {cls}{bad}" id="{ctx.id(path)}"><div class="role">{_escape(role)}'
            f'<span class="meta"> #{i}{_escape(note)}</span>{extra}</div>{ctx.marks(path)}'
            f'{_content(msg.content, f"{path}.content", ctx)}</section>'))
        prev_role = role
    if not _msgs(conv):
        parts.append(el("div", "(no messages)", class_="note"))
    return join(parts)


def render_usage(usage: Any, model: Any, ctx: Context) -> Safe:
    """A response's usage as a small table, with its cost when the model is priced.

    >>> from convo.pricing import builtin_prices
    >>> "$0.000050" in render_usage(m.Usage(input_tokens=10, output_tokens=0), "claude-opus-4-8",
    ...                             Context(prices=builtin_prices()))
    True
    """
    if usage is UNSET or usage is None:
        return Safe("")
    counts = counts_of_usage(usage)
    cells = [("input", counts.input), ("output", counts.output)]
    if counts.cache_write_5m or counts.cache_write_1h:
        cells.append(("cache write 5m", counts.cache_write_5m))
        if counts.cache_write_1h:
            cells.append(("cache write 1h", counts.cache_write_1h))
    if counts.cache_read:
        cells.append(("cache read", counts.cache_read))
    details = getattr(usage, "output_tokens_details", UNSET)
    if isinstance(details, Mapping) and isinstance(details.get("thinking_tokens"), int):
        cells.append(("of which thinking", details["thinking_tokens"]))
    if counts.web_search:
        cells.append(("web searches", counts.web_search))
    if counts.web_fetch:
        cells.append(("web fetches", counts.web_fetch))
    rows = [el("tr", el("th", k), el("td", f"{v:,}")) for k, v in cells]
    tier = getattr(usage, "service_tier", UNSET)
    if isinstance(tier, str):
        rows.append(el("tr", el("th", "service tier"), el("td", tier)))
    if ctx.prices is not None:
        batch = ctx.batch or tier == "batch"
        cost = ctx.prices.cost(counts, model, batch=batch)
        text = f"${cost.total:,.6f}" + (" (batch)" if batch else "") if cost is not None else f"not priced ({model})"
        rows.append(el("tr", el("th", "cost"), el("td", text, title=ctx.prices.describe())))
    return el("table", *rows, class_="usage")


def render_response(resp: m.Response, ctx: Context) -> Safe:
    """A response: its content as an assistant turn, its stop reason (a refusal as a banner) and
    its usage.

    >>> 'class="banner refusal"' in render_response(m.Response(stop_reason="refusal"), Context())
    True
    """
    head = el("div", "assistant", el("span", " response", class_="meta"), " ", stop_badge(resp.stop_reason),
              el("span", f" {resp.model}", class_="meta") if isinstance(resp.model, str) else None,
              el("span", f" {resp.id}", class_="meta") if isinstance(resp.id, str) else None, class_="role")
    banner: Any = None
    details = resp.stop_details
    if resp.stop_reason == "refusal" or (isinstance(details, m.StopDetails) and details.type == "refusal"):
        cat = details.category if isinstance(details, m.StopDetails) and isinstance(details.category, str) else "no category"
        expl = details.explanation if isinstance(details, m.StopDetails) and isinstance(details.explanation, str) else ""
        banner = el("div", el("strong", "Refused"), f" · category: {cat}", el("div", expl) if expl else None,
                    class_="banner refusal")
    elif isinstance(details, m.StopDetails):
        banner = el("div", json_text({"type": details.type, **dict(details.extra)}, indent=False), class_="banner info")
    if isinstance(resp.stop_sequence, str):
        banner = join([banner, el("div", "stop sequence: ", el("code", resp.stop_sequence), class_="meta")])
    body = render_blocks(resp.blocks, "R.content", ctx) if resp.blocks else el("div", "(empty content)", class_="note")
    return el("section", head, banner, body, render_usage(resp.usage, resp.model, ctx),
              class_="turn assistant response", id=ctx.id("R"))


def _error_banner(error: Any, ctx: Context) -> Safe:
    e = error.get("error", error) if isinstance(error, Mapping) else error
    kind = e.get("type", "error") if isinstance(e, Mapping) else "error"
    msg = e.get("message", "") if isinstance(e, Mapping) else ""
    return el("section", el("div", el("strong", f"API error: {kind}"), el("div", msg) if msg else None, class_="banner error"),
              el("details", el("summary", "error JSON"), _json(error, ctx)), class_="turn error", id=ctx.id("E"))


def render_violations(violations: Sequence[Any], ctx: Context) -> Safe:
    """Every violation as a list: severity, rule id, ``$.path`` (a link to what it is about),
    message and hint.

    >>> from convo.rules import Violation
    >>> "text.empty" in render_violations([Violation("text.empty", "error", "$.messages[0]", "empty")], Context())
    True
    """
    if not violations:
        return Safe("")
    rows = []
    for v in violations:
        shown = ctx.path_prefix + v.path[1:] if ctx.path_prefix else v.path
        home = home_of(v.path)
        path: Any = anchor(ctx.id(home), shown, class_="path") if home in ctx.homes else el("code", shown, class_="path")
        rows.append(el("li", el("span", v.severity, class_="sev"), " ", el("code", v.rule, class_="rule"), " ", path, " ",
                       el("span", v.message, class_="msg"), el("div", "hint: ", v.hint, class_="hint") if v.hint else None,
                       class_=f"violation {v.severity}"))
    n_err = sum(1 for v in violations if v.severity == "error")
    title = f"{n_err} error{'s' if n_err != 1 else ''}, {len(violations) - n_err} warning{'s' if len(violations) - n_err != 1 else ''}"
    return el("section", el("div", "rules · ", title, class_="role"), el("ul", *rows), class_="violations")


def _head(item: Item, kind: str, conv: m.Conversation | None, extra: Sequence[Any] = ()) -> Safe:
    bits: list[Any] = []
    if item.where:
        bits.append(el("span", item.where, class_="where"))
    bits.append(el("span", kind, class_="kind"))
    if conv is not None and isinstance(conv.model, str):
        bits.append(el("span", conv.model, class_="model"))
    if conv is not None:
        bits.append(el("span", f"{len(_msgs(conv))} turns", class_="meta"))
    bits.extend(extra)
    return el("header", *bits, class_="item-head")


def render_item(item: Item, ctx: Context, *, raw_json: str | None = None) -> Safe:
    """One line as an ``<article>``: its header, violations, request, response or error.

    >>> render_item(Item(None, file="a.jsonl", line=2, error="a.jsonl:2: $: not JSON"), Context(prefix="L1"))[:41]
    '<article class="item bad-line" id="L1"><h'
    """
    value = item.value
    parts: list[Any] = []
    if item.error is not None:
        raw = item.raw.decode("utf-8", "backslashreplace") if item.raw is not None else ""
        return el("article", _head(item, "undecodable", None),
                  el("div", el("strong", "This line could not be read: "), item.error, class_="banner error"),
                  el("pre", truncate(raw, 20_000), class_="json raw-line") if raw else None,
                  class_="item bad-line", id=ctx.prefix)
    conv: m.Conversation | None = None
    response: m.Response | None = None
    error: Any = UNSET
    head_extra: list[Any] = []
    kind = "request"
    if isinstance(value, m.Conversation):
        conv = value
    elif isinstance(value, m.Exchange):
        kind, conv, error = "exchange", value.request, value.error
        response = value.response if isinstance(value.response, m.Response) else None
        if value.id is not UNSET:
            head_extra.append(el("span", f"id {value.id}", class_="meta"))
    elif isinstance(value, m.BatchRequest):
        kind, conv = "batch request", value.params
        head_extra.append(el("span", f"custom_id {value.custom_id}", class_="meta"))
    elif isinstance(value, m.BatchResult):
        kind = f"batch result · {value.result_type}"
        ctx.batch = True
        response = value.message if isinstance(value.message, m.Response) else None
        error = value.error
        head_extra.append(el("span", f"custom_id {value.custom_id}", class_="meta"))
    elif isinstance(value, m.Response):
        kind, response = "response", value
    if response is not None:
        head_extra.append(stop_badge(response.stop_reason))
    _index_tools(conv, response, ctx)
    body: list[Any] = []
    if conv is not None and ctx.fold_request:
        body.append(el("details", el("summary", f"request · {len(_msgs(conv))} turns"), render_conversation(conv, ctx),
                       class_="request"))
    elif conv is not None:
        body.append(render_conversation(conv, ctx))
    if response is not None:
        body.append(render_response(response, ctx))
    if error is not UNSET and error is not None:
        body.append(_error_banner(error, ctx))
    parts.append(_head(item, kind, conv, head_extra))
    ctx.homes.add("$")  # the whole request: the list below is at its top
    parts.append(render_violations(ctx.violations, ctx))  # after the body was rendered: links know their targets
    parts.extend(body)
    if raw_json is not None:
        parts.append(el("details", el("summary", "JSON of the line"), el("pre", raw_json, class_="json"), class_="raw"))
    return el("article", *parts, class_="item", id=ctx.prefix)

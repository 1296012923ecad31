"""Pages: one item on its own, or a whole file as a searchable, paged list.

Layer: view. Every page is one self-contained HTML file: the stylesheet and the script inline,
images as ``data:`` URLs, and a Content-Security-Policy that lets the page load nothing from
anywhere and run no script but its own (by hash), so a hostile transcript can neither run code
nor call out, even if an escape were missed.

A list page keeps every line's rendered HTML deflated and base64-encoded in chunks of a few
hundred lines (``<script type="application/octet-stream">``: data, never run), with a compact
index (line, model, stop reason, flags, rules, a title) that the script filters and pages; a
line is inflated only when it is shown, and the text of every line only when the search box is
first used. That keeps 100,000 lines openable (see ``benchmarks/view.py``).
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from convo import model as m
from convo.codec.lines import conversation_of, encode_value
from convo.pricing import PriceTable, counts_of_usage
from convo.view._assets import CSS, JS
from convo.view._html import Safe, compress, el, esc, join, json_for_script, json_text
from convo.view.render import Context, Item, render_item
from convo.view.render import messages_of as _msgs

__all__ = ["Page", "page_shell", "single_page", "item_text", "item_title"]

_LINE_VALUES = (m.Conversation, m.Exchange, m.BatchRequest, m.BatchResult, m.Response)


def _sha(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


_CSP = (
    "default-src 'none'; img-src data:; "
    f"style-src 'sha256-{_sha(CSS)}'; script-src 'sha256-{_sha(JS)}'; "
    "base-uri 'none'; form-action 'none'"
)


def page_shell(title: str, body: Any, *, body_class: str = "") -> str:
    """A whole HTML document around *body* (markup), with the stylesheet, the script and the
    Content-Security-Policy.

    >>> page = page_shell("t <1>", Safe("<p>x</p>"))
    >>> "<title>t &lt;1&gt;</title>" in page, "Content-Security-Policy" in page
    (True, True)
    """
    return "".join((
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head>",
        f'<body class="{esc(body_class)}">', body, f"<script>{JS}</script></body></html>\n",
    ))


# --------------------------------------------------------------------------- what a line says


def _responses(value: Any) -> m.Response | None:
    if isinstance(value, m.Response):
        return value
    if isinstance(value, m.Exchange) and isinstance(value.response, m.Response):
        return value.response
    if isinstance(value, m.BatchResult) and isinstance(value.message, m.Response):
        return value.message
    return None


def _blocks_text(blocks: Iterable[Any], out: list[str]) -> None:
    for b in blocks:
        if isinstance(b, m.Text):
            out.append(b.text)
        elif isinstance(b, m.Thinking):
            out.append(b.thinking)
        elif isinstance(b, m.ToolUse | m.ServerToolUse):
            out.append(b.name)
            out.append(json_text(b.input, indent=False))
        elif isinstance(b, m.ToolResult):
            c = b.content
            if isinstance(c, str):
                out.append(c)
            elif isinstance(c, tuple):
                _blocks_text(c, out)
        elif isinstance(b, m.ServerToolResult):
            out.append(json_text(b.content, indent=False, limit=4000))
        elif isinstance(b, m.Document):
            if isinstance(b.title, str):
                out.append(b.title)
            src = b.source
            if isinstance(src, m.TextSource):
                out.append(src.data)
        elif isinstance(b, m.SearchResult):
            out.append(b.title)
            _blocks_text(b.content, out)
        elif isinstance(b, m.MidConvSystem):
            _blocks_text(b.content, out)


def item_text(item: Item, *, limit: int = 64 * 1024) -> str:
    """Everything a search may find in *item*, lower-cased: system, turns, tool calls and
    results, thinking, the response, the model and the id (at most *limit* characters).

    >>> item_text(Item(m.Conversation(model="M").user("Hello <b>")))
    'm\\nhello <b>'
    """
    if item.error is not None:
        return f"{item.error}".lower()[:limit]
    out: list[str] = []
    value = item.value
    conv = conversation_of(value) if not isinstance(value, m.Response) else None
    if isinstance(value, m.Exchange | m.BatchRequest | m.BatchResult):
        ident = getattr(value, "id", None) if isinstance(value, m.Exchange) else value.custom_id
        if isinstance(ident, str | int):
            out.append(str(ident))
    if conv is not None:
        if isinstance(conv.model, str):
            out.append(conv.model)
        s = conv.system
        if isinstance(s, str):
            out.append(s)
        elif isinstance(s, tuple):
            _blocks_text(s, out)
        for msg in _msgs(conv):
            c = msg.content
            if isinstance(c, str):
                out.append(c)
            else:
                _blocks_text(c, out)
    resp = _responses(value)
    if resp is not None:
        _blocks_text(resp.blocks, out)
    text = "\n".join(out).lower()
    return text[:limit]


def item_title(item: Item, *, limit: int = 140) -> str:
    """A one-line title for the list: the first user text (or what the line is).

    >>> item_title(Item(m.Conversation().user("  Where is\\nmy parcel? ")))
    'Where is my parcel?'
    """
    if item.error is not None:
        return item.error[:limit]
    conv = conversation_of(item.value) if not isinstance(item.value, m.Response) else None
    if conv is not None:
        for msg in _msgs(conv):
            if msg.role != "user":
                continue
            text = msg.content if isinstance(msg.content, str) else " ".join(
                b.text for b in msg.content if isinstance(b, m.Text))
            text = " ".join(text.split())
            if text:
                return text[:limit]
    resp = _responses(item.value)
    if resp is not None:
        text = " ".join(resp.text.split())
        if text:
            return text[:limit]
    return "(no text)"


# --------------------------------------------------------------------------- checking


class Checker:
    """Runs ``convo.validate`` on each line's conversation, for one model or for each line's own."""

    def __init__(self, validate: bool, model: str | None, api_version: str | None) -> None:
        self.on = validate
        self.profile: Any = None
        self.api_version = api_version
        if validate:
            from convo.profiles import DEFAULT_API_VERSION, get_profile
            from convo.rules import validate as run

            self._run = run
            self.api_version = api_version or DEFAULT_API_VERSION
            self.profile = get_profile(model) if model else None
        self._api_version: str = self.api_version or ""

    def __call__(self, value: Any) -> tuple[Any, ...]:
        if not self.on or isinstance(value, m.Response):
            return ()
        conv = conversation_of(value)
        if conv is None:
            return ()
        report = self._run(conv, profile=self.profile, api_version=self._api_version)
        return tuple(report.violations)


def _path_prefix(value: Any) -> str:
    if isinstance(value, m.Exchange):
        return "$.request"
    if isinstance(value, m.BatchRequest):
        return "$.params"
    return ""


def _shortened(obj: Any) -> Any:
    """A line's JSON with long base64 data cut (the image is shown above; the text would be huge)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "data" and isinstance(v, str) and len(v) > 200 and obj.get("type") == "base64":
                out[k] = f"{v[:60]}… ({len(v):,} characters of base64)"
            else:
                out[k] = _shortened(v)
        return out
    if isinstance(obj, list):
        return [_shortened(v) for v in obj]
    return obj


def _raw_json(value: Any) -> str | None:
    try:
        return json_text(_shortened(orjson.loads(encode_value(value))))
    except Exception:  # a value the codec cannot write: the page shows it without its JSON
        return None


def single_page(
    item: Item,
    *,
    validate: bool = True,
    model: str | None = None,
    api_version: str | None = None,
    prices: PriceTable | None = None,
    max_image_kb: int = 512,
    title: str | None = None,
) -> str:
    """One item as a page that reads without its script (the script only adds conveniences).

    >>> "<article" in single_page(Item(m.Conversation(model="m", max_tokens=1).user("Hi")), validate=False)
    True
    """
    violations = Checker(validate, model, api_version)(item.value) if item.error is None else ()
    ctx = Context(prefix="c", violations=violations, path_prefix=_path_prefix(item.value), prices=prices,
                  max_image_chars=max_image_kb * 1024)
    raw = _raw_json(item.value) if item.error is None and isinstance(item.value, _LINE_VALUES) else None
    article = render_item(item, ctx, raw_json=raw)
    name = title or (f"convo view · {item.where}" if item.where else "convo view")
    top = el("div", el("h1", name), el("button", "expand all thinking", id="toggle-thinking", type="button"), class_="pagehead")
    return page_shell(name, join([top, article]), body_class="single")


# --------------------------------------------------------------------------- the list page

_F_ERROR, _F_WARN, _F_REFUSAL, _F_TOOL_ERROR, _F_UNDECODABLE, _F_API_ERROR = 1, 2, 4, 8, 16, 32
_F_IMAGES, _F_THINKING, _F_MAX_TOKENS = 64, 128, 256
FLAG_NAMES = {
    _F_ERROR: "lines with rule errors", _F_WARN: "lines with warnings", _F_REFUSAL: "refusals",
    _F_TOOL_ERROR: "tool errors", _F_UNDECODABLE: "undecodable lines", _F_API_ERROR: "API errors",
    _F_MAX_TOKENS: "cut at max_tokens",
}


def _flags(item: Item, violations: tuple[Any, ...]) -> int:
    if item.error is not None:
        return _F_UNDECODABLE
    f = 0
    if any(v.severity == "error" for v in violations):
        f |= _F_ERROR
    elif violations:
        f |= _F_WARN
    value = item.value
    resp = _responses(value)
    if resp is not None:
        if resp.stop_reason == "refusal" or (isinstance(resp.stop_details, m.StopDetails) and resp.stop_details.type == "refusal"):
            f |= _F_REFUSAL
        if resp.stop_reason == "max_tokens":
            f |= _F_MAX_TOKENS
    if isinstance(value, m.Exchange) and isinstance(value.error, dict):
        f |= _F_API_ERROR
    if isinstance(value, m.BatchResult) and value.result_type == "errored":
        f |= _F_API_ERROR
    conv = conversation_of(value) if not isinstance(value, m.Response) else None
    blocks: list[Any] = []
    if conv is not None:
        for msg in _msgs(conv):
            if isinstance(msg.content, tuple):
                blocks.extend(msg.content)
    if resp is not None:
        blocks.extend(resp.blocks)
    for b in blocks:
        cls = b.__class__
        if cls is m.ToolResult and b.is_error is True:
            f |= _F_TOOL_ERROR
        elif cls is m.Image:
            f |= _F_IMAGES
        elif cls is m.Thinking or cls is m.RedactedThinking:
            f |= _F_THINKING
        elif isinstance(b, m.ServerToolResult) and isinstance(b.content, dict) and (
                "error_code" in b.content or str(b.content.get("type", "")).endswith("error")):
            f |= _F_TOOL_ERROR
    return f


class _Names:
    """Strings kept once in the page's meta data, by index, with how many lines have each."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.counts: list[int] = []

    def __call__(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.counts)
            self.counts.append(0)
        self.counts[i] += 1
        return i

    def table(self) -> list[list[Any]]:
        return [[name, self.counts[i]] for name, i in self.index.items()]


class Page:
    """A list page built line by line: :meth:`add` each value (or :meth:`add_error` for a line
    that could not be read), then :meth:`write` or :meth:`html`. Memory holds each line's HTML
    deflated, never the values.

    >>> page = Page(title="demo")
    >>> page.add(m.Conversation(model="claude-opus-4-8", max_tokens=8).user("<script>alert(1)</script>"),
    ...          file="a.jsonl", line=1)
    >>> page.add_error(file="a.jsonl", line=2, error="a.jsonl:2: $: expected a JSON object")
    >>> html = page.html()
    >>> "<script>alert(1)" in html, page.lines
    (False, 2)
    """

    def __init__(
        self,
        *,
        title: str = "convo view",
        validate: bool = True,
        model: str | None = None,
        api_version: str | None = None,
        prices: PriceTable | None = None,
        max_image_kb: int = 512,
        page_size: int = 100,
        chunk_chars: int = 384 * 1024,
        text_chunk_chars: int = 4 * 1024 * 1024,
    ) -> None:
        self.title = title
        self.check = Checker(validate, model, api_version)
        self.target = model
        self.prices = prices
        self.max_image_chars = max_image_kb * 1024
        self.page_size = page_size
        self.chunk_chars, self.text_chunk_chars = chunk_chars, text_chunk_chars
        self.rows: list[list[Any]] = []
        self.files, self.kinds, self.models, self.stops, self.rules = (_Names() for _ in range(5))
        self.flag_counts: dict[int, int] = {}
        self.chunks: list[str] = []
        self.chunk_starts: list[int] = []
        self.text_chunks: list[str] = []
        self.text_starts: list[int] = []
        self._html: list[str] = []
        self._html_size = 0
        self._texts: list[str] = []
        self._text_size = 0
        self.cost = 0.0
        self.unpriced = 0

    @property
    def lines(self) -> int:
        """How many lines the page holds."""
        return len(self.rows)

    def add(self, value: Any, *, file: str = "", line: int = 0) -> None:
        """Add one decoded line (a request, exchange, batch line or response)."""
        self.add_item(Item(value, file=file, line=line))

    def add_error(self, *, file: str, line: int, error: str, raw: bytes | None = None) -> None:
        """Add a line that could not be read: it is listed, with why, never dropped."""
        self.add_item(Item(None, file=file, line=line, error=error, raw=raw))

    def add_item(self, item: Item) -> None:
        """Add one :class:`~convo.view.render.Item`."""
        n = len(self.rows)
        violations = self.check(item.value) if item.error is None else ()
        ctx = Context(prefix=f"L{n}", violations=violations, path_prefix=_path_prefix(item.value),
                      prices=self.prices, max_image_chars=self.max_image_chars)
        html = render_item(item, ctx)
        self._html.append(html)
        self._html_size += len(html)
        text = item_text(item)
        self._texts.append(text)
        self._text_size += len(text)
        if self._html_size >= self.chunk_chars:
            self._flush_html()
        if self._text_size >= self.text_chunk_chars:
            self._flush_text()
        self.rows.append(self._row(item, violations))

    def _row(self, item: Item, violations: tuple[Any, ...]) -> list[Any]:
        value = item.value
        flags = _flags(item, violations)
        for bit in FLAG_NAMES:
            if flags & bit:
                self.flag_counts[bit] = self.flag_counts.get(bit, 0) + 1
        kind = "undecodable" if item.error is not None else {
            m.Conversation: "request", m.Exchange: "exchange", m.BatchRequest: "batch request",
            m.BatchResult: "batch result", m.Response: "response"}.get(type(value), "other")
        conv = conversation_of(value) if item.error is None and not isinstance(value, m.Response) else None
        resp = _responses(value) if item.error is None else None
        model_name = None
        if resp is not None and isinstance(resp.model, str):
            model_name = resp.model
        elif conv is not None and isinstance(conv.model, str):
            model_name = conv.model
        ident = value.id if isinstance(value, m.Exchange) else getattr(value, "custom_id", None)
        cost = None
        if resp is not None and self.prices is not None and isinstance(resp.usage, m.Usage):
            c = self.prices.cost(counts_of_usage(resp.usage), model_name,
                                 batch=isinstance(value, m.BatchResult) or getattr(resp.usage, "service_tier", None) == "batch")
            if c is not None:
                cost = round(c.total, 8)
                self.cost += c.total
            else:
                self.unpriced += 1
        rules = sorted({self.rules(r) for r in {v.rule for v in violations}})
        return [
            item.line, self.files(item.file), ident if isinstance(ident, str | int) else None,
            self.kinds(kind), self.models(model_name) if model_name else -1,
            len(_msgs(conv)) if conv is not None else None,
            self.stops(str(resp.stop_reason)) if resp is not None and isinstance(resp.stop_reason, str) else -1,
            flags, rules, item_title(item), cost,
        ]

    def _flush_html(self) -> None:
        if self._html:
            # called from add_item before the line's row is appended: the rows are one behind
            self.chunk_starts.append(len(self.rows) + 1 - len(self._html))
            self.chunks.append(compress(orjson.dumps(self._html)))
            self._html, self._html_size = [], 0

    def _flush_text(self) -> None:
        if self._texts:
            self.text_starts.append(len(self.rows) + 1 - len(self._texts))
            self.text_chunks.append(compress(orjson.dumps(self._texts)))
            self._texts, self._text_size = [], 0

    def _finish(self) -> None:
        if self._html:
            self.chunk_starts.append(len(self.rows) - len(self._html))
            self.chunks.append(compress(orjson.dumps(self._html)))
            self._html, self._html_size = [], 0
        if self._texts:
            self.text_starts.append(len(self.rows) - len(self._texts))
            self.text_chunks.append(compress(orjson.dumps(self._texts)))
            self._texts, self._text_size = [], 0

    def _summary(self) -> Safe:
        n = len(self.rows)
        bits: list[Any] = [el("h1", self.title)]

        def stat(label: str, value: Any) -> Safe:
            return el("span", el("b", value), " ", label, class_="stat")

        bits.append(stat("lines" if n != 1 else "line", f"{n:,}"))
        files = self.files.table()
        if len(files) > 1:
            bits.append(stat("files", f"{len(files):,}"))
        for bit in (_F_UNDECODABLE, _F_ERROR, _F_REFUSAL, _F_TOOL_ERROR, _F_API_ERROR):
            if self.flag_counts.get(bit):
                bits.append(stat(FLAG_NAMES[bit], f"{self.flag_counts[bit]:,}"))
        top = sorted(self.models.table(), key=lambda x: -x[1])[:3]
        if top:
            bits.append(el("span", "models: ", ", ".join(f"{name} ({k:,})" for name, k in top), class_="stat"))
        if self.prices is not None and (self.cost or self.unpriced):
            bits.append(el("span", el("b", f"${self.cost:,.2f}"), " for the responses",
                           f" ({self.unpriced:,} not priced)" if self.unpriced else "",
                           class_="stat", title=self.prices.describe()))
        if self.check.on:
            target = f"checked for {self.target}" if self.target else "checked for each line's model"
            bits.append(el("span", f"{target}, API {self.check.api_version}", class_="stat"))
        return el("div", *bits, class_="pagehead")

    def _controls(self) -> Safe:
        def options(table: list[list[Any]], everything: str) -> list[Safe]:
            out = [el("option", everything, value="")]
            for i, (name, count) in sorted(enumerate(table), key=lambda x: (-x[1][1], str(x[1][0]))):
                out.append(el("option", f"{name} ({count:,})", value=str(i)))
            return out

        flags = [el("option", "any line", value="")]
        for bit, name in FLAG_NAMES.items():
            if self.flag_counts.get(bit):
                flags.append(el("option", f"{name} ({self.flag_counts[bit]:,})", value=str(bit)))
        return el(
            "div",
            el("input", type="search", id="q", placeholder="search the text of every line (all words)",
               aria_label="search"),
            el("select", *options(self.models.table(), "every model"), id="model", aria_label="model"),
            el("select", *options(self.rules.table(), "every rule"), id="rule", aria_label="rule"),
            el("select", *flags, id="flag", aria_label="show"),
            el("button", "expand all thinking", id="toggle-thinking", type="button"),
            el("span", "", id="status"),
            class_="controls",
        )

    def parts(self) -> Iterator[str]:
        """The page, piece by piece (for writing without building one huge string)."""
        self._finish()
        meta = {
            "page_size": self.page_size, "files": [f for f, _ in self.files.table()],
            "kinds": self.kinds.table(), "models": self.models.table(), "stops": self.stops.table(),
            "rules": self.rules.table(), "chunks": self.chunk_starts, "text_chunks": self.text_starts,
        }
        body = [
            self._summary(), self._controls(),
            '<div class="layout"><div class="list"><table class="rows"><tbody id="rows-body"></tbody></table>',
            '<div class="pager"><button id="prev" type="button">&lsaquo; previous</button><span id="page"></span>'
            '<button id="next" type="button">next &rsaquo;</button></div></div>',
            '<div class="detail" id="detail"><p class="note">Choose a line.</p>'
            "<noscript>This page needs its script to show lines; "
            "convo view FILE --line N writes one line as a page that does not.</noscript></div></div>",
            f'<script type="application/json" id="convo-meta">{json_for_script(meta)}</script>',
            f'<script type="application/octet-stream" id="convo-index">{compress(orjson.dumps(self.rows))}</script>',
        ]
        body.extend(f'<script type="application/octet-stream" id="convo-h{i}">{c}</script>' for i, c in enumerate(self.chunks))
        body.extend(f'<script type="application/octet-stream" id="convo-t{i}">{c}</script>' for i, c in enumerate(self.text_chunks))
        shell = page_shell(self.title, Safe("\x00"), body_class="list-page")
        head, tail = shell.split("\x00")
        yield head
        yield from body
        yield tail

    def write(self, out: IO[bytes] | Any) -> int:
        """Write the page to a binary file; return the bytes written."""
        n = 0
        for part in self.parts():
            data = part.encode("utf-8")
            out.write(data)
            n += len(data)
        return n

    def html(self) -> str:
        """The page as one string."""
        buf = io.StringIO()
        for part in self.parts():
            buf.write(part)
        return buf.getvalue()

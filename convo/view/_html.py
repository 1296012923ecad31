"""The few HTML primitives every page is built from, each of which escapes what it is given.

Layer: view. Markup is built as strings; a :class:`Safe` string is markup this package wrote, any
other string is text and is escaped where it lands (element content and attribute values alike).
So a transcript that holds ``<script>`` shows the characters and never runs them; the page's
Content-Security-Policy (see :mod:`convo.view.page`) would refuse any script but the page's own
even if an escape were missed.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterable
from typing import Any

import orjson

from convo._json import thaw

__all__ = [
    "Safe",
    "clean",
    "anchor",
    "attr_id",
    "compress",
    "el",
    "esc",
    "join",
    "json_for_script",
    "json_text",
    "safe_url",
    "truncate",
]


class Safe(str):
    """Markup written by this package: inserted as is, never escaped again."""

    __slots__ = ()


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(mt: re.Match[str]) -> str:
    c = ord(mt.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(text: str) -> str:
    r"""*text* with each control character (a terminal escape) and bidi override (which would
    reorder what is shown) written as a visible escape; newlines and tabs stay.

    >>> clean("ok\x1b[31mred\u202e\n")
    'ok\\x1b[31mred\\u202e\n'
    """
    if text.isprintable():
        return text
    return _CONTROL.sub(_visible, text)


def _escape(text: str) -> str:
    # a chain of replace() is the fastest escape in CPython when, as usual, nothing needs it
    if not text.isprintable():
        text = _CONTROL.sub(_visible, text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "'" in text:
        text = text.replace("'", "&#x27;")
    return text


def esc(value: Any) -> Safe:
    """*value* as HTML text: markup it wrote itself stays, anything else is escaped.

    >>> esc('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    >>> esc(Safe("<b>ok</b>"))
    '<b>ok</b>'
    """
    if type(value) is Safe:
        return value
    return Safe(_escape(value if type(value) is str else str(value)))


def join(parts: Iterable[Any], sep: str = "") -> Safe:
    """Several pieces of markup (text pieces are escaped) as one."""
    return Safe(sep.join([p if type(p) is Safe else _escape(p if type(p) is str else str(p))
                          for p in parts if p is not None]))


_VOID = frozenset(("img", "br", "meta", "input", "hr"))
_NAMES: dict[str, str] = {}


def el(tag: str, *children: Any, **attrs: Any) -> Safe:
    """``<tag attrs>children</tag>``; *tag* and attribute names are this package's constants,
    attribute values and text children are escaped. ``class_`` is ``class``; ``data_x`` is
    ``data-x``; an attribute that is None or False is left out, True is written bare; a child
    that is None is left out.

    >>> el("span", "a < b", class_="note", title='say "hi"')
    '<span class="note" title="say &quot;hi&quot;">a &lt; b</span>'
    """
    parts = ["<", tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        real = _NAMES.get(name)
        if real is None:
            real = _NAMES[name] = name.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(" " + real)
        else:
            parts.append(f' {real}="{value if type(value) is Safe else _escape(value if type(value) is str else str(value))}"')
    parts.append(">")
    if tag in _VOID:
        return Safe("".join(parts))
    for c in children:
        if c is None:
            continue
        t = type(c)
        parts.append(c if t is Safe else _escape(c if t is str else str(c)))
    parts.append("</")
    parts.append(tag)
    parts.append(">")
    return Safe("".join(parts))


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def attr_id(*parts: Any) -> str:
    """An element id made of *parts* (a ``$.path`` included), with only ``[A-Za-z0-9_-]`` in it.

    >>> attr_id("L3", "$.messages[2].content[0]")
    'L3-messages-2-content-0'
    """
    return "-".join(_ID_UNSAFE.sub("-", str(p)).strip("-") for p in parts if p != "")


def anchor(target_id: str, text: Any, *, class_: str | None = None, title: str | None = None) -> Safe:
    """A link to the element *target_id* of this page."""
    return el("a", text, href=f"#{target_id}", class_=class_, title=title)


_SAFE_SCHEMES = ("https://", "http://")


def safe_url(url: Any) -> str | None:
    """*url* if it is an http(s) URL a link may point to, else None (``javascript:``, ``data:``
    and the like are shown as text, never followed).

    >>> safe_url("https://example.com/a.png"), safe_url("javascript:alert(1)")
    ('https://example.com/a.png', None)
    """
    if not isinstance(url, str):
        return None
    u = url.strip()
    if u.lower().startswith(_SAFE_SCHEMES) and not any(c in u for c in "\x00\n\r\t "):
        return u
    return None


def json_text(value: Any, *, indent: bool = True, limit: int | None = None) -> str:
    """A JSON value as readable text (indented; integers beyond 64 bits kept), cut at *limit*.

    >>> json_text({"a": [1, 2]}, indent=False)
    '{"a":[1,2]}'
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(thaw(value), ensure_ascii=False, indent=2 if indent else None, default=repr,
                          separators=None if indent else (",", ":"))
    return truncate(text, limit) if limit is not None else text


def truncate(text: str, limit: int) -> str:
    """*text* cut to *limit* characters, saying how much was left out.

    >>> truncate("abcdefghij", 4)
    'abcd… (6 more characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                 "\u2028": "\\u2028", "\u2029": "\\u2029"})


def json_for_script(value: Any) -> Safe:
    """JSON to put inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` in it, so
    no ``</script>`` or ``<!--`` can end or change the element.

    >>> json_for_script({"t": "</script><script>alert(1)</script>"})
    '{"t":"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
    """
    return Safe(json_text(value, indent=False).translate(_SCRIPT_ESCAPES))


def compress(data: bytes, level: int = 6) -> str:
    """*data* deflated (raw, as the browser's ``DecompressionStream("deflate-raw")`` reads it) and
    base64-encoded: the form the list page keeps its lines in.

    >>> import zlib, base64
    >>> zlib.decompress(base64.b64decode(compress(b"hello" * 100)), -15)[:10]
    b'hellohello'
    """
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(data) + c.flush()).decode("ascii")

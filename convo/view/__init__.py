"""See conversations: a self-contained HTML page (or a terminal screen) for one conversation, an
exchange record, or a whole JSONL file; the components ``convo diff`` shows side by side.

Layer: above the codec and the rules (it validates what it shows), below the command. Nothing
here opens a path or prints: the command reads the files and writes the page.

>>> from convo import Conversation
>>> html = to_html(Conversation(model="claude-opus-4-8", max_tokens=64).user("Hello <script>"))
>>> html.startswith("<!DOCTYPE html>"), "Hello &lt;script&gt;" in html, "<script>alert" in html
(True, True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from convo import model as m
from convo.pricing import PriceTable
from convo.view.page import Page, single_page
from convo.view.render import Item
from convo.view.text import to_text

__all__ = ["Item", "Page", "to_html", "to_text"]

_SINGLE = (m.Conversation, m.Exchange, m.BatchRequest, m.BatchResult, m.Response)


def to_html(
    values: Any | Iterable[Any],
    *,
    title: str | None = None,
    validate: bool = True,
    model: str | None = None,
    api_version: str | None = None,
    prices: PriceTable | None = None,
    max_image_kb: int = 512,
) -> str:
    """A self-contained HTML page of one value (a conversation, exchange record, batch line or
    response) or of many (an iterable of values or :class:`Item`): a searchable, paged list.

    *validate* runs ``convo.validate`` on each request, for *model* (default: each line's own)
    under *api_version* (default: the newest), and shows every violation at its ``$.path``;
    *prices* (a :class:`convo.pricing.PriceTable`) prices each response's usage.

    >>> from convo import Conversation
    >>> convs = [Conversation(model="claude-opus-4-8", max_tokens=8).user(f"question {i}") for i in range(3)]
    >>> 'id="convo-index"' in to_html(convs, title="three")
    True
    """
    if isinstance(values, Item):
        return single_page(values, validate=validate, model=model, api_version=api_version,
                           prices=prices, max_image_kb=max_image_kb, title=title)
    if isinstance(values, _SINGLE):
        return single_page(Item(values), validate=validate, model=model, api_version=api_version,
                           prices=prices, max_image_kb=max_image_kb, title=title)
    page = Page(title=title or "convo view", validate=validate, model=model, api_version=api_version,
                prices=prices, max_image_kb=max_image_kb)
    for v in values:
        page.add_item(v if isinstance(v, Item) else Item(v))
    return page.html()

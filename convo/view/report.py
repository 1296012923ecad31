"""Report pages: ``convo diff --html`` (the summary, then the lines worth reading, before and
after side by side, drawn with the same components as ``convo view``) and ``convo stats --html``
(tables and charts).

Layer: view. Both are self-contained pages (:func:`convo.view.page.page_shell`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from convo import model as m
from convo._json import UNSET as _UNSET
from convo.pricing import PriceTable
from convo.view._html import Safe, el, join, json_text
from convo.view.diff import Condition, LineDiff, Summary, ranked, summary_rows, usage_rows
from convo.view.page import Checker, page_shell
from convo.view.render import Context, Item, render_item

__all__ = ["diff_page", "stats_page", "table"]


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, *, numeric_from: int = 1) -> Safe:
    """A small table; cells from column *numeric_from* on are right-aligned numbers.

    >>> table([("a", "1")], ("what", "n"))
    '<table class="summary"><tr><th>what</th><th>n</th></tr><tr><td>a</td><td class="num">1</td></tr></table>'
    """
    out = []
    if header:
        out.append(el("tr", *(el("th", h) for h in header)))
    for r in rows:
        out.append(el("tr", *(el("td", c, class_="num" if i >= numeric_from else None) for i, c in enumerate(r))))
    return el("table", *out, class_="summary")


def _side(d: LineDiff, n: int, prices: PriceTable | None, check: Any) -> Safe:
    from convo.codec.lines import RawLine, decode_line
    from convo.errors import DecodeError

    cols = []
    for side, dg in (("before", d.before), ("after", d.after)):
        item: Item
        if dg.raw is None:
            item = Item(None, file=dg.file, line=dg.line, error="(the line was not kept)")
        else:
            try:
                item = Item(decode_line(RawLine(dg.file, dg.line, dg.raw)).value, file=dg.file, line=dg.line)
            except DecodeError as e:
                item = Item(None, file=dg.file, line=dg.line, error=str(e), raw=dg.raw)
        violations = check(item.value) if check is not None and item.error is None else ()
        exchange = isinstance(item.value, m.Exchange)
        # a run's records: the responses side by side, the requests folded; requests: shown whole
        ctx = Context(prefix=f"d{n}{side[0]}", violations=violations, prices=prices, fold_request=exchange,
                      path_prefix="$.request" if exchange else "")
        cols.append(el("div", el("div", side.upper(), class_="meta"), render_item(item, ctx)))
    diffs = []
    for call, name, changes in d.arg_diffs:
        rows = [(path, json_text(b, indent=False, limit=200) if b is not _UNSET else "(absent)",
                 json_text(a, indent=False, limit=200) if a is not _UNSET else "(absent)") for path, b, a in changes]
        diffs.append(el("div", f"call {call} ({name}) arguments:", table(rows, ("path", "before", "after"), numeric_from=9)))
    head = el("h2", f"{d.before.where} → {d.after.where}", el("span", f"  score {d.score:.0f}", class_="meta"))
    return el("section", head, el("ul", *(el("li", r) for r in d.reasons()), class_="changes"), *diffs,
              el("div", *cols, class_="side"), class_="pair", id=f"pair-{n}")


def diff_page(
    summary: Summary,
    *,
    before: str,
    after: str,
    conditions: Sequence[tuple[Condition, bool]] = (),
    prices: PriceTable | None = None,
    target: str | None = None,
    api_version: str | None = None,
) -> str:
    """The ``convo diff --html`` page; with *target* (a model), each side is checked for it.

    >>> "Nothing changed." in diff_page(Summary(), before="a.jsonl", after="b.jsonl")
    True
    """
    s = summary
    check = Checker(True, target, api_version) if target else None
    title = f"convo diff · {before} → {after}"
    head = el("div", el("h1", title),
              el("span", el("b", f"{s.matched:,}"), " matched lines", class_="stat"),
              el("span", el("b", f"{s.changed:,}"), " changed", class_="stat"),
              el("span", el("b", f"{s.refusals_appeared:,}"), " refusals appeared", class_="stat"),
              el("span", f"checked for {target}" if target else "rules not checked (--model M)", class_="stat"),
              el("button", "expand all thinking", id="toggle-thinking", type="button"),
              class_="pagehead")
    parts: list[Any] = [el("h2", "Summary"), table(summary_rows(s), ("what", "lines", "of matched"))]
    if conditions:
        parts.append(el("h2", "--fail-if"))
        parts.append(table([(c.text, "FAILED" if hit else "ok", c.explain(s)) for c, hit in conditions],
                           ("condition", "result", "values"), numeric_from=9))
    parts.append(el("h2", "Usage and cost"))
    parts.append(table(usage_rows(s), ("", "before", "after", "change")))
    if prices is not None:
        parts.append(el("p", prices.describe(), class_="meta"))
    trans = [(b, a, f"{n:,}") for (b, a), n in ranked(s.transitions)[:20]]
    models = [(b, a, f"{n:,}") for (b, a), n in ranked(s.models)[:20]]
    parts.append(el("div", el("div", el("h2", "stop_reason before → after"), table(trans, ("before", "after", "lines"), numeric_from=2)),
                    el("div", el("h2", "model before → after"), table(models, ("before", "after", "lines"), numeric_from=2)),
                    class_="side"))
    worth = s.worth_reading
    parts.append(el("h2", f"Lines worth reading first ({len(worth)})"))
    if not worth:
        parts.append(el("p", "Nothing changed.", class_="note"))
    for i, d in enumerate(worth):
        parts.append(_side(d, i, prices, check))
    if s.unmatched:
        rows = [(dg.where, dg.undecodable or "no line with this id in the other file") for dg in s.unmatched]
        parts.append(el("h2", "Lines without a partner (first few)"))
        parts.append(table(rows, ("line", "why"), numeric_from=9))
    return page_shell(title, join([head, el("main", *parts, class_="report")]), body_class="report-page")


def stats_page(title: str, tables: Sequence[tuple[str, Safe]], charts: Sequence[tuple[str, Safe]],
               note: str = "") -> str:
    """The ``convo stats --html`` page: tables, then charts.

    >>> "<h2>Lines</h2>" in stats_page("t", [("Lines", table([("lines", "3")]))], [])
    True
    """
    head = el("div", el("h1", title), el("span", note, class_="stat") if note else None, class_="pagehead")
    body = [el("div", *(el("div", el("h2", name), t, class_="chart") for name, t in tables), class_="tables")]
    body.append(el("div", *(el("div", el("h2", name), svg, class_="chart") for name, svg in charts), class_="charts"))
    return page_shell(title, join([head, *body]), body_class="report-page")


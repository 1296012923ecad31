"""Charts as inline SVG: no script, no library, nothing fetched.

Layer: view. :func:`bar_chart` draws labelled horizontal bars (stop reasons, models, cost by
model); :func:`histogram` draws columns over buckets (turns, tokens or cost per line, bucketed in
powers of two by :func:`log2_buckets`). Labels are escaped like every string on a page.

>>> svg = bar_chart([("end_turn", 7), ("<refusal>", 2)])
>>> svg.startswith("<svg") and "&lt;refusal&gt;" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from convo.view._html import Safe, el

__all__ = ["bar_chart", "bucket_label", "histogram", "log2_bucket", "log2_buckets"]


def _fmt(v: float) -> str:
    if isinstance(v, int) or float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def bar_chart(items: Sequence[tuple[str, float]], *, width: int = 460, unit: str = "", limit: int = 15) -> Safe:
    """Horizontal bars, largest first (the rest summed into one last bar).

    >>> bar_chart([("a", 1), ("b", 3), ("c", 2)], limit=2).count('class="bar"')
    2
    """
    items = sorted(items, key=lambda kv: -kv[1])
    if len(items) > limit:
        rest = sum(v for _, v in items[limit - 1:])
        items = [*items[: limit - 1], (f"{len(items) - limit + 1} more", rest)]
    if not items:
        return el("p", "nothing to draw", class_="note")
    row, label_w, pad = 20, 200, 4
    top = max(v for _, v in items) or 1
    bar_w = width - label_w - 70
    parts = []
    for i, (label, v) in enumerate(items):
        y = i * row
        w = max(1.0, bar_w * v / top) if v else 0.0
        short = label if len(label) <= 30 else label[:29] + "\u2026"
        parts.append(el("text", short, x=str(label_w - 6), y=str(y + 14), text_anchor="end"))
        parts.append(el("rect", el("title", f"{label}: {_fmt(v)}{unit}"), x=str(label_w), y=str(y + pad),
                        width=f"{w:.1f}", height=str(row - 2 * pad), class_="bar"))
        parts.append(el("text", f"{_fmt(v)}{unit}", x=f"{label_w + w + 4:.1f}", y=str(y + 14)))
    h = row * len(items)
    return el("svg", *parts, xmlns="http://www.w3.org/2000/svg", width=str(width), height=str(h),
              viewBox=f"0 0 {width} {h}", role="img")


def histogram(buckets: Sequence[tuple[str, float]], *, width: int = 420, height: int = 160, unit: str = "") -> Safe:
    """Columns over ordered buckets, each labelled below.

    >>> histogram([("1", 4), ("2", 0), ("4", 1)]).count('class="bar alt"')
    3
    """
    if not buckets:
        return el("p", "nothing to draw", class_="note")
    top = max(v for _, v in buckets) or 1
    n = len(buckets)
    base, label_h = height - 30, 30
    col = (width - 10) / n
    parts = [el("line", x1="0", y1=str(base), x2=str(width), y2=str(base), class_="axis", stroke="currentColor")]
    for i, (label, v) in enumerate(buckets):
        h = (base - 14) * v / top
        x = 5 + i * col
        parts.append(el("rect", el("title", f"{label}: {_fmt(v)}{unit}"), x=f"{x + 1:.1f}", y=f"{base - h:.1f}",
                        width=f"{max(1.0, col - 2):.1f}", height=f"{h:.1f}", class_="bar alt"))
        if v:
            parts.append(el("text", _fmt(v), x=f"{x + col / 2:.1f}", y=f"{base - h - 3:.1f}", text_anchor="middle"))
        if n <= 8 or i % -(-n // 6) == 0:
            parts.append(el("text", label, x=f"{x + col / 2:.1f}", y=str(base + 14), text_anchor="middle"))
    return el("svg", *parts, xmlns="http://www.w3.org/2000/svg", width=str(width), height=str(height + label_h - 30),
              viewBox=f"0 0 {width} {height}", role="img")


def log2_bucket(v: float) -> int:
    """The bucket of *v*: 0 for 0, k for 2^(k-1) <= v < 2^k (v > 0; fractions below 1 too).

    >>> [log2_bucket(v) for v in (0, 1, 2, 3, 4, 1000)]
    [0, 1, 2, 2, 3, 10]
    """
    if v <= 0:
        return 0
    return max(1, math.floor(math.log2(v)) + 1) if v >= 1 else -math.ceil(-math.log2(v))


def bucket_label(k: int, *, money: bool = False) -> str:
    """The label of bucket *k*: its lower bound.

    >>> bucket_label(0), bucket_label(3), bucket_label(-2, money=True)
    ('0', '4', '$0.25')
    """
    if k == 0:
        return "0"
    low = 2.0 ** (k - 1) if k > 0 else 2.0 ** k
    if money:
        return f"${low:,.2g}"
    return f"{low:,.0f}" if low >= 1 else f"{low:g}"


def log2_buckets(counts: Mapping[int, int], *, money: bool = False) -> list[tuple[str, float]]:
    """Bucket counts (from :func:`log2_bucket`) as labelled columns, zero first, empty buckets
    between filled ones included.

    >>> log2_buckets({0: 2, 1: 5, 3: 1})
    [('0', 2.0), ('1', 5.0), ('2', 0.0), ('4', 1.0)]
    """
    out = [("0", float(counts[0]))] if counts.get(0) else []
    keys = [k for k in counts if k != 0]
    if keys:
        out += [(bucket_label(k, money=money), float(counts.get(k, 0))) for k in range(min(keys), max(keys) + 1) if k != 0]
    return out



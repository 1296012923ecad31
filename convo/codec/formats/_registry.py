"""The registry of foreign formats: :data:`FORMATS` by name, :func:`register`, :func:`get`.

Layer: codec. Its own module so that a format that reads others (``recorded``) can look them up
without importing the package that registers it.
"""

from __future__ import annotations

from convo.codec.formats._base import Format

__all__ = ["FORMATS", "get", "register"]

FORMATS: dict[str, Format] = {}
"""Every known format by name."""


def register(fmt: Format) -> Format:
    """Add *fmt* to :data:`FORMATS` (replacing one of the same name) and return it.

    >>> from convo.model import Conversation
    >>> from convo.codec.formats import Conversion
    >>> fmt = register(Format("plain", "one user turn of text",
    ...                       reader=lambda obj, source=None: Conversion(Conversation().user(obj))))
    >>> get("plain").read("Hi").conversation.messages[0].content
    'Hi'
    >>> del FORMATS["plain"]
    """
    FORMATS[fmt.name] = fmt
    return fmt


def get(name: str) -> Format:
    """The format called *name*, or a ValueError listing the known names.

    >>> get("sharegpt").writes, get("inspect").writes
    (True, False)
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r} (known: {', '.join(sorted(FORMATS))})") from None

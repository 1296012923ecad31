"""The state of one validation pass (:class:`_Pass`) and the checks it runs for any block:
cache breakpoints, nested content, images.

Layer: inside ``convo.rules``, above ``_catalog``; the request and message checks write to it.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from convo._images import MEDIA_TYPES, sniff_media_type
from convo._json import UNSET
from convo.model import Base64Source, ContentSource, Document, Image, SearchResult, Text
from convo.profiles import Profile
from convo.rules._catalog import Violation, _violation

_MAX_BREAKPOINTS = 4


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for a JSON object, else UNSET (any other shape has no such key)."""
    if obj is UNSET:  # the common case: the field is absent
        return UNSET
    if isinstance(obj, Mapping):
        return obj.get(key, UNSET)
    return UNSET


def _cache_ttl(cc: Any) -> str | None:
    """The TTL of a cache_control value ("5m" by default), or None when it is no breakpoint."""
    if cc is UNSET or cc is None:
        return None
    ttl = _get(cc, "ttl")
    return ttl if isinstance(ttl, str) else "5m"


class _Pass:
    """The state of one validation pass; its methods are the per-block checks."""

    __slots__ = ("api_2026", "blocks_schema", "cache_5m", "cache_count", "cache_order_done", "cache_over_done",
                 "images", "out", "profile", "tool_ids")

    # documents are checked where they are met (document()); images once all are counted

    def __init__(self, profile: Profile, api_2026: bool) -> None:
        self.profile = profile
        self.api_2026 = api_2026
        self.out: list[Violation] = []
        self.images: list[tuple[str, Image]] = []
        self.tool_ids: dict[str, str] = {}
        self.cache_count = 0
        self.cache_5m = False
        self.cache_over_done = False
        self.cache_order_done = False
        # the closed-world check of messages and blocks (a _schema.MessageCheck), run inside the
        # message pass so that each block is visited once; None: not checked
        self.blocks_schema: Any = None

    def add(self, rule: str, path: str, message: str) -> None:
        self.out.append(_violation(rule, path, message))

    def breakpoint(self, cc: Any, path: str) -> None:
        """Count a cache_control marker at *path* (prefix order) and check the TTL order."""
        ttl = _cache_ttl(cc)
        if ttl is None:
            return
        self.cache_count += 1
        if self.cache_count > _MAX_BREAKPOINTS and not self.cache_over_done:
            self.cache_over_done = True
            self.add("cache-control.too-many", path,
                     f"cache breakpoint number {self.cache_count}: at most {_MAX_BREAKPOINTS} are allowed")
        if ttl == "1h":
            if self.cache_5m and not self.cache_order_done:
                self.cache_order_done = True
                self.add("cache-control.ttl-order", path,
                         "a 1h cache breakpoint comes after a 5m one; longer TTLs must come first")
        else:
            self.cache_5m = True

    def nested(self, blocks: Any, base: str, in_user: bool) -> None:
        """Checks for blocks inside a tool_result, search_result or content document."""
        if type(blocks) is not tuple:
            return
        for k, b in enumerate(blocks):
            t = type(b)
            if t is Text:
                if not b.text:
                    self.add("text.empty", f"{base}[{k}]", "text block with empty text")
                if in_user and self.api_2026 and b.citations:
                    self.add("citations.in-user", f"{base}[{k}]",
                             "cited text in a user message is a 400 under API 2026-10-21")
            elif t is Image:
                self.images.append((f"{base}[{k}]", b))
            elif t is SearchResult:
                self.nested(b.content, f"{base}[{k}].content", in_user)
            elif t is Document:
                self.document(b, f"{base}[{k}]", in_user)
            cc = getattr(b, "cache_control", UNSET)
            if cc is not UNSET and cc is not None:
                self.breakpoint(cc, f"{base}[{k}]")

    def document(self, b: Document, path: str, in_user: bool) -> None:
        """A document block at *path*: a base64 source must be a PDF, in valid base64."""
        src = b.source
        if type(src) is Base64Source:
            mt = src.media_type
            if not _valid_base64(src.data):
                self.add("base64.invalid", f"{path}.source.data", "the data is not valid base64")
            elif mt != "application/pdf":
                self.add("document.media-type", f"{path}.source.media_type",
                         f"media_type {mt!r} is not application/pdf (the only base64 document type)")
            else:
                head = _head_bytes(src.data)
                if head is not None and not head.startswith(b"%PDF"):
                    found = sniff_media_type(head) or "not a PDF"
                    self.add("document.media-type", f"{path}.source.media_type",
                             f"media_type says application/pdf but the bytes are {found}")
        elif type(src) is ContentSource:
            self.nested(src.content, f"{path}.source.content", in_user)

    def check_images(self) -> None:
        p = self.profile
        n = len(self.images)
        if n > p.max_images:
            path = self.images[p.max_images][0]
            self.add("image.too-many", path,
                     f"{n} images in the request; {p.model or 'this model'} accepts at most {p.max_images}")
        limit = p.many_images_px if n > p.many_images_threshold else p.max_image_px
        for path, img in self.images:
            src = img.source
            if type(src) is not Base64Source:
                continue
            mt = src.media_type
            if not _valid_base64(src.data):
                self.add("base64.invalid", f"{path}.source.data", "the data is not valid base64")
                continue
            if mt not in MEDIA_TYPES:
                self.add("image.media-type", f"{path}.source.media_type",
                         f"media_type {mt!r} is not one of {', '.join(MEDIA_TYPES)}")
            else:
                actual = _sniff_base64(src.data)
                if actual is not None and actual != mt:
                    self.add("image.media-type", f"{path}.source.media_type",
                             f"media_type says {mt} but the bytes are {actual}")
            if len(src.data) > p.max_image_bytes:
                self.add("image.too-large", f"{path}.source.data",
                         f"{len(src.data)} base64 characters; at most {p.max_image_bytes} per image")
            size = img.size()
            if size is not None and (size[0] > limit or size[1] > limit):
                why = (f" (the request has {n} images, more than {p.many_images_threshold})"
                       if limit == p.many_images_px else "")
                self.add("image.dimensions", path,
                         f"{size[0]}x{size[1]} px is larger than {limit}x{limit}{why}")


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _valid_base64(data: str) -> bool:
    """Whether *data* is standard base64 (the spec's ``format: byte``): the alphabet, padding, a
    length that is a multiple of 4; no whitespace. What ``binascii.a2b_base64(strict_mode=True)``
    accepts; canonical base64 (the usual case) is told about 4x faster without decoding: a length
    that is a multiple of 4, ASCII, at most two ``=`` at the end and the alphabet before them
    (all of which strict mode accepts: tested). Anything else is decoded in strict mode."""
    n = len(data)
    if not n % 4 and data.isascii():
        body = data.encode("ascii").rstrip(b"=")
        if n - len(body) <= 2 and not body.translate(None, _B64_ALPHABET):
            return True
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _head_bytes(data: str) -> bytes | None:
    """The first bytes of base64 *data* (None when it is too short to tell)."""
    head = data[:16]
    if len(head) < 16:
        return None
    try:
        return binascii.a2b_base64(head, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def _sniff_base64(data: str) -> str | None:
    """The image type of base64 *data* from its first 12 bytes: a media type, a "not an image"
    note, or None when the head is not base64 (a placeholder such as the guide's) or too short.

    Only the first 16 characters are decoded: the magic number is all we need, and the CLI checks
    every image of multi-GB files."""
    head = data[:16]
    if len(head) < 16:
        return None
    try:
        raw = binascii.a2b_base64(head, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return sniff_media_type(raw) or "not a jpeg, png, gif or webp image"

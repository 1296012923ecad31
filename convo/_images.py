"""Image bytes: the media type from magic numbers, width and height from the header.

No imaging library: the four formats the API accepts (facts §3.3) are read by hand, which is all
convo needs to pick ``media_type`` and to estimate tokens with the ceil(w/28) * ceil(h/28) rule.
"""

from __future__ import annotations

import binascii
import struct

__all__ = ["MEDIA_TYPES", "base64_image_size", "image_size", "sniff_media_type"]

MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def sniff_media_type(data: bytes) -> str | None:
    """The media type of *data* from its magic number, or None if it is none of the four.

    >>> sniff_media_type(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(20))
    'image/png'
    >>> sniff_media_type(b"%PDF-1.7") is None
    True
    """
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the header of a jpeg, png, gif or webp, or None if unreadable.

    >>> import base64
    >>> png = base64.b64decode(
    ...     "iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAADklEQVR4nGNgYGBgYAIAAAsAAv0d0kYAAAAASUVORK5CYII=")
    >>> image_size(png)
    (2, 3)
    """
    kind = sniff_media_type(data)
    try:
        if kind == "image/png":
            if data[12:16] == b"IHDR":
                w, h = struct.unpack(">II", data[16:24])
                return int(w), int(h)
            return None
        if kind == "image/gif":
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if kind == "image/webp":
            return _webp_size(data)
        if kind == "image/jpeg":
            return _jpeg_size(data)
    except (struct.error, IndexError):
        return None
    return None


def base64_image_size(data: str) -> tuple[int, int] | None:
    """(width, height) of the image in base64 *data*, from its header, or None if unknown.

    Only the header is decoded: PNG, GIF and WebP give their size within the first 30 bytes; a
    JPEG's frame header may come after its metadata, so more is decoded for a JPEG only.

    >>> base64_image_size("iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAADklEQVR4nGNgYGBgYAIAAAsAAv0d0kYAAAAASUVORK5CYII=")
    (2, 3)
    """
    size = None
    for n in (64, 4096, 65536):
        head = data[:n]
        head = head[: len(head) - len(head) % 4]
        try:
            raw = binascii.a2b_base64(head)  # (as base64.b64decode: not strict, ASCII only)
        except ValueError:
            return None
        size = image_size(raw)
        if size is not None or len(head) < n - 3 or not raw.startswith(b"\xff\xd8\xff"):
            return size
    return size


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L":
        b = data[21:25]
        bits = int.from_bytes(b, "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        # frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height
        start = 20 + 3
        if data[start : start + 3] != b"\x9d\x01\x2a":
            return None
        w, h = struct.unpack("<HH", data[start + 3 : start + 7])
        return w & 0x3FFF, h & 0x3FFF
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF:
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + length
    return None

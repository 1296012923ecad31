"""Tiny real image files, built from nothing: the samples both generators of conversations use.

Layer: bottom (standard library only, no Hypothesis), so :mod:`convo.strategies` and the seeded
``convo fixtures`` command (which must stay byte-identical for a seed) share one builder.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["PNG_MAGIC", "gif", "png", "png_chunk"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, tag, data and the CRC of tag + data.

    >>> png_chunk(b"IEND", b"")
    b'\\x00\\x00\\x00\\x00IEND\\xaeB`\\x82'
    """
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png(width: int, height: int, rgb: tuple[int, int, int] = (0, 0, 0), noise: bytes = b"") -> bytes:
    """A real PNG file (8-bit RGB): a solid colour, or *noise* bytes repeated as pixels.

    Each row is filter byte 0 and its pixels; the image data is zlib level 9 (fixture files
    are compared byte for byte, so the level is part of the output).

    >>> data = png(3, 2)
    >>> data[:8], struct.unpack(">II", data[16:24])
    (b'\\x89PNG\\r\\n\\x1a\\n', (3, 2))
    """
    row_len = width * 3
    if noise:
        pixels = (noise * (row_len * height // len(noise) + 1))[: row_len * height]
        rows = b"".join(b"\x00" + pixels[r * row_len : (r + 1) * row_len] for r in range(height))
    else:
        rows = (b"\x00" + bytes(rgb) * width) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_MAGIC
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows, 9))
        + png_chunk(b"IEND", b"")
    )


def gif(width: int, height: int, rgb: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    """A real GIF89a file of one colour.

    The pixel data uses the "uncompressed LZW" trick: with a minimum code size of 2 every code is
    3 bits wide as long as a clear code follows every second pixel (the decoder's table then never
    grows to 8 entries), so no real LZW encoder is needed.

    >>> data = gif(3, 2)
    >>> data[:6], struct.unpack("<HH", data[6:10]), data[-1:]
    (b'GIF89a', (3, 2), b';')
    """
    clear, end = 4, 5
    codes: list[int] = []
    for i in range(width * height):
        if i % 2 == 0:
            codes.append(clear)
        codes.append(0)
    codes.append(end)
    acc = nbits = 0
    packed = bytearray()
    for code in codes:
        acc |= code << nbits
        nbits += 3
        while nbits >= 8:
            packed.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        packed.append(acc & 0xFF)
    sub_blocks = b"".join(
        bytes([len(packed[i : i + 255])]) + bytes(packed[i : i + 255])
        for i in range(0, len(packed), 255)
    )
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # global colour table of 2 entries
    palette = bytes(rgb) + b"\x00\x00\x00"
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return b"GIF89a" + screen + palette + descriptor + b"\x02" + sub_blocks + b"\x00;"

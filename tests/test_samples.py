"""convo._samples: the tiny real PNG and GIF files both conversation generators embed."""

from __future__ import annotations

import struct
import zlib

from convo._samples import PNG_MAGIC, gif, png, png_chunk
from convo.model import Image
from tests.test_strategies import _gif_pixels, _png_pixels


class TestPng:
    def test_solid_colour_decodes_to_its_pixels(self) -> None:
        """A solid PNG decodes to rows of filter byte 0 and the colour, and reads back its size."""
        data = png(3, 2, (1, 2, 3))
        assert _png_pixels(data) == (3, 2, (b"\x00" + bytes([1, 2, 3]) * 3) * 2)
        image = Image.from_bytes(data)
        assert image.media_type == "image/png" and image.size() == (3, 2)

    def test_noise_repeats_as_pixels(self) -> None:
        """Noise bytes are repeated and cut to fill the pixels, row after row."""
        noise = b"\x01\x02\x03\x04\x05"
        pixels = (noise * 3)[:12]
        assert _png_pixels(png(2, 2, noise=noise)) == (2, 2, b"\x00" + pixels[:6] + b"\x00" + pixels[6:])

    def test_image_data_is_zlib_level_9(self) -> None:
        """The IDAT chunk is zlib level 9 of the rows (fixture files depend on these exact bytes)."""
        rows = (b"\x00" + bytes([9, 8, 7]) * 5) * 4
        data = png(5, 4, (9, 8, 7))
        idat = png_chunk(b"IDAT", zlib.compress(rows, 9))
        assert data.startswith(PNG_MAGIC) and idat in data
        assert data.endswith(png_chunk(b"IEND", b""))

    def test_chunk_carries_length_and_crc(self) -> None:
        """A chunk is its data's length, the tag, the data and the CRC of tag and data."""
        chunk = png_chunk(b"tEXt", b"k\x00v")
        assert chunk[:4] == struct.pack(">I", 3) and chunk[4:11] == b"tEXtk\x00v"
        assert chunk[11:] == struct.pack(">I", zlib.crc32(b"tEXtk\x00v"))


class TestGif:
    def test_decodes_to_colour_zero_everywhere(self) -> None:
        """A GIF's LZW data decodes to width x height pixels of colour 0, the given colour."""
        data = gif(7, 3, (10, 20, 30))
        assert _gif_pixels(data) == (7, 3, [0] * 21)
        assert data[13:16] == bytes([10, 20, 30])  # the first entry of the global colour table
        assert Image.from_bytes(data).size() == (7, 3)

    def test_large_image_spans_several_sub_blocks(self) -> None:
        """Pixel data over 255 bytes is split into sub-blocks that still decode whole."""
        data = gif(40, 40)
        assert len(data) > 2 * 255
        assert _gif_pixels(data) == (40, 40, [0] * 1600)

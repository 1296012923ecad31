"""The data model: frozen values, images read from bytes, content as the API took it."""

from __future__ import annotations

import base64
import pickle
import struct
from pathlib import Path

import attrs
import pytest

import convo
from convo import UNSET, Conversation, FrozenDict, Image, Message, Response, Text, ToolUse
from convo._images import image_size, sniff_media_type
from convo.errors import ImageError
from tests._helpers_transforms import png


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def jpeg(width: int, height: int, metadata: int = 0) -> bytes:
    """A minimal JPEG; *metadata* bytes of an APP1 segment (EXIF, say) before its frame header."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", metadata + 2) + bytes(metadata) if metadata else b""
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + app1 + sof0 + b"\xff\xd9"


def webp_vp8x(width: int, height: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


class TestImmutability:
    def test_values_refuse_attribute_assignment(self) -> None:
        """Model objects are frozen: assigning a field raises."""
        conv = Conversation(model="m", max_tokens=5).user("Hi")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            conv.model = "other"  # type: ignore[misc]
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            conv.messages[0].content = "changed"  # type: ignore[misc]

    def test_json_values_are_frozen_deeply(self) -> None:
        """Tool inputs and other JSON values become FrozenDicts and tuples all the way down."""
        block = ToolUse("toolu_1", "lookup", {"q": ["a", {"b": 1}]})
        assert isinstance(block.input, FrozenDict)
        assert block.input["q"] == ("a", FrozenDict({"b": 1}))
        with pytest.raises(TypeError, match="immutable"):
            block.input["q"] = "x"  # type: ignore[index]
        with pytest.raises(TypeError, match="immutable"):
            block.input["q"][1].update(b=2)

    def test_lists_given_by_users_become_tuples(self) -> None:
        """A list of messages or blocks passed in is stored as a tuple."""
        conv = Conversation(messages=[Message("user", [Text("a"), Text("b")])])
        assert type(conv.messages) is tuple and type(conv.messages[0].content) is tuple

    def test_values_are_hashable_and_picklable(self) -> None:
        """Frozen values hash and survive pickling (what --workers relies on)."""
        conv = Conversation(model="m", max_tokens=5, tools=[{"name": "t"}]).user("Hi")
        back = pickle.loads(pickle.dumps(conv))  # noqa: S301 - our own bytes, pickled right here
        assert back == conv and hash(back) == hash(conv)


class TestToolCalls:
    def test_client_and_server_calls_are_distinct_types(self) -> None:
        """ToolUse and ServerToolUse share their fields but neither is the other: the pairing
        rules concern client calls only, and equal fields do not make the blocks equal."""
        client = ToolUse("toolu_1", "search", {"q": "x"})
        server = convo.ServerToolUse("toolu_1", "search", {"q": "x"})
        assert not isinstance(server, ToolUse) and not isinstance(client, convo.ServerToolUse)
        assert client != server
        assert (client.type, server.type) == ("tool_use", "server_tool_use")
        assert [a.name for a in attrs.fields(convo.ServerToolUse)] == [a.name for a in attrs.fields(ToolUse)]
        assert repr(server) == "ServerToolUse(id='toolu_1', name='search', input=FrozenDict({'q': 'x'}))"
        blocks = convo.loads(convo.dumps(Conversation(messages=[Message("assistant", (client, server))]))).messages[0].content
        assert blocks == (client, server) and [type(b) for b in blocks] == [ToolUse, convo.ServerToolUse]


class TestImages:
    @pytest.mark.parametrize(
        ("data", "media_type", "size"),
        [(png(3, 2), "image/png", (3, 2)), (gif(40, 7), "image/gif", (40, 7)),
         (jpeg(640, 480), "image/jpeg", (640, 480)), (webp_vp8x(1000, 20), "image/webp", (1000, 20))],
    )
    def test_media_type_and_size_come_from_the_bytes(self, data: bytes, media_type: str, size: tuple[int, int]) -> None:
        """The media type is read from the magic number and the size from the header, per format."""
        assert sniff_media_type(data) == media_type
        assert image_size(data) == size
        image = Image.from_bytes(data)
        assert image.media_type == media_type
        assert image.size() == size
        assert image.decoded() == data

    @pytest.mark.parametrize("metadata", [0, 100, 3000, 40_000])
    def test_a_jpeg_frame_header_after_metadata_is_found(self, metadata: int) -> None:
        """size() decodes only a header's worth of base64, more for a JPEG whose frame header
        comes after kilobytes of metadata (up to 48 KB of image)."""
        image = Image.from_bytes(jpeg(800, 600, metadata) + bytes(100_000))
        assert image.size() == (800, 600)

    def test_from_path_reads_the_file_not_the_name(self, tmp_path: Path) -> None:
        """A PNG saved as .jpg is still image/png."""
        path = tmp_path / "ant.jpg"
        path.write_bytes(png(1, 1))
        assert Image.from_path(path).media_type == "image/png"

    def test_other_files_are_refused_with_their_name(self, tmp_path: Path) -> None:
        """A file that is none of the four formats raises ImageError naming the file."""
        path = tmp_path / "report.pdf"
        path.write_bytes(b"%PDF-1.7\n...")
        with pytest.raises(ImageError, match=r"report\.pdf"):
            Image.from_path(path)

    def test_url_and_file_sources(self) -> None:
        """URL and Files API images carry no bytes and no size."""
        assert Image.from_url("https://x/a.png").size() is None
        assert Image.from_file_id("file_1").source.file_id == "file_1"  # type: ignore[union-attr]

    def test_base64_repr_hides_the_data(self) -> None:
        """A base64 image's repr gives the data's length, not megabytes of text."""
        image = Image.from_bytes(png(50, 50))
        assert base64.b64encode(png(50, 50)).decode() not in repr(image)
        assert "chars>" in repr(image)


class TestContent:
    def test_string_content_stays_a_string(self) -> None:
        """A one-string turn keeps string content; .blocks still gives blocks."""
        msg = Message.of("user", "Hi")
        assert msg.content == "Hi"
        assert msg.blocks == (Text("Hi"),)
        assert convo.loads(convo.dumps(Conversation(messages=[msg]))).messages[0].content == "Hi"

    def test_with_response_appends_the_reply(self) -> None:
        """with_response appends the response's content as an assistant turn."""
        conv = Conversation(model="m", max_tokens=5).user("Hi")
        resp = convo.loads_response(b'{"id": "msg_1", "content": [{"type": "text", "text": "Hello"}]}')
        out = conv.with_response(resp)
        assert [m.role for m in out.messages] == ["user", "assistant"]
        assert out.messages[-1].text == "Hello"
        assert Response().text == ""


class TestRepr:
    def test_reprs_leave_out_absent_fields(self) -> None:
        """A repr shows what is set: no UNSET fields, no empty extra."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=10).user("Hi")
        assert repr(conv) == "Conversation(model='claude-opus-4-8', max_tokens=10, messages=(Message(role='user', content='Hi'),))"
        assert repr(Text("a", extra={"x": 1})) == "Text(text='a', extra={'x': 1})"
        assert "UNSET" not in repr(convo.Usage(input_tokens=1))
        assert repr(UNSET) == "UNSET"

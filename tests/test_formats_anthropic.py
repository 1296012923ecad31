"""The identity format (convo.codec.formats.anthropic): Bedrock fine-tuning lines and recorded
request bodies load losslessly, and real Anthropic conversations survive the trip through the
foreign chat formats."""

from __future__ import annotations

import pytest

from convo._json import UNSET
from convo.codec.formats import convert, get
from convo.codec.formats.anthropic import read, write
from convo.errors import DecodeError
from tests._helpers_formats import REALWORLD, jsonl, plain

BEDROCK = jsonl(REALWORLD / "anthropic-bedrock-finetune" / "json_mode_dataset.head.jsonl")
BODIES = [r["body"] for name in ("cookbook-requests.jsonl", "sdk-python-generated-params.jsonl")
          for r in jsonl(REALWORLD / "anthropic" / name)]


class TestLossless:
    def test_bedrock_finetune_lines_load_losslessly(self) -> None:
        """All 133 {"system", "messages"} lines read without model/max_tokens and write back equal."""
        assert len(BEDROCK) == 133
        for line in BEDROCK:
            c = read(line)
            conv = c.conversation
            assert c.losses == ()
            assert conv.model is UNSET and conv.max_tokens is UNSET
            assert conv.system == "JSON Mode: Enabled"
            assert [m.role for m in conv.messages] == ["user", "assistant"]
            written, losses = write(conv)
            assert losses == () and plain(written) == line

    def test_recorded_request_bodies_load_losslessly(self) -> None:
        """Cookbook and SDK request bodies (thinking, tools, every parameter) round-trip equal."""
        assert len(BODIES) == 30
        for body in BODIES:
            written, losses = get("anthropic").write(get("anthropic").read(body).conversation)
            assert losses == () and plain(written) == body

    def test_shape_errors_are_decode_errors(self) -> None:
        """A malformed request is a DecodeError at its path (from convo's codec)."""
        with pytest.raises(DecodeError) as e:
            read({"messages": [{"role": "user"}]})
        assert e.value.path == "$.messages[0].content"


class TestThroughForeignFormats:
    @pytest.mark.parametrize("fmt", ["openai", "openai-finetune", "hf", "sharegpt"])
    def test_bedrock_lines_survive_chat_formats(self, fmt: str) -> None:
        """anthropic -> chat format -> anthropic gives back every Bedrock line, with no losses
        (openai-finetune and the others carry system, user and assistant strings exactly)."""
        for line in BEDROCK:
            foreign, l1 = convert(line, from_="anthropic", to=fmt)
            back, l2 = convert(plain(foreign), from_=fmt, to="anthropic")
            assert l1 == () and l2 == ()
            assert plain(back) == line

    def test_bedrock_lines_survive_the_text_format(self) -> None:
        """anthropic -> hh -> anthropic keeps the system prompt (as the preamble) and both turns."""
        for line in BEDROCK:
            text, l1 = convert(line, from_="anthropic", to="hh")
            assert l1 == ()
            back, l2 = convert(text, from_="hh", to="anthropic")
            assert l2 == () and plain(back) == line

"""Round trips through every writable foreign format: anthropic -> X -> anthropic gives the
conversation back, except at the places the writer reported (convo.codec.formats)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from convo.codec import unstructure
from convo.codec.formats import FORMATS, Conversion, detect_file, read_file
from convo.model import Conversation
from convo.strategies import conversations
from tests._helpers_formats import REALWORLD, assert_round_trip, plain

WRITABLE = sorted(name for name, fmt in FORMATS.items() if fmt.writes and name != "anthropic")


def _through(name: str, conv: Conversation) -> None:
    fmt = FORMATS[name]
    original = plain(unstructure(conv))
    value, losses = fmt.write(conv)
    back = fmt.read(plain(value)).conversation
    assert_round_trip(original, unstructure(back), losses)


class TestGenerated:
    @pytest.mark.parametrize("name", WRITABLE)
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conv=conversations(images=True, tools=True, thinking=True, mid_system=True))
    def test_what_comes_back_differs_only_where_reported(self, name: str, conv: Conversation) -> None:
        """For every writable format X, anthropic -> X -> anthropic equals the input except at the
        paths of the losses X's writer reported."""
        _through(name, conv)

    def test_every_writable_format_is_covered(self) -> None:
        """The round trip runs over every writable format but the identity."""
        assert WRITABLE == ["bedrock", "bedrock-converse", "hf", "hh", "openai", "openai-finetune", "responses",
                            "sharegpt", "vertex"]


def _realworld() -> Iterator[tuple[str, Conversion]]:
    for folder, _, files in sorted(os.walk(REALWORLD)):
        for f in sorted(files):
            path = os.path.join(folder, f)
            if detect_file(path) is not None:
                for c in read_file(path):
                    yield os.path.relpath(path, REALWORLD), c


class TestRealWorld:
    @pytest.mark.parametrize("name", WRITABLE)
    def test_every_realworld_conversation_comes_back(self, name: str) -> None:
        """Every conversation read from ../shared/realworld, written as X and read back, equals
        itself except where X's writer reported a loss."""
        n = 0
        for where, c in _realworld():
            try:
                _through(name, c.conversation)
            except AssertionError as e:
                raise AssertionError(f"{where} ({c.source}): {e}") from None
            n += 1
        assert n > 900

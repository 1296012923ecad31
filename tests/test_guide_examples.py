"""The examples of Anthropic's "Using the Messages API" guide, built with convo's fluent API.

Each example is a fixture in ``fixtures/guide/`` (request + response, copied from
``shared/reference/guide-examples.jsonl``). The request is built with the fluent API and must
encode to exactly the guide's JSON; the response must decode and encode back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import convo
from convo import Base64Source, Conversation, Image, Response
from convo.rules import validate

FIXTURES = Path(__file__).parents[1] / "fixtures" / "guide"
ANT_URL = "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"


def _basic() -> Conversation:
    return Conversation(model="claude-opus-4-8", max_tokens=1024).user("Hello, Claude")


def _multi_turn() -> Conversation:
    return (
        Conversation(model="claude-opus-4-8", max_tokens=1024)
        .user("Hello, Claude")
        .assistant("Hello!")  # a synthetic assistant turn: the API does not care who wrote it
        .user("Can you describe LLMs to me?")
    )


def _prefill() -> Conversation:
    return (
        Conversation(model="claude-sonnet-4-5", max_tokens=1)
        .user("What is latin for Ant? (A) Apoidea, (B) Rhopalocera, (C) Formicidae")
        .prefill("The answer is (")
    )


def _vision_base64() -> Conversation:
    # The guide elides the bytes; the literal placeholder stands in for them.
    image = Image(Base64Source("image/jpeg", "<base64 of a JPEG>"))
    return Conversation(model="claude-opus-4-8", max_tokens=1024).user(image, "What is in the above image?")


def _vision_url() -> Conversation:
    return Conversation(model="claude-opus-4-8", max_tokens=1024).user(
        Image.from_url(ANT_URL), "What is in the above image?"
    )


BUILDERS: dict[str, Callable[[], Conversation]] = {
    "basic": _basic,
    "multi-turn": _multi_turn,
    "prefill": _prefill,
    "vision-base64": _vision_base64,
    "vision-url": _vision_url,
}


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _responses() -> list[str]:
    return [name for name in BUILDERS if _fixture(name)["response"] is not None]


class TestFixtures:
    def test_one_fixture_per_example(self) -> None:
        """fixtures/guide holds exactly one file per builder here."""
        assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(BUILDERS)

    def test_fixtures_copy_the_guide(self, shared_dir: Path) -> None:
        """The fixtures are the lines of shared/reference/guide-examples.jsonl, in order."""
        source = shared_dir / "reference" / "guide-examples.jsonl"
        if not source.exists():
            pytest.skip("shared/ is not beside this checkout")
        lines = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert [_fixture(name) for name in BUILDERS] == lines


class TestRequests:
    @pytest.mark.parametrize("name", list(BUILDERS))
    def test_fluent_build_encodes_to_the_guide_json(self, name: str) -> None:
        """The conversation built fluently encodes to exactly the guide's request JSON."""
        assert orjson.loads(convo.dumps(BUILDERS[name]())) == _fixture(name)["request"]

    @pytest.mark.parametrize("name", list(BUILDERS))
    def test_decoding_the_guide_gives_the_built_conversation(self, name: str) -> None:
        """Decoding the guide's JSON gives a value equal to the fluently built one."""
        raw = orjson.dumps(_fixture(name)["request"])
        assert convo.loads(raw) == BUILDERS[name]()

    @pytest.mark.parametrize("name", list(BUILDERS))
    def test_valid_for_its_model(self, name: str) -> None:
        """Every guide request passes the rules for its own model under the current API version."""
        report = validate(BUILDERS[name]())
        if name == "vision-base64":  # the guide's placeholder bytes are no base64: a 400 (issue 12)
            assert report.rules == ("base64.invalid",)
            return
        assert report.violations == ()

    def test_prefill_is_rejected_on_opus_4_8(self) -> None:
        """The guide's prefill example is a prefill.unsupported error on claude-opus-4-8."""
        report = validate(_prefill(), profile="claude-opus-4-8")
        assert report.rules == ("prefill.unsupported",)
        assert report.errors[0].path == "$.messages[1]"

    def test_string_content_stays_string(self) -> None:
        """One-string turns are written as plain strings, as the guide writes them."""
        assert [m.content for m in _multi_turn().messages] == [
            "Hello, Claude", "Hello!", "Can you describe LLMs to me?",
        ]


class TestResponses:
    @pytest.mark.parametrize("name", _responses())
    def test_response_round_trips(self, name: str) -> None:
        """The guide's response decodes to a Response and encodes back to the same JSON."""
        data = _fixture(name)["response"]
        resp = convo.loads_response(orjson.dumps(data))
        assert isinstance(resp, Response)
        assert orjson.loads(convo.dumps_response(resp)) == data
        assert convo.loads_response(convo.dumps_response(resp)) == resp

    @pytest.mark.parametrize("name", _responses())
    def test_response_fields(self, name: str) -> None:
        """The decoded response exposes the guide's text, stop reason and usage."""
        data = _fixture(name)["response"]
        resp = convo.loads_response(orjson.dumps(data))
        assert resp.text == data["content"][0]["text"]
        assert resp.stop_reason == data["stop_reason"] and resp.stop_sequence is None
        assert resp.usage.input_tokens == data["usage"]["input_tokens"]
        assert resp.usage.output_tokens == data["usage"]["output_tokens"]

    def test_prefill_answer(self) -> None:
        """The prefill example answers "C" and stops at max_tokens 1."""
        resp = convo.loads_response(orjson.dumps(_fixture("prefill")["response"]))
        assert (resp.text, resp.stop_reason, resp.usage.output_tokens) == ("C", "max_tokens", 1)

    def test_reply_continues_the_conversation(self) -> None:
        """The basic reply, appended with with_response, gives the multi-turn example's history."""
        resp = convo.loads_response(orjson.dumps(_fixture("basic")["response"]))
        conv = _basic().with_response(resp).user("Can you describe LLMs to me?")
        expected = _multi_turn()
        assert [(m.role, m.text) for m in conv.messages] == [(m.role, m.text) for m in expected.messages]
        assert validate(conv).ok

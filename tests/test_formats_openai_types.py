"""What convo writes for OpenAI validates against the ``openai`` package's own request types
(chat completions and the Responses API), unknown keys refused."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from convo.codec.formats import FORMATS, read_file
from convo.model import Conversation
from convo.strategies import conversations
from tests._helpers_formats import REALWORLD, plain

openai_types = pytest.importorskip("openai.types")
pydantic = pytest.importorskip("pydantic")


def _strict_typeddicts() -> None:
    """Make every TypedDict of the chat and Responses request types refuse unknown keys (pydantic
    reads ``__pydantic_config__`` from a TypedDict; the SDK's own are lenient). Test process only."""
    from typing_extensions import is_typeddict

    for info in pkgutil.walk_packages(openai_types.__path__, "openai.types."):
        if not any(part in info.name for part in (".chat", ".responses", ".shared_params")):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and is_typeddict(value) and value.__module__ == module.__name__:
                value.__pydantic_config__ = pydantic.ConfigDict(extra="forbid")  # type: ignore[attr-defined]


_strict_typeddicts()

from openai.types.chat.completion_create_params import CompletionCreateParams  # noqa: E402
from openai.types.responses.response_create_params import ResponseCreateParams  # noqa: E402

CHAT = pydantic.TypeAdapter(CompletionCreateParams)
RESPONSES = pydantic.TypeAdapter(ResponseCreateParams)


def _consume(value: Any) -> Any:
    """Validate *value* all the way down: the SDK types hold ``Iterable`` fields, which pydantic
    validates lazily, item by item, as they are iterated."""
    if isinstance(value, dict):
        return {k: _consume(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_consume(v) for v in value]
    if hasattr(value, "__next__"):
        return [_consume(v) for v in value]
    return value


def validate(adapter: Any, body: Any) -> None:
    """Raise pydantic's ValidationError unless *body* is a valid request of *adapter*'s type."""
    _consume(adapter.validate_python(plain(body)))


def _with_model(conv: Conversation) -> Conversation:
    return conv if isinstance(conv.model, str) else conv.with_params(model="gpt-4o")


def _realworld() -> Iterator[Conversation]:
    for folder in ("openai-live-pydantic-ai", "openai-chat", "anthropic-live-pydantic-ai", "claude-code-sessions",
                   "hf-chat-messages", "sharegpt"):
        for path in sorted((REALWORLD / folder).iterdir()):
            if path.suffix in (".json", ".jsonl"):
                for c in read_file(path):
                    yield _with_model(c.conversation)


class TestStrictness:
    def test_an_unknown_key_is_refused(self) -> None:
        """The strict types catch a key the SDK does not know, deep inside an Iterable."""
        with pytest.raises(pydantic.ValidationError):
            validate(CHAT, {"model": "m", "messages": [{"role": "user", "content": "hi", "bogus": 1}]})
        with pytest.raises(pydantic.ValidationError):
            validate(RESPONSES, {"model": "m", "input": [{"type": "reasoning", "summary": []}]})  # no id
        validate(CHAT, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})


class TestChatCompletions:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conv=conversations(images=True, tools=True, thinking=True, mid_system=True))
    def test_generated_conversations_write_valid_bodies(self, conv: Conversation) -> None:
        """Every body the openai writer gives validates as a chat completions request."""
        body, _ = FORMATS["openai"].write(conv)
        validate(CHAT, body)

    def test_realworld_conversations_write_valid_bodies(self) -> None:
        """The conversations of the realworld OpenAI, Anthropic, Claude Code, HF and ShareGPT data
        write valid chat completions requests."""
        n = 0
        for conv in _realworld():
            body, _ = FORMATS["openai"].write(conv)
            validate(CHAT, body)
            n += 1
        assert n > 400


class TestResponses:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conv=conversations(images=True, tools=True, thinking=True, mid_system=True))
    def test_generated_conversations_write_valid_bodies(self, conv: Conversation) -> None:
        """Every body the responses writer gives validates as a Responses API request."""
        body, _ = FORMATS["responses"].write(conv)
        validate(RESPONSES, body)

    def test_realworld_conversations_write_valid_bodies(self) -> None:
        """The realworld conversations write valid Responses API requests."""
        for conv in _realworld():
            body, _ = FORMATS["responses"].write(conv)
            validate(RESPONSES, body)

    def test_reasoning_read_from_openai_writes_back_valid(self) -> None:
        """A reasoning item with its id and encrypted_content, read and written back, validates."""
        body = {"model": "gpt-5", "input": [
            {"role": "user", "content": "Hi"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Greet."}],
             "encrypted_content": "gAAAA"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}]}
        conv = FORMATS["responses"].read(body).conversation
        back, _ = FORMATS["responses"].write(conv)
        validate(RESPONSES, back)
        assert back["input"][1] == body["input"][1]

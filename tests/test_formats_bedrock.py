"""Claude on Amazon Bedrock and Google Vertex AI (convo.codec.formats.bedrock) and Bedrock's
Converse API (convo.codec.formats.converse)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from convo.codec import unstructure
from convo.codec.formats import get
from convo.codec.formats.converse import read as read_converse
from convo.codec.formats.converse import write as write_converse
from convo.model import (
    Base64Source,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    Text,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
)
from tests._helpers_formats import assert_round_trip, chat_conversations, plain, whats

BEDROCK_BODY: dict[str, Any] = {
    "anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["interleaved-thinking-2025-05-14"],
    "max_tokens": 512, "system": "Be brief.", "thinking": {"type": "enabled", "budget_tokens": 1024},
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}]}


class TestInvokeBodies:
    def test_bedrock_body_round_trips_with_its_version_and_betas(self) -> None:
        """A Bedrock body reads into a conversation (betas reported: a Messages API request names
        them in a header) and writes back byte for byte, version and betas from meta."""
        c = get("bedrock").read(BEDROCK_BODY)
        assert c.conversation.thinking == {"type": "enabled", "budget_tokens": 1024}
        assert whats(c.losses) == ["$.anthropic_beta: betas interleaved-thinking-2025-05-14"]
        value, losses = get("bedrock").write_conversion(c)
        assert plain(value) == BEDROCK_BODY and losses == ()

    def test_the_model_stays_outside_the_body(self) -> None:
        """A model is reported on the way to Bedrock or Vertex: its place is the URL."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi")
        body, losses = get("vertex").write(conv)
        assert body == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 8,
                        "messages": [{"role": "user", "content": "Hi"}]}
        assert whats(losses) == ["$.model: model 'claude-opus-4-8'"]

    def test_a_vertex_body_written_for_bedrock_gets_bedrock_s_version(self) -> None:
        """The version kept from reading is written only to the same provider."""
        c = get("vertex").read({"anthropic_version": "vertex-2023-10-16", "max_tokens": 4, "messages": []})
        assert get("bedrock").write_conversion(c)[0]["anthropic_version"] == "bedrock-2023-05-31"
        assert get("vertex").write_conversion(c)[0]["anthropic_version"] == "vertex-2023-10-16"


CONVERSE: dict[str, Any] = {
    "modelId": "anthropic.claude-sonnet-4-5",
    "system": [{"text": "You read contracts."}, {"cachePoint": {"type": "default"}}],
    "messages": [
        {"role": "user", "content": [
            {"text": "Summarise, then look it up."},
            {"document": {"format": "pdf", "name": "contract", "source": {"bytes": "JVBERi0="}}},
            {"image": {"format": "png", "source": {"bytes": "iVBORw=="}}}]},
        {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Need the registry.", "signature": "EqkBsig"}}},
            {"reasoningContent": {"redactedContent": "c2VjcmV0"}},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "lookup", "input": {"q": "ACME"}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "ACME Ltd"}], "status": "error"}}]},
    ],
    "inferenceConfig": {"maxTokens": 400, "temperature": 0.2, "stopSequences": ["END"]},
    "toolConfig": {"tools": [{"toolSpec": {"name": "lookup", "description": "Registry lookup",
                                           "inputSchema": {"json": {"type": "object"}}}}],
                   "toolChoice": {"auto": {}}},
    "additionalModelRequestFields": {"top_k": 5},
}


class TestConverse:
    def test_every_block_kind_reads(self) -> None:
        """text, document, image, reasoningContent (text with Claude's signature, redacted),
        toolUse and toolResult read as the Messages API blocks; cachePoint as cache_control."""
        c = read_converse(CONVERSE)
        conv = c.conversation
        assert c.losses == ()
        assert conv.model == "anthropic.claude-sonnet-4-5" and conv.max_tokens == 400 and conv.top_k == 5
        assert conv.system == (Text("You read contracts.", cache_control={"type": "ephemeral"}),)
        assert conv.messages[0].content == (Text("Summarise, then look it up."),
                                            Document(Base64Source("application/pdf", "JVBERi0="), title="contract"),
                                            Image(Base64Source("image/png", "iVBORw==")))
        assert conv.messages[1].content == (Thinking("Need the registry.", "EqkBsig"), RedactedThinking("c2VjcmV0"),
                                            ToolUse("tooluse_1", "lookup", {"q": "ACME"}))
        assert conv.messages[2].content == (ToolResult("tooluse_1", content=(Text("ACME Ltd"),), is_error=True),)
        assert conv.tool_choice == {"type": "auto"} and conv.stop_sequences == ("END",)

    def test_writes_back_the_same_request(self) -> None:
        """Converse -> conversation -> Converse gives the request back, signatures intact (Bedrock
        passes Claude's own signature through)."""
        value, losses = write_converse(read_converse(CONVERSE).conversation)
        assert plain(value) == CONVERSE and losses == ()

    def test_what_converse_cannot_hold_is_reported(self) -> None:
        """URL images, a string system (a list in Converse) and a plain-text document."""
        conv = Conversation(system="s", metadata={"user_id": "u"}, messages=(
            Message("user", (Image.from_url("https://e.com/a.png"), Document(TextSource("notes")))),))
        body, losses = write_converse(conv)
        assert body["messages"][0]["content"] == [{"document": {"format": "txt", "name": "document",
                                                                "source": {"text": "notes"}}}]
        assert whats(losses) == ["$.system: system as a string", "$.messages[0].content[0]: an image with a url source",
                                 "$.metadata: metadata {'user_id': 'u'}"]

    @settings(max_examples=60, deadline=None)
    @given(chat_conversations())
    def test_chat_shaped_conversations_round_trip(self, conv: Conversation) -> None:
        """convo -> converse -> convo equals the input except where reported."""
        body, losses = write_converse(conv)
        back = read_converse(plain(body)).conversation
        assert_round_trip(plain(unstructure(conv)), unstructure(back), losses)

"""The OpenAI Responses API format (convo.codec.formats.openai_responses)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from convo.codec.formats import get
from convo.codec.formats.openai_responses import KEY, read, write
from convo.model import (
    Base64Source,
    Conversation,
    Document,
    FileSource,
    Image,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
)
from tests._helpers_formats import (
    assert_round_trip,
    chat_conversations,
    pairing_problems,
    plain,
    whats,
)

REASONING = {"type": "reasoning", "id": "rs_68a", "summary": [{"type": "summary_text", "text": "Check the weather."}],
             "encrypted_content": "gAAAAABo-secret"}

BODY: dict[str, Any] = {
    "model": "gpt-5", "instructions": "Be brief.", "max_output_tokens": 200,
    "reasoning": {"effort": "low"},
    "tools": [{"type": "function", "name": "weather", "description": "Weather for a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": True}],
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"},
                                     {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "auto"},
                                     {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE",
                                      "filename": "a.pdf"}]},
        REASONING,
        {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {"role": "assistant", "content": "18C and sunny."},
    ],
}


class TestRead:
    def test_a_request_body(self) -> None:
        """Instructions, input parts, a file, reasoning, a call and its output read into one
        conversation whose tool use is paired by call_id."""
        c = read(BODY)
        conv = c.conversation
        assert conv.system == "Be brief." and conv.max_tokens == 200 and conv.output_config == {"effort": "low"}
        assert [m.role for m in conv.messages] == ["user", "assistant", "user", "assistant"]
        assert conv.messages[0].content == (Text("Weather in Paris?"), Image(Base64Source("image/png", "iVBO")),
                                            Document(Base64Source("application/pdf", "JVBE")))
        thinking, use = conv.messages[1].content
        assert isinstance(thinking, Thinking) and thinking.thinking == "Check the weather." and thinking.signature == ""
        assert use == ToolUse("call_1", "weather", {"city": "Paris"})
        assert conv.messages[2].content == (ToolResult("call_1", content="18C"),)
        assert pairing_problems(conv) == []
        assert conv.tools[0]["input_schema"]["properties"]["city"] == {"type": "string"}

    def test_encrypted_reasoning_is_reported_per_item(self) -> None:
        """Encrypted reasoning cannot cross providers: each item is reported where it is."""
        c = read(BODY)
        assert whats(c.losses) == ["$.input[0].content[2].filename: file name 'a.pdf'",
                                   "$.input[1].encrypted_content: encrypted reasoning"]
        assert "strip_thinking()" in c.losses[1].why

    def test_a_response_object(self) -> None:
        """A response object reads as its output: reasoning, text and calls in one assistant turn."""
        resp = {"id": "resp_1", "object": "response", "model": "gpt-5", "status": "completed",
                "output": [REASONING, {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                                       "content": [{"type": "output_text", "text": "Hi", "annotations": []}]},
                           {"type": "function_call", "id": "fc_1", "call_id": "call_2", "name": "f", "arguments": "{}"}],
                "usage": {"input_tokens": 5, "output_tokens": 7}}
        c = read(resp)
        (m,) = c.conversation.messages
        assert [type(b).__name__ for b in m.content] == ["Thinking", "Text", "ToolUse"]
        assert c.conversation.model == "gpt-5"
        assert {loss.path for loss in c.losses} >= {"$.id", "$.usage", "$.status"}

    def test_built_in_tool_calls_are_reported(self) -> None:
        """An OpenAI built-in tool call has no Messages API equivalent and is reported, not guessed."""
        c = read({"model": "gpt-5", "input": [{"role": "user", "content": "Search"},
                                             {"type": "web_search_call", "id": "ws_1", "status": "completed"}]})
        assert whats(c.losses) == ["$.input[1]: a 'web_search_call' item"]

    def test_a_string_input(self) -> None:
        """``input`` as one string is one user turn."""
        assert read({"model": "gpt-5", "input": "Hi"}).conversation.messages[0].content == "Hi"


class TestWrite:
    def test_reasoning_goes_back_intact_to_the_same_provider(self) -> None:
        """Responses -> conversation -> Responses keeps the reasoning item, id and encrypted
        content and all (its origin is kept under the thinking block's 'openai' key)."""
        conv = read(BODY).conversation
        assert plain(conv.messages[1].content[0].extra[KEY]) == {k: v for k, v in REASONING.items() if k != "type"}
        body, losses = write(conv)
        assert body["input"][1] == REASONING
        assert body["input"][2] == BODY["input"][2] and body["input"][3] == BODY["input"][3]
        assert not [loss for loss in losses if "reasoning" in loss.what]

    def test_reasoning_of_another_provider_is_reported_and_left_out(self) -> None:
        """Anthropic's signed thinking cannot be sent to OpenAI: left out, reported per block; and
        OpenAI's reasoning written to chat completions reports its 'openai' key."""
        conv = Conversation().user("q").assistant(Thinking("hmm", "EqkBsig"), Text("a"))
        body, losses = write(conv)
        assert body["input"] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
        assert whats(losses)[0] == "$.messages[1].content[0]: thinking block"
        _, chat_losses = get("openai").write(read(BODY).conversation, reasoning_field="reasoning_content")
        assert "$.messages[1].content[0].openai: field 'openai'" in whats(chat_losses)

    def test_documents_and_files(self) -> None:
        """A base64 PDF is an input_file with file_data, a file id a file_id, an image by file id
        an input_image with file_id."""
        conv = Conversation().user(Document(Base64Source("application/pdf", "JVBE")), Document(FileSource("file-9")),
                                   Image(FileSource("file-img")))
        body, _ = write(conv)
        assert body["input"][0]["content"] == [
            {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "document.pdf"},
            {"type": "input_file", "file_id": "file-9"},
            {"type": "input_image", "file_id": "file-img", "detail": "auto"}]

    @settings(max_examples=60, deadline=None)
    @given(chat_conversations())
    def test_chat_shaped_conversations_round_trip(self, conv: Conversation) -> None:
        """convo -> responses -> convo equals the input except where reported."""
        body, losses = write(conv)
        back = read(plain(body))
        from convo.codec import unstructure

        assert_round_trip(plain(unstructure(conv)), unstructure(back.conversation), losses)

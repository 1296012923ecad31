"""The official anthropic SDK against the local emulator: proof that it speaks the real protocol."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import pytest

from convo.testing import Emulator
from tests import _helpers_emulator as h

KEY = h.KEY
MODEL = "claude-opus-4-8"
HELLO = [{"role": "user", "content": "Hello from the SDK"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]},
}


@pytest.fixture
def emu():
    e = Emulator(batch_delay=0.2, api_keys={KEY})
    e.start()
    try:
        yield e
    finally:
        h.close_sdk_clients()  # (before the server stops)
        e.stop()


sdk = h.sdk  # an official SDK client on the emulator, closed after the test


class TestMessages:
    def test_create(self, emu):
        """messages.create gets the echo reply as the SDK's Message."""
        msg = sdk(emu).messages.create(model=MODEL, max_tokens=256, messages=HELLO)
        assert msg.content[0].type == "text"
        assert msg.content[0].text == "echo: Hello from the SDK"
        assert msg.stop_reason == "end_turn" and msg.usage.output_tokens >= 1
        assert msg.model == MODEL and msg.id.startswith("msg_")

    def test_the_sdk_sends_bearer_and_the_new_version(self, emu):
        """SDK 2.x sends Authorization: Bearer and anthropic-version 2026-10-21 (facts §10)."""
        sdk(emu).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        [req] = emu.log
        assert req.api_key_scheme == "bearer"
        assert req.headers["authorization"] == "Bearer <redacted>"
        assert req.headers["anthropic-version"] == "2026-10-21"
        assert "x-api-key" not in req.headers

    def test_stream_final_message_equals_create(self, emu):
        """messages.stream assembles the same message create returns."""
        client = sdk(emu)
        plain = client.messages.create(model=MODEL, max_tokens=256, messages=HELLO)
        with client.messages.stream(model=MODEL, max_tokens=256, messages=HELLO) as s:
            texts = list(s.text_stream)
            final = s.get_final_message()
        assert "".join(texts) == plain.content[0].text
        assert len(texts) >= 2
        assert final.content[0].text == plain.content[0].text
        assert final.id == plain.id and final.usage.output_tokens == plain.usage.output_tokens
        assert final.stop_reason == "end_turn"

    def test_stream_tool_use_and_thinking(self, emu):
        """The SDK's accumulator rebuilds a thinking block and a tool_use input from the stream."""
        client = sdk(emu)
        with client.messages.stream(
            model=MODEL, max_tokens=4096, messages=HELLO, thinking={"type": "adaptive"},
            tools=[WEATHER_TOOL], tool_choice={"type": "auto"},
        ) as s:
            final = s.get_final_message()
        assert final.content[0].type == "thinking" and final.content[0].signature
        with client.messages.stream(
            model=MODEL, max_tokens=256, messages=HELLO, tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
        ) as s:
            final = s.get_final_message()
        [tool] = final.content
        plain = client.messages.create(model=MODEL, max_tokens=256, messages=HELLO,
                                       tools=[WEATHER_TOOL],
                                       tool_choice={"type": "tool", "name": "get_weather"})
        assert tool.type == "tool_use" and isinstance(tool.input["city"], str)
        assert tool.input == plain.content[0].input
        assert final.stop_reason == "tool_use"

    def test_count_tokens(self, emu):
        """messages.count_tokens answers the input_tokens a create would report."""
        client = sdk(emu)
        counted = client.messages.count_tokens(model=MODEL, messages=HELLO, system="Be brief.")
        made = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO, system="Be brief.")
        assert counted.input_tokens == made.usage.input_tokens > 0

    def test_rule_errors_are_bad_request_errors(self, emu):
        """A request the rules refuse raises BadRequestError with the dotted path and request id."""
        with pytest.raises(anthropic.BadRequestError) as caught:
            sdk(emu).messages.create(model=MODEL, max_tokens=64, messages=[
                *HELLO, {"role": "assistant", "content": "Sure"}])
        assert caught.value.status_code == 400
        # the API's own words for a prefill (facts §11, issue 12)
        assert "This model does not support assistant message prefill." in str(caught.value)
        assert caught.value.request_id == emu.log[-1].request_id

    def test_wrong_key_is_an_authentication_error(self, emu):
        """A key the emulator does not know raises AuthenticationError."""
        client = sdk(emu, api_key="sk-wrong")
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    def test_beta_header_is_sent_and_accepted(self, emu):
        """A beta call reaches /v1/messages with its anthropic-beta header."""
        msg = sdk(emu).beta.messages.create(model=MODEL, max_tokens=64, messages=HELLO,
                                            betas=["context-1m-2025-08-07"])
        assert msg.content[0].text == "echo: Hello from the SDK"
        assert emu.log[-1].path == "/v1/messages"
        assert "context-1m-2025-08-07" in emu.log[-1].headers["anthropic-beta"]


class TestModels:
    def test_list_pages_through_every_model(self, emu):
        """models.list auto-paginates over every profile; retrieve gets one."""
        client = sdk(emu)
        ids = [mi.id for mi in client.models.list(limit=3)]
        assert len(ids) == len(set(ids)) > 3 and "claude-opus-4-8" in ids
        one = client.models.retrieve("claude-opus-4-8")
        assert one.display_name == "Claude Opus 4.8" and one.max_tokens > 0
        assert one.capabilities is not None and one.capabilities.thinking.types.adaptive.supported


class TestBatches:
    def _requests(self, n: int) -> list[dict[str, Any]]:
        return [{"custom_id": f"q{i}", "params": {"model": MODEL, "max_tokens": 64,
                 "messages": [{"role": "user", "content": f"question {i}"}]}} for i in range(n)]

    def test_create_retrieve_results(self, emu):
        """A batch goes in_progress -> ended, and results() streams one result per request."""
        client = sdk(emu)
        batch = client.messages.batches.create(requests=self._requests(6))
        assert batch.processing_status == "in_progress"
        assert batch.request_counts.processing == 6
        time.sleep(0.25)
        done = client.messages.batches.retrieve(batch.id)
        assert done.processing_status == "ended" and done.request_counts.succeeded == 6
        assert done.results_url is not None and done.ended_at is not None
        out = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
        assert sorted(out) == [f"q{i}" for i in range(6)]
        assert out["q3"].type == "succeeded"
        assert out["q3"].message.content[0].text == "echo: question 3"
        [results_req] = emu.requests(f"/v1/messages/batches/{batch.id}/results")
        assert results_req.headers["accept"] == "application/binary"

    def test_cancel(self, emu):
        """cancel() makes a batch canceling; it ends with its requests canceled."""
        client = sdk(emu)
        emu.batches.delay = 30.0  # a batch that would take long
        batch = client.messages.batches.create(requests=self._requests(3))
        canceling = client.messages.batches.cancel(batch.id)
        assert canceling.processing_status == "canceling"
        assert canceling.cancel_initiated_at is not None
        time.sleep(emu.batches.cancel_delay + 0.1)
        done = client.messages.batches.retrieve(batch.id)
        assert done.processing_status == "ended" and done.request_counts.canceled == 3
        assert {r.result.type for r in client.messages.batches.results(batch.id)} == {"canceled"}

    def test_list_and_delete(self, emu):
        """list() pages newest first; delete() works once a batch has ended."""
        client = sdk(emu)
        ids = [client.messages.batches.create(requests=self._requests(1)).id for _ in range(3)]
        assert [b.id for b in client.messages.batches.list(limit=2)] == ids[::-1]
        time.sleep(0.25)
        deleted = client.messages.batches.delete(ids[0])
        assert deleted.id == ids[0] and deleted.type == "message_batch_deleted"
        with pytest.raises(anthropic.NotFoundError):
            client.messages.batches.retrieve(ids[0])

    def test_errored_results(self, emu):
        """Injected and rule errors come back as errored results the SDK parses."""
        emu.batch_errors = {"q0": "overloaded_error"}
        reqs = self._requests(2)
        reqs[1]["params"]["temperature"] = 0.5  # refused under 2026-10-21, the SDK's version
        client = sdk(emu)
        batch = client.messages.batches.create(requests=reqs)
        time.sleep(0.25)
        out = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
        assert out["q0"].type == "errored" and out["q0"].error.error.type == "overloaded_error"
        assert out["q1"].error.error.type == "invalid_request_error"
        assert out["q1"].error.error.message.startswith("temperature")


class TestSdkRetries:
    def test_retries_529_until_success(self, emu):
        """Two 529s then a success: the SDK's two retries get through, counted in its header."""
        emu.faults = "529:retry-after-ms=10*2"
        msg = sdk(emu, max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert msg.content[0].text == "echo: Hello from the SDK"
        assert [r.status for r in emu.log] == [529, 529, 200]
        assert [r.headers.get("x-stainless-retry-count") for r in emu.log] == ["0", "1", "2"]

    def test_gives_up_after_max_retries(self, emu):
        """Three 529s exhaust max_retries=2: the SDK raises OverloadedError after three attempts."""
        emu.faults = "529:retry-after-ms=10*3"
        with pytest.raises(anthropic.OverloadedError) as caught:
            sdk(emu, max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert caught.value.status_code == 529
        assert len(emu.log) == 3

    def test_honours_retry_after(self, emu):
        """A 429 with retry-after makes the SDK wait that long before retrying."""
        emu.faults = "429:retry-after=0.4"
        sdk(emu, max_retries=1).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        first, second = emu.log
        assert first.status == 429 and second.status == 200
        assert 0.4 <= second.time - first.time < 2.0

    def test_retry_after_ms_wins_over_retry_after(self, emu):
        """retry-after-ms is read before retry-after (a 5 s retry-after is not waited)."""
        emu.faults = "429:retry-after=5:retry-after-ms=100"
        sdk(emu, max_retries=1).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        first, second = emu.log
        assert 0.1 <= second.time - first.time < 2.0

    def test_backoff_without_retry_after(self, emu):
        """Without retry-after the SDK backs off about 0.5 s (0.375-0.5 with its jitter)."""
        emu.faults = "500"
        sdk(emu, max_retries=1).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        first, second = emu.log
        assert 0.3 <= second.time - first.time < 1.5

    def test_should_retry_false_is_obeyed(self, emu):
        """x-should-retry: false stops the SDK retrying even a 500."""
        emu.faults = "500:should-retry=false"
        with pytest.raises(anthropic.InternalServerError):
            sdk(emu, max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert len(emu.log) == 1

    def test_should_retry_true_retries_a_400(self, emu):
        """x-should-retry: true makes the SDK retry even a 400."""
        emu.faults = "400:should-retry=true:retry-after-ms=10"
        sdk(emu, max_retries=1).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert [r.status for r in emu.log] == [400, 200]

    def test_connection_reset_is_retried(self, emu):
        """A reset connection is a connection error the SDK retries."""
        emu.faults = "reset"
        msg = sdk(emu, max_retries=1).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert msg.stop_reason == "end_turn"
        assert [r.status for r in emu.log] == [None, 200]

    def test_timeouts_are_retried(self, emu):
        """A slow answer past the SDK's timeout is retried; the next attempt succeeds."""
        emu.faults = "slow:1"
        client = sdk(emu, max_retries=1, timeout=0.3)
        msg = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert msg.stop_reason == "end_turn" and len(emu.log) == 2

    def test_sse_error_is_raised_not_retried(self, emu):
        """An error event after HTTP 200 raises an APIStatusError and is not retried (facts §8)."""
        emu.faults = "sse-error"
        with pytest.raises(anthropic.APIStatusError) as caught, sdk(emu, max_retries=2).messages.stream(
                model=MODEL, max_tokens=64, messages=HELLO) as s:
            s.get_final_message()
        assert "overloaded_error" in str(caught.value.body) or "Overloaded" in str(caught.value)
        assert len(emu.log) == 1

    def test_truncated_body_is_an_error(self, emu):
        """A truncated body is retried like a connection error (the SDK sees the read fail)."""
        emu.faults = "truncate"
        msg = sdk(emu, max_retries=1).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert msg.stop_reason == "end_turn" and len(emu.log) == 2


class TestRawOldVersion:
    def test_2023_06_01_with_x_api_key_accepts_sampling(self, emu):
        """Under 2023-06-01 with x-api-key (the older SDKs' way) sampling params are accepted."""
        body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": HELLO,
                "temperature": 0.2, "top_k": 5}
        old = httpx.post(f"{emu.base_url}/v1/messages", json=body,
                         headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"})
        new = httpx.post(f"{emu.base_url}/v1/messages", json=body,
                         headers={"authorization": f"Bearer {KEY}",
                                  "anthropic-version": "2026-10-21"})
        assert old.status_code == 200 and old.json()["content"][0]["text"].startswith("echo:")
        assert new.status_code == 400
        assert new.json()["error"]["message"].startswith("temperature")

"""Issue 12: fail where the real API fails. Closed-world validation and an emulator that refuses
what the live API refuses, with the API's status, error type, location and words (facts §11).

Every row of the issue's table is checked twice: through ``convo.validate(convo.loads(body))``
and over a real socket against :class:`convo.testing.Emulator` (httpx, and the official SDK where
a user would use it). The live recordings in ``../shared/realworld/anthropic-live-pydantic-ai``
are replayed through both.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest

import convo
from convo.rules import betas_needed, validate
from convo.testing import Emulator
from tests import _helpers_emulator as h

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LIVE = SHARED / "realworld" / "anthropic-live-pydantic-ai"

MODEL = "claude-sonnet-4-5"
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()
TOOL = {"name": "get_weather", "description": "Weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def body(**params: Any) -> dict[str, Any]:
    return h.request_body(**params)


def user(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(blocks)}]


# (id, request body, rule, $.path, the API's message: what the emulator answers after "HTTP 400 ")
ROWS: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("top-level typo", body(stop_sequence=["END"]),
     "schema.unknown-key", "$.stop_sequence", "stop_sequence: Extra inputs are not permitted"),
    ("response_format", body(response_format={"type": "json_object"}),
     "schema.unknown-key", "$.response_format", "response_format: Extra inputs are not permitted"),
    ("key in a block", body(messages=user({"type": "text", "text": "hi", "foo": 1})),
     "schema.unknown-key", "$.messages[0].content[0].foo",
     "messages.0.content.0.text.foo: Extra inputs are not permitted"),
    ("key on a message", body(messages=[{"role": "user", "content": "hi", "name": "bob"}]),
     "schema.unknown-key", "$.messages[0].name", "messages.0.name: Extra inputs are not permitted"),
    ("key in a tool", body(tools=[{**TOOL, "defer": True}]),
     "schema.unknown-key", "$.tools[0].defer", "tools.0.custom.defer: Extra inputs are not permitted"),
    ("key in cache_control", body(system=[{"type": "text", "text": "S", "cache_control": {
        "type": "ephemeral", "scope": "global"}}]),
     "schema.unknown-key", "$.system[0].cache_control.scope",
     "system.0.cache_control.ephemeral.scope: Extra inputs are not permitted"),
    ("unknown block type", body(messages=user({"type": "texty", "text": "hi"})),
     "schema.unknown-type", "$.messages[0].content[0]",
     "messages.0.content.0: Input tag 'texty' found using 'type' does not match any of the "
     "expected tags: 'text', 'image'"),
    ("tool without input_schema", body(tools=[{"name": "t", "description": "d"}]),
     "schema.missing-key", "$.tools[0].input_schema", "tools.0.custom.input_schema: Field required"),
    ("tool_use.input a string", body(messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": "{\"city\": \"Paris\"}"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sun"}]}],
        tools=[TOOL]),
     "schema.wrong-type", "$.messages[1].content[0].input",
     "messages.1.content.0.tool_use.input: Input should be a valid dictionary"),
    ("duplicate tool names", body(tools=[TOOL, TOOL]),
     "tools.duplicate-name", "$.tools[1].name", "tools: Tool names must be unique."),
    ("tool_choice names no tool", body(tools=[TOOL], tool_choice={"type": "tool", "name": "nope"}),
     "tool-choice.unknown-tool", "$.tool_choice.name", "tool_choice.tool.name: tool_choice names 'nope'"),
    ("invalid base64 image", body(messages=user({"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "not base64!!"}})),
     "base64.invalid", "$.messages[0].content[0].source.data",
     "messages.0.content.0.image.source.base64.data: the data is not valid base64"),
    ("PNG bytes as a PDF", body(messages=user({"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf", "data": PNG}}, {"type": "text", "text": "?"})),
     "document.media-type", "$.messages[0].content[0].source.media_type",
     "messages.0.content.0.document.source.base64.media_type: media_type says application/pdf but "
     "the bytes are image/png"),
    ("prefill on claude-opus-4-8", body(model="claude-opus-4-8", messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "The answer is"}]),
     "prefill.unsupported", "$.messages[1]",
     "This model does not support assistant message prefill. The conversation must end with a "
     "user message."),
    ("tool_use without tool_result", body(tools=[TOOL], messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": "and?"}]),
     "tool-use.missing-result", "$.messages[1].content[0]",
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
     "toolu_01A. Each `tool_use` block must have a corresponding `tool_result` block in the next "
     "message."),
]


@pytest.fixture(scope="module")
def emu():
    e = Emulator(api_keys={h.KEY})
    e.start()
    yield e
    e.stop()


def post(emu: Emulator, data: dict[str, Any], *, path: str = "/v1/messages",
         headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{emu.base_url}{path}", headers={**h.H23, **(headers or {})},
                      content=json.dumps(data).encode(), timeout=30)  # json: big integers too


class TestTableValidate:
    @pytest.mark.parametrize(("name", "data", "rule", "path", "words"), ROWS, ids=[r[0] for r in ROWS])
    def test_validate_refuses(self, name, data, rule, path, words):
        """validate reports the row's rule at its $.path, as an error."""
        report = validate(convo.loads(orjson.dumps(data)), api_version="2023-06-01")
        found = [(v.rule, v.path) for v in report.errors]
        assert (rule, path) in found, found

    def test_typo_hint_names_the_key(self):
        """An unknown key's hint names the closest known key (edit distance)."""
        [v] = validate(convo.loads(orjson.dumps(body(stop_sequence=["END"])))).errors
        assert v.message == "Extra inputs are not permitted"
        assert "`stop_sequences`" in v.hint

    def test_unknown_tag_lists_the_expected_tags(self):
        """The unknown-type message is the API's, listing the GA block tags."""
        data = body(messages=user({"type": "texty", "text": "hi"}))
        [v] = validate(convo.loads(orjson.dumps(data))).errors
        assert v.message.startswith("Input tag 'texty' found using 'type' does not match any of the "
                                    "expected tags: 'text', 'image', ")
        assert "'tool_result'" in v.message and "`text`" in v.hint

    def test_unknown_model_is_only_a_warning(self):
        """validate keeps a warning for an unknown model id (the emulator answers 404)."""
        with pytest.warns(convo.UnknownModelWarning):
            report = validate(convo.loads(orjson.dumps(body(model="claude-nope"))))
        assert report.ok and report.rules == ("model.unknown",)


class TestFalsePositives:
    def test_adaptive_thinking_with_tool_choice_any_on_opus_4_6(self):
        """LIVE: adaptive thinking + tool_choice any on claude-opus-4-6 is a 200."""
        data = body(model="claude-opus-4-6", thinking={"type": "adaptive"}, tools=[TOOL],
                    tool_choice={"type": "any"})
        assert validate(convo.loads(orjson.dumps(data))).ok

    def test_enabled_thinking_with_tool_choice_any_is_still_refused(self):
        """DOC: the restriction stays for extended (enabled) thinking."""
        data = body(model="claude-opus-4-6", max_tokens=4096, tools=[TOOL], tool_choice={"type": "any"},
                    thinking={"type": "enabled", "budget_tokens": 2048})
        assert "tool-choice.forced-unsupported" in validate(convo.loads(orjson.dumps(data))).rules

    def test_effort_null_is_accepted(self):
        """SPEC: output_config.effort is anyOf [EffortLevel, null]; null is the default."""
        data = body(model="claude-opus-4-8", output_config={"effort": None})
        assert validate(convo.loads(orjson.dumps(data))).ok

    @pytest.mark.parametrize("data", [
        body(model="claude-opus-4-6", thinking={"type": "adaptive"}, tools=[TOOL], tool_choice={"type": "any"}),
        body(model="claude-opus-4-8", output_config={"effort": None}),
    ], ids=["adaptive+any", "effort-null"])
    def test_emulator_answers_200(self, emu, data):
        r = post(emu, data)
        assert r.status_code == 200, r.text


class TestBetasAndAllow:
    def test_beta_key_needs_its_header(self):
        """context_management exists only in the beta API: refused without its header."""
        data = body(context_management={"edits": []})
        conv = convo.loads(orjson.dumps(data))
        [v] = validate(conv).errors
        assert (v.rule, v.path) == ("schema.beta-only", "$.context_management")
        assert "context-management-2025-06-27" in v.hint
        assert validate(conv, betas=["context-management-2025-06-27"]).ok

    def test_emulator_reads_the_beta_header(self, emu):
        data = body(context_management={"edits": []})
        r = post(emu, data)
        assert r.status_code == 400
        assert r.json()["error"]["message"] == "context_management: Extra inputs are not permitted"
        r = post(emu, data, headers={"anthropic-beta": "context-management-2025-06-27"})
        assert r.status_code == 200, r.text

    def test_allow_accepts_named_unknown_keys(self):
        """allow= takes key names (any depth) and $.path patterns."""
        data = body(messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "x_meta": 1}]}],
                    x_trace="t")
        conv = convo.loads(orjson.dumps(data))
        assert {v.path for v in validate(conv).errors} == {"$.x_trace", "$.messages[0].content[0].x_meta"}
        assert validate(conv, allow=["x_trace", "$.messages[*].content[*].x_meta"]).ok
        assert [v.path for v in validate(conv, allow=["x_meta"]).errors] == ["$.x_trace"]


class TestCodecStaysLossless:
    @pytest.mark.parametrize(("name", "data"), [(r[0], r[1]) for r in ROWS if r[2].startswith("schema.")],
                             ids=[r[0] for r in ROWS if r[2].startswith("schema.")])
    def test_refused_bodies_still_load_and_round_trip(self, name, data):
        """Closed world belongs to validate: the codec loads and writes back every refused body."""
        raw = orjson.dumps(data)
        assert orjson.loads(convo.dumps(convo.loads(raw))) == data


class TestTableEmulator:
    @pytest.mark.parametrize(("name", "data", "rule", "path", "words"), ROWS, ids=[r[0] for r in ROWS])
    def test_emulator_answers_400_in_the_apis_words(self, emu, name, data, rule, path, words):
        r = post(emu, data)
        assert r.status_code == 400, r.text
        err = r.json()
        assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
        assert err["error"]["message"].startswith(words), err["error"]["message"]

    @pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
    def test_unknown_model_is_404(self, emu, path):
        data = body(model="claude-nope")
        if path.endswith("count_tokens"):
            del data["max_tokens"]
        r = post(emu, data, path=path)
        assert r.status_code == 404, r.text
        assert r.json()["error"] == {"type": "not_found_error", "message": "model: claude-nope"}
        assert httpx.get(f"{emu.base_url}/v1/models/claude-nope", headers=h.H23).status_code == 404

    def test_lenient_emulator_keeps_the_old_behaviour(self):
        """Emulator(strict=False): unknown keys, types and models pass, as before."""
        with Emulator(strict=False) as url:
            for data in (body(stop_sequence=["END"]), body(model="claude-nope"),
                         body(messages=user({"type": "text", "text": "hi", "foo": 1}))):
                r = httpx.post(f"{url}/v1/messages", headers=h.H23, json=data, timeout=30)
                assert r.status_code == 200, r.text


class TestSDK:
    """The official SDK (2.17), as a user's test suite would call it."""

    @pytest.fixture
    def client(self, emu):
        c = anthropic.Anthropic(api_key=h.KEY, base_url=emu.base_url, max_retries=0)
        yield c
        c.close()

    def test_typo_is_a_bad_request(self, client):
        with pytest.raises(anthropic.BadRequestError) as e:
            client.messages.create(model="claude-opus-4-8", max_tokens=64,
                                   messages=[{"role": "user", "content": "hi"}],
                                   extra_body={"stop_sequence": ["END"]})
        assert e.value.status_code == 400
        assert "stop_sequence: Extra inputs are not permitted" in str(e.value)

    def test_unknown_block_type(self, client):
        with pytest.raises(anthropic.BadRequestError) as e:
            client.messages.create(model="claude-opus-4-8", max_tokens=64,
                                   messages=[{"role": "user", "content": [{"type": "texty", "text": "x"}]}])
        assert "Input tag 'texty' found using 'type'" in str(e.value)

    def test_unknown_model_is_not_found(self, client):
        with pytest.raises(anthropic.NotFoundError) as e:
            client.messages.create(model="claude-nope", max_tokens=64,
                                   messages=[{"role": "user", "content": "hi"}])
        assert e.value.status_code == 404
        with pytest.raises(anthropic.NotFoundError):
            client.messages.count_tokens(model="claude-nope", messages=[{"role": "user", "content": "hi"}])

    def test_duplicate_tools(self, client):
        with pytest.raises(anthropic.BadRequestError) as e:
            client.messages.create(model="claude-opus-4-8", max_tokens=64, tools=[TOOL, TOOL],
                                   messages=[{"role": "user", "content": "hi"}])
        assert "tools: Tool names must be unique." in str(e.value)

    def test_valid_request_still_works(self, client):
        msg = client.messages.create(model="claude-opus-4-8", max_tokens=64, tools=[TOOL],
                                     messages=[{"role": "user", "content": "hi"}])
        assert msg.content[0].type == "text"


# --------------------------------------------------------------------------- live recordings


def _live_exchanges() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for f in sorted(LIVE.glob("*.json")):
        for i, x in enumerate(json.loads(f.read_text())):
            out.append((f"{f.stem.removeprefix('anthropic__')}[{i}]", x))
    return out


LIVE_EXCHANGES = _live_exchanges()


def _endpoint(uri: str) -> str:
    return "count_tokens" if "/count_tokens" in uri else "messages"


def _betas(req: dict[str, Any]) -> set[str]:
    """The cassettes dropped the headers: a request to the beta API (``?beta=true``, the SDK's
    ``client.beta``) was sent with the headers of the beta features it uses, which is what
    :func:`betas_needed` reads off the body; a GA request had none."""
    if "beta=true" not in req["uri"]:
        return set()
    return betas_needed(req["body"], endpoint="count_tokens" if _endpoint(req["uri"]) == "count_tokens"
                        else "create")


class TestLiveVerdicts:
    """Every exchange recorded against the live API (Aug 2026, API 2023-06-01): validate reports an
    error exactly when the live API answered 400, and the emulator answers the live status. The
    one 404 (an unknown model) is a warning for validate (it cannot know every model) and a 404
    from the emulator."""

    def test_the_folder_is_there(self):
        assert len(LIVE_EXCHANGES) >= 100
        assert {x["response"]["status"] for _, x in LIVE_EXCHANGES} == {200, 400, 404}

    @pytest.mark.parametrize(("name", "x"), LIVE_EXCHANGES, ids=[n for n, _ in LIVE_EXCHANGES])
    def test_validate_agrees(self, name, x):
        req, status = x["request"], x["response"]["status"]
        conv = convo.loads(orjson.dumps(req["body"]))
        with _quiet():  # an unknown model warns once per process: not asserted here
            report = validate(conv, api_version="2023-06-01", betas=_betas(req), endpoint=_endpoint(req["uri"]))
        if status == 404:
            assert report.ok and "model.unknown" in report.rules
        else:
            assert bool(report.errors) == (status >= 400), [str(v) for v in report.errors]

    @pytest.mark.parametrize(("name", "x"), LIVE_EXCHANGES, ids=[n for n, _ in LIVE_EXCHANGES])
    def test_emulator_agrees(self, emu, name, x):
        req, resp = x["request"], x["response"]
        path = "/v1/messages/count_tokens" if _endpoint(req["uri"]) == "count_tokens" else "/v1/messages"
        headers = {"anthropic-beta": ",".join(sorted(_betas(req)))} if _betas(req) else {}
        r = post(emu, req["body"], path=path, headers=headers)
        assert r.status_code == resp["status"], r.text[:500]
        if resp["status"] >= 400:
            want = resp["body"]["error"]
            got = r.json()["error"]
            assert got["type"] == want["type"]
            if want["type"] == "not_found_error":
                assert got["message"] == want["message"]




# --------------------------------------------------------------------------- the schema file


def test_schema_json_is_current():
    """convo/schema.json is what scripts/make_schema.py makes from ../shared/spec today."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "make_schema.py"
    spec = importlib.util.spec_from_file_location("make_schema", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    data, _ = mod.generate()
    assert (Path(convo.__file__).parent / "schema.json").read_bytes() == data


# --------------------------------------------------------------------------- properties

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import convo.strategies as cs  # noqa: E402
from convo.rules import RULES  # noqa: E402
from tests._spec_strategies import SchemaStrategies, load_spec  # noqa: E402

PROPS = settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _emulate(emu: Emulator, conv: convo.Conversation, version: str) -> httpx.Response:
    headers = h.H26 if version == "2026-10-21" else h.H23
    return httpx.post(f"{emu.base_url}/v1/messages", headers=headers, content=convo.dumps(conv), timeout=30)


class TestProperties:
    @PROPS
    @given(conv=cs.conversations())
    def test_generated_conversations_are_accepted_by_both(self, emu, conv):
        """Every conversations() value: validate finds no error and the emulator answers 200."""
        assert validate(conv).errors == ()
        r = _emulate(emu, conv, "2026-10-21")
        assert r.status_code == 200, r.text

    # the error rules an emulator answers with a 400 (warnings and model.unknown are no 400)
    _REFUSED = sorted(r for r, rule in RULES.items() if rule.severity == "error")

    @PROPS
    @given(data=st.data())
    def test_invalid_conversations_are_refused_by_both(self, emu, data):
        """invalid_conversations(rule=r): validate reports r, the emulator answers 400
        invalid_request_error (the same status for every rule)."""
        rule = data.draw(st.sampled_from(self._REFUSED), label="rule")
        conv = data.draw(cs.invalid_conversations(rule=rule))
        version = "2026-10-21"
        if rule not in validate(conv, api_version=version).rules:
            version = "2023-06-01"  # rules that exist only under the old version
        assert rule in validate(conv, api_version=version).rules
        r = _emulate(emu, conv, version)
        assert r.status_code == 400, (rule, r.text)
        assert r.json()["error"]["type"] == "invalid_request_error"

    @PROPS
    @given(req=SchemaStrategies(load_spec()).component("CreateMessageParams"), rnd=st.randoms(use_true_random=False))
    def test_one_unknown_key_from_the_spec_is_refused_by_both(self, emu, req, rnd):
        """A request generated from the GA spec, with one unknown key injected at a random closed
        place (the top level, a message, a block, a tool): validate names its path; the emulator
        answers 400 with the API's words."""
        places: list[tuple[str, dict[str, Any]]] = [("$", req)]
        for i, m in enumerate(req.get("messages", [])):
            places.append((f"$.messages[{i}]", m))
            if isinstance(m.get("content"), list):
                places.extend((f"$.messages[{i}].content[{j}]", b) for j, b in enumerate(m["content"]))
        places.extend((f"$.tools[{k}]", t) for k, t in enumerate(req.get("tools") or []))
        where, target = rnd.choice(places)
        target["zz_unknown_key"] = 1
        path = f"{where}.zz_unknown_key"
        conv = convo.loads(json.dumps(req).encode())
        with _quiet():
            report = validate(conv, api_version="2023-06-01")
        assert ("schema.unknown-key", path) in [(v.rule, v.path) for v in report.errors], str(report)
        r = post(emu, req)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "invalid_request_error"


class _quiet:
    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)

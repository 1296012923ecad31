"""Tests of convo.strategies on their own terms: what each strategy promises, checked directly.

These checks do not go through convo.rules (tests/test_properties.py does that): they read the
generated values themselves, so a bug in the rules engine cannot hide a bug here.
"""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
import zlib
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import find as _find
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from convo import strategies as cs
from convo._json import UNSET
from convo.model import (
    Base64Source,
    Conversation,
    Document,
    Image,
    Message,
    RedactedThinking,
    SearchResult,
    ServerToolUse,
    Text,
    Thinking,
    ToolResult,
    ToolUse,
    URLSource,
)
from convo.profiles import Profile, builtin_profiles, get_profile

FEW = max(10, settings.default.max_examples // 2)  # for properties that cost more per example
_FIRST = settings(phases=[Phase.generate], max_examples=2000, database=None)


def find(strategy: st.SearchStrategy[Any], condition: Any) -> Any:
    """The first generated value meeting *condition* (no shrinking: these only prove existence)."""
    return _find(strategy, condition, settings=_FIRST)


# --------------------------------------------------------------------------- helpers


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Decode an 8-bit RGB PNG without filters: (width, height, raw scanlines); checks CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body), tag
        if tag == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:] == bytes([8, 2, 0, 0, 0])  # 8-bit RGB, no interlace
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    assert tag == b"IEND"
    return size[0], size[1], zlib.decompress(idat)


def _gif_pixels(data: bytes) -> tuple[int, int, list[int]]:
    """Decode a one-frame GIF with a real LZW decoder: (width, height, colour indexes)."""
    assert data[:6] == b"GIF89a"
    _w, _h, packed = struct.unpack("<HHB", data[6:11])
    pos = 13 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    assert data[pos : pos + 1] == b","
    width, height = struct.unpack("<HH", data[pos + 5 : pos + 9])
    pos += 10
    min_code = data[pos]
    pos += 1
    stream = bytearray()
    while data[pos]:
        stream += data[pos + 1 : pos + 1 + data[pos]]
        pos += 1 + data[pos]
    assert data[pos + 1 :] == b";"
    clear, end = 1 << min_code, (1 << min_code) + 1
    size, table, next_code, prev = min_code + 1, {i: [i] for i in range(clear)}, end + 1, None
    out: list[int] = []
    bit = 0
    while True:
        code = sum(((stream[(bit + k) // 8] >> ((bit + k) % 8)) & 1) << k for k in range(size))
        bit += size
        if code == clear:
            size, table, next_code, prev = min_code + 1, {i: [i] for i in range(clear)}, end + 1, None
            continue
        if code == end:
            break
        if prev is None:
            entry = table[code]
        else:
            entry = table[code] if code in table else table[prev] + [table[prev][0]]
            table[next_code] = table[prev] + [entry[0]]
            next_code += 1
        out += entry
        prev = code
        if next_code == 1 << size and size < 12:
            size += 1
    return width, height, out


def _non_system(conv: Conversation) -> list[Message]:
    return [m for m in conv.messages if m.role != "system"]


def _texts_of(conv: Conversation) -> list[tuple[str, str]]:
    """(role, text) of every text block, including those inside tool results."""
    out = []
    for m in conv.messages:
        for b in m.blocks:
            if isinstance(b, Text):
                out.append((m.role, b.text))
            elif isinstance(b, ToolResult):
                out += [(m.role, x.text) for x in b.blocks if isinstance(x, Text)]
    return out


def _breakpoints(conv: Conversation) -> list[str]:
    """TTLs of every cache_control in prefix order (tools, system, messages, top level)."""
    ttls = []
    for tool in () if conv.tools is UNSET else conv.tools:
        if "cache_control" in tool:
            ttls.append(tool["cache_control"].get("ttl", "5m"))
    system = conv.system if isinstance(conv.system, tuple) else ()
    for m_blocks in (system, *(m.blocks for m in conv.messages)):
        for b in m_blocks:
            cc = getattr(b, "cache_control", UNSET)
            if cc is not UNSET:
                ttls.append(cc.get("ttl", "5m"))
    if conv.cache_control is not UNSET:
        ttls.append("5m")
    return ttls


def _check_shape(conv: Conversation, profile: Profile) -> None:
    """Everything conversations() promises, checked on the value itself."""
    turns = _non_system(conv)
    assert [m.role for m in turns] == ["user" if i % 2 == 0 else "assistant" for i in range(len(turns))]
    if turns[-1].role == "assistant":
        assert profile.prefill
        assert not turns[-1].text[-1].isspace()
        assert all(isinstance(b, Text) for b in turns[-1].blocks)
    for _, text in _texts_of(conv):
        assert text and not text.isspace()
    seen: set[str] = set()
    for i, m in enumerate(conv.messages):
        assert m.content != () and m.content != ""
        uses = [b.id for b in m.blocks if isinstance(b, ToolUse)]
        assert not seen & set(uses) and len(set(uses)) == len(uses)
        seen.update(uses)
        if uses:
            answer = conv.messages[i + 1]
            assert answer.role == "user"
            blocks = answer.blocks
            n = next((k for k, b in enumerate(blocks) if not isinstance(b, ToolResult)), len(blocks))
            assert sorted(b.tool_use_id for b in blocks[:n]) == sorted(uses)
            assert not any(isinstance(b, ToolResult) for b in blocks[n:])
        if m.role == "user" and (i == 0 or not any(isinstance(b, ToolUse) for b in conv.messages[i - 1].blocks)):
            assert not any(isinstance(b, ToolResult) for b in m.blocks)
        if m.role == "system":
            assert i > 0 and conv.messages[i - 1].role == "user"
            assert i == len(conv.messages) - 1 or conv.messages[i + 1].role == "assistant"
        thinking = [k for k, b in enumerate(m.blocks) if isinstance(b, Thinking | RedactedThinking)]
        if thinking:
            assert m.role == "assistant" and thinking == list(range(len(thinking)))
    ttls = _breakpoints(conv)
    assert len(ttls) <= 4
    assert ttls == sorted(ttls, key=lambda t: t != "1h")  # every 1h before every 5m


# --------------------------------------------------------------------------- texts


class TestTexts:
    @settings(max_examples=FEW)
    @given(cs.texts())
    def test_never_blank_nor_padded(self, text: str) -> None:
        """Generated text is non-empty and neither starts nor ends with whitespace."""
        assert text and text.strip() == text

    @pytest.mark.parametrize(
        ("script", "low", "high"),
        [("CJK", 0x4E00, 0x9FFF), ("Arabic", 0x0621, 0x064A), ("Hebrew", 0x05D0, 0x05EA),
         ("emoji", 0x1F600, 0x1F64F), ("latin", 0x41, 0x7A)],
    )
    def test_covers_scripts(self, script: str, low: int, high: int) -> None:
        """Text in each script the strategy promises is generated."""
        found = find(cs.texts(), lambda s: any(low <= ord(c) <= high for c in s))
        assert any(low <= ord(c) <= high for c in found)

    def test_mixes_scripts_in_one_text(self) -> None:
        """One text can hold latin and CJK words side by side."""
        found = find(cs.texts(), lambda s: any(c.isascii() and c.isalpha() for c in s)
                     and any(0x4E00 <= ord(c) <= 0x9FFF for c in s))
        assert found

    @pytest.mark.parametrize("kwargs", [{"min_words": 0}, {"min_words": 3, "max_words": 2}, {"max_words": "8"}])
    def test_bad_arguments(self, kwargs: dict[str, Any]) -> None:
        """Impossible word counts raise InvalidArgument."""
        with pytest.raises(InvalidArgument):
            cs.texts(**kwargs)


# --------------------------------------------------------------------------- images


class TestImages:
    @settings(max_examples=FEW)
    @given(cs.images(kinds=["png"], max_side=24), st.data())
    def test_png_is_a_whole_decodable_file(self, image: Image, data: st.DataObject) -> None:
        """A PNG decodes completely (CRCs, zlib data, one filter byte and 3 bytes per pixel)."""
        raw = image.decoded()
        assert raw is not None and image.media_type == "image/png"
        width, height, pixels = _png_pixels(raw)
        assert image.size() == (width, height) and max(width, height) <= 24
        assert len(pixels) == height * (1 + 3 * width)
        assert all(pixels[r * (1 + 3 * width)] == 0 for r in range(height))

    @settings(max_examples=FEW)
    @given(cs.images(kinds=["gif"], max_side=24))
    def test_gif_is_a_whole_decodable_file(self, image: Image) -> None:
        """A GIF's LZW data decodes to exactly width x height pixels of colour 0."""
        raw = image.decoded()
        assert raw is not None and image.media_type == "image/gif"
        width, height, pixels = _gif_pixels(raw)
        assert image.size() == (width, height)
        assert pixels == [0] * (width * height)

    @settings(max_examples=FEW)
    @given(cs.images(kinds=["url"]))
    def test_url_images(self, image: Image) -> None:
        """URL images point at https addresses of example hosts."""
        assert isinstance(image.source, URLSource)
        hosts = ("https://example.com/", "https://images.example.org/", "https://cdn.example.net/")
        assert image.source.url.startswith(hosts)

    def test_all_kinds_by_default(self) -> None:
        """The default strategy yields PNG, GIF and URL images."""
        assert find(cs.images(), lambda im: im.media_type == "image/png")
        assert find(cs.images(), lambda im: im.media_type == "image/gif")
        assert find(cs.images(), lambda im: isinstance(im.source, URLSource))

    @pytest.mark.parametrize("kwargs", [{"kinds": []}, {"kinds": ["bmp"]}, {"max_side": 0}, {"max_side": 10_000}])
    def test_bad_arguments(self, kwargs: dict[str, Any]) -> None:
        """Unknown kinds and impossible sizes raise InvalidArgument."""
        with pytest.raises(InvalidArgument):
            cs.images(**kwargs)


# --------------------------------------------------------------------------- conversations

MODELS = sorted(builtin_profiles())


class TestConversations:
    @pytest.mark.parametrize("model", MODELS)
    @settings(max_examples=max(5, settings.default.max_examples // 5))
    @given(data=st.data())
    def test_shape_on_every_model(self, model: str, data: st.DataObject) -> None:
        """On every built-in model the generated conversation has the promised shape."""
        prof = get_profile(model)
        conv = data.draw(cs.conversations(model=model, tools=True, images=True,
                                          mid_system=prof.mid_conversation_system))
        assert conv.model == model
        _check_shape(conv, prof)

    @settings(max_examples=FEW)
    @given(cs.conversations(min_turns=3, max_turns=5))
    def test_turn_bounds(self, conv: Conversation) -> None:
        """The number of user and assistant turns stays within min_turns..max_turns."""
        assert 3 <= len(_non_system(conv)) <= 5

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-opus-4-8"))
    def test_no_prefill_where_the_model_rejects_it(self, conv: Conversation) -> None:
        """A model without prefill always gets a conversation that ends with a user turn."""
        assert conv.messages[-1].role == "user"

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-sonnet-4-5", prefill=True))
    def test_prefill_true_always_ends_with_assistant(self, conv: Conversation) -> None:
        """prefill=True ends with an assistant turn whose text has no trailing whitespace."""
        last = conv.messages[-1]
        assert last.role == "assistant" and last.text == last.text.rstrip()

    def test_prefill_sometimes(self) -> None:
        """By default a prefill-capable model sometimes gets a prefill."""
        found = find(cs.conversations(model="claude-sonnet-4-5"), lambda c: c.messages[-1].role == "assistant")
        assert found.messages[-1].role == "assistant"

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-opus-4-8", mid_system=True, max_turns=5))
    def test_mid_system_present_and_placed(self, conv: Conversation) -> None:
        """mid_system=True puts at least one system message, each right after a user turn."""
        positions = [i for i, m in enumerate(conv.messages) if m.role == "system"]
        assert positions
        for i in positions:
            assert conv.messages[i - 1].role == "user"
            assert i == len(conv.messages) - 1 or conv.messages[i + 1].role == "assistant"

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-sonnet-4-5", thinking=True, tools=True))
    def test_thinking(self, conv: Conversation) -> None:
        """thinking=True sets a mode the model has, with a budget below max_tokens, and no prefill."""
        assert conv.thinking["type"] == "enabled"  # claude-sonnet-4-5 has no adaptive thinking
        assert 1024 <= conv.thinking["budget_tokens"] < conv.max_tokens
        assert conv.messages[-1].role == "user"
        assert conv.tool_choice is UNSET or conv.tool_choice["type"] in ("auto", "none")

    def test_thinking_blocks_carry_signatures(self) -> None:
        """thinking=True puts signed thinking blocks in assistant turns."""
        conv = find(cs.conversations(model="claude-opus-4-8", thinking=True, min_turns=3),
                    lambda c: any(isinstance(b, Thinking) for m in c.messages for b in m.blocks))
        blocks = [b for m in conv.messages for b in m.blocks if isinstance(b, Thinking)]
        assert all(base64.b64decode(b.signature) for b in blocks)
        assert conv.thinking["type"] == "adaptive"

    @settings(max_examples=FEW)
    @given(cs.conversations(system=True))
    def test_system_true(self, conv: Conversation) -> None:
        """system=True always sets a top-level system."""
        assert conv.system is not UNSET

    @settings(max_examples=FEW)
    @given(cs.conversations(system=False, cache_control=True))
    def test_system_false_and_cache_true(self, conv: Conversation) -> None:
        """system=False never sets one; cache_control=True always places 1 to 4 breakpoints."""
        assert conv.system is UNSET
        assert 1 <= len(_breakpoints(conv)) <= 4

    @settings(max_examples=FEW)
    @given(cs.conversations(cache_control=False, tools=True))
    def test_cache_false(self, conv: Conversation) -> None:
        """cache_control=False places no breakpoint."""
        assert _breakpoints(conv) == []

    def test_cache_control_uses_both_ttls(self) -> None:
        """Some conversations mix 1h and 5m breakpoints (1h first)."""
        conv = find(cs.conversations(cache_control=True, system=True, min_turns=3),
                    lambda c: {"1h", "5m"} <= set(_breakpoints(c)))
        assert _breakpoints(conv)[0] == "1h"

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-opus-4-8", api_version="2023-06-01", sampling=True))
    def test_sampling_default_only_model(self, conv: Conversation) -> None:
        """A default-only model gets temperature 1.0, top_p >= 0.99 and never top_k."""
        assert {conv.temperature, conv.top_p} != {UNSET}
        assert conv.temperature in (UNSET, 1.0)
        assert conv.top_p is UNSET or conv.top_p >= 0.99
        assert conv.top_k is UNSET

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-sonnet-4-5", api_version="2023-06-01", sampling=True))
    def test_sampling_any_model(self, conv: Conversation) -> None:
        """A model with any sampling gets values within their ranges."""
        assert conv.temperature is UNSET or 0 <= conv.temperature <= 1
        assert conv.top_p is UNSET or 0 <= conv.top_p <= 1
        assert conv.top_k is UNSET or conv.top_k >= 0

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-sonnet-4-5", api_version="2026-10-21"))
    def test_no_sampling_under_2026(self, conv: Conversation) -> None:
        """Under 2026-10-21 no sampling parameter is ever generated."""
        assert (conv.temperature, conv.top_p, conv.top_k) == (UNSET, UNSET, UNSET)

    def test_tool_pairs_and_images_in_results(self) -> None:
        """tools=True with images=True yields tool pairs whose results may hold images."""
        conv = find(
            cs.conversations(tools=True, images=True, min_turns=3),
            lambda c: any(isinstance(b, ToolResult) and any(isinstance(x, Image) for x in b.blocks)
                          for m in c.messages for b in m.blocks),
        )
        assert any(isinstance(b, ToolUse) for m in conv.messages for b in m.blocks)

    def test_string_and_block_content(self) -> None:
        """Messages come both as plain strings and as block tuples."""
        assert find(cs.conversations(), lambda c: isinstance(c.messages[0].content, str))
        assert find(cs.conversations(), lambda c: isinstance(c.messages[0].content, tuple))

    @settings(max_examples=FEW)
    @given(cs.conversations(model="claude-opus-5", max_turns=3))
    def test_opus_5_disabled_thinking_effort(self, conv: Conversation) -> None:
        """On Opus 5, thinking "disabled" never meets an xhigh or max effort (facts §2.5)."""
        if conv.thinking is not UNSET and conv.thinking["type"] == "disabled":
            effort = conv.output_config["effort"] if conv.output_config is not UNSET else "high"
            assert effort not in get_profile("claude-opus-5").thinking_required_efforts

    def test_custom_profile(self) -> None:
        """A Profile passed in is obeyed: here no prefill and a tiny max output."""
        prof = Profile(model="my-model", prefill=False, max_output=50, thinking_modes=("disabled",))
        conv = find(cs.conversations(profile=prof, max_turns=4), lambda c: True)
        assert conv.model == "my-model" and conv.max_tokens <= 50 and conv.messages[-1].role == "user"

    @pytest.mark.parametrize(
        ("kwargs", "why"),
        [
            ({"min_turns": 3, "max_turns": 2}, "max_turns"),
            ({"min_turns": 0}, "min_turns"),
            ({"model": "claude-sonnet-5", "mid_system": True}, "mid-conversation"),
            ({"model": "claude-opus-4-8", "prefill": True}, "prefill"),
            ({"model": "claude-sonnet-4-5", "prefill": True, "thinking": True}, "thinking"),
            ({"model": "claude-opus-4-8", "min_turns": 2, "max_turns": 2}, "no turn count"),
            ({"sampling": True}, "2026-10-21"),
            ({"api_version": "2024-01-01"}, "api_version"),
            ({"model": ""}, "model"),
            ({"profile": Profile(model="x", thinking_modes=("disabled",)), "thinking": True}, "thinking"),
            ({"system": "yes"}, "system"),
            ({"tools": 1}, "tools"),
        ],
    )
    def test_impossible_arguments(self, kwargs: dict[str, Any], why: str) -> None:
        """Impossible combinations raise InvalidArgument saying what is wrong."""
        with pytest.raises(InvalidArgument, match=why):
            cs.conversations(**kwargs)

    def test_import_convo_does_not_import_hypothesis(self) -> None:
        """``import convo`` leaves Hypothesis unimported (strategies load on demand)."""
        code = "import sys, convo; assert 'hypothesis' not in sys.modules, 'hypothesis imported'"
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_import_without_hypothesis_names_the_extra(self) -> None:
        """Without Hypothesis, ``import convo.strategies`` raises an ImportError naming the extra."""
        code = (
            "import sys\n"
            "sys.modules['hypothesis'] = None  # as if Hypothesis were not installed\n"
            "try:\n"
            "    import convo.strategies\n"
            "except ImportError as exc:\n"
            "    print(exc)\n"
            "else:\n"
            "    raise SystemExit('imported')\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert "pip install 'convo[strategies]'" in done.stdout


# --------------------------------------------------------------------------- responses


class TestResponses:
    @pytest.mark.parametrize("reason", cs.STOP_REASONS)
    def test_every_stop_reason(self, reason: str) -> None:
        """Every documented stop_reason is generated by the default strategy."""
        resp = find(cs.responses(), lambda r: r.stop_reason == reason)
        assert resp.stop_reason == reason

    @settings(max_examples=FEW)
    @given(cs.responses())
    def test_content_fits_the_reason(self, resp: Any) -> None:
        """Each reason comes with the content and fields it implies, and plausible usage."""
        blocks = resp.content
        assert resp.id.startswith("msg_") and resp.type == "message" and resp.role == "assistant"
        assert resp.usage.output_tokens >= 1 and resp.usage.input_tokens >= 0
        details = resp.usage.output_tokens_details
        if details is not UNSET:
            assert details["thinking_tokens"] <= resp.usage.output_tokens
        if resp.stop_reason == "stop_sequence":
            assert isinstance(resp.stop_sequence, str) and resp.stop_sequence
        else:
            assert resp.stop_sequence in (None, UNSET)
        if resp.stop_reason == "tool_use":
            assert isinstance(blocks[-1], ToolUse)
            assert len({b.id for b in blocks if isinstance(b, ToolUse)}) == sum(isinstance(b, ToolUse) for b in blocks)
        if resp.stop_reason == "pause_turn":
            assert any(isinstance(b, ServerToolUse) for b in blocks)
            assert resp.usage.server_tool_use["web_search_requests"] >= 1
        if resp.stop_reason == "refusal":
            assert resp.stop_details.type == "refusal"
            assert resp.stop_details.category in (*cs.REFUSAL_CATEGORIES, None)
        else:
            assert resp.stop_details in (None, UNSET)
        if resp.usage.cache_creation is not UNSET:
            cc = resp.usage.cache_creation
            total = cc["ephemeral_5m_input_tokens"] + cc["ephemeral_1h_input_tokens"]
            assert total == resp.usage.cache_creation_input_tokens

    def test_refusal_categories_and_null(self) -> None:
        """Refusals name a category, or null, and carry an explanation or null."""
        assert find(cs.responses(stop_reasons=["refusal"]), lambda r: r.stop_details.category is None)
        for category in cs.REFUSAL_CATEGORIES:
            assert find(cs.responses(stop_reasons=["refusal"]), lambda r, c=category: r.stop_details.category == c)

    @settings(max_examples=FEW)
    @given(cs.responses(stop_reasons=["end_turn", "a_future_reason"], model="claude-sonnet-5", thinking=True))
    def test_restricted_reasons_and_thinking(self, resp: Any) -> None:
        """stop_reasons restricts the reasons (open values allowed); thinking=True leads with thinking."""
        assert resp.stop_reason in ("end_turn", "a_future_reason") and resp.model == "claude-sonnet-5"
        assert isinstance(resp.content[0], Thinking | RedactedThinking)

    def test_end_turn_may_be_empty(self) -> None:
        """end_turn sometimes comes with no content at all (facts §4)."""
        assert find(cs.responses(stop_reasons=["end_turn"], thinking=False), lambda r: r.content == ())

    @pytest.mark.parametrize("kwargs", [{"stop_reasons": []}, {"stop_reasons": "end_turn"},
                                        {"stop_reasons": [""]}, {"model": ""}, {"thinking": 1}])
    def test_bad_arguments(self, kwargs: dict[str, Any]) -> None:
        """Empty or malformed arguments raise InvalidArgument."""
        with pytest.raises(InvalidArgument):
            cs.responses(**kwargs)


# --------------------------------------------------------------------------- invalid conversations


class TestInvalidConversations:
    def test_rule_ids_sorted_and_unique(self) -> None:
        """rule_ids() is a sorted tuple without repeats."""
        ids = cs.rule_ids()
        assert list(ids) == sorted(set(ids))

    def test_unknown_rule_lists_known_ids(self) -> None:
        """An unknown rule id raises InvalidArgument that lists the known ids."""
        with pytest.raises(InvalidArgument, match=r"known rules: .*prefill\.unsupported"):
            cs.invalid_conversations(rule="prefill.sometimes")

    @pytest.mark.parametrize(
        ("kwargs", "why"),
        [
            ({"rule": "prefill.unsupported", "model": "claude-sonnet-4-5"}, "model without prefill"),
            ({"rule": "prefill.trailing-whitespace", "model": "claude-opus-4-8"}, "accepts prefill"),
            ({"rule": "system-message.first", "model": "claude-sonnet-5"}, "mid-conversation"),
            ({"rule": "sampling.removed", "api_version": "2023-06-01"}, "2026-10-21"),
            ({"rule": "sampling.range", "api_version": "2026-10-21"}, "2023-06-01"),
            ({"rule": "thinking.budget", "model": "claude-opus-4-8"}, "budget"),
            ({"rule": "text.empty", "api_version": "1999-01-01"}, "api_version"),
        ],
    )
    def test_impossible_model_or_version(self, kwargs: dict[str, Any], why: str) -> None:
        """A model or API version that cannot show the rule raises InvalidArgument."""
        with pytest.raises(InvalidArgument, match=why):
            cs.invalid_conversations(**kwargs)

    @pytest.mark.parametrize(
        ("rule", "model"),
        [("text.empty", "claude-opus-4-8"), ("prefill.trailing-whitespace", "claude-sonnet-4-5"),
         ("system-message.unsupported-model", "claude-sonnet-4-5"), ("sampling.range", "claude-sonnet-4-5")],
    )
    def test_default_model(self, rule: str, model: str) -> None:
        """The default model is claude-opus-4-8 unless the rule needs another one."""
        conv = find(cs.invalid_conversations(rule=rule), lambda c: True)
        assert conv.model == model

    @settings(max_examples=FEW)
    @given(cs.invalid_conversations(rule="prefill.trailing-whitespace"))
    def test_trailing_whitespace_prefill(self, conv: Conversation) -> None:
        """The broken prefill ends in whitespace but is not whitespace only."""
        text = conv.messages[-1].text
        assert conv.messages[-1].role == "assistant" and text[-1].isspace() and text.strip()

    @settings(max_examples=5)
    @given(cs.invalid_conversations(rule="messages.too-many"))
    def test_too_many_messages(self, conv: Conversation) -> None:
        """messages.too-many goes just over 100,000 alternating messages."""
        assert 100_000 < len(conv.messages) <= 100_010
        assert conv.messages[0].role == "user" and conv.messages[-1].role == "user"

    @settings(max_examples=FEW)
    @given(cs.invalid_conversations(rule="image.media-type"))
    def test_media_type_lies(self, conv: Conversation) -> None:
        """The broken image declares a type that is not what its bytes are."""
        lies = [b for m in conv.messages for b in m.blocks if isinstance(b, Image)
                and isinstance(b.source, Base64Source)
                and b.source.media_type != Image.from_bytes(b.decoded() or b"").media_type]
        assert len(lies) == 1

    @settings(max_examples=FEW)
    @given(cs.invalid_conversations(rule="image.too-large"))
    def test_too_large_image(self, conv: Conversation) -> None:
        """The oversized image is a real PNG whose base64 is just over the model's limit."""
        prof = get_profile(conv.model)
        big = [b for m in conv.messages for b in m.blocks if isinstance(b, Image)
               and isinstance(b.source, Base64Source) and len(b.source.data) > prof.max_image_bytes]
        assert len(big) == 1 and isinstance(big[0].source, Base64Source)
        assert len(big[0].source.data) <= prof.max_image_bytes + 4
        assert big[0].size() == (2, 2) and big[0].source.media_type == "image/png"

    @settings(max_examples=FEW)
    @given(cs.invalid_conversations(rule="cache-control.ttl-order"))
    def test_ttl_order(self, conv: Conversation) -> None:
        """A 5m breakpoint precedes a 1h one, with four breakpoints at most."""
        ttls = _breakpoints(conv)
        assert len(ttls) <= 4 and "1h" in ttls[ttls.index("5m"):]

    @settings(max_examples=FEW)
    @given(cs.invalid_conversations(rule="citations.in-user"))
    def test_citations_in_user(self, conv: Conversation) -> None:
        """A cited text sits in a user turn: directly, in a search_result or in a tool_result."""
        def cited(blocks: tuple[Any, ...]) -> bool:
            for b in blocks:
                if isinstance(b, Text) and b.citations:
                    return True
                if isinstance(b, SearchResult) and cited(b.content):
                    return True
                if isinstance(b, ToolResult) and cited(b.blocks):
                    return True
            return False
        assert any(m.role == "user" and cited(m.blocks) for m in conv.messages)

    @settings(max_examples=FEW)
    @given(cs.invalid_conversations(rule="document.in-assistant"))
    def test_document_in_assistant(self, conv: Conversation) -> None:
        """A document sits in a non-final assistant turn."""
        where = [i for i, m in enumerate(conv.messages) if any(isinstance(b, Document) for b in m.blocks)]
        assert where and all(conv.messages[i].role == "assistant" and i < len(conv.messages) - 1 for i in where)

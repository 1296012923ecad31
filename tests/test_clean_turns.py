"""``validate`` on parsed turns: :func:`convo.rules._turns.clean_turns` (in C and in Python) says
when the turns of a lazily decoded request need neither the message pass nor the closed world's
walk of ``messages``, so that ``validate`` never builds them.

The predicate only chooses a path: the report must be the same whichever path runs. So every
test here compares ``validate`` with the predicate in use against ``validate`` with it forced to
answer False (the full pass on built messages, as before), on realworld requests, on generated
plain conversations and on the same with one or two things broken; and the C predicate against
the Python one, on those and on any JSON at all.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
import convo.rules as R
from convo.errors import DecodeError
from convo.model import LAZY_BITS, is_built, lazy_turns
from convo.rules import _looks_fine, _turns
from convo.rules._schema import load_schema, parsed_content_ok
from tests._helpers_cli import realworld_requests
from tests._helpers_leaks import memory_kept

speedups = pytest.importorskip("convo._speedups", reason="the C part is not built here (no C compiler at install)")

# (profile, api_version, betas): the message rules depend on the model and the API version
SETTINGS = [
    ("claude-opus-4-8", "2026-10-21", ()),
    ("claude-sonnet-4-5", "2023-06-01", ()),
    ("claude-haiku-4-5", "2023-06-01", ("context-management-2025-06-27",)),
]


def reports(conv_bytes: bytes) -> list[tuple[Any, Any]]:
    """(fast report, full report) for each of SETTINGS, each on a fresh lazy value."""
    out = []
    for profile, version, betas in SETTINGS:
        fast = R.validate(convo.loads(conv_bytes), profile=profile, api_version=version, betas=betas)
        was = R.clean_turns, R._plain_verdict
        R.clean_turns = lambda turns, masks: False  # the full pass on built messages
        R._plain_verdict = lambda conv, prof, version: False
        try:
            full = R.validate(convo.loads(conv_bytes), profile=profile, api_version=version, betas=betas)
        finally:
            R.clean_turns, R._plain_verdict = was
        out.append((fast, full))
    return out


def verdicts(conv_bytes: bytes) -> Any:
    """The predicate's verdict on the request's parsed turns (None: not kept parsed); the C and
    Python predicates must agree."""
    turns = lazy_turns(convo.loads(conv_bytes))
    if turns is None:
        return None
    c = speedups.clean_turns(*turns)
    assert c == _turns.clean_turns_py(*turns)
    return c


def check(conv_bytes: bytes) -> Any:
    """The predicate's verdict, with both paths giving the same reports (None also when the
    bytes do not decode: nothing to validate)."""
    try:
        convo.loads(conv_bytes)
    except DecodeError:
        return None
    verdict = verdicts(conv_bytes)
    for fast, full in reports(conv_bytes):
        assert fast == full
        assert [(v.rule, v.path, v.message, v.hint) for v in fast.violations] == [
            (v.rule, v.path, v.message, v.hint) for v in full.violations]
    if verdict:  # and then the closed world's verdict on each parsed content is "fine" too
        turns, _ = lazy_turns(convo.loads(conv_bytes))  # type: ignore[misc]
        with_images = {at[0] for at in verdict} if isinstance(verdict, list) else set()
        assert all(type(d["content"]) is str or parsed_content_ok(d["content"])
                   for i, d in enumerate(turns) if i not in with_images)
        # judging only the blocks to look at (what validate does) is judging their messages whole
        if with_images:
            assert _looks_fine((turns, None), verdict, "create") == all(
                parsed_content_ok(turns[i]["content"]) for i in with_images)
    return verdict


# --------------------------------------------------------------------------- plain conversations


PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


def _tool_id(n: int) -> str:
    return f"toolu_{n:04d}"


@st.composite
def plain_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request the predicate should judge clean: user and assistant in turn, non-blank text,
    thinking, tool calls answered by the next turn (string or text-block results)."""
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12).filter(
        lambda s: not s.isspace() and not s[-1].isspace())
    turns = draw(st.integers(1, 7))
    image = st.sampled_from([
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},  # (wrong type)
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
    ])
    messages: list[dict[str, Any]] = []
    asked: list[str] = []
    next_id = 0
    for i in range(turns):
        if i % 2 == 0:  # user
            blocks: list[dict[str, Any]] = []
            for tid in asked:
                result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tid}
                kind = draw(st.sampled_from(["none", "str", "blocks"]))
                if kind == "str":
                    result["content"] = draw(text)
                elif kind == "blocks":
                    result["content"] = [{"type": "text", "text": draw(text)}]
                    if draw(st.integers(0, 3)) == 0:
                        result["content"].append(copy.deepcopy(draw(image)))
                if draw(st.booleans()):
                    result["is_error"] = draw(st.booleans())
                blocks.append(result)
            asked = []
            if not blocks or draw(st.booleans()):
                blocks.append({"type": "text", "text": draw(text)})
            if draw(st.integers(0, 3)) == 0:
                blocks.append(copy.deepcopy(draw(image)))
            content: Any = blocks if len(blocks) > 1 or draw(st.booleans()) else blocks[0].get("text", blocks)
            messages.append({"role": "user", "content": content})
        else:
            blocks = []
            if draw(st.booleans()):
                blocks.append({"type": "thinking", "thinking": draw(text), "signature": "sig"})
            if draw(st.booleans()):
                blocks.append({"type": "redacted_thinking", "data": "abc"})
            blocks.append({"type": "text", "text": draw(text)})
            if i < turns - 1:
                for _ in range(draw(st.integers(0, 2))):
                    next_id += 1
                    asked.append(_tool_id(next_id))
                    blocks.append({"type": "tool_use", "id": _tool_id(next_id), "name": "f",
                                   "input": {"q": draw(text)}})
            messages.append({"role": "assistant", "content": blocks})
    req: dict[str, Any] = {"model": "claude-opus-4-8", "max_tokens": 64, "messages": messages}
    if draw(st.booleans()):
        req["system"] = draw(text)
    return req


def _blocks(req: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for msg in req["messages"]:
        if isinstance(msg["content"], list):
            yield from msg["content"]


def _first(req: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((b for b in _blocks(req) if b.get("type") == kind), None)


def _break(req: dict[str, Any], how: str, data: st.DataObject) -> None:
    """Break *req* in place in one of the ways the predicate must notice (or not mind)."""
    msgs = req["messages"]
    i = data.draw(st.integers(0, len(msgs) - 1))
    msg = msgs[i]
    text = _first(req, "text")
    if how == "blank":
        msg["content"] = data.draw(st.sampled_from(["", " ", "\n\t", "\u3000"]))
    elif how == "blank_block" and text is not None:
        text["text"] = data.draw(st.sampled_from(["", " ", "\u2003"]))
    elif how == "trailing":
        last = msgs[-1]
        if isinstance(last["content"], str):
            last["content"] += " "
        elif (last["content"] and last["content"][-1].get("type") == "text"
              and isinstance(last["content"][-1].get("text"), str)):  # (another break may have set it to anything)
            last["content"][-1]["text"] += "\n"
    elif how == "role":
        msg["role"] = data.draw(st.sampled_from(["system", "assistant", "user", "tool", "User"]))
    elif how == "swap":
        msgs.reverse()
    elif how == "drop":
        del msgs[i]
    elif how == "extra_key":
        target = data.draw(st.sampled_from(list(_blocks(req)) or [msg]))
        target[data.draw(st.sampled_from(["cache_control", "citations", "caller", "x_meta", "signature"]))] = (
            data.draw(st.sampled_from([None, {"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}, [], 1])))
    elif how == "image":
        if isinstance(msg["content"], list):
            msg["content"].append({"type": "image", "source": {"type": "url", "url": "https://x/a.png"}})
    elif how == "dup_id":
        uses = [b for b in _blocks(req) if b.get("type") == "tool_use"]
        if len(uses) >= 2:
            uses[1]["id"] = uses[0]["id"]
    elif how == "orphan":
        res = _first(req, "tool_result")
        if res is not None:
            res["tool_use_id"] = "toolu_nobody"
    elif how == "unanswered":
        res = _first(req, "tool_result")
        if res is not None:
            res["type"] = "text"
            res["text"] = "no answer"
            del res["tool_use_id"]
            res.pop("content", None)
            res.pop("is_error", None)
    elif how == "result_after_text":
        for m in msgs:
            c = m["content"]
            if isinstance(c, list) and c and c[0].get("type") == "tool_result":
                c.insert(0, {"type": "text", "text": "first"})
                break
    elif how == "values":
        target = data.draw(st.sampled_from(list(_blocks(req)) or [msg]))
        key = data.draw(st.sampled_from(sorted(target)))
        target[key] = data.draw(st.sampled_from([None, 1, 1.5, True, [], {}, "", " ", [{"type": "text", "text": ""}]]))
    elif how == "final_assistant":
        msgs.append({"role": "assistant", "content": data.draw(st.sampled_from(
            ["Sure", "", " ", [{"type": "text", "text": "ok"}], [{"type": "thinking", "thinking": "t", "signature": "s"}]]))})
    elif how == "cache":  # breakpoints here and there, with TTLs in any order (counted across the request)
        spots: list[dict[str, Any]] = list(_blocks(req))
        spots += [x for b in list(spots) if b.get("type") == "tool_result" and isinstance(b.get("content"), list)
                  for x in b["content"]]
        spots = [b for b in spots if b.get("type") in ("text", "image", "tool_use", "tool_result")]
        if spots:
            for b in data.draw(st.lists(st.sampled_from(spots), min_size=1, max_size=6)):
                b["cache_control"] = data.draw(st.sampled_from(
                    [{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}, {"type": "ephemeral", "ttl": "5m"},
                     None]))
        if data.draw(st.booleans()):
            req["system"] = [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": data.draw(
                st.sampled_from(["5m", "1h"]))}}]
    elif how == "document":
        msg["content"] = [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}]


def break_all(req: dict[str, Any], breaks: list[str], data: st.DataObject) -> None:
    """:func:`_break` *req* in each way of *breaks* in turn (while it has turns)."""
    for how in breaks:
        if req["messages"]:
            _break(req, how, data)


BREAKS = ["blank", "blank_block", "trailing", "role", "swap", "drop", "extra_key", "image", "dup_id", "orphan",
          "unanswered", "result_after_text", "values", "final_assistant", "document", "cache", "cache"]


class TestSamePath:
    @settings(max_examples=150, deadline=None)
    @given(plain_requests())
    def test_plain_requests_are_clean_and_reported_alike(self, req: dict[str, Any]) -> None:
        verdict = check(orjson.dumps(req))
        assert verdict is True or (isinstance(verdict, list) and verdict)

    @settings(max_examples=300, deadline=None)
    @given(plain_requests(), st.lists(st.sampled_from(BREAKS), min_size=1, max_size=2), st.data())
    def test_broken_requests_are_reported_alike(self, req: dict[str, Any], breaks: list[str],
                                                data: st.DataObject) -> None:
        break_all(req, breaks, data)
        check(orjson.dumps(req))

    def test_realworld_requests(self) -> None:
        judged: dict[Any, int] = {True: 0, False: 0, None: 0, "images": 0}
        for raw in realworld_requests():
            verdict = check(raw)
            judged["images" if isinstance(verdict, list) else verdict] += 1
        # every path ran (on 2026-12-07: 267 clean, 12 not, a few clean but for their images)
        assert judged[True] >= 200 and judged[False] >= 5 and judged["images"] >= 1, judged

    def test_fixtures(self) -> None:
        from pathlib import Path
        lines = (Path(__file__).parent.parent / "fixtures" / "transcripts.jsonl").read_bytes().splitlines()
        got = [check(raw) for raw in lines[:80]]  # (a few lines are broken on purpose: None)
        assert got.count(True) >= 20, got


class TestBreakpoints:
    """Cache breakpoints in clean turns: the predicate lists where they are, in the order the
    message pass meets them, and validate counts them there (after the tools' and the system's)."""

    def _request(self, ttls: list[str | None]) -> bytes:
        def cc(n: int) -> dict[str, Any]:
            ttl = ttls[n]
            return {} if ttl is None else {"cache_control": {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}}
        return orjson.dumps({
            "model": "claude-opus-4-8", "max_tokens": 64,
            "tools": [{"name": "f", "input_schema": {"type": "object"}, **cc(0)}],
            "system": [{"type": "text", "text": "Be brief.", **cc(1)}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Go", **cc(2)}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}, **cc(3)}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                              "content": [{"type": "text", "text": "42", **cc(4)}], **cc(5)}]}]})

    def test_positions_in_order(self) -> None:
        raw = self._request([None, None, "", "", "", ""])  # (keys in the order convo writes: kept parsed)
        assert verdicts(raw) == [(0, 0, -1), (1, 0, -1), (2, 0, 0), (2, 0, -1)]  # inner before its result

    def test_turns_stay_parsed(self) -> None:
        conv = convo.loads(self._request([None, None, "1h", None, None, "5m"]))
        assert R.validate(conv).ok
        assert lazy_turns(conv) is not None  # only the blocks looked at were built, apart

    def test_too_many(self) -> None:
        fast, full = reports(self._request(["", "", "", "", "", ""]))[0]
        assert fast == full and [(v.rule, v.path) for v in fast.violations] == [
            ("cache-control.too-many", "$.messages[2].content[0].content[0]")]

    def test_ttl_order(self) -> None:
        fast, full = reports(self._request([None, "5m", None, "1h", None, None]))[0]
        assert fast == full and [(v.rule, v.path) for v in fast.violations] == [
            ("cache-control.ttl-order", "$.messages[1].content[0]")]

    def test_null_is_no_breakpoint(self) -> None:
        raw = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 8, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": None}]}]})
        assert check(raw) is not None
        fast, full = reports(raw)[0]
        assert fast == full


class TestReproducer:
    def test_validate_leaves_clean_turns_parsed(self) -> None:
        # before: validate built every message and block of every line it checked
        raw = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 64, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Look it up"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]}]})
        conv = convo.loads(raw)
        assert R.validate(conv).ok
        assert lazy_turns(conv) is not None  # the turns are still parsed: never built

    def test_a_violation_still_builds_and_reports(self) -> None:
        conv = convo.loads(orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 64, "messages": [
            {"role": "user", "content": [{"type": "text", "text": " "}]}]}))
        assert R.validate(conv).rules == ("text.whitespace-only",)
        assert all(is_built(m) for m in conv.messages)

    def test_final_assistant_keeps_the_prefill_rules(self) -> None:
        raw = orjson.dumps({"model": "claude-sonnet-4-5", "max_tokens": 64, "thinking": {"type": "enabled",
                            "budget_tokens": 1024}, "messages": [
            {"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"type": "text", "text": "The"}]}]})
        assert verdicts(raw) is True
        fast, full = reports(raw)[1]
        assert "prefill.with-thinking" in fast.rules and fast == full


class TestPredicate:
    def test_block_keys_are_ga_keys_of_their_type(self) -> None:
        union = load_schema().roots["create"].keys["messages"].array.obj.keys["content"].array.union
        for tag, keys in _turns.BLOCK_KEYS.items():
            obj = union.tags[tag]
            assert keys <= set(obj.keys) and not keys & set(obj.beta), tag
            assert set(obj.required) <= keys, tag  # (the lazy check makes sure they are there)

    def test_images_are_left_to_their_rules(self) -> None:
        img = {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
        turns = [{"role": "user", "content": "Go"},
                 {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                               "content": [{"type": "text", "text": "a"}, img]}, img]}]
        masks = [0, LAZY_BITS["tool_use"], LAZY_BITS["tool_result"] | LAZY_BITS["text"] | LAZY_BITS["image"]]
        assert speedups.clean_turns(turns, masks) == _turns.clean_turns_py(turns, masks) == [(2, 0, 1), (2, 1, -1)]
        turns[1]["content"].append(img)  # an image in an assistant turn: not judged here
        assert speedups.clean_turns(turns, masks) is False

    def test_image_rules_run_on_the_fast_path(self) -> None:
        raw = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 8, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is it?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}}]}]})
        assert isinstance(verdicts(raw), list)
        fast, full = reports(raw)[0]
        assert fast.rules == ("image.media-type",) and fast == full

    @pytest.mark.parametrize(("img", "fine"), [
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}, True),
        ({"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}, True),
        ({"type": "image", "source": {"type": "url", "url": "https://x/a.png"}, "cache_control": {"type": "ephemeral"}},
         True),
        # the lazy check takes these; the closed world does not (an unknown key; an unknown tag; a
        # source of a beta (the Files API))
        ({"type": "image", "source": {"type": "url", "url": "https://x/a.png"},
          "cache_control": {"type": "ephemeral", "x": 1}}, False),
        ({"type": "image", "source": {"type": "url", "url": "https://x/a.png"}, "cache_control": {"type": "nope"}},
         False),
        ({"type": "image", "source": {"type": "file", "file_id": "file_1"}}, False),
    ])
    @pytest.mark.parametrize("inside", [False, True])
    def test_only_the_blocks_to_look_at_are_judged(self, img: dict[str, Any], fine: bool, inside: bool) -> None:
        """validate's closed-world look at a message with images judges those blocks only (the
        predicate judged the rest), and finds what judging the whole message finds, in the same
        reports as the full pass."""
        text = {"type": "text", "text": "See"}
        if inside:  # in a tool result, with a breakpoint on the result
            ask = {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
            msgs = [{"role": "user", "content": "Go"}, ask, {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [text, img], "cache_control": {"type": "ephemeral"}},
                text]}]
        else:
            msgs = [{"role": "user", "content": [text, img, text, img]}]
        raw = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 8, "messages": msgs})
        verdict = verdicts(raw)
        assert isinstance(verdict, list) and len(verdict) >= 2
        turns, _ = lazy_turns(convo.loads(raw))  # type: ignore[misc]
        assert _looks_fine((turns, None), verdict, "create") is fine
        assert all(parsed_content_ok(turns[i]["content"]) for i, _, _ in verdict) is fine
        check(raw)

    def test_in_use(self) -> None:
        import os
        expected = _turns.clean_turns_py if os.environ.get("CONVO_PURE_PYTHON") else speedups.clean_turns
        assert _turns.clean_turns is expected

    def test_no_leak(self) -> None:
        img = {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
        cases = [
            ([{"role": "user", "content": "Go"},
              {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [img]}, img]}],
             [0, 4, 10]),
            ([{"role": "user", "content": "Go"}, {"role": "user", "content": "again"}], [0, 0]),  # False
            ([{"role": "user", "content": [img]}, {"role": "assistant", "content": [img]}], [2, 2]),  # False, images met
        ]

        def work() -> None:
            for _ in range(2000):
                for turns, masks in cases:
                    speedups.clean_turns(turns, masks)

        grown = memory_kept(work, 10)
        assert grown < 64 * 1024, grown

    def test_bad_calls(self) -> None:
        with pytest.raises(TypeError):
            speedups.clean_turns([])  # type: ignore[call-arg]
        assert speedups.clean_turns((), []) is False
        assert speedups.clean_turns([{"role": "user", "content": "hi"}], [0, 0]) is False

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.sampled_from(
            ["user", "assistant", "text", "tool_use", "tool_result", "thinking", " ", "t1"]),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
            ["role", "content", "type", "text", "id", "name", "input", "tool_use_id", "is_error", "thinking",
             "signature", "data", "x"]), inner, max_size=5),
        max_leaves=25), max_size=5), st.lists(st.integers(-3, 2**70) | st.booleans() | st.none(), max_size=5))
    def test_fuzz_any_json_same_verdict(self, turns: list[Any], masks: list[Any]) -> None:
        masks = (masks + [0] * len(turns))[: len(turns)]
        before = copy.deepcopy(turns)
        assert speedups.clean_turns(turns, masks) == _turns.clean_turns_py(turns, masks)
        assert turns == before  # read only


class TestToolsRemembered:
    """``_check_request`` remembers a tools value it found clean by identity (lines with the same
    tools share one tuple): the reports must be those of a tools value seen for the first time."""

    TOOLS = ({"name": "get_weather", "input_schema": {"type": "object"}},
             {"name": "get_time", "input_schema": {"type": "object"}})

    remembered = False

    def _reports(self, tools: Any, **extra: Any) -> list[Any]:
        from convo.rules import _request
        body = {"model": "claude-opus-4-8", "max_tokens": 64, "tools": list(tools),
                "messages": [{"role": "user", "content": "Hi"}], **extra}
        _request._TOOLS_SEEN.clear()
        was = R._plain_verdict
        R._plain_verdict = lambda conv, prof, version: False  # (the rules run: a plain request would skip them)
        try:
            first = convo.loads(orjson.dumps(body))
            out = [R.validate(first)]
            for _ in range(3):  # the same tuple again (the codec shares equal tools between lines)
                conv = convo.loads(orjson.dumps(body))
                assert conv.tools is first.tools
                out.append(R.validate(conv))
        finally:
            R._plain_verdict = was
        self.remembered = id(first.tools) in _request._TOOLS_SEEN
        return out

    def test_clean_tools_with_a_forced_choice(self) -> None:
        got = self._reports(self.TOOLS, tool_choice={"type": "tool", "name": "get_time"})
        assert all(r.ok for r in got) and self.remembered
        got = self._reports(self.TOOLS, tool_choice={"type": "tool", "name": "nope"})
        assert all(r.rules == ("tool-choice.unknown-tool",) for r in got)
        assert len({r.violations[0].message for r in got}) == 1

    def test_tools_with_findings_are_reported_every_time(self) -> None:
        bad = [*self.TOOLS, {"name": "get_time", "input_schema": {"type": "object"}}, {"name": "a b",
               "input_schema": {"type": "object"}}]
        got = self._reports(bad)
        assert all(r.rules == ("tools.duplicate-name", "tools.name") for r in got) and not self.remembered

    def test_breakpoints_are_counted_every_time(self) -> None:
        cc = {"type": "ephemeral"}
        tools = [{**t, "cache_control": cc} for t in self.TOOLS]
        tools = [*tools, {"name": "x1", "input_schema": {"type": "object"}, "cache_control": cc},
                 {"name": "x2", "input_schema": {"type": "object"}, "cache_control": cc}]
        got = self._reports(tools, system=[{"type": "text", "text": "s", "cache_control": cc}])
        assert all(r.rules == ("cache-control.too-many",) for r in got) and not self.remembered


class TestBase64Check:
    """The image and document rules' base64 check takes canonical base64 without decoding it:
    it must answer exactly what strict decoding answers (which takes a few odd forms too)."""

    @staticmethod
    def strict(data: str) -> bool:
        import binascii
        try:
            binascii.a2b_base64(data, strict_mode=True)
        except (binascii.Error, ValueError):
            return False
        return True

    @settings(max_examples=3000, deadline=None)
    @given(st.text(alphabet=st.sampled_from("AQgw+/=\n -_é\x00"), max_size=14) | st.binary(max_size=40).map(
        lambda b: base64.b64encode(b).decode()))
    def test_same_as_strict_decoding(self, data: str) -> None:
        from convo.rules._pass import _valid_base64
        assert _valid_base64(data) == self.strict(data)

    def test_odd_forms(self) -> None:
        from convo.rules._pass import _valid_base64
        for data in ["", "QQ==", "QUI=", "QUJD", "QR==", "+BAx=", "QQ=", "Q===", "=QUJ", "QU=J", "QUJD\n", "QUJDé"]:
            assert _valid_base64(data) == self.strict(data), data

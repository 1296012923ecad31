"""``drop_images()`` on turns not built: the C edit (``convo/_speedups.c``: ``drop_images``)
against the Python it stands for (:func:`convo.transforms.transcript.drop_images_turns_py`), and
the counts the command reports from it.

The C function is an optimisation only: on any input the two give the same result (the same
turns, masks, images and empty turns, or None), change nothing they are given, and never leak.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import convo
from convo import strategies as cs
from convo import transforms as t
from convo.codec.lines import detect_kind
from convo.model import LAZY_BITS, lazy_turns
from convo.transforms import transcript
from convo.transforms.transcript import drop_images_turns_py
from tests._helpers_cli import realworld_lines
from tests._helpers_leaks import memory_kept

speedups = pytest.importorskip("convo._speedups", reason="the C part is not built here (no C compiler at install)")

IMAGE, TEXT = LAZY_BITS["image"], LAZY_BITS["text"]
IMG = {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
PLACEHOLDER = {"type": "text", "text": "[img]"}


def both(turns: list[Any], masks: list[Any], placeholder: Any, paths: bool) -> Any:
    """The C result, after checking it is the Python one and that neither changed its input."""
    before = copy.deepcopy((turns, masks))
    got = speedups.drop_images(turns, masks, IMAGE, 0 if placeholder is None else TEXT, placeholder, paths)
    assert (turns, masks) == before
    expected = drop_images_turns_py(turns, masks, IMAGE, 0 if placeholder is None else TEXT, placeholder, paths)
    assert (turns, masks) == before
    assert got == expected
    if got is not None:  # the same objects where a turn is kept as it was, new ones where edited
        assert [a is b for a, b in zip(got[0], turns, strict=True)] == [
            a is b for a, b in zip(expected[0], turns, strict=True)]
    return got


def turns_of(data: bytes) -> tuple[list[Any], list[int]] | None:
    return lazy_turns(convo.loads(data))


_BLOCK = st.one_of(
    st.just(IMG),
    st.just({"type": "text", "text": "a"}),
    st.just({"type": "tool_result", "tool_use_id": "t", "content": [IMG]}),
    st.just({"type": "tool_result", "tool_use_id": "t", "content": "s"}),
    st.just({"type": "tool_result", "tool_use_id": "t"}),
    st.just({"type": "thinking", "thinking": "h", "signature": "s"}),
    st.just({"text": "no type"}),
    st.just({"type": 3}),
    st.just("not a dict"),
)
_TURN = st.one_of(
    st.builds(lambda role, blocks: {"role": role, "content": blocks}, st.sampled_from(["user", "assistant"]),
              st.lists(_BLOCK, max_size=5)),
    st.builds(lambda blocks: {"content": blocks}, st.lists(_BLOCK, max_size=3)),  # no role
    st.just({"role": "user", "content": "a string"}),
    st.just({"role": "user"}),
    st.just(["not", "a", "dict"]),
)


class TestCAgreesWithPython:
    @given(st.lists(st.tuples(_TURN, st.integers(0, 63)), max_size=6), st.sampled_from([None, PLACEHOLDER]),
           st.booleans())
    @settings(max_examples=400, deadline=None)
    @example([({"role": "user", "content": [IMG, IMG]}, 2), ({"role": "user", "content": [IMG]}, 3)], None, True)
    def test_any_turns(self, turns: list[tuple[Any, int]], placeholder: Any, paths: bool) -> None:
        """Turns of any shape (a mask may claim an image where there is none, or not claim one
        that is there: the bits decide which turns are looked at)."""
        both([d for d, _ in turns], [mask for _, mask in turns], placeholder, paths)

    @given(cs.conversations(), st.sampled_from([None, PLACEHOLDER]), st.booleans())
    @settings(max_examples=150, deadline=None)
    def test_generated_conversations(self, conv: convo.Conversation, placeholder: Any, paths: bool) -> None:
        pending = turns_of(convo.dumps(conv))
        if pending is not None:
            both(*pending, placeholder, paths)

    def test_realworld_lines(self) -> None:
        """Every realworld request whose turns stay parsed, with and without a placeholder."""
        seen = 0
        for line in realworld_lines():
            d = orjson.loads(line)
            req = d if detect_kind(d) == "request" else d.get("params", d.get("request"))
            if not isinstance(req, dict):
                continue
            pending = turns_of(orjson.dumps(req))
            if pending is None:
                continue
            seen += 1
            for placeholder in (None, PLACEHOLDER):
                both(*pending, placeholder, True)
                both(*pending, placeholder, False)
        assert seen > 20

    def test_what_it_returns(self) -> None:
        """An image-only turn is reported empty and left as it was; a kept turn gets a new mask;
        a tool result with blocks in a turn with an image hands the request back (None)."""
        text = {"type": "text", "text": "See"}
        turns = [{"role": "user", "content": [text, IMG]}, {"role": "assistant", "content": "ok"},
                 {"role": "user", "content": [IMG, IMG]}]
        out, masks, said, empty = both(turns, [3, 0, 2], None, True)
        assert out[0] == {"role": "user", "content": [text]} and out[1] is turns[1] and out[2] is turns[2]
        assert (masks, said, empty) == ([1, 0, 2], [(0, 1), (2, 0), (2, 1)], [2])
        out, masks, said, empty = both(turns, [3, 0, 2], PLACEHOLDER, False)
        assert out[2] == {"role": "user", "content": [PLACEHOLDER, PLACEHOLDER]} and out[2]["content"][0] is PLACEHOLDER
        assert (masks, said, empty) == ([1, 0, 1], 3, [])
        assert both([{"role": "user", "content": [IMG, {"type": "tool_result", "tool_use_id": "t", "content": []}]}],
                    [2], None, True) is None
        assert both(turns, [3, 0, 0], None, True)[0][2] is turns[2]  # (the mask decides)

    @pytest.mark.parametrize(("args", "error"), [
        (((), [], 2, 0, None, True), "lists of one length"),
        (([], [1], 2, 0, None, True), "lists of one length"),
        (([], [], 2, 0, "[img]", True), "placeholder a dict or None"),
        (([{"role": "user", "content": [IMG]}], ["2"], 2, 0, None, True), "cannot be interpreted as an integer"),
        (([], [], "2", 0, None, True), "cannot be interpreted as an integer"),
        (([], [], 2, 0, None), "six arguments"),
    ])
    def test_bad_calls(self, args: tuple[Any, ...], error: str) -> None:
        with pytest.raises(TypeError, match=error):
            speedups.drop_images(*args)

    def test_no_leak(self) -> None:
        """No path leaks a reference (a missing DECREF grows memory on every call)."""
        turns = [{"role": "user", "content": [{"type": "text", "text": "a"}, IMG]}, {"role": "assistant", "content": "b"},
                 {"role": "user", "content": [IMG]}]
        bail = [{"role": "user", "content": [IMG, {"type": "tool_result", "tool_use_id": "t", "content": [IMG]}]}]

        def work() -> None:
            for _ in range(2000):
                speedups.drop_images(turns, [3, 0, 2], IMAGE, TEXT, PLACEHOLDER, True)
                speedups.drop_images(turns, [3, 0, 2], IMAGE, 0, None, False)
                speedups.drop_images(bail, [2], IMAGE, 0, None, True)
                with pytest.raises(TypeError):
                    speedups.drop_images(turns, [3, 0, "2"], IMAGE, 0, None, True)

        grown = memory_kept(work, 10)
        assert grown < 64 * 1024, grown

    def test_the_function_in_use(self) -> None:
        expected = drop_images_turns_py if os.environ.get("CONVO_PURE_PYTHON") else speedups.drop_images
        assert transcript.drop_images_turns is expected


def _turn(role: str, *blocks: Any) -> dict[str, Any]:
    return {"role": role, "content": list(blocks)}


_A = _turn("assistant", {"type": "text", "text": "a"})
_U = _turn("user", {"type": "text", "text": "u"})


class TestReportedChanges:
    @pytest.mark.parametrize("messages", [
        # an image-only turn that goes, images after it; one that stays (the last turn)
        [_turn("user", IMG, IMG), _A, _turn("user", {"type": "text", "text": "b"}, IMG), _A, _turn("user", IMG)],
        # one that stays because a system message follows it, then images in later turns
        [_turn("user", IMG), {"role": "system", "content": "s"}, _U, _A, _turn("user", IMG, _U["content"][0], IMG)],
        [_turn("user", IMG), _A, _turn("user", IMG), _A, _U],
    ])
    @pytest.mark.parametrize("placeholder", [None, "[img]"])
    def test_explain_in_the_built_order(self, messages: list[Any], placeholder: str | None) -> None:
        """explain() on turns not built reports what the built blocks' edit reports, in its order."""
        data = orjson.dumps({"model": "claude-opus-4-8", "messages": messages})
        tr = t.drop_images(placeholder=placeholder)
        lazy = convo.loads(data)
        got, changes = tr.explain(lazy)
        assert lazy_turns(got) is not None  # edited without building a turn
        eager = convo.loads(data)
        eager.messages  # noqa: B018 - built: the blocks' edit runs
        expected, expected_changes = tr.explain(eager)
        assert changes == expected_changes and convo.dumps(got) == convo.dumps(expected)
        assert sum(c.what.startswith(("dropped an image", "replaced an image")) for c in changes) == sum(
            b == IMG for msg in messages if isinstance(msg["content"], list) for b in msg["content"])

    def test_no_two_requests_share_a_placeholder(self) -> None:
        """The placeholder an unbuilt turn gets is that request's own (one dict for its images):
        a caller that changed one request's JSON could not change another's."""
        tr = t.drop_images(placeholder="[img]")
        data = orjson.dumps({"model": "claude-opus-4-8", "messages": [_turn("user", IMG, IMG), _A, _U]})
        a, b = tr(convo.loads(data)), tr(convo.loads(data))
        pa, pb = lazy_turns(a), lazy_turns(b)
        assert pa is not None and pb is not None
        first, second = pa[0][0]["content"], pb[0][0]["content"]
        assert first == second == [PLACEHOLDER, PLACEHOLDER]
        assert first[0] is first[1] and first[0] is not second[0]

    def test_add_many(self) -> None:
        """A log without paths is given the count in one call; every log records it."""
        log = t.ChangeLog("drop_images")
        log.add_many("dropped an image", "drop_images()", 3)
        log.add_many("dropped an image", "drop_images()", 0)
        assert [(c.transform, c.what, c.path, c.why) for c in log.changes] == [
            ("drop_images", "dropped an image", "", "drop_images()")] * 3
        from convo.transforms._base import NULL_LOG

        NULL_LOG.add_many("dropped an image", "drop_images()", 3)
        assert NULL_LOG.changes == []  # (what a plain call passes records nothing)

    def test_the_command_counts_every_image(self, tmp_path: Any, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
        """The command's summary counts each image once, also where the turns stay unbuilt."""
        from convo.cli import main

        lines = [orjson.dumps({"model": "claude-opus-4-8", "messages": [_turn("user", IMG, IMG), _A, _turn("user", IMG, _U["content"][0])]}),
                 orjson.dumps({"model": "claude-opus-4-8", "messages": [_U, _A, _turn("user", IMG)]})]
        src = tmp_path / "in.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        assert main(["transform", str(src), "-o", str(tmp_path / "out.jsonl"), "-t", "drop_images()"]) == 0
        err = " ".join(capsysbinary.readouterr().err.decode().split())
        assert "drop_images: dropped an image x 4" in err
        assert "drop_images: dropped a turn left empty x 1" in err
        assert "drop_images: left '[image]' in a turn of images only x 1" in err

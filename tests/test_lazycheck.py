"""The codec's lazy check in C (``convo/codec/_lazycheck.c``) against the Python one it stands for.

The lazy check decides, on load, whether a parsed turn may stay parsed (see "lazy messages" in
``convo/codec/_converter.py``). The C check is an optimisation only: on any JSON orjson can
parse it must give exactly the Python check's verdict (the bits, or "no"), and on anything else
(keys that are not exactly strings, str subclasses) either the same verdict or "no" (the turn is
then decoded eagerly, which gives the same value). It must never raise or crash, whatever the
depth. The suite runs with the C check where it is built (the default); ``CONVO_PURE_PYTHON=1``
selects the Python one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
from convo.codec import _converter as C

lazycheck = pytest.importorskip(
    "convo.codec._lazycheck", reason="the C lazy check is not built here (no C compiler at install)")

# the codec's tables (configured on import unless CONVO_PURE_PYTHON is set; this does not change
# which check the codec uses)
lazycheck.configure(*C.lazy_tables())

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"


def agree(v: Any) -> None:
    """The C and Python checks give the same verdicts on *v* (a list of turns, or of blocks)."""
    assert lazycheck.check_messages(v) == C.check_messages_py(v)
    assert lazycheck.lazy_content(v) == C.lazy_content_py(v)


def _docs() -> Iterator[Any]:
    for path in sorted(REALWORLD.rglob("*")):
        if path.suffix == ".json":
            try:
                yield orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError:
                continue
        elif path.suffix == ".jsonl":
            for raw in path.read_bytes().splitlines():
                try:
                    yield orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue


def _lists(v: Any) -> Iterator[list[Any]]:
    """Every list in *v*, at any depth."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            yield x
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())


def test_in_use_by_default() -> None:
    """Where it is built, the codec uses it (unless CONVO_PURE_PYTHON is set)."""
    if os.environ.get("CONVO_PURE_PYTHON"):
        assert C.check_messages is C.check_messages_py
    else:
        assert C.check_messages is lazycheck.check_messages
        assert C.lazy_content is lazycheck.lazy_content


@pytest.mark.slow
def test_pure_python_switch(tmp_path: Path) -> None:
    """CONVO_PURE_PYTHON=1 selects the Python check, and the values decoded are the same."""
    code = ("import convo, sys; from convo.codec import _converter as C; "
            "print(C.lazy_content is C.lazy_content_py, C.check_messages is C.check_messages_py)")
    for env, want in (({"CONVO_PURE_PYTHON": "1"}, "True True"), ({}, "False False")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                             env={**{k: v for k, v in os.environ.items() if k != "CONVO_PURE_PYTHON"}, **env})
        assert out.stdout.strip() == want


@pytest.mark.slow
def test_command_output_is_the_same_without_it(tmp_path: Path) -> None:
    """``convo transform`` over every realworld line and the bundled transcripts writes the same
    bytes, the same rejects and the same summary with the C check and with the Python one."""
    from tests._helpers_cli import realworld_lines

    src = tmp_path / "in.jsonl"
    fixtures = (Path(__file__).resolve().parents[1] / "fixtures" / "transcripts.jsonl").read_bytes()
    src.write_bytes(b"\n".join(realworld_lines()) + b"\n" + fixtures)
    outs = []
    for pure in ("", "1"):
        (tmp_path / (pure or "c")).mkdir()
        out = tmp_path / (pure or "c") / "out.jsonl"
        env = {k: v for k, v in os.environ.items() if k != "CONVO_PURE_PYTHON"}
        if pure:
            env["CONVO_PURE_PYTHON"] = pure
        r = subprocess.run([sys.executable, "-m", "convo.cli", "transform", str(src), "-o", str(out),
                            "-t", "drop_images()", "-t", "strip_thinking()",
                            "-t", 'inject_system("Be brief.", where="top")'],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
        rejects = out.with_name(out.stem + ".rejects.jsonl")
        summary = re.sub(r" in [0-9.]+ s", "", r.stderr.replace(str(out.parent), "DIR"))
        outs.append((r.returncode, summary, out.read_bytes(),
                     rejects.read_bytes() if rejects.exists() else b""))
    assert outs[0] == outs[1]
    assert outs[0][2].count(b"\n") > 300  # (most lines came through)


def test_realworld() -> None:
    """Every list in every realworld file (turns, blocks, and everything else): the same verdicts.
    Most of the requests' turns pass (a check that said no to everything would agree too)."""
    lists = passed = turns = 0
    for doc in _docs():
        for v in _lists(doc):
            agree(v)
            lists += 1
            masks = C.check_messages_py(v)
            if masks is not None and masks:
                turns += len(masks)
                passed += 1
    assert lists > 4_000 and passed > 250 and turns > 400, (lists, passed, turns)  # 4,567, 274, 472


# ---------------------------------------------------------------- generated turns, near the shapes

_KEYS = ["type", "text", "cache_control", "citations", "source", "id", "name", "input", "caller",
         "tool_use_id", "content", "is_error", "thinking", "signature", "data", "media_type", "url",
         "file_id", "role", "x"]
_TAGS = ["text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking", "document",
         "base64", "url", "file", "user", "assistant", "Text", ""]
_BIG = [2.0**64, -(2.0**63), 2.0**64 - 2.0**12, 1.5, -0.0, 1e308, float("inf"), float("-inf")]

scalars = st.one_of(st.sampled_from(_TAGS), st.text(max_size=4), st.integers(-(2**70), 2**70),
                    st.sampled_from(_BIG), st.floats(allow_nan=False), st.booleans(), st.none())
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)),
    max_leaves=12)


@st.composite
def near_blocks(draw: st.DrawFn) -> Any:
    """A block built from one of the lazy shapes, then perhaps changed: a value of another type,
    a key dropped, added or moved, a nested source or tool result content changed likewise."""
    keys = draw(st.sampled_from(sorted(C.LAZY_TABLE)))
    tag = C.LAZY_TABLE[keys][0]
    good: dict[str, Any] = {
        "type": tag, "text": "t", "cache_control": {"type": "ephemeral"}, "citations": None,
        "source": draw(st.sampled_from([{"type": "base64", "media_type": "image/png", "data": "AA=="},
                                        {"type": "url", "url": "https://x"}, {"type": "file", "file_id": "f"}])),
        "id": "toolu_1", "name": "n", "input": draw(json_values.filter(lambda v: isinstance(v, dict)) | st.just({})),
        "caller": {"type": "direct"}, "tool_use_id": "toolu_1",
        "content": draw(st.one_of(st.text(max_size=3), st.lists(st.sampled_from(
            [{"type": "text", "text": "r"}, {"type": "image", "source": {"type": "url", "url": "u"}},
             {"type": "thinking", "thinking": "", "signature": "s"}, {"text": "r", "type": "text"}]), max_size=3))),
        "is_error": draw(st.booleans()), "thinking": "th", "signature": "sig", "data": "d",
    }
    b = {k: good[k] for k in keys}
    for _ in range(draw(st.integers(0, 2))):
        what = draw(st.sampled_from(["value", "drop", "add", "move", "source"]))
        k = draw(st.sampled_from(list(b) or ["type"]))
        if what == "value":
            b[k] = draw(json_values)
        elif what == "drop":
            b.pop(k, None)
        elif what == "add":
            b[draw(st.sampled_from(_KEYS))] = draw(json_values)
        elif what == "move" and k in b:
            b[k] = b.pop(k)
        elif what == "source" and isinstance(b.get("source"), dict) and b["source"]:
            src = dict(b["source"])
            src[draw(st.sampled_from(list(src)))] = draw(json_values)
            b["source"] = src
    return b


turns = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", 1]),
                               "content": st.one_of(st.text(max_size=3), st.lists(near_blocks(), max_size=4))})


@st.composite
def near_turns(draw: st.DrawFn) -> Any:
    t = draw(turns)
    if draw(st.integers(0, 4)) == 0:
        t = dict(reversed(t.items())) if draw(st.booleans()) else {**t, draw(st.sampled_from(_KEYS)): 1}
    return t


@settings(max_examples=1500, deadline=None)
@given(st.lists(near_turns(), max_size=5))
def test_generated_turns(v: list[Any]) -> None:
    """Turns made from the lazy shapes, some changed: the same verdicts, on the turns, on each
    content array, and on the same data after a JSON round trip (as orjson gives it)."""
    agree(v)
    for t in v:
        if isinstance(t.get("content"), list):
            agree(t["content"])
    try:
        again = orjson.loads(orjson.dumps(v))
    except TypeError:  # an integer past 64 bits: orjson does not write it
        return
    agree(again)


@settings(max_examples=1000, deadline=None)
@given(json_values)
def test_fuzz_any_json(v: Any) -> None:
    """Any JSON value (as a list of it): the same verdicts, no exception."""
    agree([v])
    agree([{"role": "user", "content": [v]}])
    if isinstance(v, list):
        agree(v)


class _Str(str):
    pass


def test_not_json_answers_no_or_the_same() -> None:
    """Keys that are not exactly strings, and str subclasses where the checks compare: the C
    check answers "no" (the eager path then decides) or what the Python one answers."""
    cases: list[Any] = [
        [{1: "text", "text": "x"}],
        [{_Str("type"): "text", "text": "x"}],
        [{"type": _Str("text"), "text": "x"}],
        [{"type": "text", "text": _Str("x")}],
        [{"type": "image", "source": {"type": "url", "url": _Str("u")}}],
        [{(1, 2): "x"}],
    ]
    for v in cases:
        c, py = lazycheck.lazy_content(v), C.lazy_content_py(v)
        assert c in (-1, py), (v, c, py)
        turn = [{"role": "user", "content": v}]
        cm, pym = lazycheck.check_messages(turn), C.check_messages_py(turn)
        assert cm is None or cm == pym


def test_deep_values() -> None:
    """A tool input nested past the recursion limit: "no" from both (never a crash); nested
    deeper than the C check looks (200 levels): "no" from it, whatever the Python one says (on
    Python >= 3.12 the recursion limit no longer bounds C code: the fixed depth keeps the C check
    from taking lazily what the Python one would not); and a shallow one decodes and writes back
    as it was."""
    deep: Any = 1.0
    for _ in range(sys.getrecursionlimit() + 500):
        deep = [deep]
    block = {"type": "tool_use", "id": "t", "name": "n", "input": {"x": deep}}
    assert lazycheck.lazy_content([block]) == C.lazy_content_py([block]) == -1
    assert lazycheck.check_messages([{"role": "assistant", "content": [block]}]) is None
    mid: Any = 1.0
    for _ in range(300):  # deeper than the C check looks (200), within Python's recursion limit
        mid = [mid]
    block = {"type": "tool_use", "id": "t", "name": "n", "input": {"x": mid}}
    assert lazycheck.lazy_content([block]) == -1 and C.lazy_content_py([block]) in (-1, 4)
    shallow = {"type": "tool_use", "id": "t", "name": "n", "input": {"x": [[[2.0**64]]]}}
    assert lazycheck.lazy_content([shallow]) == C.lazy_content_py([shallow]) == -1
    line = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "tool_use", "id": "t", "name": "n", "input": {"x": [[[1.5]]]}}]}]})
    assert convo.dumps(convo.loads(line)) == line


def test_no_leak() -> None:
    """The C check frees what it makes, on every path (a verdict, each way to say no): twenty
    passes over every realworld list and some bad blocks leave no Python memory behind."""
    import gc
    import tracemalloc

    bad: list[Any] = [[{"type": "text", "text": 1}], [{1: 2}], [{"type": "texty", "text": "x"}],
                      [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": 1}}]}],
                      [{"type": "tool_use", "id": "a", "name": "b", "input": {"x": [1.5, 2.0**70]}}],
                      [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "thinking", "thinking": "", "signature": ""}]}]]
    lists = [v for doc in _docs() for v in _lists(doc)] + bad * 50

    def run() -> None:
        for v in lists:
            lazycheck.check_messages(v)
            lazycheck.lazy_content(v)
    run()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(20):
            run()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 64_000, f"{grown} bytes after {20 * 2 * len(lists)} calls"  # a tuple a call: megabytes


def test_configure_checks_its_tables() -> None:
    """configure() refuses tables of the wrong form (and the codec's own are of the right one)."""
    with pytest.raises(ValueError, match="one field per key"):
        lazycheck.configure({("type", "text"): ("text", 1, ())}, {}, frozenset())
    with pytest.raises(ValueError, match="kind, check, nullable"):
        lazycheck.configure({("type", "text"): ("text", 1, ((0, 1, 0),))}, {}, frozenset())
    with pytest.raises(TypeError):
        lazycheck.configure([], {}, frozenset())
    lazycheck.configure(*C.lazy_tables())  # back
    agree([{"type": "text", "text": "hi"}])


def test_reregistered_block_type_leaves_both_checks() -> None:
    """A block type registered again (a user's own class) is no longer lazy, in C as in Python:
    the C check reads the codec's own table."""
    keys = ("type", "data")
    assert keys in C.LAZY_TABLE
    saved_shape, saved_table = C.LAZY_SHAPES[keys], C.LAZY_TABLE[keys]
    v = [{"type": "redacted_thinking", "data": "d"}]
    assert lazycheck.lazy_content(v) == 32
    del C.LAZY_SHAPES[keys], C.LAZY_TABLE[keys]
    try:
        assert lazycheck.lazy_content(v) == C.lazy_content_py(v) == -1
    finally:
        C.LAZY_SHAPES[keys], C.LAZY_TABLE[keys] = saved_shape, saved_table

"""Issue 11, hostile input: each reproducer as a test, and a property for each class of bug.

1. a type tag that is not a string (blocks, system, sources, nested tool results, Claude Code lines,
   cassettes); 2. a request without ``messages`` (every transform, estimate_tokens, stats) and
   writer bugs told apart from encoding failures; 3. ``repr`` of deep values; 4. integers beyond
   64 bits and beyond a double; 5. what counts as blank, and a byte order mark in reject bytes;
   18. the size of an ``.eval`` member; 19. input values echoed by the summaries.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convo
from convo import strategies as cs
from convo import transforms as t
from convo.codec import formats
from convo.codec.formats import claude_code, inspect_logs
from convo.codec.lines import BOM, RawLine, decode_line, encode_value, is_blank
from convo.codec.rejects import classify
from convo.errors import ConvoError, DecodeError, TransformError
from convo.model import NO_MESSAGES, Conversation, Text, ToolResult
from convo.stream.operation import Result
from convo.stream.sources import Chunk
from tests._helpers_fuzz import TRANSFORMS, realworld_lines

CONVO = [sys.executable, "-m", "convo.cli"]
FIFTH = settings(max_examples=max(10, settings().max_examples // 5))


def _convo(cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    p = subprocess.run([*CONVO, *args], input=stdin, capture_output=True, cwd=cwd, env=env, timeout=300)
    assert b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")[-3000:]
    return p


def _rejects(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_bytes().splitlines():
        rec = orjson.loads(line)
        rec["bytes"] = rec["raw"].encode() if "raw" in rec else base64.b64decode(rec["raw_base64"])
        out.append(rec)
    return out


# --------------------------------------------------------------------------- 1. type tags


_TAG_PLACES = {
    "block": (b'{"messages":[{"role":"user","content":[{"type":%s}]}]}', "$.messages[0].content[0].type"),
    "system block": (b'{"system":[{"type":%s,"text":"x"}],"messages":[]}', "$.system[0].type"),
    "image source": (b'{"messages":[{"role":"user","content":[{"type":"image","source":{"type":%s}}]}]}',
                     "$.messages[0].content[0].source.type"),
    "document source": (b'{"messages":[{"role":"user","content":[{"type":"document","source":{"type":%s}}]}]}',
                        "$.messages[0].content[0].source.type"),
    "nested tool_result": (b'{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t",'
                           b'"content":[{"type":"tool_result","tool_use_id":"u","content":[{"type":%s}]}]}]}]}',
                           "$.messages[0].content[0].content[0].content[0].type"),
    "search result content": (b'{"messages":[{"role":"user","content":[{"type":"search_result","source":"s",'
                              b'"title":"t","content":[{"type":%s}]}]}]}', "$.messages[0].content[0].content[0].type"),
    "content source": (b'{"messages":[{"role":"user","content":[{"type":"document","source":{"type":"content",'
                       b'"content":[{"type":%s}]}}]}]}', "$.messages[0].content[0].source.content[0].type"),
    "system message": (b'{"messages":[{"role":"system","content":[{"type":%s}]}]}', "$.messages[0].content[0].type"),
}
_NOT_STRINGS = [b"[]", b"{}", b'["text"]', b'{"a":1}', b"1", b"1.5", b"true", b"null", b"[[]]"]


class TestTypeTags:
    @pytest.mark.parametrize("place", sorted(_TAG_PLACES))
    @pytest.mark.parametrize("tag", _NOT_STRINGS, ids=lambda b: b.decode())
    def test_a_tag_that_is_not_a_string_is_a_decode_error(self, place: str, tag: bytes) -> None:
        """Wherever the codec dispatches on "type", a list, object, number, boolean or null there
        is a DecodeError naming the tag's $.path (a list or object raised TypeError before)."""
        template, path = _TAG_PLACES[place]
        with pytest.raises(DecodeError) as e:
            convo.loads(template % tag)
        assert e.value.path == path
        assert "expected a string" in e.value.expected

    def test_a_response_block_tag(self) -> None:
        """The same in a response's content."""
        with pytest.raises(DecodeError) as e:
            convo.loads_response(b'{"type":"message","content":[{"type":[]}]}')
        assert e.value.path == "$.content[0].type"

    def test_absent_tag_is_still_missing(self) -> None:
        """No tag at all says so."""
        with pytest.raises(DecodeError, match="missing required key"):
            convo.loads(b'{"messages":[{"role":"user","content":[{"text":"x"}]}]}')

    def test_the_issue_command(self, tmp_path: Path) -> None:
        """The issue's reproducer: the line is rejected with its path, no traceback; alone, it
        leaves nothing written (exit 1, the exit rule); with a good line after it, the run goes on
        (exit 0)."""
        bad = b'{"messages":[{"role":"user","content":[{"type":[]}]}]}\n'
        p = _convo(tmp_path, "transform", "-", "-t", "strip_thinking()", "-o", "o.jsonl", stdin=bad)
        assert p.returncode == 1 and b"Traceback" not in p.stderr and b"nothing was written" in p.stderr
        (rec,) = _rejects(tmp_path / "o.rejects.jsonl")
        assert rec["path"] == "$.messages[0].content[0].type" and rec["code"] == "shape"
        p = _convo(tmp_path, "transform", "-", "-t", "strip_thinking()", "-o", "o.jsonl",
                   stdin=bad + b'{"messages":[{"role":"user","content":"hi"}]}\n')
        assert p.returncode == 0, p.stderr.decode()
        assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == 1

    def test_run_and_resume_go_past_it(self, tmp_path: Path) -> None:
        """convo run (and run --resume, which died at the same line forever) rejects the line and
        answers the others."""
        from convo.testing import Emulator

        good = convo.dumps(Conversation(model="claude-opus-4-8", max_tokens=8).user("hi"))
        (tmp_path / "in.jsonl").write_bytes(b"\n".join(
            [good, b'{"model":"claude-opus-4-8","max_tokens":8,"messages":[{"role":"user","content":[{"type":[]}]}]}', good]))
        with Emulator() as url:
            env = dict(os.environ, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=url)
            for extra in ([], ["--resume"]):
                p = _convo(tmp_path, "run", "in.jsonl", "-o", "ex.jsonl", *extra, env=env)
                assert p.returncode == 0, p.stderr.decode()
        assert len((tmp_path / "ex.jsonl").read_bytes().splitlines()) == 2
        assert {r["line"] for r in _rejects(tmp_path / "ex.rejects.jsonl")} == {2}

    def test_claude_code_line(self, tmp_path: Path) -> None:
        """A Claude Code line with such a block loses that block (a loss names it), not the file."""
        p = tmp_path / "s.jsonl"
        p.write_bytes(b'{"type":"user","sessionId":"s","message":{"role":"user","content":[{"type":[]},"hi"]}}\n'
                      b'{"type":"user","sessionId":["not","a","string"],"message":{"role":"user","content":"x"}}\n')
        (c,) = list(claude_code.read_file(p))
        assert any(loss.path == "$.message.content[0].type" for loss in c.losses)
        assert [m.content for m in c.conversation.messages] == [(Text("hi"), Text("x"))]

    def test_cassette(self, tmp_path: Path) -> None:
        """A cassette whose recorded response has such a block replays as a DecodeError."""
        from convo.executor import ReplayExecutor, request_key

        conv = Conversation(model="claude-opus-4-8", max_tokens=8).user("hi")
        entry = {"key": request_key(conv), "endpoint": "messages", "request": {},
                 "response": {"type": "message", "content": [{"type": {}}]}}
        path = tmp_path / "c.jsonl"
        path.write_bytes(orjson.dumps(entry) + b"\n")
        with ReplayExecutor(path) as rep, pytest.raises(DecodeError) as e:
            rep.execute(conv)
        assert e.value.path == "$.content[0].type"

    @FIFTH
    @given(data=st.data(), tag=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False),
                                            lambda c: st.lists(c, max_size=2) | st.dictionaries(st.text(max_size=3), c, max_size=2),
                                            max_leaves=4))
    def test_every_tag_of_every_realworld_line(self, data: st.DataObject, tag: Any) -> None:
        """The class: in any realworld line that decodes, any "type" replaced by a value that is
        not a string either decodes to the same JSON (the tag was in data convo keeps as is, like
        a tool's input) or is a DecodeError at exactly that tag's $.path."""
        lines = _decodable_with_tags()
        name, doc, paths = data.draw(st.sampled_from(lines))
        path = data.draw(st.sampled_from(paths))
        broken = json.loads(json.dumps(doc))
        parent = broken
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = tag
        raw = json.dumps(broken).encode()
        try:
            value = decode_line(RawLine(name, 1, raw)).value
        except DecodeError as e:
            assert e.path == "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)
        else:
            assert orjson.loads(encode_value(value)) == json.loads(raw)


def _paths_to_tags(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "type" and isinstance(v, str):
                yield (*path, k)
            yield from _paths_to_tags(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths_to_tags(v, (*path, i))


_DECODABLE: list[tuple[str, Any, list[tuple[Any, ...]]]] = []


def _decodable_with_tags() -> list[tuple[str, Any, list[tuple[Any, ...]]]]:
    """(name, JSON, paths of its "type" tags) of each small realworld line that decodes."""
    if not _DECODABLE:
        for name, raw in realworld_lines():
            if len(raw) > 20_000:
                continue
            try:
                decode_line(RawLine(name, 1, raw))
            except DecodeError:
                continue
            doc = json.loads(raw)
            paths = list(_paths_to_tags(doc))
            if paths:
                _DECODABLE.append((name, doc, paths))
    return _DECODABLE


# --------------------------------------------------------------------------- 2. no messages


class TestNoMessages:
    def test_the_issue_value(self) -> None:
        """strip_thinking and estimate_tokens on a request without messages (TypeError before)."""
        conv = convo.loads(b'{"model":"m"}')
        assert conv.messages is NO_MESSAGES
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert t.strip_thinking()(conv) is conv
            assert t.estimate_tokens(conv) == 0

    def test_stats_command(self, tmp_path: Path) -> None:
        """``convo stats -`` on such a line counts it (it raised TypeError)."""
        p = _convo(tmp_path, "stats", "-", "--json", "-q", stdin=b'{"model":"m"}\n')
        assert p.returncode == 0
        s = json.loads(p.stdout)
        assert (s["lines"], s["conversations"], s["turns"], s["undecodable"]) == (1, 1, 0, 0)

    def test_absent_stays_absent(self) -> None:
        """Absent messages are written back absent, and are not equal to an empty list."""
        conv = convo.loads(b'{"model":"m","max_tokens":3}')
        assert convo.dumps(conv) == b'{"model":"m","max_tokens":3}'
        assert conv != Conversation(model="m", max_tokens=3)  # that one has "messages": []
        assert Conversation(model="m", messages=convo.UNSET).messages is NO_MESSAGES
        assert repr(conv) == "Conversation(model='m', max_tokens=3)"
        import pickle

        assert pickle.loads(pickle.dumps(conv)).messages is NO_MESSAGES  # noqa: S301 - our own bytes

    @pytest.mark.parametrize("transform", [pytest.param(x, id=repr(x)) for xs in TRANSFORMS.values() for x in xs])
    @FIFTH
    @given(conv=cs.conversations())
    def test_every_transform_without_messages(self, transform: t.Transform, conv: Conversation) -> None:
        """The class: every registered transform (and estimate_tokens) takes a request without
        messages; one that adds no turn leaves them absent, one that changes nothing returns its
        input itself."""
        conv = convo.loads(convo.dumps(conv).replace(b'"messages":', b'"ignored":', 1))
        assume(conv.messages is NO_MESSAGES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert t.estimate_tokens(conv) >= 0
            try:
                out = transform(conv)
            except TransformError:
                return
        if out.messages is not NO_MESSAGES:
            assert len(out.messages) > 0, f"{transform!r} wrote an empty messages array"
        if transform.name in ("drop_unknown_fields", "migrate"):
            # they remove the keys the API refuses ("ignored" is one), each reported at its path
            assert "ignored" not in json.loads(convo.dumps(out))
            assert "$.ignored" in [c.path for c in transform.explain(conv)[1]]
            return
        assert json.loads(convo.dumps(out)).get("ignored") == json.loads(convo.dumps(conv))["ignored"]


def _conforms(v: Any, tp: Any) -> bool:
    """Whether *v* is a value of the annotation *tp* (unions, Literal, tuple[X, ...], classes)."""
    import types
    import typing

    if tp is typing.Any:
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(v, a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return v in typing.get_args(tp)
    if origin is tuple:
        return isinstance(v, tuple) and all(_conforms(x, typing.get_args(tp)[0]) for x in v)
    if tp is float:
        return isinstance(v, int | float) and not isinstance(v, bool)
    return isinstance(v, tp) if isinstance(tp, type) else True


def _misfits(o: Any, found: set[str]) -> None:
    """Every ``Class.field: type`` of *o* (deep) whose value is not of its annotation."""
    import typing

    import attrs

    from convo import model

    if attrs.has(type(o)):
        hints = typing.get_type_hints(type(o), vars(model))
        for a in attrs.fields(type(o)):
            v = getattr(o, a.name)
            if not _conforms(v, hints[a.name]):
                found.add(f"{type(o).__name__}.{a.name}: {type(v).__name__}")
            _misfits(v, found)
    elif isinstance(o, tuple):
        for x in o:
            _misfits(x, found)


class TestAnnotationsHold:
    @FIFTH
    @given(st.data())
    def test_what_the_codec_builds_is_what_the_model_says(self, data: st.DataObject) -> None:
        """The class behind "a request without messages": every field of every value decoded
        from a realworld line (or a mutation of one that still decodes) holds a value of its
        annotated type, so code that trusts the annotations (transforms, counts) cannot meet
        UNSET where a tuple is promised (messages and a response's content did)."""
        from tests._helpers_fuzz import MUTATIONS, mutate

        lines = realworld_lines()
        _, line = lines[data.draw(st.integers(0, len(lines) - 1))]
        kind = data.draw(st.sampled_from(["none", *sorted(MUTATIONS)]))
        raw = line if kind == "none" else mutate(line, kind, data.draw(st.integers(0, 2**30)))
        raw = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
        try:
            value = decode_line(RawLine("f", 1, raw)).value
        except DecodeError:
            return
        found: set[str] = set()
        _misfits(value, found)
        assert found == set()

    def test_absent_content_of_a_response(self) -> None:
        """A response without content: an empty tuple written back absent (it was UNSET, which
        the emulator's reply builder iterated)."""
        from convo.model import NO_CONTENT

        resp = convo.loads_response(b'{"id":"msg_1","type":"message"}')
        assert resp.content is NO_CONTENT and len(resp.blocks) == 0 and resp.text == ""
        assert convo.dumps_response(resp) == b'{"id":"msg_1","type":"message"}'
        assert list(resp.content) == []


class TestConvertWriterBugs:
    def _run(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> tuple[int, str, list[dict[str, Any]]]:
        import contextlib
        import io

        from convo.cli import main

        real = formats.FORMATS["openai"]

        def broken(conv: Conversation, **kw: Any) -> Any:
            raise error

        monkeypatch.setitem(formats.FORMATS, "openai", formats.Format("openai", real.summary, reader=real.reader, writer=broken))
        src = tmp_path / "in.jsonl"
        src.write_bytes(convo.dumps(Conversation(model="m", max_tokens=5).user("hi")) + b"\n")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["convert", str(src), "--from", "anthropic", "--to", "openai", "-o", str(tmp_path / "o.jsonl")])
        return code, err.getvalue(), _rejects(tmp_path / "o.rejects.jsonl")

    def test_a_writer_that_raises_is_a_bug_not_an_encode_reject(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A writer raising KeyError: code ``internal``, the summary says it is a bug, exit 1
        (it was an ``encode`` reject and exit 0)."""
        code, err, (rec,) = self._run(tmp_path, monkeypatch, KeyError("role"))
        assert rec["code"] == "internal" and "a bug in convo" in rec["reason"] and "KeyError" in rec["reason"]
        assert code == 1
        assert "met a bug in convo" in err

    @pytest.mark.parametrize("error", [RecursionError("maximum recursion depth exceeded"),
                                       orjson.JSONEncodeError("Integer exceeds 64-bit range")])
    def test_what_cannot_be_json_is_an_encode_reject(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
        """Too deep to write, or not JSON: ``encode``, not a bug (exit 1 only because the one line
        was not written: the exit rule)."""
        code, err, (rec,) = self._run(tmp_path, monkeypatch, error)
        assert rec["code"] == "encode" and "bug" not in err
        assert code == 1 and "nothing was written" in err


# --------------------------------------------------------------------------- 3. repr of deep values


def _nested_tool_results(depth: int) -> bytes:
    head = b'{"type":"tool_result","tool_use_id":"t","content":['
    inner = head * depth + b'{"type":"text","text":"x"}' + b"]}" * depth
    return (b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[{"role":"assistant","content":'
            b'[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[' + inner + b"]}]}")


class TestDeepRepr:
    def test_the_issue_value(self) -> None:
        """A tool_result nested 300 deep (a 13 KB line) loads, validates and has a repr
        (RecursionError before)."""
        line = _nested_tool_results(300)
        conv = convo.loads(line)
        convo.validate(conv)
        r = repr(conv)
        assert "ToolResult(...)" in r and len(r) < 5_000

    @FIFTH
    @given(depth=st.integers(1, 1100), kind=st.sampled_from(["tool_result", "array", "object"]))
    def test_whatever_decodes_has_a_repr(self, depth: int, kind: str) -> None:
        """The class: a value nested to any depth either is refused as too deep (DecodeError) or
        decodes, and then repr, validate, every transform and the encoder work on it."""
        if kind == "tool_result":
            line = _nested_tool_results(depth)
        else:
            opened, closed = (b"[", b"]") if kind == "array" else (b'{"a":', b"}")
            line = b'{"model":"claude-opus-4-8","max_tokens":5,"metadata":' + opened * depth + b"1" + closed * depth + \
                b',"messages":[{"role":"user","content":"hi"}]}'
        try:
            conv = convo.loads(line)
        except DecodeError:
            return
        assert len(repr(conv)) < 10_000
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            convo.validate(conv)
            for xs in TRANSFORMS.values():
                for x in xs:
                    with contextlib.suppress(TransformError):
                        repr(x(conv))
        assert convo.loads(convo.dumps(conv)) == conv

    def test_the_cut_shows_the_top(self) -> None:
        """Above the cut, repr is unchanged: a shallow value prints in full."""
        v = ToolResult("t", content=[Text("x")])
        assert repr(v) == "ToolResult(tool_use_id='t', content=(Text(text='x'),))"


# --------------------------------------------------------------------------- 4. big numbers


class TestBigNumbers:
    def test_the_issue_value(self) -> None:
        """A 310-digit integer is valid JSON and survives (it was "number is infinity")."""
        n = int("7" * 310)
        line = b'{"model":"m","messages":[],"metadata":{"n":' + str(n).encode() + b"}}"
        conv = convo.loads(line)
        assert conv.metadata["n"] == n
        assert str(n).encode() in convo.dumps(conv)

    @given(n=st.integers(min_value=-(10**4200), max_value=10**4200) | st.integers(-(2**70), 2**70),
           where=st.sampled_from(["metadata", "tool input", "extra", "response"]))
    def test_any_integer_survives(self, n: int, where: str) -> None:
        """The class: an integer of any size Python converts, anywhere convo keeps JSON, comes
        back digit for digit through loads/dumps and decode_line/encode_value."""
        digits = str(n).encode()
        if where == "metadata":
            line = b'{"model":"m","messages":[],"metadata":{"n":' + digits + b"}}"
        elif where == "tool input":
            line = (b'{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t",'
                    b'"name":"f","input":{"n":' + digits + b"}}]}]}")
        elif where == "extra":
            line = b'{"model":"m","x-n":' + digits + b',"messages":[]}'
        else:
            line = b'{"id":1,"request":{"model":"m","messages":[]},"response":{"content":[],"x":' + digits + b"}}"
        out = encode_value(decode_line(RawLine("f", 1, line)).value)
        assert digits in out
        assert json.loads(out) == json.loads(line)

    @pytest.mark.parametrize("text", [b"1e400", b"-1e400", b"1.5e308" + b"0", b"1" * 400 + b".5"])
    def test_a_float_beyond_a_double_is_refused_plainly(self, text: bytes) -> None:
        """A float that large has no double: a DecodeError that says so (not "infinity")."""
        with pytest.raises(DecodeError, match="too large for a 64-bit float"):
            convo.loads(b'{"model":"m","metadata":{"x":' + text + b"}}")

    def test_more_digits_than_python_converts(self) -> None:
        """Beyond sys.get_int_max_str_digits() the error names that limit."""
        with pytest.raises(DecodeError, match="more than Python converts"):
            convo.loads(b'{"model":"m","metadata":{"x":' + b"9" * 5000 + b"}}")

    def test_a_shape_error_beside_a_big_integer_is_shape(self) -> None:
        """The reject code of such a line is ``shape``, not ``json``."""
        assert classify(b'{"model":' + b"9" * 400 + b"}") == "shape"

    def test_the_command_keeps_them(self, tmp_path: Path) -> None:
        """convo transform writes the digits back."""
        line = b'{"model":"m","max_tokens":3,"metadata":{"n":' + b"3" * 320 + b'},"messages":[{"role":"user","content":"hi"}]}'
        p = _convo(tmp_path, "transform", "-", "-t", "drop_images()", "-o", "-", "-q", stdin=line + b"\n")
        assert b"3" * 320 in p.stdout


# --------------------------------------------------------------------------- 5. blank lines and BOMs


_TRICKY = st.sampled_from([b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x85", b"\xc2\xa0", b"\x00", BOM,
                           b"{}", b'{"model":"m"}', b"x"])


class TestBlankLines:
    @given(st.lists(_TRICKY, max_size=6).map(b"".join))
    def test_blank_is_json_whitespace(self, line: bytes) -> None:
        """The class: a line is blank exactly when it holds nothing but JSON whitespace (space,
        tab, CR, LF) after a byte order mark, which is when JSON finds no value in it."""
        body = line[len(BOM):] if line.startswith(BOM) else line
        assert is_blank(line) == (body.strip(b" \t\r\n") == b"")
        if is_blank(line):
            with pytest.raises(DecodeError, match="empty line"):
                decode_line(RawLine("f", 1, line))

    @given(st.lists(st.lists(_TRICKY, max_size=4).map(b"".join), min_size=1, max_size=12), st.booleans())
    def test_the_engine_accounts_for_every_line(self, lines: list[bytes], bom: bool) -> None:
        """Through the engine: in = out + rejected, blank lines are exactly the blank ones, and
        every rejected line's bytes are its bytes (a leading BOM included)."""
        if bom:
            lines[0] = BOM + lines[0]
        data = b"\n".join(lines)
        from convo.stream.ops import StatsOp, TransformOp

        for op in (TransformOp(specs=("drop_images()",)), StatsOp()):
            r: Result = op.run(Chunk.of("f", 1, data + b"\n"))
            blank = sum(1 for x in lines if is_blank(x))
            assert (r.n_blank, r.n_in) == (blank, len(lines) - blank)
            assert r.n_in == r.n_out + r.n_rejected
            if isinstance(op, TransformOp):
                recs = [orjson.loads(x) for x in r.rejects.splitlines()]
                assert len(recs) == r.n_rejected
                for rec in recs:
                    got = rec["raw"].encode() if "raw" in rec else base64.b64decode(rec["raw_base64"])
                    assert got == lines[rec["line"] - 1]

    def test_the_issue_lines(self, tmp_path: Path) -> None:
        """Lines of only \\x0b or \\x0c are rejected with their bytes (they vanished before), and a
        BOM before a broken line 1 stays in that line's reject bytes (it was dropped)."""
        data = BOM + b'{"broken\n\x0b\n\x0c\n \n{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}\n'
        (tmp_path / "in.jsonl").write_bytes(data)
        p = _convo(tmp_path, "transform", "in.jsonl", "-t", "drop_images()", "-o", "o.jsonl")
        assert "4 lines in = 1 out + 3 rejected (1 blank skipped)" in p.stderr.decode()
        recs = {r["line"]: r["bytes"] for r in _rejects(tmp_path / "o.rejects.jsonl")}
        assert recs == {1: BOM + b'{"broken', 2: b"\x0b", 3: b"\x0c"}

    @pytest.mark.parametrize("command", ["validate", "stats", "run"])
    def test_every_command_counts_them(self, tmp_path: Path, command: str) -> None:
        """validate, stats and run count such lines too."""
        data = b"\x0b\n\x0c\n\n"
        (tmp_path / "in.jsonl").write_bytes(data)
        if command == "run":
            from convo.testing import Emulator

            with Emulator() as url:
                env = dict(os.environ, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=url)
                p = _convo(tmp_path, "run", "in.jsonl", "-o", "ex.jsonl", env=env)
            assert "2 lines in = 0 succeeded + 0 failed (API errors) + 2 rejected (not requests)" in p.stderr.decode()
            assert [r["bytes"] for r in _rejects(tmp_path / "ex.rejects.jsonl")] == [b"\x0b", b"\x0c"]
        else:
            p = _convo(tmp_path, command, "in.jsonl")
            assert "2 lines in = 0 " in p.stderr.decode() and "(1 blank skipped)" in p.stderr.decode()

    def test_dry_run_shows_a_bom_line_with_big_integers(self, tmp_path: Path) -> None:
        """--dry-run diffs a line 1 that starts with a BOM and holds a 330-digit integer (the
        reader keeps the BOM: the diff reads the line as the decoder does)."""
        line = BOM + b'{"model":"m","max_tokens":3,"temperature":1,"metadata":{"n":' + b"9" * 330 + \
            b'},"messages":[{"role":"user","content":"x"}]}'
        (tmp_path / "in.jsonl").write_bytes(line + b"\n")
        p = _convo(tmp_path, "transform", "in.jsonl", "-t", "drop_sampling_params()", "-o", "o.jsonl", "--dry-run")
        assert p.returncode == 0
        assert b'-  "temperature": 1,' in p.stdout and b"9" * 330 in p.stdout

    def test_a_bom_mid_file_is_skipped_the_same_with_workers(self, tmp_path: Path) -> None:
        """A BOM at the start of any line (files concatenated) is skipped, as RFC 8259 allows,
        whether one process reads the file or several read its byte ranges."""
        good = convo.dumps(Conversation(model="m", max_tokens=1).user("x" * 2000))
        lines = [good] * 3000 + [BOM + good] + [good] * 3000
        (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        outs = []
        for workers in ("1", "2"):
            p = _convo(tmp_path, "transform", "in.jsonl", "-t", "drop_images()", "-o", f"o{workers}.jsonl",
                       "--workers", workers, "--chunk-bytes", "65536")
            assert "6,001 lines in = 6,001 out + 0 rejected" in p.stderr.decode()
            outs.append((tmp_path / f"o{workers}.jsonl").read_bytes())
        assert outs[0] == outs[1]


# --------------------------------------------------------------------------- 18. .eval member size


def _eval_with_member(path: Path, size: int) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("header.json", '{"eval": {"model": "anthropic/claude-opus-4-8"}}')
        with z.open("samples/1_epoch_1.json", "w") as f:
            f.write(b'{"messages": [{"role": "user", "content": "')
            chunk = b"a" * (1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
            f.write(b'"}]}')
        z.writestr("samples/2_epoch_1.json", '{"messages": [{"role": "user", "content": "small"}]}')


class TestEvalMemberLimit:
    @pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM (Linux)")
    def test_a_huge_member_is_refused_before_it_is_inflated(self, tmp_path: Path) -> None:
        """A small .eval holding a 512 MiB sample: convert refuses it (a format reject naming the
        member and the limit) with little memory (it took 3.2 GB for 1 GiB before); the member
        after it is still read and written (it was lost, uncounted: the reader stopped)."""
        ev = tmp_path / "big.eval"
        _eval_with_member(ev, 512 << 20)
        assert ev.stat().st_size < 2_000_000
        # the peak of this process's own memory (VmHWM: ru_maxrss would count the parent's at fork)
        code = ("import re; from convo.cli import main; "
                f"c = main(['convert', {str(ev)!r}, '--from', 'inspect', '--to', 'anthropic', '-o', 'o.jsonl', '-q']); "
                "print(c, re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=tmp_path, timeout=300)
        status, rss_kb = (int(x) for x in p.stdout.split())
        assert rss_kb < 250_000, f"{rss_kb} KB"
        (rec,) = _rejects_raw(tmp_path / "o.rejects.jsonl")
        assert rec["code"] == "format" and "over the limit" in rec["reason"]
        assert rec["file"] == str(ev) and rec["source"] == f"{ev}:samples/1_epoch_1.json"
        assert not rec["reason"].startswith("a damaged zip member")
        assert status == 0
        (out,) = (tmp_path / "o.jsonl").read_bytes().splitlines()
        assert orjson.loads(out)["messages"] == [{"role": "user", "content": "small"}]

    def test_the_limit_is_max_line_bytes(self, tmp_path: Path) -> None:
        """--max-line-bytes sets it; a member under it is read."""
        ev = tmp_path / "s.eval"
        _eval_with_member(ev, 1 << 20)
        p = _convo(tmp_path, "convert", str(ev), "--from", "inspect", "--to", "anthropic", "-o", "o.jsonl",
                   "--max-line-bytes", str(2 << 20))
        assert "2 lines in = 2 out + 0 rejected" in p.stderr.decode()
        p = _convo(tmp_path, "convert", str(ev), "--from", "inspect", "--to", "anthropic", "-o", "o.jsonl",
                   "--max-line-bytes", str(1 << 19))
        assert "2 lines in = 1 out + 1 rejected" in p.stderr.decode()

    def test_a_json_log_over_the_limit(self, tmp_path: Path) -> None:
        """A .json log (one document, perhaps gzip) is bounded the same way, while it is read."""
        log = tmp_path / "log.json"
        log.write_text(json.dumps({"samples": [{"messages": [{"role": "user", "content": "x" * 5000}]}]}))
        with pytest.raises(DecodeError, match="over the limit of 1000 bytes"):
            list(inspect_logs.read_file(log, max_bytes=1000))
        assert len(list(inspect_logs.read_file(log, max_bytes=10_000))) == 1

    def test_a_damaged_zip_is_a_decode_error(self, tmp_path: Path) -> None:
        """A damaged member (bad CRC, bad data) is a DecodeError naming the member."""
        ev = tmp_path / "d.eval"
        _eval_with_member(ev, 1 << 20)
        data = bytearray(ev.read_bytes())
        i = data.index(b"samples/1_epoch_1.json") + 200  # inside the member's compressed data
        data[i:i + 8] = bytes(b ^ 0xFF for b in data[i:i + 8])
        ev.write_bytes(bytes(data))
        with pytest.raises(DecodeError) as e:
            list(inspect_logs.read_file(ev))
        assert "samples/1_epoch_1.json" in str(e.value)


def _rejects_raw(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# --------------------------------------------------------------------------- 19. what summaries echo


class TestSummaryEcho:
    def test_long_input_values_are_capped(self, tmp_path: Path) -> None:
        """Forty lines with 100 KB model names through set_model: the change table shows each
        name capped (it padded 30 rows to 100 KB each: 3 MB of stderr)."""
        lines = [convo.dumps(Conversation(model=f"{i}-" + "m" * 100_000, max_tokens=1).user("x")) for i in range(40)]
        (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines))
        p = _convo(tmp_path, "transform", "in.jsonl", "-t", 'set_model("claude-opus-4-8")', "-o", "o.jsonl")
        assert len(p.stderr) < 20_000
        assert "chars)" in p.stderr.decode()

    def test_control_characters_are_escaped(self, tmp_path: Path) -> None:
        """A role holding a terminal escape is shown escaped, not sent to the terminal."""
        line = b'{"model":"m","messages":[{"role":"\\u001b[2Juser","content":"x"}]}'
        (tmp_path / "in.jsonl").write_bytes(line)
        p = _convo(tmp_path, "stats", "in.jsonl")
        assert b"\x1b[2J" not in p.stdout and b"\\x1b[2Juser" in p.stdout

    def test_errors_stay_convo_errors(self) -> None:
        """(The base of every error the tests above allow.)"""
        assert issubclass(DecodeError, ConvoError) and issubclass(TransformError, ConvoError)

"""``drop_unknown_fields`` (issue 12): a transcript from an API newer than convo's schema is not a
dead end. The transform removes exactly the keys the closed-world check reports (unknown keys,
beta-only keys without their header), reports each at its ``$.path``, changes nothing else, keeps
lazily decoded turns unbuilt, and ``migrate`` runs it first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convo
from convo import strategies as cs
from convo import transforms as t
from convo.codec import structure
from convo.codec.lines import RawLine, decode_line
from convo.model import Conversation, is_built, lazy_blocks
from convo.rules import betas_needed, validate
from convo.rules._schema import parse_path
from convo.stream.ops import conversation_of
from tests._helpers_cli import REALWORLD, realworld_lines

CONVO = [sys.executable, "-m", "convo.cli"]
OPUS = "claude-opus-4-8"
built = is_built  # (convo.model's: whether the content slot holds blocks or a string)


def schema_violations(conv: Conversation, **kw: Any) -> list[tuple[str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # models without a profile: not asserted here
        return [(v.rule, v.path) for v in validate(conv, **kw).violations if v.rule.startswith("schema.")]


def without(value: Any, path: str) -> Any:
    """*value* (plain JSON) with the key at *path* deleted in place; returns *value*."""
    *steps, last = parse_path(path)
    cur = value
    for s in steps:
        cur = cur[s]
    assert isinstance(last, str) and last in cur, path
    del cur[last]
    return value


def check_only_those_removed(conv: Conversation, out: Conversation, paths: list[str]) -> None:
    """The dump of *out* is the dump of *conv* with the keys at *paths* deleted, and nothing else
    changed (key order included)."""
    expected = orjson.loads(convo.dumps(conv))
    for p in paths:
        without(expected, p)
    assert orjson.loads(convo.dumps(out)) == expected
    assert convo.dumps(out) == orjson.dumps(expected)


def live_requests() -> Iterator[tuple[str, dict[str, Any], set[str]]]:
    """Every request recorded against the live API: name, body, and the betas it was sent with."""
    for f in sorted((REALWORLD / "anthropic-live-pydantic-ai").glob("*.json")):
        for i, x in enumerate(json.loads(f.read_text())):
            req = x["request"]
            betas = betas_needed(req["body"]) if "beta=true" in req["uri"] else set()
            yield f"{f.stem}[{i}]", req["body"], betas


# --------------------------------------------------------------------------- the realworld corpus


class TestRealworld:
    def test_every_realworld_line_comes_out_closed_world_valid(self) -> None:
        """Every realworld line convo loads: after the transform no schema violation remains, the
        reported paths are exactly the ones validate named, nothing else changed, and a second
        pass returns its input itself. Some lines do need it (the test is not empty)."""
        changed = 0
        for i, line in enumerate(realworld_lines()):
            conv = conversation_of(decode_line(RawLine("realworld", i, line)).value)
            assert conv is not None
            before = [p for r, p in schema_violations(conv) if r in ("schema.unknown-key", "schema.beta-only")]
            out, changes = t.drop_unknown_fields().explain(conv)
            assert schema_violations(out) == []
            assert sorted(c.path for c in changes) == sorted(before)
            assert all(not c.note and c.transform == "drop_unknown_fields" for c in changes)
            check_only_those_removed(conv, out, before)
            assert (out is conv) == (not changes)
            assert t.drop_unknown_fields()(out) is out
            changed += bool(changes)
        assert changed >= 5

    def test_live_requests_keep_their_beta_keys_when_their_betas_are_named(self) -> None:
        """On every request recorded against the live API: without betas every unknown and
        beta-only key goes and only blocks of beta types stay (each noted); with the betas it was
        sent with, nothing is removed (the live API took them)."""
        removed = noted = 0
        for name, body, betas in live_requests():
            conv = convo.loads(orjson.dumps(body))
            out, changes = t.drop_unknown_fields().explain(conv)
            edits = [c.path for c in changes if not c.note]
            notes = [c.path for c in changes if c.note]
            left = schema_violations(out, api_version="2023-06-01")
            assert sorted(p for _, p in left) == sorted(notes), name
            assert all(r == "schema.beta-only" for r, _ in left), name
            check_only_those_removed(conv, out, edits)
            removed += len(edits)
            noted += len(notes)
            kept, kept_changes = t.drop_unknown_fields(betas=betas).explain(conv)
            assert kept is conv and kept_changes == (), name
        assert removed >= 5 and noted >= 5


# --------------------------------------------------------------------------- generated requests

_FREE = frozenset({"input", "input_schema", "schema"})  # any JSON for the API: nothing is unknown there


def closed_places(value: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object of a request whose keys the schema closes, with its path."""
    if isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            if k not in _FREE:
                yield from closed_places(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from closed_places(v, f"{path}[{i}]")


_json_values = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
                            lambda c: st.lists(c, max_size=2) | st.dictionaries(st.text(max_size=3), c, max_size=2),
                            max_leaves=4)


@st.composite
def with_unknown_keys(draw: st.DrawFn) -> tuple[Conversation, bytes, list[str]]:
    """A generated (valid) conversation, and its JSON with 1 to 3 unknown keys injected into
    objects picked at random depths, with the injected paths."""
    conv = draw(cs.conversations(model=OPUS, images=True, tools=True, thinking=True,
                                 mid_system=True, max_turns=6))
    body = orjson.loads(convo.dumps(conv))
    places = list(closed_places(body))
    paths = []
    for n in range(draw(st.integers(1, 3))):
        where, target = draw(st.sampled_from(places))
        key = f"x_newer_api_{n}"
        target[key] = draw(_json_values)
        paths.append(f"{where}.{key}")
    return conv, orjson.dumps(body), paths


class TestGenerated:
    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(with_unknown_keys())
    def test_removes_exactly_the_injected_keys(self, case: tuple[Conversation, bytes, list[str]]) -> None:
        """Unknown keys injected at random depths (top level, messages, blocks, sources, tools,
        tool_choice, thinking, output_config, metadata, cache_control ...) are each reported at
        their path, removed, and nothing else: the result writes the original's bytes, validates,
        and a second pass returns it itself. Lazily and eagerly decoded, the same."""
        conv, data, paths = case
        for value in (convo.loads(data), structure(orjson.loads(data), Conversation)):
            out, changes = t.drop_unknown_fields().explain(value)
            assert sorted(c.path for c in changes) == sorted(paths)
            assert all(c.what.startswith("removed unknown key") for c in changes)
            assert convo.dumps(out) == convo.dumps(conv)
            assert validate(out).ok, str(validate(out))
            assert t.drop_unknown_fields()(out) is out

    @settings(max_examples=60, deadline=None)
    @given(cs.conversations(model=OPUS, images=True, tools=True, thinking=True, mid_system=True, max_turns=6))
    def test_a_valid_conversation_is_returned_itself(self, conv: Conversation) -> None:
        """Nothing unknown: the input itself, no change; decoded lazily, no turn built."""
        assert t.drop_unknown_fields().explain(conv) == (conv, ())
        lazy = convo.loads(convo.dumps(conv))
        assert t.drop_unknown_fields()(lazy) is lazy
        assert not any(built(m) for m in lazy.messages if lazy_blocks(m) is not None)


# --------------------------------------------------------------------------- what it removes, what it keeps

REQUEST = {
    "model": OPUS, "max_tokens": 1024,
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                                          {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"n": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It is 42."}]},
        {"role": "user", "content": "Thanks"},
    ],
}


def request(**changes: Any) -> dict[str, Any]:
    return json.loads(json.dumps({**REQUEST, **changes}))


class TestWhatItRemoves:
    def test_keys_in_json_valued_fields(self) -> None:
        """tools, tool_choice, thinking, output_config and metadata are checked key by key; a
        tool's input_schema and a tool_use's input are any JSON, so nothing there is removed."""
        body = request(
            tools=[{"name": "f", "input_schema": {"type": "object", "x_free": 1}, "x_tool": 1}],
            tool_choice={"type": "auto", "x_choice": 1}, thinking={"type": "adaptive", "x_think": 1},
            output_config={"effort": "high", "x_out": 1}, metadata={"user_id": "u", "x_meta": 1})
        body["messages"][1]["content"][1]["input"]["x_input"] = 2
        conv = convo.loads(orjson.dumps(body))
        out, changes = t.drop_unknown_fields().explain(conv)
        assert sorted(c.path for c in changes) == [
            "$.metadata.x_meta", "$.output_config.x_out", "$.thinking.x_think", "$.tool_choice.x_choice",
            "$.tools[0].x_tool"]
        assert out.tools[0]["input_schema"]["x_free"] == 1
        assert out.messages[1].content[1].input["x_input"] == 2
        assert validate(out).ok

    def test_a_key_that_is_no_identifier(self) -> None:
        """A key that needs quoting in a path is reported and removed by that path."""
        body = request()
        body["messages"][0]["content"][0]["a b"] = 1
        out, changes = t.drop_unknown_fields().explain(convo.loads(orjson.dumps(body)))
        assert [c.path for c in changes] == ['$.messages[0].content[0]["a b"]']
        assert convo.dumps(out) == orjson.dumps(REQUEST)

    def test_beta_keys_go_unless_their_header_is_named(self) -> None:
        """A beta-only key is removed with a hint naming its header; betas=[...] keeps it."""
        conv = convo.loads(orjson.dumps(request(context_management={"edits": []})))
        out, (change,) = t.drop_unknown_fields().explain(conv)
        assert change.path == "$.context_management" and change.what == "removed beta-only key 'context_management'"
        assert "anthropic-beta: context-management-2025-06-27" in change.why and "schema.beta-only" in change.why
        assert validate(out).ok
        keep = t.drop_unknown_fields(betas=["context-management-2025-06-27"])
        assert keep(conv) is conv

    def test_allow_keeps_named_keys_as_validate_accepts_them(self) -> None:
        """allow= takes the names and $.path patterns validate(allow=...) takes."""
        body = request(x_trace_id="t1")
        body["messages"][2]["x_meta"] = 1
        body["messages"][0]["content"][0]["x_gone"] = 1
        conv = convo.loads(orjson.dumps(body))
        allow = ["x_trace_id", "$.messages[*].x_meta"]
        out, changes = t.drop_unknown_fields(allow=allow).explain(conv)
        assert [c.path for c in changes] == ["$.messages[0].content[0].x_gone"]
        assert out.extra["x_trace_id"] == "t1" and out.messages[2].extra["x_meta"] == 1
        assert validate(out, allow=allow).ok and not validate(out).ok

    def test_unknown_block_types_are_kept_and_noted(self) -> None:
        """A block of an unknown type is content, not a field: it stays, reported as a note
        (not an edit), and validate still refuses it; its own unknown keys are not looked into."""
        body = request()
        body["messages"][3]["content"].append({"type": "texty", "text": "x", "x_key": 1})
        conv = convo.loads(orjson.dumps(body))
        out, (note,) = t.drop_unknown_fields().explain(conv)
        assert out is conv
        assert note.note and note.path == "$.messages[3].content[1]" and "schema.unknown-type" in note.why
        assert [v.rule for v in validate(out).errors] == ["schema.unknown-type"]

    def test_arguments_are_lists_of_names(self) -> None:
        with pytest.raises(TypeError):
            t.drop_unknown_fields(betas="context-management-2025-06-27")
        with pytest.raises(TypeError):
            t.drop_unknown_fields(allow=[1])  # type: ignore[list-item]

    def test_repr_parses_back(self) -> None:
        tr = t.drop_unknown_fields(betas=["b1"], allow=["x", "$.messages[*].y"])
        assert repr(tr) == "drop_unknown_fields(betas=('b1',), allow=('$.messages[*].y', 'x'))"
        assert t.parse(repr(tr)) == tr and repr(t.drop_unknown_fields()) == "drop_unknown_fields()"
        assert t.drop_unknown_fields(betas={"b2", "b1"}) == t.drop_unknown_fields(betas=["b1", "b2", "b1"])
        assert repr(t.migrate(model=OPUS, betas={"b2", "b1"})) == "migrate(model='claude-opus-4-8', betas=('b1', 'b2'))"


# --------------------------------------------------------------------------- lazy turns


class TestLazyTurns:
    def test_a_top_level_key_builds_no_turn(self) -> None:
        """Removing a top-level key keeps every turn the input's own, unbuilt."""
        conv = convo.loads(orjson.dumps(request(x_newer=1)))
        assert sum(lazy_blocks(m) is not None for m in conv.messages) == 4
        out = t.drop_unknown_fields()(conv)
        assert "x_newer" not in out.extra
        assert all(a is b for a, b in zip(out.messages, conv.messages, strict=True))
        assert not any(built(m) for m in conv.messages if lazy_blocks(m) is not None)

    def test_only_the_turn_that_loses_a_key_is_built(self) -> None:
        """An unknown key inside a lazy turn's cache_control: that turn is replaced (built, without
        the key); the others are the input's own and stay unbuilt; the result is the eager one's."""
        body = request()
        body["messages"][0]["content"][0]["cache_control"]["x_scope"] = "org"
        data = orjson.dumps(body)
        conv = convo.loads(data)
        assert lazy_blocks(conv.messages[0]) is not None  # the key is in a JSON-valued field: still lazy
        out, changes = t.drop_unknown_fields().explain(conv)
        assert [c.path for c in changes] == ["$.messages[0].content[0].cache_control.x_scope"]
        assert out.messages[0] is not conv.messages[0]
        assert all(out.messages[i] is conv.messages[i] for i in range(1, 5))
        assert not any(built(m) for m in conv.messages if lazy_blocks(m) is not None)
        eager = structure(orjson.loads(data), Conversation)
        assert out == t.drop_unknown_fields()(eager)
        assert convo.dumps(out) == convo.dumps(t.drop_unknown_fields()(eager)) == orjson.dumps(REQUEST)


# --------------------------------------------------------------------------- migrate and the command


class TestMigrate:
    def test_migrated_realworld_requests_pass_the_closed_world_check(self) -> None:
        """migrate removes what drop_unknown_fields removes, first (its paths name the input),
        so a migrated realworld request has no schema violation left."""
        migrate = t.migrate(model=OPUS)
        n = 0
        for i, line in enumerate(realworld_lines()):
            conv = conversation_of(decode_line(RawLine("realworld", i, line)).value)
            assert conv is not None
            try:
                out, changes = migrate.explain(conv)
            except convo.errors.TransformError:
                continue  # too many images for the target: migrate refuses, as documented
            assert schema_violations(out) == []
            dropped = [c for c in changes if c.what.startswith("removed") and "key" in c.what]
            assert [c.path for c in dropped] == [c.path for c in t.drop_unknown_fields().explain(conv)[1]]
            n += bool(dropped)
        assert n >= 5

    def test_an_effort_only_system_message_without_its_beta_goes_whole(self) -> None:
        """A mid-conversation system message holding only output_config (a beta-only key): without
        its beta, migrate removes the key and then the message left empty (a 400 otherwise);
        with it, both stay."""
        body = request()
        body["messages"].insert(1, {"role": "system", "content": "", "output_config": {"effort": "low"}})
        conv = convo.loads(orjson.dumps(body))
        out, changes = t.migrate(model=OPUS).explain(conv)
        assert [(c.what, c.path) for c in changes] == [
            ("removed beta-only key 'output_config'", "$.messages[1].output_config"),
            ("removed an effort-only system message", "$.messages[1]")]
        assert convo.dumps(out) == orjson.dumps(REQUEST) and validate(out).ok
        beta = betas_needed(body)
        kept = t.migrate(model=OPUS, betas=beta)(conv)
        assert kept is conv and validate(kept, betas=beta).ok

    def test_betas_and_allow_pass_through(self) -> None:
        conv = convo.loads(orjson.dumps(request(context_management={"edits": []}, x_trace_id="t")))
        out = t.migrate(model=OPUS, betas=["context-management-2025-06-27"], allow=["x_trace_id"])(conv)
        written = orjson.loads(convo.dumps(out))
        assert written["x_trace_id"] == "t" and written["context_management"] == {"edits": []}
        assert validate(out, betas=["context-management-2025-06-27"], allow=["x_trace_id"]).ok
        out2 = t.migrate(model=OPUS)(conv)
        assert orjson.loads(convo.dumps(out2)) == {**REQUEST, "model": OPUS} and validate(out2).ok


class TestCommand:
    def test_transform_command_drops_and_counts(self, tmp_path: Path) -> None:
        """`convo transform -t 'drop_unknown_fields()'` writes the lines without their unknown
        keys; `--list` names it; `convo validate` then passes."""
        src = tmp_path / "in.jsonl"
        src.write_bytes(orjson.dumps(request(x_newer=1, response_format={"type": "json"})) + b"\n"
                        + orjson.dumps(REQUEST) + b"\n")
        out = tmp_path / "out.jsonl"
        p = subprocess.run([*CONVO, "transform", str(src), "-t", "drop_unknown_fields()", "-o", str(out)],
                           capture_output=True, check=True, cwd=tmp_path)
        assert b"2 lines in = 2 out + 0 rejected" in p.stderr
        assert [orjson.loads(x) for x in out.read_bytes().splitlines()] == [REQUEST, REQUEST]
        assert subprocess.run([*CONVO, "validate", str(src), "-q"], cwd=tmp_path).returncode == 1
        assert subprocess.run([*CONVO, "validate", str(out), "-q"], cwd=tmp_path).returncode == 0
        listed = subprocess.run([*CONVO, "transform", "--list"], capture_output=True, check=True, text=True).stdout
        assert "drop_unknown_fields(*, betas: Iterable[str] = (), allow: Iterable[str] = ())" in listed


class TestTransformValidateForBetas:
    """``convo transform --validate-for`` takes ``--beta`` and ``--allow`` as ``convo validate``
    does (before, a line with a beta-only key was always rejected as breaking schema.beta-only)."""

    def _run(self, tmp_path, *args: str):
        import subprocess
        import sys

        line = {"model": "claude-opus-4-8", "max_tokens": 16, "context_management": {"edits": []},
                "x_trace_id": "t1", "messages": [{"role": "user", "content": "hi"}]}
        (tmp_path / "in.jsonl").write_bytes(orjson.dumps(line) + b"\n")
        return subprocess.run([sys.executable, "-m", "convo.cli", "transform", "in.jsonl", "-o", "out.jsonl",
                               "-t", "drop_sampling_params()", "--validate-for", "claude-opus-4-8", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    def test_beta_and_allow_accept_what_they_name(self, tmp_path):
        r = self._run(tmp_path)
        assert r.returncode == 1, r.stderr  # 1 in, 0 out
        rej = orjson.loads((tmp_path / "out.rejects.jsonl").read_bytes().splitlines()[0])
        assert rej["code"] == "rule" and "schema." in rej["reason"]
        r = self._run(tmp_path, "--beta", "context-management-2025-06-27", "--allow", "x_trace_id")
        assert r.returncode == 0, r.stderr
        out = orjson.loads((tmp_path / "out.jsonl").read_bytes())
        assert out["context_management"] == {"edits": []} and out["x_trace_id"] == "t1"

    def test_beta_without_validate_for_is_a_usage_error(self, tmp_path):
        import subprocess
        import sys

        (tmp_path / "in.jsonl").write_bytes(b"")
        r = subprocess.run([sys.executable, "-m", "convo.cli", "transform", "in.jsonl", "-t", "drop_images()",
                            "--beta", "x"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "--validate-for" in r.stderr

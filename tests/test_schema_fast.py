"""The closed-world walk's fast verdicts (``convo.rules._schema._fast``, the compiled per-class
and per-union checks) only skip work: they never change what ``validate`` reports.

The oracle is the same walk over a schema compiled with every fast verdict "maybe" (so every
set value is walked, as the first, slow, cut of the closed world did). Requests are generated
from the official specs (GA and beta), then one random mutation is applied at a random depth:
an unknown key, a key of the wrong JSON type, a beta-only key, an unknown ``type`` tag, a key
removed, or nothing; and a random set of beta headers is named.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any
from unittest import mock

import attrs
from hypothesis import HealthCheck, Phase, event, given, reject, settings
from hypothesis import strategies as st

import convo
from convo import rules
from convo._json import freeze, thaw
from convo.rules import _schema
from tests._spec_strategies import BETA_SPEC, SchemaStrategies, load_spec

SETTINGS = settings(max_examples=int(os.environ.get("CONVO_FAST_EXAMPLES", "60")), report_multiple_bugs=False, phases=[Phase.explicit, Phase.generate], deadline=None, database=None, suppress_health_check=list(HealthCheck))
BETAS = sorted({h for hs in _schema.load_schema().beta_only().values() for h in hs})
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=32),
                 st.text(max_size=5), st.just([]), st.just([1, "x"]), st.just({}), st.just({"type": "texty"}))


def _never(t: Any) -> Any:
    return lambda v: False


def _slow_schema() -> _schema.Schema:
    with mock.patch.object(_schema, "_fast", _never):
        return _schema.Schema(_schema.load_schema().data)


SLOW = _slow_schema()


def _report(conv: convo.Conversation, betas: list[str], *, slow: bool) -> list[tuple[str, str, str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if slow:
            with mock.patch.object(_schema, "_fast", _never), mock.patch.object(rules, "load_schema", lambda: SLOW), \
                    mock.patch.object(rules, "_plain_verdict", lambda conv, prof, version: False):  # (it is fast verdicts too)
                report = rules.validate(conv, api_version="2023-06-01", betas=betas)
        else:
            report = rules.validate(conv, api_version="2023-06-01", betas=betas)
    return [(v.rule, v.path, v.message, v.hint) for v in report.violations]


def _objects(x: Any) -> list[dict[str, Any]]:
    """Every JSON object in *x*, outermost first."""
    out: list[dict[str, Any]] = []
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            out.append(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def _mutate(req: dict[str, Any], data: st.DataObject) -> str:
    objs = _objects(req)
    target = data.draw(st.sampled_from(objs), label="object")
    kind = data.draw(st.sampled_from(["none", "unknown", "wrong-type", "beta-key", "tag", "drop"]), label="kind")
    keys = sorted(target)
    if kind == "unknown":
        target[data.draw(st.sampled_from(["zz_extra", "stop_sequence", "cache_contro", "x"]))] = 1
    elif kind == "wrong-type" and keys:
        target[data.draw(st.sampled_from(keys))] = data.draw(JUNK)
    elif kind == "beta-key":
        name = data.draw(st.sampled_from(sorted(k.split(".", 1)[1] for k in _schema.load_schema().beta_only() if "." in k)))
        target[name] = data.draw(JUNK)
    elif kind == "tag" and "type" in target:
        target["type"] = data.draw(st.sampled_from(["texty", "custom", "text", "ephemeral", "image"]))
    elif kind == "drop" and keys:
        del target[data.draw(st.sampled_from(keys))]
    return kind


class TestFastVerdictsChangeNothing:
    @SETTINGS
    @given(req=SchemaStrategies(load_spec()).component("CreateMessageParams"), data=st.data())
    def test_ga_requests(self, req, data):
        self._check(req, data)

    @SETTINGS
    @given(req=SchemaStrategies(load_spec(BETA_SPEC)).component("BetaCreateMessageParams"), data=st.data())
    def test_beta_requests(self, req, data):
        self._check(req, data)

    def _check(self, req: dict[str, Any], data: st.DataObject) -> None:
        _mutate(req, data)
        betas = data.draw(st.lists(st.sampled_from(BETAS), max_size=2, unique=True), label="betas")
        try:
            conv = convo.loads(json.dumps(req).encode())
        except convo.DecodeError:
            reject()  # a shape the codec refuses (a required key dropped): nothing to validate
        fast = _report(conv, betas, slow=False)
        assert fast == _report(conv, betas, slow=True)
        event(f"violations: {'some' if fast else 'none'}")
        # and again on the same value: the verdicts compiled on the way are the same the next time
        assert _report(conv, betas, slow=False) == fast


def test_the_oracle_walks_what_the_fast_path_skips():
    """The oracle differs from the real thing in its work, not its verdicts: on a clean request
    the fast path answers without walking the tools; the oracle walks them."""
    conv = convo.loads(json.dumps({
        "model": "claude-opus-4-8", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object", "properties": {}}}],
    }).encode())
    walked: list[str] = []
    real = _schema.Walk.json_object

    def spy(self: Any, v: Any, obj: Any, path: str, **kw: Any) -> None:
        walked.append(path)
        real(self, v, obj, path, **kw)

    with mock.patch.object(_schema.Walk, "json_object", spy):
        assert _report(conv, [], slow=False) == []
        assert walked == []
        assert _report(conv, [], slow=True) == []
    assert "$.tools[0]" in walked


class TestParsedContent:
    """``parsed_content_ok`` judges a turn's parsed blocks without building them (what
    ``drop_unknown_fields`` does for lazily decoded turns): when it says clean, the walk over the
    built blocks reports nothing."""

    @SETTINGS
    @given(req=SchemaStrategies(load_spec()).component("CreateMessageParams"), data=st.data())
    def test_clean_parsed_content_walks_clean(self, req, data):
        _mutate(req, data)
        msgs = req.get("messages")  # (a mutation may have made it any value)
        for i, msg in enumerate(msgs if isinstance(msgs, list) else []):
            content = msg.get("content") if isinstance(msg, dict) else None
            if not isinstance(content, list) or not _schema.parsed_content_ok(content):
                continue
            try:
                conv = convo.loads(json.dumps({"model": "claude-opus-4-8", "max_tokens": 8,
                                               "messages": [{"role": "user", "content": content}]}).encode())
            except convo.DecodeError:
                continue  # the codec refuses it: nothing to walk
            found = [(rule, path) for rule, path, _, _ in _report(conv, [], slow=True) if rule.startswith("schema.")]
            assert found == [], (i, content, found)
            event("clean content walked")


def test_remembered_tools_verdicts_never_hide_a_fault():
    """A tools value found fine is remembered by identity (the codec shares a repeated tools
    value between lines); a value with a fault is never remembered, and an equal-looking value
    that is another object is checked on its own."""
    good = b'{"name": "t", "description": "d", "input_schema": {"type": "object", "properties": {}}}'
    bad = b'{"name": "t", "description": "d", "input_schema": {"type": "object"}, "x_extra": 1}'

    def line(tools: bytes) -> convo.Conversation:
        return convo.loads(b'{"model": "claude-opus-4-8", "max_tokens": 8, "tools": [' + tools
                           + b'], "messages": [{"role": "user", "content": "Hi"}]}')

    first, second = line(good), line(good)
    assert first.tools is second.tools  # the codec shares it: the verdict is reused
    for conv in (first, second, first):
        assert _report(conv, [], slow=False) == []
    for _ in range(3):
        assert [(r, p) for r, p, _, _ in _report(line(bad), [], slow=False)] == [("schema.unknown-key", "$.tools[0].x_extra")]
    many = [attrs.evolve(first, tools=freeze(thaw(first.tools))) for _ in range(_schema._REMEMBER + 5)]
    for conv in many:  # more values than are remembered: still right, the memory stays bounded
        assert _report(conv, [], slow=False) == []

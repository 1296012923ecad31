"""``convo validate`` judges a plain request on its parsed JSON (:class:`convo.rules._plain.PlainCheck`)
and never decodes one it finds clean.

The check only chooses a path, so its promise is one implication: where it answers True,
:func:`convo.rules.validate` (the full pass on built messages: the oracle) reports nothing for
the same profile and API version, and the line decodes. Every test here holds it to that, on
realworld requests, on generated plain requests, on the same broken at the top level or in the
turns, and on any JSON at all; and ``convo validate``'s output with the check against without it.
"""

from __future__ import annotations

import base64
import copy
import json
import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
import convo.rules as R
from convo.codec import dump_json
from convo.codec import lines as L
from convo.codec.lines import conversation_of, lazy_masks
from convo.errors import DecodeError
from convo.profiles import get_profile
from convo.rules._plain import PLAIN_KEYS, PlainCheck
from convo.stream import ops
from convo.stream.ops import ValidateOp
from tests._helpers_cli import realworld_requests
from tests.test_clean_turns import BREAKS, PNG, break_all, plain_requests
from tests.test_model import gif, jpeg, webp_vp8x

FIXTURES = Path(__file__).parent.parent / "fixtures" / "transcripts.jsonl"


def _image(media_type: str, data: bytes) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode()}}


GIF = _image("image/gif", gif(30, 20))
WEBP = _image("image/webp", webp_vp8x(640, 480))
JPEG_LATE_FRAME = _image("image/jpeg", jpeg(800, 600, metadata=5000))  # its size is past the first 4096 characters
BIG_GIF = _image("image/gif", gif(9000, 10))["source"]["data"]  # wider than 8000 px
HEAVY_GIF = _image("image/gif", gif(10, 10) + bytes(8 * 1024 * 1024))["source"]["data"]  # over 10 MB of base64

# (profile or None for the request's own model, API version)
SETTINGS = [
    ("claude-opus-4-8", "2026-10-21"),
    (None, "2023-06-01"),
    (None, "2026-10-21"),
    ("claude-sonnet-4-5", "2023-06-01"),
    ("claude-opus-5", "2023-06-01"),  # thinking cannot be off at some efforts
    ("claude-3-opus", "2023-06-01"),  # max_output 4096, thinking disabled only
]

CHECKS = {s: PlainCheck(lazy_masks, None if s[0] is None else get_profile(s[0]), api_version=s[1])
          for s in SETTINGS}


def full_report(raw: bytes, profile: str | None, version: str) -> Any:
    """The oracle: validate on the decoded request, the full pass on built messages."""
    was = R.clean_turns, R._plain_verdict
    R.clean_turns = lambda turns, masks: False
    R._plain_verdict = lambda conv, prof, version: False
    try:
        return R.validate(convo.loads(raw), profile=profile, api_version=version)
    finally:
        R.clean_turns, R._plain_verdict = was


def judge(obj: Any) -> list[bool]:
    """The check's verdict on *obj* under each setting; where it is True the line decodes and
    the oracle reports nothing. ``validate`` on the request as ``convo.loads`` decodes it (which
    takes the check where it can) gives the oracle's report in every setting. The check never
    changes *obj*."""
    before = copy.deepcopy(obj)
    raw = dump_json(obj)  # (integers of any size too)
    try:
        convo.loads(raw)
    except DecodeError:
        raw = None
    out = []
    for (profile, version), check in CHECKS.items():
        verdict = check(obj)
        assert verdict is True or verdict is False
        if verdict and raw is None:  # pragma: no cover - the failure to report
            pytest.fail("judged plain but does not decode")
        if raw is not None:
            report = full_report(raw, profile, version)
            if verdict:
                assert report.violations == (), (profile, version, report.violations, obj)
            assert R.validate(convo.loads(raw), profile=profile, api_version=version) == report
        out.append(verdict)
    assert obj == before
    return out


# --------------------------------------------------------------------------- generated requests

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """*good* three times in four, else *bad*: most generated requests are plain, many are not."""
    return st.one_of(good, good, good, bad)


TOOL = st.fixed_dictionaries(
    {"name": mostly(st.sampled_from(["run_sql", "get-weather", "f", "x" * 64]),
                    st.sampled_from(["x" * 129, "bad name", "", "ñ", 3])),
     "input_schema": mostly(st.sampled_from([{"type": "object"}, {"type": "object", "properties": {
         "q": {"type": "string"}}, "required": ["q"]}]), st.sampled_from([{"type": "string"}, {}, {"type": "object", "x": 1}]))},
    optional={"description": mostly(st.just("Runs it."), st.sampled_from(["", 3])),
              "type": st.sampled_from(["custom", None, "web_search_20250305", "bash_20250124", "nope"]),
              "cache_control": st.sampled_from([{"type": "ephemeral"}, None]),
              "strict": st.booleans(), "x_meta": st.just(1)})
TOP = {
    "system": mostly(st.one_of(TEXT, st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": TEXT}), max_size=3)),
                     st.one_of(st.just(""), st.lists(st.fixed_dictionaries(
                         {"type": st.sampled_from(["text", "text", "image"]), "text": st.sampled_from(["B", "", " ", 7])},
                         optional={"cache_control": st.just({"type": "ephemeral"}), "citations": st.just([])}), max_size=3),
                         st.just(None), st.just({"type": "text"}))),
    "metadata": mostly(st.fixed_dictionaries({}, optional={"user_id": st.just("u-1")}),
                       st.one_of(st.fixed_dictionaries({}, optional={"user_id": st.sampled_from([None, 3, "x" * 300]),
                                                                     "session": st.just("s")}), st.just(None), st.just([]))),
    "stop_sequences": mostly(st.lists(st.sampled_from(["END", "\n\nHuman:"]), max_size=3),
                             st.one_of(st.lists(st.sampled_from(["", " "]), min_size=1, max_size=2), st.just(None),
                                       st.just("END"), st.just([1]))),
    "thinking": mostly(
        st.sampled_from([{"type": "enabled", "budget_tokens": 1024}, {"type": "enabled", "budget_tokens": 2000},
                         {"type": "adaptive"}, {"type": "disabled"}, {"type": "adaptive", "display": "omitted"}]),
        st.one_of(st.fixed_dictionaries({"type": st.sampled_from(["enabled", "adaptive", "disabled", "between_tools", "on"])},
                                        optional={"budget_tokens": st.sampled_from([0, 1023, 5000, 10**6, 1.5, True]),
                                                  "display": st.sampled_from(["summarized", "omitted", "x"])}),
                  st.just(None), st.just("enabled"))),
    "tools": mostly(st.lists(TOOL, max_size=3), st.sampled_from([None, {}, [1]])),
    "temperature": mostly(st.sampled_from([0, 0.5, 1, 1.0]), st.sampled_from([1.5, -0.1, True, None, "0.5"])),
    "top_p": mostly(st.sampled_from([0.9, 0.95, 0.99, 1]), st.sampled_from([2, None])),
    "top_k": mostly(st.sampled_from([0, 5]), st.sampled_from([-1, 1.0, None])),
    "tool_choice": mostly(st.sampled_from([{"type": "auto"}, {"type": "any"}, {"type": "none"}, {"type": "tool", "name": "f"},
                                           {"type": "tool", "name": "run_sql"}, {"type": "any", "disable_parallel_tool_use": True}]),
                          st.sampled_from([{"type": "tool"}, {"type": "auto", "x": 1}, {"type": "nope"}, "auto"])),
    "output_config": mostly(st.sampled_from([{"effort": "high"}, {"effort": "xhigh"}, {"effort": "max"}, {"effort": "low"},
                                             {"effort": None}, {}]),
                            st.sampled_from([{"effort": "huge"}, {"format": {"type": "json_schema", "schema": {
                                "type": "object"}}}, {"task_budget": 5}, {"x": 1}, []])),
    "stream": mostly(st.booleans(), st.sampled_from([None, "yes"])),
    "x_trace": st.just("t"),
}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A generated plain request with top-level keys drawn from :data:`TOP`, a model and
    max_tokens in and out of range."""
    req = draw(plain_requests())
    if len(req["messages"]) > 1 and req["messages"][-1]["role"] == "assistant" and draw(mostly(st.just(True),
                                                                                              st.just(False))):
        req["messages"].pop()  # (mostly no prefill: its rules are the full pass's)
    req["model"] = draw(mostly(st.sampled_from(["claude-opus-4-8", "claude-sonnet-4-5", "claude-opus-5", "claude-3-opus",
                                                "claude-haiku-4-5-20251001", "claude-sonnet-4-6"]),
                               st.sampled_from(["claude-next-9", "", 7])))
    req["max_tokens"] = draw(mostly(st.sampled_from([1, 64, 4096, 8000]),
                                    st.sampled_from([4097, 64000, 128000, 10**6, 0, -1, True, 64.0, "64"])))
    for key in draw(st.lists(st.sampled_from(sorted(TOP)), max_size=4, unique=True)):
        req[key] = draw(TOP[key])
    return req


class TestImplication:
    @settings(max_examples=400, deadline=None)
    @given(requests())
    def test_generated(self, req: dict[str, Any]) -> None:
        judge(req)

    @settings(max_examples=200, deadline=None)
    @given(requests(), st.lists(st.sampled_from(BREAKS), min_size=1, max_size=2), st.data())
    def test_generated_broken_in_the_turns(self, req: dict[str, Any], breaks: list[str],
                                           data: st.DataObject) -> None:
        break_all(req, breaks, data)
        judge(req)

    @settings(max_examples=150, deadline=None)
    @given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                        | st.text(max_size=4),  # JSON values: no NaN, no infinity
                        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                            st.sampled_from([*sorted(PLAIN_KEYS), "role", "content", "type", "text"]), kids, max_size=4),
                        max_leaves=12))
    def test_any_json(self, obj: Any) -> None:
        for check in CHECKS.values():
            assert check(obj) is False or isinstance(obj, dict)
        if isinstance(obj, dict):
            judge(obj)

    def test_plain_requests_are_judged_plain(self) -> None:
        """The check is of use: the plain shapes the corpora hold are judged plain."""
        hi = [{"role": "user", "content": "Hi"}]
        base = {"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": hi}
        shapes = [
            {}, {"system": "Be brief."}, {"system": [{"type": "text", "text": "Be brief."}]},
            {"metadata": {"user_id": "u-1"}}, {"stop_sequences": ["END"]},
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            {"tools": [{"name": "run_sql", "description": "Runs it.", "input_schema": {"type": "object"}}]},
            {"temperature": 0.5, "top_p": 0.9, "top_k": 5},
            {"stream": True}, {"tool_choice": {"type": "auto"}},
            {"tool_choice": {"type": "tool", "name": "f"}, "tools": [{"name": "f", "input_schema": {"type": "object"}}]},
        ]
        for shape in shapes:
            req = {**base, **shape}
            assert judge(req)[3] is True, shape  # claude-sonnet-4-5, 2023-06-01

    def test_images(self) -> None:
        """Turns clean but for images: plain where the image rules find them fine (judged on the
        parsed blocks), not where they find anything, nor with a breakpoint."""
        check = CHECKS[(None, "2023-06-01")]

        def req(*blocks: dict[str, Any]) -> dict[str, Any]:
            return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [
                {"role": "user", "content": [{"type": "text", "text": "See"}, *blocks]}]}
        png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
        url = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
        assert judge(req(png))[1] is True and judge(req(png, url))[1] is True
        jpeg = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}}
        broken = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG[:-3] + "@@="}}
        for bad in (jpeg, broken):
            assert check(req(bad)) is False and full_report(orjson.dumps(req(bad)), None, "2023-06-01").violations
        assert check(req({**png, "cache_control": {"type": "ephemeral"}})) is False
        many = req(*[png] * 101)  # more than the model takes
        assert check(many) is False and "image.too-many" in full_report(orjson.dumps(many), None, "2023-06-01").rules

    @pytest.mark.parametrize(("block", "plain"), [
        (GIF, True), (WEBP, True), (JPEG_LATE_FRAME, True),
        ({"type": "image", "source": {"type": "url", "url": "https://example.com/a.png", "x": 1}}, False),
        ({"type": "image", "source": {"type": "url", "url": 5}}, False),
        ({"type": "image", "source": {"type": "file", "file_id": "file_1"}}, False),  # a beta's source
        ({"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": PNG}}, False),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD" * 8}}, False),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG + "\n"}}, False),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}, True),  # too short to tell
        ({"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": BIG_GIF}}, False),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": HEAVY_GIF}}, False),
        ({"type": "image", "source": {"type": "url", "url": "https://x/a.png"},
          "cache_control": {"type": "ephemeral", "ttl": "5m"}}, False),  # a breakpoint
    ])
    @pytest.mark.parametrize("inside", [False, True])
    def test_image_shapes(self, block: dict[str, Any], plain: bool, inside: bool) -> None:
        """Images are judged on their parsed blocks (never built): plain for the GA shapes the
        image rules find fine, in a user turn or in a tool result; anything else goes to validate,
        which reports the same either way."""
        if inside:
            msgs = [{"role": "user", "content": "Go"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [block]}]}]
        else:
            msgs = [{"role": "user", "content": [{"type": "text", "text": "See"}, block]}]
        got = judge({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": msgs})
        assert got[1] is plain

    @pytest.mark.parametrize(("change", "rule"), [
        ({"max_tokens": 64001}, "request.max-tokens-range"),
        ({"model": "claude-next-9"}, "model.unknown"),
        ({"system": [{"type": "text", "text": ""}]}, "text.empty"),
        ({"system": None}, None),  # (a decode error)
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}}, "thinking.budget"),
        ({"thinking": {"type": "adaptive"}}, "thinking.unsupported-mode"),
        ({"tools": [{"name": "a b", "input_schema": {"type": "object"}}]}, "tools.name"),
        ({"tools": [{"name": "f", "input_schema": {"type": "object"}}] * 2}, "tools.duplicate-name"),
        ({"temperature": 1.5}, "sampling.range"),
        ({"temperature": 0.5, "thinking": {"type": "enabled", "budget_tokens": 1024}}, "sampling.with-thinking"),
        ({"metadata": {"user": "u"}}, "schema.unknown-key"),
        ({"tool_choice": {"type": "tool", "name": "g"}, "tools": [{"name": "f", "input_schema": {"type": "object"}}]},
         "tool-choice.unknown-tool"),
        ({"tool_choice": {"type": "any"}, "thinking": {"type": "enabled", "budget_tokens": 1024}},
         "tool-choice.forced-unsupported"),
        ({"output_config": {"effort": "high"}}, "effort.unsupported"),
        ({"stream": "yes"}, None),  # (a decode error)
        ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}]}, None),
    ])
    def test_what_validate_reports_is_never_plain(self, change: dict[str, Any], rule: str | None) -> None:
        req = {"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [{"role": "user", "content": "Hi"}],
               **change}
        check = CHECKS[(None, "2023-06-01")]  # (each request's own model)
        assert check(req) is False
        if rule is not None:
            assert rule in full_report(orjson.dumps(req), None, "2023-06-01").rules

    def test_null_values_are_never_plain(self) -> None:
        check = CHECKS[(None, "2023-06-01")]
        base = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
        assert check(base)
        for key in sorted(PLAIN_KEYS - {"model", "max_tokens", "messages"}):
            assert check({**base, key: None}) is False, key

    def test_sampling_under_2026_is_never_plain(self) -> None:
        req = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}],
               "temperature": 1}
        assert CHECKS[(None, "2023-06-01")](req) and not CHECKS[(None, "2026-10-21")](req)
        assert "sampling.removed" in full_report(orjson.dumps(req), None, "2026-10-21").rules

    def test_nan_is_never_plain(self) -> None:
        req = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}],
               "temperature": math.nan}
        assert not CHECKS[(None, "2023-06-01")](req)

    @pytest.mark.parametrize("where", ["output_config", "tools"])
    def test_deep_free_json_is_never_plain(self, where: str) -> None:
        """Found in review: an output format's schema nested ~500 deep was judged plain, but
        decoding it goes past Python's recursion limit (a decode error the full path reports)."""
        x: Any = 1
        for _ in range(600):
            x = {"a": x}
        req: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 64,
                               "messages": [{"role": "user", "content": "Hi"}]}
        if where == "output_config":
            req["output_config"] = {"format": {"type": "json_schema", "schema": {"a": x}}}
        else:
            req["tools"] = [{"name": "f", "input_schema": {"type": "object", "properties": {"a": x}}}]
        for check in CHECKS.values():
            assert check(req) is False
        if where == "output_config":  # the command reports the decode error, as without the check
            op = ValidateOp(api_version="2023-06-01")
            out: list[bytes] = []
            assert op.line("f", 1, json.dumps(req).encode(), out, [], op.tally()) is False
            assert b"nested too deeply" in out[0]
        shallow = {**req}
        if where == "output_config":
            shallow["output_config"] = {"format": {"type": "json_schema", "schema": {"type": "object"}}}
            assert judge(shallow)[1] is True

    def test_unknown_api_version(self) -> None:
        with pytest.raises(ValueError, match="unknown API version"):
            PlainCheck(lazy_masks, api_version="2025-01-01")


class TestCorpora:
    def test_realworld_requests(self) -> None:
        plain = judged = 0
        for raw in realworld_requests():
            judged += 1
            plain += any(judge(orjson.loads(raw)))
        # every path ran (on 2026-12-07: 102 of 310 plain under one setting or more; most of the rest name
        # models convo has no profile for)
        assert judged >= 250 and 80 <= plain < judged, (plain, judged)

    def test_fixtures(self) -> None:
        lines = FIXTURES.read_bytes().splitlines()
        verdicts = []
        for raw in lines:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            verdicts.append(any(judge(obj)))
        assert sum(verdicts) >= 100, sum(verdicts)


class TestValidateFunction:
    """``convo.rules.validate`` takes the check for a request the codec decoded and nothing
    changed since (its parsed object and the turns' masks are kept with it)."""

    RAW = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 64, "system": "Be brief.",
                        "messages": [{"role": "user", "content": "Hi"}]})

    def test_a_plain_request_skips_the_rules(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The reproducer: validate ran every rule on a plainly valid request."""
        def boom(*a: Any, **k: Any) -> None:
            raise AssertionError("a rule ran")
        monkeypatch.setattr(R, "_check_request", boom)
        assert R.validate(convo.loads(self.RAW)).ok
        with pytest.raises(AssertionError, match="a rule ran"):  # built, not decoded: the rules run
            R.validate(convo.Conversation(model="claude-opus-4-8", max_tokens=64,
                                          messages=[convo.Message("user", "Hi")]))
        with pytest.raises(AssertionError, match="a rule ran"):  # a beta header: the rules run
            R.validate(convo.loads(self.RAW), betas=["context-management-2025-06-27"])

    def test_a_changed_copy_is_judged_on_its_values(self) -> None:
        import attrs
        conv = convo.loads(self.RAW)
        assert R.validate(conv).ok
        assert R.validate(attrs.evolve(conv, max_tokens=10**7)).rules == ("request.max-tokens-range",)
        assert R.validate(conv.with_params(max_tokens=10**7)).rules == ("request.max-tokens-range",)
        big = convo.loads(orjson.dumps({**orjson.loads(self.RAW), "max_tokens": 8000}))
        assert R.validate(big).ok  # (claude-opus-4-8 takes 128,000)
        assert R.validate(big, profile="claude-3-opus").rules == ("request.max-tokens-range",)  # (4,096)

    def test_same_reports_as_the_full_pass(self) -> None:
        lines = FIXTURES.read_bytes().splitlines()
        for raw in lines:
            try:
                conv = convo.loads(raw)
            except DecodeError:
                continue
            for profile, version in SETTINGS:
                assert R.validate(conv, profile=profile, api_version=version) == full_report(raw, profile, version)


class TestValidateCommand:
    """``convo validate``'s line: the same output, tallies and verdicts with the check as without."""

    def _run(self, op: ValidateOp, lines: list[bytes]) -> tuple[list[bytes], list[bytes], Any, list[bool]]:
        out: list[bytes] = []
        rejects: list[bytes] = []
        stats = op.tally()
        kept = [op.line("f.jsonl", i + 1, raw, out, rejects, stats) for i, raw in enumerate(lines)]
        return out, rejects, stats, kept

    def _lines(self) -> list[bytes]:
        lines = FIXTURES.read_bytes().splitlines()
        extra = [b"\xef\xbb\xbf" + lines[0], b"[1]", b"null", b"{", b'{"model": "m"', b"{}",
                 b'{"model": "claude-opus-4-8", "max_tokens": 9' + b"9" * 30 + b', "messages": []}',
                 b'{"custom_id": "a", "params": ' + lines[0] + b"}"]
        return lines + extra

    @pytest.mark.parametrize(("model", "version"), [(None, None), ("claude-opus-4-8", "2026-10-21"),
                                                    ("claude-sonnet-4-5", "2023-06-01")])
    def test_same_output(self, model: str | None, version: str | None) -> None:
        lines = self._lines()
        op = ValidateOp(model=model, api_version=version, keep_rejects=True)
        assert op._plain is not None
        without = ValidateOp(model=model, api_version=version, keep_rejects=True)
        without._plain = None
        a, b = self._run(op, lines), self._run(without, lines)
        assert a[0] == b[0] and a[1] == b[1] and a[3] == b[3]
        assert orjson.dumps(a[2], default=lambda o: o.__dict__ if hasattr(o, "__dict__") else str(o)) == orjson.dumps(
            b[2], default=lambda o: o.__dict__ if hasattr(o, "__dict__") else str(o))

    def test_a_plain_line_is_not_decoded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The reproducer: a clean plain line was decoded into a conversation before it was
        validated (the decode alone cost as much as parsing it)."""
        raw = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 64, "system": "Be brief.",
                            "messages": [{"role": "user", "content": "Hi"}]})
        calls: list[int] = []
        real = ops.decode_json_bytes

        def counting(*a: Any, **k: Any) -> Any:
            calls.append(1)
            return real(*a, **k)
        monkeypatch.setattr(ops, "decode_json_bytes", counting)
        op = ValidateOp()
        out: list[bytes] = []
        assert op.line("f", 1, raw, out, [], op.tally()) is True and out == []
        assert calls == []
        bad = orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": ""}]})
        assert op.line("f", 2, bad, out, [], op.tally()) is False and out
        assert calls == [1]  # (parsed once: the decode takes the parsed object)

    def test_no_check_with_betas_allow_or_another_kind(self) -> None:
        assert ValidateOp(betas=["context-management-2025-06-27"])._plain is None
        assert ValidateOp(allow=["x_meta"])._plain is None
        assert ValidateOp(kind="exchange")._plain is None
        assert ValidateOp(kind="request")._plain is not None

    def test_decode_takes_the_parsed_object(self) -> None:
        raw = FIXTURES.read_bytes().splitlines()[0]
        obj = orjson.loads(raw)
        value, parsed = L.decode_json_bytes("f", 1, raw, parsed=obj)
        assert parsed is obj and convo.dumps(conversation_of(value)) == convo.dumps(  # type: ignore[arg-type]
            conversation_of(L.decode_json_bytes("f", 1, raw)[0]))  # type: ignore[arg-type]

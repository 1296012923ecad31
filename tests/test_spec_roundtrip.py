"""Lossless round trips and spec-valid output on requests, responses and batch lines generated from the spec."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convo.codec import dump_json, dumps, dumps_response, loads, loads_response
from convo.codec.lines import RawLine, decode_line, encode_value
from tests._helpers_codec import exact
from tests._spec_strategies import (
    BETA_SPEC,
    GA_SPEC,
    SchemaStrategies,
    accepts_null,
    lenient_components,
    load_spec,
    validator,
    with_unknowns,
)

SPECS = {"ga": (GA_SPEC, ""), "beta": (BETA_SPEC, "Beta")}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@cache
def _strategies(which: str) -> SchemaStrategies:
    return SchemaStrategies(load_spec(SPECS[which][0]))


@cache
def _validator(which: str, component: str, lenient: bool) -> Any:
    spec, prefix = SPECS[which]
    return validator(load_spec(spec), prefix + component, lenient=lenient)


def _component(which: str, name: str) -> st.SearchStrategy[Any]:
    return _strategies(which).component(SPECS[which][1] + name)


def _problems(which: str, component: str, value: Any, *, lenient: bool) -> list[str]:
    v = _validator(which, component, lenient)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(value)]


def _request_rt(value: Any) -> Any:
    return exact(dumps(loads(dump_json(value))))


def _response_rt(value: Any) -> Any:
    return exact(dumps_response(loads_response(dump_json(value))))


def _line_rt(value: Any, kind: str | None = None) -> Any:
    rec = decode_line(RawLine("gen.jsonl", 1, dump_json(value)), kind=kind)  # type: ignore[arg-type]
    return exact(encode_value(rec.value))


@pytest.mark.parametrize("which", ["ga", "beta"])
class TestGeneratedRequests:
    def test_requests_round_trip_and_stay_strictly_valid(self, which: str) -> None:
        """A spec-generated request comes back identical, and what convo writes is strictly valid."""

        @FAST
        @given(_component(which, "CreateMessageParams"))
        def check(req: dict[str, Any]) -> None:
            assert _problems(which, "CreateMessageParams", req, lenient=False) == []  # the generator
            out = _request_rt(req)
            assert out == req
            assert _problems(which, "CreateMessageParams", out, lenient=False) == []

        check()

    def test_requests_with_unknown_keys_and_blocks_round_trip(self, which: str) -> None:
        """Unknown keys at every level and unknown block types in every typed list survive."""

        @FAST
        @given(_component(which, "CreateMessageParams"), st.randoms(use_true_random=False))
        def check(req: dict[str, Any], rnd: random.Random) -> None:
            mutated = with_unknowns(req, rnd)
            assert _request_rt(mutated) == mutated

        check()

    def test_batch_create_bodies_round_trip_line_by_line(self, which: str) -> None:
        """Each request of a batch-create body is a batch_request line that comes back identical and valid."""

        @FAST
        @given(_component(which, "CreateMessageBatchParams"))
        def check(body: dict[str, Any]) -> None:
            lines = [_line_rt(r) for r in body["requests"]]
            assert lines == body["requests"]
            assert _problems(which, "CreateMessageBatchParams", {"requests": lines},
                             lenient=False) == []

        check()


@pytest.mark.parametrize("which", ["ga", "beta"])
class TestGeneratedResponses:
    def test_responses_round_trip_and_stay_valid(self, which: str) -> None:
        """A spec-generated Message comes back identical and passes the lenient response check."""

        @FAST
        @given(_component(which, "Message"))
        def check(resp: dict[str, Any]) -> None:
            out = _response_rt(resp)
            assert out == resp
            assert _problems(which, "Message", out, lenient=True) == []

        check()

    def test_responses_with_unknowns_round_trip(self, which: str) -> None:
        """Unknown keys and block types in a response survive."""

        @FAST
        @given(_component(which, "Message"), st.randoms(use_true_random=False))
        def check(resp: dict[str, Any], rnd: random.Random) -> None:
            mutated = with_unknowns(resp, rnd)
            assert _response_rt(mutated) == mutated

        check()

    def test_batch_result_lines_round_trip(self, which: str) -> None:
        """A spec-generated results line is detected as batch_result and comes back identical and valid."""

        @FAST
        @given(_component(which, "MessageBatchIndividualResponse"), st.randoms(use_true_random=False))
        def check(line: dict[str, Any], rnd: random.Random) -> None:
            out = _line_rt(line)
            assert out == line
            assert _problems(which, "MessageBatchIndividualResponse", out, lenient=True) == []
            mutated = with_unknowns(line, rnd)
            assert _line_rt(mutated, "batch_result") == mutated

        check()

    def test_exchange_lines_round_trip(self, which: str) -> None:
        """A generated request with a generated response (or error body) as an exchange line comes back identical."""

        @FAST
        @given(_component(which, "CreateMessageParams"), _component(which, "Message"),
               _component(which, "ErrorResponse"), st.integers(), st.booleans())
        def check(req: Any, resp: Any, err: Any, ident: int, ok: bool) -> None:
            line = {"id": ident, "request": req, **({"response": resp} if ok else {"error": err})}
            assert _line_rt(line) == line

        check()


class TestGeneratorCoverage:
    @pytest.mark.parametrize(("which", "least"), [("ga", 90), ("beta", 115)])
    def test_the_generator_reaches_most_components(self, which: str, least: int) -> None:
        """The schema walker produces values from most components reachable from the four roots."""
        ss = SchemaStrategies(load_spec(SPECS[which][0]))
        prefix = SPECS[which][1]
        roots = [prefix + r for r in ("CreateMessageParams", "Message",
                                      "MessageBatchIndividualResponse", "CreateMessageBatchParams")]

        for root in roots:  # derandomized: a fixed sample, so the count is stable

            @settings(max_examples=100, database=None, deadline=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(ss.component(root))
            def draw(value: Any) -> None:
                pass

            draw()
        assert ss.reached <= ss.reachable(*roots)
        assert len(ss.reached) >= least, sorted(ss.reachable(*roots) - ss.reached)

    def test_the_walker_refuses_keywords_it_does_not_understand(self) -> None:
        """A schema keyword the walker cannot honour is an error, not silently ignored."""
        ss = SchemaStrategies({"components": {"schemas": {}}})
        with pytest.raises(NotImplementedError, match="not"):
            ss.schema({"not": {"type": "string"}}, 0)

    def test_generated_values_obey_bounds_and_patterns(self) -> None:
        """Integers respect minimum/exclusiveMinimum and strings their pattern and length."""
        ss = SchemaStrategies({"components": {"schemas": {}}})
        schema = {"type": "object", "additionalProperties": False, "required": ["n", "s"],
                  "properties": {"n": {"type": "integer", "exclusiveMinimum": 5, "maximum": 9},
                                 "s": {"type": "string", "pattern": "^[a-z]{1,4}$", "maxLength": 3}}}

        @settings(max_examples=50, database=None)
        @given(ss.schema(schema, 0))
        def check(v: dict[str, Any]) -> None:
            assert 5 < v["n"] <= 9
            assert 1 <= len(v["s"]) <= 3 and v["s"].isalpha()

        check()

    def test_lenient_rule_drops_only_nullable_required_properties(self) -> None:
        """The lenient response schema makes nullable required fields optional and keeps the rest."""
        spec = load_spec(GA_SPEC)
        schemas = spec["components"]["schemas"]
        relaxed = lenient_components(spec)["schemas"]
        assert "stop_details" in schemas["Message"]["required"]
        assert "stop_details" not in relaxed["Message"]["required"]
        assert "content" in relaxed["Message"]["required"]
        assert accepts_null(schemas, schemas["Message"]["properties"]["stop_details"])
        assert not accepts_null(schemas, schemas["Message"]["properties"]["content"])

"""Tests for convo.view.diff and ``convo diff``: what a line says, what changed between two,
the summary, pairing, the --fail-if grammar, and the command on real files and a real run."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convo import model as m
from convo._json import UNSET
from convo.codec.lines import RawLine, decode_line, encode_value
from convo.errors import DecodeError
from convo.pricing import builtin_prices
from convo.testing.showcase import reruns
from convo.view.diff import (
    METRICS,
    ConditionError,
    Digest,
    Keys,
    Matcher,
    Summary,
    compare,
    digest,
    digest_value,
    json_diff,
    parse_condition,
    similarity,
)

ROOT = Path(__file__).parents[1]
TRANSCRIPTS = ROOT / "fixtures" / "transcripts.jsonl"


def ex(stop: str = "end_turn", text: str = "Fine.", *, tools: tuple[tuple[str, Any], ...] = (), error: Any = None,
       ident: str = "in.jsonl:1", model: str = "claude-opus-4-8", usage: tuple[int, int] = (100, 20),
       request: m.Conversation | None = None) -> m.Exchange:
    req = request or m.Conversation(model=model, max_tokens=64).user("Question?")
    if error is not None:
        return m.Exchange(id=ident, request=req, error=error)
    content: Any = tuple([m.Text(text)] if text else []) + tuple(m.ToolUse(f"t{i}", n, a) for i, (n, a) in enumerate(tools))
    details: Any = m.StopDetails("refusal", category="cyber") if stop == "refusal" else UNSET
    return m.Exchange(id=ident, request=req, response=m.Response(
        content=content, stop_reason=stop, model=model, stop_details=details,
        usage=m.Usage(input_tokens=usage[0], output_tokens=usage[1])))


def pair(b: m.Exchange, a: m.Exchange) -> Any:
    return compare(digest_value(b, prices=builtin_prices()), digest_value(a, prices=builtin_prices()))


def convs() -> list[m.Conversation]:
    out = []
    for i, raw in enumerate(TRANSCRIPTS.read_bytes().splitlines(), 1):
        with contextlib.suppress(DecodeError):  # the corpus's five broken lines
            out.append(decode_line(RawLine("t", i, raw)).value)
    return out


class TestCompare:
    def test_nothing_changed(self) -> None:
        """The same record twice: no change, similarity 1, score 0."""
        d = pair(ex(), ex())
        assert not d.changed and d.similarity == 1.0 and d.score == 0 and d.reasons() == []

    def test_refusal_appears_and_vanishes(self) -> None:
        """A refusal that appears (or vanishes) is counted as such and changes the stop reason."""
        d = pair(ex(), ex("refusal", "No."))
        assert d.refusal == "appeared" and d.stop_changed and "refusal appeared (cyber)" in d.reasons()
        assert pair(ex("refusal", "No."), ex()).refusal == "vanished"

    def test_api_errors(self) -> None:
        """An exchange that became an API error (or stopped being one)."""
        err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        d = pair(ex(), ex(error=err))
        assert d.error == "appeared" and d.after.error == "overloaded_error"
        assert pair(ex(error=err), ex()).error == "vanished"

    def test_tool_calls(self) -> None:
        """Other tool names (or count) and other arguments, with the JSON diff of the arguments."""
        a = ex("tool_use", "", tools=(("search", {"q": "paris", "n": 3}),))
        b = ex("tool_use", "", tools=(("search", {"q": "lyon", "n": 3, "lang": "fr"}),))
        c = ex("tool_use", "", tools=(("lookup", {"q": "paris"}),))
        d = pair(a, b)
        assert d.tool_args_changed and not d.tool_names_changed
        assert d.arg_diffs[0][2] == (("$.q", "paris", "lyon"), ("$.lang", UNSET, "fr"))
        assert pair(a, c).tool_names_changed
        assert pair(a, ex("end_turn", "ok")).tool_names_changed  # a call vanished

    def test_text_and_usage(self) -> None:
        """Text length and similarity; usage and cost on both sides."""
        d = pair(ex(text="The cat sat on the mat.", usage=(1000, 100)), ex(text="A dog ran.", usage=(1000, 300)))
        assert d.text_changed and 0 <= d.similarity < 0.5
        assert d.before.cost == pytest.approx(1000 * 5e-6 + 100 * 25e-6)
        assert d.after.counts.output == 300  # type: ignore[union-attr]

    def test_validity_for_a_model(self) -> None:
        """With a check, a request that breaks the target's rules on one side only is reported."""
        from convo.rules import validate

        def check(conv: m.Conversation) -> list[str]:
            return [v.rule for v in validate(conv, profile="claude-opus-4-8").errors]

        bad = m.Conversation(model="claude-opus-4-8", max_tokens=8, temperature=0.2).user("Hi")
        good = m.Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi")
        d = compare(digest_value(ex(request=bad), check=check), digest_value(ex(request=good), check=check))
        assert d.validity == "became valid" and d.before.rules == ("sampling.removed",)

    @given(st.text(), st.text())
    def test_similarity_is_a_similarity(self, a: str, b: str) -> None:
        """Property: 0..1, symmetric, 1 for equal texts."""
        s = similarity(a, b)
        assert 0.0 <= s <= 1.0 and s == similarity(b, a) and similarity(a, a) == 1.0

    @given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=10),
           st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=10))
    def test_json_diff_is_empty_only_for_equal_values(self, a: Any, b: Any) -> None:
        """Property: two JSON values differ exactly when json_diff finds a difference."""
        same = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
        assert (json_diff(a, b, limit=10**6) == []) == same


class TestFastPath:
    def test_reading_the_json_agrees_with_the_codec(self) -> None:
        """The digest read straight from an exchange's JSON is the one the codec's values give,
        on seeded re-runs and on every recorded realworld exchange; a malformed response falls
        back to the codec and gets its error with the $.path."""
        from tests._helpers_cli import realworld_lines

        lines = [encode_value(x) for b, a in reruns(convs()[:80], seed=11, change=0.5) for x in (b, a)]
        lines += [x for x in realworld_lines() if b'"request"' in x[:20] or b'"id"' in x[:10]]
        fields = ("kind", "model", "stop_reason", "refusal", "refusal_category", "error", "tool_calls", "text",
                  "counts", "cost")
        checked = 0
        for raw in lines:
            try:
                value = decode_line(RawLine("f", 1, raw)).value
            except DecodeError:
                continue
            if not isinstance(value, m.Exchange):
                continue
            fast = digest(raw, prices=builtin_prices())
            slow = digest_value(value, prices=builtin_prices())
            assert [getattr(fast, f) for f in fields] == [getattr(slow, f) for f in fields], raw[:200]
            checked += 1
        assert checked > 150
        bad = digest(b'{"id": 1, "request": {}, "response": {"content": [{"type": "text", "text": 7}]}}', file="f", line=3)
        assert bad.undecodable == "f:3: $.response.content[0].text: expected a string, got an integer"


class TestPairing:
    def test_order_does_not_matter(self) -> None:
        """Pairs found in step and pairs found out of order give the same summary."""
        pairs = list(reruns(convs()[:40], seed=5, change=0.5))
        def run(order: list[int]) -> dict[str, Any]:
            s = Summary()
            mt = Matcher(s)
            for i in range(len(pairs)):
                mt.before(digest(encode_value(pairs[i][0]), line=i + 1))
            for i in order:
                mt.after(digest(encode_value(pairs[i][1]), line=i + 1))
            return mt.finish().as_json()

        in_step = run(list(range(len(pairs))))
        shuffled = run(list(reversed(range(len(pairs)))))
        assert in_step["matched"] == shuffled["matched"] == 40
        assert {k: v for k, v in in_step.items() if k != "worth_reading"} == \
               {k: v for k, v in shuffled.items() if k != "worth_reading"}

    def test_run_ids_match_across_file_names(self) -> None:
        """``convo run`` ids of two inputs of other names pair by position (the line numbers
        moved where the transform dropped a bad line); other ids pair as they are."""
        s = Summary()
        mt = Matcher(s)
        kb, ka = Keys(), Keys()
        for n_before, n_after in ((2, 1), (7, 6), (8, 7)):
            mt.before(digest(encode_value(ex(ident=f"transcripts.jsonl:{n_before}", text=str(n_before))), keys=kb))
            mt.after(digest(encode_value(ex(ident=f"migrated.jsonl:{n_after}", text=str(n_before))), keys=ka))
        mt.before(digest(encode_value(ex(ident="custom-a")), keys=kb))
        mt.after(digest(encode_value(ex(ident="custom-b")), keys=ka))
        mt.finish()
        assert (s.matched, s.changed, s.only_before, s.only_after) == (3, 0, 1, 1)

    def test_bad_lines_and_duplicates(self) -> None:
        """Undecodable lines are counted per side; a key seen twice pairs by occurrence."""
        s = Summary()
        mt = Matcher(s)
        mt.before(digest(b"{not json", line=1))
        for _ in range(2):
            mt.before(Digest(key=("id", "x")))
            mt.after(Digest(key=("id", "x")))
        mt.after(Digest(key=("id", "x")))
        mt.finish()
        assert (s.undecodable_before, s.matched, s.only_after) == (1, 2, 1)


class TestConditions:
    @pytest.mark.parametrize(("text", "holds"), [
        ("matched == 10", True),
        ("refusals_appeared > 0", True),
        ("refusals_appeared > 10%", False),
        ("refusals_appeared >= 10%", True),
        ("tool_calls_changed > 0 or refusals_appeared >= 1", True),
        ("tool_calls_changed > 0 and refusals_appeared >= 1", False),
        ("(tool_calls_changed > 0 or matched < 5) and refusals_appeared != 0", False),
        ("mean_similarity < 100%", True),
        ("cost_change > 0", True),
        ("output_tokens_change > 40%", True),
        ("output_tokens_change > 50%", False),
    ])
    def test_evaluates(self, text: str, holds: bool) -> None:
        """Counts, shares (%), totals' changes, precedence (and before or) and parentheses."""
        s = Summary()
        for _ in range(9):
            s.add(pair(ex(), ex()))
        s.add(pair(ex(usage=(10, 10)), ex("refusal", "No", usage=(10, 100))))
        assert parse_condition(text).holds(s) is holds

    @pytest.mark.parametrize(("text", "why"), [
        ("tool_calls_changd > 2%", "unknown metric 'tool_calls_changd'"),
        ("tool_calls_changed 2", "expected one of > >= < <= == !="),
        ("tool_calls_changed >", "expected a number"),
        ("tool_calls_changed > 2 extra", "expected 'and', 'or' or the end"),
        ("(matched > 1", "expected ')'"),
        ("__import__('os').system('x') > 1", "unexpected character"),
        ("", "expected a metric"),
    ])
    def test_errors_say_where(self, text: str, why: str) -> None:
        """A bad expression is a ConditionError with the reason and the column."""
        with pytest.raises(ConditionError) as e:
            parse_condition(text)
        assert why in str(e.value) and "column" in str(e.value)

    @given(st.lists(st.sampled_from([*"()<>=!% .0123456789", " and ", " or ", *METRICS, "x", "\u00e9", "1e5"]),
                    max_size=12).map("".join) | st.text(max_size=60))
    def test_fuzz(self, text: str) -> None:
        """Fuzz: any text either parses or raises ConditionError; nothing else escapes."""
        try:
            c = parse_condition(text)
        except ConditionError:
            return
        c.holds(Summary())


# --------------------------------------------------------------------------- the command


def convo_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convo.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("runs")
    before, after = d / "before.jsonl", d / "after.jsonl"
    with before.open("wb") as fb, after.open("wb") as fa:
        for b, a in reruns(convs(), seed=7, change=0.3):
            fb.write(encode_value(b) + b"\n")
            fa.write(encode_value(a) + b"\n")
    return before, after


class TestCommand:
    def test_summary_and_exit_status(self, runs: tuple[Path, Path], tmp_path: Path) -> None:
        """The summary is printed; --fail-if thresholds decide the exit status (1 when one holds)."""
        before, after = runs
        r = convo_cli("diff", str(before), str(after))
        assert r.returncode == 0 and "matched lines" in r.stdout and "lines worth reading first" in r.stdout
        r = convo_cli("diff", str(before), str(after), "--fail-if", "tool_calls_changed > 1%", "--fail-if", "matched < 0")
        assert r.returncode == 1 and "FAILED --fail-if 'tool_calls_changed > 1%'" in r.stderr
        assert convo_cli("diff", str(before), str(after), "--fail-if", "tool_calls_changed > 90%").returncode == 0

    def test_json_agrees_with_an_oracle(self, runs: tuple[Path, Path]) -> None:
        """--json counts match a count made here from the records themselves."""
        before, after = runs
        s = orjson.loads(convo_cli("diff", str(before), str(after), "--json").stdout)
        b = [orjson.loads(x) for x in before.read_bytes().splitlines()]
        a = [orjson.loads(x) for x in after.read_bytes().splitlines()]
        stop = lambda r: (r.get("response") or {}).get("stop_reason")  # noqa: E731
        assert s["matched"] == len(b) == len(a)
        assert s["stop_reason_changed"] == sum(stop(x) != stop(y) for x, y in zip(b, a, strict=True))
        assert s["refusals_appeared"] == sum(stop(y) == "refusal" != stop(x) for x, y in zip(b, a, strict=True))
        assert s["errors_appeared"] == sum("error" in y and "error" not in x for x, y in zip(b, a, strict=True))
        out = sum((x.get("response") or {}).get("usage", {}).get("output_tokens", 0) for x in a)
        assert s["usage_after"]["output"] == out

    def test_html_report(self, runs: tuple[Path, Path], tmp_path: Path) -> None:
        """--html writes a page with the summary and the changed lines side by side."""
        before, after = runs
        page = tmp_path / "d.html"
        r = convo_cli("diff", str(before), str(after), "--html", str(page), "--model", "claude-opus-4-8", "--top", "5")
        assert r.returncode == 0, r.stderr
        html = page.read_text(encoding="utf-8")
        assert html.count('class="pair"') == 5 and html.count('class="side"') >= 5 and "Content-Security-Policy" in html

    def test_two_request_files(self, tmp_path: Path) -> None:
        """BEFORE and AFTER may be requests (a corpus and its migrated copy): the migration makes
        lines valid for the model it targets."""
        migrated = tmp_path / "migrated.jsonl"
        r = convo_cli("transform", str(TRANSCRIPTS), "-t", 'migrate(model="claude-opus-4-8")', "-o", str(migrated), "-q")
        assert r.returncode == 0, r.stderr
        s = orjson.loads(convo_cli("diff", str(TRANSCRIPTS), str(migrated), "--model", "claude-opus-4-8", "--json").stdout)
        assert s["matched"] == 195 and s["undecodable_before"] == 5 and s["only_before"] == s["only_after"] == 0
        assert s["became_valid"] > 50 and s["became_invalid"] == 0
        assert s["models"][0]["after"] == "claude-opus-4-8"
        after = [orjson.loads(x) for x in migrated.read_bytes().splitlines()]
        before = [orjson.loads(encode_value(c)) for c in convs()]

        def params(d: dict[str, Any]) -> Any:
            return ({k: v for k, v in d.items() if k != "messages"}, len(d.get("messages", [])))

        assert s["params_changed"] == sum(params(b) != params(a) for b, a in zip(before, after, strict=True)) > 150
        assert any("parameters: model" in " ".join(w["changes"]) for w in s["worth_reading"])

    def test_bad_usage(self, runs: tuple[Path, Path]) -> None:
        """A bad --fail-if or a missing file: exit 2 and the reason."""
        before, after = runs
        r = convo_cli("diff", str(before), str(after), "--fail-if", "nope > 1")
        assert r.returncode == 2 and "unknown metric 'nope'" in r.stderr
        r = convo_cli("diff", str(before), str(after.with_name("missing.jsonl")))
        assert r.returncode == 2 and "no such file" in r.stderr

    def test_a_real_rerun_through_the_emulator(self, tmp_path: Path) -> None:
        """Two `convo run`s against the local emulator (the corpus, then its migrated copy): the
        records pair by line although their ids name different files, and every line answered."""
        import os

        from convo.testing import Emulator

        src = tmp_path / "requests.jsonl"
        src.write_bytes(b"\n".join(encode_value(c) for c in convs()[:12]) + b"\n")
        migrated = tmp_path / "migrated.jsonl"
        assert convo_cli("transform", str(src), "-t", 'migrate(model="claude-opus-4-8")', "-o", str(migrated), "-q").returncode == 0
        with Emulator() as url:
            env = {**os.environ, "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": url}
            for name, inp in (("before", src), ("after", migrated)):
                r = subprocess.run([sys.executable, "-m", "convo.cli", "run", str(inp), "-o", str(tmp_path / f"{name}.jsonl"),
                                    "--api-version", "2023-06-01", "-q"], env=env, capture_output=True, text=True, timeout=300)
                assert r.returncode in (0, 1), r.stderr
        s = orjson.loads(convo_cli("diff", str(tmp_path / "before.jsonl"), str(tmp_path / "after.jsonl"), "--json").stdout)
        assert s["matched"] == 12 and s["only_before"] == s["only_after"] == 0


def test_the_realworld_lines_against_themselves(tmp_path: Path) -> None:
    """The realworld corpus (requests, batch lines, recorded exchanges) diffed with itself: every
    readable line pairs and nothing changed."""
    from tests._helpers_cli import REALWORLD, realworld_lines

    if not REALWORLD.is_dir():
        pytest.skip("needs ../shared/realworld")
    src = tmp_path / "rw.jsonl"
    lines = realworld_lines()
    src.write_bytes(b"\n".join(lines) + b"\n")
    s = orjson.loads(convo_cli("diff", str(src), str(src), "--json", "--model", "claude-opus-4-8").stdout)
    assert s["matched"] + s["undecodable_before"] == len(lines) and s["matched"] > 100
    assert s["changed"] == 0 and s["only_before"] == s["only_after"] == 0

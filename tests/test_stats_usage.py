"""``convo stats`` grown up: usage and cost from exchange records, batch results and Claude Code
sessions (each API message once, by id), prices from the table or a user's file, and --html."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from convo import model as m
from convo.codec.lines import encode_value
from convo.pricing import TokenCounts, builtin_prices, counts_of_usage

SESSIONS = Path(__file__).parents[1].parent / "shared" / "realworld" / "claude-code-sessions"
ROOT = Path(__file__).parents[1]


def stats(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convo.cli", "stats", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def exchange(ident: str, model: str, usage: dict[str, Any], stop: str = "end_turn") -> bytes:
    resp: Any = m.Response(id=f"msg_{ident}", model=model, content=(m.Text("ok"),), stop_reason=stop,
                           usage=m.Usage(**usage))
    return encode_value(m.Exchange(id=ident, request=m.Conversation(model=model, max_tokens=8).user("q"), response=resp))


def by_model(out: dict[str, Any]) -> dict[tuple[str, bool], dict[str, Any]]:
    return {(r["model"], r["batch"]): r for r in out["usage"]["by_model"]}


class TestUsageAndCost:
    def test_exchanges_and_batch_results(self, tmp_path: Path) -> None:
        """Usage by model, exactly; batch results priced at half; the total is their sum."""
        src = tmp_path / "mixed.jsonl"
        batch = {"custom_id": "b1", "result": {"type": "succeeded", "message": {
            "id": "msg_b", "type": "message", "role": "assistant", "model": "claude-haiku-4-5", "content": [],
            "stop_reason": "end_turn", "usage": {"input_tokens": 1_000_000, "output_tokens": 0}}}}
        src.write_bytes(b"\n".join([
            exchange("a", "claude-opus-4-8", {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 5000}),
            exchange("b", "claude-opus-4-8", {"input_tokens": 10, "output_tokens": 20, "cache_creation_input_tokens": 400,
                                              "server_tool_use": {"web_search_requests": 3}}),
            exchange("c", "claude-mythos-preview", {"input_tokens": 5, "output_tokens": 5}),
            orjson.dumps(batch),
        ]) + b"\n")
        r = stats(src, "--json")
        assert r.returncode == 0, r.stderr
        out = orjson.loads(r.stdout)
        opus = by_model(out)[("claude-opus-4-8", False)]
        assert (opus["responses"], opus["input"], opus["output"], opus["cache_read"], opus["cache_write_5m"], opus["web_search"]) == \
            (2, 1010, 220, 5000, 400, 3)
        expected = 1010 * 5e-6 + 220 * 25e-6 + 5000 * 0.5e-6 + 400 * 6.25e-6 + 0.03
        assert opus["cost"] == pytest.approx(expected, abs=1e-6)
        assert by_model(out)[("claude-haiku-4-5", True)]["cost"] == pytest.approx(0.5)
        assert out["usage"]["not_priced"] == {"claude-mythos-preview": 1}
        assert out["usage"]["total_cost"] == pytest.approx(expected + 0.5, abs=1e-6)
        assert out["usage"]["prices_as_of"] == builtin_prices().as_of

    def test_text_table(self, tmp_path: Path) -> None:
        """Without --json the usage table, its total and the prices' date are printed."""
        src = tmp_path / "x.jsonl"
        src.write_bytes(exchange("a", "claude-opus-4-8", {"input_tokens": 1000, "output_tokens": 200}) + b"\n")
        text = stats(src).stdout
        assert "usage and cost (prices as of" in text and "claude-opus-4-8" in text and "total: $0.0100" in text

    def test_a_user_prices_file(self, tmp_path: Path) -> None:
        """--prices overrides the table; a bad file is a usage error (exit 2) naming the path."""
        src = tmp_path / "x.jsonl"
        src.write_bytes(exchange("a", "acme-1", {"input_tokens": 1_000_000, "output_tokens": 0}) + b"\n")
        prices = tmp_path / "p.json"
        prices.write_text('{"pricing": {"models": {"acme-1": {"input": 2, "output": 4, "cache_write_5m": 2.5,'
                          ' "cache_write_1h": 4, "cache_read": 0.2}}}}')
        out = orjson.loads(stats(src, "--json", "--prices", prices).stdout)
        assert out["usage"]["total_cost"] == pytest.approx(2.0)
        assert str(prices) in out["usage"]["prices_from"]
        prices.write_text('{"pricing": {"models": {"acme-1": {"input": "two"}}}}')
        r = stats(src, "--prices", prices)
        assert r.returncode == 2 and str(prices) in r.stderr and "acme-1" in r.stderr

    def test_a_request_without_messages(self, tmp_path: Path) -> None:
        """Regression: a request line with no "messages" key (a count_tokens body, say) is counted,
        not a crash (it raised TypeError before)."""
        src = tmp_path / "x.jsonl"
        src.write_bytes(b'{"model": "claude-opus-4-8", "max_tokens": 5}\n{"model": "claude-opus-4-8", "messages": []}\n')
        r = stats(src, "--json")
        assert r.returncode == 0, r.stderr
        assert orjson.loads(r.stdout)["conversations"] == 2


def oracle(paths: list[Path]) -> tuple[dict[str, TokenCounts], int]:
    """Claude Code usage counted here, independently: per message id, the line with the most
    output tokens; lines without an id each on their own."""
    best: dict[str, tuple[int, str, TokenCounts]] = {}
    for p in paths:
        for n, raw in enumerate(p.read_bytes().splitlines(), 1):
            obj = orjson.loads(raw)
            msg = obj.get("message")
            if not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict):
                continue
            key = msg.get("id") or obj.get("requestId") or f"{p}:{n}"
            c = counts_of_usage(msg["usage"])
            if key not in best or c.output > best[key][0]:
                best[key] = (c.output, msg.get("model") or "(unknown model)", c)
    totals: dict[str, TokenCounts] = defaultdict(TokenCounts)
    for _, model, c in best.values():
        totals[model] = totals[model] + c
    return dict(totals), len(best)


@pytest.mark.skipif(not SESSIONS.is_dir(), reason="needs ../shared/realworld")
class TestClaudeCode:
    def test_each_message_once(self) -> None:
        """Claude Code repeats one API message on several lines: usage is counted once per id
        (the line with the most output tokens), matching an independent count; no session
        line is undecodable."""
        paths = sorted(SESSIONS.glob("*.jsonl"))
        out = orjson.loads(stats(*paths, "--json").stdout)
        totals, messages = oracle(paths)
        assert out["claude_code_messages"] == messages
        assert out["undecodable"] == 0 and out["kinds"] == {"claude-code": out["lines"]}
        got = {r["model"]: r for r in out["usage"]["by_model"]}
        for model, c in totals.items():
            row = got[model]
            assert (row["input"], row["output"], row["cache_read"], row["cache_write_5m"] + row["cache_write_1h"]) == \
                (c.input, c.output, c.cache_read, c.cache_write), model
        lines_with_usage = sum(1 for p in paths for raw in p.read_bytes().splitlines()
                               if isinstance((orjson.loads(raw).get("message") or {}).get("usage"), dict))
        assert lines_with_usage > messages  # the repeats exist, and were not double counted

    def test_chunks_and_workers_agree(self) -> None:
        """The same figures with tiny chunks and two workers (a message's lines straddle chunks)."""
        big = SESSIONS / "spotter__ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl"
        one = orjson.loads(stats(big, "--json").stdout)
        many = orjson.loads(stats(big, "--json", "--workers", "2", "--chunk-bytes", "65536").stdout)
        assert one["usage"] == many["usage"] and one["claude_code_messages"] == many["claude_code_messages"]


class TestHtml:
    def test_charts_page(self, tmp_path: Path) -> None:
        """--html writes a self-contained page of tables and inline SVG charts."""
        page = tmp_path / "s.html"
        r = stats(ROOT / "fixtures" / "transcripts.jsonl", "--html", page, "-q")
        assert r.returncode == 0, r.stderr
        html = page.read_text(encoding="utf-8")
        assert html.count("<svg") >= 3 and "Turns per conversation" in html and "Content-Security-Policy" in html
        assert 'src="http' not in html and "url(" not in html and "@import" not in html  # nothing to fetch


REALWORLD = SESSIONS.parent


@pytest.mark.skipif(not REALWORLD.is_dir(), reason="needs ../shared/realworld")
def test_the_realworld_tree(tmp_path: Path) -> None:
    """Every realworld folder at once: the counts add up, Claude Code lines are recognised (not
    undecodable), and the recorded exchanges' usage is priced."""
    folders = sorted(str(p) for p in REALWORLD.iterdir() if p.is_dir())
    r = stats(*folders, "--json", "--html", tmp_path / "s.html")
    assert r.returncode == 0, r.stderr
    out = orjson.loads(r.stdout)
    assert out["lines"] + out["undecodable"] == sum(
        1 for f in REALWORLD.glob("*/*.jsonl") for line in f.read_bytes().splitlines() if line.strip())
    assert out["kinds"]["claude-code"] > 2000 and out["claude_code_messages"] > 200
    assert out["usage"]["total_cost"] > 0

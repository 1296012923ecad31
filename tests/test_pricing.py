"""Tests for convo.pricing: the dated, sourced table in profiles.json, id resolution, the cost of
a usage (cache TTLs, batch, long context, server tools) and users' own price files."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convo import model as m
from convo.errors import ProfileError
from convo.pricing import TokenCounts, builtin_prices, counts_of_usage, load_prices
from convo.profiles import builtin_profiles

DATA = Path(__file__).parents[1] / "convo" / "profiles.json"
UNPRICED = {"claude-mythos-preview",  # no public price (the table's sources say so)
            # issue 12: SDK 2.17 ids whose prices the sources do not give (no guessing)
            "claude-haiku-5-5", "claude-fable-5-2", "claude-mythos-5-2"}


class TestTable:
    def test_dated_and_sourced(self) -> None:
        """The table says when it was checked and where each group of prices comes from."""
        t = builtin_prices()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", t.as_of)
        assert t.sources["models"].startswith("DOC https://platform.claude.com/docs/en/about-claude/pricing")
        for key in ("batch_discount", "web_search", "unpriced", "claude-opus-5-5"):
            assert t.sources[key]
        assert t.origin == ("convo/profiles.json",)

    def test_every_profiled_model_is_priced(self) -> None:
        """Each model convo has a profile for has prices, but the one without a public price."""
        t = builtin_prices()
        missing = {mid for mid in builtin_profiles() if t.rates(mid) is None}
        assert missing == UNPRICED

    def test_cache_multipliers(self) -> None:
        """Cache writes cost 1.25x (5 minutes) and 2x (1 hour) the input price on every model
        (facts §3.5), and reads at most 0.1x; Haiku 3's page rounds to cents ($0.30 and $0.03)."""
        data = orjson.loads(DATA.read_bytes())["pricing"]["models"]
        for mid, p in data.items():
            assert p["cache_write_1h"] == pytest.approx(2 * p["input"]), mid
            if mid == "claude-3-haiku":
                assert (p["cache_write_5m"], p["cache_read"]) == (0.3, 0.03)
                continue
            assert p["cache_write_5m"] == pytest.approx(1.25 * p["input"]), mid
            assert p["cache_read"] <= 0.1 * p["input"] + 1e-9, mid

    def test_resolution(self) -> None:
        """Dated and platform ids find their model; a neighbouring version does not."""
        t = builtin_prices()
        assert t.resolve("claude-haiku-4-5-20251001") == "claude-haiku-4-5"
        assert t.resolve("claude-sonnet-4-20250514") == "claude-sonnet-4"
        assert t.resolve("claude-opus-4-1-20250805") == "claude-opus-4-1"
        assert t.resolve("claude-3-7-sonnet-20250219") == "claude-3-7-sonnet"
        assert t.resolve("anthropic.claude-opus-4-6-v1:0") == "claude-opus-4-6"
        assert t.resolve("claude-opus-4-0") == "claude-opus-4"
        for other in ("claude-opus-4-9", "claude-sonnet-4-7", "gpt-4o", "", "claude"):
            assert t.resolve(other) is None, other


class TestCost:
    def test_every_kind(self) -> None:
        """Input, output, both cache TTLs, cache reads and web searches, on Opus 4.8."""
        counts = TokenCounts(input=1_000_000, output=200_000, cache_write_5m=100_000, cache_write_1h=50_000,
                             cache_read=2_000_000, web_search=30)
        c = builtin_prices().cost(counts, "claude-opus-4-8")
        assert c is not None
        assert (c.input, c.output, c.cache_write, c.cache_read, c.server_tools) == pytest.approx(
            (5.0, 5.0, 0.625 + 0.5, 1.0, 0.3))
        assert c.total == pytest.approx(12.425)

    def test_batch_discount(self) -> None:
        """The Batch API halves every token price, not the per-search fee."""
        counts = TokenCounts(input=1_000_000, output=1_000_000, web_search=1000)
        full = builtin_prices().cost(counts, "claude-sonnet-4-6")
        half = builtin_prices().cost(counts, "claude-sonnet-4-6", batch=True)
        assert full is not None and half is not None
        assert half.input + half.output == pytest.approx((full.input + full.output) / 2)
        assert half.server_tools == full.server_tools == pytest.approx(10.0)

    def test_long_context(self) -> None:
        """Sonnet 4.5 bills every token of a request over 200K input tokens at the long rates."""
        t = builtin_prices()
        short = t.cost(TokenCounts(input=200_000, output=1000), "claude-sonnet-4-5")
        long = t.cost(TokenCounts(input=150_000, cache_read=60_000, output=1000), "claude-sonnet-4-5")
        assert short is not None and long is not None
        assert short.input == pytest.approx(0.6) and short.output == pytest.approx(0.015)
        assert long.input == pytest.approx(0.9) and long.output == pytest.approx(0.0225)
        assert long.cache_read == pytest.approx(0.036)

    def test_unknown_model_is_not_priced(self) -> None:
        """A model without a price gets None, never a neighbour's price."""
        assert builtin_prices().cost(TokenCounts(input=1), "claude-mythos-preview") is None
        assert builtin_prices().cost(TokenCounts(input=1), None) is None

    def test_counts_of_usage(self) -> None:
        """A Usage value and its JSON give the same counts; the TTL split comes from
        cache_creation; absent or null fields count 0."""
        usage = m.Usage(input_tokens=3, output_tokens=7, cache_creation_input_tokens=100, cache_read_input_tokens=None,
                        cache_creation={"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 70},
                        server_tool_use={"web_search_requests": 2, "web_fetch_requests": 1})
        as_json = {"input_tokens": 3, "output_tokens": 7, "cache_creation_input_tokens": 100,
                   "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 70},
                   "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1}}
        assert counts_of_usage(usage) == counts_of_usage(as_json) == TokenCounts(3, 7, 30, 70, 0, 2, 1)
        assert counts_of_usage({"cache_creation_input_tokens": 50}) == TokenCounts(cache_write_5m=50)
        assert counts_of_usage(None) == TokenCounts()

    @given(st.lists(st.integers(0, 10**7), min_size=7, max_size=7), st.lists(st.integers(0, 10**7), min_size=7, max_size=7),
           st.sampled_from(sorted(builtin_prices().models)), st.booleans())
    def test_cost_adds_up(self, a: list[int], b: list[int], model: str, batch: bool) -> None:
        """Property: below the long-context threshold, the cost of two usages is the sum of
        their costs (so totals by model can be priced once)."""
        ca, cb = TokenCounts(*a), TokenCounts(*b)
        t = builtin_prices()
        rates = t.rates(model)
        assert rates is not None
        if rates.long_context_above is not None and (ca + cb).total_input > rates.long_context_above:
            return
        one, two, both = t.cost(ca, model, batch=batch), t.cost(cb, model, batch=batch), t.cost(ca + cb, model, batch=batch)
        assert one is not None and two is not None and both is not None
        assert both.total == pytest.approx(one.total + two.total, rel=1e-9)


class TestUserPrices:
    def test_a_file_over_the_builtins(self, tmp_path: Path) -> None:
        """A user's file changes the prices it names, adds models, and is named in describe()."""
        f = tmp_path / "prices.json"
        f.write_text('{"pricing": {"as_of": "2027-01-31", "models": {"claude-opus-4-8": {"output": 20},'
                     ' "acme-1": {"input": 1, "output": 2, "cache_write_5m": 1.25, "cache_write_1h": 2, "cache_read": 0.1,'
                     ' "aliases": ["acme-1-latest"]}}}}')
        t = load_prices(f)
        assert t.rates("claude-opus-4-8").output == 20.0 and t.rates("claude-opus-4-8").input == 5.0  # type: ignore[union-attr]
        assert t.rates("acme-1-latest") == t.rates("acme-1")
        assert t.as_of == "2027-01-31" and str(f) in t.describe()
        assert builtin_prices().rates("claude-opus-4-8").output == 25.0  # type: ignore[union-attr]

    @pytest.mark.parametrize(("text", "where"), [
        ('{"models": {"x": {"input": 1}}}', '$.models["x"]: missing output'),
        ('{"models": {"claude-opus-4-8": {"input": -1}}}', '$.models["claude-opus-4-8"].input: expected a non-negative'),
        ('{"models": {"claude-opus-4-8": {"inptu": 1}}}', 'inptu: unknown key'),
        ('{"batch_discount": 2}', "$.batch_discount: expected a number from 0 to 1"),
        ("{nope", "$: invalid JSON"),
    ])
    def test_bad_files_say_where(self, tmp_path: Path, text: str, where: str) -> None:
        """A bad prices file raises ProfileError naming the file and the JSON path."""
        f = tmp_path / "bad.json"
        f.write_text(text)
        with pytest.raises(ProfileError) as e:
            load_prices(f)
        assert str(f) in str(e.value) and where in str(e.value)

    def test_profiles_file_may_carry_prices(self) -> None:
        """The profiles reader accepts the "pricing" section (the built-in file has one)."""
        from convo.profiles import load_profiles

        reg = load_profiles({"models": {}, "pricing": {"models": {}}})
        assert "claude-opus-4-8" in reg

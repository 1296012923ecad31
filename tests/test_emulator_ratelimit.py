"""The emulator's ``anthropic-ratelimit-*`` headers on every messages response (issue 12).

Before: only a scheduled 429 fault carried them. The API sends them on a 200 too (LIVE, a
recorded ``POST /v1/messages`` in realworld/anthropic/sdk-python-recordings), streamed or not,
and on errors. Checked over real sockets with httpx and the official SDK.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convo.testing import Emulator, RateLimits
from convo.testing._ratelimit import parse_rate_limits
from tests import _helpers_emulator as h

KEY = h.KEY
H = h.H23
KINDS = ("requests", "tokens", "input-tokens", "output-tokens")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # RFC 3339, whole seconds (LIVE)


class Clock:
    """A settable clock for the emulator (its rate windows and batches)."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def limits_of(headers: Any, kinds: tuple[str, ...] = KINDS) -> dict[str, tuple[int, int, str]]:
    """kind -> (limit, remaining, reset) from a response's headers (KeyError when one is missing)."""
    return {k: (int(headers[f"anthropic-ratelimit-{k}-limit"]),
                int(headers[f"anthropic-ratelimit-{k}-remaining"]),
                headers[f"anthropic-ratelimit-{k}-reset"]) for k in kinds}


def post(url: str, body: Any = None, path: str = "/v1/messages", **kw: Any) -> httpx.Response:
    return httpx.post(f"{url}{path}", headers=H, json=h.request_body() if body is None else body,
                      timeout=10, **kw)


@pytest.fixture
def emu():
    e = Emulator(api_keys={KEY})
    e.start()
    try:
        yield e
    finally:
        e.stop()


sdk = h.sdk  # an official SDK client on the emulator, closed after the test


# --------------------------------------------------------------------------- on every response


class TestEveryResponse:
    def test_a_200_carries_all_twelve(self, emu):
        """A plain 200: every header, the default limits, RFC 3339 resets within the window."""
        before = datetime.now(UTC).replace(microsecond=0)
        r = post(emu.base_url)
        assert r.status_code == 200
        got = limits_of(r.headers)
        assert {k: v[0] for k, v in got.items()} == {
            "requests": 50, "tokens": 38_000, "input-tokens": 30_000, "output-tokens": 8_000}
        assert got["requests"][1] == 49
        for limit, remaining, reset in got.values():
            assert 0 <= remaining <= limit and STAMP.match(reset), (limit, remaining, reset)
            ahead = (datetime.fromisoformat(reset) - before).total_seconds()
            assert 0 < ahead <= 62

    def test_a_streamed_200_carries_them_on_the_http_response(self, emu):
        """stream: true -> the headers are on the SSE response itself."""
        with httpx.stream("POST", f"{emu.base_url}/v1/messages", headers=H, timeout=10,
                          json=h.request_body(stream=True)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            got = limits_of(r.headers)
            events = h.parse_sse(r.read().decode())
        assert events[-1][0] == "message_stop"
        assert got["requests"][:2] == (50, 49)

    def test_the_sdks_stream_sees_them(self, emu):
        """The SDK's streaming raw response exposes them (messages.with_streaming_response)."""
        client = sdk(emu)
        with client.messages.with_streaming_response.create(
            model="claude-sonnet-4-5", max_tokens=64, stream=True,
            messages=[{"role": "user", "content": "hi"}],
        ) as raw:
            assert raw.headers["anthropic-ratelimit-requests-remaining"] == "49"
            assert STAMP.match(raw.headers["anthropic-ratelimit-output-tokens-reset"])

    @pytest.mark.filterwarnings("ignore::convo.profiles.UnknownModelWarning")
    @pytest.mark.parametrize(("body", "status"), [
        ({**h.request_body(), "stop_sequence": ["x"]}, 400),  # an unknown key
        (h.request_body(model="claude-nope-9"), 404),  # an unknown model
        ({"model": "claude-sonnet-4-5", "max_tokens": 8}, 400),  # messages: Field required
    ])
    def test_errors_carry_them(self, emu, body, status):
        """A 400 or 404 of /v1/messages carries them; refused requests are counted."""
        r1 = post(emu.base_url, body)
        r2 = post(emu.base_url, body)
        assert (r1.status_code, r2.status_code) == (status, status)
        assert r1.json()["type"] == "error"
        assert [limits_of(r.headers)["requests"][1] for r in (r1, r2)] == [49, 48]

    def test_a_bad_version_400_carries_them_a_401_does_not(self, emu):
        """A 400 for the version header carries them; a 401 (no key that names an
        organization) has no organization's limits to report."""
        r = httpx.post(f"{emu.base_url}/v1/messages", json=h.request_body(),
                       headers={"x-api-key": KEY, "anthropic-version": "1999-01-01"})
        assert r.status_code == 400 and limits_of(r.headers)["requests"][1] == 49
        r = httpx.post(f"{emu.base_url}/v1/messages", json=h.request_body(),
                       headers={"x-api-key": "wrong", "anthropic-version": "2023-06-01"})
        assert r.status_code == 401
        assert not [k for k in r.headers if k.startswith("anthropic-ratelimit")]

    def test_count_tokens_has_its_own_request_limit(self, emu):
        """count_tokens: requests-* headers, counted apart from messages (DOC: independent)."""
        body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
        c1 = post(emu.base_url, body, "/v1/messages/count_tokens")
        m1 = post(emu.base_url)
        c2 = post(emu.base_url, body, "/v1/messages/count_tokens")
        bad = post(emu.base_url, {**body, "max_tokens": 5}, "/v1/messages/count_tokens")
        assert (c1.status_code, c2.status_code, bad.status_code) == (200, 200, 400)
        assert [limits_of(r.headers, ("requests",))["requests"][:2] for r in (c1, c2, bad)] == [
            (100, 99), (100, 98), (100, 97)]
        assert limits_of(m1.headers)["requests"][:2] == (50, 49)
        models = httpx.get(f"{emu.base_url}/v1/models", headers=H)  # other paths: none
        assert models.status_code == 200
        assert not [k for k in models.headers if k.startswith("anthropic-ratelimit")]


# --------------------------------------------------------------------------- the numbers


class TestCounts:
    def test_remaining_goes_down_by_each_requests_tokens(self):
        """Small limits show exact counts: a response's input counts in its own headers, its
        output from the next response on (as recorded live)."""
        with Emulator(rate_limits={"input_tokens": 900, "output_tokens": 700}) as url:
            rs = [post(url, h.request_body(f"message number {i} " * (i + 1))) for i in range(4)]
        spent_in = spent_out = 0
        for i, r in enumerate(rs):
            usage = r.json()["usage"]
            spent_in += usage["input_tokens"]
            got = limits_of(r.headers)
            assert got["requests"][1] == 50 - (i + 1)
            assert got["input-tokens"][1] == max(0, 900 - spent_in)
            assert got["output-tokens"][1] == max(0, 700 - spent_out)
            spent_out += usage["output_tokens"]
        assert len({limits_of(r.headers)["requests"][2] for r in rs}) == 1  # one window

    def test_sdk_with_raw_response(self, emu):
        """The SDK's with_raw_response exposes them; they go down per request."""
        client = sdk(emu)
        seen = []
        for _ in range(3):
            raw = client.messages.with_raw_response.create(
                model="claude-sonnet-4-5", max_tokens=64,
                messages=[{"role": "user", "content": "hi"}])
            assert raw.parse().content[0].text == "echo: hi"
            seen.append(raw.headers["anthropic-ratelimit-requests-remaining"])
            assert int(raw.headers["anthropic-ratelimit-tokens-remaining"]) % 1000 == 0  # DOC
        assert seen == ["49", "48", "47"]

    def test_a_new_window_starts_afresh(self):
        clock = Clock()
        with Emulator(clock=clock, rate_limits={"requests": 3, "window": 10}) as url:
            a = [limits_of(post(url).headers)["requests"] for _ in range(2)]
            clock.t += 10
            b = limits_of(post(url).headers)["requests"]
        assert [x[1] for x in a] == [2, 1] and b[1] == 2
        assert datetime.fromisoformat(b[2]).timestamp() == clock.t + 10
        assert datetime.fromisoformat(a[0][2]).timestamp() == clock.t

    def test_assigning_rate_limits_starts_afresh(self, emu):
        post(emu.base_url)
        emu.rate_limits = {"requests": 5}
        assert limits_of(post(emu.base_url).headers)["requests"][:2] == (5, 4)

    def test_bad_limits_are_refused(self):
        with pytest.raises(ValueError, match="requests must be positive"):
            Emulator(rate_limits={"requests": 0})
        with pytest.raises(TypeError):
            Emulator(rate_limits={"rpm": 5})

    def test_concurrent_requests_each_get_their_own_count(self):
        """Under concurrency every response gets a distinct requests-remaining, none lost."""
        n, threads = 48, 8
        got: list[int] = []
        lock = threading.Lock()
        with Emulator(rate_limits={"requests": 1000}) as url:
            def work() -> None:
                with httpx.Client(base_url=url, headers=H, timeout=20) as c:
                    for _ in range(n // threads):
                        r = c.post("/v1/messages", json=h.request_body())
                        with lock:
                            got.append(int(r.headers["anthropic-ratelimit-requests-remaining"]))
            workers = [threading.Thread(target=work) for _ in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            last = limits_of(post(url).headers)["requests"][1]
        assert sorted(got) == list(range(1000 - n, 1000))
        assert last == 1000 - n - 1


# --------------------------------------------------------------------------- 429


class Test429:
    def test_a_429_fault_reports_the_emulators_limits(self, emu):
        """A scheduled 429: retry-after and requests remaining 0 as before, the limits and the
        token counts being the emulator's (here after two requests of spent input)."""
        emu.rate_limits = {"requests": 7, "input_tokens": 900}
        spent = sum(post(emu.base_url).json()["usage"]["input_tokens"] for _ in range(2))
        emu.faults = "429"
        with pytest.raises(anthropic.RateLimitError) as info:
            sdk(emu, max_retries=0).messages.create(
                model="claude-sonnet-4-5", max_tokens=64,
                messages=[{"role": "user", "content": "hi"}])
        got = info.value.response.headers
        assert info.value.status_code == 429 and got["retry-after"] == "1"
        lim = limits_of(got)
        assert lim["requests"][:2] == (7, 0)
        assert lim["input-tokens"][:2] == (900, 900 - spent)

    def test_enforced_limits_refuse_with_retry_after(self):
        """rate_limits enforce=True: the request after the limit is a 429 the SDK raises, with
        retry-after to the window's end; the next window answers again."""
        clock = Clock()
        emu = Emulator(clock=clock, rate_limits={"requests": 2, "window": 30, "enforce": True})
        with emu:
            client = sdk(emu, max_retries=0)
            call = lambda: client.messages.with_raw_response.create(  # noqa: E731
                model="claude-sonnet-4-5", max_tokens=16,
                messages=[{"role": "user", "content": "hi"}])
            assert [call().headers["anthropic-ratelimit-requests-remaining"] for _ in range(2)] == [
                "1", "0"]
            clock.t += 12
            with pytest.raises(anthropic.RateLimitError) as info:
                call()
            got = info.value.response.headers
            assert got["retry-after"] == "18" and got["anthropic-ratelimit-requests-remaining"] == "0"
            assert info.value.body["error"]["type"] == "rate_limit_error"
            clock.t += 18
            assert call().headers["anthropic-ratelimit-requests-remaining"] == "1"
        assert [r.status for r in emu.log] == [200, 200, 429, 200]

    def test_enforced_input_tokens(self):
        """A spent input-token limit refuses the next request; its requests are not spent."""
        with Emulator(rate_limits={"input_tokens": 10, "enforce": True}) as url:
            a = post(url, h.request_body("a long enough question " * 4))
            b = post(url)
        assert a.status_code == 200 and b.status_code == 429
        got = limits_of(b.headers)
        assert got["input-tokens"][1] == 0 and got["requests"][1] == 49
        assert "input tokens" in b.json()["error"]["message"]

    def test_enforced_under_concurrency_admits_exactly_the_limit(self):
        n, limit = 30, 10
        statuses: list[int] = []
        lock = threading.Lock()
        with Emulator(rate_limits={"requests": limit, "enforce": True}) as url:
            def work() -> None:
                r = post(url)
                with lock:
                    statuses.append(r.status_code)
            workers = [threading.Thread(target=work) for _ in range(n)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        assert sorted(statuses) == [200] * limit + [429] * (n - limit)


# --------------------------------------------------------------------------- the counter itself


@settings(max_examples=60, deadline=None)
@given(
    limits=st.fixed_dictionaries({"requests": st.integers(1, 20),
                                  "input_tokens": st.integers(1, 3000),
                                  "output_tokens": st.integers(1, 3000)}),
    steps=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400), st.floats(0, 30)),
                   max_size=25),
)
def test_counts_follow_a_window_model(limits, steps):
    """Property: requests and tokens remaining are the limit less what this window spent
    (tokens rounded to thousands for limits of 1000+), never below 0; a window lasts 60 s."""
    from convo.testing import RateLimits
    from convo.testing._ratelimit import RateLimiter

    limits = RateLimits(**limits)
    clock = Clock(0.0)
    limiter, twin = RateLimiter(limits, clock=clock), RateLimiter(limits, clock=clock)
    start, used_r, used_i, used_o = None, 0, 0, 0
    for inp, out, dt in steps:
        clock.t += dt
        if start is None or clock.t >= start + 60:
            start, used_r, used_i, used_o = clock.t, 0, 0, 0
        used_r += 1
        used_i += inp
        pairs = limiter.headers(limiter.admit(), inp, out)
        # what the emulator writes (lines) says the same as the pairs, fed the same requests
        assert twin.lines(twin.admit(), inp, out) == "\r\n".join(f"{k}: {v}" for k, v in pairs)
        got = limits_of(dict(pairs))
        assert got["requests"][1] == max(0, limits.requests - used_r)
        for kind, limit, used in (("input-tokens", limits.input_tokens, used_i),
                                  ("output-tokens", limits.output_tokens, used_o)):
            exact, shown = max(0, limit - used), got[kind][1]
            if limit < 1000 or exact == 0:
                assert shown == exact
            else:
                assert abs(shown - exact) <= 500 and shown <= limit
                assert shown % 1000 == 0 or shown == limit  # rounded, never above the limit
        assert got["requests"][2] == datetime.fromtimestamp(math.ceil(start + 60), UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        used_o += out  # the output counts from the next response on


# --------------------------------------------------------------------------- convo serve's options

CONVO = [sys.executable, "-m", "convo.cli"]


class TestServeOptions:
    """Issue 12: `convo serve` had no option for the emulator's rate limits."""

    def test_headers_report_the_configured_limits(self):
        """--rate-limits sets every limit the headers report, the window their reset; not
        enforced, a spent limit is reported (remaining 0) and the request still answered."""
        spec = "requests=2, input-tokens=2000,output_tokens=500,count_tokens_requests=3,window=30"
        with h.serving("--rate-limits", spec) as url:
            before = datetime.now(UTC)
            rs = [post(url) for _ in range(3)]
            count = post(url, {k: v for k, v in h.request_body().items() if k != "max_tokens"},
                         path="/v1/messages/count_tokens")
        assert [r.status_code for r in rs] == [200, 200, 200] and count.status_code == 200
        got = limits_of(rs[0].headers)
        assert {k: v[0] for k, v in got.items()} == {
            "requests": 2, "tokens": 2500, "input-tokens": 2000, "output-tokens": 500}
        assert [limits_of(r.headers)["requests"][1] for r in rs] == [1, 0, 0]
        reset = datetime.strptime(got["requests"][2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert 25 <= (reset - before).total_seconds() <= 32  # the 30 s window, not the 60 s default
        assert limits_of(count.headers, ("requests",))["requests"][:2] == (3, 2)

    def test_enforced_limits_answer_429_with_retry_after(self):
        with h.serving("--rate-limits", "requests=2", "--enforce-rate-limits") as url:
            rs = [post(url) for _ in range(3)]
        assert [r.status_code for r in rs] == [200, 200, 429]
        refused = rs[2]
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert limits_of(refused.headers)["requests"][:2] == (2, 0)

    def test_enforce_alone_enforces_the_default_limits(self):
        """--enforce-rate-limits without --rate-limits: the default (50 requests) enforced; a
        request over 30,000 input tokens spends that limit and the next one is refused."""
        big = h.request_body("word " * 40_000)
        with h.serving("--enforce-rate-limits") as url:
            first, second = post(url, big), post(url)
        assert first.status_code == 200 and limits_of(first.headers)["requests"][0] == 50
        assert second.status_code == 429 and "input tokens" in second.json()["error"]["message"]

    @pytest.mark.parametrize(("spec", "words"), [
        ("request=5", "unknown limit 'request' (did you mean requests?)"),
        ("requests=0", "requests must be positive"),
        ("requests=-3", "requests must be positive"),
        ("requests=2.5", "requests must be a whole number"),
        ("window=soon", "window must be a number of seconds"),
        ("window=nan", "window must be positive"),
        ("requests", "is not NAME=VALUE"),
        ("requests=1,requests=2", "requests is given twice"),
        ("requests=1,,window=5", "an empty entry"),
        ("", "an empty entry"),
    ])
    def test_bad_values_are_usage_errors_naming_the_option(self, spec, words):
        r = subprocess.run([*CONVO, "serve", "--port", "0", "--rate-limits", spec],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2
        assert "--rate-limits: " in r.stderr and words in r.stderr
        assert "listening" not in r.stderr

    def test_help_shows_the_syntax(self):
        out = subprocess.run([*CONVO, "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
        assert "--rate-limits LIMITS" in out and "--enforce-rate-limits" in out
        assert "count_tokens_requests" in out and "window" in out


class TestParseRateLimits:
    @given(st.fixed_dictionaries({}, optional={
        "requests": st.integers(1, 10**9), "input_tokens": st.integers(1, 10**9),
        "output_tokens": st.integers(1, 10**9), "count_tokens_requests": st.integers(1, 10**9),
        "window": st.floats(0.001, 1e6)}), st.booleans(), st.booleans())
    def test_a_spec_gives_the_limits_it_names(self, given_limits, enforce, hyphens):
        """Every set of limits written as a spec (names with - or _, any order) parses back to
        RateLimits of those limits, the rest at their defaults."""
        parts = [f"{k.replace('_', '-') if hyphens else k}={v!r}" for k, v in given_limits.items()]
        spec = " , ".join(parts) if parts else "window=60"
        assert parse_rate_limits(spec, enforce=enforce) == RateLimits(enforce=enforce, **given_limits)

    @given(st.text(alphabet=st.sampled_from("requstinpu_koew-=,.0123456789 e+-nafx"), max_size=40))
    @settings(max_examples=300)
    def test_any_text_is_limits_or_a_value_error(self, spec):
        """Fuzz: the parser returns RateLimits or raises ValueError, never anything else."""
        try:
            limits = parse_rate_limits(spec)
        except ValueError as e:
            assert str(e)
        else:
            assert isinstance(limits, RateLimits) and limits.requests > 0 and limits.window > 0

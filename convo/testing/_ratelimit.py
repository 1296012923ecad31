"""The emulator's rate limits: the ``anthropic-ratelimit-*`` headers of every messages response.

Layer: testing. What the API sends (facts §5.2, and a live recording):

- LIVE (``realworld/anthropic/sdk-python-recordings/tools__test_runners__TestSyncRunTools__*.json``,
  a 200 from ``POST /v1/messages``, claude-opus-4-5, Feb 2026): a *successful* response carries
  ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``
  (limits 50 requests, 30000 input and 8000 output tokens; ``tokens-limit`` 38000, the sum of
  the two; requests remaining 49 on that response; input remaining 28000, output remaining
  8000: the request's input is counted in its own headers, its output only afterwards); resets
  are RFC 3339 UTC stamps in whole seconds (``2026-02-25T20:02:37Z``).
- DOC: a 429 has them too, with ``retry-after``; token ``remaining`` values are rounded to the
  nearest thousand; count_tokens has its own, independent requests-per-minute limit.

The emulator counts in fixed windows of ``window`` seconds (the API refills continuously, a
token bucket [DOC]; a window keeps the numbers predictable in tests): a window opens at its
first request, every reset stamp of it is its end, and remaining counts go down by one request
(and the request's tokens) per response until the window ends. Every request is counted,
refused ones (400, 404) too: which of them the API counts is UNCONFIRMED.

>>> limiter = RateLimiter(RateLimits(requests=3), clock=lambda: 0.0)
>>> [dict(limiter.headers(limiter.admit()))["anthropic-ratelimit-requests-remaining"]
...  for _ in range(3)]
['2', '1', '0']
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from attrs import field, frozen

from convo.testing._wire import ApiError

_T = TypeVar("_T")

__all__ = ["RATE_LIMITS_SYNTAX", "RateLimiter", "RateLimits", "parse_rate_limits"]


def _positive(_: object, a: object, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{getattr(a, 'name', 'a limit')} must be positive, got {value!r}")


@frozen
class RateLimits:
    """The limits the emulator reports (and with ``enforce=True`` applies) per window.

    Defaults are the live recording's (a tier-1 organization: 50 requests, 30,000 input and
    8,000 output tokens a minute); ``count_tokens_requests`` is count_tokens' own request
    limit (DOC: 100 a minute at tier 1). ``window`` is the seconds a window lasts. With
    ``enforce=False`` (default) nothing is refused: remaining counts stop at 0. With
    ``enforce=True`` a request that finds a limit spent is a 429 ``rate_limit_error`` with
    ``retry-after`` (seconds to the window's end) and that limit's remaining at 0.

    >>> RateLimits(requests=5, enforce=True).tokens
    38000
    """

    requests: int = field(default=50, validator=_positive)
    input_tokens: int = field(default=30_000, validator=_positive)
    output_tokens: int = field(default=8_000, validator=_positive)
    count_tokens_requests: int = field(default=100, validator=_positive)
    window: float = field(default=60.0, validator=_positive)
    enforce: bool = False

    @property
    def tokens(self) -> int:
        """The ``tokens-limit`` header: input plus output (LIVE: 38000 = 30000 + 8000)."""
        return self.input_tokens + self.output_tokens


RATE_LIMITS_SYNTAX = """\
LIMITS := NAME=VALUE ("," NAME=VALUE)*   e.g.  requests=50,input_tokens=30000,output_tokens=8000

NAME                   VALUE (a name left out keeps its default)
requests               messages requests a window (default 50)
input_tokens           input tokens a window (default 30000)
output_tokens          output tokens a window (default 8000)
count_tokens_requests  count_tokens requests a window (default 100)
window                 the window's length in seconds (default 60)"""
"""The ``--rate-limits`` syntax, as ``convo serve --help`` shows it."""

_COUNTS = ("requests", "input_tokens", "output_tokens", "count_tokens_requests")


def parse_rate_limits(spec: str, *, enforce: bool = False) -> RateLimits:
    """The :class:`RateLimits` a spec names (:data:`RATE_LIMITS_SYNTAX`); ValueError says what is wrong.

    Counts are positive integers (``_`` may group digits: ``30_000``), ``window`` positive
    seconds; a ``-`` in a name reads as ``_``.

    >>> parse_rate_limits("requests=5, input-tokens=1_000", enforce=True)
    RateLimits(requests=5, input_tokens=1000, output_tokens=8000, count_tokens_requests=100, window=60.0, enforce=True)
    >>> parse_rate_limits("request=5")
    Traceback (most recent call last):
    ...
    ValueError: unknown limit 'request' (did you mean requests?); the limits: requests, input_tokens, output_tokens, count_tokens_requests, window
    """
    import difflib

    names = (*_COUNTS, "window")
    given: dict[str, int | float] = {}
    for part in spec.split(","):
        item = part.strip()
        if not item:
            raise ValueError(f"an empty entry in {spec!r}: write NAME=VALUE, separated by commas")
        name, eq, text = (x.strip() for x in item.partition("="))
        key = name.replace("-", "_")
        if not eq:
            raise ValueError(f"{item!r} is not NAME=VALUE (e.g. requests=50)")
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ValueError(f"unknown limit {name!r}{hint}; the limits: {', '.join(names)}")
        if key in given:
            raise ValueError(f"{key} is given twice")
        value: int | float
        try:
            value = float(text) if key == "window" else int(text)
        except ValueError:
            what = "a number of seconds" if key == "window" else "a whole number"
            raise ValueError(f"{key} must be {what}, got {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{key} must be positive, got {text!r}")
        given[key] = value
    return RateLimits(enforce=enforce, **given)  # type: ignore[arg-type]  # keys checked above


def _stamp(t: float) -> str:
    """RFC 3339 UTC in whole seconds, rounded up (a reset is never earlier than said)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.ceil(t)))


def _shown(remaining: int, limit: int) -> str:
    """A token count as the API shows it: rounded to the nearest thousand (DOC), for limits of a
    thousand or more (a test's tiny limit shows exactly)."""
    if remaining <= 0:
        return "0"
    if limit < 1000:
        return str(remaining)
    return str(min(limit, (remaining + 500) // 1000 * 1000))


Ticket = tuple[int, str]
"""What :meth:`RateLimiter.admit` hands a request: its requests remaining and their reset stamp."""


class RateLimiter:
    """One endpoint's counters in the current window (thread-safe: one lock, held for a few
    integer updates).

    ``tokens=False`` (count_tokens) reports the request limit only. :meth:`admit` counts a
    request as it arrives when limits are enforced; :meth:`headers` (or :meth:`lines`) makes
    its response's headers, counting it if not counted yet and charging the tokens the
    response used; :meth:`refused` makes a 429 fault's.
    """

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.time,
                 tokens: bool = True) -> None:
        self.limits = limits
        self._requests = limits.requests if tokens else limits.count_tokens_requests
        self._tokens = tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._end = -math.inf  # the current window's end (none open yet)
        self._reset = ""  # its end as a stamp: formatted once per window
        self._resets: tuple[tuple[str, str], ...] = ()  # the token resets' headers, likewise
        self._template = ""  # the window's header lines, the counts left as %s (see _lines)
        self._used_requests = self._used_input = self._used_output = 0
        n = "anthropic-ratelimit-"  # the limits' own headers, made once
        self._limit_headers = [(f"{n}requests-limit", str(self._requests)), *(
            (f"{n}{k}-limit", str(v)) for k, v in (("tokens", limits.tokens),
            ("input-tokens", limits.input_tokens), ("output-tokens", limits.output_tokens)))]
        self._count_template = (f"{n}requests-limit: {self._requests}\r\n"
                                f"{n}requests-remaining: %s\r\n{n}requests-reset: %s")

    def _make_template(self) -> str:
        # _headers' lines with the window's constants in, the counts as %s; a % in a name or a
        # stamp cannot occur (fixed names, digits)
        shown = dict(self._headers((-1, "%s")))
        for k in ("requests", "tokens", "input-tokens", "output-tokens"):
            shown[f"anthropic-ratelimit-{k}-remaining"] = "%s"
        return "\r\n".join(f"{k}: {v}" for k, v in shown.items())

    def _roll(self, t: float) -> None:  # under the lock
        if t >= self._end:
            self._end = t + self.limits.window
            self._reset = _stamp(self._end)
            self._resets = tuple((f"anthropic-ratelimit-{k}-reset", self._reset)
                                 for k in ("tokens", "input-tokens", "output-tokens"))
            self._template = self._make_template()
            self._used_requests = self._used_input = self._used_output = 0

    def admit(self) -> Ticket | None:
        """With ``enforce=True``, count one request as it arrives: its requests remaining and
        reset, or the 429 when a limit is spent (the request is not counted then). Otherwise
        None: the request is counted when its response's headers are made (one lock a request).
        """
        limits = self.limits
        if not limits.enforce:
            return None
        with self._lock:
            t = self._clock()
            if t >= self._end:
                self._roll(t)
            spent = self._spent()
            if spent is not None:
                left = 0 if spent == "requests" else self._requests - self._used_requests
                retry = ("retry-after", str(max(1, math.ceil(self._end - t))))
                raise ApiError(429, "rate_limit_error", self._words(spent),
                               [retry, *self._headers((left, self._reset), spent_tokens=spent)])
            self._used_requests += 1
            return self._requests - self._used_requests, self._reset

    def _take(self) -> Ticket:  # under the lock: count one request now
        t = self._clock()
        if t >= self._end:
            self._roll(t)
        self._used_requests += 1
        return self._requests - self._used_requests, self._reset

    def _spent(self) -> str | None:  # under the lock
        if self._used_requests >= self._requests:
            return "requests"
        if self._tokens and self._used_input >= self.limits.input_tokens:
            return "input-tokens"
        if self._tokens and self._used_output >= self.limits.output_tokens:
            return "output-tokens"
        return None

    def _words(self, spent: str) -> str:
        # the API's wording is UNCONFIRMED; the SDK and clients match on the status and type
        limit = {"requests": self._requests, "input-tokens": self.limits.input_tokens,
                 "output-tokens": self.limits.output_tokens}[spent]
        per = f"{self.limits.window:g} seconds" if self.limits.window != 60 else "minute"
        return (f"This request would exceed the rate limit for your organization of {limit:,} "
                f"{spent.replace('-', ' ')} per {per}. You can see the response headers for "
                "current usage.")

    def headers(self, ticket: Ticket | None, input_tokens: int = 0,
                output_tokens: int = 0) -> list[tuple[str, str]]:
        """The headers of the response to a request (*ticket* from :meth:`admit`; None: count
        it now), charging its tokens: the input shows in these headers, the output from the
        next response on (LIVE)."""
        return self._charge(ticket, input_tokens, output_tokens, self._headers)

    def lines(self, ticket: Ticket | None, input_tokens: int = 0, output_tokens: int = 0) -> str:
        """:meth:`headers` as header lines (``name: value`` joined by CRLF), one string: what
        the emulator writes on a success."""
        return self._charge(ticket, input_tokens, output_tokens, self._lines)

    def _charge(self, ticket: Ticket | None, input_tokens: int, output_tokens: int,
                render: Callable[[Ticket], _T]) -> _T:
        """*render* of the request's ticket, between charging its input and its output tokens."""
        with self._lock:
            if ticket is None:
                ticket = self._take()
            self._used_input += input_tokens
            out = render(ticket)
            self._used_output += output_tokens
        return out

    def _lines(self, ticket: Ticket) -> str:
        remaining, reset = ticket
        left = str(remaining) if remaining > 0 else "0"
        if not self._tokens:
            return self._count_template % (left, reset)
        limits = self.limits
        left_in = limits.input_tokens - self._used_input
        left_out = limits.output_tokens - self._used_output
        both = left_in + left_out if left_in > 0 and left_out > 0 else 0
        return self._template % (left, reset, _shown(both, limits.tokens),
                                 _shown(left_in, limits.input_tokens),
                                 _shown(left_out, limits.output_tokens))

    def refused(self, wait: float) -> list[tuple[str, str]]:
        """The headers of a 429 (an injected fault) whose request limit is back in *wait* s."""
        t = self._clock()
        with self._lock:
            self._roll(t)
            return self._headers((0, _stamp(t + math.ceil(wait))))

    def _headers(self, ticket: Ticket, spent_tokens: str | None = None) -> list[tuple[str, str]]:
        remaining, reset = ticket
        lim = self._limit_headers
        left_req = ("anthropic-ratelimit-requests-remaining", str(remaining) if remaining > 0 else "0")
        if not self._tokens:
            return [lim[0], left_req, ("anthropic-ratelimit-requests-reset", reset)]
        limits, resets = self.limits, self._resets
        left_in = 0 if spent_tokens == "input-tokens" else limits.input_tokens - self._used_input
        left_out = 0 if spent_tokens == "output-tokens" else limits.output_tokens - self._used_output
        # tokens-*: LIVE, the sum of the input and output figures (38000 = 30000 + 8000)
        left = left_in + left_out if left_in > 0 and left_out > 0 else 0
        return [
            lim[0], left_req, ("anthropic-ratelimit-requests-reset", reset),
            lim[1], ("anthropic-ratelimit-tokens-remaining", _shown(left, limits.tokens)), resets[0],
            lim[2], ("anthropic-ratelimit-input-tokens-remaining", _shown(left_in, limits.input_tokens)),
            resets[1],
            lim[3], ("anthropic-ratelimit-output-tokens-remaining",
                     _shown(left_out, limits.output_tokens)),
            resets[2],
        ]

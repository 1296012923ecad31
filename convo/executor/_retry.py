"""When to retry a request and how long to wait: the official SDK's default policy, configurable.

Layer: executor. :class:`RetryPolicy` is a value (facts §5.3, §10): retry 408, 409, 429 and every
status of 500 or more, connection errors and timeouts, up to ``max_retries`` times; an
``x-should-retry: true|false`` header overrides the status; the wait is the server's
``retry-after-ms``, else ``retry-after`` (seconds, or an HTTP date), else
``min(base * 2**n, cap)`` scaled down by up to ``jitter`` (25 %). The SDK 2.x honours any positive
``retry-after``; ``max_retry_after`` restores the 0.x SDK's limit (a longer one is ignored and the
exponential wait used instead). Sleep, clocks and randomness are injectable so tests can prove
every delay exactly.

:class:`SharedBackoff` is what makes a server's ``retry-after`` slow every worker sharing an
executor, not only the one that was told.
"""

from __future__ import annotations

import asyncio
import email.utils
import random as _random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from attrs import field, frozen

__all__ = ["RetryPolicy", "SharedBackoff"]

# time.sleep raises above a platform limit (2**32 ms on Windows); the SDK clamps to it too
_MAX_SLEEP = 4_294_967.0


def _statuses(value: Iterable[int]) -> frozenset[int]:
    return frozenset(value)


@frozen(kw_only=True)
class RetryPolicy:
    """How an executor retries: exactly the official SDK's default policy unless told otherwise.

    >>> p = RetryPolicy(random=lambda: 1.0)   # the most jitter: 25 % off
    >>> [p.delay(n) for n in range(6)]
    [0.375, 0.75, 1.5, 3.0, 6.0, 6.0]
    >>> p.delay(0, {"retry-after": "3"}), p.delay(0, {"retry-after-ms": "250"})
    (3.0, 0.25)
    >>> p.should_retry(529), p.should_retry(400), p.should_retry(400, {"x-should-retry": "true"})
    (True, False, True)
    """

    max_retries: int = 2
    base: float = 0.5
    cap: float = 8.0
    jitter: float = 0.25
    max_retry_after: float | None = None
    statuses: frozenset[int] = field(default=frozenset({408, 409, 429}), converter=_statuses)
    server_errors: bool = True
    connection_errors: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, eq=False, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, eq=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, eq=False, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, eq=False, repr=False)
    random: Callable[[], float] = field(default=_random.random, eq=False, repr=False)

    def should_retry(self, status: int, headers: Mapping[str, str] | None = None) -> bool:
        """Whether a response with *status* (and *headers*) is worth another attempt.

        >>> RetryPolicy().should_retry(503, {"x-should-retry": "false"})
        False
        """
        if headers is not None:
            hint = headers.get("x-should-retry")
            if hint == "true":
                return True
            if hint == "false":
                return False
        if status in self.statuses:
            return True
        return self.server_errors and status >= 500

    def retry_after(self, headers: Mapping[str, str] | None) -> float | None:
        """The wait the server asked for, in seconds: ``retry-after-ms``, then ``retry-after``.

        ``retry-after`` may be seconds (a float is accepted) or an HTTP date.

        >>> p = RetryPolicy(wall_clock=lambda: 784111777.0)   # Sun, 06 Nov 1994 08:49:37 GMT
        >>> p.retry_after({"retry-after": "Sun, 06 Nov 1994 08:49:47 GMT"})
        10.0
        >>> p.retry_after({"retry-after": "soon"}) is None
        True
        """
        if not headers:
            return None
        ms = headers.get("retry-after-ms")
        if ms is not None:
            try:
                return float(ms) / 1000
            except ValueError:
                pass
        ra = headers.get("retry-after")
        if ra is None:
            return None
        try:
            return float(ra)
        except ValueError:
            pass
        parsed = email.utils.parsedate_tz(ra)
        if parsed is None:
            return None
        return float(email.utils.mktime_tz(parsed) - self.wall_clock())

    def honoured_retry_after(self, headers: Mapping[str, str] | None) -> float | None:
        """The server's ``retry-after`` if this policy waits for it, else None.

        >>> RetryPolicy(max_retry_after=60).honoured_retry_after({"retry-after": "120"}) is None
        True
        """
        ra = self.retry_after(headers)
        if ra is None or ra <= 0:
            return None
        if self.max_retry_after is not None and ra > self.max_retry_after:
            return None
        return min(ra, _MAX_SLEEP)

    def delay(self, retries_taken: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry number ``retries_taken + 1``.

        >>> RetryPolicy(random=lambda: 0.0).delay(10)   # no jitter drawn: the cap
        8.0
        """
        ra = self.honoured_retry_after(headers)
        if ra is not None:
            return ra
        n = min(retries_taken, 1000)  # no overflow in pow, as the SDK caps it
        wait = min(self.base * 2.0**n, self.cap)
        wait *= 1 - self.jitter * self.random()
        return max(wait, 0.0)


class SharedBackoff:
    """A pause shared by every request of an executor: a server's ``retry-after`` holds them all.

    When one request is told to wait, every other request about to start (in any thread or
    task using the same executor) waits for the same moment, so concurrent workers slow down
    together instead of each running into the limit in turn.

    >>> now = [100.0]
    >>> b = SharedBackoff(clock=lambda: now[0])
    >>> b.hold(2.0); b.remaining()
    2.0
    >>> now[0] += 1.5; b.remaining()
    0.5
    """

    __slots__ = ("_clock", "_lock", "_until")

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0

    def hold(self, seconds: float) -> None:
        """Pause every request for *seconds* from now (a longer pause already set stands)."""
        until = self._clock() + seconds
        with self._lock:
            if until > self._until:
                self._until = until

    def remaining(self) -> float:
        """Seconds until requests may go again (0 when they may go now)."""
        return max(0.0, self._until - self._clock())

    def __repr__(self) -> str:
        return f"SharedBackoff(remaining={self.remaining():.3f})"
